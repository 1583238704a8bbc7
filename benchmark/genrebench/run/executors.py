"""Where a run's jobs execute.

``local`` (the default) runs them one after the other in this process.  ``dask`` sends them
to a Dask cluster: ``--executor dask --scheduler tcp://HOST:8786`` joins a running scheduler
(for example one that dask-jobqueue started on SLURM, see docs/guide/clusters.md), and
``--executor dask:local:N`` starts a ``LocalCluster`` of N worker processes with one thread
each (N jobs at a time and no oversubscription).

On Dask, the features every job needs are extracted first, in chunks of tracks spread over
the workers, into the shared feature cache; then each job runs on a worker, which loads the
plugins itself, finds its features in the cache and writes its folder.  The cache and the
``--out`` folder must therefore be on storage every worker sees; relative paths (``--out``,
``--data-root``, ``--cache-dir``) are made absolute here, on the client, before they are
shipped, since a worker's working directory is its own.  A job's outcome depends only on
its configuration and seed, so the results equal the local executor's.

Faults keep the local executor's isolation.  A worker extracts features in a child process
(:class:`genrebench.features.workers.ExtractionPool`), so a track that crashes the decoder
costs that child, not the worker, and is skipped and named.  A task that kills its Dask worker each
time it is tried (Dask gives up with ``KilledWorker``: a crash or the memory limit) is
narrowed down: an extraction chunk is retried track by track, and the track that still
kills a worker is skipped, named and never extracted again in this run; a job is saved as
a failed row saying so.  The run goes on either way.  A ``--scheduler`` that is no
address, or that cannot be reached within :data:`CONNECT_SECONDS`, stops the run before
any work (exit 2); a cluster left without workers for :data:`NO_WORKERS_SECONDS`
(``$GENREBENCH_DASK_NO_WORKERS_SECONDS``) or a lost scheduler stops it midway (exit 3),
finished jobs kept.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genrebench.errors import ConfigError, RunStopped
from genrebench.features.extract import extract_all
from genrebench.features.workers import SINGLE_THREAD_ENV
from genrebench.registry.loading import load_plugins
from genrebench.results.provenance import config_hash, jsonable
from genrebench.run import stages
from genrebench.run.planning import Job, RunOptions

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.run.runner import Runner

#: Tracks per feature-extraction task sent to a Dask worker.
TRACKS_PER_TASK = 16
#: How long to try to reach a ``--scheduler`` before giving up (seconds).
CONNECT_SECONDS = 10
#: How long a run waits with no worker in the cluster before it stops (seconds); the
#: environment variable overrides it.
NO_WORKERS_SECONDS = 120
ENV_NO_WORKERS = "GENREBENCH_DASK_NO_WORKERS_SECONDS"
#: How often a waiting run looks at the cluster (seconds).
POLL_SECONDS = 1.0
#: After how long without workers a local cluster of the run's own gets a new one.
RESTART_SECONDS = 15


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
        return "dask", scheduler_address(scheduler)
    if text.startswith("dask:local:"):
        count = text.removeprefix("dask:local:")
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(f"--executor dask:local:N needs a worker count N >= 1, got {text!r}")
        return "dask-local", int(count)
    raise ConfigError(
        f"unknown executor {text!r}; expected 'local', 'dask' (with --scheduler) or 'dask:local:N'"
    )


def scheduler_address(text: str) -> str:
    """``text`` as a Dask scheduler address (``HOST:PORT`` means ``tcp://HOST:PORT``), or
    a :class:`ConfigError` saying what an address looks like."""
    address = text if "://" in text else f"tcp://{text}"
    try:
        # lazy: distributed is optional (the dask extra)
        from distributed.comm.addressing import parse_address, parse_host_port
        from distributed.comm.registry import backends
    except ImportError:  # pragma: no cover - the executor says what to install
        return address
    try:
        scheme, location = parse_address(address, strict=True)
        if scheme not in backends:
            raise ValueError(f"unknown protocol {scheme!r}, expected one of {sorted(backends)}")
        if scheme != "inproc" and not parse_host_port(location)[0]:
            raise ValueError("no host")
    except ValueError as exc:
        raise ConfigError(
            f"--scheduler {text!r} is not a Dask scheduler address ({exc}); expected "
            "tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786"
        ) from None
    return address


def shipped(options: RunOptions) -> RunOptions:
    """``options`` with every path absolute (``--out``, ``--data-root``, ``--cache-dir``):
    resolved against this process's working directory, not a worker's."""

    def absolute(path: Path | None) -> Path | None:
        return None if path is None else Path(path).expanduser().absolute()

    return replace(
        options,
        out=absolute(options.out),
        data_root=absolute(options.data_root),
        cache_dir=absolute(options.cache_dir),
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
            # lazy: distributed is optional (the dask extra)
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigError(
                "the dask executor needs the 'distributed' package: pip install 'genrebench[dask]'"
            ) from exc
        self.cluster = None
        self.n_workers = n_workers
        if address is None:
            self.cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env=SINGLE_THREAD_ENV,
            )
            address = self.cluster.scheduler_address
        self.address = address
        try:
            self.client = Client(address, timeout=f"{CONNECT_SECONDS}s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {address} within {CONNECT_SECONDS} s "
                f"({type(exc).__name__}: {exc}); is it running, and is the address right? "
                "(start one with: dask scheduler; nothing was run)"
            ) from None
        self.no_workers_seconds = float(os.environ.get(ENV_NO_WORKERS, NO_WORKERS_SECONDS))
        #: Tracks whose extraction killed a worker every time: (feature, track) -> why.
        self.crashed: dict[tuple[str, str], str] = {}

    def run(self, runner: Runner, jobs: Sequence[Job]) -> Iterator[dict[str, Any]]:
        options = shipped(runner.options)
        # The workers build their own runner of this class: handed over, not imported,
        # because the runner imports this module to run its jobs.
        self.runner_class = type(runner)
        self._extract(runner, options, feature_tasks(runner, jobs))
        keys = [_key(job) for job in jobs]
        futures = self._submit_jobs(options, keys)
        for number, (job, future) in enumerate(zip(jobs, futures, strict=True)):
            # In plan order, so the progress lines read like a local run.
            try:
                result, skipped, notes = self._result(future)
            except _killed_worker():
                # Dask blames every task on a worker that died, so it is tried again alone,
                # once the others are done.
                self._settle(futures[number + 1 :])
                [retry] = self._submit_jobs(options, [keys[number]])
                try:
                    result, skipped, notes = self._result(retry)
                except _killed_worker() as exc:
                    why = f"the Dask worker running it died {_times(exc)}"
                    yield runner.record_failure(job, why)
                    continue
            runner.skipped.update(skipped)
            runner.notes.update(notes)
            yield result

    def _extract(self, runner: Runner, options: RunOptions, tasks: list[FeatureTask]) -> None:
        """Extract every chunk into the cache.  A chunk that kills its worker each time is
        retried track by track; a track that does too is tried once more alone (Dask blames
        every task on a worker that died), and if it still kills the worker it is skipped,
        named, and never extracted again in this run."""
        queue = list(zip(tasks, self._submit(options, tasks), strict=True))
        suspects = []
        while queue:
            task, future = queue.pop(0)
            try:
                runner.skipped.update(self._result(future))
            except _killed_worker():
                feature, key, track_ids = task
                singles = [(feature, key, [t]) for t in track_ids]
                if len(singles) > 1:
                    queue += zip(singles, self._submit(options, singles), strict=True)
                else:
                    suspects.append(task)
        for task in suspects:
            [future] = self._submit(options, [task])
            try:
                runner.skipped.update(self._result(future))
            except _killed_worker() as exc:
                feature, _, [track_id] = task
                why = (
                    f"extracting feature {feature!r} from this track killed the Dask worker "
                    f"{_times(exc)}; the track was skipped"
                )
                self.crashed[(feature, track_id)] = why
                runner.skipped[track_id] = why

    def _submit_jobs(self, options: RunOptions, keys: list[JobKey]) -> list:
        crashed = [self.crashed] * len(keys)
        classes = [self.runner_class] * len(keys)
        return self.client.map(
            _run_remote, classes, [options] * len(keys), keys, crashed, pure=False
        )

    def _settle(self, futures: Sequence) -> None:
        """Wait until ``futures`` are done (their results stay in them)."""
        for future in futures:
            try:
                self._result(future)
            except RunStopped:
                raise
            except Exception:
                pass

    def _submit(self, options: RunOptions, tasks: list[FeatureTask]) -> list:
        classes = [self.runner_class] * len(tasks)
        return self.client.map(_extract_remote, classes, [options] * len(tasks), tasks, pure=False)

    def _result(self, future) -> Any:
        """``future``'s result, watching the cluster meanwhile: a :class:`RunStopped`
        when it has had no worker for ``no_workers_seconds`` or the scheduler is lost."""

        idle_since = None
        while True:
            try:
                try:
                    return future.result(timeout=POLL_SECONDS)
                except TimeoutError:
                    if future.done():  # it finished meanwhile (or raised TimeoutError itself)
                        return future.result()
            except CancelledError as exc:
                raise self._lost(exc) from None
            try:
                workers = len(self.client.nthreads())
            except (OSError, TimeoutError) as exc:
                raise self._lost(exc) from None
            if workers:
                idle_since = None
                continue
            idle_since = idle_since or time.monotonic()
            if self.cluster is not None and time.monotonic() - idle_since >= RESTART_SECONDS:
                # Dask's nanny sometimes fails to restart a worker that was killed many
                # times; in a cluster of our own, a new one is started.
                with contextlib.suppress(Exception):
                    self.cluster.scale(self.n_workers)
            if time.monotonic() - idle_since >= self.no_workers_seconds:
                raise RunStopped(
                    f"the Dask scheduler at {self.address} has had no workers for "
                    f"{self.no_workers_seconds:g} s: start some (dask worker {self.address}) "
                    f"and run again (${ENV_NO_WORKERS} sets how long to wait); every finished "
                    "job is kept, and a run started again reuses it"
                )

    def _lost(self, exc: BaseException) -> RunStopped:
        return RunStopped(
            f"lost the Dask scheduler at {self.address} ({type(exc).__name__}: {exc}); "
            "every finished job is kept, and a run started again reuses it"
        )

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _killed_worker() -> type[Exception]:
    # lazy: distributed is optional (the dask extra)
    from distributed import KilledWorker

    return KilledWorker


def _times(exc: BaseException) -> str:
    """How often, from a ``KilledWorker``: every time it was tried (a crash, or the
    memory limit)."""
    tries = getattr(exc, "allowed_failures", None)
    count = f" ({tries + 1} {'time' if tries == 0 else 'times'})" if isinstance(tries, int) else ""
    return f"every time it was tried{count} (a crash in native code, or its memory limit)"


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


def _worker_runner(runner_class: type[Runner], options: RunOptions) -> Runner:
    """One registry and runner (of ``runner_class``) per worker process and run
    configuration (plugins load once per worker, data sets once per run)."""

    key = config_hash(jsonable(vars(options)))
    if key not in _worker_runners:
        os.environ.update(SINGLE_THREAD_ENV)
        # lazy: loads torch, not needed at import time
        import torch

        torch.set_num_threads(1)
        _worker_runners.clear()
        _worker_runners[key] = runner_class(load_plugins(), _on_worker(options))
    return _worker_runners[key]


def _on_worker(options: RunOptions) -> RunOptions:

    # One extraction process per worker: the cluster is the parallelism.
    return replace(options, jobs=1, progress=False)


def _job(runner: Runner, key: JobKey) -> Job:
    name, dataset, seed, fold = key
    return Job(runner.registry.get("experiments", name), dataset, seed, fold)


def _extract_remote(
    runner_class: type[Runner], options: RunOptions, task: FeatureTask
) -> dict[str, str]:
    """Extract and cache one chunk of tracks in the worker's extraction process (a track
    that crashes it is skipped, as in a local run); return the tracks that failed
    (id -> why)."""

    runner = _worker_runner(runner_class, options)
    feature_name, key, track_ids = task
    dataset = runner.dataset(_job(runner, key))
    spec = runner.registry.get("features", feature_name)
    tracks = [dataset.track(t) for t in track_ids]
    extracted = extract_all(spec, tracks, runner.cache, pool=runner.pool)
    return {p.track_id: p.reason for p in extracted.problems}


def _run_remote(
    runner_class: type[Runner],
    options: RunOptions,
    key: JobKey,
    crashed: dict[tuple[str, str], str] | None = None,
) -> tuple[dict[str, Any], dict[str, str], set[str]]:
    """Run one job; ``crashed``: tracks never to extract again (they killed a worker)."""
    runner = _worker_runner(runner_class, options)
    runner.skipped.clear()
    runner.notes.clear()
    runner.crashed = dict(crashed or {})
    result = runner.run_job(_job(runner, key))
    return result, dict(runner.skipped), set(runner.notes)
