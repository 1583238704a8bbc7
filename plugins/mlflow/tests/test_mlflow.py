"""A suite run leaves one parent MLflow run with every job nested, each job's metrics,
history and files readable back with MLflow's own client; reused jobs are not logged twice;
a tracking server that is down or silent costs one warning and never the results; and
nothing happens (mlflow is not even imported) without a tracking URI."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from genrebench.cli import main

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402

SESSION = "tags.`genrebench.kind` = 'session'"

#: reference/logreg and reference/mlp (which records a per-epoch history), their
#: cross-experiment ensemble (reference/ensemble), two seeds -- so also three seed
#: ensembles -- on a small synthetic data set: 4 + 2 + 3 = 9 jobs.
SUITE = """\
name = "mlflow-test"
description = "the reference experiments on a small synthetic set"

[[runs]]
experiments = ["reference/*"]
datasets = ["synthetic-genres"]
dataset_options = { tracks_per_class = 10, duration = 2.0 }  # 1 validation track a class
seeds = 2
"""
N_JOBS = 9


@pytest.fixture
def suite_file(tmp_path) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(SUITE)
    return path


def run_suite(suite_file: Path, tmp_path: Path) -> int:
    out, board = tmp_path / "runs", tmp_path / "board"
    args = ["run", "--suite", str(suite_file), "--out", str(out), "--leaderboard-out", str(board)]
    return main([*args, "--no-progress"])


def job_runs(client: MlflowClient, experiment_id: str, parent: str | None = None) -> list:
    runs = client.search_runs([experiment_id], "tags.`genrebench.kind` != 'session'")
    if parent is not None:
        runs = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    return runs


def job_folders(out: Path) -> dict[tuple[str, str], Path]:
    """(experiment, seed) -> folder of every job under ``out``."""
    folders = {}
    for path in (out / "runs").rglob("metrics.json"):
        result = json.loads(path.read_text())
        folders[(result["experiment"], str(result["seed"]))] = path.parent
    return folders


def download(client: MlflowClient, run_id: str, name: str, where: Path) -> Path:
    return Path(client.download_artifacts(run_id, name, str(where)))


def test_a_suite_is_a_parent_run_with_every_job_nested_and_readable_back(
    suite_file, tmp_path, monkeypatch
):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert run_suite(suite_file, tmp_path) == 0
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("mlflow-test")  # named after the suite
    [parent] = client.search_runs([experiment.experiment_id], SESSION)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["genrebench.suite"] == "mlflow-test"
    assert parent.data.params["profile"] == "quick" and parent.data.params["seeds"] == "2"
    assert parent.data.metrics["n_jobs"] == N_JOBS
    children = job_runs(client, experiment.experiment_id, parent.info.run_id)
    assert len(children) == N_JOBS == len(job_runs(client, experiment.experiment_id))
    kinds = sorted(r.data.tags["genrebench.kind"] for r in children)
    assert kinds == ["ensemble"] * 2 + ["job"] * 4 + ["seed-ensemble"] * 3

    folders = job_folders(tmp_path / "runs")
    assert len(folders) == N_JOBS
    for run in children:
        tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
        folder = folders[(tags["genrebench.experiment"], tags["genrebench.seed"])]
        result = json.loads((folder / "metrics.json").read_text())
        assert run.info.status == "FINISHED" and tags["genrebench.status"] == "ok"
        assert params["config_hash"] == result["config_hash"]
        assert params["dataset"] == "synthetic-genres" and params["profile"] == "quick"
        assert tags["genrebench.task"] == "single-label"
        # every leaderboard column of the job, raw and calibrated, as stored
        assert {k: metrics[k] for k in result["metrics"]} == pytest.approx(result["metrics"])
        assert any(k.endswith("_calibrated") for k in result["metrics"])
        assert metrics["n_test_tracks"] == result["n_test_tracks"]
        assert metrics["train_seconds"] == pytest.approx(result["cost"]["train_seconds"])
        files = {f.path for f in client.list_artifacts(run.info.run_id)}
        expected = {"predictions.csv", "predictions_calibrated.csv", "reliability.json"}
        expected |= {"metrics.json", "provenance.json"}  # ensembles save provenance too
        assert files == expected, tags["genrebench.experiment"]
        if tags["genrebench.kind"] == "job":
            provenance = json.loads((folder / "provenance.json").read_text())
            assert params["split_sha256.test"] == provenance["split"]["sha256"]["test"]
            source = provenance["environment"]["genrebench_source_git"]["commit"]
            assert params["genrebench_git_commit"].startswith(source)
            assert params["version.numpy"] == provenance["environment"]["packages"]["numpy"]
            assert tags["genrebench.plugin"] == "genrebench.builtin.reference"

    # The MLP's per-epoch history as steps, equal to its provenance.json.
    mlp = next(
        r
        for r in children
        if r.data.tags["genrebench.experiment"] == "reference/mlp"
        and r.data.tags["genrebench.seed"] == "0"
    )
    history = json.loads((folders[("reference/mlp", "0")] / "provenance.json").read_text())[
        "training_history"
    ]
    logged = sorted(
        client.get_metric_history(mlp.info.run_id, "history/train_loss"), key=lambda m: m.step
    )
    assert [m.step for m in logged] == [h["epoch"] for h in history]
    assert [m.value for m in logged] == pytest.approx([h["train_loss"] for h in history])
    assert len(history) == 40  # reference/mlp's quick profile: 40 epochs
    # A job's files come back byte for byte.
    got = download(client, mlp.info.run_id, "predictions.csv", tmp_path / "download")
    assert got.read_bytes() == (folders[("reference/mlp", "0")] / "predictions.csv").read_bytes()

    # The parent holds the leaderboard, the report and the list of its jobs.
    files = {f.path for f in client.list_artifacts(parent.info.run_id)}
    assert {"leaderboard.csv", "leaderboard.md", "report.html", "suite.toml", "jobs.csv"} <= files
    board = pd.read_csv(download(client, parent.info.run_id, "leaderboard.csv", tmp_path / "p"))
    assert board.equals(pd.read_csv(tmp_path / "board" / "leaderboard.csv"))
    jobs = pd.read_csv(download(client, parent.info.run_id, "jobs.csv", tmp_path / "p"))
    assert set(jobs["mlflow"]) == {"logged"}
    assert set(jobs["mlflow_run_id"]) == {r.info.run_id for r in children}

    # The tree as the module that prints it reads it back.
    from genrebench_mlflow.tree import tree

    lines = tree(uri, "mlflow-test")
    assert lines[1].startswith(f"parent {parent.info.run_id}") and "9 nested runs" in lines[1]
    assert len(lines) == 2 + N_JOBS
    assert sum("+history" in line for line in lines) == 2  # the MLP's two seeds

    # Run the suite again: every job is reused, and none is logged twice; the new parent
    # lists them with the runs that hold them.
    assert run_suite(suite_file, tmp_path) == 0
    parents = client.search_runs([experiment.experiment_id], SESSION)
    assert len(parents) == 2
    assert len(job_runs(client, experiment.experiment_id)) == N_JOBS
    second = next(p for p in parents if p.info.run_id != parent.info.run_id)
    jobs = pd.read_csv(download(client, second.info.run_id, "jobs.csv", tmp_path / "q"))
    assert set(jobs["mlflow"]) == {"logged earlier"}
    assert set(jobs["mlflow_run_id"]) == {r.info.run_id for r in children}
    assert second.data.metrics["n_jobs_logged_earlier"] == N_JOBS


def test_a_job_that_mlflow_has_not_seen_is_logged_when_reused(tmp_path, monkeypatch):
    """A local file store this time (MLflow 3 keeps it behind MLFLOW_ALLOW_FILE_STORE)."""
    args = ["run", "reference/logreg", "--dataset", "synthetic-genres", "--no-progress"]
    args += ["--dataset-option", "tracks_per_class=5", "--dataset-option", "duration=2.0"]
    args += ["--out", str(tmp_path / "runs")]
    assert main(args) == 0  # without MLflow
    uri = (tmp_path / "mlruns-store").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("GENREBENCH_MLFLOW_EXPERIMENT", "my-benchmark")
    assert main(args) == 0  # the job is reused, and MLflow sees it for the first time
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("my-benchmark")
    [job] = job_runs(client, experiment.experiment_id)
    assert job.data.tags["genrebench.reused"] == "true"
    [parent] = client.search_runs([experiment.experiment_id], SESSION)
    assert job.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.info.run_name == "genrebench run"
    assert {"leaderboard.csv", "jobs.csv"} <= {
        f.path for f in client.list_artifacts(parent.info.run_id)
    }


def test_artifacts_go_where_genrebench_mlflow_artifacts_says_not_into_the_current_folder(
    tmp_path, monkeypatch
):
    """With a SQLite store and no server, MLflow's default artifact root is ``./mlruns``
    under the current folder (a checkout, if the run started there)."""
    args = ["run", "reference/logreg", "--dataset", "synthetic-genres", "--no-progress"]
    args += ["--dataset-option", "tracks_per_class=5", "--dataset-option", "duration=2.0"]
    args += ["--out", str(tmp_path / "runs")]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("GENREBENCH_MLFLOW_ARTIFACTS", "elsewhere/artifacts")  # relative
    work = tmp_path / "checkout"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(args) == 0
    assert not (work / "mlruns").exists()
    stored = tmp_path / "checkout" / "elsewhere" / "artifacts"
    experiment = MlflowClient(tracking_uri=uri).get_experiment_by_name("genrebench")
    assert experiment.artifact_location == stored.resolve().as_uri()
    assert len(job_runs(MlflowClient(tracking_uri=uri), experiment.experiment_id)) == 1
    assert list(stored.rglob("predictions.csv")), "the job's predictions were not logged there"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tracking_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "genrebench.mlflow"]


def test_a_server_that_is_down_costs_one_warning_and_no_result(
    suite_file, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # nobody there
    caplog.set_level(logging.WARNING, logger="genrebench.mlflow")
    assert run_suite(suite_file, tmp_path) == 0
    [warning] = tracking_warnings(caplog)
    assert "failed while creating the parent run" in warning
    assert "nothing more is sent to MLflow in this run" in warning
    assert (tmp_path / "board" / "leaderboard.csv").is_file()
    assert (tmp_path / "board" / "report.html").is_file()
    assert len(job_folders(tmp_path / "runs")) == N_JOBS


def test_a_server_that_never_answers_costs_one_bounded_wait(
    suite_file, tmp_path, monkeypatch, caplog
):
    """A socket that accepts connections and never replies: each request ends at the
    timeout, and the first one switches the tracking off."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{silent.getsockname()[1]}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    caplog.set_level(logging.WARNING, logger="genrebench.mlflow")
    try:
        started = time.monotonic()
        assert run_suite(suite_file, tmp_path) == 0
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    [warning] = tracking_warnings(caplog)
    assert "timed out" in warning.lower() or "timeout" in warning.lower()
    assert (tmp_path / "board" / "leaderboard.csv").is_file()
    # MLflow's own defaults (7 retries, 120 s timeouts) would wait for many minutes.
    assert elapsed < 240


