"""Feature extraction in worker processes: one pool for a whole run.

``genrebench run --jobs N`` starts N worker processes once (on first need) and gives them
tracks in chunks, job after job.  Each worker computes with one thread, so N workers use N
cores, and imports only the plugin that registered the feature it is asked for.  Extraction
always happens in a worker, even with ``--jobs 1``, so that native code crashing on a track
(a segfault in a decoder or in numba-compiled code) costs that track, not the run: the
worker is replaced, its chunk is retried one track at a time, and the track that kills a
worker again is reported by name -- with the feature and the signal -- as a skipped track,
while the other workers go on.  Workers end with the process that started them, even when
it is killed outright (``SIGKILL``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import math
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genrebench.dataset import Track
from genrebench.features.extract import DECODE_CHUNK, DECODE_THREADS, Outcome, compute_many
from genrebench.registry.loading import load_single_plugin
from genrebench.specs import FeatureSpec

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.registry.loading import Registry

log = logging.getLogger(__name__)

# Each worker computes with one thread, so that N workers use N cores.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
_PATH_VARIABLE = "GENREBENCH_WORKER_SYS_PATH"
#: A running worker getting less CPU than this (CPU seconds per second) means the machine
#: is busy: no further worker is started then.
_FREE_CPU_SHARE = 0.8
#: How often a worker checks that the process that started it is still alive.
_PARENT_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class FeatureRef:
    """How a worker finds a feature: by name in the one plugin that registered it
    (``source``, from ``Registry.sources``), or, for a spec no installed plugin provides,
    the pickled spec itself."""

    name: str
    source: tuple[str, str] | None = None
    pickled: bytes | None = None


class ExtractionPool:
    """``workers`` extraction processes, started on first use and kept until :meth:`close`
    (or until the pool is garbage-collected, or the process exits)."""

    def __init__(self, workers: int, registry: Registry | None = None) -> None:
        if workers < 1:
            raise ValueError(f"an extraction pool needs at least one worker, got {workers}")
        self.size = workers
        self.registry = registry
        #: Decoding threads per worker: together as many as one worker alone would use.
        self.decode_threads = max(1, DECODE_THREADS // workers)
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _stop_all, self._all)
        #: Learnt from the answers: seconds to start a worker (interpreter, imports,
        #: plugin) and compute seconds per track; they decide whether another worker
        #: would finish the work left sooner than the running ones.
        self._startup_seconds: float | None = None
        self._track_seconds: float | None = None
        #: CPU seconds per second a running worker got for its last chunk: well below 1
        #: when the machine is busy, and another worker would only compete with it.
        self._cpu_share: float | None = None

    # ------------------------------------------------------------------ public
    def extract(self, spec: FeatureSpec, tracks: Sequence[Track]) -> Iterator[Outcome]:
        """``(track_id, array, None)`` or ``(track_id, None, error)`` for every track, in
        the order they finish."""
        ref = self.reference(spec)
        if ref is None:
            # A feature that can reach no other process (a plugin object defined in code
            # that does not pickle) is computed here, without crash isolation.
            log.debug("feature %r cannot be sent to a worker; computing it in-process", spec.name)
            yield from compute_many(spec, tracks)
            return
        yield from self._run(spec, ref, tracks)

    def reference(self, spec: FeatureSpec) -> FeatureRef | None:
        """A :class:`FeatureRef` for ``spec``, or None when no worker can obtain it."""
        registry = self.registry
        if registry is not None:
            item = registry.items["features"].get(spec.name)
            if item is not None and item.spec is spec:
                source = registry.sources.get(item.plugin)
                if source is not None:
                    return FeatureRef(spec.name, source=source)
        try:
            return FeatureRef(spec.name, pickled=pickle.dumps(spec))
        except Exception:
            return None

    def close(self) -> None:
        """Stop the workers (they would also stop with this process)."""
        self._finalizer()
        self._idle.clear()

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ scheduling
    def _run(
        self, spec: FeatureSpec, ref: FeatureRef, tracks: Sequence[Track]
    ) -> Iterator[Outcome]:
        size = max(1, min(DECODE_CHUNK, math.ceil(len(tracks) / (2 * self.size))))
        pending = deque(list(tracks[i : i + size]) for i in range(0, len(tracks), size))
        busy: dict[_Worker, list[Track]] = {}
        here: list[Track] = []  # tracks to compute in this process after all
        try:
            while pending or busy:
                while pending and len(busy) < self.size:
                    worker = self._idle_worker()
                    if worker is None:
                        if busy and not self._worth_starting(sum(map(len, pending))):
                            break
                        worker = self._start_worker()
                    # A worker started while others work first loads the feature (an empty
                    # chunk) and takes tracks once ready, so starting it never delays them.
                    chunk = [] if busy and worker.first_answer else pending.popleft()
                    busy[worker] = chunk
                    with contextlib.suppress(OSError):  # if it died, poll() reports it
                        worker.send((ref, chunk, self.decode_threads))
                connection.wait([w.conn for w in busy])
                for worker in list(busy):
                    outcomes = worker.poll()
                    if outcomes is _NOT_YET:
                        continue
                    chunk = busy.pop(worker)
                    if isinstance(outcomes, _Unloadable):
                        # The worker cannot rebuild the feature (a function of this
                        # process's __main__, say): compute it here, without isolation.
                        log.debug("feature %r: %s; computing it in-process", ref.name, outcomes)
                        self._idle.append(worker)
                        here += chunk + [t for c in pending for t in c]
                        pending.clear()
                        continue
                    if outcomes is not _CRASHED:
                        outcomes, records, seconds, cpu_seconds = outcomes
                        self._learn(worker, len(chunk), seconds, cpu_seconds)
                        for logger, level, message in records:
                            logging.getLogger(logger).log(level, message)
                        self._idle.append(worker)
                        yield from outcomes
                        continue
                    self._retire(worker)
                    if not chunk:
                        continue  # it died loading the feature; the others go on
                    if len(chunk) > 1:
                        # Retry one track at a time, first, to find the one that crashes.
                        pending.extendleft([t] for t in reversed(chunk))
                    else:
                        yield chunk[0].track_id, None, _crash_reason(ref, worker)
        finally:
            for worker in busy:  # abandoned mid-chunk (the caller stopped): not reusable
                self._retire(worker)
        yield from compute_many(spec, here)

    def _idle_worker(self) -> _Worker | None:
        while self._idle:
            worker = self._idle.pop()
            if worker.is_alive():
                return worker
            self._retire(worker)
        return None

    def _start_worker(self) -> _Worker:
        worker = _Worker.start()
        self._all.append(worker)
        return worker

    def _worth_starting(self, tracks_left: int) -> bool:
        """Whether one more worker would end the work left sooner: when the running
        workers get the CPU they ask for (a busy machine has no core to give another) and
        need longer for the work left than a new worker needs to start.  Before those are
        measured, the running workers go on alone."""
        if None in (self._startup_seconds, self._track_seconds, self._cpu_share):
            return False
        if self._cpu_share < _FREE_CPU_SHARE:
            return False
        return tracks_left * self._track_seconds / len(self._all) > self._startup_seconds

    def _learn(self, worker: _Worker, tracks: int, seconds: float, cpu_seconds: float) -> None:
        if worker.first_answer:
            # A worker's first chunk also warms its libraries up: count it as start-up.
            worker.first_answer = False
            self._startup_seconds = time.perf_counter() - worker.started
        elif tracks and seconds > 0:
            self._track_seconds = seconds / tracks
            self._cpu_share = cpu_seconds / seconds

    def _retire(self, worker: _Worker) -> None:
        worker.stop()
        if worker in self._all:
            self._all.remove(worker)


def _crash_reason(ref: FeatureRef, worker: _Worker) -> str:
    code = worker.exitcode
    if code is not None and code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exit code {code}"
    return (
        f"extracting feature {ref.name!r} from this track crashed the worker process "
        f"({how}); the track was skipped"
    )


_NOT_YET = object()
_CRASHED = object()


class _Unloadable(str):
    """A worker's answer when it cannot rebuild the feature it was sent (why)."""


