"""The report's network in PyTorch: a small U-Net, then parallel convolutions, then one
dense layer.

The sizes are those of the report's own code (``unet_model(input_shape=(256, 256, 1),
num_filters=512)`` in ``Deliverables/project.ipynb`` of the authors' public repository,
Keras, as of commit 1411135, the last notebook before the reported run): the report's
figures that drew it are missing from its text.  With ``f = num_filters`` (512):

* **stem**: conv ``f/32`` (16) 3×3 + ReLU, max-pool 2×2, batch norm, dropout;
* **encoder**, three blocks of ``f/16, f/8, f/4`` (32, 64, 128) filters: conv 3×3 + ReLU,
  conv 3×3 + ReLU, batch norm, dropout (→ skip connection), max-pool 2×2 -- each block
  halves the resolution and doubles the filters;
* **bottleneck**: conv ``f/2`` (256) 3×3 + ReLU;
* **decoder**, three blocks back up (128, 64, 32): transposed conv 3×3 stride 2 (doubles
  the resolution, aligned as Keras' ``padding="same"``), concatenated with the encoder's
  skip features, dropout (``decoder_dropout``; the 29 May notebook had none), conv 3×3 +
  ReLU twice;
* **features**: transposed conv ``f/32`` (16) 3×3 stride 1, no activation;
* **parallel convolutions**, four "towers" of ``f/16, f/8, f/4, f/2`` filters: two 3×3
  convolutions side by side on the same input -- the first followed by ReLU, the second by
  none (as in the code) -- each max-pooled 2×2, concatenated (twice the filters), dropout;
* **classifier**: flatten, dense ``n_classes`` (softmax in the loss).

All convolutions are "same"-padded.  For a 256×256 clip and 10 classes the network has
**3 445 690** trainable parameters plus 480 batch-norm running statistics (3 446 170 in
Keras' count, 13.8 MB as float32: the report's "15 MB"); the dense layer's 327 690 grow
with the input size.  The network returns logits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from genrebench import ModelSetup
from genrebench.errors import ConfigError
from genrebench.training import TorchClassifier, TrainConfig, xavier_init

#: The resolution is halved four times before the skip connections meet again.
SIZE_MULTIPLE = 16
#: Keras' BatchNormalization epsilon; momentum is torch's 0.1 (see the README).
BN_EPS = 1e-3


def conv3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1)


class EncoderBlock(nn.Module):
    """conv-ReLU-conv-ReLU, batch norm, dropout: the skip features; then max-pool."""

    def __init__(self, c_in: int, c_out: int, dropout: float) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            conv3(c_in, c_out),
            nn.ReLU(),
            conv3(c_out, c_out),
            nn.ReLU(),
            nn.BatchNorm2d(c_out, eps=BN_EPS),
            nn.Dropout(dropout),
        )
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = self.convs(x)
        return skip, self.pool(skip)


class SameTransposedConv2d(nn.ConvTranspose2d):
    """Keras' ``Conv2DTranspose(kernel 3, strides 2, padding="same")``: output ``2 × input``,
    aligned as TensorFlow aligns it.

    TensorFlow's "same" transposed convolution is the gradient of a stride-2 "same"
    convolution, which pads its input at the end only (one row and column for kernel 3 on
    an even size).  Its output is the full transposed convolution (``2n + 1`` wide) without
    its *last* row and column.  torch's ``padding=1, output_padding=1`` drops the *first*
    instead, which shifts every output by one pixel against the skip features it is
    concatenated with; so this layer computes the full output and crops the end."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, c_out, 3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        full = super().forward(x)
        return full[..., : 2 * x.shape[-2], : 2 * x.shape[-1]]


