"""Dask executor faults (issue 21, items 11-13): relative paths resolved on the client, a
track that kills workers found and skipped, and one clear line (with the README's exit
status) for a bad or unreachable scheduler and for a cluster without workers.  Clusters run
on 127.0.0.1 only, with few workers, bounded in time."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from genrebench.audio import write_audio
from genrebench.cli import main

distributed = pytest.importorskip("distributed")

EXAMPLE = ["example/centroid", "--dataset", "example-tones", "--no-progress"]


def tones(root, per_class=8, culprit=False):
    """A folder data set of two classes of tones; with ``culprit``, one more track of a
    length no other has (3001 samples), which the crashing feature below recognises."""
    for label, step in (("rock", 0.05), ("jazz", 0.2)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            wave = 0.1 * np.sin(np.arange(4000) * step * (1 + i / 50))
            write_audio(root / label / f"{i}.wav", wave, 8000)
    if culprit:
        write_audio(root / "rock" / "culprit.wav", np.zeros(3001), 8000)
    return root


def one_clear_line(stderr: str, *words: str) -> str:
    assert "Traceback" not in stderr, stderr
    [line] = [x for x in stderr.splitlines() if x.startswith("genrebench: error:")]
    for word in words:
        assert word in line, line
    return line


# --------------------------------------------------------------------------- item 11
def test_relative_paths_resolve_on_the_client_not_in_the_workers_folder(tmp_path, monkeypatch):
    client_dir, worker_dir = tmp_path / "client", tmp_path / "worker"
    worker_dir.mkdir()
    tones(client_dir / "data")
    monkeypatch.chdir(client_dir)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run(os.chdir, str(worker_dir))  # the worker works elsewhere, as on a cluster
        args = ["run", "example/centroid", "--dataset", "folder", "--data-root", "data"]
        args += ["--out", "out", "--cache-dir", "cache", "--no-progress"]
        status = main([*args, "--executor", "dask", "--scheduler", cluster.scheduler_address])
    assert status == 0
    [metrics] = (client_dir / "out" / "runs").rglob("metrics.json")
    assert json.loads(metrics.read_text())["status"] == "ok"
    assert any((client_dir / "cache").rglob("*.npy"))
    assert (client_dir / "out" / "leaderboard.md").is_file()
    assert list(worker_dir.iterdir()) == []  # nothing landed where the worker works


# --------------------------------------------------------------------------- item 12
CRASHY = """
import os, signal, sys
import numpy as np
from genrebench import ExperimentSpec, FeatureSpec, ModelSpec, hookimpl

