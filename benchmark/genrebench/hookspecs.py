"""The hooks a genrebench plugin may implement.

One marker (``genrebench.hookimpl``), one prefix (``genrebench_``).  Plugins are found
through the ``genrebench`` entry-point group.  The ``register_*`` hooks are called once,
when the plugin manager builds its registry, and each returns a list of specs (or None);
names must be unique across all plugins.  ``genrebench_register_suites`` is the exception:
it returns paths of suite files and is called only when suites are listed or run.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
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
@hookspec
def genrebench_run_finished(result: dict[str, Any]) -> None:
    """Called after each experiment x data set x seed has been evaluated and saved, with the
    content of its ``metrics.json`` (``status`` is ``"ok"`` or ``"failed"``): for a k-fold
    split once per fold (``fold`` set) and once for the seed's pooled result (``fold``
    None).  Return value ignored.  Use it to log to an external tracker."""
