"""Scores of per-track probabilities: pure numpy / scikit-learn functions, no plugin code.

Conventions
-----------
Single-label (``y`` an int array ``(n,)`` of class indices 0..C-1, ``probs`` ``(n, C)`` with
rows summing to one):

* the predicted class is ``argmax(probs)``; on a tie the **lowest class index wins**
  (numpy's ``argmax`` takes the first maximum, as does ``torch.argmax``);
* functions are named plainly: :func:`accuracy`, :func:`f1_macro`, ...

Multi-label (``y`` a 0/1 matrix ``(n, C)``, ``probs`` ``(n, C)`` independent per-label
probabilities):

* label ``k`` is predicted positive when ``probs[:, k] >= threshold`` (**greater or
  equal**, default 0.5).  torchmetrics uses ``>``; the two differ only for a probability
  exactly equal to the threshold;
* functions carry a ``multilabel_`` prefix: :func:`multilabel_accuracy`, ...

Every function validates its inputs and raises :class:`ValueError` saying what was
expected (shapes, NaN, probabilities outside [0, 1], labels out of range).  Functions that
skip classes (macro ROC-AUC, macro average precision) return ``(value, n_skipped)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special
from sklearn import metrics as skm

#: Number of equal-width confidence bins for the expected calibration errors.
N_BINS = 15
#: The probability of the true outcome is clipped to [EPS, 1] before taking its logarithm,
#: so a confident mistake costs about 34.5 nats, not infinity.
EPS = 1e-15
#: How far a single-label row may sum away from one (float32 softmax outputs are ~1e-7 off).
ROW_SUM_ATOL = 1e-3


# --------------------------------------------------------------------------- validation
def _check_probs(probs: np.ndarray) -> np.ndarray:
    p = np.asarray(probs)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(
            f"expected probs of shape (n_tracks, n_classes) with n_tracks >= 1, got shape {p.shape}"
        )
    if not (np.issubdtype(p.dtype, np.floating) or np.issubdtype(p.dtype, np.integer)):
        raise ValueError(f"expected numeric probabilities, got dtype {p.dtype}")
    p = p.astype(np.float64)
    if np.isnan(p).any():
        row, column = (int(i) for i in np.argwhere(np.isnan(p))[0])
        raise ValueError(
            f"expected probabilities without NaN, got {int(np.isnan(p).sum())} NaN; first: "
            f"row {row}, class {column}"
        )
    outside = (p < 0) | (p > 1)
    if outside.any():
        row, column = (int(i) for i in np.argwhere(outside)[0])
        raise ValueError(
            f"expected probabilities in [0, 1] (no tolerance), got {int(outside.sum())} "
            f"values outside; first: row {row}, class {column}: {float(p[row, column])!r}"
        )
    return p


def probability_problem(
    probs: np.ndarray,
    task: str,
    value_atol: float,
    sum_atol: float,
    row_names: Callable[[int], str] | None = None,
) -> str | None:
    """What keeps ``probs`` (n, C) from being probabilities of ``task`` -- values in
    [0, 1] within ``value_atol``, finite, single-label rows summing to 1 within
    ``sum_atol`` -- naming how many rows offend and the first one (``row_names(i)`` says
    what row ``i`` is, such as the track it is a segment of) with its value or sum; None
    when nothing does.  The checks of model and calibrator outputs."""
    probs = np.asarray(probs, dtype=np.float64)

    def which(row: int) -> str:
        return f"row {row}" + (f" ({row_names(row)})" if row_names is not None else "")

    bad = ~np.isfinite(probs) | (probs < -value_atol) | (probs > 1 + value_atol)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        return (
            f"probabilities outside [0, 1] (tolerance {value_atol:g}), NaN or infinite in "
            f"{int(bad.any(axis=1).sum())} of {len(probs)} rows; first: {which(row)}, class "
            f"{column}: {float(probs[row, column])!r}"
        )
    if task == "single-label":
        sums = probs.sum(axis=1)
        off = np.abs(sums - 1.0) > sum_atol
        if off.any():
            row = int(np.argmax(off))
            return (
                f"single-label rows that do not sum to 1 (tolerance {sum_atol:g}) in "
                f"{int(off.sum())} of {len(probs)} rows; first: {which(row)} sums to "
                f"{float(sums[row])!r}"
            )
    return None


def check_single_label(y: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate single-label inputs; return ``(y as int64, probs as float64)``.

    Expects ``y`` of shape ``(n,)`` with integer class indices in ``0 .. C-1`` and ``probs``
    of shape ``(n, C)``, ``C >= 2``, values in [0, 1], no NaN, rows summing to one within
    ``ROW_SUM_ATOL``."""
    p = _check_probs(probs)
    n, n_classes = p.shape
    if n_classes < 2:
        raise ValueError(f"expected at least 2 classes (probs columns), got {n_classes}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"expected single-label y of shape (n_tracks,) with class indices, got shape {y.shape}"
        )
    if y.shape[0] != n:
        raise ValueError(
            f"expected y and probs with the same number of rows, got {y.shape[0]} "
            f"labels and {n} probability rows"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"expected integer class indices in y, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if (y < 0).any() or (y >= n_classes).any():
        raise ValueError(
            f"expected class indices in 0..{n_classes - 1}, got values in [{y.min()}, {y.max()}]"
        )
    sums = p.sum(axis=1)
    bad = np.abs(sums - 1.0) > ROW_SUM_ATOL
    if bad.any():
        raise ValueError(
            f"expected single-label probability rows summing to 1 (within {ROW_SUM_ATOL}), "
            f"got {int(bad.sum())} rows that do not; first: row {int(np.argmax(bad))} sums to "
            f"{float(sums[bad][0])!r}"
        )
    return y, p


def check_multi_label(
    y: np.ndarray, probs: np.ndarray, threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Validate multi-label inputs; return ``(y as int64 0/1 matrix, probs as float64)``.

    Expects ``y`` and ``probs`` of the same shape ``(n, C)``; ``y`` holds only 0 and 1,
    ``probs`` values in [0, 1] without NaN; ``threshold`` a number in [0, 1]."""
    p = _check_probs(probs)
    y = np.asarray(y)
    if y.shape != p.shape:
        raise ValueError(
            f"expected multi-label y as a 0/1 matrix of the same shape as probs {p.shape}, "
            f"got shape {y.shape}"
        )
    if not (np.isin(y, (0, 1)).all()):
        raise ValueError("expected multi-label y to contain only 0 and 1")
    if not np.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"expected a decision threshold in [0, 1], got {threshold!r}")
    return y.astype(np.int64), p


def predicted_class(probs: np.ndarray) -> np.ndarray:
    """``argmax`` per row; on ties the lowest class index wins (numpy takes the first)."""
    return np.asarray(probs).argmax(axis=1)


def _one_hot(indices: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype=np.int64)[indices]


# --------------------------------------------------------------------------- calibration
def binary_ece(y: np.ndarray, p: np.ndarray, n_bins: int = N_BINS) -> float:
    """Expected calibration error of positive-class probabilities ``p`` against 0/1 ``y``.

    ``ECE = Σ_b |B_b|/N · |frac_pos(B_b) − mean_p(B_b)|`` over the non-empty bins ``B_b`` of
    ``n_bins`` equal-width bins of ``p``.  Binning is torchmetrics' (1.x,
    ``torch.bucketize(p, linspace(0, 1, n_bins + 1), right=True) - 1``): bins are
    **left-closed**, ``[k/n_bins, (k+1)/n_bins)``, so a value on an edge goes to the upper
    bin, 0 is in the first bin, and ``p == 1.0`` forms a bin of its own (it is not merged
    into ``[1 - 1/n_bins, 1)``).  The edges are the float64 values of ``k / n_bins``.

    Inputs are not validated here; use the public metric functions.
    """
    return _binned_calibration_error(
        np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64), n_bins
    )


def equal_width_bins(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index of each confidence among ``n_bins`` equal-width bins, torchmetrics' way:
    ``[k/n_bins, (k+1)/n_bins)``, and index ``n_bins`` (a bin of its own) for exactly 1.0."""
    edges = np.arange(n_bins + 1) / n_bins
    # side="right" is torch.bucketize(right=True): edge values go up; 1.0 gets index n_bins.
    return np.searchsorted(edges, confidence, side="right") - 1


def equal_mass_bins(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index of each confidence among ``n_bins`` bins holding equal shares of the
    values, scikit-learn's ``calibration_curve(strategy="quantile")`` way: the edges are the
    ``0, 1/n_bins, ..., 1`` quantiles of ``confidence`` (numpy's linear interpolation), and
    a value equal to an inner edge goes to the lower bin, so tied values share a bin."""
    edges = np.quantile(confidence, np.linspace(0.0, 1.0, n_bins + 1))
    return np.searchsorted(edges[1:-1], confidence)


def _binned_gaps(confidence: np.ndarray, outcome: np.ndarray, bins: np.ndarray):
    """Per non-empty bin: its share of the values and ``|mean outcome − mean confidence|``."""
    count = np.bincount(bins)
    conf_sum = np.bincount(bins, weights=confidence, minlength=len(count))
    outcome_sum = np.bincount(bins, weights=outcome, minlength=len(count))
    used = count > 0
    gaps = np.abs(outcome_sum[used] - conf_sum[used]) / count[used]
    return count[used] / confidence.shape[0], gaps


def _binned_calibration_error(confidence: np.ndarray, outcome: np.ndarray, n_bins: int) -> float:
    # |B|/N · |mean(outcome) − mean(conf)| == |Σ outcome − Σ conf| / N; empty bins give 0.
    share, gaps = _binned_gaps(confidence, outcome, equal_width_bins(confidence, n_bins))
    return float(np.sum(share * gaps))


def binary_mce(y: np.ndarray, p: np.ndarray, n_bins: int = N_BINS) -> float:
    """Maximum calibration error of positive-class probabilities: the largest
    ``|frac_pos(B_b) − mean_p(B_b)|`` over the non-empty bins of :func:`binary_ece`
    (torchmetrics' ``norm="max"``).  Inputs are not validated here."""
    p = np.asarray(p, dtype=np.float64)
    _, gaps = _binned_gaps(p, np.asarray(y, dtype=np.float64), equal_width_bins(p, n_bins))
    return float(gaps.max())


def binary_ece_adaptive(y: np.ndarray, p: np.ndarray, n_bins: int = N_BINS) -> float:
    """Expected calibration error over ``n_bins`` equal-mass bins (:func:`equal_mass_bins`;
    Nixon et al. 2019's adaptive ECE): ``Σ_b |B_b|/N · |frac_pos(B_b) − mean_p(B_b)|``.
    Inputs are not validated here."""
    p = np.asarray(p, dtype=np.float64)
    share, gaps = _binned_gaps(p, np.asarray(y, dtype=np.float64), equal_mass_bins(p, n_bins))
    return float(np.sum(share * gaps))


def reliability_bins(confidence: np.ndarray, outcome: np.ndarray, n_bins: int) -> dict:
    """The reliability-diagram data of ``confidence`` against 0/1 ``outcome`` over the
    equal-width bins of :func:`equal_width_bins` (``n_bins + 1`` entries, the last for
    confidences of exactly 1.0): ``count``, mean ``confidence`` and mean ``outcome``
    (``accuracy``) per bin (``None`` where a bin is empty), and the ``ece`` and ``mce`` they
    give (``None`` without values)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    outcome = np.asarray(outcome, dtype=np.float64)
    bins = equal_width_bins(confidence, n_bins)
    count = np.bincount(bins, minlength=n_bins + 1)
    conf_sum = np.bincount(bins, weights=confidence, minlength=n_bins + 1)
    outcome_sum = np.bincount(bins, weights=outcome, minlength=n_bins + 1)

    def per_bin_mean(total: np.ndarray) -> list[float | None]:
        return [float(t / c) if c else None for t, c in zip(total, count, strict=True)]

    empty = confidence.size == 0
    return {
        "count": count.tolist(),
        "confidence": per_bin_mean(conf_sum),
        "accuracy": per_bin_mean(outcome_sum),
        "ece": None if empty else _binned_calibration_error(confidence, outcome, n_bins),
        "mce": None if empty else binary_mce(outcome, confidence, n_bins),
    }


def top_label(y: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The confidence of each track's predicted class (its largest probability) and
    whether that prediction is right (1.0) or wrong (0.0); inputs already validated."""
    pred = predicted_class(probs)
    return probs[np.arange(probs.shape[0]), pred], (pred == y).astype(np.float64)


# --------------------------------------------------------------------------- single-label
def accuracy(y: np.ndarray, probs: np.ndarray) -> float:
    """Fraction of tracks whose argmax class equals ``y`` (ties: lowest index wins)."""
    y, p = check_single_label(y, probs)
    return float(skm.accuracy_score(y, predicted_class(p)))


def f1_macro(y: np.ndarray, probs: np.ndarray) -> float:
    """Macro F1 of the argmax predictions, averaged over **all C classes**.

    sklearn ``f1_score(labels=range(C), average='macro', zero_division=0)``: a class absent
    from both ``y`` and the predictions scores F1 = 0 and still counts in the mean.
    (torchmetrics' ``MulticlassF1Score(average='macro')`` leaves such classes out instead.)
    """
    y, p = check_single_label(y, probs)
    return float(
        skm.f1_score(
            y, predicted_class(p), labels=np.arange(p.shape[1]), average="macro", zero_division=0
        )
    )


def f1_micro(y: np.ndarray, probs: np.ndarray) -> float:
    """Micro F1 of the argmax predictions over all C classes (equals accuracy when every
    track gets exactly one predicted and one true class)."""
    y, p = check_single_label(y, probs)
    return float(
        skm.f1_score(
            y, predicted_class(p), labels=np.arange(p.shape[1]), average="micro", zero_division=0
        )
    )


def roc_auc(y: np.ndarray, probs: np.ndarray) -> tuple[float, int]:
    """Macro one-vs-rest ROC-AUC and the number of classes skipped.

    For each class ``k`` with at least one positive (``y == k``) and one negative track,
    the binary ROC-AUC of ``probs[:, k]`` against ``y == k``; the unweighted mean of those.
    Classes absent from ``y`` (or the only class in ``y``) are skipped.  Returns
    ``(mean, n_skipped)``; the mean is NaN when no class is usable.
    """
    y, p = check_single_label(y, probs)
    return _macro_over_usable(skm.roc_auc_score, _one_hot(y, p.shape[1]), p)


def hamming_loss(y: np.ndarray, probs: np.ndarray) -> float:
    """Hamming loss of the one-hot argmax predictions against one-hot ``y``: the fraction of
    the ``n x C`` indicator entries that differ, which is ``2 · (1 − accuracy) / C``."""
    y, p = check_single_label(y, probs)
    n_classes = p.shape[1]
    return float(skm.hamming_loss(_one_hot(y, n_classes), _one_hot(predicted_class(p), n_classes)))


def ece(y: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> float:
    """Top-label expected calibration error (Guo et al. 2017), 15 equal-width bins.

    ``ECE = Σ_b |B_b|/N · |acc(B_b) − conf(B_b)|`` where ``conf`` is the largest probability of
    a track, ``acc`` is 1 when its argmax (ties: lowest index) equals ``y``, and the sum runs
    over non-empty bins.  Bins follow torchmetrics' ``MulticlassCalibrationError(n_bins=15,
    norm='l1')``: left-closed ``[k/15, (k+1)/15)``, a confidence of exactly 1.0 in a bin of
    its own (see :func:`binary_ece`).  Guo et al.'s reference code uses ``(lo, hi]`` instead.
    """
    y, p = check_single_label(y, probs)
    return _binned_calibration_error(*top_label(y, p), n_bins)


def mce(y: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> float:
    """Top-label maximum calibration error: the largest ``|acc(B_b) − conf(B_b)|`` over the
    non-empty bins of :func:`ece` (same 15 equal-width bins; torchmetrics'
    ``MulticlassCalibrationError(norm="max")``)."""
    y, p = check_single_label(y, probs)
    confidence, correct = top_label(y, p)
    return binary_mce(correct, confidence, n_bins)


def ece_adaptive(y: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> float:
    """Top-label ECE over 15 equal-mass bins of the confidence (:func:`equal_mass_bins`),
    so that every bin holds about N/15 tracks."""
    y, p = check_single_label(y, probs)
    confidence, correct = top_label(y, p)
    return binary_ece_adaptive(correct, confidence, n_bins)


def overconfidence(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean top-label confidence minus accuracy: positive when the model is overconfident
    on average, negative when underconfident."""
    y, p = check_single_label(y, probs)
    confidence, correct = top_label(y, p)
    return float(confidence.mean() - correct.mean())


def entropy(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean predictive entropy of the track probabilities, ``mean_i −Σ_k p_ik log p_ik``
    (natural log, ``0 log 0 = 0``): from 0 (certain) to ``log C`` (uniform).  ``y`` is
    not used; it is there so every metric has the same signature."""
    _, p = check_single_label(y, probs)
    return float(np.mean(np.sum(special.entr(p), axis=1)))


def classwise_ece(y: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> float:
    """Class-wise ECE (Kull et al. 2019): the mean over all C classes of the binary ECE of
    ``probs[:, k]`` against ``y == k`` (:func:`binary_ece`, same 15 bins)."""
    y, p = check_single_label(y, probs)
    onehot = _one_hot(y, p.shape[1])
    return float(np.mean([binary_ece(onehot[:, k], p[:, k], n_bins) for k in range(p.shape[1])]))


def nll(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class (multiclass log-loss, natural log).

    Probabilities are clipped to ``[1e-15, 1]`` and each row renormalised to sum to one,
    then sklearn ``log_loss(labels=range(C))``: ``−mean_i log p_i[y_i]``."""
    y, p = check_single_label(y, probs)
    p = np.clip(p, EPS, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    # Positional: the argument is called y_pred before sklearn 1.9 and y_proba since.
    return float(skm.log_loss(y, p, labels=np.arange(p.shape[1])))


def brier(y: np.ndarray, probs: np.ndarray) -> float:
    """Multiclass Brier score: ``mean_i Σ_k (p_ik − onehot(y_i)_k)²``, in [0, 2] (not halved).

    Written out because sklearn's ``brier_score_loss`` handles multiclass only from 1.7."""
    y, p = check_single_label(y, probs)
    return float(np.mean(np.sum((p - _one_hot(y, p.shape[1])) ** 2, axis=1)))


# --------------------------------------------------------------------------- multi-label
def predicted_labels(probs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """0/1 predictions: ``probs >= threshold`` (a probability equal to it is positive)."""
    return (np.asarray(probs) >= threshold).astype(np.int64)


def multilabel_accuracy(y: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> float:
    """Subset (exact-match) accuracy: the fraction of tracks whose whole predicted label set
    ``probs >= threshold`` equals ``y``."""
    y, p = check_multi_label(y, probs, threshold)
    return float(skm.accuracy_score(y, predicted_labels(p, threshold)))


def multilabel_label_accuracy(y: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> float:
    """Per-entry accuracy: ``1 − multilabel_hamming_loss``."""
    return 1.0 - multilabel_hamming_loss(y, probs, threshold)


def multilabel_hamming_loss(y: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of the ``n x C`` entries where ``probs >= threshold`` differs from ``y``."""
    y, p = check_multi_label(y, probs, threshold)
    return float(skm.hamming_loss(y, predicted_labels(p, threshold)))


def _thresholded(score, average: str, y, probs, threshold: float) -> float:
    y, p = check_multi_label(y, probs, threshold)
    return float(score(y, predicted_labels(p, threshold), average=average, zero_division=0))


def multilabel_f1_macro(y: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> float:
    """Mean over all C labels of the per-label F1 of ``probs >= threshold``; a label with no
    true and no predicted positive scores 0 (sklearn ``zero_division=0``)."""
    return _thresholded(skm.f1_score, "macro", y, probs, threshold)


def multilabel_f1_micro(y: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> float:
    """F1 of the true/false positives and false negatives pooled over all labels
    (0 when there is no positive at all)."""
    return _thresholded(skm.f1_score, "micro", y, probs, threshold)


def multilabel_precision_macro(y: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> float:
    """Mean over all C labels of TP / (TP + FP); 0 for a label never predicted."""
    return _thresholded(skm.precision_score, "macro", y, probs, threshold)


def multilabel_precision_micro(y: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> float:
    """Pooled TP / (TP + FP) over all labels; 0 when nothing is predicted."""
    return _thresholded(skm.precision_score, "micro", y, probs, threshold)


def multilabel_recall_macro(y: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> float:
    """Mean over all C labels of TP / (TP + FN); 0 for a label with no positive track."""
    return _thresholded(skm.recall_score, "macro", y, probs, threshold)


def multilabel_recall_micro(y: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> float:
    """Pooled TP / (TP + FN) over all labels; 0 when ``y`` has no positive."""
    return _thresholded(skm.recall_score, "micro", y, probs, threshold)


def multilabel_roc_auc(y: np.ndarray, probs: np.ndarray) -> tuple[float, int]:
    """Macro ROC-AUC over labels: the unweighted mean of the per-label binary ROC-AUC over
    labels with at least one positive and one negative track.  Returns ``(mean,
    n_skipped)``; NaN when no label is usable.  Threshold-free."""
    y, p = check_multi_label(y, probs)
    return _macro_over_usable(skm.roc_auc_score, y, p)


def multilabel_pr_auc(y: np.ndarray, probs: np.ndarray) -> tuple[float, int]:
    """Macro average precision (area under the precision-recall curve, sklearn's
    step-wise ``average_precision_score``) over labels with at least one positive and one
    negative track.  Returns ``(mean, n_skipped)``; NaN when no label is usable."""
    y, p = check_multi_label(y, probs)
    return _macro_over_usable(skm.average_precision_score, y, p)


def multilabel_roc_auc_micro(y: np.ndarray, probs: np.ndarray) -> float:
    """Micro ROC-AUC: the binary ROC-AUC of all ``n x C`` entries pooled into one list
    (sklearn ``roc_auc_score(average="micro")``).  This is what Keras' ``AUC()`` computes
    by default for a multi-label output (``multi_label=False`` flattens the labels; Keras
    approximates the curve on 200 thresholds).  NaN when the pooled entries are all 0 or
    all 1.  Threshold-free."""
    y, p = check_multi_label(y, probs)
    return _pooled(skm.roc_auc_score, y, p)


def multilabel_pr_auc_micro(y: np.ndarray, probs: np.ndarray) -> float:
    """Micro average precision: sklearn's step-wise ``average_precision_score`` of all
    ``n x C`` entries pooled into one list (``average="micro"``).  NaN when the pooled
    entries are all 0 or all 1.  Threshold-free."""
    y, p = check_multi_label(y, probs)
    return _pooled(skm.average_precision_score, y, p)


def _pooled(score, y: np.ndarray, p: np.ndarray) -> float:
    positives = int(y.sum())
    if positives == 0 or positives == y.size:
        return float("nan")
    return float(score(y.ravel(), p.ravel()))


def _macro_over_usable(score, y: np.ndarray, p: np.ndarray) -> tuple[float, int]:
    positives = y.sum(axis=0)
    usable = np.flatnonzero((positives > 0) & (positives < y.shape[0]))
    skipped = p.shape[1] - usable.size
    if usable.size == 0:
        return float("nan"), skipped
    return float(np.mean([score(y[:, k], p[:, k]) for k in usable])), skipped


def multilabel_ece(y: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> float:
    """Mean over all C labels of the binary ECE of ``probs[:, k]`` against ``y[:, k]``
    (:func:`binary_ece`: 15 equal-width bins of the predicted probability, per bin
    ``|mean probability − fraction positive|`` weighted by the bin's share of tracks)."""
    y, p = check_multi_label(y, probs)
    return float(np.mean([binary_ece(y[:, k], p[:, k], n_bins) for k in range(p.shape[1])]))


def multilabel_mce(y: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> float:
    """Mean over all C labels of the binary maximum calibration error of ``probs[:, k]``
    against ``y[:, k]`` (:func:`binary_mce`, 15 equal-width bins)."""
    y, p = check_multi_label(y, probs)
    return float(np.mean([binary_mce(y[:, k], p[:, k], n_bins) for k in range(p.shape[1])]))


def multilabel_ece_adaptive(y: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> float:
    """Mean over all C labels of the binary ECE over 15 equal-mass bins of ``probs[:, k]``
    (:func:`binary_ece_adaptive`)."""
    y, p = check_multi_label(y, probs)
    return float(
        np.mean([binary_ece_adaptive(y[:, k], p[:, k], n_bins) for k in range(p.shape[1])])
    )


def multilabel_overconfidence(y: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> float:
    """Mean confidence in each label decision minus the fraction of right decisions
    (:func:`multilabel_label_accuracy`): the confidence of an entry is ``p`` when
    ``p >= threshold`` (predicted positive), else ``1 − p``."""
    y, p = check_multi_label(y, probs, threshold)
    positive = p >= threshold
    confidence = np.where(positive, p, 1.0 - p)
    return float(confidence.mean() - np.mean(positive == (y == 1)))


def multilabel_entropy(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean binary entropy over all ``n x C`` entries, ``−(p log p + (1−p) log(1−p))``
    (natural log): from 0 to ``log 2``.  ``y`` is not used."""
    _, p = check_multi_label(y, probs)
    return float(np.mean(special.entr(p) + special.entr(1.0 - p)))


def multilabel_nll(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean binary cross-entropy over all ``n x C`` entries, natural log:
    ``−mean(log q)`` where ``q = p`` for a positive entry and ``1 − p`` for a negative one,
    clipped to ``[1e-15, 1]`` (as in :func:`nll`, a confident mistake costs ~34.5 nats)."""
    y, p = check_multi_label(y, probs)
    # Written out: clipping p itself to 1 − 1e-15 would floor 1 − p at ~9.99e-16 instead.
    q = np.where(y == 1, p, 1.0 - p)
    return float(-np.mean(np.log(np.clip(q, EPS, 1.0))))


def multilabel_brier(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean squared error over all ``n x C`` entries: ``mean((p − y)²)``, in [0, 1]."""
    y, p = check_multi_label(y, probs)
    return float(skm.mean_squared_error(y.ravel(), p.ravel()))