def bands(audio, sample_rate):
    if len(audio) == 3001 and os.environ.get("CRASHY_VICTIM"):
        # 'self': the process computing (a segfaulting decoder); 'dask-worker': the Dask
        # worker (its extraction child's parent, or itself), as an out-of-memory kill.
        child = sys.argv[0].endswith("workers.py")
        parent = os.environ["CRASHY_VICTIM"] == "dask-worker" and child
        victim = os.getppid() if parent else os.getpid()
        if victim == int(os.environ["CRASHY_SPARE_PID"]):
            raise RuntimeError("refusing to kill the test process")
        os.kill(victim, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    return np.log1p([b.sum() for b in np.array_split(spectrum, 16)]).astype(np.float32)

class Killer:
    # A model whose training kills the process it runs in (a Dask worker).
    def __init__(self, setup): pass
    def fit(self, *args):
        if os.getpid() == int(os.environ["CRASHY_SPARE_PID"]):
            raise RuntimeError("refusing to kill the test process")
        os.kill(os.getpid(), signal.SIGKILL)

@hookimpl
def genrebench_register_features():
    return [FeatureSpec("crashy/bands", bands, sample_rate=8000)]

@hookimpl
def genrebench_register_models():
    return [ModelSpec("crashy/killer", Killer)]

@hookimpl
def genrebench_register_experiments():
    return [
        ExperimentSpec("crashy/centroid", "crashy/bands", "example/nearest-centroid"),
        ExperimentSpec("crashy/killer", "crashy/bands", "crashy/killer"),
    ]
"""


@pytest.mark.parametrize("victim", ["self", "dask-worker"])
def test_a_track_that_kills_workers_is_found_skipped_and_named(
    tmp_path, install_plugin, monkeypatch, capsys, victim
):
    import dask

    install_plugin("crashy", CRASHY)
    monkeypatch.setenv("CRASHY_VICTIM", victim)
    monkeypatch.setenv("CRASHY_SPARE_PID", str(os.getpid()))
    root = tones(tmp_path / "data", culprit=True)
    args = ["run", "crashy/centroid", "--dataset", "folder", "--data-root", str(root)]
    args += ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    args += ["--split-ratios", "train=0.5,test=0.5", "--seeds", "2", "--no-progress"]
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        status = main([*args, "--executor", "dask:local:1"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert "KilledWorker" not in err and "Traceback" not in err
    skipped = err[err.index("skipped 1 unreadable track(s):") :].splitlines()[1]
    assert skipped.startswith("  rock/culprit.wav: ")
    if victim == "self":
        assert "crashed the worker process (killed by SIGKILL)" in skipped
    else:
        assert "killed the Dask worker every time it was tried (1 time)" in skipped
    results = [json.loads(p.read_text()) for p in (tmp_path / "out" / "runs").rglob("m*.json")]
    assert len(results) == 3 and {r["status"] for r in results} == {"ok"}  # 2 seeds + ensemble


# --------------------------------------------------------------------------- item 13
def test_a_scheduler_that_is_no_address_exits_2_before_any_work(tmp_path, capsys):
    args = [*EXAMPLE, "--out", str(tmp_path), "--executor", "dask", "--scheduler", "nonsense"]
    assert main(["run", *args]) == 2
    one_clear_line(capsys.readouterr().err, "--scheduler 'nonsense'", "tcp://HOST:PORT")
    assert not (tmp_path / "runs").exists()


def test_an_unreachable_scheduler_exits_2_with_one_line(tmp_path, capsys):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    started = time.monotonic()
    args = [*EXAMPLE, "--out", str(tmp_path), "--executor", "dask", "--scheduler", address]
    assert main(["run", *args]) == 2
    assert time.monotonic() - started < 60
    one_clear_line(capsys.readouterr().err, f"cannot reach the Dask scheduler at {address}")
    assert not list((tmp_path / "runs").rglob("metrics.json"))


def test_a_cluster_without_workers_stops_after_the_stated_time_with_exit_3(
    tmp_path, monkeypatch, capsys
):
    import threading

    monkeypatch.setenv("GENREBENCH_DASK_NO_WORKERS_SECONDS", "3")
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        args = [*EXAMPLE, "--out", str(tmp_path), "--executor", "dask", "--scheduler", address]
        # In a thread, so that a run that waits for ever fails the test instead of hanging.
        status: list[int] = []
        run = threading.Thread(target=lambda: status.append(main(["run", *args])), daemon=True)
        run.start()
        run.join(90)
        assert not run.is_alive(), "the run still waits for workers after 90 s"
        assert status == [3]
    line = one_clear_line(capsys.readouterr().err, f"scheduler at {address}", "no workers for 3 s")
    assert "dask worker" in line and "GENREBENCH_DASK_NO_WORKERS_SECONDS" in line


def test_a_job_that_kills_its_worker_is_a_failed_row_and_the_run_goes_on(
    tmp_path, install_plugin, monkeypatch, capsys
):
    import dask

    install_plugin("crashy", CRASHY)
    monkeypatch.setenv("CRASHY_SPARE_PID", str(os.getpid()))
    root = tones(tmp_path / "data")
    args = ["run", "crashy/killer", "crashy/centroid", "--dataset", "folder"]
    args += ["--data-root", str(root), "--out", str(tmp_path / "out"), "--no-progress"]
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        status = main([*args, "--no-cache", "--executor", "dask:local:1"])
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err, err  # 1: an experiment failed
    results = {
        r["experiment"]: r
        for r in (json.loads(p.read_text()) for p in (tmp_path / "out").rglob("metrics.json"))
    }
    assert results["crashy/centroid"]["status"] == "ok", results["crashy/centroid"].get("error")
    assert results["crashy/killer"]["status"] == "failed"
    assert results["crashy/killer"]["error"].startswith(
        "the Dask worker running it died every time it was tried (1 time)"
    )
