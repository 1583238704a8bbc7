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

from genrebench.registry.loading import load_plugins
from genrebench.reporting import resampling, stats

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


def ece_row_bca_collapses_on():
    """Nearly constant multi-label probabilities on which BCa's ECE interval ends just
    above the estimate while 97.4 % of the resamples lie above it (issue 19's case)."""
    row = make_row("multi-label", n_seeds=2, seed=4)
    noise = np.random.default_rng(4).normal(size=row.probs.shape)
    row.probs = np.clip(np.round(row.y.mean() + 0.1 * noise, 2), 0, 1)
    return row


def test_an_ece_interval_that_bca_collapses_beside_the_estimate_is_the_shifted_percentile_one():
    row = ece_row_bca_collapses_on()
    estimate = resampling.weighted(row, "ece")(row, np.ones((1, 40)))[0].mean()
    statistic = stats._row_statistic(row, ["ece"])
    bca = scipy_stats.bootstrap(
        (np.arange(40), np.arange(2)),
        lambda t, s, axis=-1: statistic(t, s)[0],
        vectorized=True,
        paired=False,
        n_resamples=stats.N_RESAMPLES,
        method="BCa",
        rng=np.random.default_rng(stats.BOOTSTRAP_SEED),
    )
    # what BCa gives: an interval that holds the estimate, but only just
    assert bca.confidence_interval.low < estimate < bca.confidence_interval.high
    assert bca.confidence_interval.high - estimate < 0.001
    replicates = bca.bootstrap_distribution
    assert (replicates > estimate).mean() > 0.97
    low, high = stats.intervals(row, ["ece"])["ece"]
    shifted = replicates - (replicates.mean() - estimate)
    assert (low, high) == pytest.approx(tuple(np.percentile(shifted, [2.5, 97.5])), abs=1e-12)
    assert high - estimate > 0.02


def test_bca_parameters_reproduce_scipys_bca_interval():
    row = make_row(n_seeds=3, skill=1.0)
    statistic = stats._row_statistic(row, ["accuracy"])
    direct = scipy_stats.bootstrap(
        (np.arange(40), np.arange(3)),
        lambda t, s, axis=-1: statistic(t, s)[0],
        vectorized=True,
        paired=False,
        n_resamples=stats.N_RESAMPLES,
        method="BCa",
        rng=np.random.default_rng(stats.BOOTSTRAP_SEED),
    )
    assert stats.intervals(row, ["accuracy"])["accuracy"] == pytest.approx(
        (direct.confidence_interval.low, direct.confidence_interval.high), abs=1e-12
    )


@pytest.mark.parametrize("seed", [23, 37])  # the old p-value disagreed with the interval
def test_compare_takes_its_interval_and_p_value_from_one_method(seed):
    a = make_row(n_seeds=2, skill=1.6, seed=seed, key=("a", "d", "q", ""))
    b = make_row(n_seeds=2, skill=1.0, seed=seed + 1000, key=("b", "d", "q", ""), y=a.y)
    c = stats.compare(a, b)
    excludes_zero = c.difference_low > 0 or c.difference_high < 0
    assert excludes_zero == (c.p_bootstrap < 0.05)
    # the p-value is the level at which the interval's end reaches 0
    stat_a, stat_b = stats._row_statistic(a, ["accuracy"]), stats._row_statistic(b, ["accuracy"])
    boot = stats._bootstrap(
        stats._samples(a, b),
        lambda t, sa, sb, axis=-1: stat_a(t, sa) - stat_b(t, sb),
        stats.N_RESAMPLES,
        40,
    )
    low, high = boot.interval(0, alpha=c.p_bootstrap * 1.001)
    assert low > 0 or high < 0
    low, high = boot.interval(0, alpha=c.p_bootstrap * 0.999)
    assert low <= 0 <= high
    text = stats.describe_comparison(c)
    assert "the p-value inverts the interval" in text and "can disagree" in text


