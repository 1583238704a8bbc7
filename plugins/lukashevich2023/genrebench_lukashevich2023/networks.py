"""The paper's two classifiers, in PyTorch, trained by the core's ``TorchClassifier``.

**ResNet** (paper Fig. 1, "described in detail in Grollmisch et al." = Grollmisch & Cano,
*Improving semi-supervised learning for audio classification with FixMatch*, Electronics
2021).  A patch is ``(96 mel bands, 186 frames)``; a kernel ``(a, b)`` spans ``a`` bands and
``b`` frames.  Layers: Conv 64 5×5 + ReLU; ResBlock 64 (3, 1); AvgPool 2×2; ResBlock 64
(3, 3); AvgPool 2×2; ResBlock 64 (3, 3); ResBlock 128 (3, 1); AvgPool 2×2; ResBlock 256
(1, 1); global average pooling; dense to the classes (softmax in the loss).  Every block is
followed by dropout 0.1.  The block's inside is not printed in either paper's text we could
read, so it is the standard residual block of He et al. (2016): conv → batch norm → ReLU →
conv → batch norm, plus the shortcut (identity, or a 1×1 conv + batch norm where the number
of channels changes), then ReLU.  "Same" padding everywhere.

**MLP** on embeddings (paper Fig. 2 is not in the text): two hidden layers of 256 and 128
ReLU units with dropout 0.25 after each, then the output layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from genrebench import ModelSetup
from genrebench.errors import ConfigError
from genrebench.training import TorchClassifier, TrainConfig

#: (out channels, kernel, average-pool after it) for the five residual blocks of Fig. 1.
RESNET_BLOCKS: tuple[tuple[int, tuple[int, int], bool], ...] = (
    (64, (3, 1), True),
    (64, (3, 3), True),
    (64, (3, 3), False),
    (128, (3, 1), True),
    (256, (1, 1), False),
)
STEM_CHANNELS = 64
STEM_KERNEL = (5, 5)


def _same(kernel: tuple[int, int]) -> tuple[int, int]:
    return (kernel[0] // 2, kernel[1] // 2)  # odd kernels only, as in Fig. 1


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus shortcut, ReLU, then dropout (He et al. 2016's basic
    block; ``shortcut="projection"`` uses a 1×1 conv + BN even when channels match)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int],
        dropout: float,
        shortcut: str = "auto",
    ) -> None:
        super().__init__()
        if shortcut not in ("auto", "projection"):
            raise ConfigError(f"shortcut must be 'auto' or 'projection', got {shortcut!r}")
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel, padding=_same(kernel))
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel, padding=_same(kernel))
        self.bn2 = nn.BatchNorm2d(out_channels)
        if in_channels == out_channels and shortcut == "auto":
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels)
            )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.dropout(torch.relu(y + self.shortcut(x)))


class ResNet(nn.Module):
    """The ResNet of Fig. 1 for ``(n_bands, n_frames)`` patches.  ``width`` scales every
    channel count and ``input_pool`` averages the patch over ``input_pool`` × ``input_pool``
    cells before the first convolution (1.0 and 1 are the paper's network; the ``quick``
    profile uses a thinner one on coarser patches)."""

    def __init__(
        self,
        n_classes: int,
        *,
        width: float = 1.0,
        dropout: float = 0.1,
        shortcut: str = "auto",
        input_pool: int = 1,
    ) -> None:
        super().__init__()
        if not width > 0:
            raise ConfigError(f"width must be > 0, got {width}")
        if isinstance(input_pool, bool) or int(input_pool) != input_pool or input_pool < 1:
            raise ConfigError(f"input_pool must be a whole number >= 1, got {input_pool!r}")
        # quick-profile speed knob: 1 (the paper) leaves the patch as it is
        self.input_pool = nn.AvgPool2d(int(input_pool)) if input_pool > 1 else nn.Identity()

        def channels(c: int) -> int:
            return max(1, round(c * width))

        stem = channels(STEM_CHANNELS)
        self.stem = nn.Sequential(
            nn.Conv2d(1, stem, STEM_KERNEL, padding=_same(STEM_KERNEL)), nn.ReLU()
        )
        layers: list[nn.Module] = []
        in_channels = stem
        for out, kernel, pool in RESNET_BLOCKS:
            layers.append(ResidualBlock(in_channels, channels(out), kernel, dropout, shortcut))
            if pool:
                layers.append(nn.AvgPool2d(2))
            in_channels = channels(out)
        self.blocks = nn.Sequential(*layers)
        self.output = nn.Linear(in_channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:  # (n, bands, frames) from the core: add the channel axis
            x = x.unsqueeze(1)
        features = self.blocks(self.stem(self.input_pool(x)))
        return self.output(features.mean(dim=(2, 3)))  # global average pooling


class MLP(nn.Module):
    """Embedding -> hidden ReLU layers with dropout -> class logits."""

    def __init__(
        self,
        n_inputs: int,
        n_classes: int,
        hidden: Sequence[int] = (256, 128),
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = n_inputs
        for units in hidden:
            layers += [nn.Linear(size, int(units)), nn.ReLU(), nn.Dropout(dropout)]
            size = int(units)
        layers.append(nn.Linear(size, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.reshape(len(x), -1))


# --------------------------------------------------------------------------- training
#: Architecture keys an experiment may set in ``model_params``; the rest are training
#: settings for ``TrainConfig`` (overridable by the profile budget).
RESNET_ARCH = {"width": 1.0, "dropout": 0.1, "shortcut": "auto", "input_pool": 1}
MLP_ARCH = {"hidden": (256, 128), "dropout": 0.25}
#: Our choice (the paper gives none): Adam at 1e-3, batches of 32, at most 100 epochs with
#: early stopping on the validation loss (patience 10, best weights restored).
TRAIN_DEFAULTS: dict[str, Any] = {
    "lr": 1e-3,
    "batch_size": 32,
    "epochs": 100,
    "optimizer": "adam",
    "patience": 10,
    "standardize": "global",
}


def _train_config(
    arch: Mapping[str, Any],
    params: Mapping[str, Any],
    budget: Mapping[str, Any],
    **defaults: Any,
) -> TrainConfig:
    return TrainConfig.from_settings(TRAIN_DEFAULTS, defaults, params, budget, leave_out=arch)


def _arch(arch: Mapping[str, Any], setup: ModelSetup) -> dict[str, Any]:
    merged = {**setup.params, **setup.budget}
    return {k: merged.get(k, default) for k, default in arch.items()}


def create_resnet(setup: ModelSetup) -> TorchClassifier:
    """Model factory of ``lukashevich2023/resnet``."""
    if len(setup.input_shape) != 2:
        raise ConfigError(
            f"the ResNet needs 2-D (bands, frames) patches, got input shape {setup.input_shape}"
        )
    arch = _arch(RESNET_ARCH, setup)
    net = ResNet(
        len(setup.classes),
        width=float(arch["width"]),
        dropout=float(arch["dropout"]),
        shortcut=str(arch["shortcut"]),
        input_pool=arch["input_pool"],
    )
    return TorchClassifier(net, setup, _train_config(RESNET_ARCH, setup.params, setup.budget))


def create_mlp(setup: ModelSetup) -> TorchClassifier:
    """Model factory of ``lukashevich2023/mlp`` (any fixed-size input, flattened)."""
    arch = _arch(MLP_ARCH, setup)
    n_inputs = 1
    for size in setup.input_shape:
        n_inputs *= int(size)
    net = MLP(
        n_inputs,
        len(setup.classes),
        hidden=tuple(int(h) for h in arch["hidden"]),
        dropout=float(arch["dropout"]),
    )
    # each embedding dimension standardised on its own: they have unrelated scales
    config = _train_config(MLP_ARCH, setup.params, setup.budget, standardize="feature")
    return TorchClassifier(net, setup, config)
