"""Planning a run: what ``genrebench run`` was asked (:class:`RunOptions`), the experiments
and data sets it selects, and the (experiment x data set x seed [x fold]) :class:`Job` list
it runs, with notes on what was left out and why.  Nothing here trains or writes."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genrebench.dataset import DEFAULT_FOLDS, KFOLD, MIN_FOLDS
from genrebench.datasets import protocols
from genrebench.errors import ConfigError
from genrebench.evaluation import calibration
from genrebench.specs import PROFILES, TASKS, ExperimentSpec

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.registry.loading import Registry


@dataclass
class RunOptions:
    """What ``genrebench run`` was asked to do (see ``genrebench run --help``)."""

    experiments: Sequence[str] = ()
    datasets: Sequence[str] = ()
    data_root: Path | None = None
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    #: ``benchmark`` (one split per data set, test parts never capped) or ``paper`` (each
    #: experiment's own split and caps): :mod:`genrebench.datasets.protocols`.
    protocol: str = protocols.DEFAULT_PROTOCOL
    split: str | None = None
    split_ratios: Mapping[str, float] | None = None
    split_seed: int = 0
    #: Folds of ``split="kfold"`` (default 5).
    folds: int | None = None
    profile: str = "quick"
    seeds: int = 1
    seed_start: int = 0
    out: Path = Path("runs")
    jobs: int = 1
    device: str = "auto"
    cache_dir: Path | None = None
    progress: bool = False
    strict: bool = False
    #: ``local``, ``dask`` (with ``scheduler``) or ``dask:local:N`` (genrebench.run.executors).
    executor: str = "local"
    scheduler: str | None = None
    #: Overrides every experiment's calibrator (a name, ``temperature=<T>`` or ``none``).
    calibration: str | None = None


@dataclass(frozen=True)
class Job:
    experiment: ExperimentSpec
    dataset: str
    seed: int
    #: The fold of a k-fold split (0-based); None for other splits and for the pooled
    #: result of a seed's folds.
    fold: int | None = None

    def label(self) -> str:
        fold = "" if self.fold is None else f" fold {self.fold}"
        return f"{self.experiment.name} on {self.dataset} seed {self.seed}{fold}"


# --------------------------------------------------------------------------- planning
def select_experiments(registry: Registry, patterns: Sequence[str]) -> list[ExperimentSpec]:
    """Experiments named by ``patterns`` (exact names or shell-style globs such as
    ``schindler2016/*``); every registered one when ``patterns`` is empty.  A pattern may
    also name ensembles (:mod:`genrebench.run.ensembles`): their member experiments are then
    selected too, so that the ensemble can run after them."""
    names = registry.names("experiments")
    clash = set(names) & set(registry.names("ensembles"))
    if clash:
        raise ConfigError(f"ensembles and experiments share the names {sorted(clash)}")
    if not patterns:
        return registry.specs("experiments")
    chosen: list[str] = []
    for pattern in patterns:
        matches = matching(names, pattern)
        ensembles = matching(registry.names("ensembles"), pattern)
        for ensemble in ensembles:
            matches += [m for m in registry.get("ensembles", ensemble).members if m in names]
        if not matches and not ensembles:
            raise registry.missing("experiments", pattern, [*names, *registry.names("ensembles")])
        chosen.extend(m for m in matches if m not in chosen)
    return [registry.get("experiments", n) for n in chosen]


def planned_datasets(registry: Registry, options: RunOptions) -> list[Any]:
    """The data sets a run uses: those named with ``--dataset`` (a broken one is an error),
    else every embedded one that is not broken."""
    if options.datasets:
        for name in options.datasets:
            if registry.get("datasets", name) and registry.broken["datasets"].get(name):
                raise ConfigError(registry.broken_reason("datasets", name))
        return [registry.get("datasets", name) for name in options.datasets]
    return [
        d
        for d in registry.specs("datasets")
        if d.embedded and not registry.broken["datasets"].get(d.name)
    ]


def plan(registry: Registry, options: RunOptions) -> tuple[list[Job], list[str]]:
    """The jobs to run and notes on what was left out: experiments without the profile,
    task type mismatches, and experiments that need pretrained weights
    (``requires_weights``) unless they were named exactly (not by a glob, not by default)."""
    if options.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {options.seeds}")
    protocols.check_protocol(options.protocol)
    folds = kfold_count(options)
    if options.calibration is not None:
        calibration.resolve(options.calibration, calibration.calibrators(registry))
    experiments = select_experiments(registry, options.experiments)
    named = set(options.experiments)
    weightless = [e for e in experiments if not e.requires_weights or e.name in named]
    notes = [
        f"{e.name} left out: it needs {e.requires_weights}; name it to run it"
        for e in experiments
        if e not in weightless
    ]
    experiments = weightless
    profiled = [e for e in experiments if options.profile in e.profiles]
    if not profiled and not notes:
        known = sorted({p for e in experiments for p in e.profiles} | set(PROFILES))
        raise ConfigError(
            f"no selected experiment has profile {options.profile!r}; known profiles: "
            + ", ".join(known)
        )
    datasets = planned_datasets(registry, options)
    jobs: list[Job] = []
    for exp in experiments:
        if exp not in profiled:
            notes.append(f"{exp.name} skipped: it has no profile {options.profile!r}")
            continue
        # A broken experiment's task types may be wrong too: it gets its failed row on
        # every data set of a valid task type it names, or on every data set.
        tasks = exp.tasks
        if registry.broken["experiments"].get(exp.name):
            tasks = [t for t in exp.tasks if t in TASKS] or TASKS
        for ds in datasets:
            if ds.task not in tasks:
                notes.append(
                    f"{exp.name} skipped on {ds.name}: it supports {'/'.join(exp.tasks)}, "
                    f"the data set is {ds.task}"
                )
                continue
            for seed in range(options.seed_start, options.seed_start + options.seeds):
                if folds is None:
                    jobs.append(Job(exp, ds.name, seed))
                else:
                    jobs += [Job(exp, ds.name, seed, fold) for fold in range(folds)]
    if experiments and options.experiments and options.datasets and not jobs:
        raise ConfigError("no experiment/data set pair matches in task type: " + "; ".join(notes))
    return jobs, notes


def kfold_count(options: RunOptions) -> int | None:
    """The number of folds of a k-fold run (``--split kfold``), None for other splits; a
    :class:`ConfigError` for ``--folds`` without ``--split kfold`` or under 3."""

    if options.split != KFOLD:
        if options.folds is not None:
            raise ConfigError(f"--folds applies to --split {KFOLD}, not to --split {options.split}")
        return None
    folds = DEFAULT_FOLDS if options.folds is None else options.folds
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < MIN_FOLDS:
        raise ConfigError(
            f"--folds must be a whole number >= {MIN_FOLDS} (a test fold, a validation fold "
            f"and training folds), got {folds!r}"
        )
    return folds


def matching(names: Sequence[str], pattern: str) -> list[str]:
    """``names`` matching ``pattern`` (an exact name or a shell-style glob)."""
    if any(c in pattern for c in "*?["):
        return fnmatch.filter(names, pattern)
    return [pattern] if pattern in names else []
