"""End to end through the CLI: ``quick`` runs of the image experiments on the embedded
synthetic data (and the real GTZAN subset when ``GENREBENCH_SHARED_DATA`` points at it), and
the Wav2Vec2 experiments with a tiny random checkpoint -- or without one, failing with what
to provide."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from genrebench.cli import main

pytestmark = pytest.mark.slow
IMAGE = ["yan2023/baseline", "yan2023/cnn-l2-drop0.1"]


def rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "leaderboard.csv", newline="") as f:
        return {r["experiment"]: r for r in csv.DictReader(f)}


def job(out: Path, experiment: str, dataset: str) -> tuple[dict, dict]:
    folder = out / "runs" / experiment / dataset / "quick" / "seed-0"
    return (
        json.loads((folder / "metrics.json").read_text()),
        json.loads((folder / "provenance.json").read_text()),
    )


def run(tmp_path: Path, *args: str) -> tuple[int, Path]:
    out = tmp_path / "out"
    argv = ["run", *args, "--profile", "quick", "--seeds", "1", "--out", str(out)]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    return main(argv), out


def test_image_experiments_on_embedded_data(tmp_path):
    code, out = run(tmp_path, *IMAGE, "--dataset", "synthetic-genres")
    assert code == 0
    board = rows(out)
    for name in IMAGE:
        assert board[name]["status"] == "ok", board[name].get("error")
        assert 0.0 <= float(board[name]["accuracy"]) <= 1.0
        _metrics, provenance = job(out, name, "synthetic-genres")
        split = provenance["split"]
        assert (split["train"], split["valid"], split["test"]) == (140, 40, 20)
        assert provenance["features"]["from_asset"] == 0  # no Kaggle PNGs: drawn from audio
    assert job(out, "yan2023/baseline", "synthetic-genres")[0]["cost"]["n_parameters"] == 1134


@pytest.mark.realdata
def test_image_experiments_on_the_real_gtzan_subset(tmp_path):
    base = os.environ.get("GENREBENCH_SHARED_DATA")
    root = Path(base) / "gtzan-mini" if base else None
    if root is None or not (root / "genres").is_dir():
        pytest.skip("GENREBENCH_SHARED_DATA/gtzan-mini not available")
    code, out = run(tmp_path, *IMAGE, "--dataset", "gtzan", "--data-root", str(root))
    assert code == 0
    for name in IMAGE:
        metrics, _provenance = job(out, name, "gtzan")
        assert metrics["status"] == "ok"
        assert (metrics["n_train_tracks"], metrics["n_valid_tracks"]) == (70, 20)
        assert metrics["n_test_tracks"] == 10


def test_wav2vec2_with_a_tiny_checkpoint(tmp_path, tiny_checkpoint, monkeypatch):
    monkeypatch.setenv("GENREBENCH_WAV2VEC2_BASE", str(tiny_checkpoint))
    code, out = run(tmp_path, "yan2023/wav2vec2-base-last1", "--dataset", "synthetic-genres")
    assert code == 0
    metrics, _provenance = job(out, "yan2023/wav2vec2-base-last1", "synthetic-genres")
    assert metrics["status"] == "ok"
    assert {"accuracy", "accuracy_raw"} <= set(metrics["metrics"])  # per file and per segment
    with open(
        out / "runs/yan2023/wav2vec2-base-last1/synthetic-genres/quick/seed-0/"
        "segment_predictions.csv",
        newline="",
    ) as f:
        assert len(list(csv.DictReader(f))) == 18 * metrics["n_test_tracks"]


def test_wav2vec2_without_weights_fails_saying_what_to_provide(tmp_path, monkeypatch):
    monkeypatch.delenv("GENREBENCH_WAV2VEC2_BASE", raising=False)
    code, out = run(tmp_path, "yan2023/wav2vec2-base-frozen", "--dataset", "synthetic-genres")
    assert code == 1
    metrics, _ = job(out, "yan2023/wav2vec2-base-frozen", "synthetic-genres")
    assert metrics["status"] == "failed"
    assert "GENREBENCH_WAV2VEC2_BASE" in metrics["error"] and "config.json" in metrics["error"]
    assert rows(out)["yan2023/wav2vec2-base-frozen"]["status"] == "failed"
