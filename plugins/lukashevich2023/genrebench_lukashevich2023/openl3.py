"""OpenL3 (Cramer et al. 2019) audio embedding network in PyTorch, loading user-supplied
weights in the format of the published PyTorch port ``torchopenl3``.

OpenL3 itself cannot be installed here (it needs TensorFlow, downloads its weights at
install time and does not support Python 3.11), and its weights cannot be downloaded at
run time, so nothing here ever runs with random weights: :func:`load_openl3` raises
:class:`~genrebench.errors.ConfigError` saying which file to provide when it is missing.

**Weight file.**  ``torchopenl3_<input_repr>_<content_type>_<embedding_size>.pth``, the
``torch.save(model.state_dict())`` of torchopenl3's ``PytorchOpenl3`` (keys
``speclayer.dft_real_kernels``, ``speclayer.dft_imag_kernels``, ``speclayer.mel_basis``,
``batch_normalization_1.weight`` ... ``conv2d_1.weight`` ... ``audio_embedding_layer.bias``).
:class:`OpenL3` uses the same module names, so that file loads as it is (strictly: a
missing or unexpected key, or a shape that does not fit, is an error naming it).  The 512-
and 6144-dimensional models share their weights (only the final pooling differs), so
either file of the right input representation and content type works.  Point
``$GENREBENCH_OPENL3_WEIGHTS`` at the file, or at a folder holding it.

**Input representation** (as torchopenl3 re-implements kapre 0.1.4): 1 s windows of 48 kHz
audio; Hann-windowed DFT (n_fft 2048, hop 242) as a convolution after "same" padding;
power spectrum; HTK mel filters normalised to unit area (mel128 or mel256), 0–24 kHz;
magnitude (square root); ``10·log10``, minus the window's maximum, floored at -80 dB.
Windows start every ``hop`` seconds, the first centred on the track's start (``center``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genrebench.errors import ConfigError
from genrebench_lukashevich2023.weights import (
    OPENL3_SAMPLE_RATE as SAMPLE_RATE,
)
from genrebench_lukashevich2023.weights import (
    resolve_openl3_weights,
    weights_needed,
)

N_DFT = 2048
N_HOP = 242
INPUT_REPRS = {"mel128": 128, "mel256": 256}
#: Final max-pool of the 512-d embedding per input representation (torchopenl3's
#: AUDIO_POOLING_SIZES); the spectrogram of 1 s is 199 frames, 24 after three 2×2 pools.
POOL_512 = {"mel128": (16, 24), "mel256": (32, 24)}
CHANNELS = (64, 64, 128, 128, 256, 256, 512)


def stft_kernels(n_dft: int = N_DFT) -> tuple[np.ndarray, np.ndarray]:
    """Real and imaginary DFT kernels, Hann-windowed, ``(n_dft//2+1, 1, n_dft)``."""
    n_bins = n_dft // 2 + 1
    phase = np.arange(n_bins)[:, None] * 2 * np.pi / n_dft * np.arange(n_dft)[None, :]
    window = np.hanning(n_dft + 1)[:-1]  # periodic Hann (librosa's fftbins=True)
    real = (np.cos(phase) * window).astype(np.float32)[:, None, :]
    imag = (-np.sin(phase) * window).astype(np.float32)[:, None, :]
    return real, imag


def mel_basis(n_mels: int) -> np.ndarray:
    """HTK mel filters of unit area, as kapre 0.1.4 builds them (the weight file's
    ``speclayer.mel_basis`` replaces them on loading)."""
    import warnings

    import librosa

    with warnings.catch_warnings():  # 256 HTK bands at n_fft 2048 leave the lowest empty
        warnings.simplefilter("ignore", UserWarning)
        basis = librosa.filters.mel(
            sr=SAMPLE_RATE, n_fft=N_DFT, n_mels=n_mels, fmax=SAMPLE_RATE // 2, htk=True, norm=1
        )
    return basis.astype(np.float32)


class MelSpectrogram(nn.Module):
    """kapre 0.1.4's Melspectrogram as torchopenl3 re-implements it (buffers named as
    there, so their values come from the weight file)."""

    def __init__(self, n_mels: int) -> None:
        super().__init__()
        real, imag = stft_kernels()
        self.register_buffer("dft_real_kernels", torch.from_numpy(real))
        self.register_buffer("dft_imag_kernels", torch.from_numpy(imag))
        self.register_buffer("mel_basis", torch.from_numpy(mel_basis(n_mels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, 1, 48000)`` -> ``(n, 1, n_mels, 199)`` dB relative to each window's max."""
        # keras "same" padding of the 48 000-sample input for stride 242
        pad = max(N_DFT - (SAMPLE_RATE % N_HOP or N_HOP), 0)
        x = F.pad(x, (pad // 2, pad - pad // 2))
        real = F.conv1d(x, self.dft_real_kernels, stride=N_HOP)
        imag = F.conv1d(x, self.dft_imag_kernels, stride=N_HOP)
        power = real.pow(2) + imag.pow(2)  # (n, bins, frames)
        mel = torch.sqrt(torch.matmul(self.mel_basis, power))
        db = 10 * torch.log10(torch.clamp(mel, min=1e-10))
        db = db - db.amax(dim=(1, 2), keepdim=True)
        return torch.clamp(db, min=-80.0).unsqueeze(1)


class OpenL3(nn.Module):
    """The OpenL3 audio network: 4 × (conv, conv, max-pool) stages minus the last pool,
    batch norm before every ReLU, then a max-pool to the embedding."""

    def __init__(self, input_repr: str = "mel256", embedding_size: int = 512) -> None:
        super().__init__()
        if input_repr not in INPUT_REPRS:
            raise ConfigError(
                f"unknown OpenL3 input representation {input_repr!r}; expected one of "
                f"{sorted(INPUT_REPRS)}"
            )
        if embedding_size != 512:
            raise ConfigError(f"only the 512-d OpenL3 embedding is ported, not {embedding_size}")
        self.input_repr = input_repr
        self.pool = POOL_512[input_repr]
        self.speclayer = MelSpectrogram(INPUT_REPRS[input_repr])
        self.batch_normalization_1 = nn.BatchNorm2d(1, eps=1e-3)
        in_channels = 1
        for i, out in enumerate(CHANNELS, start=1):
            setattr(self, f"conv2d_{i}", nn.Conv2d(in_channels, out, 3))
            setattr(self, f"batch_normalization_{i + 1}", nn.BatchNorm2d(out, eps=1e-3))
            in_channels = out
        self.audio_embedding_layer = nn.Conv2d(in_channels, 512, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, 1, 48000)`` windows -> ``(n, 512)`` embeddings."""
        h = self.batch_normalization_1(self.speclayer(x))
        for i in range(1, len(CHANNELS) + 1):
            conv = getattr(self, f"conv2d_{i}")
            bn = getattr(self, f"batch_normalization_{i + 1}")
            h = torch.relu(bn(conv(F.pad(h, (1, 1, 1, 1)))))
            if i in (2, 4, 6):
                h = F.max_pool2d(h, 2)
        h = self.audio_embedding_layer(F.pad(h, (1, 1, 1, 1)))
        h = F.max_pool2d(h, self.pool)
        return h.permute(0, 2, 3, 1).reshape(len(h), -1)


# --------------------------------------------------------------------------- weights
def load_weights(model: OpenL3, path: Path) -> OpenL3:
    """Load a torchopenl3 state dict into ``model`` (strict), in eval mode."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(
            f"cannot read OpenL3 weights {path}: {type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConfigError(f"{path} is not a state dict (got {type(state).__name__})")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(
        f"{k} {tuple(state[k].shape)} instead of {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(getattr(state[k], "shape", ())) != tuple(v.shape)
    )
    if missing or unexpected or wrong:
        details = "; ".join(
            f"{what}: {', '.join(items[:4])}{' ...' if len(items) > 4 else ''}"
            for what, items in (("missing", missing), ("unexpected", unexpected), ("shape", wrong))
            if items
        )
        raise ConfigError(
            f"{path} does not fit OpenL3 {model.input_repr} ({details}); expected "
            + weights_needed(model.input_repr)
        )
    model.load_state_dict(state, strict=True)
    return model.eval()


@lru_cache(maxsize=4)
def load_openl3(input_repr: str = "mel256", content_type: str = "music") -> OpenL3:
    """The pretrained network (once per process and weight file)."""
    return load_weights(OpenL3(input_repr), resolve_openl3_weights(input_repr, content_type))


def windows(audio: np.ndarray, hop_seconds: float, center: bool = True) -> np.ndarray:
    """``(n, 1, 48000)`` 1 s windows every ``hop_seconds`` of 48 kHz ``audio`` (torchopenl3's
    framing: half a window of zeros before the start when ``center``, zeros after the end
    to complete the last window)."""
    hop = int(hop_seconds * SAMPLE_RATE)
    if hop < 1:
        raise ConfigError(f"the OpenL3 hop must be positive, got {hop_seconds} s")
    audio = np.asarray(audio, dtype=np.float32)
    if center:
        audio = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), audio])
    if len(audio) < SAMPLE_RATE:
        missing = SAMPLE_RATE - len(audio)
    else:
        missing = -(len(audio) - SAMPLE_RATE) % hop
    audio = np.pad(audio, (0, missing))
    n = 1 + (len(audio) - SAMPLE_RATE) // hop
    frames = np.lib.stride_tricks.sliding_window_view(audio, SAMPLE_RATE)[::hop][:n]
    return np.ascontiguousarray(frames[:, None, :])


@torch.no_grad()
def embed(
    audio: np.ndarray,
    *,
    input_repr: str = "mel256",
    content_type: str = "music",
    hop_seconds: float = 0.5,
    batch_size: int = 32,
    model: OpenL3 | None = None,
) -> np.ndarray:
    """``(512, n_windows)`` OpenL3 embeddings of 48 kHz ``audio`` (time last)."""
    net = model if model is not None else load_openl3(input_repr, content_type)
    x = torch.from_numpy(windows(audio, hop_seconds))
    out = [net(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy().T.astype(np.float32)
