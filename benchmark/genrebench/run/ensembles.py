"""Ensembles, evaluated from saved predictions after the jobs they combine ran (no
retraining).

* **Seed ensembles** (deep ensembles): when a run trains an experiment with two or more
  seeds on a data set, the mean of those seeds' per-track probabilities (for a k-fold
  split: of the seeds' pooled results), written to
  ``<out>/runs/<experiment>/<dataset>/<profile>/seed-ensemble/`` (``.../<profile>/
  paper-protocol/seed-ensemble/`` under the paper protocol) and shown on the leaderboard as
  ``<experiment> (seed ensemble)``.
* **Cross-experiment ensembles** (:class:`~genrebench.specs.EnsembleSpec`): members'
  predictions on the same data set, split, profile, protocol and seed combined by a rule,
  written to ``<out>/runs/<ensemble>/<dataset>/<profile>/seed-<n>/`` like an experiment's
  job (:func:`genrebench.results.outputs.job_folder`).  A rule
  named by a string is one of :mod:`genrebench.aggregation`'s rules applied across members
  instead of segments (``mean``, ``vote``, ``geometric``, ``max``); a function rule gets
  every member's test and validation probabilities.

Each ensemble folder holds the same files as a job (``predictions.csv``,
``valid_predictions.csv`` when there are validation probabilities,
``predictions_calibrated.csv``, ``reliability.json``, the class report and
``metrics.json``), so every number recomputes from files, and carries its members'
protocol, split and evaluation-set fields (``evaluation_set``, ``split_sha256``, ``caps``,
lost test tracks).  An ensemble whose members did not all run with this run's
configuration, failed, or ran on different test tracks (or different planned ones) is
refused: its ``metrics.json`` says ``failed`` and names the member.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genrebench import __version__
from genrebench.aggregation import aggregate_tracks, get_aggregation
from genrebench.evaluation.calibration import calibrate, calibrators
from genrebench.results import outputs
from genrebench.results.provenance import config_hash, environment
from genrebench.run.jobfiles import save_job_files
from genrebench.run.planning import Job, matching, planned_datasets
from genrebench.run.progress import announce
from genrebench.run.stages import (
    Predictions,
    calibrated_columns,
    check_probabilities,
    compute_metrics,
    metric_errors,
)
from genrebench.specs import EnsembleMember, EnsembleSpec

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.registry.loading import Registry
    from genrebench.run.planning import RunOptions
    from genrebench.run.runner import Runner

COST_SUMS = ("feature_seconds", "train_seconds", "inference_seconds_per_track", "n_parameters")


class MemberError(ValueError):
    """A member that did not run, failed, or does not match the others."""


@dataclass(frozen=True)
class EnsembleJob:
    ensemble: EnsembleSpec
    dataset: str
    seed: int


@dataclass
class Saved:
    """One finished job's result and per-track predictions, read back from its folder."""

    name: str
    result: dict[str, Any]
    test_ids: list[str]
    y_test: np.ndarray
    test_probs: np.ndarray
    valid_ids: list[str]
    y_valid: np.ndarray | None
    valid_probs: np.ndarray | None


# --------------------------------------------------------------------------- planning
def select_ensembles(registry: Registry, patterns: Sequence[str]) -> list[EnsembleSpec]:
    """Ensembles named by ``patterns`` (every registered one when there are none)."""
    names = registry.names("ensembles")
    chosen = (
        names if not patterns else [n for n in names if any(matching([n], p) for p in patterns)]
    )
    return [registry.get("ensembles", n) for n in chosen]


def plan_ensembles(registry: Registry, options: RunOptions) -> tuple[list[EnsembleJob], list[str]]:
    """The cross-experiment ensemble jobs of a run (after its experiment jobs) and notes on
    data sets left out."""
    jobs, notes = [], []
    experiments = set(registry.names("experiments"))
    for ensemble in select_ensembles(registry, options.experiments):
        lacking = [
            m
            for m in ensemble.members
            if m in experiments and options.profile not in registry.get("experiments", m).profiles
        ]
        if lacking:  # as an experiment without the profile is skipped, not failed
            notes.append(
                f"ensemble {ensemble.name} skipped: its member {lacking[0]} has no profile "
                f"{options.profile!r}"
            )
            continue
        for ds in planned_datasets(registry, options):
            if ds.task not in ensemble.tasks:
                notes.append(
                    f"ensemble {ensemble.name} skipped on {ds.name}: it supports "
                    f"{'/'.join(ensemble.tasks)}, the data set is {ds.task}"
                )
                continue
            for seed in range(options.seed_start, options.seed_start + options.seeds):
                jobs.append(EnsembleJob(ensemble, ds.name, seed))
    return jobs, notes


