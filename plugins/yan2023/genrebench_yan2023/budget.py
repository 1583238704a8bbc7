"""One rule for every model of the plugin: settings are the model's defaults, overridden by
the experiment's ``model_params``, overridden by the profile's budget (training settings:
:meth:`genrebench.training.TrainConfig.from_settings`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merged(defaults: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The model settings: defaults overridden by the experiment's ``model_params``."""
    return {**defaults, **params}
