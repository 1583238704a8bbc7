"""Confidence intervals and significance tests for leaderboard rows, from the per-track
predictions every job saves.

**Intervals.**  A row is one experiment on one data set and profile, trained with several
seeds and tested on the same test tracks.  Its 95 % interval is a two-level percentile
bootstrap (``scipy.stats.bootstrap``, ``paired=False``, 2,000 resamples, a fixed
generator seed so the leaderboard is reproducible): each resample draws the test tracks
with replacement *and*, independently, the seeds with replacement, scores every drawn
seed's predictions on the drawn tracks with the metric, and averages over the drawn seeds.
The interval so reflects both the test-set sampling and the training variance between
seeds (with one seed: the test set only; with two seeds the training part is a coarse
estimate).  The point estimate stays the leaderboard's mean over seeds.

Resamples are scored all at once: a resample is a vector of track weights (how often each
track was drawn), and every metric is written as a function of weights (weighted means,
weighted confusion counts, weighted ranks for ROC-AUC and average precision, weighted bin
sums for ECE).  Each is tested against the registered metric on explicitly repeated rows.

**Paired comparisons.**  Rows of one data set and profile whose test tracks (ids and
labels) are identical are compared with the best row of that group (highest mean
accuracy): a paired bootstrap of the accuracy difference (the same track draws for both
rows, seeds drawn independently for each; p-value from the bootstrap distribution shifted
to the null, two-sided) and McNemar's exact test on the per-track correctness of each
row's seed-averaged prediction (``statsmodels``); both families of p-values are
Holm-corrected within the group (``statsmodels.stats.multitest.multipletests``).  A row
whose corrected bootstrap p-value is at least 0.05 is "not significantly different" from
the best.

**Across data sets.**  Experiments that ran on every one of several data sets (same
profile) are ranked per data set; Friedman's test (``scipy``) and the Nemenyi post-hoc
test with a critical-difference diagram (``scikit-posthocs``) compare them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrebench import metrics as m
from genrebench.errors import ConfigError

CONFIDENCE = 0.95
N_RESAMPLES = 2000
ALPHA = 0.05
#: The metric rows are ranked and compared by (the leaderboard's sort key).
RANK_METRIC = "accuracy"
#: Seed of the bootstrap generator: the same runs always give the same intervals.
BOOTSTRAP_SEED = 0
KEY = ("experiment", "dataset", "profile")


# --------------------------------------------------------------------------- row data
@dataclass
class RowData:
    """The test predictions of one leaderboard row: ``probs[s]`` are seed ``seeds[s]``'s
    per-track probabilities of ``track_ids`` (sorted), ``y`` their labels."""

    key: tuple[str, str, str]
    task: str
    classes: list[str]
    seeds: list[Any]
    track_ids: list[str]
    y: np.ndarray
    probs: np.ndarray  # (S, T, C)
    thresholds: np.ndarray  # (S,)
    #: Per-seed, per-track parts of further columns: ``accuracy_raw`` (correct and total
    #: segments per track) and ``accuracy_<rule>`` (track correct under that rule).
    extra: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: The calibrated test probabilities (``predictions_calibrated.csv``) when every seed
    #: has them: the ``<metric>_calibrated`` columns.
    calibrated: np.ndarray | None = None

    @property
    def n_seeds(self) -> int:
        return self.probs.shape[0]

    def same_tracks(self, other: RowData) -> bool:
        return self.track_ids == other.track_ids and np.array_equal(self.y, other.y)


def load_rows(results: Iterable[Mapping[str, Any]]) -> tuple[dict[tuple, RowData], dict]:
    """Row data of every leaderboard row whose ok jobs saved predictions (results carry
    ``job_dir``, as :func:`genrebench.leaderboard.find_results` adds), and the reason for
    every row left out."""
    latest: dict[tuple, Mapping[str, Any]] = {}
    for r in results:
        latest[(r["experiment"], r["dataset"], r["profile"], str(r["seed"]))] = r
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for (*key, _), r in sorted(latest.items()):
        if r.get("status") == "ok" and r.get("job_dir"):
            groups.setdefault(tuple(key), []).append(r)
    rows, skipped = {}, {}
    for key, runs in groups.items():
        try:
            rows[key] = _row(key, runs)
        except (OSError, ValueError, KeyError) as exc:
            skipped[key] = f"{type(exc).__name__}: {exc}"
    return rows, skipped


def _row(key: tuple, runs: Sequence[Mapping[str, Any]]) -> RowData:
    first = runs[0]
    task, classes = first["task"], list(first["classes"])
    track_ids, y, probs, calibrated, extra = None, None, [], [], {}
    for r in runs:
        ids, labels, p = read_predictions(Path(r["job_dir"]) / "predictions.csv", classes, task)
        if track_ids is None:
            track_ids, y = ids, labels
        elif ids != track_ids or not np.array_equal(labels, y):
            raise ValueError(
                f"seed {r['seed']} was tested on other tracks than seed {first['seed']}"
            )
        probs.append(p)
        calibrated_file = Path(r["job_dir"]) / "predictions_calibrated.csv"
        if calibrated_file.exists():
            ids, _, p = read_predictions(calibrated_file, classes, task)
            if ids == track_ids:
                calibrated.append(p)
    for r in runs:
        for column, parts in _extra_parts(r, track_ids, y, task, classes).items():
            extra.setdefault(column, ([], []))
            extra[column][0].append(parts[0])
            extra[column][1].append(parts[1])
    complete = {c: (np.stack(a), np.stack(b)) for c, (a, b) in extra.items() if len(a) == len(runs)}
    return RowData(
        key=key,
        task=task,
        classes=classes,
        seeds=[r["seed"] for r in runs],
        track_ids=track_ids,
        y=y,
        probs=np.stack(probs),
        thresholds=np.array([float(r.get("threshold", 0.5) or 0.5) for r in runs]),
        extra=complete,
        calibrated=np.stack(calibrated) if len(calibrated) == len(runs) else None,
    )


def read_predictions(
    path: Path, classes: Sequence[str], task: str
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(track ids, labels, probabilities)`` of a ``predictions.csv``, sorted by track id;
    labels are class indices (single-label) or a 0/1 matrix (multi-label)."""
    frame = pd.read_csv(path, dtype={"track_id": str, "label": str}, keep_default_na=False)
    frame = frame.sort_values("track_id", kind="stable")
    probs = frame[[f"p_{c}" for c in classes]].to_numpy(dtype=np.float64)
    index = {c: i for i, c in enumerate(classes)}
    if task == "single-label":
        y = np.array([index[label] for label in frame["label"]], dtype=np.int64)
    else:
        y = np.zeros(probs.shape, dtype=np.int64)
        for row, labels in enumerate(frame["label"]):
            for label in filter(None, labels.split("|")):
                y[row, index[label]] = 1
    return list(frame["track_id"]), y, probs


