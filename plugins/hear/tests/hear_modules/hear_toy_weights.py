"""The toy HEAR module of ``hear_toy``, but its ``load_model`` needs a weights file."""

from __future__ import annotations

from hear_toy import get_scene_embeddings, get_timestamp_embeddings
from hear_toy import load_model as _load

__all__ = ["get_scene_embeddings", "get_timestamp_embeddings", "load_model"]


def load_model(model_file_path: str = ""):
    if not model_file_path:
        raise FileNotFoundError("hear_toy_weights needs its weights file (gain.pt)")
    return _load(model_file_path)
