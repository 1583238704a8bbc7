"""The ResNet's log-mel input: frame counts at hop 710, the 96 × 186 patch of 3 s, the
1 s patch hop, and what it gives on real GTZAN clips when they are available."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from genrebench_lukashevich2023 import features as F
from genrebench_lukashevich2023.plugin import FEATURE_LOGMEL, PATCHES

from genrebench import testing

SR = F.SAMPLE_RATE


def _tone(seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_frame_count_convention():
    # centred frames: 1 + n_samples // hop; 3 s -> 187 frames, of which a patch takes 186
    for seconds in (3.0, 8.0, 30.0):
        mel = F.logmel96(_tone(seconds), SR)
        assert mel.shape == (96, 1 + round(seconds * SR) // 710)
        assert mel.dtype == np.float32 and np.isfinite(mel).all()
    assert pytest.approx(62.1127, abs=1e-4) == F.FRAMES_PER_SECOND
    assert F.PATCH_FRAMES == int(3 * SR / 710) == round(3 * F.FRAMES_PER_SECOND) == 186


def test_patches_of_a_30_s_clip_are_96_by_186_every_second():
    spec = testing.load_registry("lukashevich2023").get("features", FEATURE_LOGMEL)
    assert testing.segment_lengths(PATCHES, spec) == (186, 62)  # 3 s, hop 0.998 s
    mel = F.logmel96(_tone(30.0), SR)  # 1864 frames
    x, owner = testing.cut_segments([mel], ["clip"], PATCHES, spec, None, seed=0)
    assert x.shape == (28, 96, 186)  # patches start at 0, 1, ..., 27 s
    np.testing.assert_array_equal(x[1], mel[:, 62:248])
    assert owner.tolist() == [0] * 28


def test_short_audio_is_padded_to_one_patch():
    for y in (np.zeros(0, np.float32), _tone(0.5)):
        mel = F.logmel96(y, SR)
        assert mel.shape[1] >= F.PATCH_FRAMES and np.isfinite(mel).all()


def test_mel_band_of_a_tone_and_level_in_db():
    low = int(np.argmax(F.logmel96(_tone(3.0, 300.0), SR).mean(axis=1)))
    high = int(np.argmax(F.logmel96(_tone(3.0, 5000.0), SR).mean(axis=1)))
    assert 0 < low < high < 95
    a, b = F.logmel96(_tone(3.0), SR), F.logmel96(0.1 * _tone(3.0), SR)
    band = int(np.argmax(a.mean(axis=1)))
    assert np.mean(a[band] - b[band]) == pytest.approx(20.0, abs=0.01)


def _gtzan_mini() -> Path | None:
    base = os.environ.get("GENREBENCH_SHARED_DATA")
    root = Path(base) / "gtzan-mini" / "genres" if base else None
    return root if root is not None and root.is_dir() else None


@pytest.mark.realdata
@pytest.mark.skipif(_gtzan_mini() is None, reason="GENREBENCH_SHARED_DATA/gtzan-mini not set")
def test_real_gtzan_clip():
    from genrebench.audio import load_audio

    path = sorted(_gtzan_mini().glob("*/*.wav"))[0]
    mel = F.logmel96(load_audio(path, SR), SR)  # 22 050 Hz file resampled to 44.1 kHz
    assert mel.shape[0] == 96 and 1860 <= mel.shape[1] <= 1870  # ~30 s
    assert np.isfinite(mel).all() and mel.std() > 1.0
