"""The test predictions of a leaderboard row, and every metric as a function of per-track
weights, for :mod:`genrebench.reporting.stats`' bootstrap.

A bootstrap resample of the test tracks is a vector of weights (how often each track was
drawn); writing each metric in terms of weights (weighted means, weighted confusion counts,
weighted ranks for ROC-AUC and average precision, weighted bin sums for ECE) scores
thousands of resamples with a few array operations.  Each weighted metric equals the
registered metric (:mod:`genrebench.evaluation.metrics`) on the resample's explicitly repeated rows
(``tests/test_stats.py``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from genrebench.aggregation import aggregate_tracks
from genrebench.errors import ConfigError
from genrebench.evaluation import metrics as m
from genrebench.reporting.leaderboard import row_key, select
from genrebench.results import outputs
from genrebench.specs import MetricSpec


# --------------------------------------------------------------------------- row data
@dataclass
class RowData:
    """The test predictions of one leaderboard row: ``probs[s]`` are seed ``seeds[s]``'s
    per-track probabilities of ``track_ids`` (sorted), ``y`` their labels."""

    #: The row's :func:`genrebench.reporting.leaderboard.row_key` (experiment, data set, profile,
    #: protocol).
    key: tuple[str, ...]
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


@dataclass
class Loaded:
    """What :func:`load_rows` read: the row data, the rows left without any (and why), and
    per row and seed the files that could not be used."""

    rows: dict[tuple, RowData]
    skipped: dict[tuple, str]
    #: Per row key, per seed: why that seed's predictions were not used (file and line).
    problems: dict[tuple, dict[Any, str]]
    #: Other things worth a warning (a plugin metric whose per-track form disagrees).
    warnings: list[str]


def load_rows(results: Iterable[Mapping[str, Any]], metrics: Sequence[MetricSpec] = ()) -> Loaded:
    """Row data of every leaderboard row whose ok jobs saved predictions (results carry
    ``job_dir``, as :func:`genrebench.reporting.leaderboard.find_results` adds; rows and seeds as
    :func:`genrebench.reporting.leaderboard.select` keeps them), keyed by
    :func:`genrebench.reporting.leaderboard.row_key`.

    Every predictions file is checked as it is read (:func:`genrebench.results.outputs.
    read_predictions`) and against the job: as many tracks as ``metrics.json`` says, the
    planned test tracks' checksum where none was lost, the same tracks as the row's other
    seeds.  A seed whose file fails is left out of the row with the reason (file and
    line) in ``problems``.  ``metrics``: metric specs whose ``per_track`` form gives
    plugins' metrics their columns here."""

    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in select(results):
        if r.get("status") == "ok" and r.get("job_dir"):
            groups.setdefault(row_key(r), []).append(r)
    loaded = Loaded({}, {}, {}, [])
    for key, runs in sorted(groups.items()):
        runs = sorted(runs, key=lambda r: str(r["seed"]))
        try:
            row = _row(key, runs, metrics, loaded)
        except (OSError, ValueError, KeyError) as exc:
            loaded.skipped[key] = f"{type(exc).__name__}: {exc}"
            continue
        if row is None:
            reasons = loaded.problems.get(key, {})
            loaded.skipped[key] = "; ".join(reasons.values()) or "no readable predictions"
        else:
            loaded.rows[key] = row
    return loaded


