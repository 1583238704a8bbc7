"""The ResNet of Fig. 1 and the MLP: shapes, parameter counts, one training step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from genrebench_lukashevich2023.networks import (
    MLP,
    ResNet,
    create_mlp,
    create_resnet,
)

from genrebench import ModelSetup
from genrebench.errors import ConfigError
from genrebench.training import count_parameters


def _setup(shape, n_classes=8, **budget):
    return ModelSetup(
        task="single-label",
        classes=[f"c{i}" for i in range(n_classes)],
        input_shape=shape,
        seed=0,
        device="cpu",
        params={},
        budget=budget,
    )


def test_resnet_shapes_through_the_stages():
    net = ResNet(8).eval()
    x = torch.zeros(2, 96, 186)
    h = net.stem(x.unsqueeze(1))
    assert h.shape == (2, 64, 96, 186)  # "same" padding keeps the patch size
    sizes = []
    for layer in net.blocks:
        h = layer(h)
        sizes.append(tuple(h.shape[1:]))
    assert sizes == [
        (64, 96, 186),
        (64, 48, 93),
        (64, 48, 93),
        (64, 24, 46),
        (64, 24, 46),
        (128, 24, 46),
        (128, 12, 23),
        (256, 12, 23),
    ]
    assert net(x).shape == (2, 8)


def test_parameter_count_next_to_the_papers_420k():
    # conv 1 664 + blocks 24 960 + 74 112 + 74 112 + 83 072 (with a 1x1 projection + BN)
    # + 133 376 + dense 2 056 = 393 352 for FMA's 8 classes; the paper says about 420 k.
    assert count_parameters(ResNet(8)) == 393_352
    assert count_parameters(ResNet(10)) == 393_866
    # with a projection shortcut in every block (another reading of the block): 406 216
    assert count_parameters(ResNet(8, shortcut="projection")) == 406_216
    assert count_parameters(ResNet(8, width=0.25)) == 26_152  # the quick profile's
    with pytest.raises(ConfigError, match="shortcut"):
        ResNet(8, shortcut="dense")


def test_input_pool_averages_the_patch_before_the_stem_and_keeps_the_parameters():
    # the quick profile's speed knob: the same layers on a patch averaged in 2x2 cells
    net = ResNet(4, width=0.25, input_pool=2)
    assert count_parameters(net) == count_parameters(ResNet(4, width=0.25))
    assert set(net.state_dict()) == set(ResNet(4, width=0.25).state_dict())
    x = torch.randn(3, 96, 186)
    seen = []
    net.stem.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape))
    net.eval()
    with torch.no_grad():
        assert net(x).shape == (3, 4)
    assert seen == [torch.Size([3, 1, 48, 93])]
    assert isinstance(ResNet(4).input_pool, torch.nn.Identity)  # the paper's: no pooling
    for bad in (0, 1.5, True):
        with pytest.raises(ConfigError, match="input_pool"):
            ResNet(4, input_pool=bad)


def test_dropout_after_every_block_only_in_training():
    net = ResNet(4, width=0.25)
    dropouts = [m for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 5 and all(d.p == 0.1 for d in dropouts)
    x = torch.randn(3, 96, 186)
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x))
    net.train()
    with torch.no_grad():
        assert not torch.allclose(net(x), net(x))


def test_one_training_step_lowers_the_loss():
    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((8, 96, 186)).astype(np.float32)
    y = np.arange(8) % 4
    model = create_resnet(_setup((96, 186), 4, epochs=1, batch_size=8, patience=None))
    before = model.loss_on(x, y)
    model.fit(x, y)
    assert model.loss_on(x, y) < before
    assert model.n_parameters() == count_parameters(ResNet(4))
    p = model.predict_proba(x)
    assert p.shape == (8, 4) and np.allclose(p.sum(axis=1), 1.0)


def test_resnet_needs_two_dimensional_patches():
    with pytest.raises(ConfigError, match="2-D"):
        create_resnet(_setup((200,)))


def test_mlp_on_embeddings():
    net = MLP(200, 8)
    assert net(torch.zeros(5, 200, 1)).shape == (5, 8)
    assert count_parameters(net) == 200 * 256 + 256 + 256 * 128 + 128 + 128 * 8 + 8
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 200, 1)).astype(np.float32) * 5 + 3
    y = (x[:, 0, 0] > 3).astype(int)
    model = create_mlp(_setup((200, 1), 2, epochs=30, patience=None))
    assert model.config.standardize == "feature"
    before = model.loss_on(x, y)
    model.fit(x, y)
    assert model.loss_on(x, y) < 0.5 * before