def test_mcnemar_compares_single_models_so_a_row_and_its_seed_ensemble_differ():
    row = make_row(n_seeds=2, skill=0.8, key=("e", "d", "q", ""))
    ensemble = make_row(n_seeds=1, key=("e (seed ensemble)", "d", "q", ""), y=row.y)
    ensemble.probs = row.probs.mean(axis=0, keepdims=True)
    ensemble.seeds = ["ensemble"]
    c = stats.compare(row, ensemble)
    assert c.only_a + c.only_b > 0  # the old seed-averaged McNemar: 0 and 0, always
    assert [(p[0], p[1]) for p in c.mcnemar_pairs] == [(0, "ensemble"), (1, "ensemble")]
    assert c.p_mcnemar == max(p[4] for p in c.mcnemar_pairs)
    right = row.probs.argmax(axis=2) == row.y
    right_ensemble = ensemble.probs[0].argmax(axis=1) == row.y
    assert c.only_a == int(np.sum(right & ~right_ensemble))
    assert (c.seeds_a, c.seeds_b) == (2, 1)
    text = stats.describe_comparison(c).splitlines()
    assert text[0].endswith("40 shared test tracks; seeds: 2 and 1")
    pairs = text.index("McNemar's exact test on accuracy, single models seed against seed:")
    assert text[pairs + 1] == (
        f"  seed 0 vs seed ensemble: only e right {c.mcnemar_pairs[0][2]}, only e (seed "
        f"ensemble) right {c.mcnemar_pairs[0][3]}, p = {c.mcnemar_pairs[0][4]:.4g}"
    )
    assert text[pairs + 2].startswith("  seed 1 vs seed ensemble: ")


def test_seed_ensembles_stay_out_of_the_family_they_would_inflate(tmp_path):
    from stats_fixtures import save_job

    from genrebench.reporting import leaderboard

    strong = make_row(n_seeds=2, skill=4.0, key=("strong", "d", "q"))
    weak = make_row(n_seeds=2, skill=0.0, seed=2, key=("weak", "d", "q"), y=strong.y)
    merged = make_row(n_seeds=1, key=("strong (seed ensemble)", "d", "q"), y=strong.y)
    merged.probs = strong.probs.mean(axis=0, keepdims=True)
    merged.seeds = ["ensemble"]
    for row in (strong, weak):
        for s in range(2):
            save_job(tmp_path / row.key[0] / "d" / "q" / f"seed-{s}", row, s)
    ensemble = {"kind": "seeds", "of": "strong", "seeds": [0, 1], "rule": "mean"}
    save_job(tmp_path / "strong" / "d" / "q" / "seed-ensemble", merged, 0, ensemble=ensemble)
    results = leaderboard.find_results([tmp_path])
    board = stats.annotate(leaderboard.build(results), results).set_index("experiment")
    assert board.loc["strong (seed ensemble)", "significance"] == ""
    assert board.loc["strong (seed ensemble)", "ranking_note"].startswith("seed ensembles")
    assert board.loc["strong", "significance"] == "best"
    assert board.loc["weak", "significance"] == "worse"
    # one comparison in the family: Holm leaves its p-value as it is
    assert board.loc["weak", "p_vs_best_holm"] == board.loc["weak", "p_vs_best"]
    assert board.loc["strong (seed ensemble)", "accuracy_ci_low"] > 0  # still has intervals


def friedman_rows(experiments, datasets, task="single-label"):
    rng = np.random.default_rng(0)
    return [
        {
            "experiment": e,
            "dataset": d,
            "profile": "quick",
            "status": "ok",
            "task": task,
            "accuracy": 0.9 - 0.1 * i + rng.normal(0, 0.01),
        }
        for d in datasets
        for i, e in enumerate(experiments)
    ]


def test_friedman_is_left_out_where_it_can_never_reject_and_says_why():
    # issue 19: 4 "experiments" on 2 data sets, largest chi2 6.0 (p >= 0.112), critical
    # difference 3.317 > the largest possible rank difference 3
    board = pd.DataFrame(friedman_rows("wxyz", "ab"))
    assert stats.friedman(board) == []
    [left] = stats.friedman_left_out(board)
    assert (left.n_experiments, left.n_datasets) == (4, 2)
    assert "needs at least 3" in left.reason and "chi2 = 6 (p = 0.112)" in left.reason
    assert "critical difference of 3.32 ranks" in left.reason
    assert [stats.min_datasets(k) for k in (3, 4, 5, 10)] == [3, 3, 3, 3]
    assert stats.critical_difference(4, 2) == pytest.approx(3.3166, abs=1e-4)
    [result] = stats.friedman(pd.DataFrame(friedman_rows("wxyz", "abc")))
    assert result.critical_difference == pytest.approx(2.708, abs=1e-3)


def test_friedman_ranks_like_with_like_and_seed_ensembles_are_not_experiments():
    single = friedman_rows("xyz", "abc")
    multi = friedman_rows("xyz", "def", task="multi-label")  # subset accuracy
    ensembles = [
        {**r, "experiment": f"{r['experiment']} (seed ensemble)", "ensemble_of": "seeds 0,1"}
        for r in single
    ]
    board = pd.DataFrame(single + multi + ensembles).fillna({"ensemble_of": ""})
    found = stats.friedman(board)
    assert [(f.task, f.datasets, f.experiments) for f in found] == [
        ("multi-label", ["d", "e", "f"], ["x", "y", "z"]),
        ("single-label", ["a", "b", "c"], ["x", "y", "z"]),
    ]
    assert found[1].notes == ["9 seed-ensemble row(s) (not experiments)"]


