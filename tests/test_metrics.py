"""genrebench.evaluation.metrics against independent implementations (torchmetrics,
scikit-learn, hand computations) and the builtin metrics plugin.

torchmetrics is a test-only dependency: the tests that need it take the ``tmc`` fixture,
which skips them when it is missing.  Every comparison is to 1e-6.
"""

from __future__ import annotations

import inspect
import math
import pickle

import numpy as np
import pytest
from sklearn import metrics as skm

from genrebench.builtin import metrics as builtin_metrics
from genrebench.evaluation import metrics as m

TOL = 1e-6
SEEDS = [0, 1, 2, 3, 4]


# --------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def tmc():
    """torchmetrics.classification, or skip."""
    pytest.importorskip("torchmetrics")
    from torchmetrics import classification

    return classification


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _t(x):
    import torch

    x = np.asarray(x)
    return torch.as_tensor(x, dtype=torch.long if np.issubdtype(x.dtype, np.integer) else None)


def _tm(metric, preds, target) -> float:
    return float(metric(_t(preds), _t(target)).item())


def single_label_case(seed: int, n: int = 200, n_classes: int = 5):
    """Softmax probabilities loosely tied to y; every class occurs in y."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    y[:n_classes] = np.arange(n_classes)
    logits = rng.normal(scale=1.5, size=(n, n_classes))
    logits[np.arange(n), y] += rng.normal(1.0, 1.0, n)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return y, p / p.sum(axis=1, keepdims=True)


def multi_label_case(seed: int, n: int = 200, n_labels: int = 6):
    """Independent probabilities loosely tied to Y; every label has positives and negatives."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, n_labels)) < 0.3).astype(np.int64)
    y[0], y[1] = 1, 0
    p = 1.0 / (1.0 + np.exp(-(rng.normal(size=(n, n_labels)) + 1.5 * (2 * y - 1))))
    return y, p


def one_hot(y, n_classes):
    return np.eye(n_classes)[y]


def reference_ece(confidence, outcome, n_bins=15):
    """Plain-Python ECE: bin k holds k/n_bins <= c < (k+1)/n_bins, c == 1.0 alone in bin
    n_bins; Σ_b |B_b|/N · |mean outcome − mean confidence|."""
    bins: dict[int, list[tuple[float, float]]] = {}
    for c, o in zip(confidence, outcome, strict=True):
        k = max(j for j in range(n_bins + 1) if c >= j / n_bins)
        bins.setdefault(k, []).append((float(c), float(o)))
    total = 0.0
    for members in bins.values():
        mean_c = sum(c for c, _ in members) / len(members)
        mean_o = sum(o for _, o in members) / len(members)
        total += len(members) / len(confidence) * abs(mean_o - mean_c)
    return total


# ---------------------------------------------------------------------- single-label, random
@pytest.mark.parametrize("seed", SEEDS)
def test_single_label_random_vs_torchmetrics(seed, tmc):
    y, p = single_label_case(seed)
    c = p.shape[1]
    assert m.accuracy(y, p) == pytest.approx(
        _tm(tmc.MulticlassAccuracy(num_classes=c, average="micro"), p, y), abs=TOL
    )
    # Every class occurs in y, so torchmetrics' macro average also runs over all C classes.
    assert m.f1_macro(y, p) == pytest.approx(
        _tm(tmc.MulticlassF1Score(num_classes=c, average="macro"), p, y), abs=TOL
    )
    assert m.f1_micro(y, p) == pytest.approx(
        _tm(tmc.MulticlassF1Score(num_classes=c, average="micro"), p, y), abs=TOL
    )
    auc, skipped = m.roc_auc(y, p)
    assert skipped == 0
    assert auc == pytest.approx(
        _tm(tmc.MulticlassAUROC(num_classes=c, average="macro", thresholds=None), p, y), abs=TOL
    )
    pred_1hot = one_hot(p.argmax(axis=1), c)
    assert m.hamming_loss(y, p) == pytest.approx(
        _tm(
            tmc.MultilabelHammingDistance(num_labels=c, average="micro"),
            pred_1hot,
            one_hot(y, c).astype(np.int64),
        ),
        abs=TOL,
    )
    assert m.ece(y, p) == pytest.approx(
        _tm(tmc.MulticlassCalibrationError(num_classes=c, n_bins=15, norm="l1"), p, y), abs=TOL
    )
    binary = [
        _tm(tmc.BinaryCalibrationError(n_bins=15, norm="l1"), p[:, k], (y == k).astype(np.int64))
        for k in range(c)
    ]
    assert m.classwise_ece(y, p) == pytest.approx(np.mean(binary), abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_single_label_random_vs_sklearn_and_hand(seed, torch):
    y, p = single_label_case(seed)
    c = p.shape[1]
    assert m.accuracy(y, p) == pytest.approx(np.mean(p.argmax(axis=1) == y), abs=TOL)
    assert m.f1_micro(y, p) == pytest.approx(m.accuracy(y, p), abs=TOL)
    assert m.roc_auc(y, p)[0] == pytest.approx(
        skm.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=np.arange(c)), abs=TOL
    )
    assert m.hamming_loss(y, p) == pytest.approx(2 * (1 - np.mean(p.argmax(1) == y)) / c, abs=TOL)
    nll_torch = torch.nn.functional.nll_loss(torch.log(_t(p)), _t(y)).item()
    assert m.nll(y, p) == pytest.approx(nll_torch, abs=TOL)
    assert m.nll(y, p) == pytest.approx(-np.mean(np.log(p[np.arange(len(y)), y])), abs=TOL)
    # Σ_k (p_k − e_k)² = 1 − 2 p_y + Σ_k p_k²
    hand = np.mean(1 - 2 * p[np.arange(len(y)), y] + (p**2).sum(axis=1))
    assert m.brier(y, p) == pytest.approx(hand, abs=TOL)
    sig = inspect.signature(skm.brier_score_loss).parameters
    if "scale_by_half" in sig:  # multiclass brier_score_loss: scikit-learn >= 1.7
        assert m.brier(y, p) == pytest.approx(
            skm.brier_score_loss(y, p, labels=np.arange(c), scale_by_half=False), abs=TOL
        )


