"""The torch front ends equal their librosa references, batch like single calls, and take
the batched path of ``extract_all`` without changing what is cached or reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genrebench.audio import write_audio
from genrebench.dataset import Track
from genrebench.features.cache import FeatureCache
from genrebench.features.extract import extract_all
from genrebench.frontends import LogMel
from genrebench.specs import FeatureSpec

SR = 22050


def music_like(seconds: float, seed: int) -> np.ndarray:
    """Harmonic tones with a decaying envelope and a little noise: a spectrum with both
    loud and near-silent bins, where a log front end is easiest to get wrong."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate(rng.uniform(80, 2000, 4), 1))
    envelope = np.exp(-3 * (t % 0.5))
    return (0.2 * tone * envelope + 0.001 * rng.standard_normal(len(t))).astype(np.float32)


CONFIGS = {
    # schindler2016's log-mel: uncentred, power, dB
    "uncentred-db": LogMel(SR, n_fft=1024, hop=256, n_mels=80, fmax=SR / 2),
    # the report's code: centred frames, magnitude, natural log
    "centred-ln": LogMel(SR, 512, 256, 80, center=True, power=1.0, log="ln", amin=1e-6),
    # an HTK-filter, 44.1 kHz front end (lukashevich-style)
    "htk-44k": LogMel(44100, 2048, 710, 96, htk=True, norm=None, center=True),
    # pocelli2024's power mel: centred with zero padding (librosa's default), no log
    "centred-zero-power": LogMel(SR, 2048, 512, 256, center=True, pad_mode="constant", log=None),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_log_mel_equals_librosa_within_tolerance(name):
    frontend = CONFIGS[name]
    audio = music_like(3.0, seed=1)
    ours = frontend(audio, frontend.sample_rate)
    reference = frontend.librosa(audio)
    assert ours.shape == reference.shape and ours.dtype == np.float32
    if frontend.log is None:
        np.testing.assert_allclose(ours, reference, rtol=1e-3, atol=1e-6)
    else:
        # Log outputs: at most 0.05 (dB or nats) anywhere, including near-silent bins.
        assert np.abs(ours - reference).max() < 0.05


def test_a_pure_tone_is_within_tolerance_down_to_100_db_below_its_peak():
    # No noise floor: the far bands hold only float32 FFT rounding, where the two
    # implementations may disagree; everything within 100 dB of the peak must agree
    # (measured: 0.010 dB at most).
    frontend = CONFIGS["uncentred-db"]
    t = np.arange(2 * SR) / SR
    audio = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    ours, reference = frontend(audio, SR), frontend.librosa(audio)
    audible = reference > reference.max() - 100
    assert audible.mean() > 0.3  # 35 % of the bins here
    assert np.abs(ours - reference)[audible].max() < 0.05


def test_batch_of_different_lengths_equals_one_call_per_track():
    frontend = CONFIGS["centred-ln"]
    audios = [music_like(s, seed=i) for i, s in enumerate((0.01, 1.0, 2.5, 0.7))]
    batched = frontend.batch(audios, SR)
    for audio, array in zip(audios, batched, strict=True):
        single = frontend(audio, SR)
        assert array.shape == single.shape == (80, frontend.n_frames(len(audio)))
        np.testing.assert_allclose(array, single, atol=1e-4)


def test_audio_shorter_than_a_window_gives_one_frame_uncentred():
    frontend = CONFIGS["uncentred-db"]
    assert frontend(music_like(0.01, seed=0), SR).shape == (80, 1)


def test_wrong_sample_rate_is_refused():
    with pytest.raises(ValueError, match="22050 Hz"):
        CONFIGS["uncentred-db"](music_like(0.5, 0), 16000)


def write_tracks(folder: Path, n: int) -> list[Track]:
    tracks = []
    for i in range(n):
        path = folder / f"t{i}.wav"
        write_audio(path, music_like(1.0 + 0.25 * i, seed=i), SR)
        tracks.append(Track(f"t{i}", path, ("a",)))
    return tracks


def test_extract_all_batches_a_front_end_and_matches_the_per_track_path(tmp_path):
    tracks = write_tracks(tmp_path, 11)  # more than one decode chunk
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really audio")
    tracks.insert(3, Track("broken", tmp_path / "broken.wav", ("a",)))
    frontend = CONFIGS["uncentred-db"]
    fps = SR / frontend.hop  # time-varying: the cache lets the time axis vary in length
    batched = FeatureSpec("test/batched", frontend, sample_rate=SR, frames_per_second=fps)
    per_track = FeatureSpec(
        "test/per-track", lambda a, sr: frontend(a, sr), sample_rate=SR, frames_per_second=fps
    )
    cache = FeatureCache(tmp_path / "cache")
    got = extract_all(batched, tracks, cache)
    want = extract_all(per_track, tracks, FeatureCache(None))
    assert [p.track_id for p in got.problems] == ["broken"]
    assert "broken.wav" in got.problems[0].reason
    assert (
        sorted(got.arrays)
        == sorted(want.arrays)
        == sorted(t.track_id for t in tracks[:3] + tracks[4:])
    )
    for track_id, array in want.arrays.items():
        np.testing.assert_allclose(got.arrays[track_id], array, atol=1e-4)
    again = extract_all(batched, tracks, cache)
    assert again.cache_hits == 11 and again.computed == 0


def test_short_stereo_audio_with_nans_is_mixed_cleaned_and_padded_like_the_reference():
    frontend = LogMel(SR, 1024, 256, 80, fmax=SR / 2, min_samples=21248)
    left = music_like(0.3, seed=3)
    stereo = np.stack([left, 0.5 * left])
    stereo[0, 10] = np.nan
    ours = frontend(stereo, SR)
    assert ours.shape == (80, 80)  # padded to 80 frames, not the 22 of 0.3 s
    mono = 0.75 * left
    mono[10] = 0.0  # a channel is NaN there: the mix is NaN, then 0
    reference = frontend.librosa(mono)
    assert np.abs(ours - reference).max() < 0.05
    np.testing.assert_allclose(frontend.librosa(stereo), reference, atol=1e-5)
    # the padding is silence at the end: the last frames sit at the dB floor
    assert np.all(ours[:, -10:] <= -99)


def test_zero_and_reflect_padding_differ_only_in_the_edge_frames():
    audio = music_like(1.0, seed=2)
    zero = CONFIGS["centred-zero-power"](audio, SR)
    reflect = LogMel(SR, 2048, 512, 256, center=True, log=None)(audio, SR)
    assert zero.shape == reflect.shape
    assert not np.allclose(zero[:, 0], reflect[:, 0])
    np.testing.assert_allclose(zero[:, 2:-2], reflect[:, 2:-2], rtol=1e-5, atol=1e-9)
