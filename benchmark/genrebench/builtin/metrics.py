"""Builtin plugin: the standard metrics of both task types.

Registry names are ``<task>/<column>`` (``single-label/accuracy``, ``multi-label/accuracy``)
so that the two tasks can share leaderboard column names; every ``compute`` returns a dict
whose keys are the columns it declares (``{"accuracy": 0.8}``).  ROC-AUC and average
precision add a ``<column>_skipped_classes`` column.  The definitions live in
:mod:`genrebench.evaluation.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from genrebench import MetricSpec, hookimpl
from genrebench.evaluation import metrics as m


# Module-level functions bound with functools.partial (not lambdas), so specs pickle.
def _no_threshold(
    fn: Callable, column: str, y_true: np.ndarray, probs: np.ndarray, threshold: float
) -> dict[str, float]:
    """Metrics that take no threshold: every single-label one, and the multi-label ranking
    and probability scores."""
    return {column: fn(y_true, probs)}


def _multi(
    fn: Callable, column: str, y_true: np.ndarray, probs: np.ndarray, threshold: float
) -> dict[str, float]:
    return {column: fn(y_true, probs, threshold)}


def _with_skips(
    fn: Callable, column: str, y_true: np.ndarray, probs: np.ndarray, threshold: float
) -> dict[str, float]:
    value, skipped = fn(y_true, probs)
    return {column: value, f"{column}_skipped_classes": skipped}


# (column, function, wrapper, higher_is_better, description)
_SINGLE = [
    (
        "accuracy",
        m.accuracy,
        _no_threshold,
        True,
        "fraction of tracks whose argmax class is right (ties: lowest class index)",
    ),
    (
        "f1_macro",
        m.f1_macro,
        _no_threshold,
        True,
        "F1 of argmax predictions averaged over all classes (absent classes count as 0)",
    ),
    ("f1_micro", m.f1_micro, _no_threshold, True, "F1 of argmax predictions pooled over classes"),
    (
        "roc_auc",
        m.roc_auc,
        _with_skips,
        True,
        "macro one-vs-rest ROC-AUC over classes present in y; also the number skipped",
    ),
    (
        "hamming_loss",
        m.hamming_loss,
        _no_threshold,
        False,
        "Hamming loss of one-hot argmax vs one-hot truth, 2(1 - accuracy)/C",
    ),
    (
        "ece",
        m.ece,
        _no_threshold,
        False,
        "top-label expected calibration error, 15 equal-width bins (torchmetrics binning)",
    ),
    (
        "classwise_ece",
        m.classwise_ece,
        _no_threshold,
        False,
        "mean over classes of the binary ECE of p[:, k] vs y == k, 15 bins",
    ),
    (
        "nll",
        m.nll,
        _no_threshold,
        False,
        "mean negative log-likelihood, probabilities clipped at 1e-15",
    ),
    ("brier", m.brier, _no_threshold, False, "multiclass Brier score, sum over classes (0..2)"),
    (
        "mce",
        m.mce,
        _no_threshold,
        False,
        "top-label maximum calibration error over the 15 equal-width bins of ece",
    ),
    (
        "ece_adaptive",
        m.ece_adaptive,
        _no_threshold,
        False,
        "top-label expected calibration error over 15 equal-mass bins",
    ),
    (
        "overconfidence",
        m.overconfidence,
        _no_threshold,
        False,
        "mean top-label confidence minus accuracy (signed: < 0 is underconfident)",
    ),
    (
        "entropy",
        m.entropy,
        _no_threshold,
        False,
        "mean predictive entropy of the track probabilities (nats; an uncertainty, not a score)",
    ),
]
_MULTI = [
    (
        "accuracy",
        m.multilabel_accuracy,
        _multi,
        True,
        "subset (exact-match) accuracy of p >= threshold",
    ),
    (
        "label_accuracy",
        m.multilabel_label_accuracy,
        _multi,
        True,
        "per-entry accuracy of p >= threshold (1 - Hamming loss)",
    ),
    ("f1_macro", m.multilabel_f1_macro, _multi, True, "F1 of p >= threshold averaged over labels"),
    ("f1_micro", m.multilabel_f1_micro, _multi, True, "F1 of p >= threshold pooled over labels"),
    (
        "precision_macro",
        m.multilabel_precision_macro,
        _multi,
        True,
        "precision of p >= threshold averaged over labels",
    ),
    (
        "precision_micro",
        m.multilabel_precision_micro,
        _multi,
        True,
        "precision of p >= threshold pooled over labels",
    ),
    (
        "recall_macro",
        m.multilabel_recall_macro,
        _multi,
        True,
        "recall of p >= threshold averaged over labels",
    ),
    (
        "recall_micro",
        m.multilabel_recall_micro,
        _multi,
        True,
        "recall of p >= threshold pooled over labels",
    ),
    (
        "hamming_loss",
        m.multilabel_hamming_loss,
        _multi,
        False,
        "fraction of label entries where p >= threshold is wrong",
    ),
    (
        "roc_auc",
        m.multilabel_roc_auc,
        _with_skips,
        True,
        "macro ROC-AUC over labels with positives and negatives; also the number skipped",
    ),
    (
        "pr_auc",
        m.multilabel_pr_auc,
        _with_skips,
        True,
        "macro average precision over labels with positives and negatives; also the number skipped",
    ),
    (
        "roc_auc_micro",
        m.multilabel_roc_auc_micro,
        _no_threshold,
        True,
        "ROC-AUC of all label entries pooled (micro; what Keras' AUC() reports)",
    ),
    (
        "pr_auc_micro",
        m.multilabel_pr_auc_micro,
        _no_threshold,
        True,
        "average precision of all label entries pooled (micro)",
    ),
    (
        "ece",
        m.multilabel_ece,
        _no_threshold,
        False,
        "mean over labels of the binary ECE of p[:, k], 15 equal-width bins",
    ),
    (
        "mce",
        m.multilabel_mce,
        _no_threshold,
        False,
        "mean over labels of the binary maximum calibration error, 15 equal-width bins",
    ),
    (
        "ece_adaptive",
        m.multilabel_ece_adaptive,
        _no_threshold,
        False,
        "mean over labels of the binary ECE over 15 equal-mass bins",
    ),
    (
        "overconfidence",
        m.multilabel_overconfidence,
        _multi,
        False,
        "mean confidence of the label decisions minus label accuracy (signed)",
    ),
    (
        "entropy",
        m.multilabel_entropy,
        _no_threshold,
        False,
        "mean binary entropy of the label probabilities (nats; an uncertainty, not a score)",
    ),
    (
        "nll",
        m.multilabel_nll,
        _no_threshold,
        False,
        "mean binary cross-entropy over all entries, probabilities clipped at 1e-15",
    ),
    (
        "brier",
        m.multilabel_brier,
        _no_threshold,
        False,
        "mean squared error of probabilities over all entries",
    ),
]


def _specs(task: str, table: list) -> list[MetricSpec]:
    return [
        MetricSpec(
            name=f"{task}/{column}",
            task=task,
            compute=partial(wrapper, fn, column),
            higher_is_better=higher,
            description=description,
            columns=(column, f"{column}_skipped_classes") if wrapper is _with_skips else (column,),
        )
        for column, fn, wrapper, higher, description in table
    ]


TABLES = {"single-label": _SINGLE, "multi-label": _MULTI}


@hookimpl
def genrebench_register_metrics() -> list[MetricSpec]:
    return [spec for task, table in TABLES.items() for spec in _specs(task, table)]
