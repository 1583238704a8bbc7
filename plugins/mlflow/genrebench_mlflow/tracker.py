"""A ``genrebench run`` as MLflow runs, written with MLflow's own client (``MlflowClient``).

* The session (one ``genrebench run``: a plain run or a suite) is a **parent run** in the
  MLflow experiment named after the suite.  Its parameters are the run options, its
  artifacts the leaderboard files (``leaderboard.md``/``.csv``/``.json``, and for a suite
  ``report.html``, ``report.png`` and ``suite.toml``) and ``jobs.csv``, which lists every job
  of the session with its MLflow run.
* Each **job** -- experiment x data set x seed, cross-experiment ensemble, seed ensemble --
  is a run nested under it (tag ``mlflow.parentRunId``): parameters (experiment, data set,
  profile, protocol, seed, split and its checksums, configuration hash, git revision,
  package and plugin versions), metrics (every leaderboard column of the job, raw and
  ``_calibrated``, its costs and track counts; the model's per-epoch training history as
  ``history/<name>`` at step = epoch), tags (``genrebench.plugin``, ``genrebench.paper``,
  ``genrebench.task``, ...) and artifacts (``predictions.csv``,
  ``predictions_calibrated.csv``, ``reliability.json``, ``metrics.json``,
  ``provenance.json``).  A failed job is a ``FAILED`` run with its error.
* A job is logged once: its identity is its experiment and configuration hash (tag
  ``genrebench.identity``), and a successful job the experiment already holds a complete run
  of (tag ``genrebench.logged = true``) is not logged again -- a job reused from an earlier
  ``genrebench run`` that MLflow has not seen yet is logged then.  ``jobs.csv`` of the
  parent names the earlier run.

MLflow never costs the benchmark its results, which are saved before the hooks run: each
request is bounded (``MLFLOW_HTTP_REQUEST_TIMEOUT`` 10 s and one retry unless set), and
the first failure -- a server that is down, refuses or times out -- logs one warning and
stops the tracking for the rest of the run.
"""

from __future__ import annotations

import atexit
import csv
import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

log = logging.getLogger("genrebench.mlflow")

#: Defaults for MLflow's HTTP settings, used unless the user set them: a tracking server
#: that does not answer costs one bounded wait, never MLflow's default of minutes of retries.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    # The client prints "View run ... at: URL" for every run it ends: not on our output.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
JOB_ARTIFACTS = (
    "predictions.csv",
    "predictions_calibrated.csv",
    "reliability.json",
    "metrics.json",
    "provenance.json",
)
LEADERBOARD_ARTIFACTS = (
    "leaderboard.md",
    "leaderboard.csv",
    "leaderboard.json",
    "report.html",
    "report.png",
    "suite.toml",
)
# MLflow's limits (mlflow.utils.validation): entities per log_batch call and value lengths.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000
_KEY_CHARACTERS = re.compile(r"[^\w\-./ :]")

LOGGED = "genrebench.logged"
IDENTITY = "genrebench.identity"


def configure_http() -> None:
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)


