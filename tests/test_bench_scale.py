"""``genrebench bench scale`` on a tiny FMA-shaped set: the generated set reads as fma-small,
the memory of a process tree is summed over its processes, a SIGKILL takes the whole tree,
and a killed run resumes to the uninterrupted run's scores (the figures themselves are
measured by hand, never asserted)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from genrebench.errors import ConfigError
from genrebench.registry.loading import load_plugins
from genrebench.run import scale
from genrebench.run.bench import goal_lines, gpu_goal_lines


def test_the_generated_set_reads_as_fma_small_balanced_and_split_80_10_10(tmp_path):
    assert scale.generate(tmp_path, 160, seconds=0.5) == 160
    assert scale.generate(tmp_path, 160, seconds=0.5) == 0  # kept, not rewritten
    dataset = load_plugins().get("datasets", "fma-small").load(scale.subset(tmp_path, 80), {})
    assert len(dataset.tracks) == 80 and len(dataset.classes) == scale.N_GENRES
    labels = [t.labels[0] for t in dataset.tracks]
    assert all(labels.count(g) == 10 for g in dataset.classes)
    split = dataset.fixed_splits["official"]
    assert [len(split[p]) for p in ("train", "valid", "test")] == [64, 8, 8]
    with pytest.raises(ConfigError, match="generated with"):
        scale.generate(tmp_path, 160, seconds=1.0)  # other clips would not match these


CHILD_HOLDS_200_MIB = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import numpy, time; a = numpy.ones(200 * 2**20 // 8); time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_run_is_measured_over_all_its_processes_and_killed_with_all_of_them(tmp_path):
    log = tmp_path / "log"
    started = time.perf_counter()
    row = scale.run_once([sys.executable, "-c", CHILD_HOLDS_200_MIB], log, kill_after=4.0)
    assert row["killed"] and row["exit"] == -9 and time.perf_counter() - started < 30
    assert row["processes"] == 2
    assert row["peak PSS MiB"] > 200 > row["main process PSS MiB"]
    assert row["peak RSS sum MiB"] >= row["peak PSS MiB"]
    grandchild = int(log.read_text().split()[0])
    for _ in range(50):  # the kill reached the grandchild too
        if not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == "zombie":
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"process {grandchild} outlived the SIGKILL of its group")


def test_memory_growth_per_size_and_its_goal():
    rows = [{"tracks": n, "peak PSS MiB": 1000 + 0.1 * n} for n in (1000, 2000, 4000, 8000)]
    assert [g["MiB per 1,000 tracks"] for g in scale.growth(rows)] == [100.0, 100.0, 100.0]
    [line] = scale.growth_goal(scale.growth(rows))
    assert line.endswith(": met")
    rows[-1]["peak PSS MiB"] += 1000  # the last step grows 3.5x faster than the first
    assert scale.growth_goal(scale.growth(rows))[0].endswith(": MISSED")
    pss, rss = goal_lines(
        [{"tracks": 8000, "peak PSS MiB": 1900.0, "peak RSS sum MiB": 2500.0}], "scale"
    )
    assert pss.startswith("goal: 8000: peak PSS MiB 1900") and pss.endswith(": met")
    assert rss.startswith("goal: 8000: peak RSS sum MiB 2500") and rss.endswith(": MISSED")


def test_a_killed_run_resumes_without_redoing_finished_jobs_to_the_same_scores(tmp_path):
    tables = scale.bench_scale(
        tmp_path / "data",
        [80],
        ["reference/logreg"],
        tmp_path / "work",
        jobs=1,
        kill_at=(0.6,),
        seconds=1.0,
    )
    [run] = tables["runs"]
    assert run["exit"] == 0 and run["peak PSS MiB"] > 0
    assert 0 < run["outside jobs s"] < run["wall s"]
    [stage] = [s for s in tables["stages"] if s["run"] == "uninterrupted"]
    assert stage["experiment"] == "reference/logreg" and stage["train/valid/test"] == "64/8/8"
    assert stage["extracted"] == 80 and stage["cache hits"] == 0
    [resumed] = [s for s in tables["stages"] if s["run"] == "resumed"]
    assert resumed["accuracy"] == stage["accuracy"]
    killed, finished, uninterrupted, same = tables["resume"]
    assert killed["run"] == "attempt 1 (SIGKILL)" and killed["exit"] == -9
    assert finished["exit"] == 0 and finished["finished jobs"] == 1
    assert finished["finished earlier, redone"] == 0
    assert uninterrupted["finished jobs"] == 1
    assert same == {"run": "same scores as uninterrupted", "wall s": None, "finished jobs": True}


def test_bench_scale_needs_a_data_dir(capsys):
    from genrebench.cli import main

    assert main(["bench", "scale"]) == 2
    assert "--data-dir" in capsys.readouterr().err


def test_the_run_command_line_is_a_genrebench_run_on_fma_small(tmp_path):
    command = scale.run_command_line(tmp_path, ["a/b"], tmp_path / "o", tmp_path / "c", "quick", 2)
    assert command[1:4] == ["-m", "genrebench.cli", "run"]
    assert "fma-small" in command and command[-1] == "a/b"
    subprocess.run([*command[:4], "--help"], check=True, capture_output=True)


def test_an_attempt_is_killed_a_few_seconds_after_one_more_job_finished(tmp_path, monkeypatch):
    monkeypatch.setattr(scale, "SECONDS_AFTER_A_JOB", 0.0)
    earlier = tmp_path / "a" / "seed-0"
    earlier.mkdir(parents=True)
    (earlier / "metrics.json").write_text("{}")
    due = scale._after_one_more_job(tmp_path, finished=1)
    assert not due()  # the job of an earlier attempt does not count
    (tmp_path / "a" / "seed-ensemble").mkdir()
    (tmp_path / "a" / "seed-ensemble" / "metrics.json").write_text("{}")
    assert not due()  # nor does a seed ensemble
    (tmp_path / "b" / "seed-0").mkdir(parents=True)
    (tmp_path / "b" / "seed-0" / "metrics.json").write_text("{}")
    assert due()
    row = scale.run_once([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "l",
                         kill_when=lambda: True)  # fmt: skip
    assert row["killed"] and row["exit"] == -9


def test_kill_points_are_fractions_or_job(capsys):
    from genrebench.cli import build_parser

    args = build_parser().parse_args(["bench", "scale", "--kill-at", "0.25,job,0.9"])
    assert args.kill_at == [0.25, scale.AFTER_A_JOB, 0.9]
    assert build_parser().parse_args(["bench", "scale"]).kill_at == [0.3, scale.AFTER_A_JOB]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "scale", "--kill-at", "half"])
    assert "'half' is neither a fraction nor 'job'" in capsys.readouterr().err


# --------------------------------------------------------------------------- bench gpu
def test_bench_gpu_measures_log_mel_and_an_epoch_on_each_device(tmp_path):
    from genrebench.run import gpu

    rows = gpu.bench_logmel("example/logmel", tracks=2, rounds=1)
    assert [r["device"] for r in rows] == gpu.devices()
    cpu = rows[0]
    assert cpu["x real time"] == pytest.approx(2 * 30.0 / cpu["seconds"], rel=0.01)
    [epoch] = gpu.bench_epochs(["example/centroid"], tmp_path, profile="quick")
    assert epoch["experiment"] == "example/centroid (quick, 1 epoch)" and epoch["cpu s"] >= 0
    if "cuda" not in gpu.devices():
        assert epoch["cuda s"] == "no CUDA device" and epoch["cpu / cuda"] is None
        assert gpu_goal_lines(rows) == [
            "goal: log-mel on CUDA at least 4000 x real time: not measured (no CUDA device)"
        ]
    [line] = gpu_goal_lines([{"feature": "a/logmel", "device": "cuda", "x real time": 5000.0}])
    assert line.startswith("goal: a/logmel: x real time 5000") and line.endswith(": met")
    with pytest.raises(ConfigError, match="torch front end"):
        gpu.bench_logmel("example/band-energies", tracks=1)
    with pytest.raises(ConfigError, match="no profile 'nope'"):
        gpu.bench_epochs(["example/centroid"], tmp_path, profile="nope")
