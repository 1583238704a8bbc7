"""Dask beyond ``LocalCluster`` (issue 24, item 4): a scheduler and workers started as their
own processes (``python -m dask scheduler`` and ``python -m dask worker``, as on a
cluster) on 127.0.0.1.  A run sent there gives the leaderboard of a local run; a worker
killed mid-run costs only the job it was running, which another worker does again; and
the dask-jobqueue (SLURM) recipe of docs/guide/clusters.md yields a job script that starts
such a worker."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from genrebench.cli import main
from genrebench.features.workers import SINGLE_THREAD_ENV

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
#: Seconds a started process gets to come up (a worker imports dask and numpy).
START_SECONDS = 60

LOGGED = """
import os, time
import numpy as np
from genrebench import ExperimentSpec, ModelSpec, hookimpl

class Logged:
    '''Nearest centroid that notes each training (seed, process) in $LOGGED_TRAININGS and
    takes a while, so that a worker can be killed while it trains.'''
    def __init__(self, setup):
        self.n, self.seed = len(setup.classes), setup.seed
    def fit(self, x, y, xv=None, yv=None):
        with open(os.environ["LOGGED_TRAININGS"], "a") as log:
            log.write(f"{self.seed} {os.getpid()}\\n")
        time.sleep(float(os.environ.get("LOGGED_SECONDS", "0")))
        x = np.asarray(x).reshape(len(x), -1)
        self.c = np.stack([x[y == k].mean(axis=0) for k in range(self.n)])
    def predict_proba(self, x):
        x = np.asarray(x).reshape(len(x), -1)
        d = ((x[:, None] - self.c[None]) ** 2).sum(axis=2)
        p = np.exp(-(d - d.min(axis=1, keepdims=True)) / (d.std() + 1e-9))
        return p / p.sum(axis=1, keepdims=True)

@hookimpl
def genrebench_register_models():
    return [ModelSpec("logged/centroid", Logged)]

@hookimpl
def genrebench_register_experiments():
    return [ExperimentSpec("logged/centroid", "example/band-energies", "logged/centroid")]
"""


class Cluster:
    """``python -m dask scheduler`` and one ``python -m dask worker`` process per worker
    (one thread each, no nanny: a killed worker stays dead), all on 127.0.0.1."""

    def __init__(self, folder: Path, workers: int) -> None:
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.processes: list[subprocess.Popen] = []
        self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard")
        deadline = time.monotonic() + START_SECONDS
        while not self.file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]
        self.workers = [self.start_worker() for _ in range(workers)]
        with distributed.Client(self.address, timeout=f"{START_SECONDS}s") as client:
            client.wait_for_workers(workers, timeout=START_SECONDS)

    def _start(self, command: str, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"{command}-{len(self.processes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "dask", command, *args, "--scheduler-file", str(self.file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **SINGLE_THREAD_ENV},  # as genrebench's own workers
        )
        log.close()
        self.processes.append(process)
        return process

    def start_worker(self) -> subprocess.Popen:
        args = ("--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1")
        return self._start("worker", *args, "--local-directory", str(self.folder / "scratch"))

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def cluster(tmp_path):
    folder = tmp_path / "cluster"
    folder.mkdir()
    started = Cluster(folder, workers=2)
    yield started
    started.stop()


def scores(out: Path) -> pd.DataFrame:
    """The leaderboard less its timing columns, which differ between any two runs."""
    board = pd.read_csv(out / "leaderboard.csv")
    timing = [c for c in board.columns if re.search(r"seconds|_ms|wall|memory", c)]
    return board.drop(columns=timing).reset_index(drop=True)


def test_a_run_on_a_separate_scheduler_and_workers_gives_the_local_leaderboard(tmp_path, cluster):
    args = ["run", "example/centroid", "--dataset", "example-tones", "--seeds", "3"]
    args += ["--no-progress"]
    local, remote = tmp_path / "local", tmp_path / "remote"
    assert main([*args, "--out", str(local), "--cache-dir", str(tmp_path / "c1")]) == 0
    on_cluster = ["--executor", "dask", "--scheduler", cluster.address]
    remote_args = ["--out", str(remote), "--cache-dir", str(tmp_path / "c2"), *on_cluster]
    assert main([*args, *remote_args]) == 0
    pd.testing.assert_frame_equal(scores(remote), scores(local))
    # the jobs ran in the worker processes, which extracted into the shared cache
    assert any((tmp_path / "c2").rglob("*.npy"))
    assert all(p.poll() is None for p in cluster.processes)


def test_a_worker_killed_mid_run_costs_only_its_running_job(tmp_path, install_plugin, monkeypatch):
    install_plugin("logged", LOGGED)  # on PYTHONPATH, so the workers started next import it
    trainings = tmp_path / "trainings.txt"
    monkeypatch.setenv("LOGGED_TRAININGS", str(trainings))
    monkeypatch.setenv("LOGGED_SECONDS", "1")
    (tmp_path / "cluster").mkdir()
    cluster = Cluster(tmp_path / "cluster", workers=2)
    seeds = 8
    try:
        args = [sys.executable, "-m", "genrebench.cli", "run", "logged/centroid"]
        args += ["--dataset", "example-tones", "--seeds", str(seeds), "--no-progress"]
        args += ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
        args += ["--executor", "dask", "--scheduler", cluster.address]
        run = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        # Kill a worker while it trains, once at least two jobs have finished.
        victim = cluster.workers[0]
        deadline = time.monotonic() + 120
        folder = tmp_path / "out" / "runs" / "logged" / "centroid" / "example-tones" / "quick"
        while time.monotonic() < deadline:
            done = {p.parent.name for p in folder.glob("seed-*/metrics.json")}
            training = [line.split() for line in _lines(trainings)]
            on_victim = {f"seed-{s}" for s, pid in training if int(pid) == victim.pid}
            if len(done) >= 2 and on_victim - done:
                break
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        killed_at = len(_lines(trainings))
        _, stderr = run.communicate(timeout=300)
    finally:
        cluster.stop()
    assert run.returncode == 0, stderr
    results = [json.loads(p.read_text()) for p in (tmp_path / "out" / "runs").rglob("metrics.json")]
    assert sorted(r["seed"] for r in results if r["seed"] != "ensemble") == list(range(seeds))
    assert all(r["status"] == "ok" for r in results)
    trained = [int(line.split()[0]) for line in _lines(trainings)]
    # Every seed trained once, except the job the killed worker was running, which
    # another worker did again; no finished job was done again.
    redone = [seed for seed in set(trained) if trained.count(seed) > 1]
    assert sorted(set(trained)) == list(range(seeds)) and len(redone) == 1, trained
    assert len(trained) == seeds + 1 and killed_at >= 3 and redone[0] in trained[:killed_at]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


def test_the_docs_slurm_recipe_gives_a_job_script_that_starts_a_worker():
    jobqueue = pytest.importorskip("dask_jobqueue")
    text = (ROOT / "docs" / "guide" / "clusters.md").read_text()
    [recipe] = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    # The recipe as written, up to the lines that start jobs or wait for a person.
    setup = recipe.split("cluster.scale(")[0]
    namespace: dict = {}
    exec(compile(setup, "docs/guide/clusters.md", "exec"), namespace)
    cluster = namespace["cluster"]
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert isinstance(cluster, jobqueue.SLURMCluster)
    assert "#SBATCH --partition=cpu" in script and "#SBATCH -t 04:00:00" in script
    assert "source ~/genrebench/.venv/bin/activate" in script
    assert "export OMP_NUM_THREADS=1" in script
    assert "distributed.cli.dask_worker" in script and "--nthreads 1" in script