class _Worker:
    """One worker process (``python -m genrebench.features.workers``) and the parent's end of the
    socket it is served through.  A fresh interpreter rather than a fork: it imports
    neither this process's plugins nor its ``__main__``, and starts with one thread
    configured from the environment on."""

    def __init__(self, process: subprocess.Popen, conn: connection.Connection) -> None:
        self.process = process
        self.conn = conn
        self.started = time.perf_counter()
        self.first_answer = True

    @classmethod
    def start(cls) -> _Worker:
        parent_end, child_end = socket.socketpair()
        env = {**os.environ, **SINGLE_THREAD_ENV}
        # The worker imports genrebench from where this process did, then takes this
        # process's import path (plugins in a folder added at run time are found too).
        here = str(Path(__file__).resolve().parents[2])  # the folder holding genrebench/
        env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [env.get("PYTHONPATH")])])
        env[_PATH_VARIABLE] = json.dumps(sys.path)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "genrebench.features.workers",
                str(child_end.fileno()),
                str(os.getpid()),
            ],
            pass_fds=(child_end.fileno(),),
            stdin=subprocess.DEVNULL,
            env=env,
        )
        child_end.close()
        return cls(process, connection.Connection(parent_end.detach()))

    @property
    def exitcode(self) -> int | None:
        return self.process.poll()

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: Any) -> None:
        self.conn.send(message)

    def poll(self) -> Any:
        """The worker's outcomes when it has answered, ``_CRASHED`` when it died (its end
        of the socket closed) without answering, ``_NOT_YET`` otherwise."""
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            self.process.wait()
            return _CRASHED
        return _NOT_YET

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def _stop_all(workers: list[_Worker]) -> None:
    for worker in list(workers):
        worker.stop()
    workers.clear()


