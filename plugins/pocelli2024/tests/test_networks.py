"""The U-Net + parallel-convolution network: shapes through every stage, the parameter
count of the report's model, layer choices, one optimisation step, training settings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from genrebench_pocelli2024.networks import (
    SameTransposedConv2d,
    UNetParallel,
    build_config,
    build_network,
    create,
)
from torch import nn

from genrebench import ModelSetup
from genrebench.errors import ConfigError
from genrebench.training import count_parameters

CLASSES = [f"g{i}" for i in range(10)]


def _setup(params=None, budget=None, shape=(256, 256)) -> ModelSetup:
    return ModelSetup("single-label", CLASSES, shape, 0, "cpu", params or {}, budget or {})


@pytest.fixture(scope="module")
def net() -> UNetParallel:
    torch.manual_seed(0)
    return UNetParallel(10).eval()


# --------------------------------------------------------------------------- shapes
def test_output_shape(net):
    x = torch.rand(2, 256, 256)
    with torch.no_grad():
        assert net(x).shape == (2, 10)
        assert net(x.unsqueeze(1)).shape == (2, 10)  # an explicit channel axis too


def test_shapes_through_the_u_and_the_towers(net):
    with torch.no_grad():
        x = net.stem(torch.rand(1, 1, 256, 256))
        assert x.shape == (1, 16, 128, 128)  # conv 16, pooled once
        skips = []
        for encoder, (c, side) in zip(net.encoders, [(32, 128), (64, 64), (128, 32)], strict=True):
            skip, x = encoder(x)
            assert skip.shape == (1, c, side, side)
            assert x.shape == (1, c, side // 2, side // 2)  # halves the resolution
            skips.append(skip)
        x = net.bottleneck(x)
        assert x.shape == (1, 256, 16, 16)
        for decoder, skip, (c, side) in zip(
            net.decoders, reversed(skips), [(128, 32), (64, 64), (32, 128)], strict=True
        ):
            x = decoder(x, skip)
            assert x.shape == (1, c, side, side)  # doubles the resolution, halves filters
        x = net.features(x)
        assert x.shape == (1, 16, 128, 128)
        for tower, (c, side) in zip(
            [m for m in net.towers if not isinstance(m, nn.Dropout)],
            [(64, 64), (128, 32), (256, 16), (512, 8)],
            strict=True,
        ):
            x = tower(x)
            assert x.shape == (1, c, side, side)  # two branches of c/2 filters each
    assert net.flat_features == 512 * 8 * 8 == 32768


# --------------------------------------------------------------------------- size
def test_parameter_count_of_the_reports_model(net):
    # Keras' summary of the report's model: 3 446 170 parameters, 480 of them the batch
    # norms' moving means and variances (buffers in torch, 16+32+64+128 channels × 2)
    assert count_parameters(net) == 3_445_690
    running = sum(b.numel() for n, b in net.named_buffers() if n.endswith(("mean", "var")))
    assert running == 480
    assert count_parameters(net) + running == 3_446_170
    assert count_parameters(net.output) == 32768 * 10 + 10 == 327_690
    convs = net.decoders[0].convs[0]  # a layer of the report's summary: conv2d_30
    assert count_parameters(convs) == 295_040
    megabytes = (count_parameters(net) + running) * 4 / 1e6
    assert 13.0 < megabytes < 15.0  # "15 MB" in the report, 13.15 MiB in its code


def test_parameter_count_for_other_inputs_and_widths():
    # only the dense layer depends on the clip size: (H/32)·(W/32)·512·classes
    small = UNetParallel(8, (128, 256))
    assert small.flat_features == 4 * 8 * 512
    assert count_parameters(small) == 3_445_690 - 327_690 + 4 * 8 * 512 * 8 + 8
    quick = UNetParallel(10, (256, 256), num_filters=128, input_pool=2)
    assert quick(torch.rand(3, 256, 256)).shape == (3, 10)
    assert quick.flat_features == 128 * 4 * 4
    assert count_parameters(quick) == 215_926


def test_bad_sizes_are_rejected():
    with pytest.raises(ConfigError, match="multiples of 16"):
        UNetParallel(10, (250, 256))
    with pytest.raises(ConfigError, match="multiples of 16"):
        UNetParallel(10, (256, 256), input_pool=32)
    with pytest.raises(ConfigError, match="num_filters"):
        UNetParallel(10, num_filters=100)
    with pytest.raises(ConfigError, match="2-D spectrogram clips"):
        create(_setup(shape=(498,)))


# --------------------------------------------------------------------------- alignment
def keras_same_transposed(x: torch.Tensor, weight: torch.Tensor, stride: int) -> torch.Tensor:
    """TensorFlow's ``conv2d_transpose(padding="SAME")`` from its definition: the gradient,
    with respect to its input, of the "SAME" convolution that maps the output size back to
    the input size.  That convolution pads ``(in - 1)·s + k - out`` in all, ``total // 2``
    before and the rest after, as TensorFlow does (stride 2, kernel 3: 0 before, 1 after;
    stride 1: 1 and 1)."""
    n, _, h, w = x.shape
    k = weight.shape[-1]
    out_h, out_w = h * stride, w * stride
    total_h = max((h - 1) * stride + k - out_h, 0)
    total_w = max((w - 1) * stride + k - out_w, 0)
    pad = (total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2)
    with torch.enable_grad():
        z = torch.zeros(n, weight.shape[1], out_h, out_w, requires_grad=True)
        # ConvTranspose2d weights are (in, out, k, k); the forward convolution's are (in, out)
        # swapped, i.e. conv2d(z, weight) maps out channels to in channels.
        y = torch.nn.functional.conv2d(torch.nn.functional.pad(z, pad), weight, stride=stride)
        (grad,) = torch.autograd.grad((y * x).sum(), z)
    return grad


def test_transposed_convolution_is_aligned_as_keras_same():
    torch.manual_seed(0)
    layer = SameTransposedConv2d(2, 3)
    with torch.no_grad():
        layer.bias.zero_()
    x = torch.randn(1, 2, 4, 5)
    with torch.no_grad():
        ours = layer(x)
    assert ours.shape == (1, 3, 8, 10)
    torch.testing.assert_close(ours, keras_same_transposed(x, layer.weight.detach(), 2))
    # torch's padding=1, output_padding=1 (the earlier layer) is the same grid shifted one
    # pixel up and left: it matches the Keras output moved by one, not the Keras output.
    shifted = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1, bias=False)
    with torch.no_grad():
        shifted.weight.copy_(layer.weight)
        old = shifted(x)
    assert not torch.allclose(old, ours)
    torch.testing.assert_close(old[..., :-1, :-1], ours[..., 1:, 1:])


def test_transposed_convolution_on_a_single_pixel():
    # One input pixel at (0, 0): Keras' "same" output holds the kernel itself at the top left
    # (output rows/columns 0-2); the first output pixel is the kernel's first tap.
    layer = SameTransposedConv2d(1, 1)
    kernel = torch.arange(9, dtype=torch.float32).view(3, 3) + 1  # 1 .. 9
    with torch.no_grad():
        layer.weight.copy_(kernel.view(1, 1, 3, 3))
        layer.bias.zero_()
        x = torch.zeros(1, 1, 2, 2)
        x[0, 0, 0, 0] = 1.0
        out = layer(x)[0, 0]
    expected = torch.zeros(4, 4)
    expected[:3, :3] = kernel
    torch.testing.assert_close(out, expected)
    # the stride-1 "features" layer: torch's padding=1 is Keras' "same" there
    net = UNetParallel(10, (32, 32), num_filters=64)
    x = torch.randn(1, net.features.in_channels, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(
            net.features(x) - net.features.bias.view(1, -1, 1, 1),
            keras_same_transposed(x, net.features.weight.detach(), 1),
        )


# --------------------------------------------------------------------------- layers
def test_activations_normalisation_dropout(net):
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    # stem 1, encoders 3×2, bottleneck 1, decoders 3×2, towers 4×1 (first branch only)
    assert len(relus) == 1 + 6 + 1 + 6 + 4
    assert not any(isinstance(m, nn.PReLU | nn.LeakyReLU) for m in net.modules())
    for tower in (m for m in net.towers if not isinstance(m, nn.Dropout)):
        assert any(isinstance(m, nn.ReLU) for m in tower.relu_branch)
        assert not any(isinstance(m, nn.ReLU) for m in tower.linear_branch)
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [m.num_features for m in norms] == [16, 32, 64, 128]
    assert all(m.eps == 1e-3 for m in norms)
    drops = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    # the reported run: stem, 3 encoders, 3 decoders (after the concatenation), 4 towers
    assert len(drops) == 11 and all(m.p == 0.3 for m in drops)
    for decoder in net.decoders:
        assert isinstance(decoder.dropout, nn.Dropout)
    may29 = UNetParallel(10, (64, 64), num_filters=64, dropout=0.2, decoder_dropout=False)
    drops = [m for m in may29.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 8 and all(m.p == 0.2 for m in drops)  # stem, 3 encoders, 4 towers


def test_glorot_initialisation_and_determinism():
    torch.manual_seed(5)
    a = UNetParallel(10, (64, 64), num_filters=64)
    torch.manual_seed(5)
    b = UNetParallel(10, (64, 64), num_filters=64)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    for m in a.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            assert torch.count_nonzero(m.bias) == 0
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(m.weight)
            assert float(m.weight.detach().abs().max()) <= math.sqrt(6 / (fan_in + fan_out)) + 1e-6


# --------------------------------------------------------------------------- training
def test_one_optimisation_step_lowers_the_loss():
    """The report's network and settings (Adam, batch 16, L2), one step on one batch.  At
    the report's rate 1e-3 Adam's first step (every weight moves by about the rate)
    overshoots on this batch; at 1e-4 it descends."""
    rng = np.random.default_rng(0)
    x = rng.random((4, 256, 256)).astype(np.float32)
    y = np.array([0, 1, 2, 3])
    torch.manual_seed(0)
    model = create(_setup(budget={"epochs": 1, "patience": None, "lr": 1e-4}))
    assert model.config.batch_size == 16
    model.module.train()
    loss = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    torch.manual_seed(1)
    with torch.no_grad():
        before = float(loss(model.module(xt), yt))
    model.fit(x, y)  # 4 clips, batch 4: one Adam step
    assert len(model.history) == 1
    model.module.train()
    torch.manual_seed(1)  # the same dropout masks as before the step
    with torch.no_grad():
        after = float(loss(model.module(xt), yt))
    assert after < before


def test_build_config_defaults_and_overrides():
    cfg = build_config({}, {})
    assert (cfg.optimizer, cfg.lr, cfg.batch_size, cfg.epochs) == ("adam", 1e-3, 16, 25)
    assert cfg.weight_decay == 2e-2 and cfg.patience == 5  # Keras l2(0.01): gradient 0.02 w
    assert cfg.standardize is None and cfg.init is None and cfg.augment is None
    params = {"augment": {"noise": 0.05}, "num_filters": 128}
    budget = {"epochs": 2, "input_pool": 2, "max_train_tracks": 9, "max_test_tracks": 9}
    cfg = build_config(params, budget)
    assert cfg.epochs == 2 and cfg.augment == {"noise": 0.05}
    assert not cfg.extra  # architecture keys and the core's subset sizes are not training keys
    net = build_network(_setup(params=params, budget=budget))
    assert (net.num_filters, isinstance(net.input_pool, nn.AvgPool2d)) == (128, True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda():
    setup = _setup(budget={"epochs": 1, "patience": None, "augment": {"noise": 0.05}})
    setup.device = "cuda"
    model = create(setup)
    x = np.random.default_rng(0).random((8, 256, 256)).astype(np.float32)
    model.fit(x, np.arange(8) % 10)
    assert next(model.module.parameters()).is_cuda
    assert model.predict_proba(x).shape == (8, 10)
