"""Embedding a track with a HEAR module: the feature ``hear/<name>``.

The core decodes each track to mono float32 in [-1, 1] at the model's ``sample_rate``
(the feature's sample rate), so the model gets its own rate.  One track is one batch of
one sound: ``get_scene_embeddings(audio[None], model)[0]`` -- or, with ``embedding =
"timestamp-mean"``, the mean over time of ``get_timestamp_embeddings`` -- never a padded
batch of several tracks, whose padding would change the shorter tracks' embeddings.  The
model runs on CUDA when torch sees a GPU (``GENREBENCH_HEAR_DEVICE=cpu`` keeps it on the
CPU).  What the module returns is checked against the HEAR API's rules
(:mod:`genrebench_hear.validate`): a module that breaks them stops the feature with a
message naming the rule; a non-finite embedding skips only its track.

Models are loaded once per process (each extraction worker loads its own) and kept.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from genrebench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from genrebench_hear.modules import Entry

_loaded: dict[tuple[str, str], tuple[Any, Any, str]] = {}


#: ``cpu`` or ``cuda``: where the models run (default: ``cuda`` when torch sees a GPU).
#: Features do not see ``genrebench run --device``, which is the models' setting.
ENV_DEVICE = "GENREBENCH_HEAR_DEVICE"


def device() -> str:
    import torch

    wanted = os.environ.get(ENV_DEVICE, "").strip().lower()
    if wanted not in ("", "cpu", "cuda"):
        raise ConfigError(f"{ENV_DEVICE} must be cpu or cuda, got {wanted!r}")
    if wanted == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{ENV_DEVICE}=cuda, but torch sees no CUDA device")
    return wanted or ("cuda" if torch.cuda.is_available() else "cpu")


def load(entry: Entry) -> tuple[Any, Any, str]:
    """``(module, model, device)`` for the entry, loaded once per process."""
    key = (entry.module, str(entry.weights or ""))
    if key not in _loaded:
        import torch

        from genrebench_hear.compat import shims_for

        module = importlib.import_module(entry.module)
        for function in ("load_model", "get_scene_embeddings", "get_timestamp_embeddings"):
            if not callable(getattr(module, function, None)):
                raise ConfigError(
                    f"{entry.module} does not implement the HEAR API: it has no {function}()"
                )
        with shims_for(entry.module):
            model = module.load_model(str(entry.weights)) if entry.weights else module.load_model()
        if not isinstance(model, torch.nn.Module):
            raise ConfigError(
                f"{entry.module}.load_model() returned a {type(model).__name__}; genrebench-hear "
                "runs PyTorch HEAR models (torch.nn.Module) only (TensorFlow is not installed)"
            )
        where = device()
        model = model.to(where).eval()
        _loaded[key] = (module, model, where)
    return _loaded[key]


def describe_model(entry: Entry) -> dict[str, Any]:
    """The facts the plugin registers the feature with: checked against the API's rules."""
    from genrebench_hear.validate import check_attributes

    _, model, _ = load(entry)
    check_attributes(model, entry.module)
    return {
        "sample_rate": int(model.sample_rate),
        "scene_embedding_size": int(model.scene_embedding_size),
        "timestamp_embedding_size": int(model.timestamp_embedding_size),
    }


def embed(audio: np.ndarray, sample_rate: int, *, entry: Entry) -> np.ndarray:
    """One track's embedding: ``(scene_embedding_size,)`` float32 (or the timestamp
    embedding size with ``timestamp-mean``)."""
    import torch

    from genrebench_hear.validate import check_scene, check_timestamps

    if entry.problem:
        raise ConfigError(f"{entry.feature}: {entry.problem}")
    module, model, where = load(entry)
    if int(model.sample_rate) != sample_rate:
        raise ConfigError(
            f"{entry.feature}: the model's sample_rate is {model.sample_rate}, but the feature "
            f"was registered at {sample_rate} Hz (a wrong sample_rate in the config file?)"
        )
    batch = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None].to(where)
    with torch.no_grad():
        if entry.embedding == "scene":
            output = module.get_scene_embeddings(batch, model)
            vector = check_scene(output, model, 1, entry.module)[0]
        else:
            embeddings, timestamps = module.get_timestamp_embeddings(batch, model)
            seconds = len(audio) / sample_rate
            array, _ = check_timestamps(embeddings, timestamps, model, 1, seconds, entry.module)
            vector = array[0].mean(axis=0)
    vector = np.asarray(vector, dtype=np.float32)
    if not np.isfinite(vector).all():
        raise ValueError(f"{entry.feature}: the embedding has non-finite values")
    return vector
