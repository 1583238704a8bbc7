"""Feature extraction for a list of tracks: cache first, then decode and extract (in the
worker processes of a :class:`genrebench.features.workers.ExtractionPool` when one is given).  A
track that cannot be decoded or featurised is returned as a :class:`Problem`; the others
go on.  A feature that raises :class:`~genrebench.errors.ConfigError` cannot run
at all (for example its pretrained weights are missing): that stops the extraction with the
feature's own message instead of skipping every track."""

from __future__ import annotations

import logging
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genrebench.audio import load_audio
from genrebench.dataset import Problem, Track
from genrebench.errors import AudioError, ConfigError
from genrebench.features.cache import FeatureCache
from genrebench.specs import FeatureSpec

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.features.workers import ExtractionPool

log = logging.getLogger(__name__)

#: Tracks decoded together (then computed in one batch) by features that batch.
DECODE_CHUNK = 8
DECODE_THREADS = 2

Outcome = tuple[str, "np.ndarray | None", "str | None"]


@dataclass
class Extracted:
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    cache_hits: int = 0
    computed: int = 0
    #: Tracks whose array came from a companion file (``FeatureSpec.asset``), not audio.
    from_asset: int = 0


def source_of(spec: FeatureSpec, track: Track) -> tuple[Path, str]:
    """The file ``spec`` reads for ``track`` and what it is: ``"audio"``, or
    ``"asset:<name>"`` when the feature reads a companion file the track has."""
    if spec.asset is not None and spec.asset in track.assets:
        return Path(track.assets[spec.asset]), f"asset:{spec.asset}"
    return Path(track.path), "audio"


def compute(spec: FeatureSpec, track: Track) -> np.ndarray:
    """Decode one track at the feature's sample rate and extract the feature (or read the
    track's companion file, for a feature that names one the track has).

    Warnings the extraction raises (librosa's "n_fft is too large" for a short clip, ...)
    are logged naming the file, once per track."""
    path, source = source_of(spec, track)
    if source == "audio":
        audio = load_audio(path, spec.sample_rate)
        with _warnings_naming(spec, [path]):
            return _checked(spec, spec.extract(audio, spec.sample_rate))
    assert spec.read_asset is not None  # FeatureSpec checks that asset and read_asset pair
    try:
        with _warnings_naming(spec, [path]):
            array = spec.read_asset(path)
    except Exception as exc:
        raise ValueError(f"{path}: cannot read {source} ({type(exc).__name__}: {exc})") from exc
    return _checked(spec, array)


@contextmanager
def _warnings_naming(spec: FeatureSpec, paths: Sequence[str | Path]):
    """Log the warnings raised inside, each once, naming ``paths``."""
    with warnings.catch_warnings(record=True) as caught:
        yield
    files = ", ".join(str(p) for p in paths)
    for text in dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught):
        log.warning("%s: feature %r: %s", files, spec.name, text)


def compute_many(
    spec: FeatureSpec, tracks: Sequence[Track], decode_threads: int = DECODE_THREADS
) -> Iterator[Outcome]:
    """``(track_id, array, None)`` or ``(track_id, None, error)`` for each track, in order.

    A feature whose ``extract`` has a ``batch(audios, sample_rate)`` method (the front ends
    of :mod:`genrebench.frontends`) gets the tracks decoded by a few threads (decoding
    releases the GIL), one chunk ahead of the computation, and computed in one call per
    chunk; any other feature, or a chunk
    whose batch call fails, is computed track by track so that an error names its track.
    Tracks read from a companion file (``FeatureSpec.asset``) are never batched.
    """
    batch = getattr(spec.extract, "batch", None)
    if batch is None:
        for track in tracks:
            yield _compute_one(spec, track)
        return
    chunks = [tracks[i : i + DECODE_CHUNK] for i in range(0, len(tracks), DECODE_CHUNK)]
    with ThreadPoolExecutor(max_workers=decode_threads) as pool:

        def decode(chunk: Sequence[Track]) -> list[Future]:
            return [
                pool.submit(_decode, spec, t) for t in chunk if source_of(spec, t)[1] == "audio"
            ]

        # The next chunk decodes (threads, GIL released) while this one computes.
        pending = decode(chunks[0]) if chunks else []
        for k, chunk in enumerate(chunks):
            decoded = [future.result() for future in pending]
            pending = decode(chunks[k + 1]) if k + 1 < len(chunks) else []
            yield from _compute_chunk(spec, batch, chunk, decoded)


def _compute_chunk(spec, batch, chunk, decoded) -> Iterator[Outcome]:
    ready = [(t, audio) for t, audio in decoded if not isinstance(audio, BaseException)]
    try:
        with _warnings_naming(spec, [source_of(spec, t)[0] for t, _ in ready]):
            arrays = batch([audio for _, audio in ready], spec.sample_rate) if ready else []
        done = {t.track_id: _checked(spec, a) for (t, _), a in zip(ready, arrays, strict=True)}
    except Exception:
        log.debug("batch extraction failed; computing track by track", exc_info=True)
        done = {}
    audio_of = {t.track_id: audio for t, audio in decoded}
    for track in chunk:
        audio = audio_of.get(track.track_id)
        if audio is None:  # read from its companion file
            yield _compute_one(spec, track)
        elif isinstance(audio, BaseException):
            yield track.track_id, None, _describe(audio)
        elif track.track_id in done:
            yield track.track_id, done[track.track_id], None
        else:
            yield _compute_one(spec, track)