# ------------------------------------------------------------------- single-label, edge cases
def test_single_label_perfect_predictions(tmc):
    y = np.array([0, 1, 2, 3, 1, 2, 0, 3])
    p = one_hot(y, 4)
    assert m.accuracy(y, p) == 1.0
    assert m.f1_macro(y, p) == 1.0
    assert m.f1_micro(y, p) == 1.0
    assert m.roc_auc(y, p) == (1.0, 0)
    assert m.hamming_loss(y, p) == 0.0
    assert m.ece(y, p) == pytest.approx(0.0, abs=TOL)
    assert m.classwise_ece(y, p) == pytest.approx(0.0, abs=TOL)
    assert _tm(tmc.MulticlassCalibrationError(num_classes=4, n_bins=15), p, y) == pytest.approx(
        0.0, abs=TOL
    )
    assert 0.0 <= m.nll(y, p) < 1e-12  # clipped zeros: −log(1 / (1 + 3e-15))
    assert m.brier(y, p) == 0.0


def test_single_label_uniform_probabilities(tmc):
    y = np.array([0, 1, 2, 3, 4, 0, 0, 1, 2, 4])
    c = 5
    p = np.full((len(y), c), 1.0 / c)
    # Every row is a 5-way tie: class 0 is predicted for all tracks.
    assert m.accuracy(y, p) == pytest.approx(0.3, abs=TOL)
    assert m.accuracy(y, p) == pytest.approx(
        _tm(tmc.MulticlassAccuracy(num_classes=c, average="micro"), p, y), abs=TOL
    )
    assert m.roc_auc(y, p) == (pytest.approx(0.5, abs=TOL), 0)
    assert m.ece(y, p) == pytest.approx(abs(0.3 - 0.2), abs=TOL)
    assert m.ece(y, p) == pytest.approx(
        _tm(tmc.MulticlassCalibrationError(num_classes=c, n_bins=15), p, y), abs=TOL
    )
    assert m.nll(y, p) == pytest.approx(math.log(c), abs=TOL)
    assert m.brier(y, p) == pytest.approx(1 - 1 / c, abs=TOL)


