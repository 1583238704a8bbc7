"""Where the pretrained weights come from, without importing torch (so registration and
``genrebench list`` stay fast): the musicnn checkpoints of the installed musicnn wheel,
and the user-supplied torchopenl3 weight file for OpenL3."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from genrebench.errors import ConfigError
from genrebench.weights import file_digest, find_weight_file, weights_setting

# --------------------------------------------------------------------------- musicnn
MUSICNN_SAMPLE_RATE = 16000
MUSICNN_HOP = 256
MUSICNN_PATCH_FRAMES = 187  # musicnn: librosa.time_to_frames(3 s) + 1
MUSICNN_CHECKPOINTS = ("MSD_musicnn", "MTT_musicnn")
#: Environment variable naming a folder that holds ``MSD_musicnn/`` (a copy of the wheel's
#: ``musicnn`` package folder), for users who cannot install the wheel.
MUSICNN_ENV_DIR = "GENREBENCH_MUSICNN_DIR"
MUSICNN_INSTALL_HINT = (
    "install the musicnn wheel without its (outdated) dependencies: "
    "`pip install --no-deps musicnn==0.1.0`, or set "
    f"{MUSICNN_ENV_DIR} to a folder holding its MSD_musicnn/ checkpoint folder"
)


def find_musicnn_checkpoint(name: str = "MSD_musicnn") -> Path:
    """The checkpoint prefix (folder + ``/``) of ``name``: under ``$GENREBENCH_MUSICNN_DIR``
    if set, else inside the installed ``musicnn`` package.  ConfigError if neither has it."""
    if name not in MUSICNN_CHECKPOINTS:
        raise ConfigError(
            f"unknown musicnn checkpoint {name!r}; expected one of {MUSICNN_CHECKPOINTS}"
        )
    places = []
    if os.environ.get(MUSICNN_ENV_DIR):
        places.append(Path(os.environ[MUSICNN_ENV_DIR]))
    spec = importlib.util.find_spec("musicnn")  # locates, does not import (no TensorFlow)
    if spec is not None and spec.submodule_search_locations:
        places.extend(Path(p) for p in spec.submodule_search_locations)
    for base in places:
        if (base / name / ".index").is_file():
            return base / name
    where = ", ".join(str(p) for p in places) or "nowhere (musicnn is not installed)"
    raise ConfigError(
        f"the musicnn checkpoint {name}/.index was not found (looked in {where}); "
        + MUSICNN_INSTALL_HINT
    )


# --------------------------------------------------------------------------- OpenL3
OPENL3_SAMPLE_RATE = 48000
OPENL3_ENV_WEIGHTS = "GENREBENCH_OPENL3_WEIGHTS"


def weight_file_name(input_repr: str, content_type: str = "music", size: int = 512) -> str:
    return f"torchopenl3_{input_repr}_{content_type}_{size}.pth"


def weights_needed(input_repr: str, content_type: str = "music") -> str:
    """What to provide, for error messages and ``ExperimentSpec.requires_weights``."""
    return (
        f"the torchopenl3 weight file {weight_file_name(input_repr, content_type)} "
        f"(state dict of torchopenl3's PytorchOpenl3, input_repr={input_repr}, "
        f"content_type={content_type}; the _6144.pth file has the same weights and also "
        f"works): set {OPENL3_ENV_WEIGHTS} to that file or to the folder holding it"
    )


def resolve_openl3_weights(input_repr: str, content_type: str = "music") -> Path:
    """The weight file ``$GENREBENCH_OPENL3_WEIGHTS`` points at (a file, or a folder with
    the file of this input representation).  ConfigError saying what to provide else."""
    needed = weights_needed(input_repr, content_type)
    setting = weights_setting(OPENL3_ENV_WEIGHTS)
    if setting is None:
        raise ConfigError(f"OpenL3 needs pretrained weights: {needed}")
    names = [weight_file_name(input_repr, content_type, size) for size in (512, 6144)]
    return find_weight_file(setting[0], names, where=OPENL3_ENV_WEIGHTS, needed=needed)


#: Short SHA-256 of the weight file, for the feature cache key.
weights_digest = file_digest
