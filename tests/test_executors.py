"""The Dask executor gives the local executor's results, and bad executor options exit 2."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from genrebench import hookimpl
from genrebench.cli import main
from genrebench.registry.loading import load_plugins

pytest.importorskip("distributed")

EXAMPLE = ["example/centroid", "--dataset", "example-tones", "--no-progress", "--seeds", "2"]


def saved(out):
    results = {}
    for path in sorted((out / "runs").rglob("metrics.json")):
        metrics = json.loads(path.read_text())
        predictions = pd.read_csv(path.parent / "predictions.csv")
        results[str(path.relative_to(out))] = (metrics["metrics"], predictions)
    return results


class Tracker:
    def __init__(self):
        self.seen = []

    @hookimpl
    def genrebench_run_finished(self, result, job_folder):
        self.seen.append((result["seed"], os.getpid(), job_folder.is_dir()))


def test_two_worker_local_cluster_matches_the_local_executor(tmp_path, monkeypatch):
    local, dask = tmp_path / "local", tmp_path / "dask"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main(["run", *EXAMPLE, "--out", str(local), "--no-cache"]) == 0
    tracker = Tracker()
    registry = load_plugins(extra=[tracker])
    monkeypatch.setattr("genrebench.cli.load_plugins", lambda: registry)
    assert main(["run", *EXAMPLE, "--out", str(dask), *cache, "--executor", "dask:local:2"]) == 0
    # Every job reaches genrebench_run_finished on this process, not on a worker.
    assert tracker.seen == [(seed, os.getpid(), True) for seed in (0, 1, "ensemble")]
    want, got = saved(local), saved(dask)
    # two seeds and their seed ensemble (built after the jobs, in this process)
    assert sorted(got) == sorted(want) and len(got) == 3
    for name, (metrics, predictions) in want.items():
        assert got[name][0] == metrics
        pd.testing.assert_frame_equal(got[name][1], predictions)
    # the workers extracted every feature into the shared cache before the jobs ran
    assert any((tmp_path / "cache").rglob("*.npy"))
    board = pd.read_csv(dask / "leaderboard.csv")
    assert board.loc[0, "n_seeds"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--executor", "dask"], "needs --scheduler"),
        (["--executor", "dask:local:0"], "worker count"),
        (["--executor", "slurm"], "unknown executor"),
        (["--scheduler", "tcp://x:1"], "--scheduler needs --executor dask"),
    ],
)
def test_bad_executor_options_exit_2_before_any_work(tmp_path, capsys, args, message):
    assert main(["run", *EXAMPLE, "--out", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