def _decode(spec: FeatureSpec, track: Track) -> tuple[Track, np.ndarray | BaseException]:
    try:
        return track, load_audio(track.path, spec.sample_rate)
    except Exception as exc:
        return track, exc


def _checked(spec: FeatureSpec, array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"feature {spec.name!r} produced NaN or infinity")
    return array.astype(np.float32, copy=False)


def _compute_one(spec: FeatureSpec, track: Track) -> Outcome:
    try:
        return track.track_id, compute(spec, track), None
    except ConfigError as exc:
        return track.track_id, None, _ConfigFailure(str(exc))
    except Exception as exc:
        return track.track_id, None, _describe(exc)


class _ConfigFailure(str):
    """The message of a ConfigError raised by a feature (also from a worker process):
    :func:`extract_all` raises it again instead of skipping the track."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AudioError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def extract_all(
    spec: FeatureSpec,
    tracks: Sequence[Track],
    cache: FeatureCache,
    *,
    pool: ExtractionPool | None = None,
    progress: bool = False,
    in_memory: bool = True,
) -> Extracted:
    """Arrays for ``tracks`` (cached ones loaded, the rest computed -- by ``pool``'s
    workers when given, else in this process -- and cached).

    With ``in_memory=False`` every array that is in the cache comes back as a
    :class:`~genrebench.features.lazy.CachedArray` handle instead, read again only when used, so
    memory does not grow with the number of tracks."""

    start = time.perf_counter()
    result = Extracted()
    todo: list[tuple[Track, str | None]] = []
    hits: dict[str, tuple[Track, str]] = {}
    for track in tracks:
        path, source = source_of(spec, track)
        try:
            key = cache.key(path, spec, source) if cache.enabled else None
        except OSError as exc:
            result.problems.append(Problem(track.track_id, str(path), f"cannot read: {exc}"))
            continue
        result.from_asset += source != "audio"
        array = cache.get(key, spec, path) if key is not None else None
        if array is not None:
            result.arrays[track.track_id] = array if in_memory else cache.handle(key, spec, array)
            hits[track.track_id] = (track, key)
        else:
            todo.append((track, key))
    _compute(spec, todo, cache, result, pool, progress, in_memory)
    # A hit whose shape disagrees with the others is a stale or wrong entry: redo it.
    redo = _misshapen(spec, result.arrays, hits, cache)
    _compute(spec, redo, cache, result, pool, progress, in_memory)
    result.cache_hits = len(hits)
    result.seconds = time.perf_counter() - start
    return result


def _compute(spec, todo, cache, result: Extracted, pool, progress, in_memory) -> None:
    """Compute ``todo`` (``[(track, cache key or None)]``) into ``result`` and the cache,
    by ``pool``'s workers when given, else in this process."""
    if not todo:
        return
    bar = _progress(len(todo), spec.name, progress)
    wanted = [t for t, _ in todo]
    outcomes = pool.extract(spec, wanted) if pool is not None else compute_many(spec, wanted)
    keys = {t.track_id: k for t, k in todo}
    paths = {t.track_id: str(t.path) for t, _ in todo}
    for track_id, array, error in outcomes:
        bar.update()
        if isinstance(error, _ConfigFailure):
            outcomes.close()  # stops the workers' remaining tracks
            bar.close()
            raise ConfigError(str(error))
        if error is not None:
            result.problems.append(Problem(track_id, paths[track_id], error))
            log.warning("skipped track %s: %s", track_id, error)
            continue
        result.computed += 1
        # Held in memory after all when the cache could not store it (read-only, full).
        stored = keys[track_id] is not None and cache.put(keys[track_id], spec, array)
        if stored and not in_memory:
            array = cache.handle(keys[track_id], spec, array)
        result.arrays[track_id] = array
    bar.close()


def shape_signature(spec: FeatureSpec, array: np.ndarray) -> tuple[int, ...]:
    """What every array of a feature shares: its whole shape for a track-level feature,
    all but the last (time) axis for a time-varying one."""
    return array.shape if spec.frames_per_second is None else array.shape[:-1]


def _misshapen(spec, arrays, hits, cache) -> list[tuple[Track, str]]:
    """Cache hits whose shape signature differs from the usual one (that of the arrays
    computed now, else that of most hits): removed from ``arrays``, ``hits`` and the cache,
    returned to be computed again."""
    computed = [a for t, a in arrays.items() if t not in hits]
    reference = computed or [arrays[t] for t in hits]
    if len(arrays) < 2 or not reference:
        return []
    usual, _ = Counter(shape_signature(spec, a) for a in reference).most_common(1)[0]
    redo = []
    for track_id, (track, key) in list(hits.items()):
        shape = arrays[track_id].shape
        if shape_signature(spec, arrays[track_id]) != usual:
            expected = (
                f"{usual} + (frames,)"
                if spec.frames_per_second
                else f"{usual} (set FeatureSpec.frames_per_second if its last axis is time)"
            )
            path = source_of(spec, track)[0]
            cache.discard(key, spec, f"shape {shape}, expected {expected}", path, True)
            del arrays[track_id], hits[track_id]
            redo.append((track, key))
    return redo


def _progress(total: int, name: str, enabled: bool):
    # lazy: loads tqdm, not needed at import time
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc=f"features {name}", unit="track", disable=not enabled, leave=False
    )
