"""Confidence intervals and significance tests for leaderboard rows, from the per-track
predictions every job saves.

**Intervals.**  A row is one experiment on one data set and profile, trained with several
seeds and tested on the same test tracks.  Its 95 % interval is a two-level bootstrap
(``scipy.stats.bootstrap``, ``paired=False``, 2,000 resamples, BCa intervals, a fixed
generator seed so the leaderboard is reproducible): each resample draws the test tracks
with replacement *and*, independently, the seeds with replacement, scores every drawn
seed's predictions on the drawn tracks with the metric, and averages over the drawn seeds.
The interval so reflects both the test-set sampling and the training variance between
seeds (with one seed: the test set only; with two seeds the training part is a coarse
estimate).  The point estimate stays the leaderboard's mean over seeds.  Where BCa is
undefined or misses the estimate (extreme resampling bias, as for ECE on small test sets),
the interval is the percentile interval of the resamples shifted by their bias.

Resamples are scored all at once as track weights (:mod:`genrebench.resampling`).

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from genrebench.errors import ConfigError
from genrebench.resampling import RowData, columns_of, load_rows, weighted

CONFIDENCE = 0.95
N_RESAMPLES = 2000
ALPHA = 0.05
#: The metric rows are ranked and compared by (the leaderboard's sort key).
RANK_METRIC = "accuracy"
#: Seed of the bootstrap generator: the same runs always give the same intervals.
BOOTSTRAP_SEED = 0
KEY = ("experiment", "dataset", "profile")


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


def _bootstrap(samples, statistic, n_resamples: int, n_tracks: int):
    """scipy's bootstrap with BCa intervals (bias-corrected and accelerated: ECE, for one,
    is biased upwards under resampling, and a percentile interval would sit above the
    estimate).  BCa fails where the bias is extreme: every resample on one side of the
    estimate makes it undefined, and nearly every one collapses it onto the extreme
    resamples, away from the estimate (multi-label ECE on 40 tracks).  There the interval
    is the percentile interval of the resamples shifted by their bias (mean resample minus
    estimate): the resampling spread, centred where the estimate is."""
    import warnings

    from scipy import stats

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
                method="BCa",
                batch=max(1, min(n_resamples, 4_000_000 // max(n_tracks, 1))),
                rng=np.random.default_rng(BOOTSTRAP_SEED),
            )
            estimate = np.atleast_1d(np.asarray(statistic(*samples), dtype=float))
    low = np.atleast_1d(np.asarray(result.confidence_interval.low, dtype=float)).copy()
    high = np.atleast_1d(np.asarray(result.confidence_interval.high, dtype=float)).copy()
    replicates = np.asarray(result.bootstrap_distribution, dtype=float).reshape(len(low), -1)
    tail = (1 - CONFIDENCE) / 2 * 100
    with np.errstate(invalid="ignore"):
        failed = ~(np.isfinite(low) & np.isfinite(high)) | (estimate < low) | (estimate > high)
    for i in np.flatnonzero(failed & np.isfinite(estimate)):
        values = replicates[i][np.isfinite(replicates[i])]
        if values.size:
            bias = values.mean() - estimate[i]
            low[i], high[i] = np.percentile(values - bias, [tail, 100 - tail])
    return low, high, replicates


def intervals(
    row: RowData, columns: Sequence[str] | None = None, n_resamples: int = N_RESAMPLES
) -> dict[str, tuple[float, float]]:
    """95 % interval of each metric column of ``row`` (see the module docstring)."""
    columns = list(columns or columns_of(row))
    single = _row_statistic(row, columns)

    def statistic(*draws, axis=-1):
        [seeds] = _unpack([row], draws[1:])
        return single(draws[0], seeds)

    low, high, _ = _bootstrap(_samples(row), statistic, n_resamples, len(row.track_ids))
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

    low, high, replicates = _bootstrap(_samples(a, b), statistic, n_resamples, len(a.track_ids))
    value_a, value_b = (
        float(_row_statistic(r, [metric])(np.arange(len(r.track_ids)))[0]) for r in (a, b)
    )
    observed = value_a - value_b
    replicates = replicates[0][np.isfinite(replicates[0])]
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
        difference_low=float(low[0]),
        difference_high=float(high[0]),
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


# --------------------------------------------------------------------------- when to show it
def friedman_limits(n_experiments: int, n_datasets: int, alpha: float = ALPHA) -> str | None:
    """Why Friedman's test and Nemenyi's critical difference cannot find anything with
    ``n_experiments`` experiments ranked on ``n_datasets`` data sets, or None when they can.

    With k experiments on N data sets the largest Friedman statistic (every data set ranks
    them alike) is N (k - 1): when even its p-value is at least ``alpha`` the test can never
    reject.  Nemenyi's critical difference is q_alpha sqrt(k (k + 1) / (6 N)) (Demšar 2006;
    q_alpha the studentized range quantile over sqrt 2); when it is larger than k - 1, the
    largest possible difference of mean ranks, no two experiments can ever be separated."""
    k, n = n_experiments, n_datasets
    if k < 3 or n < 2:
        return (
            f"{k} experiment(s) on {n} data set(s): the analysis ranks at least 3 experiments "
            f"on at least 2 data sets{_needs(k)}"
        )
    largest, p_largest = _largest_friedman(k, n)
    cd = critical_difference(k, n, alpha)
    problems = []
    if p_largest >= alpha:
        problems.append(
            f"the largest possible Friedman χ² is {largest:.1f} (p = {p_largest:.3f} ≥ {alpha})"
        )
    if cd > k - 1:
        problems.append(
            f"Nemenyi's critical difference {cd:.3f} exceeds the largest possible difference "
            f"of mean ranks, {k - 1}"
        )
    if not problems:
        return None
    return (
        f"{k} experiments on {n} data sets can never give a significant result: "
        + " and ".join(problems)
        + _needs(k)
    )


def critical_difference(n_experiments: int, n_datasets: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of mean ranks (Demšar 2006, eq. 5)."""
    from scipy import stats

    k = n_experiments
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n_datasets)))


