"""Spectrogram features of the paper and the report: 80-band log-mel and log-CQT.

All three keep time on the last axis and share one hop, so a segment of 80 frames is the
same stretch of audio whatever the representation.

* Sample rate 22 050 Hz (GTZAN's own), mono.
* ``N_FFT = 1024``, ``HOP = 256``: 80 frames span ``79·256 + 1024 = 21 248`` samples
  = 0.964 s, and a 0.97 s clip (21 389 samples) gives exactly
  ``1 + (21 389 − 1024) // 256 = 80`` frames without centring -- the report's "0.97 s
  segment → 80×80 spectrogram".  The hop is a power of two, which librosa's CQT needs
  (a multiple of 2^(octaves−1) = 64 for 7 octaves), so the CQT uses the same hop.
* Log-mel: power mel spectrogram (Hann window, Slaney mel filters 0–11 025 Hz, 80 bands,
  no centring), then ``10·log10(max(S, 1e-10))`` (dB, no top-dB clipping, so a value does
  not depend on the loudest frame of the track).  Both log-mels are the core's batched
  torch ``LogMel`` front end (``genrebench.frontends``), equal to the librosa computation
  within 0.05 dB (0.05 nats); the CQT stays librosa's.
* Log-mel as the report's code computed it (``logmel_report``): magnitude STFT with
  ``n_fft`` 512, hop 256, Hann window, centred frames with zero padding, Slaney mel filters
  (80 bands, 0–11 025 Hz), then the natural log ``ln(mel + 1e-6)``.
* CQT: ``|librosa.cqt|`` from C1 (32.70 Hz), 12 bins per octave, 80 bins (the report:
  C1–G7, 6⅔ octaves) or 84 bins (the report's proposal: exactly 7 octaves, C1–B7), hop
  256, then ``20·log10(max(|C|, 1e-5))`` (dB).  The report's code fed the raw complex CQT
  to the network; a log magnitude is the usual input and matches the log-mel branch.
"""

from __future__ import annotations

import numpy as np

from genrebench.frontends import LogMel, mono_input

SAMPLE_RATE = 22050
N_FFT = 1024
HOP = 256
N_MELS = 80
CQT_FMIN_NOTE = "C1"
CQT_BINS_PER_OCTAVE = 12
FRAMES_PER_SECOND = SAMPLE_RATE / HOP  # 86.13 frames/s
SEGMENT_FRAMES = 80
#: Shorter audio is padded with silence to these lengths before analysis, so that every
#: track yields at least one full 80-frame segment of real log-spectrogram values (silence
#: at the dB floor, not the core's zero padding, which would read as 0 dB): 79 hops + one
#: window for the log-mel; 1.49 s for the CQT, whose lowest octave needs that much.
MIN_SAMPLES_MEL = (SEGMENT_FRAMES - 1) * HOP + N_FFT  # 21 248 samples = 0.964 s
MIN_SAMPLES_CQT = 32768
#: The report's code: ``n_fft`` 512, centred frames (frame ``i`` centred on sample
#: ``256·i``), so 80 frames need 79 hops of audio.
N_FFT_REPORT = 512
MIN_SAMPLES_REPORT = (SEGMENT_FRAMES - 1) * HOP  # 20 224 samples = 0.917 s
LOG_OFFSET_REPORT = 1e-6


#: ``(80, n_frames)`` float32 log-mel spectrogram in dB (frame ``i`` starts at sample
#: ``256·i``), computed by the core's batched torch front end (within 0.05 dB of librosa's
#: ``melspectrogram`` + ``power_to_db``, its ``.librosa()`` reference).
logmel = LogMel(
    sample_rate=SAMPLE_RATE,
    n_fft=N_FFT,
    hop=HOP,
    n_mels=N_MELS,
    fmin=0.0,
    fmax=SAMPLE_RATE / 2,
    center=False,
    power=2.0,
    log="db",
    amin=1e-10,
    min_samples=MIN_SAMPLES_MEL,
)

#: ``(80, n_frames)`` float32 ``ln(mel magnitude + 1e-6)`` as the report's code computed
#: it (``melspectrogram`` in its ``gztan_utils.py``): frame ``i`` is centred on sample
#: ``256·i``, the signal zero-padded by 256 samples at both ends; same front end.
logmel_report = LogMel(
    sample_rate=SAMPLE_RATE,
    n_fft=N_FFT_REPORT,
    hop=HOP,
    n_mels=N_MELS,
    center=True,
    pad_mode="constant",
    power=1.0,
    log="ln",
    amin=LOG_OFFSET_REPORT,
    min_samples=MIN_SAMPLES_REPORT,
)


def logcqt(audio: np.ndarray, sample_rate: int, n_bins: int = 80) -> np.ndarray:
    """``(n_bins, n_frames)`` float32 log-magnitude constant-Q transform in dB."""
    import librosa

    y = mono_input(audio, MIN_SAMPLES_CQT)
    magnitude = np.abs(
        librosa.cqt(
            y,
            sr=sample_rate,
            hop_length=HOP,
            fmin=librosa.note_to_hz(CQT_FMIN_NOTE),
            n_bins=n_bins,
            bins_per_octave=CQT_BINS_PER_OCTAVE,
        )
    )
    return librosa.amplitude_to_db(magnitude, ref=1.0, amin=1e-5, top_db=None).astype(np.float32)


def logcqt80(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """80-bin log-CQT (the report's)."""
    return logcqt(audio, sample_rate, n_bins=80)


def logcqt84(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """84-bin log-CQT (7 octaves × 12, the report's proposal)."""
    return logcqt(audio, sample_rate, n_bins=84)
