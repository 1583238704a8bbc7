"""The paper's CNN (§4.2, Fig. 3) on the cropped spectrogram image.

``LAYERS`` × (convolution → ReLU → 2 × 2 max-pool), dropout, flatten, a fully connected
layer of ``HN`` units with ReLU and dropout, and the output layer (the softmax is in the
loss).  The paper gives batch size, learning rate, kernel, padding, stride, the two dropout
rates, HN and the number of layers (Tables 3 and 4); what it leaves open is taken from the
authors' public code, where it has an answer:

* channels 16, 32, 64, 128 for layers 1–4 (doubling from 16);
* max-pool 2 × 2 with stride 2 (floor), after each convolution;
* input pixels scaled to 0–1 (torchvision's ``ToTensor``), no other normalisation;
* Adam with weight decay 5e-3;
* PyTorch's default initialisation.

Early stopping (the paper: "we use early stopping") is our choice of rule: at most 55 epochs
(the authors' script), stop after 10 epochs without a lower validation loss and keep the
best weights.  The authors' script instead kept the epoch of best validation accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genrebench import ModelSetup
from genrebench.errors import ConfigError
from genrebench.training import TorchClassifier, TrainConfig
from genrebench_yan2023.budget import merged

CHANNELS = (16, 32, 64, 128)
POOL = 2


@dataclass(frozen=True)
class CNNConfig:
    """One row of Tables 3 / 4 (the architecture part; batch size and learning rate are
    training settings)."""

    layers: int = 4
    kernel: int = 5
    padding: int = 3
    stride: int = 2
    dropout_conv: float = 0.4
    dropout_fc: float = 0.1
    hidden: int = 128


class SpectrogramCNN(nn.Module):
    """``(n, 3, 218, 336)`` images with values 0–255 -> ``(n, classes)`` logits."""

    def __init__(
        self,
        n_classes: int,
        config: CNNConfig = CNNConfig(),
        input_shape: Sequence[int] = (3, 218, 336),
        channels: Sequence[int] = CHANNELS,
    ) -> None:
        super().__init__()
        if not 1 <= config.layers <= len(channels):
            raise ConfigError(f"layers must be 1..{len(channels)}, got {config.layers}")
        self.config = config
        blocks: list[nn.Module] = []
        previous = int(input_shape[0])
        for out in channels[: config.layers]:
            blocks += [
                nn.Conv2d(
                    previous, out, config.kernel, stride=config.stride, padding=config.padding
                ),
                nn.ReLU(),
                nn.MaxPool2d(POOL),
            ]
            previous = out
        self.features = nn.Sequential(*blocks)
        try:
            with torch.no_grad():
                probe = self.features(torch.zeros(1, *(int(s) for s in input_shape)))
        except RuntimeError:  # a feature map shrank below the kernel or the pool
            probe = torch.zeros(0)
        self.flat_features = int(probe.numel())
        if self.flat_features == 0:
            raise ConfigError(f"input {tuple(input_shape)} is too small for {config}")
        self.dropout_conv = nn.Dropout(config.dropout_conv)
        self.hidden = nn.Linear(self.flat_features, config.hidden)
        self.dropout_fc = nn.Dropout(config.dropout_fc)
        self.output = nn.Linear(config.hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x / 255.0)
        x = torch.flatten(self.dropout_conv(x), start_dim=1)
        x = self.dropout_fc(torch.relu(self.hidden(x)))
        return self.output(x)


#: Training defaults (Table 3's best: batch 64, lr 5e-4; the rest see the module doc).
TRAIN_DEFAULTS: dict[str, Any] = {
    "batch_size": 64,
    "lr": 5e-4,
    "optimizer": "adam",
    "weight_decay": 5e-3,
    "epochs": 55,
    "patience": 10,
}
ARCH_KEYS = tuple(CNNConfig.__dataclass_fields__)


def config_from(params: dict[str, Any]) -> CNNConfig:
    return CNNConfig(**{k: params[k] for k in ARCH_KEYS if k in params})


def create(setup: ModelSetup) -> TorchClassifier:
    """Factory of ``yan2023/cnn``; the architecture comes from the experiment's
    ``model_params`` (keys of :class:`CNNConfig`)."""
    if len(setup.input_shape) != 3:
        raise ConfigError(
            f"the CNN needs (channels, rows, columns) images, got input shape {setup.input_shape}"
        )
    params = merged(TRAIN_DEFAULTS, setup.params)
    net = SpectrogramCNN(len(setup.classes), config_from(params), setup.input_shape)
    config = TrainConfig.from_settings(
        TRAIN_DEFAULTS, setup.params, setup.budget, leave_out=ARCH_KEYS
    )
    return TorchClassifier(net, setup, config)
