"""``genrebench bench``: each subcommand runs on tiny inputs and prints its table (the
figures themselves are measured by hand or by ``tox -e bench``, never asserted)."""

from __future__ import annotations

import json

import pytest

from genrebench.cli import main
from genrebench.errors import ConfigError
from genrebench.run.bench import bench_features, generate_tracks, goal_lines, memory_slope


def test_memory_slope_is_a_least_squares_line():
    rows = [{"tracks": n, "peak RSS MiB": 500 + 0.1 * n} for n in (250, 500, 1000, 2000)]
    per_1000, at_8000 = memory_slope(rows)
    assert per_1000 == pytest.approx(100.0) and at_8000 == pytest.approx(1300.0)


def test_generated_tracks_have_four_classes_and_are_kept(tmp_path):
    paths = generate_tracks(tmp_path, 6, seconds=0.2)
    assert sorted({p.parent.name for p in paths}) == ["class0", "class1", "class2", "class3"]
    stamp = paths[0].stat().st_mtime_ns
    assert generate_tracks(tmp_path, 6, seconds=0.2)[0].stat().st_mtime_ns == stamp


def test_bench_features_compares_the_same_log_mel_four_ways(tmp_path):
    generate_tracks(tmp_path, 3, seconds=0.5)
    [row] = bench_features(tmp_path, ["example/logmel"])
    assert row["feature"] == "example/logmel" and row["tracks"] == 3
    ways = ("librosa loop s", "genrebench 1 worker s", "genrebench in-process s")
    for column in (*ways, "bare torch compute s"):
        assert row[column] > 0
    assert row["in-process / bare"] == pytest.approx(
        row["bare torch compute s"] / row["genrebench in-process s"]
    )
    assert row["speed-up 1 worker"] == pytest.approx(
        row["librosa loop s"] / row["genrebench 1 worker s"]
    )


def test_each_goal_is_printed_with_its_value_and_whether_it_is_met():
    rows = [
        {"feature": "a/logmel", "speed-up 2 workers": 2.5, "in-process / bare": 0.5},
        {"feature": "b/logmel", "speed-up 2 workers": 1.5},
    ]
    assert goal_lines(rows, "features") == [
        "goal: a/logmel: speed-up 2 workers 2.500 (two workers vs a plain librosa loop); "
        "goal at least 2.000: met",
        "goal: a/logmel: in-process / bare 0.500 (in-process extraction vs the bare-torch "
        "bound); goal at least 0.800: MISSED",
        "goal: b/logmel: speed-up 2 workers 1.500 (two workers vs a plain librosa loop); "
        "goal at least 2.000: MISSED",
    ]
    [line] = goal_lines([{"experiment": "x/y", "overhead": 0.1}], "overhead")
    assert line.endswith("goal at most 0.100: met")
    assert goal_lines([{"tracks": 8000, "peak RSS MiB": 2100.0}], "memory")[0].endswith("MISSED")


def test_bench_features_needs_audio(tmp_path, capsys):
    with pytest.raises(ConfigError, match="no audio files"):
        bench_features(tmp_path)
    assert main(["bench", "features"]) == 2
    assert "--data-root" in capsys.readouterr().err


def test_bench_overhead_times_a_fresh_harness_job_against_the_bare_loop(tmp_path):
    from genrebench.run.bench import bench_overhead

    [row] = bench_overhead(["reference/logreg"], tmp_path, rounds=1)
    assert row["experiment"] == "reference/logreg" and row["jobs"] == 1
    assert row["bare s"] > 0 and row["harness s"] > 0 and row["worker start-up s"] > 0
    assert row["overhead"] == pytest.approx((row["harness s"] - row["bare s"]) / row["harness s"])
    # the harness round ran the job in its own folder: a finished result, not a reused one
    [metrics] = (tmp_path / "runs-reference-logreg-0").rglob("metrics.json")
    assert '"status": "ok"' in metrics.read_text()


def test_the_memory_child_runs_its_job_through_the_run_loop(tmp_path, monkeypatch, capsys):
    from genrebench.run import bench, session

    calls = []

    def run_planned(registry, planned, board_out, suite=None):
        calls.append((planned, board_out))
        return [{"status": "ok"}], []

    monkeypatch.setattr(session, "run_planned", run_planned)
    generate_tracks(tmp_path / "audio", 4, 1.0)
    out = tmp_path / "out"
    bench._memory_child("schindler2016/shallow", str(tmp_path / "audio"), str(tmp_path), str(out))
    [(planned, board_out)] = calls
    [(options, jobs, ensemble_jobs)] = planned
    assert [j.experiment.name for j in jobs] == ["bench/memory"] and not ensemble_jobs
    assert options.out == out == board_out
    assert set(json.loads(capsys.readouterr().out.splitlines()[-1])) == {"peak RSS MiB", "seconds"}