# --------------------------------------------------------------------------- running
def run_all(
    runner: Runner, jobs: Sequence[EnsembleJob], results: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run the cross-experiment ensembles, then the seed ensemble of every experiment (and
    ensemble) that has two or more finished seeds among ``results`` and the new ones."""
    crossed = [report(runner, run_ensemble(runner, job)) for job in jobs]
    return crossed + [report(runner, r) for r in seed_ensembles(runner, [*results, *crossed])]


def report(runner: Runner, result: dict[str, Any]) -> dict[str, Any]:
    """Print an ensemble's progress line and pass it to ``genrebench_run_finished``."""
    seed = "" if result["seed"] == "ensemble" else f" seed {result['seed']}"
    label = f"[ensemble] {result['experiment']} on {result['dataset']}{seed}"
    runner.warn_metric_errors(result)
    announce(runner.registry, label, result, outputs.result_folder(runner.options.out, result))
    return result


def run_ensemble(runner: Runner, job: EnsembleJob) -> dict[str, Any]:
    """Combine the members' saved predictions for one data set and seed by the ensemble's
    rule, score and save them; a refused ensemble comes back (and is saved) as failed."""
    spec, profile, protocol = job.ensemble, runner.options.profile, runner.options.protocol
    folder = outputs.job_folder(
        runner.options.out, spec.name, job.dataset, profile, protocol, job.seed
    )
    base = _base(spec.name, job.dataset, profile, job.seed, protocol)
    started = time.perf_counter()
    writing = _Writing(folder)
    members = []
    try:
        for name in spec.members:
            if name not in runner.registry.names("experiments"):
                raise MemberError(f"member {name!r} is not a registered experiment")
            experiment = runner.registry.get("experiments", name)
            if profile not in experiment.profiles:
                raise MemberError(f"member {name!r} has no profile {profile!r}")
            member_job = Job(experiment, job.dataset, job.seed)
            digest = config_hash(runner.job_config(member_job))
            members.append(load(name, runner.job_dir(member_job), digest))
        members = align(members)
        test_probs, valid_probs = combine(spec, members)
        calibration = runner.options.calibration or spec.calibration
        description = {
            "kind": "experiments",
            "members": list(spec.members),
            "rule": spec.rule if isinstance(spec.rule, str) else _function_name(spec.rule),
        }
        base["config_hash"] = _members_hash(members)
        reused = reused_where_read_only(folder, base["config_hash"])
        if reused is not None:
            return reused
        writing.lock()
        result = evaluate(
            members,
            test_probs,
            valid_probs,
            calibration,
            calibrators(runner.registry),
            runner.registry.specs("metrics"),
            folder,
            runner.metric_plugin,
        )
        result = {**base, **carried(members), **result, "ensemble": description}
    except Exception as exc:  # a refused or broken ensemble is a failed row, never a crash
        result = writing.refused(base, "ensemble", exc)
    result.setdefault("cost", {})["total_seconds"] = round(time.perf_counter() - started, 3)
    return writing.save(result, provenance(result, members))


def seed_ensembles(runner: Runner, results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The seed ensemble of every (experiment or ensemble) x data set with two or more
    finished seeds among ``results`` (the mean of their per-track probabilities)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in results:  # a k-fold seed counts by its pooled result, never by its folds
        if r.get("status") == "ok" and isinstance(r.get("seed"), int) and r.get("fold") is None:
            groups.setdefault((r["experiment"], r["dataset"], r["profile"]), []).append(r)
    out = []
    protocol = runner.options.protocol
    for (name, dataset, profile), runs in sorted(groups.items()):
        seeds = sorted({r["seed"] for r in runs})
        if len(seeds) < 2:
            continue
        hashes = {r["seed"]: r["config_hash"] for r in runs}

        def folder(seed: int | str, key: tuple[str, str, str] = (name, dataset, profile)) -> Path:
            return outputs.job_folder(runner.options.out, *key, protocol, seed)

        base = _base(f"{name} (seed ensemble)", dataset, profile, "ensemble", protocol)
        started = time.perf_counter()
        writing = _Writing(folder("ensemble"))
        members = []
        try:
            members = align([load(f"{name} seed {s}", folder(s), hashes[s]) for s in seeds])
            test_probs, valid_probs = combine_by_rule("mean", members)
            base["config_hash"] = _members_hash(members)
            reused = reused_where_read_only(folder("ensemble"), base["config_hash"])
            if reused is not None:
                out.append(reused)
                continue
            writing.lock()
            result = evaluate(
                members,
                test_probs,
                valid_probs,
                runs[0].get("calibration", {}).get("calibrator", "temperature"),
                calibrators(runner.registry),
                runner.registry.specs("metrics"),
                folder("ensemble"),
                runner.metric_plugin,
            )
            description = {"kind": "seeds", "of": name, "seeds": seeds, "rule": "mean"}
            result = {**base, **carried(members), **result, "ensemble": description}
        except Exception as exc:
            result = writing.refused(base, "seed ensemble", exc)
        result.setdefault("cost", {})["total_seconds"] = round(time.perf_counter() - started, 3)
        out.append(writing.save(result, provenance(result, members)))
    return out


# --------------------------------------------------------------------------- saving
class _Writing:
    """An ensemble's folder, written as a job's is: under the job lock
    (:func:`genrebench.results.outputs.job_lock`, so two runs given the same ``--out`` take turns),
    ``provenance.json`` first and ``metrics.json`` last (its presence marks the result
    finished).  The lock is taken before the prediction files are written (:meth:`lock`)
    or, for a refused ensemble, by :meth:`save`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._held: contextlib.ExitStack | None = None

    def lock(self) -> None:
        if self._held is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            held = contextlib.ExitStack()
            held.enter_context(outputs.job_lock(self.folder))
            self._held = held

    def unlock(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

    def refused(self, base: dict[str, Any], what: str, exc: Exception) -> dict[str, Any]:
        """The failed result of an ensemble (``what``) that ``exc`` refused; an error that
        leaves its folder unwritable (full, read-only) is raised instead: the run stops."""
        self.unlock()
        if outputs.storage_reason(exc):
            raise exc
        reason = str(exc) if isinstance(exc, MemberError) else f"{type(exc).__name__}: {exc}"
        return {**base, "status": "failed", "error": f"{what} refused: {reason}"}

    def save(self, result: dict[str, Any], provenance: dict[str, Any]) -> dict[str, Any]:
        try:
            self.lock()
            if result["status"] != "ok":
                outputs.remove_stale(self.folder, written=())
            outputs.write_json(self.folder / "provenance.json", provenance)
            outputs.write_json(self.folder / "metrics.json", result)  # last: marks it finished
        finally:
            self.unlock()
        return result


def provenance(result: dict[str, Any], members: Sequence[Saved]) -> dict[str, Any]:
    """The ``provenance.json`` of an ensemble: what it combined (each member's name,
    experiment, seed and configuration hash), by which rule, and the environment that
    combined them.  The members' own ``provenance.json`` hold their training
    configurations and splits."""
    return {
        "config_hash": result.get("config_hash"),
        "ensemble": result.get("ensemble"),
        "members": [
            {
                "name": m.name,
                "experiment": m.result.get("experiment"),
                "seed": m.result.get("seed"),
                "config_hash": m.result.get("config_hash"),
            }
            for m in members
        ],
        "genrebench_version": __version__,
        "environment": environment(),
    }


# --------------------------------------------------------------------------- pieces
def reused_where_read_only(folder: Path, digest: str) -> dict[str, Any] | None:
    """The ensemble's finished result of the same members in ``folder`` when ``folder``
    cannot be written (a finished run in a read-only place is only read); else None: it
    is evaluated (again) and saved."""
    if not folder.is_dir() or outputs.writable_problem(folder) is None:
        return None
    earlier = outputs.read_json(folder / "metrics.json") or {}
    if earlier.get("status") == "ok" and earlier.get("config_hash") == digest:
        return {**earlier, "reused": True}
    return None


def load(name: str, folder: Path, expected_hash: str | None = None) -> Saved:
    """A finished job's result and predictions; :class:`MemberError` when it has none,
    failed, or was run with another configuration than ``expected_hash``."""
    result = outputs.read_json(folder / "metrics.json")
    if result is None:
        raise MemberError(f"member {name!r} did not run (no {folder / 'metrics.json'})")
    if result.get("status") != "ok":
        raise MemberError(f"member {name!r} failed: {result.get('error', 'unknown error')}")
    if expected_hash is not None and result.get("config_hash") != expected_hash:
        raise MemberError(
            f"member {name!r} did not run with this run's configuration (the results in "
            f"{folder} are from another one)"
        )
    classes, task = result["classes"], result["task"]
    test_ids, y_test, test_probs = outputs.read_predictions(
        folder / "predictions.csv", classes, task
    )
    valid_ids, y_valid, valid_probs = [], None, None
    if result.get("n_valid_tracks"):
        valid_ids, y_valid, valid_probs = outputs.read_predictions(
            folder / "valid_predictions.csv", classes, task
        )
    return Saved(name, result, test_ids, y_test, test_probs, valid_ids, y_valid, valid_probs)


def align(members: Sequence[Saved]) -> list[Saved]:
    """The members with rows in the first member's track order; :class:`MemberError`
    naming the first member whose classes, task or test tracks differ.  Validation
    predictions are kept only when every member has them for the same tracks."""
    first = members[0]
    for m in members[1:]:
        if (m.result["task"], m.result["classes"]) != (
            first.result["task"],
            first.result["classes"],
        ):
            raise MemberError(f"member {m.name!r} has other classes or task than {first.name!r}")
        if set(m.test_ids) != set(first.test_ids):
            differ = len(set(m.test_ids) ^ set(first.test_ids))
            raise MemberError(
                f"member {m.name!r} ran on different test tracks than {first.name!r} "
                f"({differ} track ids differ): not the same split"
            )
    same_valid = all(
        m.valid_probs is not None and set(m.valid_ids) == set(first.valid_ids) for m in members
    )
    out = []
    for m in members:
        order = _order(m.test_ids, first.test_ids)
        valid = _order(m.valid_ids, first.valid_ids) if same_valid else None
        out.append(
            Saved(
                m.name,
                m.result,
                list(first.test_ids),
                m.y_test[order],
                m.test_probs[order],
                list(first.valid_ids) if same_valid else [],
                m.y_valid[valid] if same_valid else None,
                m.valid_probs[valid] if same_valid else None,
            )
        )
    return out


def combine(spec: EnsembleSpec, members: Sequence[Saved]) -> tuple[np.ndarray, np.ndarray | None]:
    """Test probabilities (and validation probabilities, when the rule gives them) of the
    ensemble ``spec`` over aligned ``members``."""
    if isinstance(spec.rule, str):
        return combine_by_rule(spec.rule, members)
    task = members[0].result["task"]
    views = [EnsembleMember(m.name, m.test_probs, m.valid_probs) for m in members]
    probs = spec.rule(views, members[0].y_valid, task)
    first = members[0]
    checked = check_probabilities(
        probs,
        len(first.test_ids),
        first.test_probs.shape[1],
        task,
        f"ensemble {spec.name} rule",
        row_names=lambda row: f"track {first.test_ids[row]}",
    )
    return checked, None  # a function rule gives no validation probabilities to calibrate on


def combine_by_rule(rule: str, members: Sequence[Saved]) -> tuple[np.ndarray, np.ndarray | None]:
    """An aggregation rule applied across members: each member's probabilities of a track
    play the part of that track's segments."""
    get_aggregation(rule)  # an unknown name raises with the known ones
    task = members[0].result["task"]
    test = _across(rule, [m.test_probs for m in members], task)
    valid = None
    if members[0].valid_probs is not None:
        valid = _across(rule, [m.valid_probs for m in members], task)
    return test, valid


def _across(rule: str, probs: Sequence[np.ndarray], task: str) -> np.ndarray:
    n = len(probs[0])
    owner = np.tile(np.arange(n), len(probs))
    return aggregate_tracks(np.concatenate(probs), owner, n, rule, task)


def evaluate(
    members: Sequence[Saved],
    test_probs: np.ndarray,
    valid_probs: np.ndarray | None,
    calibration: str,
    registered_calibrators: Mapping[str, Any],
    metric_specs: Sequence[Any],
    folder: Path,
    plugin_of: Callable[[str], str] = lambda name: "?",
) -> dict[str, Any]:
    """Calibrate and score an ensemble's probabilities like a job's, save its files in
    ``folder`` and return the body of its ``metrics.json`` (``plugin_of(metric)``: the
    plugin named when a metric fails)."""
    first = members[0]
    task, classes = first.result["task"], list(first.result["classes"])
    thresholds = {float(m.result.get("threshold", 0.5)) for m in members}
    threshold = thresholds.pop() if len(thresholds) == 1 else 0.5
    predictions = Predictions(
        classes=classes,
        task=task,
        test_ids=first.test_ids,
        y_test=first.y_test,
        test_probs=test_probs,
        test_segment_probs=test_probs,
        owner_test=np.arange(len(first.test_ids)),
        valid_ids=first.valid_ids,
        y_valid=first.y_valid,
        valid_probs=valid_probs,
        threshold=threshold,
        inference_seconds=0.0,
    )
    calibrated = calibrate(
        calibration, registered_calibrators, task, valid_probs, first.y_valid, test_probs
    )
    failures: dict[str, str] = {}
    metrics = compute_metrics(metric_specs, task, first.y_test, test_probs, threshold, failures)
    metrics |= calibrated_columns(metric_specs, task, predictions, calibrated, failures)
    folder.mkdir(parents=True, exist_ok=True)
    save_job_files(folder, predictions, calibrated)
    return {
        "status": "ok",
        "task": task,
        "classes": classes,
        "threshold": threshold,
        "split": first.result.get("split"),
        "n_valid_tracks": len(first.valid_ids) if valid_probs is not None else 0,
        "n_test_tracks": len(first.test_ids),
        "metrics": metrics,
        "cost": _summed_costs(members),
        "calibration": calibrated.report(),
        **({"metric_errors": metric_errors(failures, plugin_of)} if failures else {}),
    }


def _base(name: str, dataset: str, profile: str, seed: int | str, protocol: str) -> dict[str, Any]:
    return {
        "experiment": name,
        "dataset": dataset,
        "profile": profile,
        "protocol": protocol,
        "seed": seed,
        "fold": None,
        "genrebench_version": __version__,
    }


#: The fields of ``metrics.json`` an ensemble copies from its members: what split and
#: planned test tracks it was evaluated on, and what the members lost.
CARRIED = (
    "split_seed",
    "folds",
    "split_sha256",
    "evaluation_set",
    "n_test_tracks_lost",
    "test_tracks_lost",
    "caps",
)


def carried(members: Sequence[Saved]) -> dict[str, Any]:
    """The :data:`CARRIED` fields of the (aligned) members, which must agree on the planned
    test tracks (``evaluation_set``): a :class:`MemberError` naming the first that does not."""
    first = members[0]
    for m in members[1:]:
        if m.result.get("evaluation_set") != first.result.get("evaluation_set"):
            raise MemberError(
                f"member {m.name!r} was planned on other test tracks than {first.name!r} "
                f"(evaluation set {m.result.get('evaluation_set')} vs "
                f"{first.result.get('evaluation_set')})"
            )
    return {key: first.result[key] for key in CARRIED if key in first.result}


def _summed_costs(members: Sequence[Saved]) -> dict[str, Any]:
    """The ensemble costs what its members cost together (None when a member's is unknown)."""
    out: dict[str, Any] = {}
    for key in COST_SUMS:
        values = [m.result.get("cost", {}).get(key) for m in members]
        out[key] = None if any(v is None for v in values) else sum(values)
    return out


def _members_hash(members: Sequence[Saved]) -> str:
    joined = ",".join(str(m.result.get("config_hash")) for m in members)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def _order(ids: Sequence[str], wanted: Sequence[str]) -> np.ndarray:
    index = {t: i for i, t in enumerate(ids)}
    return np.array([index[t] for t in wanted], dtype=np.int64)


def _function_name(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