def test_single_class_present_in_y(tmc):
    rng = np.random.default_rng(7)
    c = 4
    y = np.full(40, 2)
    p = rng.dirichlet(np.ones(c), size=40)
    pred = p.argmax(axis=1)
    auc, skipped = m.roc_auc(y, p)
    assert math.isnan(auc) and skipped == c
    assert m.accuracy(y, p) == pytest.approx(np.mean(pred == 2), abs=TOL)
    # Only class 2 can have a non-zero F1: tp = #pred==2, fp = 0, fn = n − tp.
    tp = np.sum(pred == 2)
    assert m.f1_macro(y, p) == pytest.approx(2 * tp / (2 * tp + (40 - tp)) / c, abs=TOL)
    # torchmetrics averages only over classes with tp + fp + fn > 0 (in y or predicted);
    # ours averages over all C, the others counting 0.
    active = len(set(pred) | {2})
    tm_macro = _tm(tmc.MulticlassF1Score(num_classes=c, average="macro"), p, y)
    assert m.f1_macro(y, p) == pytest.approx(tm_macro * active / c, abs=TOL)
    assert m.ece(y, p) == pytest.approx(
        _tm(tmc.MulticlassCalibrationError(num_classes=c, n_bins=15), p, y), abs=TOL
    )
    binary = [
        _tm(tmc.BinaryCalibrationError(n_bins=15), p[:, k], (y == k).astype(np.int64))
        for k in range(c)
    ]
    assert m.classwise_ece(y, p) == pytest.approx(np.mean(binary), abs=TOL)


def test_f1_macro_counts_never_seen_classes_as_zero():
    # Class 3 never occurs in y nor in the predictions: it scores 0 and counts in the mean.
    y = np.array([0, 1, 2, 0])
    p = one_hot(y, 4)
    assert m.f1_macro(y, p) == pytest.approx(3 / 4, abs=TOL)


def test_roc_auc_skips_absent_classes_like_sklearn():
    rng = np.random.default_rng(3)
    c = 5
    y = rng.choice([0, 1, 3], size=60)
    p = rng.dirichlet(np.ones(c), size=60)
    auc, skipped = m.roc_auc(y, p)
    assert skipped == 2
    present = [0, 1, 3]
    # sklearn's multilabel-indicator path over the present classes only.
    expected = skm.roc_auc_score(one_hot(y, c)[:, present], p[:, present], average="macro")
    assert auc == pytest.approx(expected, abs=TOL)


def test_argmax_ties_lowest_index_wins(tmc):
    p = np.array([[0.4, 0.4, 0.2], [0.3, 0.35, 0.35], [0.2, 0.2, 0.6], [0.5, 0.25, 0.25]])
    y = np.array([1, 2, 2, 0])
    np.testing.assert_array_equal(m.predicted_class(p), [0, 1, 2, 0])
    assert m.accuracy(y, p) == pytest.approx(0.5, abs=TOL)
    # torch.argmax / max(dim) also take the first maximum, so torchmetrics agrees.
    assert m.accuracy(y, p) == pytest.approx(
        _tm(tmc.MulticlassAccuracy(num_classes=3, average="micro"), p, y), abs=TOL
    )
    assert m.ece(y, p) == pytest.approx(
        _tm(tmc.MulticlassCalibrationError(num_classes=3, n_bins=15), p, y), abs=TOL
    )
    assert m.ece(y, p) == pytest.approx(
        reference_ece([0.4, 0.35, 0.6, 0.5], [0.0, 0.0, 1.0, 1.0]), abs=TOL
    )


def test_ece_hand_example():
    # (confidence, correct): 0.62 ✓, 0.64 ✗ and 0.6 ✓ share bin [0.6, 0.667) (0.6 is on its
    # lower edge); 0.59 ✗ is alone in [0.533, 0.6); 0.95 ✗ alone in [0.933, 1); 1.0 ✓ alone in
    # the extra bin for exactly 1.  ECE = (3·|2/3 − 0.62| + 0.59 + 0.95 + 0) / 6 = 0.28.
    conf = np.array([0.62, 0.64, 0.95, 1.0, 0.6, 0.59])
    correct = np.array([1, 0, 0, 1, 1, 0])
    p = np.stack([conf, 1 - conf], axis=1)
    y = np.where(correct == 1, 0, 1)
    # (Guo et al.'s (lo, hi] bins put 0.6 with 0.59 and 1.0 with 0.95, giving
    # (2·|0.5 − 0.595| + 2·|0.5 − 0.63| + 2·|0.5 − 0.975|) / 6 ≈ 0.233.)
    assert m.ece(y, p) == pytest.approx(0.28, abs=1e-12)


def test_ece_hand_example_vs_torchmetrics(tmc):
    conf = np.array([0.62, 0.64, 0.95, 1.0, 0.6, 0.59])
    p = np.stack([conf, 1 - conf], axis=1)
    y = np.array([0, 1, 1, 0, 0, 1])
    assert m.ece(y, p) == pytest.approx(
        _tm(tmc.MulticlassCalibrationError(num_classes=2, n_bins=15), p, y), abs=TOL
    )