def test_friedman_ranks_each_data_set_on_its_largest_section_and_names_incomplete_rows():
    rows = [{**r, "section": f"{r['dataset']} all"} for r in friedman_rows("xyz", "abc")]
    # data set a also has a smaller section (other test tracks) where x and y swap places
    other = [
        {**r, "section": "a other", "accuracy": 1 - r["accuracy"]}
        for r in rows
        if r["dataset"] == "a" and r["experiment"] != "z"
    ]
    lacking = [
        {**r, "experiment": "w", "accuracy": 0.99, "incomplete": "seed 1 lost 3 tracks"}
        for r in rows
        if r["experiment"] == "x"
    ]
    [result] = stats.friedman(pd.DataFrame(rows + other + lacking))
    assert result.experiments == ["x", "y", "z"] and result.datasets == ["a", "b", "c"]
    assert list(result.mean_ranks.index) == ["x", "y", "z"]
    assert result.scores.loc["a", "x"] == pytest.approx(rows[0]["accuracy"])
    assert result.notes == [
        "incomplete rows of w",
        "a: 1 section(s) on other test tracks than its largest",
    ]


def test_friedman_leaves_failed_rows_out_and_never_ranks_across_protocols():
    benchmark = friedman_rows("xyz", "abc")
    paper = [{**r, "protocol": "paper", "accuracy": 1 - r["accuracy"]} for r in benchmark]
    failed = {"experiment": "w", "dataset": "a", "profile": "quick", "status": "failed",
              "task": "", "accuracy": float("nan")}  # fmt: skip
    board = pd.DataFrame([{**r, "protocol": "benchmark"} for r in benchmark] + paper + [failed])
    done, left_out = stats.across_datasets(board)
    # One group per protocol, each with its own ranks; the failed row forms no group.
    assert [(f.protocol, f.experiments) for f in done] == [
        ("benchmark", ["x", "y", "z"]),
        ("paper", ["x", "y", "z"]),
    ]
    assert list(done[0].mean_ranks.index) == ["x", "y", "z"]
    assert list(done[1].mean_ranks.index) == ["z", "y", "x"]
    assert left_out == []
    # Left out, a paper-protocol group says its protocol.
    [left] = stats.across_datasets(board[board["dataset"] != "c"])[1][1:]
    assert left.protocol == "paper" and "(profile quick, paper protocol)" in left.reason


def top2(y, probs, threshold):
    return float(np.mean(top2_per_track(y, probs, threshold)))


def top2_per_track(y, probs, threshold):
    best_two = np.argsort(-probs, axis=1)[:, :2]
    return (best_two == y[:, None]).any(axis=1).astype(float)


def test_plugin_metrics_with_a_per_track_form_get_intervals_and_paired_tests(tmp_path):
    import json

    from genrebench.reporting import leaderboard
    from genrebench.specs import MetricSpec

    spec = MetricSpec("chroma/top2", "single-label", top2, per_track=top2_per_track, bounds=(0, 1))
    a = make_row(n_seeds=2, skill=2.0, key=("a", "d", "q"))
    b = make_row(n_seeds=1, skill=0.2, seed=3, key=("b", "d", "q"), y=a.y)
    save_rows(tmp_path, [a, b])
    for row in (a, b):
        for s, seed in enumerate(row.seeds):
            path = tmp_path / row.key[0] / "d" / f"seed-{seed}" / "metrics.json"
            result = json.loads(path.read_text())
            result["metrics"]["top2"] = top2(row.y, row.probs[s], 0.5)
            path.write_text(json.dumps(result))
    results = leaderboard.find_results([tmp_path])
    board = stats.annotate(leaderboard.build(results), results, metrics=[spec])
    board = board.set_index("experiment")
    assert board.loc["a", "top2_ci_low"] <= board.loc["a", "top2"] <= board.loc["a", "top2_ci_high"]
    rows = stats.load_rows(results, [spec]).rows
    c = stats.compare(rows[("a", "d", "q", "")], rows[("b", "d", "q", "")], metric="top2")
    assert c.difference == pytest.approx(board.loc["a", "top2"] - board.loc["b", "top2"])
    # a per-track form whose mean is not the metric gives no interval, with a warning
    wrong = MetricSpec(
        "chroma/top2", "single-label", top2, per_track=lambda y, p, t: 1 - top2_per_track(y, p, t)
    )
    board = stats.annotate(leaderboard.build(results), results, metrics=[wrong])
    assert "top2_ci_low" not in board
    assert any("per-track form" in w and "'top2'" in w for w in board.attrs["warnings"])


