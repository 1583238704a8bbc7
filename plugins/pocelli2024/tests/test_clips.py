"""Clip cutting and the song-level split: five non-overlapping 256-frame clips per 30 s
song, and every clip of a song in the same part of the split (no song leaks)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from genrebench_pocelli2024 import features as F
from genrebench_pocelli2024 import plugin

from genrebench import Dataset, FeatureSpec, Track, testing

GENRES = ["blues", "classical", "country", "disco", "hiphop"]
GTZAN_FRAMES = 1 + 661_794 // F.HOP  # a 30.01 s GTZAN song: 1 293 centred frames

FEATURE = FeatureSpec(
    plugin.FEATURE, F.logmel_01, F.SAMPLE_RATE, frames_per_second=F.FRAMES_PER_SECOND
)


def songs(per_genre: int = 10) -> Dataset:
    tracks = [
        Track(f"{g}.{i:05d}", Path(f"/x/{g}.{i:05d}.wav"), (g,))
        for g in GENRES
        for i in range(per_genre)
    ]
    return Dataset("toy-gtzan", "single-label", GENRES, tracks)


def song_array(index: int, frames: int = GTZAN_FRAMES) -> np.ndarray:
    """A fake (256, frames) spectrogram whose every frame says which song and which frame
    it is: value = song index * 10 000 + frame index."""
    row = index * 10_000 + np.arange(frames, dtype=np.float64)
    return np.broadcast_to(row, (F.N_MELS, frames)).astype(np.float64)


def test_segments_are_five_clips_of_256_frames_about_6_seconds():
    seg = plugin.SEGMENTS
    assert (seg.length_frames, seg.train_count, seg.test_count) == (256, 5, 5)
    assert seg.placement == "even"
    assert pytest.approx(5.94, abs=0.01) == F.CLIP_FRAMES * F.HOP / F.SAMPLE_RATE
    # the report's 1 280 frames of a song split in five
    assert 5 * F.CLIP_FRAMES == 1280


def test_a_30_second_song_gives_five_disjoint_clips_covering_it():
    x, owner = testing.cut_segments([song_array(7)], ["s"], plugin.SEGMENTS, FEATURE, 5, seed=0)
    assert x.shape == (5, F.N_MELS, F.CLIP_FRAMES)
    assert owner.tolist() == [0] * 5
    starts = [int(clip[0, 0]) - 70_000 for clip in x]
    assert starts[0] == 0 and starts[-1] == GTZAN_FRAMES - F.CLIP_FRAMES  # first and last
    assert all(b - a >= F.CLIP_FRAMES for a, b in itertools.pairwise(starts))
    frames = {int(v) for clip in x for v in clip[0]}
    assert len(frames) == 5 * F.CLIP_FRAMES  # no frame used twice
    assert len(frames) / GTZAN_FRAMES > 0.98  # and nearly all of the song used
    # evenly spread, so the same clips whatever the seed
    again, _ = testing.cut_segments([song_array(7)], ["s"], plugin.SEGMENTS, FEATURE, 5, seed=9)
    np.testing.assert_array_equal(x, again)


def test_a_short_song_still_gives_five_clips_padded_with_the_floor():
    x, _ = testing.cut_segments(
        [song_array(1, frames=100)], ["s"], plugin.SEGMENTS, FEATURE, 5, seed=0
    )
    assert x.shape == (5, F.N_MELS, F.CLIP_FRAMES)
    assert np.all(x[:, :, 100:] == 0.0)  # the core pads with zeros = 80 dB below the peak


def test_song_level_split_never_puts_a_songs_clips_in_two_parts():
    ds = songs()
    split = ds.split(plugin.SPLIT, seed=0)
    assert {p: len(split.part(p)) for p in ("train", "valid", "test")} == {
        "train": 35,
        "valid": 5,
        "test": 10,
    }
    index = {t.track_id: i for i, t in enumerate(ds.tracks)}
    clip_songs = {}
    for part in ("train", "valid", "test"):
        ids = split.part(part)
        x, owner = testing.cut_segments(
            [song_array(index[t]) for t in ids], ids, plugin.SEGMENTS, FEATURE, 5, 0
        )
        assert len(x) == 5 * len(ids)
        assert np.bincount(owner).tolist() == [5] * len(ids)  # five clips per song
        # each clip's content comes from the song it is labelled with
        assert [int(c[0, 0]) // 10_000 for c in x] == [index[ids[o]] for o in owner]
        clip_songs[part] = {ids[o] for o in owner}
    assert not clip_songs["train"] & clip_songs["test"]
    assert not clip_songs["train"] & clip_songs["valid"]
    assert not clip_songs["valid"] & clip_songs["test"]
    for part in ("train", "test"):  # stratified: every genre in both parts
        assert {ds.track(t).labels[0] for t in clip_songs[part]} == set(GENRES)