def _edge_rows(n_classes=16):
    """Top-label confidences exactly on each edge k/15 (k = 1..15), and 1e-6 below and
    above it; the remaining mass is spread evenly so that the top class is column 0."""
    k = np.arange(1, 16)
    conf = np.concatenate([k / 15, k / 15 - 1e-6, np.minimum(k / 15 + 1e-6, 1.0)])
    rest = (1 - conf) / (n_classes - 1)
    p = np.column_stack([conf] + [rest] * (n_classes - 1))
    return conf, p


def test_ece_confidences_on_bin_edges():
    conf, p = _edge_rows()
    rng = np.random.default_rng(11)
    y = np.where(rng.random(len(conf)) < 0.5, 0, 1)
    assert m.ece(y, p) == pytest.approx(reference_ece(conf, (y == 0).astype(float)), abs=1e-12)


def test_ece_confidences_on_bin_edges_vs_torchmetrics(tmc, torch):
    conf, p = _edge_rows()
    rng = np.random.default_rng(12)
    y = np.where(rng.random(len(conf)) < 0.5, 0, 1)
    # torchmetrics casts confidences to float32 and its float32 torch.linspace edges are
    # not all the float nearest k/15 (k = 3, 6..10 are off by an ulp), so a confidence of
    # exactly 0.2 lands in the bin below there.  Compare on the edges where they coincide;
    # our rule (edge values go up) is tested against reference_ece for all of them.
    edges32 = torch.linspace(0, 1, 16, dtype=torch.float32).numpy()
    same = edges32 == (np.arange(16) / 15).astype(np.float32)
    keep = np.array(
        [same[round(c * 15)] if abs(c * 15 - round(c * 15)) < 1e-9 else True for c in conf]
    )
    assert keep.sum() >= 30
    assert m.ece(y[keep], p[keep]) == pytest.approx(
        _tm(tmc.MulticlassCalibrationError(num_classes=16, n_bins=15), p[keep], y[keep]), abs=TOL
    )


def test_binary_ece_on_bin_edges_vs_torchmetrics(tmc, torch):
    # Positive-class probabilities on every edge, 0 and 1 included, in float64 as torchmetrics'
    # BinaryCalibrationError keeps them.
    k = np.arange(16)
    edges64 = torch.linspace(0, 1, 16, dtype=torch.float64).numpy()
    on_edge = (k / 15)[edges64 == k / 15]  # float64 linspace: 11/15 is one ulp off
    p = np.concatenate([on_edge, np.clip(on_edge + 0.01, 0, 1), np.clip(on_edge - 0.01, 0, 1)])
    y = (np.random.default_rng(5).random(len(p)) < p).astype(np.int64)
    ours = m.binary_ece(y, p)
    assert ours == pytest.approx(reference_ece(p, y), abs=1e-12)
    assert ours == pytest.approx(_tm(tmc.BinaryCalibrationError(n_bins=15), p, y), abs=TOL)


def test_nll_clips_confident_mistakes():
    y = np.array([1, 0])
    p = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    wrong = -math.log(1e-15 / (1 + 2e-15))
    right = -math.log(1 / (1 + 2e-15))
    assert m.nll(y, p) == pytest.approx((wrong + right) / 2, abs=TOL)


def test_brier_range_extremes():
    y = np.array([0, 1])
    assert m.brier(y, np.array([[0.0, 1.0], [1.0, 0.0]])) == 2.0  # worst case
    assert m.brier(y, np.array([[1.0, 0.0], [0.0, 1.0]])) == 0.0


# --------------------------------------------------------------------------- multi-label
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_multi_label_thresholded_vs_torchmetrics(seed, threshold, tmc):
    y, p = multi_label_case(seed)
    c = p.shape[1]
    kw = {"num_labels": c, "threshold": threshold}
    assert m.multilabel_accuracy(y, p, threshold) == pytest.approx(
        _tm(tmc.MultilabelExactMatch(**kw), p, y), abs=TOL
    )
    hamming = _tm(tmc.MultilabelHammingDistance(average="micro", **kw), p, y)
    assert m.multilabel_hamming_loss(y, p, threshold) == pytest.approx(hamming, abs=TOL)
    assert m.multilabel_label_accuracy(y, p, threshold) == pytest.approx(1 - hamming, abs=TOL)
    for ours, theirs in [
        (m.multilabel_f1_macro, tmc.MultilabelF1Score(average="macro", **kw)),
        (m.multilabel_f1_micro, tmc.MultilabelF1Score(average="micro", **kw)),
        (m.multilabel_precision_macro, tmc.MultilabelPrecision(average="macro", **kw)),
        (m.multilabel_precision_micro, tmc.MultilabelPrecision(average="micro", **kw)),
        (m.multilabel_recall_macro, tmc.MultilabelRecall(average="macro", **kw)),
        (m.multilabel_recall_micro, tmc.MultilabelRecall(average="micro", **kw)),
    ]:
        assert ours(y, p, threshold) == pytest.approx(_tm(theirs, p, y), abs=TOL), ours.__name__


