"""Where genrebench keeps its feature cache by default, and where a plugin may keep files
of its own (beside it); the cache itself is :mod:`genrebench.features.cache`."""

from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE_DIR = "GENREBENCH_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$GENREBENCH_CACHE_DIR``, else ``~/.cache/genrebench/features``."""
    env = os.environ.get(ENV_CACHE_DIR)
    return Path(env) if env else Path.home() / ".cache" / "genrebench" / "features"
