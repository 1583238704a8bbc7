"""The tests' own HEAR modules on the path (``hear_modules/``: extraction workers inherit
``sys.path``), isolated data, cache and facts folders, and no HEAR setting of the user's."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

MODULES = Path(__file__).parent / "hear_modules"


@pytest.fixture(scope="session")
def shared(tmp_path_factory) -> Path:
    """Generated audio and extracted features, shared by every test of the session."""
    return tmp_path_factory.mktemp("shared")


@pytest.fixture(autouse=True)
def isolated(shared, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(MODULES))
    importlib.invalidate_caches()
    monkeypatch.setenv("GENREBENCH_DATA_DIR", str(shared / "data"))
    monkeypatch.setenv("GENREBENCH_CACHE_DIR", str(tmp_path / "cache"))
    for name in list(os.environ):
        if name.startswith("GENREBENCH_HEAR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
    sys.modules.pop("hear_toy_weights", None)
