"""Where the user's Wav2Vec2 weights are and what to say when they are not there (no
torch here: ``genrebench list`` shows :func:`weights_needed`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genrebench.errors import ConfigError
from genrebench.weights import weights_setting

SIZES = ("base", "large")
ENV = {"base": "GENREBENCH_WAV2VEC2_BASE", "large": "GENREBENCH_WAV2VEC2_LARGE"}
OPTION = {"base": "base_checkpoint", "large": "large_checkpoint"}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class MissingWeights(ConfigError):
    """The pretrained weights a Wav2Vec2 experiment needs were not provided."""


def weights_needed(size: str) -> str:
    """What a user must provide for ``size`` (``base`` or ``large``), in words."""
    return (
        f"the pretrained wav2vec2-{size} weights: a local folder as saved by transformers "
        f"(config.json and model.safetensors or pytorch_model.bin, e.g. a copy of "
        f"facebook/wav2vec2-{size}); set {ENV[size]}=FOLDER or the model option "
        f"{OPTION[size]}"
    )


def checkpoint_folder(size: str, params: Mapping[str, Any]) -> Path:
    """The folder of the ``size`` weights, checked; :class:`MissingWeights` saying what to
    provide when there is none or it is incomplete."""
    if size not in SIZES:
        raise ConfigError(f"wav2vec2 size must be one of {SIZES}, got {size!r}")
    setting = weights_setting(ENV[size], OPTION[size], params)
    if setting is None:
        raise MissingWeights(f"no weights given: this experiment needs {weights_needed(size)}")
    given, where = setting
    folder = Path(str(given)).expanduser()
    if not folder.is_dir():
        raise MissingWeights(
            f"{where}={given} is not a folder; it must hold {weights_needed(size)}"
        )
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    if missing:
        raise MissingWeights(
            f"{where}={given} has no {' and no '.join(missing)}; it must hold "
            f"{weights_needed(size)}"
        )
    return folder