class Tracker:
    """One session's MLflow logging (see the module docstring).  Every public method
    catches its own failures: the first one is logged as a warning and switches the
    tracker off (each method starts by checking :attr:`failure`)."""

    def __init__(
        self, uri: str, experiment_name: str, artifact_location: str | None = None
    ) -> None:
        configure_http()
        self.uri = uri
        self.experiment_name = experiment_name
        #: Where a new experiment's artifacts go (None: MLflow's default); an existing
        #: experiment keeps its own.
        self.artifact_location = artifact_location
        self.client = MlflowClient(tracking_uri=uri)
        self.parent_id: str | None = None
        #: The first failure ("what: error"); once set, nothing more is sent.
        self.failure: str | None = None
        #: One row per job of the session, for the parent's ``jobs.csv``.
        self.jobs: list[dict[str, str]] = []
        self._experiment_id: str | None = None

    # ------------------------------------------------------------------ the session
    def start_session(self, suite: Any | None, options: Sequence[Any]) -> None:
        """Create the parent run (``mlflow.parentRunId`` of every job of the session)."""
        name = f"suite {suite.name}" if suite is not None else "genrebench run"
        tags = {"genrebench.kind": "session", "mlflow.source.name": "genrebench run"}
        if suite is not None:
            tags |= {"genrebench.suite": suite.name, "genrebench.suite_file": str(suite.path)}
            tags["mlflow.note.content"] = suite.description
        tags = {k: str(v) for k, v in tags.items()}  # the REST API takes strings only
        if self.failure is not None:
            return
        with self._guarded("creating the parent run"):
            run = self.client.create_run(self.experiment_id(), run_name=name, tags=tags)
            self.parent_id = run.info.run_id
            params = {"suite": suite.name if suite is not None else "", "runs": len(options)}
            for k, each in enumerate(options):
                prefix = f"run{k + 1}." if len(options) > 1 else ""
                params |= {f"{prefix}{key}": value for key, value in _options(each).items()}
            from genrebench import __version__

            params["genrebench_version"] = __version__
            self._log_batch(self.parent_id, params=params)
            atexit.register(self._abandoned)

    def finish_session(self, leaderboard_folder: Path, exitstatus: int) -> None:
        """The leaderboard files and ``jobs.csv`` as the parent's artifacts; end it."""
        atexit.unregister(self._abandoned)
        if self.parent_id is None or self.failure is not None:
            return
        with self._guarded("finishing the parent run"):
            for name in LEADERBOARD_ARTIFACTS:
                path = Path(leaderboard_folder) / name
                if path.is_file():
                    self.client.log_artifact(self.parent_id, str(path))
            with tempfile.TemporaryDirectory() as scratch:
                listing = Path(scratch) / "jobs.csv"
                _write_csv(listing, self.jobs)
                self.client.log_artifact(self.parent_id, str(listing))
            counts = {
                "n_jobs": len(self.jobs),
                "n_jobs_failed": sum(j["status"] != "ok" for j in self.jobs),
                "n_jobs_logged_now": sum(j["mlflow"] == "logged" for j in self.jobs),
                "n_jobs_logged_earlier": sum(j["mlflow"] == "logged earlier" for j in self.jobs),
            }
            self._log_batch(
                self.parent_id, metrics=counts, tags={"genrebench.exitstatus": exitstatus}
            )
            status = "FINISHED" if exitstatus == 0 else "FAILED"
            self.client.set_terminated(self.parent_id, status)

    def _abandoned(self) -> None:
        """At exit without :meth:`finish_session` (an error, Ctrl-C): the parent is KILLED."""
        if self.parent_id is not None and self.failure is None:
            with self._guarded("ending the interrupted parent run"):
                self.client.set_terminated(self.parent_id, "KILLED")

    # ------------------------------------------------------------------ one job
    def log_job(self, result: Mapping[str, Any], folder: Path) -> None:
        """Log one finished job as a run nested under the session's parent (if any)."""
        row = {
            "experiment": str(result.get("experiment")),
            "dataset": str(result.get("dataset")),
            "seed": str(result.get("seed")),
            "status": str(result.get("status")),
            "config_hash": str(result.get("config_hash", "")),
            "folder": str(folder),
            "mlflow_run_id": "",
            "mlflow": "not logged",
        }
        self.jobs.append(row)
        if self.failure is not None:
            return
        with self._guarded(f"logging {row['experiment']} on {row['dataset']} seed {row['seed']}"):
            earlier = self._logged_run(result)
            if earlier is not None:
                row |= {"mlflow_run_id": earlier, "mlflow": "logged earlier"}
                return
            row["mlflow_run_id"] = self._log_new_job(result, Path(folder))
            row["mlflow"] = "logged"

    def _logged_run(self, result: Mapping[str, Any]) -> str | None:
        """The id of a complete run of this (successful) job in the experiment, if any."""
        if result.get("status") != "ok":
            return None  # a failed job is never reused: each failure is its own attempt
        query = f"tags.`{IDENTITY}` = '{identity(result)}' and tags.`{LOGGED}` = 'true'"
        found = self.client.search_runs([self.experiment_id()], query, max_results=1)
        return found[0].info.run_id if found else None

    def _log_new_job(self, result: Mapping[str, Any], folder: Path) -> str:
        provenance = _read_json(folder / "provenance.json")
        start, end = _times(result, folder)
        tags = job_tags(result, provenance, folder)
        if self.parent_id is not None:
            tags["mlflow.parentRunId"] = self.parent_id
        run = self.client.create_run(
            self.experiment_id(), start_time=start, tags=tags, run_name=run_name(result)
        )
        run_id = run.info.run_id
        self._log_batch(
            run_id,
            params=job_params(result, provenance),
            metrics=job_metrics(result),
            history=provenance.get("training_history"),
            timestamp=end,
        )
        for name in JOB_ARTIFACTS:
            if (folder / name).is_file():
                self.client.log_artifact(run_id, str(folder / name))
        self.client.set_tag(run_id, LOGGED, "true")  # last: the run is complete
        ok = result.get("status") == "ok"
        self.client.set_terminated(run_id, "FINISHED" if ok else "FAILED", end_time=end)
        return run_id

    # ------------------------------------------------------------------ pieces
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            found = self.client.get_experiment_by_name(self.experiment_name)
            if found is None:
                try:
                    self._experiment_id = self.client.create_experiment(
                        self.experiment_name, artifact_location=self.artifact_location
                    )
                except Exception:  # created meanwhile by another process
                    found = self.client.get_experiment_by_name(self.experiment_name)
                    if found is None:
                        raise
            if found is not None:
                self._experiment_id = found.experiment_id
        return self._experiment_id

    def _log_batch(
        self,
        run_id: str,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, Any] | None = None,
        history: Any = None,
        timestamp: int | None = None,
    ) -> None:
        """Everything in as few requests as MLflow's batch limits allow."""
        now = timestamp if timestamp is not None else int(time.time() * 1000)
        metric_list = [Metric(_key(k), v, now, 0) for k, v in (metrics or {}).items()]
        metric_list += history_metrics(history, now)
        param_list = [Param(_key(k), str(v)[:MAX_PARAM_LENGTH]) for k, v in (params or {}).items()]
        tag_list = [RunTag(k, str(v)[:MAX_TAG_LENGTH]) for k, v in (tags or {}).items()]
        for chunk in _chunks(metric_list, MAX_METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=chunk)
        for chunk in _chunks(param_list, MAX_PARAMS_TAGS_PER_BATCH):
            self.client.log_batch(run_id, params=chunk)
        for chunk in _chunks(tag_list, MAX_PARAMS_TAGS_PER_BATCH):
            self.client.log_batch(run_id, tags=chunk)

    def _guarded(self, what: str) -> _Guard:
        return _Guard(self, what)


