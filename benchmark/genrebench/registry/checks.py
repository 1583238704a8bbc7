"""The checks run when the plugins load (:func:`genrebench.registry.loading.load_plugins`):
metric columns that clash with each other or with the leaderboard's own columns, task types
that are not known, and references (an experiment's feature, model, calibrator and
aggregation; an ensemble's members and rule) to names nobody registered.  A broken
registration is recorded in ``Registry.broken`` and the others stay usable."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from genrebench.aggregation import AGGREGATIONS
from genrebench.errors import ConfigError, PluginError, UnknownNameError
from genrebench.evaluation.columns import core_column_problem
from genrebench.registry import ENV_ONLY
from genrebench.specs import TASKS

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.registry.loading import Registered, Registry

log = logging.getLogger("genrebench.registry.loading")  # one logger for loading plugins


def clash_advice(registry: Registry, first: str, second: str) -> str:
    """What resolves a name clash: leaving out an entry-point plugin (the builtins and
    plugin objects given in code cannot be left out), and the real fix, a prefix."""
    removable = [p for p in (first, second) if registry.sources.get(p, ("",))[0] == "entry_point"]
    fix = "names should carry their plugin's own prefix (for example 'myplugin/name')"
    if not removable:
        return f"rename one of them: {fix}"
    leave_out = " or ".join(f"{ENV_ONLY}=-{p}" for p in removable)
    return f"leave one out with {leave_out} (or uninstall it); {fix}"


def check_metric_columns(registry: Registry) -> None:
    """A :class:`PluginError` naming both plugins when two metrics of one task type fill
    the same leaderboard column, or naming the plugin and the column when a metric fills a
    column the core fills itself (``accuracy_raw``, ``accuracy_<aggregation>``, and every
    column of :data:`genrebench.evaluation.columns.CORE_COLUMNS`: ``experiment``, ``status``,
    ``temperature``, ``train_seconds``, ...) or names a column that cannot be one (empty,
    with ``/``, or ending in a suffix the core appends: ``_std``, ``_calibrated``,
    ``_ci_low``, ...)."""

    core = {"accuracy_raw": "segment accuracy"}
    core.update({f"accuracy_{a}": f"accuracy under aggregation {a!r}" for a in AGGREGATIONS})
    seen: dict[tuple[str, str], Registered] = {}
    for name, item in registry.items["metrics"].items():
        for column in item.spec.column_names():
            where = f"metric {name!r} of plugin {item.plugin!r}"
            if "/" in column or not column:
                raise PluginError(
                    f"{where} declares the column {column!r}; columns may not be empty or hold '/'"
                )
            reserved = core_column_problem(column)
            if reserved is not None:
                raise PluginError(
                    f"{where} fills the leaderboard column {column!r}, which it may not: "
                    f"{reserved}; rename the metric (or set MetricSpec.columns)"
                )
            if column in core and item.spec.task == "single-label":
                raise PluginError(
                    f"{where} fills the column {column!r}, which the core fills itself "
                    f"({core[column]}); rename the metric"
                )
            known = seen.setdefault((item.spec.task, column), item)
            if known is not item:
                raise PluginError(
                    f"metric {known.spec.name!r} of plugin {known.plugin!r} and {where} both "
                    f"fill the {item.spec.task} leaderboard column {column!r} (a metric's column "
                    "is its name after the last '/', or its MetricSpec.columns); "
                    + clash_advice(registry, known.plugin, item.plugin)
                )


# --------------------------------------------------------------------------- references
def check_references(registry: Registry) -> None:
    """Fill ``registry.broken``: every task type must be one of :data:`TASKS`, and every
    name an experiment or ensemble uses must resolve (feature, model, aggregations,
    calibrator, members), with task types that fit.  Checked once, when the registry is built, so
    ``genrebench list`` shows a broken experiment and a run can leave it out."""
    # lazy: loads scipy, sklearn, not needed at import time
    from genrebench.evaluation.calibration import resolve as resolve_calibrator

    broken = registry.broken
    calibrators = {n: r.spec for n, r in registry.items["calibrators"].items()}
    for kind, field_name in (("datasets", "task"), ("metrics", "task")):
        for name, item in registry.items[kind].items():
            if getattr(item.spec, field_name) not in TASKS:
                broken[kind][name] = _bad_task(getattr(item.spec, field_name))
    for name, item in registry.items["models"].items():
        bad = [t for t in item.spec.tasks if t not in TASKS]
        if bad or not item.spec.tasks:
            broken["models"][name] = _bad_task(bad or item.spec.tasks)

    def reference(kind: str, wanted: str) -> str | None:
        if wanted not in registry.items[kind]:
            return str(UnknownNameError(kind[:-1], wanted, registry.items[kind]))
        if wanted in broken[kind]:
            return f"its {kind[:-1]} {wanted!r} is broken: {broken[kind][wanted]}"
        return None

    for name, item in registry.items["experiments"].items():
        exp = item.spec
        problems = [reference("features", exp.feature), reference("models", exp.model)]
        bad = [t for t in exp.tasks if t not in TASKS]
        if bad or not exp.tasks:
            problems.append(_bad_task(bad or exp.tasks))
        elif exp.model in registry.items["models"] and exp.model not in broken["models"]:
            model_tasks = registry.items["models"][exp.model].spec.tasks
            missing = [t for t in exp.tasks if t not in model_tasks]
            if missing:
                problems.append(
                    f"it runs on {'/'.join(missing)} data, which its model {exp.model!r} "
                    f"does not support (it supports {'/'.join(model_tasks)})"
                )
        for rule in (exp.aggregation, *exp.extra_aggregations):
            if rule not in AGGREGATIONS:
                problems.append(str(UnknownNameError("aggregation", rule, AGGREGATIONS)))
        try:
            resolve_calibrator(exp.calibration, calibrators)
        except ConfigError as exc:
            problems.append(str(exc))
        problems = [p for p in problems if p]
        if problems:
            broken["experiments"][name] = "; ".join(problems)
    for name, item in registry.items["ensembles"].items():
        ensemble = item.spec
        problems = [reference("experiments", m) for m in ensemble.members]
        bad = [t for t in ensemble.tasks if t not in TASKS]
        if bad or not ensemble.tasks:
            problems.append(_bad_task(bad or ensemble.tasks))
        if isinstance(ensemble.rule, str) and ensemble.rule not in AGGREGATIONS:
            problems.append(str(UnknownNameError("aggregation", ensemble.rule, AGGREGATIONS)))
        problems = [p for p in problems if p]
        if problems:
            broken["ensembles"][name] = "; ".join(problems)
    for kind, names in broken.items():
        for name in names:
            log.debug("%s", registry.broken_reason(kind, name))


def _bad_task(value: Any) -> str:
    return f"task type {value!r} is not one of {', '.join(TASKS)}"