def _largest_friedman(k: int, n: int) -> tuple[float, float]:
    from scipy import stats

    largest = float(n * (k - 1))
    return largest, float(stats.chi2.sf(largest, k - 1))


def min_datasets(n_experiments: int, alpha: float = ALPHA, limit: int = 1000) -> int | None:
    """The fewest data sets on which ``n_experiments`` (at least 3) experiments can give a
    significant Friedman test and critical difference."""
    k = max(n_experiments, 3)
    for n in range(2, limit + 1):
        if _largest_friedman(k, n)[1] < alpha and critical_difference(k, n, alpha) <= k - 1:
            return n
    return None


def _needs(k: int) -> str:
    n = min_datasets(k)
    what = f"{k} experiments" if k >= 3 else "3 experiments"
    return f"; {what} need at least {n} data sets" if n else ""


@dataclass
class FriedmanDecision:
    """The across-data-sets analysis of one profile and task: drawn (``result``) or left
    out (``reason``)."""

    profile: str
    task: str
    datasets: list[str]
    experiments: list[str]
    result: Friedman | None
    reason: str


def friedman_decisions(board: pd.DataFrame, metric: str = RANK_METRIC) -> list[FriedmanDecision]:
    """Per profile and task, Friedman's test over the experiments that ran on every data
    set of that task, or why it is left out.  Like is ranked with like: single-label and
    multi-label data sets apart (``accuracy`` is subset accuracy on the second), seed
    ensembles and other ensembles left out (they repeat their members), and only rows of
    the benchmark protocol where the board says which protocol a row used."""
    decisions = []
    if board.empty:
        return decisions
    rows = board[board["status"] != "failed"] if "status" in board else board
    if "ensemble_of" in rows:
        rows = rows[rows["ensemble_of"].fillna("") == ""]
    if "protocol" in rows:
        rows = rows[rows["protocol"].fillna("benchmark").isin(["benchmark", ""])]
    rows = rows[rows[metric].notna()] if metric in rows else rows.iloc[0:0]
    for (profile, task), part in rows.groupby(["profile", "task"], sort=True):
        duplicated = part.duplicated(["dataset", "experiment"], keep=False)
        left_out = sorted(set(part.loc[duplicated, "dataset"]))
        part = part[~part["dataset"].isin(left_out)]
        table = part.pivot_table(index="dataset", columns="experiment", values=metric)
        table = table.dropna(axis=1, how="any")
        k, n = table.shape[1], table.shape[0]
        reason = friedman_limits(k, n) or ""
        if left_out:
            reason = (
                f"{', '.join(left_out)} left out (an experiment there has rows on several "
                "test-track sets); " + reason
            ).rstrip("; ")
        result = None
        if not friedman_limits(k, n):
            [result] = friedman(part.assign(profile=profile), metric)
        decisions.append(
            FriedmanDecision(
                str(profile), str(task), list(table.index), list(table.columns), result, reason
            )
        )
    return decisions
