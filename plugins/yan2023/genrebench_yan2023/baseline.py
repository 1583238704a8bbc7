"""The paper's baseline (§4.1): softmax regression on the spectrogram image.

* Each pixel-channel is standardised with its mean and standard deviation over the
  training images; where that deviation is 0 the value is 0 (the paper: "replace all NaN
  values (likely due to stdev = 0) with 0").
* A shared linear map ``3 -> 1`` (4 parameters) encodes each pixel's RGB, then tanh.
* The 336 columns are averaged in 112 groups of 3 (over the group's columns and all 218
  rows): 112 values.
* A linear layer ``112 -> classes``; softmax cross-entropy, Adam.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from genrebench import ModelSetup
from genrebench.errors import ConfigError
from genrebench.training import TorchClassifier, TrainConfig
from genrebench_yan2023.budget import merged

GROUPS = 112


class SoftmaxRegression(nn.Module):
    """``(n, 3, rows, columns)`` standardised images -> ``(n, classes)`` logits."""

    def __init__(self, n_classes: int, columns: int = 336, groups: int = GROUPS) -> None:
        super().__init__()
        if groups < 1 or columns % groups:
            raise ConfigError(f"{columns} columns cannot be split into {groups} equal groups")
        self.groups = groups
        self.rgb = nn.Linear(3, 1)
        self.output = nn.Linear(groups, n_classes)

    def column_groups(self, x: torch.Tensor) -> torch.Tensor:
        """The 112 "summation outputs": tanh of the RGB encoding, averaged per group of
        adjacent columns over all rows."""
        n, _, rows, columns = x.shape
        # The shared 3 -> 1 map on every pixel (the same as self.rgb on channels-last
        # pixels, without moving the channels last first).
        encoded = torch.tanh(torch.einsum("nchw,c->nhw", x, self.rgb.weight[0]) + self.rgb.bias)
        return encoded.reshape(n, rows, self.groups, columns // self.groups).mean(dim=(1, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.column_groups(x))


def pixel_statistics(x: np.ndarray, chunk: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (sample, as torch's ``std``) standard deviation of each input element over
    the training examples, in float64 a few images at a time (no float64 copy of all)."""
    n = len(x)
    mean = np.zeros(x.shape[1:])
    for start in range(0, n, chunk):
        mean += np.asarray(x[start : start + chunk], dtype=np.float64).sum(axis=0)
    mean /= n
    if n < 2:
        return mean, np.zeros_like(mean)
    squares = np.zeros_like(mean)
    for start in range(0, n, chunk):
        squares += ((np.asarray(x[start : start + chunk], dtype=np.float64) - mean) ** 2).sum(0)
    return mean, np.sqrt(squares / (n - 1))


def standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` per element, 0 where ``std`` is 0 (in float32)."""
    scale = np.divide(1.0, std, out=np.zeros_like(std), where=std > 0).astype(np.float32)
    return (np.asarray(x, dtype=np.float32) - mean.astype(np.float32)) * scale


class PixelStandardisedClassifier:
    """A :class:`~genrebench.training.TorchClassifier` fed pixel-standardised images
    (statistics from the training images only)."""

    def __init__(self, classifier: TorchClassifier) -> None:
        self.classifier = classifier
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    @property
    def history(self) -> list[dict[str, float]]:
        return self.classifier.history

    def n_parameters(self) -> int:
        return self.classifier.n_parameters()

    def fit(self, x, y, x_valid=None, y_valid=None) -> None:
        self.mean, self.std = pixel_statistics(x)
        z_valid = None if x_valid is None else self.transform(x_valid)
        self.classifier.fit(self.transform(x), y, z_valid, y_valid)

    def transform(self, x: np.ndarray) -> np.ndarray:
        assert self.mean is not None and self.std is not None, "fit first"
        return standardise(x, self.mean, self.std)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.classifier.predict_proba(self.transform(x))


#: The paper's settings (§5.1); the profile budget may override the training ones.
DEFAULTS: dict[str, Any] = {
    "groups": GROUPS,
    "lr": 1e-3,
    "batch_size": 32,
    "epochs": 500,
    "optimizer": "adam",
}


def create(setup: ModelSetup) -> PixelStandardisedClassifier:
    """Factory of ``yan2023/softmax-regression``."""
    if len(setup.input_shape) != 3 or setup.input_shape[0] != 3:
        raise ConfigError(
            f"the softmax-regression baseline needs (3, rows, columns) images, "
            f"got input shape {setup.input_shape}"
        )
    if setup.task != "single-label":
        raise ConfigError("the softmax-regression baseline is single-label")
    params = merged(DEFAULTS, setup.params)
    net = SoftmaxRegression(len(setup.classes), setup.input_shape[2], int(params["groups"]))
    config = TrainConfig.from_settings(DEFAULTS, setup.params, setup.budget, leave_out=("groups",))
    return PixelStandardisedClassifier(TorchClassifier(net, setup, config))