def test_intervals_stay_in_the_metrics_range_and_few_tracks_are_said(tmp_path):
    row = make_row("multi-label", n_seeds=2, n_tracks=3, n_classes=3, seed=0, skill=2.0)
    found = stats.intervals(row)
    for column in ("roc_auc", "pr_auc", "f1_macro", "ece", "classwise_ece", "hamming_loss"):
        if column in found:
            low, high = found[column]
            assert 0 <= low <= high <= 1, column
    assert found["roc_auc"][1] == 1.0  # BCa's shifted fallback reached 1.107 here
    board, results = save_rows(tmp_path, [row])
    marked = stats.annotate(board, results)
    assert marked.loc[0, "interval_note"] == (
        "intervals rest on 3 test tracks, fewer than 20: too few to mean much"
    )


def test_docs_per_track_metric_example_runs_as_written(tmp_path):
    import types

    page = Path(__file__).parents[1] / "docs" / "plugins" / "writing.md"
    blocks = [b.split("```", 1)[0] for b in page.read_text().split("```python\n")[1:]]
    code = next(b for b in blocks if "per_track=top2_per_track" in b)
    module = types.ModuleType("readme_top2")
    exec(compile(code, str(page), "exec"), module.__dict__)
    row = make_row(n_seeds=1, skill=1.0)
    spec = module.TOP2
    assert spec.compute(row.y, row.probs[0], 0.5) == pytest.approx(top2(row.y, row.probs[0], 0.5))
    assert spec.per_track(row.y, row.probs[0], 0.5).shape == (40,)


def test_builtin_metrics_keep_their_known_range_when_their_specs_are_passed():
    """The builtin metric specs declare no ``bounds`` (unbounded by default): passing them
    must not unclip ECE's interval, which once printed as ``0.040 [-0.02, 0.11]``."""
    from genrebench.registry.loading import load_plugins
    from genrebench.reporting.resampling import bounds_of

    specs = load_plugins().specs("metrics")
    for task in ("single-label", "multi-label"):
        assert bounds_of(task, "ece", specs) == (0.0, 1.0)
        assert bounds_of(task, "ece_calibrated", specs) == (0.0, 1.0)
        assert bounds_of(task, "accuracy", specs) == (0.0, 1.0)
    assert bounds_of("single-label", "brier", specs) == (0.0, 2.0)


def test_seeds_whose_predictions_list_the_tracks_in_another_order_line_up(tmp_path):
    from stats_fixtures import save_job

    from genrebench.reporting import leaderboard
    from genrebench.results import outputs

    row = make_row(n_seeds=2, n_tracks=12)
    for s in (0, 1):
        save_job(tmp_path / "exp" / "data" / f"seed-{s}", row, s)
    # seed 1's file lists its tracks last to first
    backwards = slice(None, None, -1)
    outputs.save_predictions(
        tmp_path / "exp" / "data" / "seed-1" / "predictions.csv",
        row.track_ids[backwards],
        row.y[backwards],
        row.probs[1][backwards],
        row.classes,
        row.task,
    )
    loaded = resampling.load_rows(leaderboard.find_results([tmp_path]))
    assert loaded.problems == {}
    [data] = loaded.rows.values()
    assert data.seeds == [0, 1] and data.track_ids == row.track_ids
    np.testing.assert_array_equal(data.y, row.y)
    np.testing.assert_allclose(data.probs, row.probs)


def test_segment_accuracies_are_read_per_track_from_the_segment_predictions(tmp_path):
    from stats_fixtures import save_job

    from genrebench.reporting import leaderboard
    from genrebench.results import outputs

    row = make_row(n_seeds=1, n_tracks=4, n_classes=3)
    folder = tmp_path / "exp" / "data" / "seed-0"
    result = save_job(folder, row, 0)
    # three segments per track; track k has k of them right (track 3: all three)
    seg_ids, seg_y, seg_probs = [], [], []
    for k, (track, label) in enumerate(zip(row.track_ids, row.y, strict=True)):
        for j in range(3):
            p = np.full(3, 0.1)
            p[label if j < k else (label + 1) % 3] = 0.8
            seg_ids.append(track)
            seg_y.append(label)
            seg_probs.append(p)
    outputs.save_predictions(
        folder / "segment_predictions.csv",
        seg_ids,
        np.array(seg_y),
        np.array(seg_probs),
        row.classes,
        row.task,
    )
    result["metrics"] |= {"accuracy_raw": 0.5, "accuracy_mean": 0.5}
    outputs.write_json(folder / "metrics.json", result)
    loaded = resampling.load_rows(leaderboard.find_results([tmp_path]))
    assert loaded.problems == {}
    [data] = loaded.rows.values()
    num, den = data.extra["accuracy_raw"]
    assert num.tolist() == [[0, 1, 2, 3]] and den.tolist() == [[3, 3, 3, 3]]
    # the mean of 1 right segment of 3 picks the wrong class, of 2 the right one
    num, den = data.extra["accuracy_mean"]
    assert num.tolist() == [[0, 0, 1, 1]] and den.tolist() == [[1, 1, 1, 1]]