# --------------------------------------------------------------------------- in the worker
def serve(fd: int, parent: int) -> None:
    """A worker's loop: receive ``(FeatureRef, tracks)`` on socket ``fd``, answer with
    their outcomes, until the parent closes the socket or dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _exit_with_parent(parent)
    sys.path[:] = json.loads(os.environ.pop(_PATH_VARIABLE, "null")) or sys.path
    # lazy: loads threadpoolctl, not needed at import time
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    # Log records (decoder and feature warnings naming their file) go back to the parent
    # with the outcomes, which logs them as its own: one format, one place.
    records = _Records()
    logging.getLogger().addHandler(records)
    conn = connection.Connection(fd)
    specs: dict[FeatureRef, FeatureSpec] = {}
    while True:
        try:
            ref, tracks, decode_threads = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if ref not in specs:
                specs[ref] = _load_spec(ref)
        except Exception as exc:
            conn.send(_Unloadable(f"a worker process cannot load it ({exc!r})"))
            continue
        started, cpu = time.perf_counter(), time.process_time()
        outcomes = list(compute_many(specs[ref], tracks, decode_threads))
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        conn.send((outcomes, records.take(), seconds, cpu_seconds))


class _Records(logging.Handler):
    """Keeps a worker's log records (logger name, level, message) until they are sent."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.kept: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.kept.append((record.name, record.levelno, record.getMessage()))

    def take(self) -> list[tuple[str, int, str]]:
        kept, self.kept = self.kept, []
        return kept


def _load_spec(ref: FeatureRef) -> FeatureSpec:
    if ref.pickled is not None:
        return pickle.loads(ref.pickled)

    return load_single_plugin(ref.source).get("features", ref.name)


def _exit_with_parent(parent: int) -> None:
    """End this worker when the run's process ends, however it ends: the kernel's
    parent-death signal where there is one (Linux), and a watcher thread everywhere."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    direct_parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(_PARENT_CHECK_SECONDS)
            if os.getppid() != direct_parent or not _alive(parent):
                os._exit(1)

    threading.Thread(target=watch, name="genrebench-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":  # python -m genrebench.features.workers FD PARENT_PID
    # Serve from the module imported by its name, so that what the worker pickles refers
    # to genrebench.features.workers, not to this __main__ copy of it.
    from genrebench.features.workers import serve as serve_imported

    serve_imported(int(sys.argv[1]), int(sys.argv[2]))
