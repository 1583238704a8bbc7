"""The softmax-regression baseline: shapes, the 112 column groups, pixel standardisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from genrebench_yan2023.baseline import (
    PixelStandardisedClassifier,
    SoftmaxRegression,
    create,
    pixel_statistics,
    standardise,
)

from genrebench import ModelSetup
from genrebench.errors import ConfigError


def test_shapes_and_parameter_count():
    net = SoftmaxRegression(10)
    x = torch.randn(5, 3, 218, 336)
    assert net(x).shape == (5, 10)
    assert net.column_groups(x).shape == (5, 112)
    # 3 -> 1 map with its bias (4 parameters) and 112 -> 10 (1130).
    assert sum(p.numel() for p in net.parameters()) == 4 + 112 * 10 + 10


def test_column_groups_average_three_adjacent_columns_over_all_rows():
    torch.manual_seed(0)
    net = SoftmaxRegression(4, columns=12, groups=4)
    x = torch.randn(2, 3, 5, 12)
    encoded = torch.tanh(net.rgb(x.permute(0, 2, 3, 1))).squeeze(-1)  # (n, rows, columns)
    expected = torch.stack([encoded[:, :, 3 * g : 3 * g + 3].mean(dim=(1, 2)) for g in range(4)], 1)
    torch.testing.assert_close(net.column_groups(x), expected)
    # A change in columns 3..5 moves group 1 only.
    y = x.clone()
    y[:, :, :, 3:6] += 1.0
    changed = (net.column_groups(y) - net.column_groups(x)).abs().amax(dim=0) > 1e-7
    assert changed.tolist() == [False, True, False, False]


def test_columns_must_split_evenly():
    with pytest.raises(ConfigError, match="336 columns cannot be split into 100"):
        SoftmaxRegression(10, columns=336, groups=100)


def test_pixel_standardisation_uses_training_statistics_and_zero_for_constant_pixels():
    rng = np.random.default_rng(0)
    train = rng.normal(100, 20, size=(50, 3, 4, 6)).astype(np.float32)
    train[:, 0, 0, 0] = 255.0  # a pixel-channel that never changes in training
    mean, std = pixel_statistics(train, chunk=7)
    np.testing.assert_allclose(mean, train.mean(axis=0, dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(std, train.std(axis=0, ddof=1, dtype=np.float64), rtol=1e-5)
    z = standardise(train, mean, std)
    assert np.allclose(z.mean(axis=0), 0, atol=1e-5)
    varying = np.ones(z.shape[1:], bool)
    varying[0, 0, 0] = False
    assert np.allclose(z.std(axis=0, ddof=1)[varying], 1, atol=1e-4)
    test = rng.normal(100, 20, size=(3, 3, 4, 6)).astype(np.float32)
    zt = standardise(test, mean, std)
    assert np.all(zt[:, 0, 0, 0] == 0) and np.isfinite(zt).all()
    np.testing.assert_allclose(zt[:, 1], (test[:, 1] - mean[1]) / std[1], rtol=1e-5)


def test_factory_trains_and_predicts_on_small_images():
    rng = np.random.default_rng(1)
    classes = ["a", "b", "c"]
    x = rng.uniform(0, 255, size=(12, 3, 6, 9)).astype(np.float32)
    y = np.arange(12) % 3
    x[y == 1, 0] += 60  # a learnable difference
    setup = ModelSetup(
        task="single-label",
        classes=classes,
        input_shape=x.shape[1:],
        seed=0,
        device="cpu",
        params={"groups": 3},
        budget={"epochs": 3, "max_train_tracks": 5},
    )
    model = create(setup)
    assert isinstance(model, PixelStandardisedClassifier)
    config = model.classifier.config
    assert (config.lr, config.batch_size, config.epochs, config.optimizer) == (1e-3, 32, 3, "adam")
    assert config.standardize is None and config.init is None
    model.fit(x[:9], y[:9], x[9:], y[9:])
    probs = model.predict_proba(x)
    assert probs.shape == (12, 3) and np.allclose(probs.sum(axis=1), 1)
    assert model.n_parameters() == 4 + 3 * 3 + 3 and len(model.history) == 3


def test_factory_refuses_other_inputs():
    setup = ModelSetup("single-label", ["a"], (128, 100), 0, "cpu", {}, {})
    with pytest.raises(ConfigError, match=r"\(3, rows, columns\) images"):
        create(setup)