@pytest.mark.parametrize("seed", SEEDS)
def test_multi_label_scores_vs_torchmetrics(seed, tmc, torch):
    y, p = multi_label_case(seed)
    c = p.shape[1]
    auc, skipped = m.multilabel_roc_auc(y, p)
    assert skipped == 0
    assert auc == pytest.approx(
        _tm(tmc.MultilabelAUROC(num_labels=c, average="macro", thresholds=None), p, y), abs=TOL
    )
    ap, skipped = m.multilabel_pr_auc(y, p)
    assert skipped == 0
    assert ap == pytest.approx(
        _tm(tmc.MultilabelAveragePrecision(num_labels=c, average="macro", thresholds=None), p, y),
        abs=TOL,
    )
    binary = [_tm(tmc.BinaryCalibrationError(n_bins=15), p[:, k], y[:, k]) for k in range(c)]
    assert m.multilabel_ece(y, p) == pytest.approx(np.mean(binary), abs=TOL)
    bce = torch.nn.functional.binary_cross_entropy(_t(p), _t(y.astype(float))).item()
    assert m.multilabel_nll(y, p) == pytest.approx(bce, abs=TOL)
    assert m.multilabel_nll(y, p) == pytest.approx(
        skm.log_loss(y.ravel(), p.ravel(), labels=[0, 1]), abs=TOL
    )
    mse = torch.nn.functional.mse_loss(_t(p), _t(y.astype(float))).item()
    assert m.multilabel_brier(y, p) == pytest.approx(mse, abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_multi_label_micro_auc_vs_sklearn(seed):
    y, p = multi_label_case(seed)
    assert m.multilabel_roc_auc_micro(y, p) == pytest.approx(
        skm.roc_auc_score(y, p, average="micro"), abs=TOL
    )
    assert m.multilabel_pr_auc_micro(y, p) == pytest.approx(
        skm.average_precision_score(y, p, average="micro"), abs=TOL
    )
    # micro pools the entries: it is not the macro mean over labels
    assert m.multilabel_roc_auc_micro(y, p) != pytest.approx(m.multilabel_roc_auc(y, p)[0])


def test_multi_label_micro_auc_hand_example():
    # Pooled entries (y, p): (1, .9) (0, .8) (0, .1) (1, .7) -- 2 positives, 2 negatives.
    # Pairs (pos, neg) ranked right: .9 > .8, .9 > .1, .7 > .1; wrong: .7 < .8 -> 3/4.
    y = np.array([[1, 0], [0, 1]])
    p = np.array([[0.9, 0.8], [0.1, 0.7]])
    assert m.multilabel_roc_auc_micro(y, p) == pytest.approx(0.75, abs=TOL)
    # Label 0 alone ranks perfectly (1.0), label 1 alone inversely (0.0): macro 0.5.
    assert m.multilabel_roc_auc(y, p) == (pytest.approx(0.5), 0)
    # Ranked .9 (+), .8 (-), .7 (+), .1 (-): precision 1 at recall 1/2, 2/3 at recall 1.
    assert m.multilabel_pr_auc_micro(y, p) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3, abs=TOL)


def test_multi_label_micro_auc_undefined_without_both_outcomes():
    assert math.isnan(m.multilabel_roc_auc_micro(np.zeros((3, 2), int), np.full((3, 2), 0.3)))
    assert math.isnan(m.multilabel_pr_auc_micro(np.ones((3, 2), int), np.full((3, 2), 0.3)))
    # a label without positives does not stop the pooled score
    y = np.array([[1, 0], [0, 0]])
    assert m.multilabel_roc_auc_micro(y, np.array([[0.9, 0.2], [0.1, 0.3]])) == 1.0


