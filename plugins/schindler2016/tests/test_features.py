"""The log-mel and log-CQT features: frame counts, the 0.97 s → 80 frames relation,
dtype, pitch placement, and the real GTZAN clips when they are available."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from genrebench_schindler2016 import features as F

SR = 22050


def _sine(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_097_second_clip_gives_80_frames():
    clip = _sine(440.0, 0.97)  # 21 388 samples
    assert len(clip) == 21388
    assert F.logmel(clip, SR).shape == (80, 80)
    # and 80 frames span 79 hops + one window = 21 248 samples ≈ 0.964 s
    assert pytest.approx(0.9636, abs=1e-4) == (79 * F.HOP + F.N_FFT) / SR


def test_report_logmel_is_the_reports_computation():
    import librosa

    y = _sine(440.0, 2.0)
    mel = F.logmel_report(y, SR)
    assert mel.dtype == np.float32
    assert mel.shape == (80, 1 + len(y) // F.HOP)  # centred frames
    # written out as the report's gztan_utils.melspectrogram does it
    spec = np.abs(librosa.stft(y, n_fft=512, hop_length=256, win_length=512, pad_mode="constant"))
    expected = np.log(librosa.filters.mel(sr=SR, n_fft=512, n_mels=80) @ spec + 1e-6)
    # the core's torch front end: float32 FFTs, within the 0.05 it is tested to
    assert np.abs(mel - expected).max() < 0.05
    np.testing.assert_allclose(F.logmel_report.librosa(y), expected, rtol=1e-5, atol=1e-5)
    # natural log, not dB: silence sits at ln(1e-6), and no standardisation
    assert F.logmel_report(np.zeros(SR, np.float32), SR).max() == pytest.approx(np.log(1e-6))
    # the report's clips (20 224-20 479 samples) give its 80 frames; shorter audio is padded
    assert F.logmel_report(y[:20224], SR).shape == (80, 80)
    assert F.logmel_report(y[:20479], SR).shape == (80, 80)
    assert F.logmel_report(y[:1000], SR).shape == (80, 80)


def test_frame_rate_matches_hop():
    y = _sine(220.0, 8.0)
    mel = F.logmel(y, SR)
    assert mel.shape == (80, 1 + (len(y) - F.N_FFT) // F.HOP)
    for fn, bins in ((F.logcqt80, 80), (F.logcqt84, 84)):
        cqt = fn(y, SR)
        assert cqt.shape == (bins, 1 + len(y) // F.HOP)  # librosa centres CQT frames
    assert pytest.approx(SR / 256) == F.FRAMES_PER_SECOND


@pytest.mark.parametrize("fn", [F.logmel, F.logcqt80, F.logcqt84])
def test_float32_finite_and_short_audio_padded(fn):
    for y in (np.zeros(0, np.float32), _sine(440.0, 0.01), np.zeros(SR, np.float32)):
        out = fn(y, SR)
        assert out.dtype == np.float32
        assert np.isfinite(out).all()
        assert out.shape[-1] >= F.SEGMENT_FRAMES  # always at least one full segment


def test_cqt_bin_of_a440_is_45_semitones_above_c1():
    for fn in (F.logcqt80, F.logcqt84):
        spec = fn(_sine(440.0, 2.0), SR)
        assert (
            int(np.argmax(spec[:, 40:-40].mean(axis=1))) == 45
        )  # A4 = C1 + 3 octaves + 9 semitones


def test_mel_peak_band_of_a_sine_rises_with_frequency():
    low = int(np.argmax(F.logmel(_sine(300.0, 1.0), SR).mean(axis=1)))
    high = int(np.argmax(F.logmel(_sine(3000.0, 1.0), SR).mean(axis=1)))
    assert 0 < low < high < 79


def test_log_scale_is_level_independent_offset():
    y = _sine(440.0, 1.0)
    a, b = F.logmel(y, SR), F.logmel(0.1 * y, SR)
    peak = np.argmax(a.mean(axis=1))
    assert np.mean(a[peak] - b[peak]) == pytest.approx(20.0, abs=0.01)  # −20 dB


def _gtzan_mini() -> Path | None:
    base = os.environ.get("GENREBENCH_SHARED_DATA")
    if not base:
        return None
    root = Path(base) / "gtzan-mini" / "genres"
    return root if root.is_dir() else None


@pytest.mark.realdata
@pytest.mark.skipif(_gtzan_mini() is None, reason="GENREBENCH_SHARED_DATA/gtzan-mini not set")
def test_real_gtzan_clips():
    from genrebench.audio import load_audio

    root = _gtzan_mini()
    files = sorted(root.glob("*/*.wav"))[::25][:4]
    assert files
    for path in files:
        y = load_audio(path, SR)
        mel, cqt = F.logmel(y, SR), F.logcqt84(y, SR)
        assert mel.shape[0] == 80 and mel.shape[1] > 2500  # 30 s clips
        assert cqt.shape[0] == 84
        assert np.isfinite(mel).all() and np.isfinite(cqt).all()
        assert mel.std() > 1.0  # real music, not silence
