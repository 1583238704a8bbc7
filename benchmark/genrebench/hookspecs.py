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
    from genrebench.run.planning import RunOptions
    from genrebench.run.suites import Suite
    from genrebench.specs import (
        CalibratorSpec,
        DatasetSpec,
        EnsembleSpec,
        ExperimentSpec,
        FeatureSpec,
        MetricSpec,
        ModelSpec,
    )

PROJECT = "genrebench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------- registration
# The ``register_*`` hooks are called by ``genrebench.registry.loading.load_plugins`` when it builds
# the registry: once per process that loads the plugins -- the command's process, and again
# in each Dask worker (a local extraction worker loads only the one plugin whose feature it
# computes).  They must be quick and import no heavy library (torch, TensorFlow): ``genrebench
# list`` calls them too.  Every name must be unique across plugins (two plugins registering
# one name stop the loading with a PluginError that names both); a plugin whose hook raises is
# reported and skipped while the others load.
@hookspec
def genrebench_register_datasets() -> list[DatasetSpec] | None:
    """Declare the data sets this plugin provides.

    Called once per registry build (see above), on every process that loads the plugins.

    :return: :class:`~genrebench.specs.DatasetSpec` objects (or ``None``): each names a data
        set, its task type and its ``load(root, options)`` function, which returns a
        :class:`~genrebench.dataset.Dataset` (tracks, labels, split schemes) when a run
        needs it.  ``embedded=True`` marks data that needs no files (generated or shipped).
    """


@hookspec
def genrebench_register_features() -> list[FeatureSpec] | None:
    """Declare the features this plugin computes from audio.

    Called once per registry build, on every process that loads the plugins; the
    ``extract`` functions themselves run later, in the extraction workers (a separate
    process per worker, or a Dask worker), once per track not yet in the feature cache.

    :return: :class:`~genrebench.specs.FeatureSpec` objects (or ``None``): a name, the
        sample rate the audio is decoded at, ``extract(audio, sample_rate) -> array``, and
        the ``params`` and ``version`` that key the on-disk cache (bump ``version`` when the
        output changes).
    """


@hookspec
def genrebench_register_models() -> list[ModelSpec] | None:
    """Declare the models this plugin can build.

    Called once per registry build, on every process that loads the plugins; the
    factories run later, once per job, on the process that runs the job.

    :return: :class:`~genrebench.specs.ModelSpec` objects (or ``None``): each names a
        factory ``create(setup: ModelSetup) -> Model`` whose model fits arrays and returns
        per-segment class probabilities (see :class:`~genrebench.specs.Model`).
    """


@hookspec
def genrebench_register_metrics() -> list[MetricSpec] | None:
    """Declare the metrics this plugin adds to every row of its task type.

    Called once per registry build, on every process that loads the plugins; the metric
    functions run once per job (and ensemble) on the process that evaluates it.

    :return: :class:`~genrebench.specs.MetricSpec` objects (or ``None``): pure functions
        of the true labels and the per-track probabilities for one task type, each a new
        leaderboard column (a column the core fills itself, or another plugin's metric of
        the same task type, is refused with a PluginError naming both).
    """


@hookspec
def genrebench_register_experiments() -> list[ExperimentSpec] | None:
    """Declare the experiments (a paper's recipes) this plugin provides.

    Called once per registry build, on every process that loads the plugins.  An experiment
    whose feature, model, calibrator or task type does not resolve stays listed as broken
    and gets a failed row, without stopping the others.

    :return: :class:`~genrebench.specs.ExperimentSpec` objects (or ``None``): each binds a
        feature, a model, the segments, the aggregation, the paper's own split and the
        profiles (``quick``, ``paper``, ...) with their budgets.
    """


@hookspec
def genrebench_register_calibrators() -> list[CalibratorSpec] | None:
    """Declare the post-hoc calibrators this plugin provides.

    Called once per registry build, on every process that loads the plugins; a calibrator
    is fitted once per job on the validation tracks' probabilities, on the process that
    evaluates the job.

    :return: :class:`~genrebench.specs.CalibratorSpec` objects (or ``None``) that
        experiments and ``--calibration NAME`` refer to by name.
    """


@hookspec
def genrebench_register_ensembles() -> list[EnsembleSpec] | None:
    """Declare the ensembles (combinations of experiments) this plugin provides.

    Called once per registry build, on every process that loads the plugins.  An ensemble
    runs on the command's process after its members' jobs, from their saved predictions.

    :return: :class:`~genrebench.specs.EnsembleSpec` objects (or ``None``): the member
        experiments and the rule (``mean``, ``vote`` or a function) that combines their
        per-track probabilities.
    """


@hookspec
def genrebench_register_suites() -> list[str | os.PathLike] | None:
    """Declare the benchmark suites this plugin ships.

    Called on the command's process only, by the commands that look suites up
    (``genrebench suites``, ``genrebench run --suite``, ``genrebench report --suite``);
    not when the registry is built.

    :return: paths of suite files (TOML, see :mod:`genrebench.run.suites`), for example
        ``[importlib.resources.files(__package__) / "suites" / "gtzan-paper.toml"]`` (or
        ``None``); ``genrebench run --suite NAME`` then runs one by its ``name``.
    """


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
    """Called once per ``genrebench run``, on the process that runs the command, after every
    job was planned and every data set loaded, before the first job runs.  Return value
    ignored.

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
    ``fold-<k>`` folder), then once for the seed's pooled result (``fold`` None).  Called on
    the process that runs the command, in plan order, also when the job itself ran on a
    Dask worker.  Return value ignored.

    :param result: the content of the job's ``metrics.json``: ``experiment``, ``dataset``,
        ``profile``, ``seed`` (``"ensemble"`` for a seed ensemble), ``config_hash``,
        ``status``, ``task``, ``metrics`` (every raw and ``_calibrated`` column), ``cost``.
    :param job_folder: the folder holding the job's files (``metrics.json``,
        ``provenance.json``, ``predictions.csv``,
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
    """Called once per ``genrebench run``, on the process that runs the command, after its
    leaderboard files (and, for a suite, ``report.html``) were written.  Not called when
    the run stops on an error or an interruption before that.  Return value ignored.

    :param suite: as for :func:`genrebench_session_started`.
    :param results: every job's result, as passed to :func:`genrebench_run_finished`.
    :param leaderboard_folder: where ``leaderboard.md``/``.csv``/``.json`` were written (with
        ``report.html``, ``report.png`` and ``suite.toml`` for a suite).
    :param exitstatus: the command's exit status: 0, or 1 when some job failed.
    """
