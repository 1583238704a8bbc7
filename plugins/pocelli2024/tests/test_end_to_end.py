"""End to end through the CLI: a ``quick`` run on the embedded synthetic data (and on the
real GTZAN subset when ``GENREBENCH_SHARED_DATA`` points at the shared data) gives clip-level
and song-level accuracies side by side, from five clips per song, with no song in two
parts of the split."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from genrebench_pocelli2024 import plugin
from genrebench_pocelli2024.networks import UNetParallel, count_parameters

pytestmark = pytest.mark.slow


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _check_run(out: Path, experiment: str, dataset: str) -> dict:
    rows = [
        r
        for r in _rows(out / "leaderboard.csv")
        if r["experiment"] == experiment and r["dataset"] == dataset
    ]
    assert len(rows) == 1
    row = rows[0]
    assert row.get("status", "ok") == "ok", row.get("error")
    for column in ("accuracy", "accuracy_raw", "accuracy_vote", "f1_macro", "roc_auc"):
        assert 0.0 <= float(row[column]) <= 1.0, column
    run = out / "runs" / experiment / dataset / "quick" / "seed-0"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["aggregation"] == "mean"
    assert {"accuracy_raw", "accuracy_vote"} <= set(metrics["metrics"])
    test_songs = [r["track_id"] for r in _rows(run / "predictions.csv")]
    assert len(test_songs) == metrics["n_test_tracks"]
    clips = [r["track_id"] for r in _rows(run / "segment_predictions.csv")]
    assert sorted(clips) == sorted(test_songs * 5)  # five clips per test song
    valid_songs = {r["track_id"] for r in _rows(run / "valid_predictions.csv")}
    assert valid_songs and not valid_songs & set(test_songs)
    history = json.loads((run / "provenance.json").read_text())["training_history"]
    epochs = plugin.QUICK["epochs"]
    assert len(history) == epochs and all("valid_loss" in h for h in history)
    return metrics


def _main():
    return pytest.importorskip("genrebench.cli").main


def test_quick_run_on_embedded_data(tmp_path):
    out = tmp_path / "out"
    argv = ["run", "pocelli2024/unet-augment", "--dataset", "synthetic-genres"]
    argv += ["--profile", "quick", "--seeds", "1", "--out", str(out)]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert _main()(argv) == 0
    metrics = _check_run(out, "pocelli2024/unet-augment", "synthetic-genres")
    net = UNetParallel(10, (256, 256), num_filters=64, input_pool=4)
    assert metrics["cost"]["n_parameters"] == count_parameters(net)  # the quick resized net
    # The benchmark protocol caps no test track: the whole 40-track test part.
    assert (metrics["n_train_tracks"], metrics["n_test_tracks"]) == (140, 40)


@pytest.mark.realdata
def test_quick_run_on_real_gtzan_subset(tmp_path):
    base = os.environ.get("GENREBENCH_SHARED_DATA")
    root = Path(base) / "gtzan-mini" if base else None
    if root is None or not (root / "genres").is_dir():
        pytest.skip("GENREBENCH_SHARED_DATA/gtzan-mini not available")
    out = tmp_path / "out"
    argv = ["run", "pocelli2024/unet", "--profile", "quick", "--seeds", "1"]
    argv += ["--dataset", "gtzan", "--data-root", str(root), "--out", str(out)]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert _main()(argv) == 0
    _check_run(out, "pocelli2024/unet", "gtzan")