class DecoderBlock(nn.Module):
    """Transposed conv (×2 resolution), concatenation with the skip features, dropout
    (``dropout`` 0: none), conv-ReLU-conv-ReLU."""

    def __init__(self, c_in: int, c_out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.up = SameTransposedConv2d(c_in, c_out)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.convs = nn.Sequential(
            conv3(2 * c_out, c_out), nn.ReLU(), conv3(c_out, c_out), nn.ReLU()
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.convs(self.dropout(torch.cat([self.up(x), skip], dim=1)))


class Tower(nn.Module):
    """Two 3×3 convolutions of the same input side by side (ReLU after the first only),
    each max-pooled 2×2 ("same" pooling: odd sizes round up), concatenated."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu_branch = nn.Sequential(
            conv3(c_in, c_out), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)
        )
        self.linear_branch = nn.Sequential(conv3(c_in, c_out), nn.MaxPool2d(2, ceil_mode=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.relu_branch(x), self.linear_branch(x)], dim=1)


class UNetParallel(nn.Module):
    """U-Net + parallel convolutions over a ``(bands, frames)`` clip (256×256 in the report)."""

    def __init__(
        self,
        n_classes: int,
        input_shape: Sequence[int] = (256, 256),
        *,
        num_filters: int = 512,
        dropout: float = 0.3,
        input_pool: int = 1,
        decoder_dropout: bool = True,
    ) -> None:
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape[-2:])
        if input_pool < 1:
            raise ConfigError(f"input_pool must be >= 1, got {input_pool}")
        seen = tuple(s // input_pool for s in self.input_shape)
        if len(seen) != 2 or any(s == 0 or s % SIZE_MULTIPLE for s in seen):
            raise ConfigError(
                f"the U-Net needs 2-D clips whose sides (after input_pool {input_pool}) are "
                f"multiples of {SIZE_MULTIPLE} (256×256 in the report), got {tuple(input_shape)}"
            )
        # quick-profile speed knob: average input_pool × input_pool cells (1: the report)
        self.input_pool = nn.AvgPool2d(input_pool) if input_pool > 1 else nn.Identity()
        if num_filters < 32 or num_filters % 32:
            raise ConfigError(
                f"num_filters must be a multiple of 32 (512 in the report), got {num_filters}"
            )
        c0, c1, c2, c3, c4 = (num_filters // d for d in (32, 16, 8, 4, 2))
        self.num_filters = num_filters
        self.stem = nn.Sequential(
            conv3(1, c0),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(c0, eps=BN_EPS),
            nn.Dropout(dropout),
        )
        self.encoders = nn.ModuleList(
            [
                EncoderBlock(c0, c1, dropout),
                EncoderBlock(c1, c2, dropout),
                EncoderBlock(c2, c3, dropout),
            ]
        )
        self.bottleneck = nn.Sequential(conv3(c3, c4), nn.ReLU())
        up_dropout = dropout if decoder_dropout else 0.0
        self.decoders = nn.ModuleList(
            [
                DecoderBlock(c4, c3, up_dropout),
                DecoderBlock(c3, c2, up_dropout),
                DecoderBlock(c2, c1, up_dropout),
            ]
        )
        self.features = nn.ConvTranspose2d(c1, c0, 3, stride=1, padding=1)
        towers: list[nn.Module] = []
        for c_in, c_out in ((c0, c1), (2 * c1, c2), (2 * c2, c3), (2 * c3, c4)):
            towers += [Tower(c_in, c_out), nn.Dropout(dropout)]
        self.towers = nn.Sequential(*towers)
        with torch.no_grad():
            self.flat_features = int(
                self._convolutions(torch.zeros(1, 1, *self.input_shape)).numel()
            )
        self.output = nn.Linear(self.flat_features, n_classes)
        xavier_init(self)  # Keras' glorot_uniform kernels, zero biases

    def _convolutions(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.input_pool(x))
        skips = []
        for encoder in self.encoders:
            skip, x = encoder(x)
            skips.append(skip)
        x = self.bottleneck(x)
        for decoder, skip in zip(self.decoders, reversed(skips), strict=True):
            x = decoder(x, skip)
        return self.towers(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:  # (n, bands, frames) from the core: add the channel axis
            x = x.unsqueeze(1)
        return self.output(torch.flatten(self._convolutions(x), start_dim=1))


# --------------------------------------------------------------------------- training
#: Architecture parameters an experiment may set (``model_params`` or a profile budget):
#: the notebook of the reported run (commit 1411135, 20 June 2024): dropout 0.3, also after
#: each decoder concatenation.
MODEL_DEFAULTS: dict[str, Any] = {
    "num_filters": 512,
    "dropout": 0.3,
    "input_pool": 1,
    "decoder_dropout": True,
}
#: Training settings of the same notebook (Keras ``model.compile(optimizer='adam')``,
#: ``fit(..., epochs=25)``, batches of 16; L2 1e-2 on the kernels, i.e. a gradient of
#: 2e-2·w: torch's coupled Adam weight decay 2e-2).  Early stopping is ours.
TRAIN_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 1e-3,
    "batch_size": 16,
    "epochs": 25,
    "weight_decay": 2e-2,
    "patience": 5,
    "standardize": None,  # inputs are already in [0, 1]
    "init": None,  # the network initialises itself like Keras (xavier_init)
}


def build_config(params: Mapping[str, Any], budget: Mapping[str, Any]) -> TrainConfig:
    """Training settings: defaults < experiment params < profile budget (architecture keys
    and the core's ``max_*_tracks`` subset sizes left out)."""
    return TrainConfig.from_settings(TRAIN_DEFAULTS, params, budget, leave_out=MODEL_DEFAULTS)


def build_network(setup: ModelSetup) -> UNetParallel:
    arch = {**MODEL_DEFAULTS, **setup.params, **setup.budget}
    return UNetParallel(
        len(setup.classes),
        setup.input_shape,
        num_filters=int(arch["num_filters"]),
        dropout=float(arch["dropout"]),
        input_pool=int(arch["input_pool"]),
        decoder_dropout=bool(arch["decoder_dropout"]),
    )


def create(setup: ModelSetup) -> TorchClassifier:
    """Model factory behind ``pocelli2024/unet``."""
    if len(setup.input_shape) != 2:
        raise ConfigError(
            "the U-Net needs 2-D spectrogram clips (bands, frames), got input shape "
            f"{setup.input_shape}"
        )
    return TorchClassifier(build_network(setup), setup, build_config(setup.params, setup.budget))
