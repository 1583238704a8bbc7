"""The content of a job's ``reliability.json``: reliability-diagram data of its test tracks,
raw and calibrated, built from :func:`genrebench.evaluation.metrics.reliability_bins`.

For each bin count in :data:`BIN_COUNTS` (paper 000 draws 10 bins; the leaderboard's
``ece`` uses 15), equal-width bins ``[k/n, (k+1)/n)`` plus a last bin for confidences of
exactly 1.0 (as ``ece`` bins them), each with ``count``, mean ``confidence`` and
``accuracy`` (``None`` when empty) and the ``ece`` / ``mce`` they give:

* single-label: ``top_label`` (the predicted class's probability against whether it is
  right) and ``per_class`` (the same, for the tracks of each true class);
* multi-label: ``pooled`` (every label probability against whether the label is on: the
  "accuracy" of a bin is its fraction of positives) and ``per_label``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genrebench.evaluation import metrics

BIN_COUNTS = (10, 15)


def tables(y: np.ndarray, probs: np.ndarray, classes: Sequence[str], task: str) -> dict[str, Any]:
    """Reliability tables of ``probs`` against ``y`` for every bin count in
    :data:`BIN_COUNTS`, keyed by the bin count as a string."""
    if task == "single-label":
        y, p = metrics.check_single_label(y, probs)
        confidence, correct = metrics.top_label(y, p)
    else:
        y, p = metrics.check_multi_label(y, probs)
    out: dict[str, Any] = {}
    for n_bins in BIN_COUNTS:
        table: dict[str, Any] = {"edges": (np.arange(n_bins + 1) / n_bins).tolist()}
        if task == "single-label":
            table["top_label"] = metrics.reliability_bins(confidence, correct, n_bins)
            table["per_class"] = {
                c: metrics.reliability_bins(confidence[y == k], correct[y == k], n_bins)
                for k, c in enumerate(classes)
            }
        else:
            table["pooled"] = metrics.reliability_bins(p.ravel(), y.ravel(), n_bins)
            table["per_label"] = {
                c: metrics.reliability_bins(p[:, k], y[:, k], n_bins) for k, c in enumerate(classes)
            }
        out[str(n_bins)] = table
    return out


def report(
    y: np.ndarray,
    probs: np.ndarray,
    calibrated: np.ndarray | None,
    classes: Sequence[str],
    task: str,
    calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole ``reliability.json``: ``raw`` and ``calibrated`` tables (``calibrated`` is
    ``None`` when the job's calibrator was skipped or failed; ``calibration`` says why)."""
    return {
        "task": task,
        "classes": list(classes),
        "n_tracks": len(probs),
        "bin_counts": list(BIN_COUNTS),
        "binning": "equal-width bins [k/n, (k+1)/n), then one bin for confidences of exactly 1",
        "calibration": calibration or {},
        "raw": tables(y, probs, classes, task),
        "calibrated": None if calibrated is None else tables(y, calibrated, classes, task),
    }
