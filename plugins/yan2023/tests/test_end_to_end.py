"""End to end through the CLI: ``quick`` runs of the image experiments on the embedded
synthetic data (and the real GTZAN subset when ``GENREBENCH_SHARED_DATA`` points at it), and
the Wav2Vec2 experiments with a tiny random checkpoint -- or without one, failing with what
to provide."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from genrebench_yan2023 import plugin as P
from genrebench_yan2023.ensemble import vote_or_best_member

from genrebench import EnsembleMember, testing

pytestmark = pytest.mark.slow
CNNS = [
    "yan2023/cnn",
    "yan2023/cnn-l3",
    "yan2023/cnn-l3-drop0.1",
    "yan2023/cnn-l2-drop0.1",
    "yan2023/cnn-l2-drop0.25",
    "yan2023/cnn-k10-hn32",
]
IMAGE = ["yan2023/baseline", *CNNS]
ENSEMBLE = "yan2023/cnn-ensemble"


@pytest.fixture(autouse=True)
def smoke_budget(monkeypatch):
    """These tests check the pipeline, not how well the models learn (that is the main
    leaderboard's test, tests/test_main_board.py): two epochs per image model keep them
    short."""
    monkeypatch.setitem(P.QUICK_BASELINE, "epochs", 2)
    monkeypatch.setitem(P.QUICK_CNN, "epochs", 2)


def rows(result: testing.RunResult) -> dict[str, dict[str, str]]:
    return {r["experiment"]: r for r in result.rows()}


def run(tmp_path: Path, *args: str, **options) -> testing.RunResult:
    return testing.run(tmp_path, *args, plugins=["yan2023"], **options)


def read_probs(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """Track ids, probabilities and labels of a saved predictions file."""
    with open(path, newline="") as f:
        table = list(csv.DictReader(f))
    columns = [c for c in table[0] if c.startswith("p_")]
    probs = np.array([[float(r[c]) for c in columns] for r in table])
    return [r["track_id"] for r in table], probs, [r["label"] for r in table]


def test_image_experiments_and_the_ensemble_on_embedded_data(tmp_path):
    # The paper protocol: the paper's own 70/20/10 split.
    result = run(
        tmp_path,
        "yan2023/baseline",
        "yan2023/cnn*",
        dataset="synthetic-genres",
        options=["--protocol", "paper"],
    )
    assert result.exit_code == 0
    board = rows(result)
    for name in [*IMAGE, ENSEMBLE]:
        assert board[name]["status"] == "ok", board[name].get("error")
        assert 0.0 <= float(board[name]["accuracy"]) <= 1.0
    for name in IMAGE:
        provenance = result.provenance(name, "synthetic-genres", protocol="paper")
        split = provenance["split"]
        assert (split["train"], split["valid"], split["test"]) == (140, 40, 20)
        assert provenance["features"]["from_asset"] == 0  # no Kaggle PNGs: drawn from audio
    baseline = result.metrics("yan2023/baseline", "synthetic-genres", protocol="paper")
    assert baseline["cost"]["n_parameters"] == 1134
    # The ensemble's saved predictions are the vote rule applied to its members' saved files.
    members = []
    for name in CNNS:
        folder = result.job_folder(name, "synthetic-genres", protocol="paper")
        test_ids, test, _ = read_probs(folder / "predictions.csv")
        _, valid, valid_labels = read_probs(folder / "valid_predictions.csv")
        members.append(EnsembleMember(name, test, valid))
    classes = result.metrics(CNNS[0], "synthetic-genres", protocol="paper")["classes"]
    expected = vote_or_best_member(
        members, np.array([classes.index(c) for c in valid_labels]), "single-label"
    )
    ids, saved, labels = read_probs(
        result.job_folder(ENSEMBLE, "synthetic-genres", protocol="paper") / "predictions.csv"
    )
    assert ids == test_ids
    np.testing.assert_allclose(saved, expected, atol=1e-7)
    accuracy = np.mean([classes[i] == y for i, y in zip(saved.argmax(axis=1), labels, strict=True)])
    assert float(board[ENSEMBLE]["accuracy"]) == pytest.approx(accuracy)


@pytest.mark.realdata
def test_image_experiments_on_the_real_gtzan_subset(tmp_path):
    base = os.environ.get("GENREBENCH_SHARED_DATA")
    root = Path(base) / "gtzan-mini" if base else None
    if root is None or not (root / "genres").is_dir():
        pytest.skip("GENREBENCH_SHARED_DATA/gtzan-mini not available")
    result = run(
        tmp_path,
        "yan2023/baseline",
        "yan2023/cnn*",
        dataset="gtzan",
        options=["--data-root", str(root), "--protocol", "paper"],  # its 70/20/10 split
    )
    assert result.exit_code == 0
    for name in IMAGE:
        metrics = result.metrics(name, "gtzan", protocol="paper")
        assert metrics["status"] == "ok"
        assert (metrics["n_train_tracks"], metrics["n_valid_tracks"]) == (70, 20)
        assert metrics["n_test_tracks"] == 10
    assert rows(result)[ENSEMBLE]["status"] == "ok"


def test_wav2vec2_with_a_tiny_checkpoint(tmp_path, tiny_checkpoint, monkeypatch):
    monkeypatch.setenv("GENREBENCH_WAV2VEC2_BASE", str(tiny_checkpoint))
    name = "yan2023/wav2vec2-base-last1"
    result = run(tmp_path, name, dataset="synthetic-genres")
    assert result.exit_code == 0
    metrics = result.metrics(name, "synthetic-genres")
    assert metrics["status"] == "ok"
    assert {"accuracy", "accuracy_raw"} <= set(metrics["metrics"])  # per file and per segment
    segments = result.predictions(name, "synthetic-genres", "segment_predictions.csv")
    # 8 s tracks: 1 s excerpts starting at 0, 1.5, 3, 4.5 and 6 s.
    assert len(segments) == 5 * metrics["n_test_tracks"]


def test_wav2vec2_without_weights_fails_saying_what_to_provide(tmp_path, monkeypatch):
    monkeypatch.delenv("GENREBENCH_WAV2VEC2_BASE", raising=False)
    result = run(tmp_path, "yan2023/wav2vec2-base-frozen", dataset="synthetic-genres")
    assert result.exit_code == 1
    metrics = result.metrics("yan2023/wav2vec2-base-frozen", "synthetic-genres")
    assert metrics["status"] == "failed"
    assert "GENREBENCH_WAV2VEC2_BASE" in metrics["error"] and "config.json" in metrics["error"]
    assert rows(result)["yan2023/wav2vec2-base-frozen"]["status"] == "failed"