def test_multi_label_threshold_is_inclusive(tmc):
    y = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0]])
    p = np.array([[0.5, 0.2, 0.7], [0.1, 0.5, 0.5], [0.9, 0.49, 0.5]])
    np.testing.assert_array_equal(m.predicted_labels(p), [[1, 0, 1], [0, 1, 1], [1, 0, 1]])
    assert m.multilabel_accuracy(y, p) == pytest.approx(2 / 3, abs=TOL)
    assert m.multilabel_hamming_loss(y, p) == pytest.approx(2 / 9, abs=TOL)
    # torchmetrics thresholds with ">": feed it our 0/1 decisions to compare the rest.
    binarised = (p >= 0.5).astype(float)
    for ours, theirs in [
        (m.multilabel_f1_macro, tmc.MultilabelF1Score(num_labels=3, average="macro")),
        (m.multilabel_precision_micro, tmc.MultilabelPrecision(num_labels=3, average="micro")),
        (m.multilabel_recall_macro, tmc.MultilabelRecall(num_labels=3, average="macro")),
    ]:
        assert ours(y, p) == pytest.approx(_tm(theirs, binarised, y), abs=TOL), ours.__name__
    # ... and on the raw probabilities it differs, because 0.5 > 0.5 is false.
    # Positives: 0.5, 0.7, 0.5, 0.5, 0.9, 0.49 -> 5 of 6 found with ">=", 2 of 6 with ">".
    assert m.multilabel_recall_micro(y, p) == pytest.approx(5 / 6, abs=TOL)
    assert _tm(tmc.MultilabelRecall(num_labels=3, average="micro"), p, y) == pytest.approx(
        2 / 6, abs=TOL
    )


def test_multi_label_perfect_predictions():
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    p = y.astype(float)
    for fn in (
        m.multilabel_accuracy,
        m.multilabel_label_accuracy,
        m.multilabel_f1_macro,
        m.multilabel_f1_micro,
        m.multilabel_precision_macro,
        m.multilabel_recall_micro,
    ):
        assert fn(y, p) == 1.0, fn.__name__
    assert m.multilabel_hamming_loss(y, p) == 0.0
    assert m.multilabel_roc_auc(y, p) == (1.0, 0)
    assert m.multilabel_pr_auc(y, p) == (1.0, 0)
    assert m.multilabel_ece(y, p) == pytest.approx(0.0, abs=TOL)
    assert m.multilabel_nll(y, p) == 0.0
    assert m.multilabel_brier(y, p) == 0.0


def test_multi_label_all_wrong_clips_nll():
    y = np.array([[1, 0], [0, 1]])
    p = 1.0 - y
    assert m.multilabel_nll(y, p) == pytest.approx(-math.log(1e-15), abs=TOL)
    assert m.multilabel_brier(y, p) == 1.0
    assert m.multilabel_ece(y, p) == pytest.approx(1.0, abs=TOL)


def test_multi_label_uniform_probabilities():
    y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1], [0, 0, 0]])
    p = np.full(y.shape, 0.5)
    assert m.multilabel_roc_auc(y, p) == (pytest.approx(0.5), 0)
    assert m.multilabel_label_accuracy(y, p) == pytest.approx(np.mean(y), abs=TOL)  # all ≥ 0.5
    # per label: |fraction positive − 0.5| in the single bin [0.5, 0.533)
    assert m.multilabel_ece(y, p) == pytest.approx(np.mean(np.abs(y.mean(0) - 0.5)), abs=TOL)
    assert m.multilabel_nll(y, p) == pytest.approx(math.log(2), abs=TOL)
    assert m.multilabel_brier(y, p) == pytest.approx(0.25, abs=TOL)


def test_multi_label_skips_labels_without_positives_or_negatives(tmc):
    y, p = multi_label_case(9, n=80, n_labels=6)
    y[:, 1] = 0  # no positive
    y[:, 4] = 1  # no negative
    usable = [0, 2, 3, 5]
    auc, skipped = m.multilabel_roc_auc(y, p)
    assert skipped == 2
    assert auc == pytest.approx(
        skm.roc_auc_score(y[:, usable], p[:, usable], average="macro"), abs=TOL
    )
    assert auc == pytest.approx(
        _tm(
            tmc.MultilabelAUROC(num_labels=4, average="macro", thresholds=None),
            p[:, usable],
            y[:, usable],
        ),
        abs=TOL,
    )
    ap, skipped = m.multilabel_pr_auc(y, p)
    assert skipped == 2
    assert ap == pytest.approx(
        skm.average_precision_score(y[:, usable], p[:, usable], average="macro"), abs=TOL
    )
    assert m.multilabel_roc_auc(np.zeros((3, 2), int), np.full((3, 2), 0.3))[1] == 2
    assert math.isnan(m.multilabel_pr_auc(np.ones((3, 2), int), np.full((3, 2), 0.3))[0])