def _extra_parts(result, track_ids, y, task, classes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-track numerator and denominator of ``accuracy_raw`` and ``accuracy_<rule>``,
    from ``segment_predictions.csv`` (single-label jobs with several segments per track)."""
    wanted = [c for c in result.get("metrics", {}) if c.startswith("accuracy_")]
    path = Path(result["job_dir"]) / "segment_predictions.csv"
    if task != "single-label" or not wanted or not path.exists():
        return {}
    from genrebench.aggregation import aggregate_tracks

    seg_ids, seg_y, seg_probs = read_predictions(path, classes, task)
    position = {t: i for i, t in enumerate(track_ids)}
    owner = np.array([position[t] for t in seg_ids])
    n = len(track_ids)
    parts = {}
    if "accuracy_raw" in wanted:
        correct = (seg_probs.argmax(axis=1) == seg_y).astype(float)
        parts["accuracy_raw"] = (
            np.bincount(owner, weights=correct, minlength=n),
            np.bincount(owner, minlength=n).astype(float),
        )
    for column in wanted:
        rule = column.removeprefix("accuracy_")
        if rule == "raw":
            continue
        try:
            agg = aggregate_tracks(seg_probs, owner, n, rule, task)
        except (KeyError, ValueError, ConfigError):
            continue
        parts[column] = ((agg.argmax(axis=1) == y).astype(float), np.ones(n))
    return parts


# --------------------------------------------------------------------------- weighted metrics
# Each function takes a row and the track weights ``w`` (B, T) of B resamples and returns
# the metric of every seed under every resample, shape (B, S).
WeightedMetric = Callable[[RowData, np.ndarray], np.ndarray]


def _weighted_mean(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``values`` (S, T) per seed and track -> (B, S) weighted means."""
    return (w @ values.T) / w.sum(axis=1, keepdims=True)


def _single_parts(row: RowData):
    pred = row.probs.argmax(axis=2)  # (S, T); ties: lowest index, as metrics.predicted_class
    correct = (pred == row.y[None, :]).astype(float)
    return pred, correct


def _one_hot(indices: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n, dtype=np.float64)[indices]


def _multi_pred(row: RowData) -> np.ndarray:
    return (row.probs >= row.thresholds[:, None, None]).astype(np.int64)  # (S, T, C)


def _counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, w: np.ndarray):
    """Weighted TP, FP, FN per resample, seed and class: (B, S, C) each."""
    return (np.einsum("bt,stc->bsc", w, x) for x in (tp, fp, fn))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den is 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def _f1(tp, fp, fn, average: str) -> np.ndarray:
    if average == "micro":
        tp, fp, fn = tp.sum(-1), fp.sum(-1), fn.sum(-1)
        return _ratio(2 * tp, 2 * tp + fp + fn)
    return _ratio(2 * tp, 2 * tp + fp + fn).mean(-1)


