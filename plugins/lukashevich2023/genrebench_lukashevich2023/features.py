"""The plugin's features, each with time on the last axis.

* ``logmel96`` -- the ResNet's input: 44.1 kHz, Hann window of 2048, hop 710 (62.11
  frames/s), 96 Slaney mel bands 0–22.05 kHz of the power spectrogram, ``10·log10(max(S,
  1e-10))`` dB (no top-dB clip), computed by the core's batched ``LogMel`` front end.
  Frames are centred (frame ``i`` is centred on sample ``710·i``; the signal is padded by
  reflection), so the number of frames is ``1 + n_samples // 710``, and a 3 s patch is
  ``floor(3 · 44100 / 710) = 186`` frames (the core rounds ``3 s × 62.11/s`` to the same
  186).  The paper gives window, hop, bands and rate only; the rest is our choice.
* ``musicnn_embedding`` -- musicnn ``MSD_musicnn``'s 200-d ``penultimate`` layer for
  non-overlapping 3 s patches (musicnn's own default patching), one vector per patch.
* ``openl3_embedding`` -- 512-d OpenL3 (music content) per 1 s window every
  ``hop_seconds``; needs user-supplied weights (see :mod:`.openl3`).

Audio shorter than one patch / window is padded with silence before analysis, so every
track yields at least one input of real values.
"""

from __future__ import annotations

import numpy as np

from genrebench.frontends import LogMel, mono_input

SAMPLE_RATE = 44100
N_FFT = 2048
HOP = 710
N_MELS = 96
FRAMES_PER_SECOND = SAMPLE_RATE / HOP  # 62.11
PATCH_FRAMES = 186  # 3 s
PATCH_HOP_FRAMES = 62  # 1 s (round(62.11))
MIN_SAMPLES = 3 * SAMPLE_RATE  # 187 frames: one full 3 s patch


#: ``(96, 1 + n_samples // 710)`` float32 log-mel spectrogram in dB.
logmel96 = LogMel(
    sample_rate=SAMPLE_RATE,
    n_fft=N_FFT,
    hop=HOP,
    n_mels=N_MELS,
    fmin=0.0,
    fmax=SAMPLE_RATE / 2,
    center=True,
    power=2.0,
    norm="slaney",
    log="db",
    amin=1e-10,
    min_samples=MIN_SAMPLES,
)


def musicnn_embedding(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``(200, n_patches)`` musicnn MSD penultimate-layer activations, one per 3 s patch."""
    from genrebench_lukashevich2023 import musicnn

    y = mono_input(audio, 3 * sample_rate)
    return musicnn.embed(y, checkpoint="MSD_musicnn", layer="penultimate")


def openl3_embedding(
    audio: np.ndarray, sample_rate: int, *, input_repr: str, hop_seconds: float
) -> np.ndarray:
    """``(512, n_windows)`` OpenL3 music embeddings (ConfigError without weights)."""
    from genrebench_lukashevich2023 import openl3

    return openl3.embed(mono_input(audio), input_repr=input_repr, hop_seconds=hop_seconds)