@pytest.mark.parametrize("setting", [None, "0"])
def test_without_a_uri_or_switched_off_mlflow_is_not_even_imported(
    setting, suite_file, tmp_path, monkeypatch
):
    if setting is not None:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'x.db'}")
        monkeypatch.setenv("GENREBENCH_MLFLOW", setting)
    # Importing the module that talks to MLflow would fail.
    monkeypatch.setitem(sys.modules, "genrebench_mlflow.tracker", None)
    assert run_suite(suite_file, tmp_path) == 0
    assert not (tmp_path / "x.db").exists() and not (tmp_path / "mlruns").exists()


# --------------------------------------------------------------------------- a real server
SERVER_START_SECONDS = 300  # `mlflow server` imports a lot: about a minute on a busy machine


@pytest.fixture
def mlflow_server(tmp_path):
    """``mlflow server`` on 127.0.0.1 and a free port (SQLite store, artifacts proxied by
    the server into a folder), stopped after the test."""
    executable = Path(sys.executable).with_name("mlflow")
    if not executable.exists():
        pytest.skip("the mlflow server needs the full `mlflow` package (pip install mlflow)")
    port = free_port()
    log_file = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed below
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [str(executable), "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}"]
    command += ["--artifacts-destination", str(tmp_path / "server-artifacts"), "--workers", "1"]
    server = subprocess.Popen(
        command, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"mlflow server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the server and its worker processes
            try:  # uvicorn waits for open keep-alive connections: not for long
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)
        log_file.close()


@pytest.mark.slow
def test_against_a_real_tracking_server(mlflow_server, suite_file, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    assert run_suite(suite_file, tmp_path) == 0
    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name("mlflow-test")
    [parent] = client.search_runs([experiment.experiment_id], SESSION)
    children = job_runs(client, experiment.experiment_id, parent.info.run_id)
    assert len(children) == N_JOBS
    folders = job_folders(tmp_path / "runs")
    for run in children:
        tags = run.data.tags
        folder = folders[(tags["genrebench.experiment"], tags["genrebench.seed"])]
        result = json.loads((folder / "metrics.json").read_text())
        assert run.data.metrics["accuracy"] == pytest.approx(result["metrics"]["accuracy"])
        # artifacts uploaded through the server, and back
        got = download(client, run.info.run_id, "metrics.json", tmp_path / run.info.run_id)
        assert json.loads(got.read_text()) == result
    report = download(client, parent.info.run_id, "report.html", tmp_path / "parent")
    assert report.read_bytes() == (tmp_path / "board" / "report.html").read_bytes()
