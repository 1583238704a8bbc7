"""The leaderboard's own columns: those it fills itself beside the metrics' columns, and the
suffixes it appends to a metric's column.  A plugin metric may fill none of them (checked
when the plugins load, :func:`genrebench.registry.checks.check_metric_columns`), or it would
overwrite them silently (an experiment named ``0.8``).

Kept apart from :mod:`genrebench.reporting.leaderboard` so that loading plugins does not import
pandas.  ``tests/test_plugin_faults.py`` builds a leaderboard with every kind of row (seeds,
a seed ensemble, a cross-experiment ensemble, a failed row, calibration, extra aggregations,
intervals and comparisons) and checks that each column it writes is listed here or is a
metric's: a column added to the leaderboard without being listed here fails that test.
"""

from __future__ import annotations

#: What identifies and describes a row (:func:`genrebench.reporting.leaderboard.build`), and the
#: section columns the leaderboard's sections add (INTERFACES.md §4).
ROW_COLUMNS = (
    "experiment",
    "dataset",
    "profile",
    "task",
    "status",
    "error",
    "n_seeds",
    "n_failed",
    "ensemble_of",
    "metric_errors",
    "section",
    "protocol",
    "split",
    "n_test_tracks",
    "evaluation_set",
    "incomplete",
    "configuration",
    "n_folds",
)
#: A job's costs (``metrics.json`` ``cost``), averaged like metrics.
COST_COLUMNS = ("train_seconds", "inference_seconds_per_track", "n_parameters", "feature_seconds")
#: The fitted numbers of the builtin calibrators (:mod:`genrebench.evaluation.calibration`).
CALIBRATOR_COLUMNS = ("temperature", "segment_temperature")
#: Accuracies the core computes besides the metrics: on the validation tracks, the number
#: papers that report a development-set result are compared with (:mod:`genrebench.run.stages`).
VALIDATION_COLUMNS = ("valid_accuracy", "valid_accuracy_raw")
#: The comparison with a section's best row (:func:`genrebench.reporting.stats.annotate`).
COMPARISON_COLUMNS = (
    "significance",
    "comparison_group",
    "p_vs_best",
    "p_vs_best_holm",
    "mcnemar_p_vs_best",
    "mcnemar_p_vs_best_holm",
    "ranking_note",
    "interval_note",
)
#: Every column the leaderboard fills itself.
CORE_COLUMNS = frozenset(
    ROW_COLUMNS + COST_COLUMNS + CALIBRATOR_COLUMNS + VALIDATION_COLUMNS + COMPARISON_COLUMNS
)
#: What the core appends to a metric's column: the metric on calibrated probabilities, the
#: spread over seeds, the 95 % interval, and k-fold scores.
CORE_SUFFIXES = ("_calibrated", "_std", "_ci_low", "_ci_high", "_folds", "_fold_std")


def core_column_problem(column: str) -> str | None:
    """Why a metric may not fill ``column`` because the leaderboard fills or derives it
    itself; None when it may."""
    if column in CORE_COLUMNS:
        return f"the leaderboard fills {column!r} itself"
    suffix = next((s for s in CORE_SUFFIXES if column.endswith(s)), None)
    if suffix is not None:
        return (
            f"columns may not end in {suffix!r}: the core appends "
            f"{', '.join(repr(s) for s in CORE_SUFFIXES)} to metric columns"
        )
    return None