class _Guard:
    """Turns an exception in its block into one warning and switches the tracker off."""

    def __init__(self, tracker: Tracker, what: str) -> None:
        self.tracker, self.what = tracker, what

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is None:
            return False
        if not issubclass(kind, Exception):
            return False  # KeyboardInterrupt and the like go on
        message = " ".join(str(exc).split())
        if len(message) > 400:
            message = message[:400] + " ..."
        self.tracker.failure = f"{self.what}: {kind.__name__}: {message}"
        log.debug("MLflow tracking failed", exc_info=(kind, exc, tb))
        log.warning(
            "MLflow tracking at %s failed while %s (%s: %s); nothing more is sent to MLflow "
            "in this run.  The benchmark's own results are saved as usual; run the same "
            "command again once the tracking server works: finished jobs are then reused "
            "and logged.",
            self.tracker.uri,
            self.what,
            kind.__name__,
            message,
        )
        return True


# --------------------------------------------------------------------------- what is logged
def identity(result: Mapping[str, Any]) -> str:
    """A job's identity across runs: its experiment (or ensemble) name and configuration
    hash (an ensemble's hash covers only its members' configurations)."""
    text = f"{result.get('experiment')}\n{result.get('config_hash')}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def kind_of(result: Mapping[str, Any]) -> str:
    if result.get("seed") == "ensemble":
        return "seed-ensemble"
    return "ensemble" if "ensemble" in result else "job"


def run_name(result: Mapping[str, Any]) -> str:
    seed = result.get("seed")
    where = "seed ensemble" if seed == "ensemble" else f"seed {seed}"
    return f"{result.get('experiment')} · {result.get('dataset')} · {where}"


def job_tags(result: Mapping[str, Any], provenance: Mapping[str, Any], folder: Path) -> dict:
    experiment = provenance.get("config", {}).get("experiment", {})
    plugin = provenance.get("plugins", {}).get(f"experiment:{result.get('experiment')}", "")
    tags = {
        "genrebench.kind": kind_of(result),
        "genrebench.experiment": result.get("experiment"),
        "genrebench.dataset": result.get("dataset"),
        "genrebench.seed": result.get("seed"),
        "genrebench.status": result.get("status"),
        "genrebench.config_hash": result.get("config_hash", ""),
        IDENTITY: identity(result),
        "genrebench.task": result.get("task", ""),
        "genrebench.plugin": plugin.split(" (", 1)[0],
        "genrebench.paper": experiment.get("paper", "") if isinstance(experiment, dict) else "",
        "genrebench.job_folder": str(Path(folder).resolve()),
        "mlflow.source.name": "genrebench run",
    }
    if result.get("reused"):
        tags["genrebench.reused"] = "true"
    if result.get("status") != "ok":
        tags["genrebench.error"] = result.get("error", "")
        tags["mlflow.note.content"] = result.get("error", "")
    return {k: str(v)[:MAX_TAG_LENGTH] for k, v in tags.items() if v not in (None, "")}


