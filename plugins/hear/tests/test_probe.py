"""hear/mlp-probe follows hear-eval-kit's downstream protocol: its grid, its network and
initialisation, early stopping on the validation score with the best check kept, and the
configuration chosen on the validation part."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from genrebench_hear import probe
from sklearn.model_selection import ParameterGrid

from genrebench import ModelSetup
from genrebench.errors import ConfigError

#: A narrower network than hear-eval-kit's 1024 units keeps the learning tests fast.
NARROW = {"hidden_dim": 64}


def setup(task="single-label", classes=("a", "b", "c"), dim=6, seed=0, **budget) -> ModelSetup:
    return ModelSetup(task, list(classes), (dim,), seed, "cpu", {"grid": NARROW}, budget)


def blobs(n_per_class=20, dim=6, seed=0, spread=0.6):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim)) * 3
    y = np.repeat(np.arange(3), n_per_class)
    x = (centres[y] + rng.normal(scale=spread, size=(len(y), dim))).astype(np.float32)
    return x, y


def test_the_grid_is_hear_eval_kits_default_shuffled_by_the_seed():
    everything = probe.grid(seed=0, points=100)
    assert len(everything) == 16  # 2 layer counts x 4 learning rates x 2 initialisations
    as_set = {tuple(sorted(c.items())) for c in everything}
    assert as_set == {tuple(sorted(c.items())) for c in ParameterGrid(probe.PARAM_GRID)}
    assert {c["lr"] for c in everything} == {3.2e-3, 1e-3, 3.2e-4, 1e-4}
    assert {(c["hidden_dim"], c["dropout"], c["batch_size"]) for c in everything} == {
        (1024, 0.1, 1024)
    }
    assert probe.grid(seed=0, points=8) == everything[:8] == probe.grid(0, 8)
    assert probe.grid(seed=1, points=16) != everything  # another order
    short = probe.grid(0, 8, {"max_epochs": 100})
    assert {c["max_epochs"] for c in short} == {100}
    with pytest.raises(ConfigError, match="unknown grid key 'width'"):
        probe.grid(0, 8, {"width": 3})


def test_the_network_is_hear_eval_kits_with_its_initialisation_gains():
    torch.manual_seed(0)
    conf = {"hidden_layers": 2, "hidden_dim": 1024, "dropout": 0.1}
    net = probe.build_network(2048, 10, {**conf, "initialization": "xavier_normal"})
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "BatchNorm1d", "Dropout", "ReLU"] * 2 + ["Linear"]
    assert net[2].p == 0.1
    first, second, last = net[0].weight, net[4].weight, net[8].weight
    # xavier_normal: std = gain * sqrt(2 / (fan_in + fan_out)); gain 1 first, sqrt(2) after ReLU
    assert first.std().item() == pytest.approx(math.sqrt(2 / (2048 + 1024)), rel=0.02)
    assert second.std().item() == pytest.approx(math.sqrt(2) * math.sqrt(2 / 2048), rel=0.02)
    assert last.std().item() == pytest.approx(math.sqrt(2) * math.sqrt(2 / 1034), rel=0.05)
    linear_only = probe.build_network(
        16, 3, {**conf, "hidden_layers": 0, "initialization": "xavier_uniform"}
    )
    assert [type(m).__name__ for m in linear_only] == ["Linear"]


def test_the_probe_learns_and_keeps_the_configuration_best_on_validation():
    x, y = blobs(seed=0)
    xv, yv = blobs(n_per_class=8, seed=0)
    model = probe.create(setup(grid_points=3, max_epochs=30))
    model.fit(x, y, xv, yv)
    grid = model.config["grid"]
    assert len(grid) == 3 and model.config["validation_score"] == "accuracy"
    scores = [g["validation_score"] for g in grid]
    assert model.config["chosen"] == int(np.argmax(scores))  # the first best one
    assert max(scores) == 1.0
    assert np.mean(model.predict_proba(xv).argmax(axis=1) == yv) == 1.0
    probs = model.predict_proba(x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    # the chosen configuration's epochs, with a validation score every 3 epochs
    assert [h["epoch"] for h in model.history] == list(range(1, len(model.history) + 1))
    checks = [h for h in model.history if "valid_score" in h]
    assert [h["epoch"] for h in checks] == list(range(3, len(model.history) + 1, 3))
    assert model.n_parameters() > 0


def test_early_stopping_after_patience_checks_without_a_better_score_keeps_the_best():
    x, y = blobs(seed=1)
    model = probe.create(setup(seed=3, grid_points=1, max_epochs=500, patience=2))
    model.fit(x, y, x, y)  # the training tracks as validation: the score saturates at 1.0
    checks = [h["valid_score"] for h in model.history if "valid_score" in h]
    best = checks.index(max(checks))
    assert len(checks) == best + 1 + 2  # stopped two checks after the best one
    assert len(model.history) < 500
    assert model.config["grid"][0]["validation_score"] == max(checks)


def test_multi_label_uses_sigmoids_and_mean_average_precision():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 5)).astype(np.float32)
    y = np.stack([x[:, 0] > 0, x[:, 1] > 0], axis=1).astype(int)
    model = probe.create(setup("multi-label", ("p", "q"), dim=5, grid_points=2, max_epochs=60))
    model.fit(x[:60], y[:60], x[60:], y[60:])
    assert model.config["validation_score"] == "mAP"
    probs = model.predict_proba(x[60:])
    assert probs.shape == (20, 2) and ((probs >= 0) & (probs <= 1)).all()
    assert max(g["validation_score"] for g in model.config["grid"]) > 0.8


def test_the_probe_needs_a_validation_part():
    x, y = blobs()
    with pytest.raises(ConfigError, match="chooses its configuration on the validation part"):
        probe.create(setup(grid_points=1)).fit(x, y, None, None)
