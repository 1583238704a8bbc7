"""The two networks: shapes, parameter counts, activations, one optimisation step, the
EXP learning-rate schedule and how experiment params become training settings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from genrebench_schindler2016.networks import (
    ExpDecay,
    ParallelCNN,
    build_config,
    create,
    exp_decay,
)
from torch import nn

from genrebench import ModelSetup
from genrebench.errors import ConfigError
from genrebench.training import count_parameters

CLASSES = [f"g{i}" for i in range(10)]


def _setup(params=None, budget=None, shape=(80, 80), classes=CLASSES) -> ModelSetup:
    return ModelSetup(
        task="single-label",
        classes=list(classes),
        input_shape=shape,
        seed=0,
        device="cpu",
        params=params or {},
        budget=budget or {},
    )


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("arch", ["shallow", "deep"])
def test_output_shape_80x80(arch):
    net = ParallelCNN(arch, n_classes=10).eval()
    x = torch.randn(7, 80, 80)
    assert net(x).shape == (7, 10)
    assert net(x.unsqueeze(1)).shape == (7, 10)  # an explicit channel axis is accepted too


def test_shallow_pipeline_shapes():
    net = ParallelCNN("shallow", n_classes=10)
    x = torch.randn(2, 1, 80, 80)
    # spectral: 16 maps, pooled 1×20 over time -> all 80 bands kept, 4 time steps
    assert net.spectral(x).shape == (2, 16, 80, 4)
    # temporal: 16 maps, pooled 20×1 over frequency -> 4 band groups, all 80 frames kept
    assert net.temporal(x).shape == (2, 16, 4, 80)
    assert net.merged_features == 10240


def test_deep_pipeline_shapes():
    net = ParallelCNN("deep", n_classes=10)
    x = torch.randn(2, 1, 80, 80)
    assert net.spectral(x).shape == (2, 128, 10, 2)  # 80 -> 40 -> 20 -> 10, then 1×5
    assert net.temporal(x).shape == (2, 128, 2, 10)  # then 5×1
    assert net.merged_features == 5120
    convs = [m for m in net.spectral if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 128]
    assert [c.kernel_size for c in convs] == [(10, 23), (5, 11), (3, 5), (2, 4)]
    convs = [m for m in net.temporal if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(21, 10), (10, 5), (5, 3), (4, 2)]


def test_parameter_counts_80x80_10_classes():
    # shallow: conv 16·(10·23)+16 = 3 696, conv 16·(21·20)+16 = 6 736,
    #          dense 10 240·200+200 = 2 048 200, output 200·10+10 = 2 010
    assert count_parameters(ParallelCNN("shallow", 10)) == 3696 + 6736 + 2048200 + 2010
    assert count_parameters(ParallelCNN("shallow", 10)) == 2_060_642
    # deep: spectral convs 3 696 + 28 192 + 30 784 + 65 664, temporal 3 376 + 25 632 +
    #       30 784 + 65 664, dense 5 120·200+200 = 1 024 200, output 2 010
    spectral = 3696 + 28192 + 30784 + 65664
    temporal = 3376 + 25632 + 30784 + 65664
    assert count_parameters(ParallelCNN("deep", 10)) == spectral + temporal + 1024200 + 2010
    assert count_parameters(ParallelCNN("deep", 10)) == 1_280_002


def test_cqt84_input_and_other_class_counts():
    assert ParallelCNN("shallow", 8, (84, 80))(torch.randn(3, 84, 80)).shape == (3, 8)
    assert ParallelCNN("deep", 8, (84, 80))(torch.randn(3, 84, 80)).shape == (3, 8)
    # 84 bands: spectral keeps 84 rows (16·84·4), temporal pools them to 4 (16·4·80)
    assert ParallelCNN("shallow", 8, (84, 80)).merged_features == 16 * 84 * 4 + 16 * 4 * 80


def test_activation_and_dropout_options():
    leaky = ParallelCNN("shallow", 10)
    acts = [m for m in leaky.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(acts) == 3 and all(a.negative_slope == 0.3 for a in acts)  # 2 convs + dense
    assert leaky.dropout.p == 0.1
    assert ParallelCNN("deep", 10).dropout.p == 0.25
    relu = ParallelCNN("deep", 10, activation="relu")
    assert not any(isinstance(m, nn.LeakyReLU) for m in relu.modules())
    assert sum(isinstance(m, nn.ReLU) for m in relu.modules()) == 9  # 8 convs + dense
    with pytest.raises(ConfigError):
        ParallelCNN("deep", 10, activation="tanh")
    with pytest.raises(ConfigError):
        ParallelCNN("medium", 10)


def test_report_code_options_no_conv_bias_and_dense_activation():
    # The report's code: conv2d(use_bias=False); 2 x 16 and 2 x (16 + 32 + 64 + 128) = 480
    # biases fewer than with biases
    assert count_parameters(ParallelCNN("shallow", 10, conv_bias=False)) == 2_060_610
    assert count_parameters(ParallelCNN("deep", 10, conv_bias=False)) == 1_279_522
    shallow = ParallelCNN("shallow", 10, activation="relu", dense_activation="none")
    assert isinstance(shallow.hidden_activation, nn.Identity)
    assert sum(isinstance(m, nn.ReLU) for m in shallow.modules()) == 2  # the convolutions
    deep = ParallelCNN("deep", 10, activation="relu", conv_bias=False)
    assert isinstance(deep.hidden_activation, nn.ReLU)  # "same": ReLU after fc1
    assert all(m.bias is None for m in deep.modules() if isinstance(m, nn.Conv2d))
    assert deep.hidden.bias is not None and deep.output.bias is not None  # dense keep theirs


def test_report_code_training_settings():
    from genrebench_schindler2016.plugin import REPORT_CODE

    cfg = build_config({**REPORT_CODE, "lr": 5e-5}, {"epochs": 2})
    assert cfg.l1 == 1e-4 and cfg.standardize is None and cfg.epochs == 2
    assert not cfg.extra  # conv_bias / activation are network settings, not training ones
    model = create(_setup(params={**REPORT_CODE, "dense_activation": "none"}), "shallow")
    assert model.n_parameters() == 2_060_610
    assert model.config.l1 == 1e-4


def test_same_padding_keeps_size_for_even_kernels():
    net = ParallelCNN("shallow", 10)
    pad, conv = net.temporal[0], net.temporal[1]
    assert conv.kernel_size == (21, 20)
    assert conv(pad(torch.zeros(1, 1, 80, 80))).shape[-2:] == (80, 80)


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize("arch", ["shallow", "deep"])
def test_one_optimisation_step_lowers_the_loss(arch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(15, 80, 80)).astype(np.float32)
    y = np.arange(15) % 10
    model = create(_setup(budget={"epochs": 1}), arch)  # 15 samples, batch 15 -> one step
    assert model.config.batch_size == 15 and model.config.lr == 5e-5
    model._fit_standardizer(x)
    before = model.loss_on(x, y)
    model.fit(x, y)
    after = model.loss_on(x, y)
    assert after < before


def test_xavier_initialisation_and_determinism():
    a = create(_setup(), "shallow")
    b = create(_setup(), "shallow")
    for pa, pb in zip(a.module.parameters(), b.module.parameters(), strict=True):
        assert torch.equal(pa, pb)
    bias = a.module.hidden.bias
    assert torch.count_nonzero(bias) == 0  # Glorot weights, zero biases
    w = a.module.hidden.weight
    limit = math.sqrt(6 / (w.shape[0] + w.shape[1]))
    assert float(w.detach().abs().max()) <= limit


# --------------------------------------------------------------------------- EXP schedule
@pytest.mark.parametrize(
    ("step", "factor"),
    [(0, 1.0), (1500, 0.9**0.5), (3000, 0.9), (6000, 0.81), (9000, 0.729), (75000, 0.9**25)],
)
def test_exp_decay_values(step, factor):
    assert exp_decay(step) == pytest.approx(factor, rel=1e-12)


@pytest.mark.parametrize(("step", "factor"), [(0, 1.0), (2999, 1.0), (3000, 0.9), (5999, 0.9)])
def test_exp_decay_staircase(step, factor):
    assert exp_decay(step, staircase=True) == pytest.approx(factor)
    assert ExpDecay(staircase=True)(step) == pytest.approx(factor)


def test_exp_schedule_applied_per_optimiser_step():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 80, 80)).astype(np.float32)
    y = np.arange(60) % 10
    params = {"lr_schedule": "exp", "decay_steps": 2}
    model = create(_setup(params=params, budget={"epochs": 1}), "shallow")
    model.fit(x, y)  # 60 / 15 = 4 steps -> lr0 · 0.9^(4/2)
    assert model.history[-1]["lr"] == pytest.approx(5e-5 * 0.81)


def test_build_config_defaults_and_overrides():
    cfg = build_config({}, {})
    assert (cfg.lr, cfg.batch_size, cfg.epochs, cfg.optimizer) == (5e-5, 15, 100, "adam")
    assert cfg.init == "xavier" and cfg.standardize == "global" and cfg.lr_schedule is None
    budget = {"epochs": 3, "max_train_tracks": 8, "max_valid_tracks": 8, "max_test_tracks": 8}
    cfg = build_config({"lr": 3e-5, "lr_schedule": "exp"}, budget)
    assert cfg.lr == 3e-5 and cfg.epochs == 3
    assert cfg.lr_schedule(3000) == pytest.approx(0.9)
    assert not cfg.extra  # the core's subset sizes are not training settings
    with pytest.raises(ConfigError):
        build_config({"lr_schedule": "cosine"}, {})


def test_create_rejects_track_level_input():
    with pytest.raises(ConfigError):
        create(_setup(shape=(498,)), "shallow")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda():
    setup = _setup(budget={"epochs": 1})
    setup.device = "cuda"
    model = create(setup, "deep")
    x = np.random.default_rng(0).normal(size=(30, 80, 80)).astype(np.float32)
    model.fit(x, np.arange(30) % 10)
    assert next(model.module.parameters()).is_cuda
    assert model.predict_proba(x).shape == (30, 10)