def job_params(result: Mapping[str, Any], provenance: Mapping[str, Any]) -> dict[str, Any]:
    """What the job is: its configuration, split, code and package versions."""
    config = provenance.get("config", {})
    experiment = config.get("experiment", {}) if isinstance(config, dict) else {}
    environment = provenance.get("environment", {})
    split = provenance.get("split", {})
    params: dict[str, Any] = {
        key: result.get(key)
        for key in ("experiment", "dataset", "profile", "seed", "protocol", "config_hash")
    }
    params |= {
        "split": result.get("split"),
        "split_seed": result.get("split_seed", config.get("split_seed")),
        "fold": result.get("fold"),
        "folds": result.get("folds"),
        "task": result.get("task"),
        "aggregation": result.get("aggregation"),
        "calibration": config.get("calibration") or result.get("calibration", {}).get("calibrator"),
        "feature": experiment.get("feature"),
        "model": experiment.get("model"),
        "genrebench_version": result.get("genrebench_version"),
    }
    checksums = result.get("split_sha256") or split.get("sha256") or {}
    params |= {f"split_sha256.{part}": value for part, value in checksums.items()}
    evaluation = result.get("evaluation_set") or {}
    if evaluation.get("sha256"):
        params["evaluation_set.sha256"] = evaluation["sha256"]
    # The revision of the working folder's repository (where the run was started) and of
    # the genrebench source that ran it.
    for key, name in (("git", "git_commit"), ("genrebench_source_git", "genrebench_git_commit")):
        git = environment.get(key) or {}
        if git.get("commit"):
            params[name] = git["commit"] + ("-dirty" if git.get("dirty") else "")
    params |= {f"version.{k}": v for k, v in environment.get("packages", {}).items()}
    params |= {f"plugin.{k.split(':', 1)[0]}": v for k, v in provenance.get("plugins", {}).items()}
    ensemble = result.get("ensemble") or {}
    if ensemble:
        params |= {
            "ensemble.kind": ensemble.get("kind"),
            "ensemble.rule": ensemble.get("rule"),
            "ensemble.members": ",".join(
                map(str, ensemble.get("members") or ensemble.get("seeds") or [])
            ),
            "ensemble.of": ensemble.get("of"),
        }
    return {k: v for k, v in params.items() if v not in (None, "")}


def job_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """Every leaderboard column of the job (raw and calibrated metrics, the calibrator's
    numbers, costs) and its track counts."""
    values: dict[str, Any] = dict(result.get("metrics") or {})
    values |= {k: v for k, v in (result.get("cost") or {}).items() if k not in values}
    for key in ("n_train_tracks", "n_valid_tracks", "n_test_tracks", "n_skipped_tracks"):
        values[key] = result.get(key)
    values["n_test_tracks_lost"] = result.get("n_test_tracks_lost")
    return {k: float(v) for k, v in values.items() if _number(v)}


def history_metrics(history: Any, timestamp: int) -> list[Metric]:
    """The model's per-epoch records (``provenance.json``'s ``training_history``) as
    ``history/<name>`` metrics with step = epoch."""
    if not isinstance(history, list):
        return []
    out = []
    for index, record in enumerate(history):
        if not isinstance(record, dict):
            continue
        step = record.get("epoch", index + 1)
        step = int(step) if _number(step) else index + 1
        for name, value in record.items():
            if name != "epoch" and _number(value):
                out.append(Metric(_key(f"history/{name}"), float(value), timestamp, step))
    return out


# --------------------------------------------------------------------------- helpers
def _options(options: Any) -> dict[str, Any]:
    """A run's options (``RunOptions``) as parameter values, empty ones left out."""
    fields = dataclasses.asdict(options) if dataclasses.is_dataclass(options) else vars(options)
    out = {}
    for key, value in fields.items():
        if value in (None, "", (), [], {}) or key == "progress":
            continue
        if isinstance(value, list | tuple):
            value = ",".join(map(str, value))
        elif isinstance(value, dict):
            value = json.dumps(value, sort_keys=True, default=str)
        out[key] = value
    return out


def _times(result: Mapping[str, Any], folder: Path) -> tuple[int, int]:
    """Start and end (ms since the epoch) of the job: its ``metrics.json`` was written at
    the end, ``cost.total_seconds`` after it started."""
    try:
        end = (folder / "metrics.json").stat().st_mtime
    except OSError:
        end = time.time()
    seconds = (result.get("cost") or {}).get("total_seconds") or 0.0
    return int((end - float(seconds)) * 1000), int(end * 1000)


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not (isinstance(value, float) and math.isinf(value))
    )


def _key(name: str) -> str:
    return _KEY_CHARACTERS.sub("_", name)


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    names = list(rows[0]) if rows else ["experiment", "dataset", "seed", "status"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
