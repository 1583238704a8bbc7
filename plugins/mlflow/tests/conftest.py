"""An isolated data, cache and working folder for the plugin's tests, and MLflow's
telemetry off (the tests run offline)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared(tmp_path_factory) -> Path:
    """Generated audio and extracted features, shared by every test of the session."""
    return tmp_path_factory.mktemp("shared")


@pytest.fixture(autouse=True)
def isolated(shared, tmp_path, monkeypatch):
    monkeypatch.setenv("GENREBENCH_DATA_DIR", str(shared / "data"))
    monkeypatch.setenv("GENREBENCH_CACHE_DIR", str(shared / "cache"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    for name in (
        "MLFLOW_TRACKING_URI",
        "GENREBENCH_MLFLOW",
        "GENREBENCH_MLFLOW_EXPERIMENT",
        "GENREBENCH_MLFLOW_ARTIFACTS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # MLflow's local stores put artifacts under ./mlruns
    yield
