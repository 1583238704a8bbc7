"""``genrebench run johnson2024/dense johnson2024/xgboost --profile quick`` on the embedded
multi-label synthetic set: both finish and write leaderboard rows with the multi-label
metrics."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from genrebench import testing

pytestmark = pytest.mark.slow

EMBEDDED = "synthetic-genres-multilabel"
EXPERIMENTS = ["johnson2024/dense", "johnson2024/xgboost"]
COLUMNS = [
    "accuracy", "label_accuracy", "f1_macro", "f1_micro", "roc_auc", "pr_auc",
    "hamming_loss", "ece", "precision_micro", "recall_micro", "train_seconds", "n_parameters",
]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    registry = testing.load_registry("johnson2024")
    if EMBEDDED not in testing.embedded_datasets(registry, "multi-label"):
        pytest.skip(f"the embedded data set {EMBEDDED!r} is not registered by the core")
    result = testing.run(
        tmp_path_factory.mktemp("johnson2024-e2e"), *EXPERIMENTS, plugins=["johnson2024"]
    )
    assert result.exit_code == 0
    return result


def test_leaderboard_rows(run):
    board = pd.read_csv(run.out / "leaderboard.csv")
    rows = board[board["dataset"] == EMBEDDED].set_index("experiment")
    assert set(EXPERIMENTS) <= set(rows.index)
    for name in EXPERIMENTS:
        row = rows.loc[name]
        assert row["status"] == "ok" and row["profile"] == "quick"
        for column in COLUMNS:
            assert math.isfinite(float(row[column])), (name, column)
        assert float(row["label_accuracy"]) == pytest.approx(1 - float(row["hamming_loss"]))
        assert 0 <= float(row["accuracy"]) <= float(row["label_accuracy"]) <= 1
        assert float(row["roc_auc"]) > 0.55  # learns something on the synthetic genres
        assert 0 <= float(row["ece"]) <= 1


def test_run_folders(run):
    for name in EXPERIMENTS:
        folder = run.job_folder(name, EMBEDDED)
        metrics = run.metrics(name, EMBEDDED)
        assert metrics["status"] == "ok" and metrics["task"] == "multi-label"
        assert metrics["threshold"] == 0.5
        assert metrics["cost"]["n_parameters"] > 0
        predictions = pd.read_csv(folder / "predictions.csv")
        probs = predictions[[f"p_{c}" for c in metrics["classes"]]].to_numpy()
        assert len(predictions) == metrics["n_test_tracks"]
        assert ((probs >= 0) & (probs <= 1)).all()
        # multi-label: independent probabilities, rows need not sum to one
        assert not pd.Series(probs.sum(axis=1)).between(0.999, 1.001).all()
