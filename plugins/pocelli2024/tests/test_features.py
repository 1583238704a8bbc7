"""The log-mel input: shape, frame rate, [0, 1] scaling per song, silence."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from genrebench_pocelli2024 import features as F

SR = F.SAMPLE_RATE


def tone(freq: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_shape_frame_rate_and_range():
    y = tone(440.0, 8.0) + 0.01 * np.random.default_rng(0).standard_normal(8 * SR).astype(
        np.float32
    )
    mel = F.logmel_01(y, SR)
    assert mel.dtype == np.float32
    assert mel.shape == (256, 1 + len(y) // 512)  # centred frames, hop 512
    assert pytest.approx(43.066, abs=1e-3) == F.FRAMES_PER_SECOND
    assert mel.min() >= 0.0 and mel.max() == pytest.approx(1.0)  # the song's peak is 1


def test_scaling_is_per_song_and_level_independent():
    y = tone(440.0, 3.0) + tone(3000.0, 3.0, 0.05)
    loud, quiet = F.logmel_01(y, SR), F.logmel_01(0.01 * y, SR)
    np.testing.assert_allclose(loud, quiet, atol=1e-4)  # 40 dB quieter, same picture


def test_80_db_floor():
    y = tone(440.0, 2.0)
    mel = F.logmel_01(y, SR)
    assert (mel == 0.0).any()  # bands far from the tone sit on the -80 dB floor
    peak_band = int(np.argmax(mel.mean(axis=1)))
    high = int(np.argmax(F.logmel_01(tone(4000.0, 2.0), SR).mean(axis=1)))
    assert 0 < peak_band < high < 255  # mel bands ordered by frequency


def test_silence_and_empty_audio_give_the_floor():
    for y in (np.zeros(SR, np.float32), np.zeros(0, np.float32), np.full(10, np.nan)):
        mel = F.logmel_01(y, SR)
        assert mel.shape[0] == 256 and mel.shape[1] >= 1
        assert np.all(mel == 0.0)


def _gtzan_mini() -> Path | None:
    base = os.environ.get("GENREBENCH_SHARED_DATA")
    root = Path(base) / "gtzan-mini" / "genres" if base else None
    return root if root is not None and root.is_dir() else None


@pytest.mark.realdata
@pytest.mark.skipif(_gtzan_mini() is None, reason="GENREBENCH_SHARED_DATA/gtzan-mini not set")
def test_real_gtzan_song_gives_five_clips():
    from genrebench.audio import load_audio

    path = sorted(_gtzan_mini().glob("jazz/*.wav"))[0]
    mel = F.logmel_01(load_audio(path, SR), SR)
    assert mel.shape[0] == 256 and mel.shape[1] >= 5 * F.CLIP_FRAMES  # a 30 s song
    assert mel.min() >= 0.0 and mel.max() == pytest.approx(1.0)
    assert mel.std() > 0.05


def test_torch_front_end_equals_the_report_codes_librosa_computation():
    import librosa

    y = tone(440.0, 4.0) + tone(1500.0, 4.0, 0.05)
    y += 0.01 * np.random.default_rng(1).standard_normal(len(y)).astype(np.float32)
    power = librosa.feature.melspectrogram(y=y, sr=SR, n_mels=256)  # the report's call
    report = librosa.power_to_db(power, ref=np.max)  # top_db 80 by default
    expected = (report + 80.0) / 80.0
    ours = F.logmel_01(y, SR)
    assert ours.shape == expected.shape
    # 0.05 dB of the 80 dB range
    assert np.abs(ours - expected).max() < 0.05 / 80
    np.testing.assert_allclose(F.logmel_01.librosa(y), expected, atol=1e-6)
    batched = F.logmel_01.batch([y, y[: SR // 2]], SR)
    np.testing.assert_allclose(batched[0], ours, atol=1e-6)
    np.testing.assert_allclose(batched[1], F.logmel_01(y[: SR // 2], SR), atol=1e-6)
