"""genrebench hook implementations of the ``mlflow`` plugin.

Nothing happens -- mlflow is not even imported -- unless ``MLFLOW_TRACKING_URI`` is set
(and ``GENREBENCH_MLFLOW`` does not switch the plugin off), so that installing the plugin
never slows a run down.  With a URI, a ``genrebench run`` becomes a parent MLflow run and
each of its jobs (experiments, ensembles, seed ensembles) a run nested under it; see
:mod:`genrebench_mlflow.tracker`.

The hooks run on the process that runs ``genrebench run`` (with the Dask executor too), one
session at a time, so the session's tracker is module state.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genrebench import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from genrebench_mlflow.tracker import Tracker

#: MLflow's own variable: where runs are logged (``http://host:5000``, ``sqlite:///mlflow.db``,
#: ``databricks``, ...).  Unset: the plugin does nothing.
ENV_URI = "MLFLOW_TRACKING_URI"
#: ``0``/``off``/``false``/``no`` switches the plugin off even where a URI is set (for users
#: who set ``MLFLOW_TRACKING_URI`` for other work).
ENV_SWITCH = "GENREBENCH_MLFLOW"
#: The MLflow experiment the runs go to; default: the suite's name, or ``genrebench`` for a
#: plain ``genrebench run``.
ENV_EXPERIMENT = "GENREBENCH_MLFLOW_EXPERIMENT"
DEFAULT_EXPERIMENT = "genrebench"
#: Where the artifacts of an experiment the plugin creates go (a folder or a URI).  Unset:
#: MLflow's default, which for a database store without a server is ``./mlruns`` under the
#: current folder -- inside a checkout, if that is where ``genrebench run`` was started.
ENV_ARTIFACTS = "GENREBENCH_MLFLOW_ARTIFACTS"

_tracker: Tracker | None = None


def tracking_uri() -> str | None:
    """The tracking URI to log to, or None when the plugin is off."""
    if os.environ.get(ENV_SWITCH, "").strip().lower() in {"0", "off", "false", "no"}:
        return None
    return os.environ.get(ENV_URI, "").strip() or None


def experiment_name(suite: Any | None) -> str:
    """``$GENREBENCH_MLFLOW_EXPERIMENT``, else the suite's name, else ``genrebench``."""
    configured = os.environ.get(ENV_EXPERIMENT, "").strip()
    return configured or (suite.name if suite is not None else DEFAULT_EXPERIMENT)


def artifact_location() -> str | None:
    """``$GENREBENCH_MLFLOW_ARTIFACTS`` as an absolute URI (a plain path is taken relative
    to the current folder), or None for MLflow's default."""
    configured = os.environ.get(ENV_ARTIFACTS, "").strip()
    if not configured:
        return None
    if "://" in configured or configured.startswith("file:"):
        return configured
    return Path(configured).expanduser().resolve().as_uri()


def _new_tracker(uri: str, suite: Any | None) -> Tracker:
    from genrebench_mlflow.tracker import Tracker  # imports mlflow: only when switched on

    return Tracker(uri, experiment_name(suite), artifact_location())


@hookimpl
def genrebench_session_started(suite: Any | None, options: Sequence[Any]) -> None:
    global _tracker
    uri = tracking_uri()
    if uri is None:
        _tracker = None
        return
    _tracker = _new_tracker(uri, suite)
    _tracker.start_session(suite, options)


@hookimpl
def genrebench_run_finished(result: dict[str, Any], job_folder: Path) -> None:
    global _tracker
    uri = tracking_uri()
    if uri is None:
        return
    if _tracker is None or _tracker.uri != uri:
        # Jobs run without a session (the Runner used from Python): top-level runs.
        _tracker = _new_tracker(uri, None)
    _tracker.log_job(result, job_folder)


@hookimpl
def genrebench_session_finished(
    suite: Any | None, results: Sequence[dict[str, Any]], leaderboard_folder: Path, exitstatus: int
) -> None:
    global _tracker
    tracker, _tracker = _tracker, None
    if tracker is not None:
        tracker.finish_session(leaderboard_folder, exitstatus)
