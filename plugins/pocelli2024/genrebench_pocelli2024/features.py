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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genrebench.frontends import LogMel

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


#: The power mel spectrogram of the report's code (librosa's defaults: centred frames with
#: zero padding), computed by the core's batched torch front end (``genrebench.frontends``,
#: equal to librosa within its tested tolerance); a song shorter than one window is padded
#: with silence.
POWER_MEL = LogMel(
    sample_rate=SAMPLE_RATE,
    n_fft=N_FFT,
    hop=HOP,
    n_mels=N_MELS,
    center=True,
    pad_mode="constant",
    power=2.0,
    log=None,
    min_samples=N_FFT,
)


def scale_01(power: np.ndarray) -> np.ndarray:
    """A song's power mel spectrogram -> dB below its peak, floored at -80 dB, mapped onto
    [0, 1] (all zeros for a silent song)."""
    peak = float(power.max())
    if peak <= SILENCE_POWER:
        return np.zeros(power.shape, dtype=np.float32)
    db = 10.0 * np.log10(np.maximum(power, SILENCE_POWER) / peak)  # power_to_db(ref=peak)
    return np.clip((db + TOP_DB) / TOP_DB, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class ScaledLogMel:
    """``(256, n_frames)`` float32 log-mel spectrogram scaled to [0, 1] per song; batched
    like the core's front ends (``batch``), with the librosa computation as ``librosa``."""

    power_mel: LogMel = POWER_MEL

    @property
    def sample_rate(self) -> int:
        return self.power_mel.sample_rate

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return scale_01(self.power_mel(audio, sample_rate))

    def batch(self, audios: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        return [scale_01(power) for power in self.power_mel.batch(audios, sample_rate)]

    def librosa(self, audio: np.ndarray) -> np.ndarray:
        return scale_01(self.power_mel.librosa(audio))


logmel_01 = ScaledLogMel()
