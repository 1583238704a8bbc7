"""End to end through the CLI: ``quick`` runs of the ResNet and of the musicnn substitute
on the embedded synthetic data (and on the real GTZAN subset when
``GENREBENCH_SHARED_DATA`` points at the shared data), and the OpenL3 row's failure
message without weights."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from genrebench import testing

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, *experiments: str, options=()) -> testing.RunResult:
    return testing.run(tmp_path, *experiments, options=options, plugins=["lukashevich2023"])


def _check(result: testing.RunResult, experiment: str, dataset: str) -> dict:
    row = result.row(experiment, dataset)
    for column in ("accuracy", "f1_macro", "roc_auc", "ece"):
        assert 0.0 <= float(row[column]) <= 1.0, column
    # calibrated beside raw: a temperature on each patch's logits, fitted on the validation
    # tracks (or a fixed one); its column says it is a segment-level T
    assert float(row["segment_temperature"]) > 0
    assert not row.get("temperature")
    assert 0.0 <= float(row["ece_calibrated"]) <= 1.0
    metrics = result.metrics(experiment, dataset)
    assert metrics["status"] == "ok" and metrics["aggregation"] == "mean"
    assert metrics["calibration"]["level"] == "segment"
    assert len(result.predictions(experiment, dataset)) == metrics["n_test_tracks"]
    run = result.job_folder(experiment, dataset)
    assert (run / "predictions_calibrated.csv").is_file()
    # the paper's reliability diagram: 10 equal-width bins of file-level confidence
    reliability = json.loads((run / "reliability.json").read_text())
    for table in (reliability["raw"]["10"], reliability["calibrated"]["10"]):
        assert sum(table["top_label"]["count"]) == metrics["n_test_tracks"]
        assert set(table["per_class"]) == set(metrics["classes"])
    return metrics


def test_quick_resnet_and_musicnn_on_embedded_data(tmp_path):
    pytest.importorskip("musicnn", reason="musicnn wheel not installed")
    out = _run(
        tmp_path,
        "lukashevich2023/resnet",
        "lukashevich2023/musicnn-mlp",
        "lukashevich2023/musicnn-mlp-t1.25",
        "lukashevich2023/musicnn-mlp-mc-dropout",
    )
    resnet = _check(out, "lukashevich2023/resnet", "synthetic-genres")
    # quick: up to 140 training tracks (the embedded set's default split has 120 or 140)
    assert 20 < resnet["n_train_tracks"] <= 140 and resnet["cost"]["n_parameters"] == 26_282
    segments = out.predictions(
        "lukashevich2023/resnet", "synthetic-genres", "segment_predictions.csv"
    )
    # 8 s tracks: 3 s patches starting at 0, 1, ..., 5 s
    assert len(segments) == 6 * resnet["n_test_tracks"]
    musicnn = _check(out, "lukashevich2023/musicnn-mlp", "synthetic-genres")
    # The benchmark protocol tests the whole test part (quick caps no test track).
    assert musicnn["n_test_tracks"] == 40
    fixed = _check(out, "lukashevich2023/musicnn-mlp-t1.25", "synthetic-genres")
    assert fixed["metrics"]["segment_temperature"] == 1.25
    # same training, same raw probabilities; only the calibrated columns differ
    assert fixed["metrics"]["accuracy"] == musicnn["metrics"]["accuracy"]
    assert fixed["metrics"]["ece"] == pytest.approx(musicnn["metrics"]["ece"])
    mc = _check(out, "lukashevich2023/musicnn-mlp-mc-dropout", "synthetic-genres")
    assert mc["metrics"]["entropy"] > 0


def test_openl3_row_fails_saying_which_weights(tmp_path, monkeypatch):
    monkeypatch.delenv("GENREBENCH_OPENL3_WEIGHTS", raising=False)
    out = _run(tmp_path, "lukashevich2023/openl3-mlp")
    (row,) = [r for r in out.rows() if r["experiment"] == "lukashevich2023/openl3-mlp"]
    assert row["status"] == "failed"
    assert "torchopenl3_mel256_music_512.pth" in row["error"]
    assert "GENREBENCH_OPENL3_WEIGHTS" in row["error"]


@pytest.mark.realdata
def test_quick_runs_on_real_gtzan_subset(tmp_path):
    pytest.importorskip("musicnn", reason="musicnn wheel not installed")
    base = os.environ.get("GENREBENCH_SHARED_DATA")
    root = Path(base) / "gtzan-mini" if base else None
    if root is None or not (root / "genres").is_dir():
        pytest.skip("GENREBENCH_SHARED_DATA/gtzan-mini not available")
    out = _run(
        tmp_path,
        "lukashevich2023/musicnn-mlp",
        options=[
            *("--dataset", "gtzan", "--data-root", str(root), "--split", "stratified"),
            *("--split-ratios", "train=0.6,valid=0.2,test=0.2"),
        ],
    )
    metrics = _check(out, "lukashevich2023/musicnn-mlp", "gtzan")
    assert metrics["n_test_tracks"] == 20
