"""MC dropout in genrebench.training.TorchClassifier: N seeded stochastic passes with the
dropout layers active and batch norm in eval mode, averaged; and its entropy column."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from genrebench import ExperimentSpec, ModelSetup, hookimpl
from genrebench.errors import ConfigError
from genrebench.registry.loading import load_plugins
from genrebench.run.runner import Runner, RunOptions, plan
from genrebench.training import TorchClassifier, TrainConfig


def make_net() -> nn.Module:
    return nn.Sequential(
        nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)
    )


def trained(budget=None, params=None, net=None, seed=0, task="single-label"):
    setup = ModelSetup(
        task=task,
        classes=["a", "b", "c"],
        input_shape=(6,),
        seed=seed,
        device="cpu",
        params=params or {},
        budget=budget or {},
    )
    model = TorchClassifier(net or make_net(), setup, TrainConfig(epochs=3, batch_size=8))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    y = rng.integers(0, 3, 40) if task == "single-label" else rng.integers(0, 2, (40, 3))
    model.fit(x, y)
    return model, rng.normal(size=(12, 6)).astype(np.float32)


def test_mc_dropout_differs_from_a_single_pass_and_is_seeded():
    model, x = trained(budget={"mc_dropout": 16})
    mc = model.predict_proba(x)
    np.testing.assert_allclose(mc.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(model.predict_proba(x), mc)  # same seed, same masks
    model.mc_dropout = 0
    single = model.predict_proba(x)
    assert not np.allclose(mc, single, atol=1e-3)
    other, _ = trained(budget={"mc_dropout": 16})
    other.module.load_state_dict(model.module.state_dict())
    other.setup.seed = 1  # other masks
    assert not np.allclose(other.predict_proba(x), mc, atol=1e-3)


def test_mc_dropout_is_the_mean_of_passes_with_dropout_on_and_batch_norm_in_eval_mode():
    model, x = trained(budget={"mc_dropout": 5}, seed=3)
    running = model.module[1].running_mean.clone()
    state = torch.random.get_rng_state()
    mc = model.predict_proba(x)
    # Batch norm used (and kept) its running statistics; the global RNG is untouched.
    assert torch.equal(model.module[1].running_mean, running)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert not model.module.training and not model.module[3].training
    # The same by hand: seed, then 5 passes with only the dropout layer in training mode.
    xt = torch.from_numpy(model._standardize(x))
    torch.manual_seed(3)
    model.module.eval()
    model.module[3].train()
    with torch.no_grad():
        passes = [torch.softmax(model.module(xt), dim=1).double().numpy() for _ in range(5)]
    model.module.eval()
    np.testing.assert_allclose(mc, np.mean(passes, axis=0), atol=1e-12)


def test_mc_dropout_from_model_parameters_and_budget_first():
    model, _ = trained(params={"mc_dropout": 4})
    assert model.mc_dropout == 4
    model, _ = trained(params={"mc_dropout": 4}, budget={"mc_dropout": 7})
    assert model.mc_dropout == 7
    model, _ = trained(budget={"mc_dropout": 0})
    assert model.mc_dropout == 0


def test_mc_dropout_multi_label_averages_sigmoids():
    model, x = trained(budget={"mc_dropout": 8}, task="multi-label")
    mc = model.predict_proba(x)
    assert mc.shape == (12, 3) and ((mc > 0) & (mc < 1)).all()
    model.mc_dropout = 0
    assert not np.allclose(mc, model.predict_proba(x), atol=1e-3)


@pytest.mark.parametrize("value", [-1, 2.5, "many"])
def test_bad_mc_dropout_value_says_what_is_expected(value):
    with pytest.raises(ConfigError, match="whole number of passes"):
        trained(budget={"mc_dropout": value})


def test_mc_dropout_without_dropout_layers_is_refused():
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    model, x = trained(budget={"mc_dropout": 4}, net=net)
    with pytest.raises(ConfigError, match="needs dropout layers"):
        model.predict_proba(x)


class MCPlugin:
    """The reference MLP on the example tones, with and without MC dropout."""

    @hookimpl
    def genrebench_register_experiments(self):
        return [
            ExperimentSpec(
                name,
                "example/band-energies",
                "reference/mlp",
                profiles={"quick": {"epochs": 5, **budget}},
            )
            for name, budget in (("test/mlp", {}), ("test/mlp-mc", {"mc_dropout": 10}))
        ]


def test_a_job_with_mc_dropout_reports_entropy_and_differs_from_one_without(tmp_path):
    registry = load_plugins(extra=[MCPlugin()])
    options = RunOptions(
        experiments=["test/mlp", "test/mlp-mc"], datasets=["example-tones"], out=tmp_path
    )
    jobs, _ = plan(registry, options)
    results = {r["experiment"]: r for r in Runner(registry, options).run(jobs)}
    plain, mc = results["test/mlp"]["metrics"], results["test/mlp-mc"]["metrics"]
    assert results["test/mlp-mc"]["status"] == "ok"
    assert plain["entropy"] > 0 and 0 < mc["entropy"] <= np.log(3)
    assert mc["entropy"] != pytest.approx(plain["entropy"], abs=1e-6)
