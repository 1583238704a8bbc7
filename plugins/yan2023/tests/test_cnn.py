"""The CNN: every Table 4 configuration on a 218 × 336 × 3 image, and its training setup."""

from __future__ import annotations

import pytest
import torch
from genrebench_yan2023.cnn import CNNConfig, SpectrogramCNN, create
from genrebench_yan2023.plugin import TABLE4

from genrebench import ModelSetup
from genrebench.errors import ConfigError

#: The flattened size feeding the hidden layer in the authors' code for Table 4's six
#: models (fc1 in_features of ConvNet_model1..6): our geometry must give the same.
AUTHORS_FLAT = [256, 768, 768, 8320, 8320, 6688]


@pytest.mark.parametrize("row", range(len(TABLE4)))
def test_table4_shapes(row):
    _, arch, _ = TABLE4[row]
    net = SpectrogramCNN(10, CNNConfig(**arch))
    assert net.flat_features == AUTHORS_FLAT[row]
    assert net(torch.rand(2, 3, 218, 336) * 255).shape == (2, 10)
    assert net.hidden.out_features == arch["hidden"]
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 128][: arch["layers"]]
    assert all(c.kernel_size == (arch["kernel"],) * 2 for c in convs)
    assert all(c.stride == (2, 2) and c.padding == (arch["padding"],) * 2 for c in convs)
    assert (net.dropout_conv.p, net.dropout_fc.p) == (arch["dropout_conv"], arch["dropout_fc"])


def test_input_is_scaled_to_unit_range():
    torch.manual_seed(0)
    net = SpectrogramCNN(3, CNNConfig(layers=1, hidden=4), input_shape=(3, 20, 30)).eval()
    x = torch.rand(2, 3, 20, 30)
    seen = []
    net.features[0].register_forward_hook(lambda module, args, out: seen.append(args[0]))
    net(x * 255)
    torch.testing.assert_close(seen[0], x)


@pytest.mark.parametrize("layers", [0, 5])
def test_layer_count_is_checked(layers):
    with pytest.raises(ConfigError, match=r"layers must be 1\.\.4"):
        SpectrogramCNN(10, CNNConfig(layers=layers))


def test_too_small_input_is_refused():
    with pytest.raises(ConfigError, match="too small"):
        SpectrogramCNN(10, CNNConfig(layers=4, padding=1), input_shape=(3, 8, 8))


def test_factory_reads_architecture_and_training_settings():
    _, arch, _ = TABLE4[5]
    setup = ModelSetup(
        "single-label",
        ["a", "b"],
        (3, 218, 336),
        0,
        "cpu",
        {**arch, "batch_size": 64, "lr": 5e-4},
        {"epochs": 3, "patience": None, "max_test_tracks": 4},
    )
    model = create(setup)
    assert model.module.config == CNNConfig(**arch)
    cfg = model.config
    assert (cfg.batch_size, cfg.lr, cfg.epochs, cfg.patience) == (64, 5e-4, 3, None)
    assert (cfg.optimizer, cfg.weight_decay, cfg.standardize, cfg.init) == (
        "adam",
        5e-3,
        None,
        None,
    )
    assert cfg.extra == {}
    paper = create(ModelSetup("single-label", ["a"], (3, 218, 336), 0, "cpu", {}, {}))
    assert (paper.config.epochs, paper.config.patience) == (55, 10)
