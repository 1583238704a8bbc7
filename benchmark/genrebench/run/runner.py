"""Running jobs: each one as the sequence of stages in :mod:`genrebench.run.stages`, its files
saved in its own folder (:func:`genrebench.results.outputs.job_folder`) under the job lock,
``provenance.json`` first and ``metrics.json`` last (atomically: its presence marks the job
finished).  The files and their formats are described once, in ``docs/reference/outputs.md``.
Planning the jobs is :mod:`genrebench.run.planning`'s; the session around them,
:mod:`genrebench.run.session`'s.  Started again, a run skips every job whose ``metrics.json`` is
complete for the same configuration, and the feature cache spares the extraction.  A job
that raises is saved as failed with its reason, and the others go on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genrebench import __version__
from genrebench.dataset import Dataset
from genrebench.datasets import protocols
from genrebench.errors import ConfigError, GenrebenchError
from genrebench.evaluation.calibration import calibrators
from genrebench.features.cache import FeatureCache, feature_fingerprint
from genrebench.features.workers import ExtractionPool
from genrebench.registry.loading import Registry
from genrebench.results import outputs
from genrebench.results.provenance import config_hash, environment, jsonable, peak_memory_mib
from genrebench.run import stages
from genrebench.run.executors import make_executor, parse_executor
from genrebench.run.interrupts import stop_if_interrupted
from genrebench.run.jobfiles import LOST_SHOWN, evaluation_set, lost_tracks, save_job_files
from genrebench.run.kfold import pool_folds
from genrebench.run.planning import (
    Job,
    RunOptions,
    kfold_count,
    plan,
    planned_datasets,
    select_experiments,
)
from genrebench.run.progress import announce
from genrebench.specs import ExperimentSpec, SplitRequest

#: Names defined in :mod:`genrebench.run.planning`, :mod:`genrebench.run.jobfiles` and
#: :mod:`genrebench.evaluation.calibration`, importable from here as before they moved there.
__all__ = [
    "LOST_SHOWN",
    "Job",
    "RunOptions",
    "Runner",
    "calibrators",
    "evaluation_set",
    "kfold_count",
    "lost_tracks",
    "plan",
    "planned_datasets",
    "save_job_files",
    "select_experiments",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- running
class Runner:
    def __init__(self, registry: Registry, options: RunOptions) -> None:
        self.registry = registry
        self.options = options
        self.cache = FeatureCache(options.cache_dir)
        self._datasets: dict[str, Dataset] = {}
        #: Tracks skipped in this invocation (id -> reason) and notes on data and splits,
        #: each once, for the run summary.
        self.skipped: dict[str, str] = {}
        self.notes: set[str] = set()
        #: Metrics that failed in some job, each warned about once.
        self.warned_metrics: set[str] = set()
        #: Tracks never to extract in this run: (feature, track id) -> why (their
        #: extraction killed a Dask worker each time it was tried).
        self.crashed: dict[tuple[str, str], str] = {}
        # lazy: loads torch, not needed at import time
        from genrebench.training import resolve_device

        self.device = resolve_device(options.device)
        #: One set of extraction workers for every job of the run (started on first need).
        self.pool = ExtractionPool(options.jobs, registry)

    def load_datasets(self, jobs: Sequence[Job]) -> None:
        """Load every data set the jobs need and check what the options ask of them, before
        any work: a missing or malformed data root (``DataRootError``), a data set with a
        single class, or a split -- the run's ``--split``/``--split-ratios``/``--folds``, or
        under the paper protocol an experiment's own split, after its calibration holdout
        and caps -- that leaves no training or test tracks (``ConfigError`` naming the
        experiment) stops the run at once instead of failing each job."""
        options = self.options
        if options.split_ratios and options.split not in (None, "stratified"):
            raise ConfigError(
                f"--split-ratios applies to --split stratified, not to --split {options.split}"
            )
        checked = set()
        for job in jobs:
            dataset = self.dataset(job)
            present = sorted({label for t in dataset.tracks for label in t.labels})
            if len(present) < 2:
                raise ConfigError(
                    f"data set {dataset.name!r} has {len(present)} class(es) "
                    f"({', '.join(present) or 'none'}): classification needs at least two"
                )
            request = self.split_request(job.experiment)
            budget = self.budget(job.experiment)
            key = json.dumps(
                [id(dataset), jsonable(request), job.fold, jsonable(budget)], sort_keys=True
            )
            if key in checked:
                continue
            checked.add(key)
            try:
                stages.plan_split(
                    dataset, request, options.split_seed, budget, options.protocol, job.fold
                )
            except ConfigError as exc:
                raise ConfigError(
                    f"{job.experiment.name} on {dataset.name} ({options.protocol} protocol, "
                    f"profile {options.profile!r}): {exc}"
                ) from None

    def run(self, jobs: Sequence[Job]) -> list[dict[str, Any]]:
        """Run ``jobs`` on the executor the options name (see :mod:`genrebench.run.executors`),
        printing a line per finished job; the results of the seeds, where the fold jobs of
        a k-fold split come back as their seed's pooled result (:mod:`genrebench.run.kfold`)."""
        executor = make_executor(*parse_executor(self.options.executor, self.options.scheduler))
        try:
            results = self._report(jobs, executor.run(self, jobs))
        finally:
            executor.close()
            self.pool.close()
        return pool_folds(self, jobs, results)

    def _report(self, jobs: Sequence[Job], outcomes) -> list[dict[str, Any]]:
        results = []
        for number, (job, result) in enumerate(zip(jobs, outcomes, strict=True), 1):
            protocol = " (paper protocol)" if self.options.protocol == "paper" else ""
            label = f"[{number}/{len(jobs)}] {job.label()}{protocol}"
            results.append(result)
            self.warn_metric_errors(result)
            after = ""
            if result["status"] == "ok":
                reused = " (finished earlier, reused)" if result.get("reused") else ""
                after = f" ({result['cost']['total_seconds']:.1f} s){reused}"
            # Here, on the process that runs the command, whatever the executor.
            announce(self.registry, label, result, self.job_dir(job), after=after)
        return results

    def warn_metric_errors(self, result: Mapping[str, Any]) -> None:
        """Warn once per run about each metric that failed (``metric_errors`` of a job's
        result names it and its plugin in every job it failed in)."""
        for name, reason in result.get("metric_errors", {}).items():
            if name not in self.warned_metrics:
                self.warned_metrics.add(name)
                where = f"{result['experiment']} on {result['dataset']}"
                log.warning("%s (first in %s; metrics.json names it in every job)", reason, where)

    # ------------------------------------------------------------------ one job
    def job_dir(self, job: Job) -> Path:
        options = self.options
        return outputs.job_folder(
            options.out,
            job.experiment.name,
            job.dataset,
            options.profile,
            options.protocol,
            job.seed,
            job.fold,
        )

    def job_config(self, job: Job) -> dict[str, Any]:
        exp = job.experiment
        feature = self.registry.get("features", exp.feature)
        return {
            "experiment": exp,
            "dataset": job.dataset,
            "dataset_options": self.dataset_options(job),
            "data_root": str(self.options.data_root.resolve()) if self.data_root(job) else None,
            "profile": self.options.profile,
            "budget": self.budget(exp),
            "protocol": self.options.protocol,
            "split": self.split_request(exp),
            "split_seed": self.options.split_seed,
            "seed": job.seed,
            "fold": job.fold,
            "calibration": self.calibrator_name(exp),
            "feature": json.loads(feature_fingerprint(feature)),
            # A new release of a plugin (or of the core) is new work, not a finished job.
            "versions": {"genrebench": __version__, **self._plugin_versions(job)},
        }

    def run_job(self, job: Job) -> dict[str, Any]:
        """Run one job (or reuse its finished result) under the job folder's lock, so two
        processes writing the same ``--out`` take turns.  A folder that cannot be written
        (a finished run in a read-only place) is only read: its finished result is reused,
        and nothing else can run there."""
        stop_if_interrupted()  # Ctrl-C that a plugin's code caught still stops the run
        folder = self.job_dir(job)
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(outputs.job_lock(folder))
            except OSError as exc:
                reused = self._reused(job, folder) if outputs.storage_reason(exc) else None
                if reused is None:
                    raise
                return reused
            broken = self.registry.broken_reason("experiments", job.experiment.name)
            if broken is not None:
                return self._record_broken(job, folder, broken)
            return self._run_job(job, folder)

    def _reused(self, job: Job, folder: Path, digest: str | None = None) -> dict[str, Any] | None:
        """The job's finished result of the same configuration in ``folder`` (with its
        skipped tracks and notes taken into the run summary), or None."""
        if digest is None:
            try:
                digest = config_hash(self.job_config(job))
            except GenrebenchError:  # a broken experiment never finished
                return None
        finished = outputs.read_json(folder / "metrics.json") or {}
        if finished.get("status") != "ok" or finished.get("config_hash") != digest:
            return None
        earlier = outputs.read_json(folder / "provenance.json") or {}
        self.skipped.update({p["track_id"]: p["reason"] for p in earlier.get("skipped_tracks", [])})
        self.notes.update(n for n in earlier.get("dataset_notes", []) if n)
        self.notes.update(n for n in [earlier.get("split", {}).get("note")] if n)
        return {**finished, "reused": True}

    def check_storage(self, jobs: Sequence[Job]) -> None:
        """Before any work: ``--out`` must be writable unless every job finished there
        already (a finished run in a read-only folder is only read), else a
        :class:`ConfigError` naming it; a feature cache that cannot be written is used
        read-only, saying so once."""

        def finished(job: Job) -> bool:
            if self.registry.broken_reason("experiments", job.experiment.name):
                return False  # its failed row is still to be written
            return self._reused(job, self.job_dir(job)) is not None

        if not all(finished(job) for job in jobs):
            outputs.check_writable(self.options.out, "--out")
        self.cache.check_writable()

    def _run_job(self, job: Job, folder: Path) -> dict[str, Any]:
        config = self.job_config(job)
        digest = config_hash(config)
        reused = self._reused(job, folder, digest)
        if reused is not None:
            return reused
        started = time.perf_counter()
        provenance: dict[str, Any] = {"config": jsonable(config), "config_hash": digest}
        base = self._result_base(job, digest)
        try:
            result = self._evaluate(job, folder, provenance)
            result = {**base, "status": "ok", **result}
        except Exception as exc:
            if outputs.storage_reason(exc) and _inside(getattr(exc, "filename", None), folder):
                raise  # the job folder cannot be written (full, read-only): the run stops
            log.debug("job failed", exc_info=True)
            provenance["traceback"] = traceback.format_exc()
            result = {**base, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        provenance["wall_seconds"] = round(time.perf_counter() - started, 3)
        provenance["memory"] = peak_memory_mib()
        if self.device == "cuda":
            # lazy: loads torch, not needed at import time
            import torch

            provenance["memory"]["cuda_peak_allocated_mib"] = round(
                torch.cuda.max_memory_allocated() / 2**20, 1
            )
        provenance["environment"] = environment()
        provenance["plugins"] = self._plugin_versions(job)
        result.setdefault("cost", {})["total_seconds"] = provenance["wall_seconds"]
        return self._save(folder, result, provenance)

    def record_failure(self, job: Job, reason: str) -> dict[str, Any]:
        """Save the failed row of a job that could not run to its end where it was sent
        (its Dask worker died each time), as any failed job is saved."""
        folder = self.job_dir(job)
        config = self.job_config(job)
        digest = config_hash(config)
        result = {**self._result_base(job, digest), "status": "failed", "error": reason}
        result["cost"] = {"total_seconds": 0.0}
        with outputs.job_lock(folder):
            return self._save(folder, result, {"config": jsonable(config), "config_hash": digest})

    def _record_broken(self, job: Job, folder: Path, reason: str) -> dict[str, Any]:
        """The failed row of an experiment whose references do not resolve: nothing runs."""
        config = {
            "experiment": job.experiment,
            "dataset": job.dataset,
            "profile": self.options.profile,
            "protocol": self.options.protocol,
            "seed": job.seed,
            "fold": job.fold,
        }
        digest = config_hash(config)
        result = {**self._result_base(job, digest), "status": "failed", "error": reason}
        result["cost"] = {"total_seconds": 0.0}
        return self._save(folder, result, {"config": jsonable(config), "config_hash": digest})

    def _result_base(self, job: Job, digest: str) -> dict[str, Any]:
        request = self.split_request(job.experiment)
        return {
            "experiment": job.experiment.name,
            "dataset": job.dataset,
            "profile": self.options.profile,
            "protocol": self.options.protocol,
            "seed": job.seed,
            "split_seed": self.options.split_seed,
            "fold": job.fold,
            "folds": request.folds,
            "config_hash": digest,
            "genrebench_version": __version__,
        }

    def _save(self, folder: Path, result: dict[str, Any], provenance: dict[str, Any]):
        """Write ``provenance.json`` and then ``metrics.json``, which marks the job finished
        -- except that a failure never replaces an earlier successful result of another
        configuration: it goes to ``failed.json`` beside it, and the run says so."""
        earlier = outputs.read_json(folder / "metrics.json")
        if (
            result["status"] != "ok"
            and earlier
            and earlier.get("status") == "ok"
            and earlier.get("config_hash") != result["config_hash"]
        ):
            attempt = {**result, "provenance": provenance}
            outputs.write_json(folder / outputs.FAILED_ATTEMPT, attempt)
            self.notes.add(
                f"{result['experiment']} on {result['dataset']} seed {result['seed']} failed; "
                f"the successful result of an earlier configuration in {folder} was kept "
                f"(this attempt: {folder / outputs.FAILED_ATTEMPT})"
            )
        else:
            if result["status"] != "ok":
                outputs.remove_stale(folder, written=())
            outputs.write_json(folder / "provenance.json", provenance)
            outputs.write_json(folder / "metrics.json", result)  # last: marks the job finished
        return result

    def context(self, job: Job) -> stages.JobContext:
        """Everything the job's stages need, resolved from the registry and the options."""
        exp = job.experiment
        model, dataset = self.registry.get("models", exp.model), self.dataset(job)
        if dataset.task not in model.tasks:
            raise ConfigError(f"model {model.name!r} does not support {dataset.task} data")
        return stages.JobContext(
            experiment=exp,
            feature=self.registry.get("features", exp.feature),
            model=model,
            metrics=self.registry.specs("metrics"),
            dataset=dataset,
            split_request=self.split_request(exp),
            split_seed=self.options.split_seed,
            seed=job.seed,
            budget=self.budget(exp),
            device=self.device,
            cache=self.cache,
            pool=self.pool,
            progress=self.options.progress,
            calibration=self.calibrator_name(exp),
            calibrators=calibrators(self.registry),
            protocol=self.options.protocol,
            fold=job.fold,
            skip_tracks={t: why for (f, t), why in self.crashed.items() if f == exp.feature},
        )

    def _evaluate(self, job: Job, folder: Path, provenance: dict[str, Any]) -> dict[str, Any]:
        ctx = self.context(job)
        ctx.provenance = provenance
        split = stages.choose_tracks(ctx)
        features = stages.extract_features(ctx, split)
        self.skipped.update({p.track_id: p.reason for p in features.problems})
        feature_note = provenance["features"].get("note", "")
        self.notes.update(n for n in [*ctx.dataset.notes, split.note, feature_note] if n)
        inputs = stages.cut_segments(ctx, split, features)
        trained = stages.train_model(ctx, inputs)
        predictions = stages.predict_tracks(ctx, trained, inputs)
        calibrated = stages.calibrate(ctx, predictions)
        metrics = stages.score(ctx, predictions)
        metrics |= stages.score_calibrated(ctx, predictions, calibrated)
        # A new result replaces the folder's earlier one: unmark it as finished first, so
        # an interruption while the files below are written leaves a job to redo, not a
        # mix of two configurations.
        (folder / "metrics.json").unlink(missing_ok=True)
        outputs.remove_stale(folder, save_job_files(folder, predictions, calibrated))
        summary = _summary(ctx, split, inputs, trained, predictions, metrics, features.seconds)
        failed_metrics = stages.metric_errors(ctx.metric_failures, self.metric_plugin)
        return summary | {
            "calibration": calibrated.report(),
            "plugin_metrics": self._plugin_metric_columns(ctx),
            **({"metric_errors": failed_metrics} if failed_metrics else {}),
        }

    def metric_plugin(self, name: str) -> str:
        """The plugin that registered the metric ``name``."""
        return self.registry.plugin_of("metrics", name)

    def _plugin_metric_columns(self, ctx: stages.JobContext) -> list[str]:
        """The columns plugins' metrics filled (the Markdown leaderboard shows them)."""
        builtin = ("module", "genrebench.builtin.metrics")
        return [
            column
            for spec in ctx.metrics
            if spec.task == ctx.task
            and self.registry.sources.get(self.registry.plugin_of("metrics", spec.name)) != builtin
            for column in spec.column_names()
        ]

    # ------------------------------------------------------------------ pieces
    def data_root(self, job: Job) -> Path | None:
        # --data-root belongs to the data sets named with --dataset; embedded sets run
        # without one use their default location.
        return self.options.data_root if self.options.datasets else None

    def dataset_options(self, job: Job) -> dict[str, Any]:
        merged = {**job.experiment.dataset_options, **self.options.dataset_options}
        if self.options.strict:
            merged["strict"] = True
        return merged

    def dataset(self, job: Job) -> Dataset:
        options = self.dataset_options(job)
        key = json.dumps([job.dataset, jsonable(options)], sort_keys=True)
        if key not in self._datasets:
            spec = self.registry.get("datasets", job.dataset)
            self._datasets[key] = spec.load(self.data_root(job), options)
        return self._datasets[key]

    def calibrator_name(self, exp: ExperimentSpec) -> str:
        return self.options.calibration or exp.calibration

    def split_request(self, exp: ExperimentSpec) -> SplitRequest:
        """The split a job of ``exp`` uses under the run's protocol
        (:func:`genrebench.datasets.protocols.split_request`)."""
        o = self.options
        return protocols.split_request(o.protocol, exp.split, o.split, o.split_ratios, o.folds)

    def budget(self, exp: ExperimentSpec) -> dict[str, Any]:
        """``exp``'s training budget for the run's profile."""
        return dict(exp.profiles.get(self.options.profile, {}))

    def _plugin_versions(self, job: Job) -> dict[str, str]:
        exp = job.experiment
        out = {}
        for kind, name in (
            ("experiments", exp.name),
            ("features", exp.feature),
            ("models", exp.model),
            ("datasets", job.dataset),
        ):
            try:
                plugin = self.registry.plugin_of(kind, name)
            except KeyError:
                continue
            out[f"{kind[:-1]}:{name}"] = f"{plugin} ({self.registry.versions.get(plugin, '?')})"
        return out


def _inside(path: Any, folder: Path) -> bool:
    """Whether the file ``path`` (an OSError's ``filename``) is in ``folder``."""
    return bool(path) and Path(os.fsdecode(path)).resolve().is_relative_to(folder.resolve())


def _summary(ctx, split, inputs, trained, predictions, metrics, feature_seconds) -> dict[str, Any]:
    """The body of ``metrics.json`` for a finished job."""
    model = trained.model
    return {
        "task": ctx.task,
        "classes": list(ctx.dataset.classes),
        "aggregation": ctx.experiment.aggregation,
        "threshold": predictions.threshold,
        "split": ctx.provenance["split"]["scheme"],
        "split_sha256": ctx.provenance["split"]["sha256"],
        "evaluation_set": evaluation_set(split.test),
        **lost_tracks(split.test, inputs.test_ids),
        "caps": ctx.provenance["caps"],
        "n_train_tracks": len(inputs.train_ids),
        "n_valid_tracks": len(inputs.valid_ids),
        "n_test_tracks": len(inputs.test_ids),
        "n_skipped_tracks": len(inputs.problems),
        "metrics": metrics,
        "cost": {
            "feature_seconds": round(feature_seconds, 3),
            "train_seconds": round(trained.seconds, 3),
            "inference_seconds_per_track": predictions.inference_seconds
            / len(predictions.test_ids),
            "n_parameters": model.n_parameters() if hasattr(model, "n_parameters") else None,
        },
    }
