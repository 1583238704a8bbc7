"""End to end through the CLI: a ``quick`` run on the embedded synthetic data (and on the
real GTZAN subset when ``GENREBENCH_SHARED_DATA`` points at the shared data) gives clip-level
and song-level accuracies side by side, from five clips per song, with no song in two
parts of the split."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from genrebench_pocelli2024 import plugin
from genrebench_pocelli2024.networks import UNetParallel

from genrebench import testing
from genrebench.training import count_parameters

pytestmark = pytest.mark.slow


def _check_run(result: testing.RunResult, experiment: str, dataset: str) -> dict:
    row = result.row(experiment, dataset)
    for column in ("accuracy", "accuracy_raw", "accuracy_vote", "f1_macro", "roc_auc"):
        assert 0.0 <= float(row[column]) <= 1.0, column
    metrics = result.metrics(experiment, dataset)
    assert metrics["status"] == "ok" and metrics["aggregation"] == "mean"
    assert {"accuracy_raw", "accuracy_vote"} <= set(metrics["metrics"])
    test_songs = [r["track_id"] for r in result.predictions(experiment, dataset)]
    assert len(test_songs) == metrics["n_test_tracks"]
    segments = result.predictions(experiment, dataset, "segment_predictions.csv")
    clips = [r["track_id"] for r in segments]
    assert sorted(clips) == sorted(test_songs * 5)  # five clips per test song
    valid = result.predictions(experiment, dataset, "valid_predictions.csv")
    valid_songs = {r["track_id"] for r in valid}
    assert valid_songs and not valid_songs & set(test_songs)
    history = result.provenance(experiment, dataset)["training_history"]
    epochs = plugin.QUICK["epochs"]
    assert len(history) == epochs and all("valid_loss" in h for h in history)
    return metrics


def test_quick_run_on_embedded_data(tmp_path):
    result = testing.run(
        tmp_path, "pocelli2024/unet-augment", dataset="synthetic-genres", plugins=["pocelli2024"]
    )
    assert result.exit_code == 0
    metrics = _check_run(result, "pocelli2024/unet-augment", "synthetic-genres")
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
    result = testing.run(
        tmp_path,
        "pocelli2024/unet",
        dataset="gtzan",
        options=["--data-root", str(root)],
        plugins=["pocelli2024"],
    )
    assert result.exit_code == 0
    _check_run(result, "pocelli2024/unet", "gtzan")