def _single_count_parts(row: RowData):
    pred, _ = _single_parts(row)
    c = len(row.classes)
    predicted = _one_hot(pred, c)  # (S, T, C)
    truth = _one_hot(row.y, c)[None]
    return predicted * truth, predicted * (1 - truth), (1 - predicted) * truth


def _multi_count_parts(row: RowData):
    predicted, truth = _multi_pred(row).astype(float), row.y[None].astype(float)
    return predicted * truth, predicted * (1 - truth), (1 - predicted) * truth


def _counted(parts: Callable, score: Callable) -> WeightedMetric:
    def compute(row: RowData, w: np.ndarray) -> np.ndarray:
        return score(*_counts(*parts(row), w))

    return compute


def _binned_error(confidence: np.ndarray, outcome: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted ECE (as :func:`genrebench.metrics.binary_ece`) of ``confidence`` and
    ``outcome`` (S, T): (B, S)."""
    n_bins = m.N_BINS
    edges = np.arange(n_bins + 1) / n_bins
    out = np.empty((w.shape[0], confidence.shape[0]))
    total = w.sum(axis=1)
    for s in range(confidence.shape[0]):
        bins = np.searchsorted(edges, confidence[s], side="right") - 1
        gap = _one_hot(bins, n_bins + 1) * (outcome[s] - confidence[s])[:, None]  # (T, bins)
        out[:, s] = np.abs(w @ gap).sum(axis=1) / total
    return out


def _single_ece(row: RowData, w: np.ndarray) -> np.ndarray:
    pred, correct = _single_parts(row)
    confidence = np.take_along_axis(row.probs, pred[:, :, None], axis=2)[:, :, 0]
    return _binned_error(confidence, correct, w)


def _per_class_ece(row: RowData, w: np.ndarray) -> np.ndarray:
    truth = row.y if row.task == "multi-label" else _one_hot(row.y, len(row.classes))
    truth = truth.astype(float)
    per_class = [
        _binned_error(row.probs[:, :, k], np.broadcast_to(truth[:, k], row.probs.shape[:2]), w)
        for k in range(len(row.classes))
    ]
    return np.mean(per_class, axis=0)


def _ranked(score: str) -> WeightedMetric:
    """Weighted macro ROC-AUC or average precision over the classes (labels) with at least
    one positive and one negative track in the resample, as
    :func:`genrebench.metrics.roc_auc` / ``multilabel_pr_auc``; every seed and class at
    once."""

    def compute(row: RowData, w: np.ndarray) -> np.ndarray:
        truth = row.y if row.task == "multi-label" else _one_hot(row.y, len(row.classes))
        scores = np.moveaxis(row.probs, 2, 1)  # (S, C, T)
        truth = np.broadcast_to(truth.T.astype(float), scores.shape)
        fn = _weighted_auc if score == "auc" else _weighted_ap
        values = fn(scores, truth, w)  # (B, S, C)
        with np.errstate(all="ignore"):
            usable = np.isfinite(values).any(axis=2)
            mean = np.nansum(values, axis=2) / np.maximum(np.isfinite(values).sum(axis=2), 1)
        return np.where(usable, mean, np.nan)

    return compute


def _sorted_groups(scores: np.ndarray, descending: bool):
    """Sort each row of ``scores`` (..., T) and return the order and, per sorted position,
    the start and the end (exclusive) of its group of tied scores."""
    order = np.argsort(-scores if descending else scores, axis=-1, kind="stable")
    ordered = np.take_along_axis(scores, order, axis=-1)
    positions = np.arange(scores.shape[-1])
    edge = np.ones(scores.shape, dtype=bool)
    edge[..., 1:] = ordered[..., 1:] != ordered[..., :-1]  # first of a group
    start = np.maximum.accumulate(np.where(edge, positions, 0), axis=-1)
    last = np.ones(scores.shape, dtype=bool)
    last[..., :-1] = edge[..., 1:]  # last of a group
    end = np.minimum.accumulate(np.where(last, positions + 1, scores.shape[-1])[..., ::-1], -1)
    return order, start, end[..., ::-1]


def _weighted_auc(scores: np.ndarray, truth: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC with track weights, P(a positive scores above a negative) + ties /
    2, of every row of ``scores`` (S, C, T) against ``truth``: (B, S, C)."""
    order, start, end = _sorted_groups(scores, descending=False)
    pos = np.take_along_axis(truth, order, axis=-1)
    wo = w[:, order]  # (B, S, C, T)
    neg_cum = np.zeros((*wo.shape[:-1], wo.shape[-1] + 1))
    np.cumsum(wo * (1 - pos), axis=-1, out=neg_cum[..., 1:])
    below = np.take_along_axis(neg_cum, np.broadcast_to(start, wo.shape), axis=-1)
    tied = np.take_along_axis(neg_cum, np.broadcast_to(end, wo.shape), axis=-1) - below
    n_pos, n_neg = (wo * pos).sum(-1), (wo * (1 - pos)).sum(-1)
    numerator = (wo * pos * (below + 0.5 * tied)).sum(axis=-1)
    with np.errstate(all="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), numerator / (n_pos * n_neg), np.nan)


def _weighted_ap(scores: np.ndarray, truth: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average precision (scikit-learn's step-wise sum over distinct thresholds) with track
    weights, of every row of ``scores`` (S, C, T): (B, S, C)."""
    order, _, end = _sorted_groups(scores, descending=True)
    pos = np.take_along_axis(truth, order, axis=-1)
    wo = w[:, order]
    at_end = np.broadcast_to(end - 1, wo.shape)
    tp = np.take_along_axis(np.cumsum(wo * pos, axis=-1), at_end, axis=-1)
    seen = np.take_along_axis(np.cumsum(wo, axis=-1), at_end, axis=-1)
    precision = _ratio(tp, seen)
    n_pos, n_neg = (wo * pos).sum(-1), (wo * (1 - pos)).sum(-1)
    with np.errstate(all="ignore"):
        ap = (wo * pos * precision).sum(axis=-1) / n_pos
    return np.where((n_pos > 0) & (n_neg > 0), ap, np.nan)


def _mean_of(per_track: Callable[[RowData], np.ndarray]) -> WeightedMetric:
    return lambda row, w: _weighted_mean(per_track(row), w)


def _single_nll(row: RowData) -> np.ndarray:
    p = np.clip(row.probs, m.EPS, 1.0)
    p = p / p.sum(axis=2, keepdims=True)
    return -np.log(np.take_along_axis(p, row.y[None, :, None], axis=2)[:, :, 0])


def _multi_nll(row: RowData) -> np.ndarray:
    q = np.where(row.y[None] == 1, row.probs, 1.0 - row.probs)
    return -np.log(np.clip(q, m.EPS, 1.0)).mean(axis=2)


def _extra(column: str) -> WeightedMetric:
    def compute(row: RowData, w: np.ndarray) -> np.ndarray:
        num, den = row.extra[column]
        return (w @ num.T) / (w @ den.T)

    return compute


#: Metric columns with a weighted (resample-vectorised) form, by task type.
WEIGHTED: dict[str, dict[str, WeightedMetric]] = {
    "single-label": {
        "accuracy": _mean_of(lambda r: _single_parts(r)[1]),
        "f1_macro": _counted(_single_count_parts, lambda tp, fp, fn: _f1(tp, fp, fn, "macro")),
        "f1_micro": _counted(_single_count_parts, lambda tp, fp, fn: _f1(tp, fp, fn, "micro")),
        "roc_auc": _ranked("auc"),
        "hamming_loss": _mean_of(lambda r: 2 * (1 - _single_parts(r)[1]) / len(r.classes)),
        "ece": _single_ece,
        "classwise_ece": _per_class_ece,
        "nll": _mean_of(_single_nll),
        "brier": _mean_of(
            lambda r: ((r.probs - _one_hot(r.y, len(r.classes))[None]) ** 2).sum(axis=2)
        ),
    },
    "multi-label": {
        "accuracy": _mean_of(lambda r: (_multi_pred(r) == r.y[None]).all(axis=2).astype(float)),
        "label_accuracy": _mean_of(lambda r: (_multi_pred(r) == r.y[None]).mean(axis=2)),
        "hamming_loss": _mean_of(lambda r: (_multi_pred(r) != r.y[None]).mean(axis=2)),
        "f1_macro": _counted(_multi_count_parts, lambda tp, fp, fn: _f1(tp, fp, fn, "macro")),
        "f1_micro": _counted(_multi_count_parts, lambda tp, fp, fn: _f1(tp, fp, fn, "micro")),
        "precision_macro": _counted(
            _multi_count_parts, lambda tp, fp, fn: _ratio(tp, tp + fp).mean(-1)
        ),
        "precision_micro": _counted(
            _multi_count_parts, lambda tp, fp, fn: _ratio(tp.sum(-1), (tp + fp).sum(-1))
        ),
        "recall_macro": _counted(
            _multi_count_parts, lambda tp, fp, fn: _ratio(tp, tp + fn).mean(-1)
        ),
        "recall_micro": _counted(
            _multi_count_parts, lambda tp, fp, fn: _ratio(tp.sum(-1), (tp + fn).sum(-1))
        ),
        "roc_auc": _ranked("auc"),
        "pr_auc": _ranked("ap"),
        "ece": _per_class_ece,
        "nll": _mean_of(_multi_nll),
        "brier": _mean_of(lambda r: ((r.probs - r.y[None]) ** 2).mean(axis=2)),
    },
}


CALIBRATED = "_calibrated"


def columns_of(row: RowData) -> list[str]:
    """The metric columns of ``row`` that get an interval."""
    calibrated = (
        [f"{c}{CALIBRATED}" for c in WEIGHTED[row.task]] if row.calibrated is not None else []
    )
    return [*WEIGHTED[row.task], *row.extra, *calibrated]


def weighted(row: RowData, column: str) -> WeightedMetric:
    if column in row.extra:
        return _extra(column)
    if column.endswith(CALIBRATED) and row.calibrated is not None:
        score = WEIGHTED[row.task][column.removesuffix(CALIBRATED)]
        shadow = replace(row, probs=row.calibrated, calibrated=None, extra={})
        return lambda _row, w: score(shadow, w)
    return WEIGHTED[row.task][column]


# --------------------------------------------------------------------------- bootstrap
def _weights(track_draws: np.ndarray, n_tracks: int) -> np.ndarray:
    """Resampled track indices (B, n) -> how often each track was drawn (B, T)."""
    b = track_draws.shape[0]
    flat = track_draws + n_tracks * np.arange(b)[:, None]
    return np.bincount(flat.ravel(), minlength=b * n_tracks).reshape(b, n_tracks).astype(float)


def _seed_shares(seed_draws: np.ndarray | None, n_seeds: int, b: int) -> np.ndarray:
    """Resampled seed indices (B, S) -> each seed's share of the draw (B, S)."""
    if seed_draws is None:
        return np.full((b, n_seeds), 1.0 / n_seeds)
    return _weights(seed_draws, n_seeds) / seed_draws.shape[1]


def _row_statistic(row: RowData, columns: Sequence[str]):
    """statistic(tracks, [seeds]) for scipy: each column's seed-averaged value, (k, B)."""
    scorers = [weighted(row, c) for c in columns]

    def statistic(track_draws, seed_draws=None, axis=-1):
        track_draws = np.atleast_2d(track_draws)
        b = track_draws.shape[0]
        w = _weights(track_draws, len(row.track_ids))
        shares = _seed_shares(
            None if seed_draws is None else np.atleast_2d(seed_draws), row.n_seeds, b
        )
        with np.errstate(all="ignore"):
            return np.stack([np.nansum(score(row, w) * shares, axis=1) for score in scorers])

    return statistic


def _samples(*rows: RowData) -> tuple[np.ndarray, ...]:
    """The bootstrap's samples: test-track indices (shared by every row), then one seed
    index sample per row with two or more seeds."""
    samples = [np.arange(len(rows[0].track_ids))]
    samples += [np.arange(r.n_seeds) for r in rows if r.n_seeds > 1]
    return tuple(samples)


def _unpack(rows: Sequence[RowData], draws: Sequence[np.ndarray]) -> list[np.ndarray | None]:
    """Per row: its seed draws, or None for a one-seed row."""
    out, i = [], 0
    for r in rows:
        if r.n_seeds > 1:
            out.append(draws[i])
            i += 1
        else:
            out.append(None)
    return out


def _bootstrap(samples, statistic, n_resamples: int, n_tracks: int):
    from scipy import stats

    return stats.bootstrap(
        samples,
        statistic,
        vectorized=True,
        paired=False,
        n_resamples=n_resamples,
        confidence_level=CONFIDENCE,
        method="percentile",
        batch=max(1, min(n_resamples, 4_000_000 // max(n_tracks, 1))),
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )


def intervals(
    row: RowData, columns: Sequence[str] | None = None, n_resamples: int = N_RESAMPLES
) -> dict[str, tuple[float, float]]:
    """95 % interval of each metric column of ``row`` (see the module docstring)."""
    columns = list(columns or columns_of(row))
    single = _row_statistic(row, columns)

    def statistic(*draws, axis=-1):
        [seeds] = _unpack([row], draws[1:])
        return single(draws[0], seeds)

    result = _bootstrap(_samples(row), statistic, n_resamples, len(row.track_ids))
    low, high = (
        np.atleast_1d(result.confidence_interval.low),
        np.atleast_1d(result.confidence_interval.high),
    )
    return {c: (float(lo), float(hi)) for c, lo, hi in zip(columns, low, high, strict=True)}


@dataclass
class Comparison:
    """Row ``a`` against row ``b`` on the same test tracks."""

    a: tuple
    b: tuple
    metric: str
    n_tracks: int
    value_a: float
    value_b: float
    difference: float
    difference_low: float
    difference_high: float
    p_bootstrap: float
    #: McNemar on the seed-averaged predictions: tracks right only for a, only for b.
    only_a: int
    only_b: int
    both: int
    neither: int
    p_mcnemar: float
    seeds_a: int
    seeds_b: int


class NotComparable(ConfigError):
    """Two rows evaluated on different test tracks."""


def check_comparable(a: RowData, b: RowData) -> None:
    if a.same_tracks(b):
        return
    names = f"{a.key[0]} ({a.key[1]}, {a.key[2]}) and {b.key[0]} ({b.key[1]}, {b.key[2]})"
    if a.key[1] != b.key[1]:
        raise NotComparable(f"{names} were tested on different data sets")
    only_a = sorted(set(a.track_ids) - set(b.track_ids))
    only_b = sorted(set(b.track_ids) - set(a.track_ids))
    if only_a or only_b:
        example = (only_a or only_b)[:3]
        raise NotComparable(
            f"{names} were tested on different test tracks ({len(a.track_ids)} and "
            f"{len(b.track_ids)} tracks; {len(only_a)} only in the first, {len(only_b)} only "
            f"in the second, e.g. {', '.join(example)}): most likely different splits or "
            "track caps, so a paired test does not apply"
        )
    raise NotComparable(f"{names} have the same test tracks with different labels")


def compare(
    a: RowData, b: RowData, metric: str = RANK_METRIC, n_resamples: int = N_RESAMPLES
) -> Comparison:
    """Paired bootstrap of ``metric(a) - metric(b)`` and McNemar's test on accuracy."""
    from statsmodels.stats.contingency_tables import mcnemar

    check_comparable(a, b)
    stat_a, stat_b = _row_statistic(a, [metric]), _row_statistic(b, [metric])

    def statistic(*draws, axis=-1):
        seeds_a, seeds_b = _unpack([a, b], draws[1:])
        return stat_a(draws[0], seeds_a) - stat_b(draws[0], seeds_b)

    result = _bootstrap(_samples(a, b), statistic, n_resamples, len(a.track_ids))
    value_a, value_b = (
        float(_row_statistic(r, [metric])(np.arange(len(r.track_ids)))[0, 0]) for r in (a, b)
    )
    observed = value_a - value_b
    replicates = np.asarray(result.bootstrap_distribution).reshape(-1)
    replicates = replicates[np.isfinite(replicates)]
    shifted = np.abs(replicates - observed) >= abs(observed) - 1e-12
    p_boot = float((1 + shifted.sum()) / (1 + replicates.size)) if observed != 0 else 1.0
    right_a, right_b = ensemble_correct(a), ensemble_correct(b)
    table = [
        [int(np.sum(right_a & right_b)), int(np.sum(right_a & ~right_b))],
        [int(np.sum(~right_a & right_b)), int(np.sum(~right_a & ~right_b))],
    ]
    p_mcnemar = float(mcnemar(table, exact=True).pvalue)
    return Comparison(
        a=a.key,
        b=b.key,
        metric=metric,
        n_tracks=len(a.track_ids),
        value_a=value_a,
        value_b=value_b,
        difference=observed,
        difference_low=float(np.atleast_1d(result.confidence_interval.low)[0]),
        difference_high=float(np.atleast_1d(result.confidence_interval.high)[0]),
        p_bootstrap=p_boot,
        only_a=table[0][1],
        only_b=table[1][0],
        both=table[0][0],
        neither=table[1][1],
        p_mcnemar=p_mcnemar,
        seeds_a=a.n_seeds,
        seeds_b=b.n_seeds,
    )


def describe_comparison(c: Comparison) -> str:
    """The comparison in full, for ``genrebench compare``."""
    name_a, name_b = c.a[0], c.b[0]
    width = max(len(name_a), len(name_b))
    verdict = "significant" if c.p_bootstrap < ALPHA else "not significant"
    return "\n".join(
        [
            f"{name_a} vs {name_b} on {c.a[1]} (profile {c.a[2]}), {c.n_tracks} shared test "
            f"tracks; seeds: {c.seeds_a} and {c.seeds_b}",
            "",
            f"{c.metric} (mean over seeds):",
            f"  {name_a:<{width}}  {c.value_a:.4f}",
            f"  {name_b:<{width}}  {c.value_b:.4f}",
            f"  difference  {c.difference:+.4f}, 95 % interval [{c.difference_low:+.4f}, "
            f"{c.difference_high:+.4f}]",
            f"  paired bootstrap ({N_RESAMPLES} resamples of tracks and seeds): p = "
            f"{c.p_bootstrap:.4g} ({verdict} at {ALPHA}, uncorrected)",
            "",
            "McNemar's exact test on the seed-averaged predictions (accuracy):",
            f"  right in both {c.both}, only {name_a} {c.only_a}, only {name_b} {c.only_b}, "
            f"in neither {c.neither}",
            f"  p = {c.p_mcnemar:.4g}",
        ]
    )


def ensemble_correct(row: RowData) -> np.ndarray:
    """Per track: is the seed-averaged prediction right (all labels right, multi-label)?"""
    mean = row.probs.mean(axis=0)
    if row.task == "single-label":
        return mean.argmax(axis=1) == row.y
    return ((mean >= row.thresholds.mean()).astype(int) == row.y).all(axis=1)


# --------------------------------------------------------------------------- the leaderboard
def annotate(
    board: pd.DataFrame, results: Iterable[Mapping[str, Any]], n_resamples: int = N_RESAMPLES
) -> pd.DataFrame:
    """``board`` with ``<metric>_ci_low`` / ``<metric>_ci_high`` for every metric column
    with a weighted form, and, per group of rows on identical test tracks, the comparison
    with the group's best row: ``significance`` (``best``, ``tied``, ``worse``, or empty
    when the row has no comparable row), ``comparison_group``, ``p_vs_best`` /
    ``p_vs_best_holm`` (paired bootstrap) and ``mcnemar_p_vs_best`` /
    ``mcnemar_p_vs_best_holm``."""
    from statsmodels.stats.multitest import multipletests

    board = board.copy()
    if board.empty:
        return board
    rows, _ = load_rows(results)
    keys = [tuple(k) for k in board[list(KEY)].itertuples(index=False)]
    ci: dict[str, list[float]] = {}
    for position, key in enumerate(keys):
        row = rows.get(key)
        if row is None:
            continue
        for column, (low, high) in intervals(row, n_resamples=n_resamples).items():
            if column not in board.columns or not np.isfinite(board.iloc[position][column]):
                continue
            ci.setdefault(f"{column}_ci_low", [math.nan] * len(keys))[position] = low
            ci.setdefault(f"{column}_ci_high", [math.nan] * len(keys))[position] = high
    for name, values in ci.items():
        board[name] = values
    extra = {
        "significance": [""] * len(keys),
        "comparison_group": [math.nan] * len(keys),
        "p_vs_best": [math.nan] * len(keys),
        "p_vs_best_holm": [math.nan] * len(keys),
        "mcnemar_p_vs_best": [math.nan] * len(keys),
        "mcnemar_p_vs_best_holm": [math.nan] * len(keys),
    }
    for number, group in enumerate(comparable_groups(board, rows), 1):
        best, others = group[0], group[1:]
        extra["significance"][best] = "best"
        extra["comparison_group"][best] = number
        if not others:
            continue
        found = [compare(rows[keys[best]], rows[keys[i]], n_resamples=n_resamples) for i in others]
        p_boot = multipletests([c.p_bootstrap for c in found], alpha=ALPHA, method="holm")[1]
        p_mc = multipletests([c.p_mcnemar for c in found], alpha=ALPHA, method="holm")[1]
        for i, c, pb, pm in zip(others, found, p_boot, p_mc, strict=True):
            extra["comparison_group"][i] = number
            extra["p_vs_best"][i] = c.p_bootstrap
            extra["p_vs_best_holm"][i] = float(pb)
            extra["mcnemar_p_vs_best"][i] = c.p_mcnemar
            extra["mcnemar_p_vs_best_holm"][i] = float(pm)
            extra["significance"][i] = "tied" if pb >= ALPHA else "worse"
    for name, values in extra.items():
        board[name] = values
    return board


def comparable_groups(board: pd.DataFrame, rows: Mapping[tuple, RowData]) -> list[list[int]]:
    """Board positions grouped by data set, profile and identical test tracks, each group
    ordered best first (highest mean ``RANK_METRIC``, then name); rows without
    predictions or without the metric are left out."""
    groups: list[list[int]] = []
    members: list[RowData] = []
    for position, record in board.iterrows():
        row = rows.get(tuple(record[list(KEY)]))
        value = record.get(RANK_METRIC)
        if row is None or value is None or not np.isfinite(value):
            continue
        for group, first in zip(groups, members, strict=True):
            if first.key[1:] == row.key[1:] and first.same_tracks(row):
                group.append(position)
                break
        else:
            groups.append([position])
            members.append(row)
    order = lambda i: (-float(board.loc[i, RANK_METRIC]), str(board.loc[i, "experiment"]))  # noqa: E731
    return [sorted(g, key=order) for g in groups]


# --------------------------------------------------------------------------- across data sets
@dataclass
class Friedman:
    profile: str
    metric: str
    datasets: list[str]
    experiments: list[str]
    scores: pd.DataFrame  # data sets x experiments
    mean_ranks: pd.Series
    statistic: float
    p_value: float
    nemenyi: pd.DataFrame  # experiments x experiments p-values


def friedman(board: pd.DataFrame, metric: str = RANK_METRIC) -> list[Friedman]:
    """Friedman's test per profile over the experiments that ran on every data set of that
    profile; only where there are at least 3 experiments and 2 data sets."""
    import scikit_posthocs as sp
    from scipy import stats

    out = []
    ok = board[board.get("status", "ok") != "failed"] if "status" in board else board
    for profile, part in ok.groupby("profile", sort=True):
        table = part.pivot_table(index="dataset", columns="experiment", values=metric)
        table = table.dropna(axis=1, how="any")
        if table.shape[0] < 2 or table.shape[1] < 3:
            continue
        statistic, p_value = stats.friedmanchisquare(*(table[c] for c in table.columns))
        ranks = table.rank(axis=1, ascending=False).mean(axis=0).sort_values()
        nemenyi = sp.posthoc_nemenyi_friedman(table.to_numpy())
        nemenyi.index = nemenyi.columns = list(table.columns)
        out.append(
            Friedman(
                profile=str(profile),
                metric=metric,
                datasets=list(table.index),
                experiments=list(table.columns),
                scores=table,
                mean_ranks=ranks,
                statistic=float(statistic),
                p_value=float(p_value),
                nemenyi=nemenyi,
            )
        )
    return out
