"""On-disk feature cache.

A cached array is keyed by the audio file's content digest and the feature's name,
parameters, sample rate and version, so moving or renaming a data set keeps its cache and
changing a feature invalidates it.  Writes go to a temporary file in the same folder and are
renamed into place, so two concurrent runs never see a half-written array (the later rename
simply wins, and both wrote the same thing).  Files and folders are created with the user's
umask, so a group can share one cache.

What the cache returns is checked: an entry that does not load (empty, truncated, garbled) or
that is not a finite float32 array counts as a miss, is logged naming the file and the track,
and is removed so that the recomputed array replaces it.  (Shapes are checked across a
feature's arrays by :func:`genrebench.features.extract.extract_all`.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import uuid
from pathlib import Path

import numpy as np

from genrebench.features.lazy import CachedArray
from genrebench.specs import FeatureSpec

log = logging.getLogger(__name__)

_digests: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """BLAKE2b digest of the file's bytes, remembered per (path, size, mtime) for the
    process so that several features of one track read it once."""
    st = os.stat(path)
    memo_key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    digest = _digests.get(memo_key)
    if digest is None:
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, "blake2b").hexdigest()[:32]
        _digests[memo_key] = digest
    return digest


def feature_fingerprint(spec: FeatureSpec) -> str:
    """A stable string naming what a feature computes (not how it is named in memory)."""
    payload = {
        "name": spec.name,
        "params": dict(spec.params),
        "sample_rate": spec.sample_rate,
        "version": spec.version,
    }
    return json.dumps(payload, sort_keys=True, default=str)


class FeatureCache:
    """Arrays under ``root/<feature>/<k[:2]>/<k>.npy``; ``root=None`` disables caching."""

    def __init__(self, root: Path | None) -> None:
        self.root = Path(root) if root is not None else None
        self.hits = 0
        self.misses = 0
        #: Why nothing is stored any more (a read-only or full cache), once known: the
        #: cache is then only read from.
        self.read_only: str | None = None

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def key(self, audio_path: str | Path, spec: FeatureSpec, source: str = "audio") -> str:
        """Key of ``spec`` computed from the file at ``audio_path``; ``source`` says what
        that file is when it is not the track's audio (``"asset:<name>"``)."""
        text = file_digest(audio_path) + "\n" + feature_fingerprint(spec)
        if source != "audio":
            text += "\nsource=" + source
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str, spec: FeatureSpec) -> Path:
        assert self.root is not None
        folder = spec.name.replace("/", "__")
        return self.root / folder / key[:2] / f"{key}.npy"

    def get(self, key: str, spec: FeatureSpec, source: str | Path = "") -> np.ndarray | None:
        """The cached array, or None on a miss.  ``source`` (the audio file) is named in
        the warning about a bad entry."""
        if self.root is None:
            return None
        path = self._path(key, spec)
        try:
            array = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            self.misses += 1
            return None
        except Exception as exc:  # empty (EOFError), truncated, garbled: recompute it
            problem = f"does not load ({type(exc).__name__}: {exc})"
        else:
            problem = _problem(array)
            if problem is None:
                self.hits += 1
                return array
        self.discard(key, spec, problem, source)
        return None

    def discard(
        self, key: str, spec: FeatureSpec, why: str, source: str | Path = "", was_hit: bool = False
    ) -> None:
        """Count a bad entry as a miss (``was_hit``: it was counted as a hit) and remove it,
        so that the recomputed array replaces it."""
        assert self.root is not None
        path = self._path(key, spec)
        what = f" (feature {spec.name!r} of {source})" if source else f" (feature {spec.name!r})"
        log.warning("ignoring bad cache entry %s%s: %s; recomputing it", path, what, why)
        self.misses += 1
        self.hits -= was_hit
        # Not ours to remove (a shared cache)? Then the recomputed put replaces it.
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)

    def handle(self, key: str, spec: FeatureSpec, array: np.ndarray) -> CachedArray:
        """A :class:`~genrebench.features.lazy.CachedArray` for the entry ``key`` (which holds
        ``array``), to be read again on demand."""
        return CachedArray(self._path(key, spec), array.shape, array.dtype)

    def check_writable(self) -> bool:
        """Whether entries can be stored (checked before a run's work); a cache that cannot
        be written is used read-only from then on, saying so once (its entries are still
        read; what it lacks is computed and not stored)."""
        # lazy: loads pandas, not needed at import time
        from genrebench.results.outputs import writable_problem

        if self.root is not None and self.read_only is None:
            problem = writable_problem(self.root)
            if problem is not None:
                self._stop_storing(problem)
        return self.root is not None and self.read_only is None

    def _stop_storing(self, why: str) -> None:
        self.read_only = why
        log.warning(
            "feature cache %s %s: it is only read from now on, and the features it lacks "
            "are computed without being stored; make it writable, free space, or choose "
            "another --cache-dir (or --no-cache)",
            self.root,
            why,
        )

    def put(self, key: str, spec: FeatureSpec, array: np.ndarray) -> bool:
        """Store ``array`` under ``key``; whether it was stored (not when the cache is off,
        or cannot be written: then it is used read-only from now on, saying so once)."""
        # lazy: loads pandas, not needed at import time
        from genrebench.results.outputs import storage_reason

        if self.root is None or self.read_only is not None:
            return False
        path = self._path(key, spec)
        # os.open with mode 0o666 lets the umask decide the permissions (mkstemp would
        # force 0o600, and a group could not share the cache).
        tmp = path.with_name(f".tmp-{uuid.uuid4().hex}.npy")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.asarray(array), allow_pickle=False)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            problem = storage_reason(exc)
            if problem is None:
                raise
            self._stop_storing(problem)
            return False
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise
        return True


def _problem(array: np.ndarray) -> str | None:
    """Why a loaded entry cannot be what :func:`genrebench.features.extract.compute` stored."""
    if array.dtype != np.float32:
        return f"dtype {array.dtype}, expected float32"
    if not np.isfinite(array).all():
        return "holds NaN or infinity"
    return None
