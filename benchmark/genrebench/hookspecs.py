"""The hooks a genrebench plugin may implement.

One marker (``genrebench.hookimpl``), one prefix (``genrebench_``).  Plugins are found
through the ``genrebench`` entry-point group.  The ``register_*`` hooks are called once,
when the plugin manager builds its registry, and each returns a list of specs (or None);
names must be unique across all plugins.  ``genrebench_register_suites`` is the exception:
it returns paths of suite files and is called only when suites are listed or run.  The
lifecycle hooks (``genrebench_session_started``, ``genrebench_run_finished``,
``genrebench_session_finished``) let a plugin follow a ``genrebench run`` (an experiment
tracker, for example).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.runner import RunOptions
    from genrebench.specs import (
        CalibratorSpec,
        DatasetSpec,
        EnsembleSpec,
        ExperimentSpec,
        FeatureSpec,
        MetricSpec,
        ModelSpec,
    )
    from genrebench.suites import Suite

PROJECT = "genrebench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------- registration
@hookspec
def genrebench_register_datasets() -> list[DatasetSpec] | None:
    """Called once at start-up.  Return the :class:`~genrebench.specs.DatasetSpec` objects
    this plugin provides: data sets with their tracks, labels and split schemes."""


@hookspec
def genrebench_register_features() -> list[FeatureSpec] | None:
    """Called once at start-up.  Return :class:`~genrebench.specs.FeatureSpec` objects:
    functions that turn a track's audio into an array (cached on disk by the core)."""


@hookspec
def genrebench_register_models() -> list[ModelSpec] | None:
    """Called once at start-up.  Return :class:`~genrebench.specs.ModelSpec` objects:
    factories of learners that fit arrays and predict class probabilities."""


@hookspec
def genrebench_register_metrics() -> list[MetricSpec] | None:
    """Called once at start-up.  Return :class:`~genrebench.specs.MetricSpec` objects:
    scores of per-track probabilities, each for one task type."""


@hookspec
def genrebench_register_experiments() -> list[ExperimentSpec] | None:
    """Called once at start-up.  Return :class:`~genrebench.specs.ExperimentSpec` objects:
    a paper's recipe binding a feature, a model and a protocol."""


@hookspec
def genrebench_register_calibrators() -> list[CalibratorSpec] | None:
    """Called once at start-up.  Return :class:`~genrebench.specs.CalibratorSpec` objects:
    post-hoc calibrators fitted on validation probabilities (temperature scaling, ...)."""


@hookspec
def genrebench_register_ensembles() -> list[EnsembleSpec] | None:
    """Called once at start-up.  Return :class:`~genrebench.specs.EnsembleSpec` objects:
    combinations of experiments evaluated from their saved predictions after they ran."""


@hookspec
def genrebench_register_suites() -> list[str | os.PathLike] | None:
    """Called when suites are listed or one is run by name.  Return paths of benchmark
    suite files (TOML, see :mod:`genrebench.suites`) this plugin ships, for example
    ``[importlib.resources.files(__package__) / "suites" / "gtzan-paper.toml"]``;
    ``genrebench run --suite NAME`` then runs one by its ``name``."""


# --------------------------------------------------------------------------- run lifecycle
# A *session* is one ``genrebench run`` command: a plain run, or a suite with its runs.  The
# lifecycle hooks are called on the process that runs the command -- with the Dask executor
# too, where the jobs themselves run on the workers -- in this order: session started; for
# each run of the session, run finished for each of its jobs in plan order, then for its
# cross-experiment ensembles, then for its seed ensembles; session finished.  A program
# that drives ``Runner`` itself gets ``genrebench_run_finished`` only.  A tracker (an
# experiment logger) implements them; an exception it raises stops the run, so a tracker
# catches its own failures.
@hookspec
def genrebench_session_started(suite: Suite | None, options: Sequence[RunOptions]) -> None:
    """Called once per ``genrebench run``, after every job was planned and every data set
    loaded, before the first job runs.  Return value ignored.

    :param suite: the suite being run (``suite.name``, ``suite.path``, ``suite.description``),
        or ``None`` for a plain ``genrebench run``.
    :param options: the options of each run of the session, in order: one for a plain run,
        one per ``[[runs]]`` table of a suite (``out``, ``profile``, ``seeds``, ...).
    """


@hookspec
def genrebench_run_finished(result: dict[str, Any], job_folder: Path) -> None:
    """Called once per job -- an experiment x data set x seed, a cross-experiment ensemble
    on a data set and seed, or a seed ensemble -- after its files were saved: also for a
    failed job (``result["status"] == "failed"``, with ``result["error"]``) and for a job
    reused from an earlier run (``result["reused"]`` is true; its files are the earlier
    run's).  For a k-fold split: once per fold (``fold`` set, ``job_folder`` its
    ``fold-<k>`` folder), then once for the seed's pooled result (``fold`` None).  Return
    value ignored.

    :param result: the content of the job's ``metrics.json``: ``experiment``, ``dataset``,
        ``profile``, ``seed`` (``"ensemble"`` for a seed ensemble), ``config_hash``,
        ``status``, ``task``, ``metrics`` (every raw and ``_calibrated`` column), ``cost``.
    :param job_folder: the folder holding the job's files (``metrics.json``,
        ``provenance.json`` for experiments, ``predictions.csv``,
        ``predictions_calibrated.csv``, ``reliability.json``, ...).  An implementation may
        take only ``result``: pluggy passes the arguments a hook implementation names.
    """


@hookspec
def genrebench_session_finished(
    suite: Suite | None,
    results: Sequence[dict[str, Any]],
    leaderboard_folder: Path,
    exitstatus: int,
) -> None:
    """Called once per ``genrebench run``, after its leaderboard files (and, for a suite,
    ``report.html``) were written.  Not called when the run stops on an error or an
    interruption before that.  Return value ignored.

    :param suite: as for :func:`genrebench_session_started`.
    :param results: every job's result, as passed to :func:`genrebench_run_finished`.
    :param leaderboard_folder: where ``leaderboard.md``/``.csv``/``.json`` were written (with
        ``report.html``, ``report.png`` and ``suite.toml`` for a suite).
    :param exitstatus: the command's exit status: 0, or 1 when some job failed.
    """
