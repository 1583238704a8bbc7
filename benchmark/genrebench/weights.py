"""Where a plugin's pretrained weights are, and their fingerprint, without importing torch
(so registration and ``genrebench list`` stay fast).

Weights cannot be downloaded at run time: the user names them, by a model option or an
environment variable (:func:`weights_setting`), as a file or a folder holding it
(:func:`find_weight_file`).  A missing file is a :class:`~genrebench.errors.ConfigError`
saying what to provide, never a silent substitute.  :func:`file_digest` fingerprints the
file for feature-cache keys and provenance.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from genrebench.errors import ConfigError

__all__ = ["file_digest", "find_weight_file", "weights_setting"]


def weights_setting(
    env: str, option: str | None = None, params: Mapping[str, Any] | None = None
) -> tuple[str, str] | None:
    """``(value, where)`` of the first given of the model option ``option`` (looked up in
    ``params``, e.g. ``setup.params``) and the environment variable ``env``; ``where``
    names it for messages (``model option NAME`` or ``$ENV``).  None when neither is set.
    """
    if option is not None and params is not None and params.get(option):
        return str(params[option]), f"model option {option}"
    value = os.environ.get(env, "").strip()
    return (value, f"${env}") if value else None


def find_weight_file(
    setting: str,
    names: Sequence[str],
    *,
    where: str,
    needed: str,
    error: type[ConfigError] = ConfigError,
) -> Path:
    """The weight file ``setting`` points at: the file itself, or, for a folder, the first
    of ``names`` in it.  ``error`` (a :class:`ConfigError`) saying ``{where}={setting}``
    is wrong and ``needed`` (what to provide) otherwise."""
    path = Path(setting).expanduser()
    if path.is_dir():
        for name in names:
            if (path / name).is_file():
                return path / name
        raise error(f"{where}={setting} is a folder without {names[0]}: provide {needed}")
    if not path.is_file():
        raise error(f"{where}={setting} does not exist: provide {needed}")
    return path


def file_digest(path: Path | str) -> str:
    """The first 16 hex digits of the file's SHA-256, computed once per path, size and
    modification time in a process."""
    stat = Path(path).stat()
    return _digest(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:16]