# --------------------------------------------------------------------------- validation
GOOD_Y, GOOD_P = np.array([0, 1, 2]), np.full((3, 3), 1 / 3)


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        (np.array([0, 1]), GOOD_P, "same number of rows"),
        (GOOD_Y, GOOD_P[:, 0], "shape"),
        (GOOD_Y[:, None], GOOD_P, "shape"),
        (GOOD_Y, np.full((3, 1), 1.0), "at least 2 classes"),
        (GOOD_Y, np.where(np.eye(3) == 1, np.nan, 0.5), "NaN"),
        (GOOD_Y, np.array([[1.2, -0.2, 0.0]] * 3), r"\[0, 1\]"),
        (np.array([0, 1, 3]), GOOD_P, "class indices in 0..2"),
        (np.array([0, 1, -1]), GOOD_P, "class indices in 0..2"),
        (np.array([0.0, 1.0, 2.0]), GOOD_P, "integer"),
        (GOOD_Y, np.full((3, 3), 0.5), "summing to 1"),
    ],
)
def test_single_label_validation(y, p, message):
    for fn in (m.accuracy, m.roc_auc, m.ece, m.nll, m.brier):
        with pytest.raises(ValueError, match=message):
            fn(y, p)


@pytest.mark.parametrize(
    ("y", "p", "threshold", "message"),
    [
        (np.ones((3, 2), int), np.full((3, 3), 0.5), 0.5, "same shape"),
        (np.ones(3, int), np.full((3, 1), 0.5), 0.5, "same shape"),
        (np.array([[0, 2], [1, 0]]), np.full((2, 2), 0.5), 0.5, "only 0 and 1"),
        (np.ones((2, 2), int), np.array([[0.5, np.nan], [0.1, 0.2]]), 0.5, "NaN"),
        (np.ones((2, 2), int), np.array([[0.5, 1.5], [0.1, 0.2]]), 0.5, r"\[0, 1\]"),
        (np.ones((2, 2), int), np.full((2, 2), 0.5), 1.5, "threshold"),
        (np.ones((2, 2), int), np.full((2, 2), 0.5), float("nan"), "threshold"),
    ],
)
def test_multi_label_validation(y, p, threshold, message):
    with pytest.raises(ValueError, match=message):
        m.multilabel_f1_macro(y, p, threshold)
    if message != "threshold":
        for fn in (
            m.multilabel_roc_auc,
            m.multilabel_roc_auc_micro,
            m.multilabel_pr_auc_micro,
            m.multilabel_ece,
            m.multilabel_nll,
        ):
            with pytest.raises(ValueError, match=message):
                fn(y, p)


def test_float32_probabilities_accepted():
    y, p = single_label_case(0)
    p32 = p.astype(np.float32)  # rows sum to 1 only within float32 precision
    assert m.accuracy(y, p32) == pytest.approx(m.accuracy(y, p), abs=TOL)


# --------------------------------------------------------------------------- plugin
SINGLE_COLUMNS = {
    "accuracy",
    "f1_macro",
    "f1_micro",
    "roc_auc",
    "hamming_loss",
    "ece",
    "classwise_ece",
    "nll",
    "brier",
    "mce",
    "ece_adaptive",
    "overconfidence",
    "entropy",
}
MULTI_COLUMNS = {
    "accuracy",
    "label_accuracy",
    "f1_macro",
    "f1_micro",
    "precision_macro",
    "precision_micro",
    "recall_macro",
    "recall_micro",
    "hamming_loss",
    "roc_auc",
    "pr_auc",
    "roc_auc_micro",
    "pr_auc_micro",
    "ece",
    "nll",
    "brier",
    "mce",
    "ece_adaptive",
    "overconfidence",
    "entropy",
}
LOWER_IS_BETTER = {
    "hamming_loss",
    "ece",
    "classwise_ece",
    "nll",
    "brier",
    "mce",
    "ece_adaptive",
    "overconfidence",
    "entropy",
}


def test_plugin_registers_unique_names_per_task():
    specs = builtin_metrics.genrebench_register_metrics()
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert {s.name for s in specs if s.task == "single-label"} == {
        f"single-label/{c}" for c in SINGLE_COLUMNS
    }
    assert {s.name for s in specs if s.task == "multi-label"} == {
        f"multi-label/{c}" for c in MULTI_COLUMNS
    }
    for s in specs:
        column = s.name.split("/", 1)[1]
        assert s.higher_is_better == (column not in LOWER_IS_BETTER), s.name
        assert s.description


