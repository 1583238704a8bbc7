"""Features that read a track's companion file (``FeatureSpec.asset``) instead of its audio:
which tracks go which way, caching under the file actually read, and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genrebench import ExperimentSpec, hookimpl
from genrebench.audio import write_audio
from genrebench.dataset import Track
from genrebench.features.cache import FeatureCache
from genrebench.features.extract import extract_all, source_of
from genrebench.specs import FeatureSpec

ASSET = "picture"


def _audio_length(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    return np.array([len(audio), -1.0], dtype=np.float32)


def _asset_bytes(path: Path) -> np.ndarray:
    return np.array([len(path.read_bytes()), 1.0], dtype=np.float32)


SPEC = FeatureSpec(
    "test/asset-or-audio", _audio_length, sample_rate=8000, asset=ASSET, read_asset=_asset_bytes
)


def _tracks(tmp_path: Path) -> list[Track]:
    tracks = []
    for i in range(3):
        wav = tmp_path / f"t{i}.wav"
        write_audio(wav, np.zeros(800 * (i + 1), dtype=np.float32), 8000)
        assets = {}
        if i < 2:
            assets[ASSET] = tmp_path / f"t{i}.bin"
            assets[ASSET].write_bytes(b"x" * (10 + i))
        tracks.append(Track(f"t{i}", wav, ("a",), assets))
    return tracks


def test_asset_and_reader_go_together():
    with pytest.raises(ValueError, match="asset and read_asset go together"):
        FeatureSpec("x", _audio_length, sample_rate=8000, asset=ASSET)
    with pytest.raises(ValueError, match="asset and read_asset go together"):
        FeatureSpec("x", _audio_length, sample_rate=8000, read_asset=_asset_bytes)


def test_tracks_with_the_asset_read_it_the_others_their_audio(tmp_path):
    tracks = _tracks(tmp_path)
    assert source_of(SPEC, tracks[0]) == (tmp_path / "t0.bin", f"asset:{ASSET}")
    assert source_of(SPEC, tracks[2]) == (tmp_path / "t2.wav", "audio")
    out = extract_all(SPEC, tracks, FeatureCache(None))
    assert out.problems == [] and out.from_asset == 2
    np.testing.assert_array_equal(out.arrays["t0"], [10, 1])
    np.testing.assert_array_equal(out.arrays["t1"], [11, 1])
    np.testing.assert_array_equal(out.arrays["t2"], [2400, -1])  # decoded audio, 2400 samples
    # Tracks are equal whatever their assets (they compare by id, path and labels).
    assert tracks[0] == Track("t0", tmp_path / "t0.wav", ("a",))


def test_cached_under_the_file_read(tmp_path):
    tracks = _tracks(tmp_path)
    cache = FeatureCache(tmp_path / "cache")
    first = extract_all(SPEC, tracks, cache)
    assert (first.computed, first.cache_hits) == (3, 0)
    again = extract_all(SPEC, tracks, cache)
    assert (again.computed, again.cache_hits, again.from_asset) == (0, 3, 2)
    # The asset's key differs from the key of the same bytes read as audio.
    assert cache.key(tmp_path / "t0.bin", SPEC, f"asset:{ASSET}") != cache.key(
        tmp_path / "t0.bin", SPEC
    )
    # A changed asset is new work; the audio-only track stays cached.
    (tmp_path / "t0.bin").write_bytes(b"y" * 50)
    changed = extract_all(SPEC, tracks, cache)
    assert (changed.computed, changed.cache_hits) == (1, 2)
    np.testing.assert_array_equal(changed.arrays["t0"], [50, 1])


def test_an_unreadable_asset_is_reported_with_its_path_and_skipped(tmp_path):
    def broken(path: Path) -> np.ndarray:
        raise OSError("truncated file")

    spec = FeatureSpec(
        "test/broken", _audio_length, sample_rate=8000, asset=ASSET, read_asset=broken
    )
    tracks = _tracks(tmp_path)
    out = extract_all(spec, tracks, FeatureCache(None))
    assert sorted(out.arrays) == ["t2"]
    assert [p.track_id for p in out.problems] == ["t0", "t1"]
    assert str(tmp_path / "t0.bin") in out.problems[0].reason
    assert "truncated file" in out.problems[0].reason


class AssetPlugin:
    """A data set whose even tracks have a companion file, and an experiment on it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self, root, options):
        from genrebench import Dataset

        tracks = []
        for i in range(8):
            label = "a" if i % 2 else "b"
            wav = self.root / f"{label}{i}.wav"
            write_audio(wav, np.full(400 * (i + 1), 0.1, dtype=np.float32), 8000)
            assets = {}
            if i % 4 < 2:
                assets[ASSET] = self.root / f"{label}{i}.bin"
                assets[ASSET].write_bytes(b"x" * (5 + i))
            tracks.append(Track(f"{label}{i}", wav, (label,), assets))
        return Dataset("test-assets", "single-label", ["a", "b"], tracks)

    @hookimpl
    def genrebench_register_datasets(self):
        from genrebench import DatasetSpec

        return [DatasetSpec("test-assets", "single-label", self.load)]

    @hookimpl
    def genrebench_register_features(self):
        return [SPEC]

    @hookimpl
    def genrebench_register_experiments(self):
        from genrebench import SplitRequest

        split = SplitRequest("stratified", {"train": 0.5, "test": 0.5})
        return [ExperimentSpec("test/assets", SPEC.name, "reference/logreg", split=split)]


def test_the_run_records_how_many_tracks_came_from_files(tmp_path):
    import json

    from genrebench.registry.loading import load_plugins
    from genrebench.run.runner import Runner, RunOptions, plan

    registry = load_plugins(extra=[AssetPlugin(tmp_path)])
    options = RunOptions(["test/assets"], ["test-assets"], out=tmp_path / "out", cache_dir=None)
    jobs, _ = plan(registry, options)
    runner = Runner(registry, options)
    [result] = runner.run(jobs)
    assert result["status"] == "ok", result.get("error")
    provenance = json.loads(
        next((tmp_path / "out").rglob("provenance.json")).read_text(encoding="utf-8")
    )
    assert provenance["features"]["from_asset"] == 4
    assert f"test/asset-or-audio: 4 of 8 tracks read from their {ASSET!r} files" in " ".join(
        runner.notes
    )


def test_a_batching_feature_batches_only_the_tracks_read_from_audio(tmp_path):
    calls = []

    def extract(audio, sample_rate):
        return _audio_length(audio, sample_rate)

    def batch(audios, sample_rate):
        calls.append(len(audios))
        return [_audio_length(a, sample_rate) for a in audios]

    extract.batch = batch
    spec = FeatureSpec(
        "test/batched", extract, sample_rate=8000, asset=ASSET, read_asset=_asset_bytes
    )
    out = extract_all(spec, _tracks(tmp_path), FeatureCache(None))
    assert calls == [1]  # t2 only; t0 and t1 come from their files
    assert out.from_asset == 2 and sorted(out.arrays) == ["t0", "t1", "t2"]
    np.testing.assert_array_equal(out.arrays["t1"], [11, 1])
    np.testing.assert_array_equal(out.arrays["t2"], [2400, -1])
