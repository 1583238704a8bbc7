"""One rule for every model of the plugin: training settings are the model's defaults,
overridden by the experiment's ``model_params``, overridden by the profile's budget."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from genrebench.training import TrainConfig


def train_config(
    defaults: Mapping[str, Any],
    params: Mapping[str, Any],
    budget: Mapping[str, Any],
    model_keys: Iterable[str] = (),
) -> TrainConfig:
    """The :class:`~genrebench.training.TrainConfig` of the merged settings, leaving out
    the architecture keys (``model_keys``) and the core's ``max_*_tracks`` subsetting."""
    skip = set(model_keys)
    merged = {**defaults, **params, **budget}
    train = {
        k: v
        for k, v in merged.items()
        if k not in skip and not (k.startswith("max_") and k.endswith("_tracks"))
    }
    return TrainConfig.from_budget({}, **train)


def merged(defaults: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The model settings: defaults overridden by the experiment's ``model_params``."""
    return {**defaults, **params}