def test_plugin_compute_returns_leaderboard_columns():
    y1, p1 = single_label_case(1)
    ym, pm = multi_label_case(1)
    for spec in builtin_metrics.genrebench_register_metrics():
        column = spec.name.split("/", 1)[1]
        y, p = (y1, p1) if spec.task == "single-label" else (ym, pm)
        out = spec.compute(y, p, 0.5)
        expected = {column}
        if column in {"roc_auc", "pr_auc"}:
            expected.add(f"{column}_skipped_classes")
        assert set(out) == expected, spec.name
        assert all(np.isfinite(v) for v in out.values()), spec.name
        assert pickle.loads(pickle.dumps(spec.compute))(y, p, 0.5) == out


def test_plugin_values_match_functions():
    specs = {s.name: s for s in builtin_metrics.genrebench_register_metrics()}
    y, p = single_label_case(2)
    assert specs["single-label/ece"].compute(y, p, 0.5) == {"ece": m.ece(y, p)}
    auc, skipped = m.roc_auc(y, p)
    assert specs["single-label/roc_auc"].compute(y, p, 0.5) == {
        "roc_auc": auc,
        "roc_auc_skipped_classes": skipped,
    }
    ym, pm = multi_label_case(2)
    # The threshold reaches thresholded multi-label metrics.
    assert specs["multi-label/f1_micro"].compute(ym, pm, 0.3) == {
        "f1_micro": m.multilabel_f1_micro(ym, pm, 0.3)
    }
    assert m.multilabel_f1_micro(ym, pm, 0.3) != m.multilabel_f1_micro(ym, pm, 0.7)


# --------------------------------------------------------------------------- edge cases
def test_empty_input_is_refused_saying_what_was_expected():
    message = r"n_tracks >= 1, got shape \(0, 3\)"
    with pytest.raises(ValueError, match=message):
        m.accuracy(np.array([], dtype=int), np.zeros((0, 3)))
    with pytest.raises(ValueError, match=message):
        m.multilabel_f1_macro(np.zeros((0, 3), int), np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"shape \(2, 0\)"):
        m.multilabel_roc_auc(np.zeros((2, 0), int), np.zeros((2, 0)))


@pytest.mark.parametrize("dtype", [object, str, bool, complex])
def test_non_numeric_probabilities_are_refused(dtype):
    probs = np.array([[0.25, 0.75], [0.5, 0.5]]).astype(dtype)
    expected = f"expected numeric probabilities, got dtype {probs.dtype}"
    with pytest.raises(ValueError, match=expected):
        m.accuracy(np.array([1, 0]), probs)
    with pytest.raises(ValueError, match=expected):
        m.multilabel_accuracy(np.array([[0, 1], [1, 0]]), probs)


def test_integer_probabilities_are_numbers():
    assert m.accuracy(np.array([1, 0]), np.array([[0, 1], [1, 0]])) == 1.0
    assert m.multilabel_hamming_loss(np.array([[0, 1]]), np.array([[1, 1]])) == 0.5


def test_threshold_zero_predicts_every_label_and_one_only_certain_ones():
    y = np.array([[1, 1], [0, 1], [0, 0]])
    p = np.array([[0.0, 0.2], [1.0, 0.0], [0.3, 1.0]])
    np.testing.assert_array_equal(m.predicted_labels(p, 0.0), np.ones((3, 2), int))
    assert m.multilabel_accuracy(y, p, 0.0) == pytest.approx(1 / 3)  # only row 0 is all-ones
    assert m.multilabel_hamming_loss(y, p, 0.0) == pytest.approx(3 / 6)
    assert m.multilabel_recall_micro(y, p, 0.0) == 1.0
    assert m.multilabel_precision_micro(y, p, 0.0) == pytest.approx(3 / 6)
    np.testing.assert_array_equal(m.predicted_labels(p, 1.0), [[0, 0], [1, 0], [0, 1]])
    assert m.multilabel_hamming_loss(y, p, 1.0) == pytest.approx(5 / 6)


def test_exactly_one_usable_label_gives_its_own_roc_and_pr_auc():
    y = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1]])  # labels 1, 2: one class only
    p = np.array([[0.9, 0.1, 0.5], [0.4, 0.2, 0.5], [0.3, 0.3, 0.5], [0.2, 0.4, 0.5]])
    roc, skipped = m.multilabel_roc_auc(y, p)
    assert skipped == 2
    assert roc == pytest.approx(skm.roc_auc_score(y[:, 0], p[:, 0])) and roc == 0.75
    pr, skipped = m.multilabel_pr_auc(y, p)
    assert skipped == 2 and pr == pytest.approx(skm.average_precision_score(y[:, 0], p[:, 0]))
    assert pr == pytest.approx(5 / 6)