def test_a_row_whose_predictions_cannot_be_read_at_all_says_why_in_incomplete(tmp_path):
    from stats_fixtures import save_job

    from genrebench.reporting import leaderboard
    from genrebench.results import outputs

    row = make_row(n_seeds=1, key=("old", "data", "quick"))
    folder = tmp_path / "old" / "data" / "seed-0"
    result = save_job(folder, row, 0)
    del result["classes"]  # a metrics.json written before the classes were recorded
    outputs.write_json(folder / "metrics.json", result)
    results = leaderboard.find_results([tmp_path])
    board = stats.annotate(leaderboard.build(results), results, n_resamples=200)
    assert board.loc[0, "incomplete"] == "KeyError: 'classes'"
    assert "accuracy_ci_low" not in board
    assert (
        "old (" in board.attrs["warnings"][0]
        and "KeyError: 'classes'" in (board.attrs["warnings"][0])
    )


def test_a_seed_with_another_track_in_the_same_place_is_left_out_of_its_row_by_seed(tmp_path):
    from stats_fixtures import save_job

    from genrebench.reporting import leaderboard
    from genrebench.results import outputs

    row = make_row(n_seeds=3, n_tracks=20)
    for s in range(3):
        save_job(tmp_path / "exp" / "data" / f"seed-{s}", row, s)
    # seed 2 names track t003 t003b: same place in id order, same labels, another track
    ids = [("t003b" if t == "t003" else t) for t in row.track_ids]
    seed_2 = tmp_path / "exp" / "data" / "seed-2" / "predictions.csv"
    outputs.save_predictions(seed_2, ids, row.y, row.probs[2], row.classes, row.task)
    loaded = resampling.load_rows(leaderboard.find_results([tmp_path]))
    [data] = loaded.rows.values()
    assert data.seeds == [0, 1] and data.track_ids == row.track_ids
    assert loaded.problems == {
        data.key: {2: f"seed 2: {seed_2} line 5: track 't003b' is not among the other seeds' "
                      "test tracks"}
    }  # fmt: skip


def test_failed_seeds_are_not_read_for_predictions(tmp_path):
    from stats_fixtures import save_job

    from genrebench.reporting import leaderboard
    from genrebench.results import outputs

    row = make_row(n_seeds=2)
    save_job(tmp_path / "exp" / "data" / "seed-0", row, 0)
    failed = {"experiment": "exp", "dataset": "data", "profile": "quick", "seed": 1}
    (tmp_path / "exp" / "data" / "seed-1").mkdir()
    outputs.write_json(
        tmp_path / "exp" / "data" / "seed-1" / "metrics.json",
        {**failed, "status": "failed", "error": "RuntimeError: boom"},
    )
    loaded = resampling.load_rows(leaderboard.find_results([tmp_path]))
    assert loaded.problems == {} and loaded.skipped == {}
    [data] = loaded.rows.values()
    assert data.seeds == [0]


def test_family_names_the_rows_without_accuracy_or_predictions_and_ranks_none():
    a = make_row(key=("a", "d", "q", ""))
    b = make_row(key=("b", "d", "q", ""), seed=3, y=a.y)
    board = pd.DataFrame(
        [
            {"experiment": "a", "status": "ok", "accuracy": 0.7, "incomplete": ""},
            {"experiment": "b", "status": "ok", "accuracy": float("nan"), "incomplete": ""},
            {"experiment": "c", "status": "ok", "accuracy": 0.5, "incomplete": ""},
        ]
    )
    keys = [a.key, b.key, ("c", "d", "q", "")]
    ranked, notes = stats.family(board, keys, {a.key: a, b.key: b}, [0, 1, 2])
    assert ranked == []
    assert notes == {i: "not ranked: no accuracy or predictions for b, c" for i in range(3)}
