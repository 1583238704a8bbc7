"""End to end through the CLI: a ``quick`` run on the embedded synthetic data (and on the
real GTZAN subset when ``GENREBENCH_SHARED_DATA`` points at the shared data) produces a
leaderboard row with the raw, max-probability and majority-vote accuracies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genrebench import testing

pytestmark = pytest.mark.slow


def _check_run(result: testing.RunResult, experiment: str, dataset: str) -> dict[str, str]:
    row = result.row(experiment, dataset)
    assert row["profile"] == "quick"
    for column in ("accuracy", "accuracy_raw", "accuracy_vote", "f1_macro", "roc_auc", "ece"):
        assert 0.0 <= float(row[column]) <= 1.0, column
    assert float(row["hamming_loss"]) >= 0.0
    metrics = result.metrics(experiment, dataset)
    assert metrics["status"] == "ok"
    assert metrics["aggregation"] == "mean"
    assert {"accuracy_raw", "accuracy_vote"} <= set(metrics["metrics"])
    assert metrics["cost"]["n_parameters"] > 1_000_000
    predictions = result.predictions(experiment, dataset)
    assert len(predictions) == metrics["n_test_tracks"]
    segments = result.predictions(experiment, dataset, "segment_predictions.csv")
    assert len(segments) == 15 * metrics["n_test_tracks"]  # 15 test segments per track
    return row


def test_quick_run_on_embedded_data(tmp_path):
    embedded = testing.embedded_datasets(testing.load_registry("schindler2016"), "single-label")
    if not embedded:
        pytest.skip("no embedded single-label data set is registered")
    result = testing.run(tmp_path, "schindler2016/shallow", plugins=["schindler2016"])
    assert result.exit_code == 0
    for dataset in embedded:
        _check_run(result, "schindler2016/shallow", dataset)


@pytest.mark.realdata
def test_quick_run_on_real_gtzan_subset(tmp_path):
    base = os.environ.get("GENREBENCH_SHARED_DATA")
    root = Path(base) / "gtzan-mini" if base else None
    if root is None or not (root / "genres").is_dir():
        pytest.skip("GENREBENCH_SHARED_DATA/gtzan-mini not available")
    result = testing.run(
        tmp_path,
        "schindler2016/deep-cqt-exp",
        dataset="gtzan",
        options=["--data-root", str(root)],
        plugins=["schindler2016"],
    )
    assert result.exit_code == 0
    _check_run(result, "schindler2016/deep-cqt-exp", "gtzan")