def _row(
    key: tuple, runs: Sequence[Mapping[str, Any]], metrics: Sequence[MetricSpec], loaded: Loaded
) -> RowData | None:
    first = runs[0]
    task, classes = first["task"], list(first["classes"])

    def lost(r: Mapping[str, Any], reason: str) -> None:
        loaded.problems.setdefault(key, {}).setdefault(r["seed"], reason)

    read = []
    for r in runs:
        path = Path(r["job_dir"]) / "predictions.csv"
        try:
            ids, labels, p = outputs.read_predictions(path, classes, task)
        except FileNotFoundError:
            lost(r, f"seed {r['seed']} has no {path.name} ({path.parent})")
            continue
        except (OSError, ValueError) as exc:  # PredictionsError names file and line
            lost(r, f"seed {r['seed']}: {exc}")
            continue
        problem = _track_problem(r, path, ids)
        if problem:
            lost(r, f"seed {r['seed']}: {problem}")
            continue
        read.append((r, path, *_sorted_by_id(ids, labels, p)))
    if not read:
        return None
    # The seeds must share their tracks: those most seeds share are the row's.
    shares = Counter(tuple(ids) for _, _, ids, _, _ in read)
    track_ids = list(shares.most_common(1)[0][0])
    y = next(labels for _, _, ids, labels, _ in read if ids == track_ids)
    kept = []
    for r, path, ids, labels, p in read:
        if ids != track_ids or not np.array_equal(labels, y):
            lost(r, f"seed {r['seed']}: {_difference(path, ids, track_ids)}")
        else:
            kept.append((r, p))
    runs = [r for r, _ in kept]
    probs = [p for _, p in kept]
    calibrated = []
    for r in runs:
        path = Path(r["job_dir"]) / "predictions_calibrated.csv"
        if not path.exists():
            continue
        try:
            ids, _, p = read_predictions(path, classes, task)
        except (OSError, ValueError) as exc:
            lost(r, f"seed {r['seed']}: {exc}")
            continue
        if ids == track_ids:
            calibrated.append(p)
        else:
            lost(r, f"seed {r['seed']}: {path} holds other tracks than predictions.csv")
    extra: dict[str, tuple[list, list]] = {}
    for r in runs:
        try:
            parts = _extra_parts(r, track_ids, y, task, classes)
        except (OSError, ValueError, KeyError) as exc:
            lost(r, f"seed {r['seed']}: {exc}")
            parts = {}
        for column, (num, den) in parts.items():
            extra.setdefault(column, ([], []))
            extra[column][0].append(num)
            extra[column][1].append(den)
    complete = {c: (np.stack(a), np.stack(b)) for c, (a, b) in extra.items() if len(a) == len(runs)}
    row = RowData(
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
    row.extra.update(_per_track_columns(row, runs, metrics, loaded.warnings))
    return row


def _sorted_by_id(ids, labels, probs):
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return [ids[i] for i in order], labels[order], probs[order]


def _track_problem(result: Mapping[str, Any], path: Path, ids: Sequence[str]) -> str:
    """Why the track ids of a job's predictions are not the job's test tracks ("" when
    they are, as far as the job recorded them)."""
    n = result.get("n_test_tracks")
    if isinstance(n, int) and not isinstance(n, bool) and n != len(ids):
        return f"{path} has {len(ids)} tracks, its metrics.json says {n} test tracks"
    planned = result.get("_evaluation_set")
    lost = result.get("n_test_tracks_lost") or 0
    if planned and planned[1] == len(ids) and not lost:
        # lazy: loads soundfile, soxr, not needed at import time
        from genrebench.run.stages import split_checksum

        if split_checksum(ids) != planned[0]:
            return (
                f"the track ids in {path} are not the job's planned test tracks (their "
                "checksum differs from the one recorded with the job)"
            )
    return ""


def _difference(path: Path, ids: Sequence[str], reference: Sequence[str]) -> str:
    """Which of ``ids`` (a seed's, sorted) the row's other seeds do not have, with its line
    in ``path``, or which track it lacks."""
    extra = sorted(set(ids) - set(reference))
    if extra:
        try:
            order = outputs.read_predictions_ids(path)
            where = f" line {order.index(extra[0]) + 2}"
        except (OSError, ValueError):
            where = ""
        return f"{path}{where}: track {extra[0]!r} is not among the other seeds' test tracks" + (
            f" ({len(extra)} such tracks)" if len(extra) > 1 else ""
        )
    missing = sorted(set(reference) - set(ids))
    if missing:
        return f"{path} lacks track {missing[0]!r} that the other seeds were tested on"
    return f"{path} gives other labels than the other seeds for the same tracks"


def _per_track_columns(
    row: RowData, runs: Sequence[Mapping[str, Any]], metrics: Sequence[MetricSpec], warnings
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-seed, per-track values of every metric with a ``per_track`` form (plugins'
    metrics), and of their ``_calibrated`` columns, as weighted-mean parts; a column whose
    per-track mean disagrees with the value the job recorded is left out with a warning."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for spec in metrics:
        if spec.task != row.task or spec.per_track is None:
            continue
        versions = [("", row.probs)]
        if row.calibrated is not None:
            versions.append((CALIBRATED, row.calibrated))
        for suffix, probs in versions:
            values: dict[str, list[np.ndarray]] = {}
            try:
                for s in range(row.n_seeds):
                    got = spec.per_track(row.y, probs[s], float(row.thresholds[s]))
                    got = got if isinstance(got, Mapping) else {spec.column_names()[0]: got}
                    for column, v in got.items():
                        values.setdefault(column, []).append(np.asarray(v, dtype=float))
            except Exception as exc:  # a plugin's code: its column gets no interval
                warnings.append(
                    f"metric {spec.name!r}: its per-track form failed on {row.key[0]} "
                    f"({type(exc).__name__}: {exc}); no interval for it"
                )
                continue
            for column, per_seed in values.items():
                name = f"{column}{suffix}"
                if any(v.shape != (len(row.track_ids),) for v in per_seed):
                    warnings.append(
                        f"metric {spec.name!r}: its per-track form returned another shape "
                        f"than one value per track for {name!r}; no interval for it"
                    )
                    continue
                for r, v in zip(runs, per_seed, strict=True):
                    recorded = (r.get("metrics") or {}).get(name)
                    if recorded is None or not np.isfinite(recorded):
                        continue
                    mean = float(np.mean(v))
                    if not abs(mean - recorded) <= 1e-6 * max(1.0, abs(recorded)):
                        warnings.append(
                            f"metric {spec.name!r}: the mean of its per-track form on "
                            f"{row.key[0]} seed {r['seed']} is {mean:.6g}, the metric gave "
                            f"{recorded:.6g}; no interval for {name!r}"
                        )
                        break
                else:
                    stacked = np.stack(per_seed)
                    out[name] = (stacked, np.ones_like(stacked))
    return out


def read_predictions(
    path: Path, classes: Sequence[str], task: str, *, per_segment: bool = False
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """:func:`genrebench.results.outputs.read_predictions`, rows sorted by track id (so that the
    seeds and rows of one data set line up)."""
    ids, y, probs = outputs.read_predictions(path, classes, task, per_segment=per_segment)
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return [ids[i] for i in order], y[order], probs[order]


def _extra_parts(result, track_ids, y, task, classes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-track numerator and denominator of ``accuracy_raw`` and ``accuracy_<rule>``,
    from ``segment_predictions.csv`` (single-label jobs with several segments per track)."""
    wanted = [c for c in result.get("metrics", {}) if c.startswith("accuracy_")]
    path = Path(result["job_dir"]) / "segment_predictions.csv"
    if task != "single-label" or not wanted or not path.exists():
        return {}

    seg_ids, seg_y, seg_probs = read_predictions(path, classes, task, per_segment=True)
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


def _counted(parts: Callable, score: Callable, row: RowData, w: np.ndarray) -> np.ndarray:
    """``score(tp, fp, fn)`` of the weighted counts of ``parts(row)``; bound to its parts and
    score with :func:`functools.partial` in :data:`WEIGHTED` (a function that runs when a
    metric is computed, not a closure made at import: mutation testing reaches it)."""
    return score(*_counts(*parts(row), w))


def _binned_error(confidence: np.ndarray, outcome: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted ECE (as :func:`genrebench.evaluation.metrics.binary_ece`) of ``confidence`` and
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


def _ranked(score: str, row: RowData, w: np.ndarray) -> np.ndarray:
    """Weighted macro ROC-AUC (``score`` "auc") or average precision ("ap") over the classes
    (labels) with at least one positive and one negative track in the resample, as
    :func:`genrebench.evaluation.metrics.roc_auc` / ``multilabel_pr_auc``; every seed and class at
    once."""
    truth = row.y if row.task == "multi-label" else _one_hot(row.y, len(row.classes))
    scores = np.moveaxis(row.probs, 2, 1)  # (S, C, T)
    truth = np.broadcast_to(truth.T.astype(float), scores.shape)
    fn = _weighted_auc if score == "auc" else _weighted_ap
    values = fn(scores, truth, w)  # (B, S, C)
    with np.errstate(all="ignore"):
        usable = np.isfinite(values).any(axis=2)
        mean = np.nansum(values, axis=2) / np.maximum(np.isfinite(values).sum(axis=2), 1)
    return np.where(usable, mean, np.nan)


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


def _mean_of(per_track: Callable[[RowData], np.ndarray], row: RowData, w: np.ndarray) -> np.ndarray:
    return _weighted_mean(per_track(row), w)


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
        "accuracy": partial(_mean_of, lambda r: _single_parts(r)[1]),
        "f1_macro": partial(
            _counted, _single_count_parts, lambda tp, fp, fn: _f1(tp, fp, fn, "macro")
        ),
        "f1_micro": partial(
            _counted, _single_count_parts, lambda tp, fp, fn: _f1(tp, fp, fn, "micro")
        ),
        "roc_auc": partial(_ranked, "auc"),
        "hamming_loss": partial(_mean_of, lambda r: 2 * (1 - _single_parts(r)[1]) / len(r.classes)),
        "ece": _single_ece,
        "classwise_ece": _per_class_ece,
        "nll": partial(_mean_of, _single_nll),
        "brier": partial(
            _mean_of, lambda r: ((r.probs - _one_hot(r.y, len(r.classes))[None]) ** 2).sum(axis=2)
        ),
    },
    "multi-label": {
        "accuracy": partial(
            _mean_of, lambda r: (_multi_pred(r) == r.y[None]).all(axis=2).astype(float)
        ),
        "label_accuracy": partial(_mean_of, lambda r: (_multi_pred(r) == r.y[None]).mean(axis=2)),
        "hamming_loss": partial(_mean_of, lambda r: (_multi_pred(r) != r.y[None]).mean(axis=2)),
        "f1_macro": partial(
            _counted, _multi_count_parts, lambda tp, fp, fn: _f1(tp, fp, fn, "macro")
        ),
        "f1_micro": partial(
            _counted, _multi_count_parts, lambda tp, fp, fn: _f1(tp, fp, fn, "micro")
        ),
        "precision_macro": partial(
            _counted, _multi_count_parts, lambda tp, fp, fn: _ratio(tp, tp + fp).mean(-1)
        ),
        "precision_micro": partial(
            _counted, _multi_count_parts, lambda tp, fp, fn: _ratio(tp.sum(-1), (tp + fp).sum(-1))
        ),
        "recall_macro": partial(
            _counted, _multi_count_parts, lambda tp, fp, fn: _ratio(tp, tp + fn).mean(-1)
        ),
        "recall_micro": partial(
            _counted, _multi_count_parts, lambda tp, fp, fn: _ratio(tp.sum(-1), (tp + fn).sum(-1))
        ),
        "roc_auc": partial(_ranked, "auc"),
        "pr_auc": partial(_ranked, "ap"),
        "ece": _per_class_ece,
        "nll": partial(_mean_of, _multi_nll),
        "brier": partial(_mean_of, lambda r: ((r.probs - r.y[None]) ** 2).mean(axis=2)),
    },
}


CALIBRATED = "_calibrated"

#: The range of every builtin column with a weighted form, where it is not [0, 1]: an
#: interval is clipped to its column's range (the bias-shifted fallback can leave it).
UNBOUNDED = (-math.inf, math.inf)
RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "single-label": {"nll": (0.0, math.inf), "brier": (0.0, 2.0)},
    "multi-label": {"nll": (0.0, math.inf)},
}


def bounds_of(task: str, column: str, metrics: Sequence[MetricSpec] = ()) -> tuple[float, float]:
    """The range of a leaderboard column: a plugin metric's ``bounds``, else [0, 1] for the
    builtin metrics (``nll`` [0, inf), single-label ``brier`` [0, 2]) and for
    ``accuracy_raw`` / ``accuracy_<rule>``; unbounded for anything else."""
    base = column.removesuffix(CALIBRATED)
    for spec in metrics:
        # A spec that declares no range (the default, unbounded) leaves it to the known
        # ranges below: the builtin metrics declare none, and ECE must not dip below 0.
        if spec.task == task and base in spec.column_names() and spec.bounds != UNBOUNDED:
            return tuple(spec.bounds)
    if base in RANGES.get(task, {}):
        return RANGES[task][base]
    if base in WEIGHTED.get(task, {}) or base.startswith("accuracy_"):
        return (0.0, 1.0)
    return UNBOUNDED


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
