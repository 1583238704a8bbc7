"""Cutting cached per-track feature arrays into model inputs (see ``specs.Segments``)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from genrebench.errors import ConfigError
from genrebench.features.lazy import LazySegments
from genrebench.specs import FeatureSpec, Segments

#: ``Segments.placement`` values (see :class:`genrebench.specs.Segments`).
PLACEMENTS = ("random", "even", "start")


def segment_frames(segments: Segments, feature: FeatureSpec) -> int | None:
    """Segment length in frames, or None when each track is a single input."""
    if segments.length_frames is not None:
        return int(segments.length_frames)
    if segments.length_seconds is None:
        return None
    if feature.frames_per_second is None:
        raise ConfigError(
            f"segments of {segments.length_seconds} s need a time-varying feature, but "
            f"{feature.name!r} is track-level (frames_per_second is None)"
        )
    return max(1, round(segments.length_seconds * feature.frames_per_second))


def hop_frames(segments: Segments, feature: FeatureSpec, length: int) -> int:
    """Frames between the starts of consecutive segments when every segment is taken:
    the segment length (no overlap) unless ``hop_frames`` / ``hop_seconds`` is set."""
    if segments.hop_frames is not None:
        hop = int(segments.hop_frames)
    elif segments.hop_seconds is not None:
        if feature.frames_per_second is None:
            raise ConfigError(
                f"a segment hop in seconds needs a time-varying feature: {feature.name!r}"
            )
        hop = round(segments.hop_seconds * feature.frames_per_second)
    else:
        return length
    if hop < 1:
        raise ConfigError(f"the segment hop must be at least one frame, got {hop}")
    return hop


def segment_offsets(
    n_frames: int,
    length: int,
    count: int | None,
    placement: str,
    rng: np.random.Generator,
    hop: int | None = None,
) -> np.ndarray:
    """Start frames of the segments of one track.  With ``count=None``, every segment that
    fits, one every ``hop`` frames (default: ``length``, no overlap), at least one.  With
    placement ``"start"``, the first ``count`` of those (fewer when fewer fit)."""
    room = max(n_frames - length, 0)
    if placement not in PLACEMENTS:
        raise ConfigError(
            f"segment placement must be one of {', '.join(map(repr, PLACEMENTS))}, "
            f"got {placement!r}"
        )
    if count is None or placement == "start":
        return np.arange(0, room + 1, hop or length)[:count]
    if placement == "random":
        return np.sort(rng.integers(0, room + 1, size=count))
    return np.linspace(0, room, count).round().astype(int)


def cut(
    arrays: Sequence[np.ndarray],
    track_ids: Sequence[str],
    segments: Segments,
    feature: FeatureSpec,
    count: int | None,
    seed: int,
    *,
    lazy: bool = False,
) -> tuple[np.ndarray | LazySegments, np.ndarray]:
    """Stack the segments of every track.

    Returns ``(x, owner)``: ``x`` is ``(n_segments, *segment_shape)`` float32 and
    ``owner[i]`` the index into ``track_ids`` of segment ``i``.  Random offsets depend only
    on ``seed`` and the track id, so a track gets the same segments whatever else is in
    the split.  Tracks shorter than a segment are zero-padded at the end.  With ``lazy``,
    ``x`` is a :class:`~genrebench.features.lazy.LazySegments` that cuts the same segments from
    ``arrays`` (arrays or :class:`~genrebench.features.lazy.CachedArray` handles) when indexed.
    """
    length = segment_frames(segments, feature)
    hop = hop_frames(segments, feature, length) if length is not None else None
    if length is None:
        shapes = {tuple(a.shape) for a in arrays}
        if len(shapes) > 1:
            raise ConfigError(
                f"feature {feature.name!r} gives arrays of different shapes {sorted(shapes)[:3]}"
                "; set ExperimentSpec.segments (length_seconds or length_frames) to cut them"
            )
        stacked = np.stack([np.asarray(a) for a in arrays]).astype(np.float32)
        return stacked, np.arange(len(arrays))
    owner, starts = [], []
    for index, (array, track_id) in enumerate(zip(arrays, track_ids, strict=True)):
        # surrogateescape: ids made from file names that are not valid UTF-8 hold surrogates
        crc = zlib.crc32(track_id.encode("utf-8", "surrogateescape"))
        rng = np.random.default_rng([seed, crc])
        n_frames = max(array.shape[-1], length)  # shorter tracks are padded to one segment
        for start in segment_offsets(n_frames, length, count, segments.placement, rng, hop):
            owner.append(index)
            starts.append(int(start))
    x = LazySegments(arrays, np.asarray(owner), np.asarray(starts), length)
    return (x if lazy else np.asarray(x)), np.asarray(owner)
