"""The shallow and deep parallel CNNs of Schindler, Lidy and Rauber (2016), in PyTorch.

Input orientation: a segment is ``(n_bands, n_frames)`` -- rows are frequency bands (mel or
CQT bins, low to high), columns are time frames, as the core cuts them (time on the last
axis).  A kernel or pool written ``a×b`` spans ``a`` bands and ``b`` frames.

Both networks have two pipelines over the same input:

* the *spectral* pipeline (first in the paper) ends by pooling over time (``1×20`` in the
  shallow net, ``1×5`` after three ``2×2`` pools in the deep net), so it keeps the frequency
  resolution;
* the *temporal* pipeline (second) ends by pooling over frequency (``20×1`` / ``5×1``), so it
  keeps the time resolution.

Their flattened outputs are concatenated, dropout is applied, then a 200-unit fully
connected layer with the same activation, then the output layer.  The network returns
logits; the shared training loop applies the softmax (single-label) or sigmoid (multi-label).
Convolutions use "same" padding, as the public re-implementations do (the only padding that
gives the 10 240 merged features of the shallow net on an 80×80 input).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genrebench import ModelSetup
from genrebench.errors import ConfigError
from genrebench.training import TorchClassifier, TrainConfig


# --------------------------------------------------------------------------- architecture
@dataclass(frozen=True)
class Stage:
    """One convolution (``filters`` kernels of ``kernel``) + activation + max-pool."""

    filters: int
    kernel: tuple[int, int]
    pool: tuple[int, int]


#: Shallow network (paper Fig. 1): one stage per pipeline.
SHALLOW = {
    "spectral": (Stage(16, (10, 23), (1, 20)),),
    "temporal": (Stage(16, (21, 20), (20, 1)),),
    "dropout": 0.1,
}

#: Deep network (paper Fig. 2): four stages per pipeline, 16/32/64/128 filters.
DEEP = {
    "spectral": (
        Stage(16, (10, 23), (2, 2)),
        Stage(32, (5, 11), (2, 2)),
        Stage(64, (3, 5), (2, 2)),
        Stage(128, (2, 4), (1, 5)),
    ),
    "temporal": (
        Stage(16, (21, 10), (2, 2)),
        Stage(32, (10, 5), (2, 2)),
        Stage(64, (5, 3), (2, 2)),
        Stage(128, (4, 2), (5, 1)),
    ),
    "dropout": 0.25,
}

ARCHITECTURES: dict[str, dict[str, Any]] = {"shallow": SHALLOW, "deep": DEEP}


def make_activation(name: str, alpha: float) -> nn.Module:
    """``leaky_relu`` (the original paper, slope ``alpha``), ``relu`` (the report) or
    ``none`` (identity: the report's code has no activation after the shallow network's
    dense layer)."""
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=alpha)
    if name == "relu":
        return nn.ReLU()
    if name == "none":
        return nn.Identity()
    raise ConfigError(f"unknown activation {name!r}; expected 'leaky_relu', 'relu' or 'none'")


def same_padding(kernel: tuple[int, int]) -> nn.ZeroPad2d:
    """Zero padding that keeps the size ("same"), the odd pixel after (as TensorFlow/Keras
    pad), written out so even kernels need no internal copy."""
    (kh, kw) = kernel
    top, left = (kh - 1) // 2, (kw - 1) // 2
    return nn.ZeroPad2d((left, kw - 1 - left, top, kh - 1 - top))


def _pipeline(
    stages: Sequence[Stage], activation: str, alpha: float, bias: bool = True
) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 1
    for stage in stages:
        layers += [
            same_padding(stage.kernel),
            nn.Conv2d(channels, stage.filters, stage.kernel, bias=bias),
            make_activation(activation, alpha),
            nn.MaxPool2d(stage.pool, stride=stage.pool),
        ]
        channels = stage.filters
    return nn.Sequential(*layers)


class ParallelCNN(nn.Module):
    """Two convolutional pipelines over the same spectrogram, merged into a dense head.

    ``arch`` is ``"shallow"`` or ``"deep"``; ``input_shape`` is ``(n_bands, n_frames)``
    (80×80 in the paper, 84×80 for the 84-bin CQT).  ``conv_bias=False`` drops the
    convolution biases and ``dense_activation`` sets the activation after the 200-unit
    layer (``"same"``: the convolutions' one), as the report's code needs.
    """

    def __init__(
        self,
        arch: str,
        n_classes: int,
        input_shape: Sequence[int] = (80, 80),
        *,
        activation: str = "leaky_relu",
        alpha: float = 0.3,
        dropout: float | None = None,
        hidden: int = 200,
        conv_bias: bool = True,
        dense_activation: str = "same",
    ) -> None:
        super().__init__()
        if arch not in ARCHITECTURES:
            raise ConfigError(
                f"unknown architecture {arch!r}; expected one of {sorted(ARCHITECTURES)}"
            )
        spec = ARCHITECTURES[arch]
        self.arch = arch
        self.input_shape = tuple(int(s) for s in input_shape[-2:])
        self.spectral = _pipeline(spec["spectral"], activation, alpha, conv_bias)
        self.temporal = _pipeline(spec["temporal"], activation, alpha, conv_bias)
        with torch.no_grad():
            probe = torch.zeros(1, 1, *self.input_shape)
            self.merged_features = int(self.spectral(probe).numel() + self.temporal(probe).numel())
        if self.merged_features == 0:
            raise ConfigError(f"input {self.input_shape} is too small for the {arch} network")
        self.dropout = nn.Dropout(spec["dropout"] if dropout is None else dropout)
        self.hidden = nn.Linear(self.merged_features, hidden)
        self.hidden_activation = make_activation(
            activation if dense_activation == "same" else dense_activation, alpha
        )
        self.output = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:  # (n, bands, frames) from the core: add the channel axis
            x = x.unsqueeze(1)
        a = torch.flatten(self.spectral(x), start_dim=1)
        b = torch.flatten(self.temporal(x), start_dim=1)
        merged = self.dropout(torch.cat([a, b], dim=1))
        return self.output(self.hidden_activation(self.hidden(merged)))


# --------------------------------------------------------------------------- training
def exp_decay(
    step: int, rate: float = 0.9, decay_steps: int = 3000, staircase: bool = False
) -> float:
    """Learning-rate factor of the report's EXP extension: ``rate ** (step / decay_steps)``.

    This is the report's formula ``lr = lr0 * rate^(global/decay)`` and what its code
    computes (TensorFlow's ``exponential_decay`` with the default ``staircase=False``):
    the rate falls smoothly and reaches exactly ×0.9 after every 3000 optimiser steps.
    ``staircase=True`` gives the step-wise variant ``rate ** (step // decay_steps)``.
    """
    exponent = step // decay_steps if staircase else step / decay_steps
    return float(rate**exponent)


class ExpDecay:
    """Picklable ``lr_schedule`` callable wrapping :func:`exp_decay`."""

    def __init__(self, rate: float = 0.9, decay_steps: int = 3000, staircase: bool = False):
        self.rate, self.decay_steps, self.staircase = rate, decay_steps, staircase

    def __call__(self, step: int) -> float:
        return exp_decay(step, self.rate, self.decay_steps, self.staircase)

    def __repr__(self) -> str:  # shown in logs / metrics
        kind = "staircase" if self.staircase else "smooth"
        return f"ExpDecay({self.rate} every {self.decay_steps} steps, {kind})"


#: Model parameters an experiment may set (``ExperimentSpec.model_params``) and their
#: defaults.  Training keys may be overridden by the profile budget.
MODEL_DEFAULTS: dict[str, Any] = {
    "activation": "leaky_relu",
    "alpha": 0.3,
    "dropout": None,  # None: the architecture's own (0.1 shallow, 0.25 deep)
    "hidden": 200,
    "conv_bias": True,
    "dense_activation": "same",  # or "none", "relu", "leaky_relu"
    "lr_schedule": None,  # None (constant) or "exp"
    "decay_rate": 0.9,
    "decay_steps": 3000,
    "decay_staircase": False,
}
TRAIN_DEFAULTS: dict[str, Any] = {
    "lr": 5e-5,
    "batch_size": 15,
    "epochs": 100,
    "optimizer": "adam",
    "init": "xavier",
    "standardize": "global",
}
_ARCH_KEYS = ("activation", "alpha", "dropout", "hidden", "conv_bias", "dense_activation")
_SCHEDULE_KEYS = ("lr_schedule", "decay_rate", "decay_steps", "decay_staircase")


def build_config(params: Mapping[str, Any], budget: Mapping[str, Any]) -> TrainConfig:
    """The training settings: defaults < experiment params < profile budget."""
    merged = {**MODEL_DEFAULTS, **TRAIN_DEFAULTS, **params, **budget}
    schedule = merged["lr_schedule"]
    if schedule in (None, "constant"):
        fn = None
    elif schedule == "exp":
        fn = ExpDecay(
            float(merged["decay_rate"]), int(merged["decay_steps"]), bool(merged["decay_staircase"])
        )
    else:
        raise ConfigError(f"unknown lr_schedule {schedule!r}; expected None, 'constant' or 'exp'")
    return TrainConfig.from_settings(
        merged, leave_out=(*_ARCH_KEYS, *_SCHEDULE_KEYS), lr_schedule=fn
    )


def build_network(arch: str, setup: ModelSetup) -> ParallelCNN:
    params = {**MODEL_DEFAULTS, **setup.params}
    return ParallelCNN(
        arch,
        n_classes=len(setup.classes),
        input_shape=setup.input_shape,
        activation=str(params["activation"]),
        alpha=float(params["alpha"]),
        dropout=None if params["dropout"] is None else float(params["dropout"]),
        hidden=int(params["hidden"]),
        conv_bias=bool(params["conv_bias"]),
        dense_activation=str(params["dense_activation"]),
    )


def create(setup: ModelSetup, arch: str) -> TorchClassifier:
    """Model factory behind ``schindler2016/shallow-cnn`` and ``schindler2016/deep-cnn``."""
    if len(setup.input_shape) < 2:
        raise ConfigError(
            f"the {arch} CNN needs 2-D spectrogram segments, got input shape {setup.input_shape}"
        )
    net = build_network(arch, setup)
    return TorchClassifier(net, setup, build_config(setup.params, setup.budget))
