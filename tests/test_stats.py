"""Statistics of the leaderboard: weighted metrics against the registered metrics,
intervals against a direct scipy call, McNemar against statsmodels, Holm marks, and the
refusal to compare rows tested on different tracks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from genrebench import resampling, stats
from genrebench.plugins import load_plugins

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib
from stats_fixtures import make_row, save_rows


@pytest.mark.parametrize("task", ["single-label", "multi-label"])
def test_weighted_metrics_equal_the_registered_metrics_on_repeated_rows(task):
    registry = load_plugins(autoload=False)
    row = make_row(task, n_seeds=2)
    rng = np.random.default_rng(1)
    draws = rng.integers(0, len(row.track_ids), size=(3, len(row.track_ids)))
    w = np.stack([np.bincount(d, minlength=len(row.track_ids)) for d in draws]).astype(float)
    specs = [s for s in registry.specs("metrics") if s.task == task]
    checked = set()
    for b, d in enumerate(draws):
        for s in range(row.n_seeds):
            expected = {}
            for spec in specs:
                value = spec.compute(row.y[d], row.probs[s][d], 0.5)
                expected.update(value if isinstance(value, dict) else {spec.name: value})
            for column in resampling.columns_of(row):
                got = resampling.weighted(row, column)(row, w)[b, s]
                assert got == pytest.approx(expected[column], abs=1e-9, nan_ok=True), column
                checked.add(column)
    assert {"accuracy", "f1_macro", "roc_auc", "ece", "hamming_loss"} <= checked


def test_extra_columns_accuracy_raw_and_vote_are_weighted_ratios():
    row = make_row()
    num = np.array([[1.0, 2.0, 0.0, 3.0] * 10] * 2)
    den = np.full((2, 40), 3.0)
    row.extra["accuracy_raw"] = (num, den)
    w = np.ones((1, 40))
    w[0, 0] = 3
    got = resampling.weighted(row, "accuracy_raw")(row, w)
    expected = (num[0] @ w[0]) / (den[0] @ w[0])
    assert got[0, 0] == pytest.approx(expected)


def test_one_seed_interval_equals_a_direct_scipy_bootstrap_over_tracks():
    row = make_row(n_seeds=1)
    correct = (row.probs[0].argmax(axis=1) == row.y).astype(float)
    direct = scipy_stats.bootstrap(
        (correct,),
        np.mean,
        n_resamples=stats.N_RESAMPLES,
        confidence_level=0.95,
        method="BCa",
        rng=np.random.default_rng(stats.BOOTSTRAP_SEED),
    )
    low, high = stats.intervals(row, ["accuracy"])["accuracy"]
    assert (low, high) == pytest.approx(
        (direct.confidence_interval.low, direct.confidence_interval.high), abs=1e-12
    )
    assert low < correct.mean() < high


def test_seed_resampling_widens_the_interval_when_seeds_disagree():
    row = make_row(n_seeds=2, skill=1.0)
    # Seed 1 predicts far better than seed 0: training variance the interval must show.
    row.probs[1] = np.eye(len(row.classes))[row.y] * 0.9 + 0.1 / len(row.classes)
    pooled = stats.intervals(row, ["accuracy"])["accuracy"]
    tracks_only = make_row(n_seeds=1, skill=1.0)
    tracks_only.probs = row.probs.mean(axis=0, keepdims=True)
    single = stats.intervals(tracks_only, ["accuracy"])["accuracy"]
    assert pooled[1] - pooled[0] > 1.5 * (single[1] - single[0])


def test_comparison_matches_statsmodels_mcnemar_and_a_paired_bootstrap():
    from statsmodels.stats.contingency_tables import mcnemar

    a = make_row(n_seeds=1, skill=3.0, key=("a", "d", "q"))
    b = make_row(n_seeds=1, skill=0.5, seed=5, key=("b", "d", "q"), y=a.y)
    c = stats.compare(a, b)
    right_a = a.probs[0].argmax(1) == a.y
    right_b = b.probs[0].argmax(1) == b.y
    table = [
        [np.sum(right_a & right_b), np.sum(right_a & ~right_b)],
        [np.sum(~right_a & right_b), np.sum(~right_a & ~right_b)],
    ]
    assert c.p_mcnemar == pytest.approx(mcnemar(table, exact=True).pvalue)
    assert (c.only_a, c.only_b) == (table[0][1], table[1][0])
    assert c.difference == pytest.approx(right_a.mean() - right_b.mean())
    direct = scipy_stats.bootstrap(
        (right_a.astype(float), right_b.astype(float)),
        lambda x, y, axis=-1: x.mean(axis) - y.mean(axis),
        paired=True,
        n_resamples=stats.N_RESAMPLES,
        method="BCa",
        rng=np.random.default_rng(stats.BOOTSTRAP_SEED),
    )
    assert (c.difference_low, c.difference_high) == pytest.approx(
        (direct.confidence_interval.low, direct.confidence_interval.high), abs=1e-12
    )
    assert c.difference_low > 0 and c.p_bootstrap < 0.01


def test_rows_on_different_test_tracks_are_not_compared():
    a = make_row(key=("a", "d", "q"))
    b = make_row(key=("b", "d", "q"), n_tracks=41)
    with pytest.raises(stats.NotComparable, match="different test tracks"):
        stats.compare(a, b)


def test_holm_marks_the_best_and_the_rows_not_significantly_worse(tmp_path):
    strong = make_row(n_seeds=2, skill=4.0, key=("strong", "d", "q"))
    close = make_row(n_seeds=2, skill=4.0, seed=1, key=("close", "d", "q"), y=strong.y)
    weak = make_row(n_seeds=2, skill=0.0, seed=2, key=("weak", "d", "q"), y=strong.y)
    board, results = save_rows(tmp_path, [strong, close, weak])
    marked = stats.annotate(board, results).set_index("experiment")
    best = marked["accuracy"].idxmax()
    assert marked.loc[best, "significance"] == "best"
    other = "close" if best == "strong" else "strong"
    assert marked.loc[other, "significance"] == "tied"
    assert marked.loc["weak", "significance"] == "worse"
    assert marked.loc["weak", "p_vs_best_holm"] < 0.05
    # Holm: the adjusted p-values are the step-down maxima of the sorted raw ones times k, k-1.
    from statsmodels.stats.multitest import multipletests

    raw = marked.loc[[other, "weak"], "p_vs_best"].to_numpy()
    assert np.allclose(
        marked.loc[[other, "weak"], "p_vs_best_holm"], multipletests(raw, method="holm")[1]
    )
    for column in ("accuracy", "f1_macro", "roc_auc", "ece"):
        assert (marked[f"{column}_ci_low"] <= marked[column] + 1e-9).all(), column
        assert (marked[f"{column}_ci_high"] >= marked[column] - 1e-9).all(), column


def test_friedman_and_nemenyi_need_three_experiments_on_two_or_more_data_sets():
    rng = np.random.default_rng(0)
    rows = [
        {
            "experiment": e,
            "dataset": d,
            "profile": "quick",
            "status": "ok",
            "accuracy": base + rng.normal(0, 0.01),
        }
        for d in ("a", "b", "c", "d", "e")
        for e, base in (("x", 0.9), ("y", 0.7), ("z", 0.5))
    ]
    [result] = stats.friedman(pd.DataFrame(rows))
    direct = scipy_stats.friedmanchisquare(
        *[[r["accuracy"] for r in rows if r["experiment"] == e] for e in "xyz"]
    )
    assert result.p_value == pytest.approx(direct.pvalue)
    assert list(result.mean_ranks.index) == ["x", "y", "z"]
    assert stats.friedman(pd.DataFrame([r for r in rows if r["dataset"] == "a"])) == []


def test_compare_command_prints_one_comparison_and_refuses_other_test_tracks(tmp_path, capsys):
    from genrebench.cli import main

    a = make_row(n_seeds=2, skill=3.0, key=("a", "d", "q"))
    b = make_row(n_seeds=1, skill=1.0, seed=3, key=("b", "d", "q"), y=a.y)
    other = make_row(n_seeds=1, n_tracks=30, key=("c", "d", "q"))
    save_rows(tmp_path, [a, b, other])
    assert main(["compare", "a", "b", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "a vs b on d (profile q), 40 shared test tracks" in out
    assert "McNemar" in out and "paired bootstrap" in out
    assert main(["compare", "a", "c", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "different test tracks" in err and "40 and 30 tracks" in err
    assert main(["compare", "a", "nope", str(tmp_path)]) == 2
    assert "no finished run of 'nope'" in capsys.readouterr().err


def test_an_interval_that_bca_puts_beside_the_estimate_is_the_bias_shifted_percentile_one():
    # Nearly constant multi-label probabilities: ECE is small and resampling inflates it,
    # so BCa's bias correction pushes its interval onto the extreme resamples, below the
    # estimate (0.031-0.038 around 0.047 here).  The fallback must cover the estimate.
    row = make_row("multi-label", n_seeds=2, seed=1)
    noise = np.random.default_rng(1).normal(size=row.probs.shape)
    row.probs = np.clip(np.round(row.y.mean() + 0.02 * noise, 2), 0, 1)
    estimate = resampling.weighted(row, "ece")(row, np.ones((1, 40)))[0].mean()
    low, high = stats.intervals(row, ["ece"])["ece"]
    assert low < estimate < high
    statistic = stats._row_statistic(row, ["ece"])
    rng = np.random.default_rng(stats.BOOTSTRAP_SEED)
    bca = scipy_stats.bootstrap(
        (np.arange(40), np.arange(2)),
        lambda t, s, axis=-1: statistic(t, s)[0],
        vectorized=True,
        paired=False,
        n_resamples=stats.N_RESAMPLES,
        method="BCa",
        rng=rng,
    )
    assert not bca.confidence_interval.low < estimate < bca.confidence_interval.high
    replicates = bca.bootstrap_distribution
    shifted = replicates - (replicates.mean() - estimate)
    assert (low, high) == pytest.approx(tuple(np.percentile(shifted, [2.5, 97.5])), abs=1e-12)
