"""End to end through the CLI: ``hear/<module>-mlp`` gives a row on the same test tracks
as ``reference/logreg`` (the data set's benchmark split), its embeddings cached like every
feature; with the tests' own HEAR module, with hearbaseline's naive model, and on the real
GTZAN subset when ``GENREBENCH_SHARED_DATA`` points at the shared data."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from genrebench_hear import modules

from genrebench import testing
from genrebench.cli import main

# 10 a class: the default split (0.7/0.1/0.2) then has a validation track per class.
SYNTHETIC = ["--dataset", "synthetic-genres", "--dataset-option", "tracks_per_class=10"]
SYNTHETIC += ["--dataset-option", "duration=2.0"]


def run(out: Path, *args: str) -> int:
    return main(["run", *args, "--out", str(out), "--no-progress"])


def job(out: Path, experiment: str, dataset: str) -> tuple[dict, dict]:
    folder = testing.job_folder(out, experiment, dataset)
    metrics = json.loads((folder / "metrics.json").read_text())
    provenance = json.loads((folder / "provenance.json").read_text())
    return metrics, provenance


def board(out: Path) -> dict[str, dict]:
    with open(out / "leaderboard.csv", newline="") as f:
        return {row["experiment"]: row for row in csv.DictReader(f)}


def assert_same_test_tracks(out: Path, experiment: str, dataset: str) -> dict:
    hear, hear_provenance = job(out, experiment, dataset)
    reference, reference_provenance = job(out, "reference/logreg", dataset)
    assert hear["status"] == "ok", hear.get("error")
    assert hear_provenance["split"]["sha256"] == reference_provenance["split"]["sha256"]
    assert hear["n_test_tracks"] == reference["n_test_tracks"]
    assert hear["split"] == reference["split"]
    rows = board(out)
    assert float(rows[experiment]["accuracy"]) == pytest.approx(hear["metrics"]["accuracy"])
    return hear


def test_a_hear_module_gives_a_row_on_the_same_test_tracks_as_the_reference(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREBENCH_HEAR_MODULES", "hear_toy")
    out = tmp_path / "out"
    assert run(out, "hear/hear_toy-mlp", "reference/logreg", *SYNTHETIC) == 0
    metrics = assert_same_test_tracks(out, "hear/hear_toy-mlp", "synthetic-genres")
    _, provenance = job(out, "hear/hear_toy-mlp", "synthetic-genres")
    assert (
        provenance["features"]["computed"]
        == metrics["n_train_tracks"] + metrics["n_valid_tracks"] + metrics["n_test_tracks"]
    )
    config = provenance["train_config"]
    assert config["protocol"].startswith("hear-eval-kit 2021.1.3")
    assert config["grid_points"] == len(config["grid"]) == 4  # the quick profile
    assert {g["max_epochs"] for g in config["grid"]} == {100}
    assert provenance["training_history"] and "train_loss" in provenance["training_history"][0]
    assert provenance["config"]["feature"]["params"]["module"] == "hear_toy"
    # The embeddings are cached like every feature: another run computes none.
    again = tmp_path / "again"
    assert run(again, "hear/hear_toy-mlp", *SYNTHETIC) == 0
    _, provenance = job(again, "hear/hear_toy-mlp", "synthetic-genres")
    assert provenance["features"]["computed"] == 0 and provenance["features"]["cache_hits"] > 0


@pytest.mark.skipif(
    not modules._importable("hearbaseline.naive"),
    reason="hearbaseline is not installed (pip install --no-deps hearbaseline==2021.1.1)",
)
def test_hearbaseline_naive_runs_end_to_end(tmp_path):
    out = tmp_path / "out"  # registered by default: no setting needed
    assert run(out, "hear/hearbaseline.naive-mlp", "reference/logreg", *SYNTHETIC) == 0
    metrics = assert_same_test_tracks(out, "hear/hearbaseline.naive-mlp", "synthetic-genres")
    _, provenance = job(out, "hear/hearbaseline.naive-mlp", "synthetic-genres")
    params = provenance["config"]["feature"]["params"]
    assert params["compat"] == ["librosa.filters.mel(sr) positional"]
    assert provenance["config"]["feature"]["sample_rate"] == 44100
    assert metrics["n_test_tracks"] > 0


@pytest.mark.slow
@pytest.mark.realdata
def test_real_gtzan_subset_same_test_tracks_as_the_reference(tmp_path, monkeypatch):
    base = os.environ.get("GENREBENCH_SHARED_DATA")
    root = Path(base) / "gtzan-mini" if base else None
    if root is None or not (root / "genres").is_dir():
        pytest.skip("GENREBENCH_SHARED_DATA/gtzan-mini not available")
    monkeypatch.setenv("GENREBENCH_HEAR_MODULES", "hear_toy")
    out = tmp_path / "out"
    args = ["--dataset", "gtzan", "--data-root", str(root)]
    assert run(out, "hear/hear_toy-mlp", "reference/logreg", *args) == 0
    metrics = assert_same_test_tracks(out, "hear/hear_toy-mlp", "gtzan")
    assert metrics["split"] == "fault-filtered"  # GTZAN's benchmark split
