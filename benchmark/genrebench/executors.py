"""Where a run's jobs execute.

``local`` (the default) runs them one after the other in this process.  ``dask`` sends them
to a Dask cluster: ``--executor dask --scheduler tcp://HOST:8786`` joins a running scheduler
(for example one that dask-jobqueue started on SLURM, see the README), and
``--executor dask:local:N`` starts a ``LocalCluster`` of N worker processes with one thread
each (N jobs at a time and no oversubscription).

On Dask, the features every job needs are extracted first, in chunks of tracks spread over
the workers, into the shared feature cache; then each job runs on a worker, which loads the
plugins itself, finds its features in the cache and writes its folder.  The cache and the
``--out`` folder must therefore be on storage every worker sees.  A job's outcome depends
only on its configuration and seed, so the results equal the local executor's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from genrebench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.runner import Job, Runner, RunOptions

#: Tracks per feature-extraction task sent to a Dask worker.
TRACKS_PER_TASK = 16
_SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


def parse_executor(text: str, scheduler: str | None) -> tuple[str, Any]:
    """``("local", None)``, ``("dask", address)`` or ``("dask-local", n_workers)``."""
    if text == "local":
        if scheduler:
            raise ConfigError("--scheduler needs --executor dask")
        return "local", None
    if text == "dask":
        if not scheduler:
            raise ConfigError(
                "--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786), "
                "or use --executor dask:local:N for a local cluster of N workers"
            )
        return "dask", scheduler
    if text.startswith("dask:local:"):
        count = text.removeprefix("dask:local:")
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(f"--executor dask:local:N needs a worker count N >= 1, got {text!r}")
        return "dask-local", int(count)
    raise ConfigError(
        f"unknown executor {text!r}; expected 'local', 'dask' (with --scheduler) or 'dask:local:N'"
    )


class LocalExecutor:
    """Every job in this process, in order."""

    def run(self, runner: Runner, jobs: Sequence[Job]) -> Iterator[dict[str, Any]]:
        for job in jobs:
            yield runner.run_job(job)

    def close(self) -> None:
        pass


class DaskExecutor:
    """Jobs and feature extraction on a Dask cluster (``distributed`` is imported only
    here, so the core does not need it for local runs)."""

    def __init__(self, address: str | None = None, n_workers: int | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigError(
                "the dask executor needs the 'distributed' package: pip install 'genrebench[dask]'"
            ) from exc
        self.cluster = None
        if address is None:
            self.cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env=_SINGLE_THREAD_ENV,
            )
            address = self.cluster.scheduler_address
        self.client = Client(address)

    def run(self, runner: Runner, jobs: Sequence[Job]) -> Iterator[dict[str, Any]]:
        options = runner.options
        tasks = feature_tasks(runner, jobs)
        for skipped in self.client.gather(
            self.client.map(_extract_remote, [options] * len(tasks), tasks, pure=False)
        ):
            runner.skipped.update(skipped)
        keys = [_key(job) for job in jobs]
        futures = self.client.map(_run_remote, [options] * len(keys), keys, pure=False)
        for future in futures:  # in plan order, so the progress lines read like a local run
            result, skipped, notes = future.result()
            runner.skipped.update(skipped)
            runner.notes.update(notes)
            yield result

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(kind: str, argument: Any) -> LocalExecutor | DaskExecutor:
    if kind == "local":
        return LocalExecutor()
    if kind == "dask":
        return DaskExecutor(address=argument)
    return DaskExecutor(n_workers=argument)


#: Experiment, data set, seed and fold (None but for k-fold): what names a job on a worker.
JobKey = tuple[str, str, int, int | None]
FeatureTask = tuple[str, JobKey, list[str]]  # feature, a job that loads the data set, tracks


def feature_tasks(runner: Runner, jobs: Sequence[Job]) -> list[FeatureTask]:
    """Chunks of tracks covering every track that each distinct feature x data set needs,
    each track once."""
    from genrebench import stages

    wanted: dict[tuple[str, str], tuple[JobKey, list[str]]] = {}
    for job in jobs:
        ctx = runner.context(job)
        split = stages.choose_tracks(ctx)
        _, ids = wanted.setdefault((ctx.feature.name, job.dataset), (_key(job), []))
        seen = set(ids)
        ids.extend(t for t in split.train + split.valid + split.test if t not in seen)
    return [
        (feature, key, ids[start : start + TRACKS_PER_TASK])
        for (feature, _), (key, ids) in wanted.items()
        for start in range(0, len(ids), TRACKS_PER_TASK)
    ]


def _key(job: Job) -> JobKey:
    return (job.experiment.name, job.dataset, job.seed, job.fold)


# --------------------------------------------------------------------------- on a worker
_worker_runners: dict[str, Runner] = {}


def _worker_runner(options: RunOptions) -> Runner:
    """One registry and runner per worker process and run configuration (plugins load
    once per worker, data sets once per run)."""
    from genrebench.plugins import load_plugins
    from genrebench.provenance import config_hash, jsonable
    from genrebench.runner import Runner

    key = config_hash(jsonable(vars(options)))
    if key not in _worker_runners:
        os.environ.update(_SINGLE_THREAD_ENV)
        import torch

        torch.set_num_threads(1)
        _worker_runners.clear()
        _worker_runners[key] = Runner(load_plugins(), _on_worker(options))
    return _worker_runners[key]


def _on_worker(options: RunOptions) -> RunOptions:
    from dataclasses import replace

    # One extraction process per worker: the cluster is the parallelism.
    return replace(options, jobs=1, progress=False)


def _job(runner: Runner, key: JobKey) -> Job:
    from genrebench.runner import Job

    name, dataset, seed, fold = key
    return Job(runner.registry.get("experiments", name), dataset, seed, fold)


def _extract_remote(options: RunOptions, task: FeatureTask) -> dict[str, str]:
    """Extract and cache one chunk of tracks; return the tracks that failed (id -> why)."""
    from genrebench.features import extract_all

    runner = _worker_runner(options)
    feature_name, key, track_ids = task
    dataset = runner.dataset(_job(runner, key))
    spec = runner.registry.get("features", feature_name)
    extracted = extract_all(spec, [dataset.track(t) for t in track_ids], runner.cache)
    return {p.track_id: p.reason for p in extracted.problems}


def _run_remote(
    options: RunOptions, key: JobKey
) -> tuple[dict[str, Any], dict[str, str], set[str]]:
    runner = _worker_runner(options)
    runner.skipped.clear()
    runner.notes.clear()
    result = runner.run_job(_job(runner, key))
    return result, dict(runner.skipped), set(runner.notes)
