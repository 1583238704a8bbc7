"""Confidence intervals and significance tests for leaderboard rows, from the per-track
predictions every job saves.

**Intervals.**  A row is one configuration of an experiment on one data set, profile and
protocol, trained with several seeds and tested on the same test tracks (a k-fold seed:
on all its folds' pooled test tracks).  Its 95 % interval is a two-level bootstrap
(``scipy.stats.bootstrap``, ``paired=False``, 2,000 resamples, BCa intervals, a fixed
generator seed so the leaderboard is reproducible): each resample draws the test tracks
with replacement *and*, independently, the seeds with replacement, scores every drawn
seed's predictions on the drawn tracks with the metric, and averages over the drawn seeds.
The interval so reflects both the test-set sampling and the training variance between
seeds (with one seed: the test set only; with two seeds the training part is a coarse
estimate).  The point estimate stays the leaderboard's mean over seeds.  Where BCa is not
usable -- undefined (every resample on one side of the estimate), missing the estimate,
or with an end beyond the outermost resamples (collapsed onto the extreme resamples while
its other end sits beside the estimate: ECE on small test sets) -- the interval is the
percentile interval of the resamples shifted by their bias (:class:`Bootstrap`).  Every
interval is clipped to its metric's range; one resting on fewer than :data:`MIN_TRACKS`
tracks says so.

Resamples are scored all at once as track weights (:mod:`genrebench.reporting.resampling`); plugins'
metrics take part through their ``per_track`` form.

**Paired comparisons.**  The rows of one leaderboard section (one set of test tracks) are
compared with its most accurate row: a paired bootstrap of the accuracy difference (the
same track draws for both rows, seeds drawn independently for each), whose p-value
inverts its interval (:meth:`Bootstrap.p_value`: p < 0.05 exactly when the 95 % interval
excludes 0), and McNemar's exact test (``statsmodels``) of single models, seed against
seed, its p-value the largest of the pairs'; both families of p-values are Holm-corrected
within the section (``statsmodels.stats.multitest.multipletests``).  A row whose
corrected bootstrap p-value is at least 0.05 is "not significantly different" from the
best.  Seed ensembles are not ranked (they repeat their experiment's models), and a
section holding an incomplete row, or fewer than :data:`MIN_TRACKS` tracks, is not ranked
at all (``ranking_note`` says why).

**Across data sets.**  Experiments that ran on every one of several data sets (same
profile and task type) are ranked per data set; Friedman's test (``scipy``) and the
Nemenyi post-hoc test with a critical-difference diagram (``scikit-posthocs``) compare
them, where they can say something (:func:`min_datasets`); :func:`friedman_left_out`
gives the reason where not.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import ndtr, ndtri

from genrebench.errors import ConfigError
from genrebench.reporting.resampling import RowData, bounds_of, columns_of, load_rows, weighted

CONFIDENCE = 0.95
N_RESAMPLES = 2000
ALPHA = 0.05
#: The metric rows are ranked and compared by (the leaderboard's sort key).
RANK_METRIC = "accuracy"
#: Seed of the bootstrap generator: the same runs always give the same intervals.
BOOTSTRAP_SEED = 0
#: The key of a leaderboard row (:data:`genrebench.reporting.leaderboard.ROW_KEY`).
KEY = ("experiment", "dataset", "profile", "protocol")


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
    """statistic(tracks, [seeds]) for scipy: each column's seed-averaged value, shape
    (k, B) for batches of draws (B, n), or (k,) for the 1-D original sample."""
    scorers = [weighted(row, c) for c in columns]

    def statistic(track_draws, seed_draws=None, axis=-1):
        one = np.ndim(track_draws) == 1 and (seed_draws is None or np.ndim(seed_draws) == 1)
        track_draws = np.atleast_2d(track_draws)
        w = _weights(track_draws, len(row.track_ids))
        shares = _seed_shares(
            None if seed_draws is None else np.atleast_2d(seed_draws),
            row.n_seeds,
            track_draws.shape[0],
        )
        with np.errstate(all="ignore"):
            out = np.stack([np.nansum(score(row, w) * shares, axis=1) for score in scorers])
        return out[:, 0] if one else out

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


@dataclass
class Bootstrap:
    """The bootstrap of one or more statistics (index ``i``): the estimate, the resamples,
    and the two methods the interval can come from.

    ``z0`` and ``acceleration``: BCa's bias correction and acceleration (scipy's
    definitions; jackknife over every sample).  Where BCa is not usable -- undefined
    (every resample on one side of the estimate), missing the estimate, or placing an end
    beyond the outermost resamples (an adjusted percentile level below ``1/B`` or above
    ``1 - 1/B``: BCa then collapses onto the extreme resamples while its other end sits
    right beside the estimate) -- the interval is the percentile interval of the
    resamples shifted by their bias (mean resample minus estimate): ``method[i]`` says
    which."""

    estimate: np.ndarray  # (k,)
    replicates: np.ndarray  # (k, B)
    z0: np.ndarray
    acceleration: np.ndarray
    method: list[str]  # "BCa" or "shifted percentile"

    def interval(self, i: int, alpha: float = 1 - CONFIDENCE) -> tuple[float, float]:
        """The ``1 - alpha`` interval of statistic ``i`` by its method."""
        values = self._values(i)
        if values.size == 0:
            return math.nan, math.nan
        if self.method[i] == "BCa":
            levels = self._bca_levels(i, alpha)
            low, high = (float(np.percentile(values, 100 * q)) for q in levels)
            return low, high
        shifted = values - (values.mean() - self.estimate[i])
        low, high = np.percentile(shifted, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        return float(low), float(high)

    def p_value(self, i: int, null: float = 0.0) -> float:
        """The two-sided p-value of ``statistic == null`` that inverts :meth:`interval`:
        the smallest ``alpha`` whose ``1 - alpha`` interval excludes ``null``, so the 95 %
        interval excludes it exactly when p < 0.05 (one method for both).  Not below
        ``1 / (B + 1)``, the resolution of ``B`` resamples."""
        if self._values(i).size == 0 or not np.isfinite(self.estimate[i]):
            return math.nan
        if self.estimate[i] == null:
            return 1.0

        def excludes(alpha: float) -> bool:
            low, high = self.interval(i, alpha)
            return low > null or high < null

        floor = 1.0 / (self._values(i).size + 1)
        if excludes(floor):
            return floor
        top = 1.0 - 1e-9
        if not excludes(top):
            return 1.0
        low, high = floor, top  # excludes(high), not excludes(low)
        for _ in range(60):
            middle = (low + high) / 2
            low, high = (low, middle) if excludes(middle) else (middle, high)
        return float(high)

    def _values(self, i: int) -> np.ndarray:
        values = self.replicates[i]
        return values[np.isfinite(values)]

    def _bca_levels(self, i: int, alpha: float) -> tuple[float, float]:

        z0, a = self.z0[i], self.acceleration[i]
        z = ndtri(alpha / 2)
        low, high = z0 + z, z0 - z
        return float(ndtr(z0 + low / (1 - a * low))), float(ndtr(z0 + high / (1 - a * high)))


def _bootstrap(samples, statistic, n_resamples: int, n_tracks: int) -> Bootstrap:
    """scipy's bootstrap (the resamples, drawn with a fixed seed) and BCa's parameters:
    a :class:`Bootstrap` that knows which method each statistic's interval takes."""

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        with np.errstate(all="ignore"):
            result = stats.bootstrap(
                samples,
                statistic,
                vectorized=True,
                paired=False,
                n_resamples=n_resamples,
                confidence_level=CONFIDENCE,
                method="percentile",  # only the resamples are used: intervals are made below
                batch=max(1, min(n_resamples, 4_000_000 // max(n_tracks, 1))),
                rng=np.random.default_rng(BOOTSTRAP_SEED),
            )
            estimate = np.atleast_1d(np.asarray(statistic(*samples), dtype=float))
            k = len(estimate)
            replicates = np.asarray(result.bootstrap_distribution, dtype=float).reshape(k, -1)
            z0, acceleration = _bca_parameters(samples, statistic, estimate, replicates)
    boot = Bootstrap(estimate, replicates, z0, acceleration, ["BCa"] * k)
    with np.errstate(all="ignore"):
        for i in range(k):
            values = boot._values(i)
            usable = values.size > 0 and np.isfinite(z0[i]) and np.isfinite(acceleration[i])
            if usable:
                levels = boot._bca_levels(i, 1 - CONFIDENCE)
                edge = 1.0 / values.size
                low, high = boot.interval(i)
                usable = (
                    edge <= levels[0]
                    and levels[1] <= 1 - edge
                    and np.isfinite(low)
                    and np.isfinite(high)
                    and low <= estimate[i] <= high
                )
            if not usable:
                boot.method[i] = "shifted percentile"
    return boot


def _bca_parameters(samples, statistic, estimate: np.ndarray, replicates: np.ndarray):
    """BCa's bias correction ``z0`` (from the share of resamples below the estimate,
    ties counted half) and acceleration (jackknife over each sample in turn, the others
    whole), as ``scipy.stats.bootstrap`` computes them."""

    finite = np.isfinite(replicates)
    below = np.sum((replicates < estimate[:, None]) & finite, axis=1)
    at_or_below = np.sum((replicates <= estimate[:, None]) & finite, axis=1)
    n = np.maximum(finite.sum(axis=1), 1)
    z0 = ndtri((below + at_or_below) / (2 * n))
    nums, dens = 0.0, 0.0
    batch = max(1, 4_000_000 // max(len(samples[0]), 1))  # as the resamples' batches
    for j, sample in enumerate(samples):
        size = len(sample)
        parts = []
        for start in range(0, size, batch):
            stop = min(size, start + batch)
            leave_one_out = np.array([np.delete(sample, i) for i in range(start, stop)])
            draws = [np.broadcast_to(other, (stop - start, len(other))) for other in samples]
            draws[j] = leave_one_out
            parts.append(np.atleast_2d(np.asarray(statistic(*draws), dtype=float)))
        theta = np.concatenate(parts, axis=1)  # (k, size)
        u = (size - 1) * (theta.mean(axis=1, keepdims=True) - theta)
        nums = nums + (u**3).sum(axis=1) / size**3
        dens = dens + (u**2).sum(axis=1) / size**2
    acceleration = np.asarray(nums / 6 / np.asarray(dens) ** 1.5, dtype=float)
    return np.asarray(z0, dtype=float), acceleration


def intervals(
    row: RowData,
    columns: Sequence[str] | None = None,
    n_resamples: int = N_RESAMPLES,
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, tuple[float, float]]:
    """95 % interval of each metric column of ``row`` (see the module docstring), clipped
    to the column's range (``bounds``, else :func:`genrebench.reporting.resampling.bounds_of`)."""
    columns = list(columns or columns_of(row))
    single = _row_statistic(row, columns)

    def statistic(*draws, axis=-1):
        [seeds] = _unpack([row], draws[1:])
        return single(draws[0], seeds)

    boot = _bootstrap(_samples(row), statistic, n_resamples, len(row.track_ids))
    out = {}
    for i, column in enumerate(columns):
        low, high = boot.interval(i)
        lo, hi = (bounds or {}).get(column) or bounds_of(row.task, column)
        out[column] = (float(np.clip(low, lo, hi)), float(np.clip(high, lo, hi)))
    return out


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
    #: The p-value that inverts the difference's interval (:meth:`Bootstrap.p_value`):
    #: the interval excludes 0 exactly when ``p_bootstrap < 0.05``.
    p_bootstrap: float
    #: McNemar's exact test per seed pair (single models): tracks right in both, only for
    #: a, only for b, in neither, summed over the pairs.
    only_a: int
    only_b: int
    both: int
    neither: int
    #: The largest p-value of the seed pairs (significant only where every pair is).
    p_mcnemar: float
    seeds_a: int
    seeds_b: int
    #: "BCa" or "shifted percentile": the method of the interval and of ``p_bootstrap``.
    method: str = "BCa"
    #: Per seed pair: (seed of a, seed of b, only a, only b, p).
    mcnemar_pairs: list[tuple] = field(default_factory=list)


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
    """Paired bootstrap of ``metric(a) - metric(b)`` (interval and p-value by one method)
    and McNemar's exact test on accuracy, seed pair by seed pair."""
    check_comparable(a, b)
    stat_a, stat_b = _row_statistic(a, [metric]), _row_statistic(b, [metric])

    def statistic(*draws, axis=-1):
        seeds_a, seeds_b = _unpack([a, b], draws[1:])
        return stat_a(draws[0], seeds_a) - stat_b(draws[0], seeds_b)

    boot = _bootstrap(_samples(a, b), statistic, n_resamples, len(a.track_ids))
    low, high = boot.interval(0)
    value_a, value_b = (
        float(_row_statistic(r, [metric])(np.arange(len(r.track_ids)))[0]) for r in (a, b)
    )
    pairs = mcnemar_pairs(a, b)
    total = np.sum([p[2:6] for p in pairs], axis=0)
    return Comparison(
        a=a.key,
        b=b.key,
        metric=metric,
        n_tracks=len(a.track_ids),
        value_a=value_a,
        value_b=value_b,
        difference=value_a - value_b,
        difference_low=low,
        difference_high=high,
        p_bootstrap=boot.p_value(0),
        both=int(total[0]),
        only_a=int(total[1]),
        only_b=int(total[2]),
        neither=int(total[3]),
        p_mcnemar=max(p[6] for p in pairs),
        seeds_a=a.n_seeds,
        seeds_b=b.n_seeds,
        method=boot.method[0],
        mcnemar_pairs=[(p[0], p[1], p[3], p[4], p[6]) for p in pairs],
    )


def mcnemar_pairs(a: RowData, b: RowData) -> list[tuple]:
    """McNemar's exact test of single models, like with like: seed ``i`` of ``a`` against
    seed ``i`` of ``b`` (seeds in their order; the row with fewer seeds repeats its own
    from the first).  Per pair: (seed a, seed b, both right, only a, only b, neither, p)."""
    # lazy: loads statsmodels, not needed at import time
    from statsmodels.stats.contingency_tables import mcnemar

    right_a, right_b = seed_correct(a), seed_correct(b)
    out = []
    for i in range(max(a.n_seeds, b.n_seeds)):
        ra, rb = right_a[i % a.n_seeds], right_b[i % b.n_seeds]
        table = [
            [int(np.sum(ra & rb)), int(np.sum(ra & ~rb))],
            [int(np.sum(~ra & rb)), int(np.sum(~ra & ~rb))],
        ]
        p = float(mcnemar(table, exact=True).pvalue)
        seeds = (a.seeds[i % a.n_seeds], b.seeds[i % b.n_seeds])
        out.append((*seeds, table[0][0], table[0][1], table[1][0], table[1][1], p))
    return out


def describe_comparison(c: Comparison) -> str:
    """The comparison in full, for ``genrebench compare``."""
    name_a, name_b = c.a[0], c.b[0]
    width = max(len(name_a), len(name_b))
    verdict = "significant" if c.p_bootstrap < ALPHA else "not significant"
    method = (
        "BCa"
        if c.method == "BCa"
        else "percentile interval of the resamples shifted by their bias (BCa was not usable)"
    )
    protocol = f", {c.a[3]} protocol" if len(c.a) > 3 and c.a[3] else ""
    lines = [
        f"{name_a} vs {name_b} on {c.a[1]} (profile {c.a[2]}{protocol}), {c.n_tracks} shared "
        f"test tracks; seeds: {c.seeds_a} and {c.seeds_b}",
        "",
        f"{c.metric} (mean over seeds):",
        f"  {name_a:<{width}}  {c.value_a:.4f}",
        f"  {name_b:<{width}}  {c.value_b:.4f}",
        f"  difference  {c.difference:+.4f}, 95 % interval [{c.difference_low:+.4f}, "
        f"{c.difference_high:+.4f}]",
        f"  paired bootstrap ({N_RESAMPLES} resamples of tracks and seeds, {method}): p = "
        f"{c.p_bootstrap:.4g} ({verdict} at {ALPHA}, uncorrected); the p-value inverts "
        "the interval, so p < 0.05 exactly when the interval excludes 0",
        "",
        "McNemar's exact test on accuracy, single models seed against seed:",
    ]
    for seed_a, seed_b, only_a, only_b, p in c.mcnemar_pairs:
        lines.append(
            f"  seed {seed_a} vs seed {seed_b}: only {name_a} right {only_a}, only {name_b} "
            f"right {only_b}, p = {p:.4g}"
        )
    lines += [
        f"  over {len(c.mcnemar_pairs)} pair(s): right in both {c.both}, only {name_a} "
        f"{c.only_a}, only {name_b} {c.only_b}, in neither {c.neither}; p = {c.p_mcnemar:.4g} "
        "(the largest pair's: significant only where every pair is)",
        "  McNemar tests single models' correctness track by track, the bootstrap the "
        f"difference in mean {c.metric} over tracks and seeds: they answer different "
        "questions and can disagree.",
    ]
    return "\n".join(lines)


def seed_correct(row: RowData) -> np.ndarray:
    """Per seed and track: is that seed's prediction right (all labels right,
    multi-label)?  Shape (S, T)."""
    if row.task == "single-label":
        return row.probs.argmax(axis=2) == row.y[None, :]
    predicted = (row.probs >= row.thresholds[:, None, None]).astype(int)
    return (predicted == row.y[None]).all(axis=2)


# --------------------------------------------------------------------------- the leaderboard
#: Fewer test tracks than this and a row's intervals are too rough to mean much: they are
#: still given (clipped to the metric's range) with ``interval_note`` saying so, and the
#: rows are not ranked.  Below about 20 tracks a resample repeats a handful of tracks and
#: the bootstrap's coverage falls well short of 95 % (Efron and Tibshirani 1993, ch. 14).
MIN_TRACKS = 20


def annotate(
    board: pd.DataFrame,
    results: Iterable[Mapping[str, Any]],
    n_resamples: int = N_RESAMPLES,
    metrics: Sequence[Any] = (),
) -> pd.DataFrame:
    """``board`` with the statistics of its rows, from their saved predictions:

    * ``<metric>_ci_low`` / ``<metric>_ci_high`` for every metric column with a weighted
      form (builtin metrics, ``accuracy_<rule>``, and metrics with a ``per_track`` form among
      ``metrics``), clipped to the metric's range; ``interval_note`` when they rest on
      fewer than :data:`MIN_TRACKS` tracks or on fewer seeds than the row has;
    * ``incomplete`` extended with every predictions file that could not be used (file and
      line);
    * per section, the comparison with its most accurate row: ``significance`` (``best``,
      ``tied``, ``worse``, or empty), ``comparison_group``, ``p_vs_best`` /
      ``p_vs_best_holm`` (paired bootstrap) and ``mcnemar_p_vs_best`` /
      ``mcnemar_p_vs_best_holm``; ``ranking_note`` says why a row has no mark (a seed
      ensemble, a section holding an incomplete row, too few test tracks, nothing to
      compare with).

    ``board.attrs["warnings"]``: sentences for the command line (results left out,
    incomplete rows, plugin metrics without a usable per-track form)."""
    # lazy: loads statsmodels, not needed at import time
    from statsmodels.stats.multitest import multipletests

    board = board.copy()
    if board.empty:
        return board
    loaded = load_rows(results, metrics)
    rows = loaded.rows
    if "protocol" not in board:
        board["protocol"] = ""
    keys = [tuple(k) for k in board[list(KEY)].itertuples(index=False)]
    incomplete = list(board["incomplete"]) if "incomplete" in board else [""] * len(keys)
    interval_notes = [""] * len(keys)
    for position, key in enumerate(keys):
        lost = [*loaded.problems.get(key, {}).values()]
        if key in loaded.skipped and not lost and board.iloc[position]["status"] != "failed":
            lost.append(loaded.skipped[key])
        said = str(incomplete[position] or "")
        new = [text for text in lost if text not in said]
        incomplete[position] = "; ".join([t for t in [said, *new] if t])
    board["incomplete"] = incomplete
    ci: dict[str, list[float]] = {}
    for position, key in enumerate(keys):
        row = rows.get(key)
        if row is None:
            continue
        columns = columns_of(row)
        bounds = {c: bounds_of(row.task, c, metrics) for c in columns}
        found = intervals(row, columns, n_resamples=n_resamples, bounds=bounds)
        for column, (low, high) in found.items():
            if column not in board.columns or not np.isfinite(board.iloc[position][column]):
                continue
            ci.setdefault(f"{column}_ci_low", [math.nan] * len(keys))[position] = low
            ci.setdefault(f"{column}_ci_high", [math.nan] * len(keys))[position] = high
        notes = []
        if len(row.track_ids) < MIN_TRACKS:
            notes.append(
                f"intervals rest on {len(row.track_ids)} test tracks, fewer than "
                f"{MIN_TRACKS}: too few to mean much"
            )
        n_seeds = board.iloc[position].get("n_seeds")
        if isinstance(n_seeds, int | np.integer) and row.n_seeds < n_seeds:
            seeds = ", ".join(str(s) for s in row.seeds)
            notes.append(f"intervals from seed{'s' if row.n_seeds > 1 else ''} {seeds} only")
        interval_notes[position] = "; ".join(notes)
    for name, values in ci.items():
        board[name] = values
    board["interval_note"] = interval_notes
    _rank(board, keys, rows, n_resamples, multipletests)
    warnings = list(board.attrs.get("left_out") or [])
    for _, record in board.iterrows():
        if record["incomplete"]:
            warnings.append(
                f"{record['experiment']} ({record.get('section') or record['dataset']}) is "
                f"incomplete: {record['incomplete']}"
            )
    board.attrs["warnings"] = warnings + loaded.warnings
    return board


def _rank(board, keys, rows, n_resamples, multipletests) -> None:
    """The marks of :func:`annotate`, section by section."""
    n = len(keys)
    extra: dict[str, list] = {
        "significance": [""] * n,
        "ranking_note": [""] * n,
        "comparison_group": [math.nan] * n,
        "p_vs_best": [math.nan] * n,
        "p_vs_best_holm": [math.nan] * n,
        "mcnemar_p_vs_best": [math.nan] * n,
        "mcnemar_p_vs_best_holm": [math.nan] * n,
    }
    sections = board["section"] if "section" in board else board["dataset"] + board["profile"]
    number = 0
    for _, positions in board.groupby(sections, sort=False).indices.items():
        ranked, notes = family(board, keys, rows, list(positions))
        for position, note in notes.items():
            extra["ranking_note"][position] = note
        if not ranked:
            continue
        number += 1
        best, others = ranked[0], ranked[1:]
        extra["significance"][best] = "best"
        found = [compare(rows[keys[best]], rows[keys[i]], n_resamples=n_resamples) for i in others]
        p_boot = multipletests([c.p_bootstrap for c in found], alpha=ALPHA, method="holm")[1]
        p_mc = multipletests([c.p_mcnemar for c in found], alpha=ALPHA, method="holm")[1]
        extra["comparison_group"][best] = number
        for i, c, pb, pm in zip(others, found, p_boot, p_mc, strict=True):
            extra["comparison_group"][i] = number
            extra["p_vs_best"][i] = c.p_bootstrap
            extra["p_vs_best_holm"][i] = float(pb)
            extra["mcnemar_p_vs_best"][i] = c.p_mcnemar
            extra["mcnemar_p_vs_best_holm"][i] = float(pm)
            extra["significance"][i] = "tied" if pb >= ALPHA else "worse"
    for name, values in extra.items():
        board[name] = values


def is_seed_ensemble(record: Mapping[str, Any]) -> bool:
    return str(record.get("ensemble_of") or "").startswith("seeds ")


def family(
    board: pd.DataFrame, keys: Sequence[tuple], rows: Mapping[tuple, RowData], positions
) -> tuple[list[int], dict[int, str]]:
    """The rows of one section that are ranked (best first: highest mean accuracy, then
    name), and for the others why not.  Seed ensembles are never ranked (they would
    inflate the family and repeat their own experiment).  A section is ranked only when
    every other row is complete (no row is crowned over one that lost data), it has at
    least two rows on the same :data:`MIN_TRACKS` or more tracks, and they share them."""
    notes: dict[int, str] = {}
    members = []
    for i in positions:
        record = board.iloc[i]
        if record["status"] == "failed":
            continue
        if is_seed_ensemble(record):
            notes[i] = (
                "seed ensembles are not ranked with the experiments (genrebench compare "
                "compares them)"
            )
            continue
        members.append(i)
    if not members:
        return [], notes
    lacking = [i for i in members if board.iloc[i].get("incomplete")]
    unusable = [
        i
        for i in members
        if rows.get(keys[i]) is None or not np.isfinite(board.iloc[i].get(RANK_METRIC, math.nan))
    ]
    reason = ""
    if lacking:
        names = ", ".join(str(board.iloc[i]["experiment"]) for i in lacking)
        verb = "is" if len(lacking) == 1 else "are"
        reason = (
            f"not ranked: {names} {verb} incomplete, and no row is crowned over an incomplete one"
        )
    elif unusable:
        names = ", ".join(str(board.iloc[i]["experiment"]) for i in unusable)
        reason = f"not ranked: no {RANK_METRIC} or predictions for {names}"
    elif len(members) < 2:
        reason = "not ranked: no other row on these test tracks"
    else:
        first = rows[keys[members[0]]]
        if not all(first.same_tracks(rows[keys[i]]) for i in members[1:]):
            reason = "not ranked: the rows' predictions cover different tracks"
        elif len(first.track_ids) < MIN_TRACKS:
            reason = f"not ranked: {len(first.track_ids)} test tracks, fewer than {MIN_TRACKS}"
    if reason:
        notes.update({i: reason for i in members})
        return [], notes
    order = lambda i: (-float(board.iloc[i][RANK_METRIC]), str(board.iloc[i]["experiment"]))  # noqa: E731
    return sorted(members, key=order), notes


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
    #: The task type of every row ranked (single-label accuracy and multi-label subset
    #: accuracy are never ranked together).
    task: str = ""
    #: The Nemenyi critical difference of mean ranks at ALPHA.
    critical_difference: float = math.nan
    #: What was left out of the analysis (seed ensembles, incomplete rows, ...).
    notes: list[str] = field(default_factory=list)
    #: The protocol of every row ranked (paper-protocol rows are never ranked with others).
    protocol: str = "benchmark"


@dataclass
class FriedmanLeftOut:
    """A group of rows (one profile, protocol and task type) the analysis across data sets could
    say nothing about, and ``reason``, a sentence for the report."""

    profile: str
    task: str
    metric: str
    n_experiments: int
    n_datasets: int
    reason: str
    protocol: str = "benchmark"


def min_datasets(k: int, alpha: float = ALPHA) -> int:
    """The fewest data sets on which Friedman's test of ``k`` experiments can say
    something: its largest possible statistic, ``N (k - 1)`` (every data set ranking the
    experiments alike), reaches p < ``alpha``, and the Nemenyi critical difference is
    below the largest possible difference of mean ranks, ``k - 1``."""

    for n in range(2, 1000):
        p_best = stats.chi2.sf(n * (k - 1), k - 1)
        if p_best < alpha and critical_difference(k, n, alpha) < k - 1:
            return n
    raise ValueError(f"no number of data sets below 1000 suffices for {k} experiments")


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of mean ranks, ``q_alpha sqrt(k (k + 1) / (6 n))``,
    with ``q_alpha`` the studentized range quantile over sqrt(2) (as scikit-posthocs)."""

    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def friedman(board: pd.DataFrame, metric: str = RANK_METRIC) -> list[Friedman]:
    """Friedman's test and the Nemenyi post-hoc test over data sets, where they can say
    something (:func:`across_datasets`)."""
    return across_datasets(board, metric)[0]


def friedman_left_out(board: pd.DataFrame, metric: str = RANK_METRIC) -> list[FriedmanLeftOut]:
    """The groups :func:`friedman` left out, each with its ``reason``."""
    return across_datasets(board, metric)[1]


def across_datasets(
    board: pd.DataFrame, metric: str = RANK_METRIC
) -> tuple[list[Friedman], list[FriedmanLeftOut]]:
    """Friedman's test (scipy) and the Nemenyi post-hoc test (scikit-posthocs) per profile,
    protocol and task type (like with like: single-label accuracy is never ranked with multi-label
    subset accuracy), over the experiments that ran on every data set of the group: each
    data set is one block, ranked on one set of test tracks (its largest section).  Seed
    ensembles are not experiments, failed and incomplete rows are left out.  Run only
    where it can say something: at least 3 experiments on at least :func:`min_datasets`
    data sets (3 for 3 to about 10 experiments); every other group is returned as a
    :class:`FriedmanLeftOut` with the reason."""
    # lazy: loads scikit_posthocs, not needed at import time
    import scikit_posthocs as sp

    done, left_out = [], []
    frame = board.copy()
    for column, default in (("task", ""), ("incomplete", ""), ("ensemble_of", "")):
        if column not in frame:
            frame[column] = default
    if "section" not in frame:
        frame["section"] = frame["dataset"]
    frame["task"] = frame["task"].fillna("")
    if "protocol" not in frame:
        frame["protocol"] = "benchmark"
    frame["protocol"] = frame["protocol"].fillna("benchmark")
    # A row that failed on every seed has no task: it belongs to no group, and must not
    # form an "unknown" group of its own (the leaderboard reports it as failed).
    if "status" in frame:
        frame = frame[frame["status"] != "failed"]
    for (profile, protocol, task), part in frame.groupby(
        ["profile", "protocol", "task"], sort=True
    ):
        notes = []
        ensembles = part["ensemble_of"].fillna("").astype(str).str.startswith("seeds ")
        if ensembles.any():
            notes.append(f"{int(ensembles.sum())} seed-ensemble row(s) (not experiments)")
        usable = part[~ensembles & (part.get("status", "ok") != "failed")]
        usable = usable[usable[metric].notna()] if metric in usable else usable.iloc[0:0]
        lacking = usable["incomplete"].fillna("").astype(str) != ""
        if lacking.any():
            names = ", ".join(sorted(set(usable.loc[lacking, "experiment"])))
            notes.append(f"incomplete rows of {names}")
        usable = usable[~lacking]
        blocks = []
        for dataset, rows in usable.groupby("dataset", sort=True):
            sizes = rows.groupby("section").size().sort_values(ascending=False, kind="stable")
            if len(sizes) > 1:
                notes.append(
                    f"{dataset}: {len(sizes) - 1} section(s) on other test tracks than its largest"
                )
            blocks.append(rows[rows["section"] == sizes.index[0]].assign(dataset=dataset))
        table = (
            pd.concat(blocks).pivot_table(index="dataset", columns="experiment", values=metric)
            if blocks
            else pd.DataFrame()
        )
        table = table.dropna(axis=1, how="any")
        k, n = table.shape[1], table.shape[0]
        what = f"{task or 'unknown'} {metric}" + (
            " (subset accuracy)" if task == "multi-label" and metric == "accuracy" else ""
        )
        # Rows of the paper protocol were tested on each paper's own tracks: never ranked
        # with the benchmark protocol's.
        group = f"profile {profile}" + ("" if protocol == "benchmark" else f", {protocol} protocol")
        reason = ""
        if k < 3:
            reason = (
                f"Friedman/Nemenyi over data sets left out for {what} ({group}): "
                f"{k} experiment(s) ran on every one of the {n} data set(s); it needs at "
                "least 3"
            )
        elif n < min_datasets(k):
            largest = n * (k - 1)
            reason = (
                f"Friedman/Nemenyi over data sets left out for {what} ({group}): "
                f"{k} experiments on {n} data set(s), and with {k} experiments it needs at "
                f"least {min_datasets(k)}: on {n} even identical rankings give chi2 = "
                f"{largest} (p = {stats.chi2.sf(largest, k - 1):.3f}) and a critical "
                f"difference of {critical_difference(k, max(n, 1)):.2f} ranks where mean "
                f"ranks can differ by at most {k - 1}"
            )
        if notes and reason:
            reason += "; also left out: " + "; ".join(notes)
        if reason:
            left_out.append(
                FriedmanLeftOut(str(profile), str(task), metric, k, n, reason, str(protocol))
            )
            continue
        statistic, p_value = stats.friedmanchisquare(*(table[c] for c in table.columns))
        ranks = table.rank(axis=1, ascending=False).mean(axis=0).sort_values()
        nemenyi = sp.posthoc_nemenyi_friedman(table.to_numpy())
        nemenyi.index = nemenyi.columns = list(table.columns)
        done.append(
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
                task=str(task),
                critical_difference=critical_difference(k, n),
                notes=notes,
                protocol=str(protocol),
            )
        )
    return done, left_out
