"""Calibration metrics (mce, ece_adaptive, overconfidence, entropy) and reliability data
against independent implementations (torchmetrics, scikit-learn's calibration_curve, scipy,
numpy's histogram), to 1e-6; and the reliability.json a job writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from genrebench.evaluation import metrics as m
from genrebench.evaluation import reliability

TOL = 1e-6
SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def tmc():
    pytest.importorskip("torchmetrics")
    from torchmetrics import classification

    return classification


def _tm(metric, preds, target) -> float:
    import torch

    preds = torch.as_tensor(np.asarray(preds, dtype=np.float64))
    return float(metric(preds, torch.as_tensor(np.asarray(target), dtype=torch.long)).item())


def single_label_case(seed: int, n: int = 300, n_classes: int = 5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    logits = rng.normal(scale=1.5, size=(n, n_classes))
    logits[np.arange(n), y] += rng.normal(1.0, 1.0, n)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return y, p / p.sum(axis=1, keepdims=True)


def multi_label_case(seed: int, n: int = 300, n_labels: int = 4):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, n_labels)) < 0.3).astype(np.int64)
    y[0], y[1] = 1, 0
    p = 1.0 / (1.0 + np.exp(-(rng.normal(size=(n, n_labels)) + 1.5 * (2 * y - 1))))
    return y, p


# --------------------------------------------------------------------------- mce
@pytest.mark.parametrize("seed", SEEDS)
def test_mce_vs_torchmetrics_max_norm(seed, tmc):
    y, p = single_label_case(seed)
    reference = tmc.MulticlassCalibrationError(num_classes=p.shape[1], n_bins=15, norm="max")
    assert m.mce(y, p) == pytest.approx(_tm(reference, p, y), abs=TOL)
    ym, pm = multi_label_case(seed)
    per_label = [
        _tm(tmc.BinaryCalibrationError(n_bins=15, norm="max"), pm[:, k], ym[:, k])
        for k in range(pm.shape[1])
    ]
    assert m.multilabel_mce(ym, pm) == pytest.approx(np.mean(per_label), abs=TOL)


def test_mce_with_confidences_on_bin_edges_and_at_one_vs_torchmetrics(tmc):
    # Top-label confidences 1/3 (an edge of the 15 bins: 5/15), 0.6 (9/15) and 1.0.
    p = np.array(
        [[1 / 3, 1 / 3, 1 / 3], [0.6, 0.4, 0.0], [0.6, 0.2, 0.2], [1.0, 0.0, 0.0], [0.0, 1.0, 0]]
    )
    y = np.array([1, 0, 2, 0, 2])
    reference = tmc.MulticlassCalibrationError(num_classes=3, n_bins=15, norm="max")
    assert m.mce(y, p) == pytest.approx(_tm(reference, p, y), abs=TOL)
    assert m.mce(y, p) >= m.ece(y, p)


# --------------------------------------------------------------------------- adaptive ECE
@pytest.mark.parametrize("seed", SEEDS)
def test_adaptive_ece_vs_sklearn_quantile_calibration_curve(seed):
    # 300 = 15 x 20 distinct confidences: every quantile bin holds 20 tracks, so the ECE
    # is the plain mean over the bins of |fraction right - mean confidence|.
    y, p = single_label_case(seed)
    confidence, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(int)
    assert len(np.unique(confidence)) == len(confidence) == 300
    frac, mean_conf = calibration_curve(correct, confidence, n_bins=15, strategy="quantile")
    assert len(frac) == 15
    assert m.ece_adaptive(y, p) == pytest.approx(np.mean(np.abs(frac - mean_conf)), abs=TOL)
    ym, pm = multi_label_case(seed)
    per_label = []
    for k in range(pm.shape[1]):
        frac, mean_p = calibration_curve(ym[:, k], pm[:, k], n_bins=15, strategy="quantile")
        per_label.append(np.mean(np.abs(frac - mean_p)))
    assert m.multilabel_ece_adaptive(ym, pm) == pytest.approx(np.mean(per_label), abs=TOL)


def test_adaptive_ece_keeps_tied_confidences_in_one_bin():
    # Every track has the same confidence: one bin, so adaptive and equal-width ECE agree.
    p = np.tile([0.5, 0.3, 0.2], (30, 1))
    y = np.array([0] * 12 + [1] * 18)
    assert m.ece_adaptive(y, p) == pytest.approx(abs(0.4 - 0.5), abs=TOL)
    assert m.ece_adaptive(y, p) == pytest.approx(m.ece(y, p), abs=TOL)


# --------------------------------------------------------------------------- overconfidence
@pytest.mark.parametrize("seed", SEEDS)
def test_overconfidence_is_mean_confidence_minus_accuracy(seed):
    y, p = single_label_case(seed)
    expected = p.max(axis=1).mean() - skm.accuracy_score(y, p.argmax(axis=1))
    assert m.overconfidence(y, p) == pytest.approx(expected, abs=TOL)
    ym, pm = multi_label_case(seed)
    for threshold in (0.5, 0.3):
        decided = (pm >= threshold).astype(int)
        confidence = np.where(decided == 1, pm, 1 - pm).mean()
        expected = confidence - (1 - skm.hamming_loss(ym, decided))
        assert m.multilabel_overconfidence(ym, pm, threshold) == pytest.approx(expected, abs=TOL)


def test_overconfidence_sign():
    y = np.array([0, 1, 0, 1])
    sure_and_half_wrong = np.array([[0.99, 0.01]] * 4)
    assert m.overconfidence(y, sure_and_half_wrong) == pytest.approx(0.49)
    unsure_and_right = np.array([[0.6, 0.4], [0.4, 0.6], [0.6, 0.4], [0.4, 0.6]])
    assert m.overconfidence(y, unsure_and_right) == pytest.approx(-0.4)


def test_multilabel_overconfidence_counts_a_probability_at_the_threshold_as_positive():
    # p == threshold is a positive decision: confidence p = 0.3, right for y = 1 (0.3 - 1)
    y, p = np.array([[1, 0]]), np.array([[0.3, 0.1]])
    assert m.multilabel_overconfidence(y, p, threshold=0.3) == pytest.approx((0.3 + 0.9) / 2 - 1)


# --------------------------------------------------------------------------- entropy
@pytest.mark.parametrize("seed", SEEDS)
def test_entropy_vs_scipy(seed):
    y, p = single_label_case(seed)
    assert m.entropy(y, p) == pytest.approx(stats.entropy(p, axis=1).mean(), abs=TOL)
    ym, pm = multi_label_case(seed)
    binary = stats.entropy(np.stack([pm, 1 - pm]), axis=0)
    assert m.multilabel_entropy(ym, pm) == pytest.approx(binary.mean(), abs=TOL)


def test_entropy_extremes():
    y = np.array([0, 1])
    assert m.entropy(y, np.array([[1.0, 0.0], [0.0, 1.0]])) == 0.0
    assert m.entropy(y, np.full((2, 4), 0.25)) == pytest.approx(np.log(4))


# --------------------------------------------------------------------------- reliability bins
@pytest.mark.parametrize("n_bins", [10, 15])
def test_reliability_bins_vs_sklearn_calibration_curve_and_numpy_histogram(n_bins, tmc):
    y, p = single_label_case(3)
    confidence, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(int)
    # No confidence on an edge and none equal to 1, where the binnings would differ.
    assert not np.any(np.isclose(confidence * n_bins, np.round(confidence * n_bins)))
    table = m.reliability_bins(confidence, correct, n_bins)
    assert len(table["count"]) == n_bins + 1 and table["count"][-1] == 0
    counts, _ = np.histogram(confidence, bins=np.linspace(0, 1, n_bins + 1))
    assert table["count"][:n_bins] == counts.tolist()
    frac, mean_conf = calibration_curve(correct, confidence, n_bins=n_bins, strategy="uniform")
    used = [k for k, c in enumerate(table["count"]) if c]
    np.testing.assert_allclose([table["accuracy"][k] for k in used], frac, atol=TOL)
    np.testing.assert_allclose([table["confidence"][k] for k in used], mean_conf, atol=TOL)
    assert all(table["accuracy"][k] is None for k, c in enumerate(table["count"]) if not c)
    for norm, key in (("l1", "ece"), ("max", "mce")):
        reference = tmc.MulticlassCalibrationError(num_classes=5, n_bins=n_bins, norm=norm)
        assert table[key] == pytest.approx(_tm(reference, p, y), abs=TOL)


def test_reliability_report_single_label_ties_out_with_the_metrics():
    y, p = single_label_case(4, n=120, n_classes=4)
    classes = ["a", "b", "c", "d"]
    calibrated = p**0.5 / (p**0.5).sum(axis=1, keepdims=True)
    data = reliability.report(y, p, calibrated, classes, "single-label", {"status": "ok"})
    json.dumps(data)  # plain JSON
    assert data["bin_counts"] == [10, 15] and data["n_tracks"] == 120
    assert (data["task"], data["classes"], data["calibration"]) == (
        "single-label",
        classes,
        {"status": "ok"},
    )
    assert data["binning"].startswith("equal-width bins [k/n, (k+1)/n), then one bin for")
    for version, probs in (("raw", p), ("calibrated", calibrated)):
        fifteen = data[version]["15"]
        assert fifteen["top_label"]["ece"] == pytest.approx(m.ece(y, probs), abs=TOL)
        assert fifteen["top_label"]["mce"] == pytest.approx(m.mce(y, probs), abs=TOL)
        assert sum(fifteen["top_label"]["count"]) == 120
        assert len(data[version]["10"]["edges"]) == 11
        for k, c in enumerate(classes):
            per_class = data[version]["10"]["per_class"][c]
            assert sum(per_class["count"]) == np.sum(y == k)
            mine = (probs.argmax(axis=1) == y)[y == k].mean()
            weighted = sum(
                n * a for n, a in zip(per_class["count"], per_class["accuracy"], strict=True) if n
            ) / np.sum(y == k)
            assert weighted == pytest.approx(mine, abs=TOL)
    assert reliability.report(y, p, None, classes, "single-label")["calibrated"] is None


def test_reliability_report_multi_label_pools_and_splits_labels(tmc):
    y, p = multi_label_case(5, n=90)
    classes = ["w", "x", "y", "z"]
    data = reliability.report(y, p, None, classes, "multi-label")
    fifteen = data["raw"]["15"]
    assert sum(fifteen["pooled"]["count"]) == y.size
    assert fifteen["pooled"]["ece"] == pytest.approx(
        _tm(tmc.BinaryCalibrationError(n_bins=15, norm="l1"), p.ravel(), y.ravel()), abs=TOL
    )
    per_label_ece = [fifteen["per_label"][c]["ece"] for c in classes]
    assert np.mean(per_label_ece) == pytest.approx(m.multilabel_ece(y, p), abs=TOL)
    assert np.mean([fifteen["per_label"][c]["mce"] for c in classes]) == pytest.approx(
        m.multilabel_mce(y, p), abs=TOL
    )


def test_reliability_bins_of_no_tracks_are_empty_not_an_error():
    table = m.reliability_bins(np.array([]), np.array([]), 10)
    assert table["count"] == [0] * 11 and table["ece"] is None and table["mce"] is None
