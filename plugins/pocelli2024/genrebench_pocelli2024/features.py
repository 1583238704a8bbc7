"""The report's input: a 256-band log-mel spectrogram of the whole song, min–max scaled
to [0, 1], later cut by the core into five clips of 256 frames (5.94 s).

Parameters are those of the report's code (``librosa.feature.melspectrogram(y, sr,
n_mels=256)`` with librosa's defaults, then ``librosa.power_to_db(S, ref=np.max)``):

* 22 050 Hz mono, ``n_fft`` 2048 (Hann), hop 512, centred frames, 256 Slaney mel bands
  from 0 to 11 025 Hz, power spectrogram: 43.07 frames per second;
* dB relative to the loudest time–frequency bin **of the song**, floored 80 dB below it
  (librosa's default ``top_db``), then mapped linearly onto [0, 1]: 0 = 80 dB or more below
  the song's peak, 1 = the peak.  The scaling is therefore per song, with a fixed 80 dB
  range (not per clip, and not fitted on the training set): a clip's values stay
  comparable with those of the other clips of its song, and silence (or the core's zero
  padding of a short song) reads as the floor, 0.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 22050
N_FFT = 2048
HOP = 512
N_MELS = 256
TOP_DB = 80.0
FRAMES_PER_SECOND = SAMPLE_RATE / HOP  # 43.07 frames/s
#: One clip: 256 frames, the report's first 1 280 frames of a song split in five
#: (255·512 samples = 5.92 s between the first and the last frame centre; 5.94 s of hops).
CLIP_FRAMES = 256
CLIPS_PER_SONG = 5
#: Below this peak power a song is treated as silent (all zeros) rather than scaled up.
SILENCE_POWER = 1e-10


def _mono_float(audio: np.ndarray) -> np.ndarray:
    y = np.asarray(audio, dtype=np.float32)
    if y.ndim > 1:
        y = y.mean(axis=0)  # librosa's (channels, samples) layout
    y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    if len(y) < N_FFT:  # librosa needs one window; a shorter song is padded with silence
        y = np.pad(y, (0, N_FFT - len(y)))
    return y


def logmel_01(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``(256, n_frames)`` float32 log-mel spectrogram scaled to [0, 1] per song."""
    import librosa

    power = librosa.feature.melspectrogram(
        y=_mono_float(audio),
        sr=sample_rate,
        n_fft=N_FFT,
        hop_length=HOP,
        window="hann",
        center=True,
        power=2.0,
        n_mels=N_MELS,
    )
    peak = float(power.max())
    if peak <= SILENCE_POWER:
        return np.zeros(power.shape, dtype=np.float32)
    db = librosa.power_to_db(power, ref=peak, amin=SILENCE_POWER, top_db=TOP_DB)  # [-80, 0]
    return np.clip((db + TOP_DB) / TOP_DB, 0.0, 1.0).astype(np.float32)
