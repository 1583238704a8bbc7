"""musicnn (Pons & Serra 2019), ported to PyTorch, with its shipped checkpoints converted
from TensorFlow at load time.

The ``musicnn`` wheel on PyPI (0.1.0) ships the checkpoints ``MSD_musicnn`` and
``MTT_musicnn`` (TensorFlow format V2) but pins ``numpy<1.17`` and needs TensorFlow to run,
so it is installed *without its dependencies* (``pip install --no-deps musicnn==0.1.0``) and
never imported: :func:`find_checkpoint` locates its files, :mod:`.tf_checkpoint` reads the
variables, and :func:`convert` maps them onto :class:`Musicnn`, whose layers follow
``musicnn/models.py`` (``build_musicnn`` with ``num_filt_midend=64``, ``num_units_backend=200``)
one to one.  Conversion takes a fraction of a second, so nothing is written to disk.

Input: a batch of log-mel patches ``(n, 187 frames, 96 bands)`` computed as musicnn's
``extractor.batch_data`` does (16 kHz, n_fft 512, hop 256, 96 Slaney mel bands of the power
spectrogram, cast to float16, ``log10(10000·x + 1)``): :func:`logmel`.

TensorFlow layout notes: the network sees ``(batch, time, frequency, 1)`` (NHWC), so a TF
kernel ``[k_time, k_freq, in, out]`` becomes a torch ``Conv2d`` weight ``[out, in, k_time,
k_freq]`` on ``(batch, 1, time, frequency)``.  TF's "same" padding of an even kernel ``k``
pads ``(k-1)//2`` before and the rest after.  The back end flattens ``concat([max, mean],
axis=2)`` of shape ``(753, 2)``, i.e. it interleaves max and mean per channel.  Batch
normalisation uses TF's default epsilon 0.001.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genrebench.errors import ConfigError
from genrebench_lukashevich2023.weights import MUSICNN_HOP as HOP
from genrebench_lukashevich2023.weights import MUSICNN_PATCH_FRAMES as PATCH_FRAMES
from genrebench_lukashevich2023.weights import MUSICNN_SAMPLE_RATE as SAMPLE_RATE
from genrebench_lukashevich2023.weights import find_musicnn_checkpoint

N_FFT = 512
N_MELS = 96
TF_BN_EPS = 1e-3
LAYERS = {"penultimate": 200, "max_pool": 753, "mean_pool": 753, "taggram": 50}


def logmel(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``(n_frames, 96)`` log-mel spectrogram exactly as musicnn computes it."""
    import librosa

    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"musicnn needs {SAMPLE_RATE} Hz audio, got {sample_rate}")
    mel = librosa.feature.melspectrogram(
        y=np.asarray(audio, dtype=np.float32),
        sr=SAMPLE_RATE,
        hop_length=HOP,
        n_fft=N_FFT,
        n_mels=N_MELS,
    ).T
    # musicnn quantises to float16 and then takes the log *in float16*, where 10000·x
    # overflows to infinity for loud bins (x > 6.55); we keep the quantisation and take
    # the log in float32, which is identical wherever the original is finite.
    return np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)


def patches(mel: np.ndarray, hop_frames: int = PATCH_FRAMES) -> np.ndarray:
    """``(n, 187, 96)`` patches starting every ``hop_frames`` frames (musicnn's
    ``batch_data``); a spectrogram shorter than one patch is first padded with the value of
    silence (0 after the log)."""
    if len(mel) < PATCH_FRAMES:
        mel = np.pad(mel, ((0, PATCH_FRAMES - len(mel)), (0, 0)))
    starts = range(0, len(mel) - PATCH_FRAMES + 1, hop_frames)
    return np.stack([mel[s : s + PATCH_FRAMES] for s in starts])


def _tf_same(kernel: int) -> tuple[int, int]:
    return ((kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2)


class Musicnn(nn.Module):
    """``build_musicnn`` of musicnn 0.1.0 (inference only: dropout is the identity)."""

    TIMBRAL = (("f74", 0.4), ("f77", 0.7))
    TEMPORAL = (("s1", 128), ("s2", 64), ("s3", 32))

    def __init__(
        self, n_classes: int = 50, n_mels: int = N_MELS, midend: int = 64, backend: int = 200
    ) -> None:
        super().__init__()
        timbral_filters, temporal_filters = int(1.6 * 128), int(1.6 * 32)
        self.input_bn = nn.BatchNorm2d(1, eps=TF_BN_EPS)
        self.front = nn.ModuleDict()
        self.front_bn = nn.ModuleDict()
        for name, share in self.TIMBRAL:
            self.front[name] = nn.Conv2d(1, timbral_filters, (7, int(share * n_mels)))
            self.front_bn[name] = nn.BatchNorm2d(timbral_filters, eps=TF_BN_EPS)
        for name, length in self.TEMPORAL:
            self.front[name] = nn.Conv2d(1, temporal_filters, (length, 1))
            self.front_bn[name] = nn.BatchNorm2d(temporal_filters, eps=TF_BN_EPS)
        front_channels = 2 * timbral_filters + 3 * temporal_filters  # 561
        self.mid = nn.ModuleList(
            nn.Conv1d(front_channels if i == 0 else midend, midend, 7) for i in range(3)
        )
        self.mid_bn = nn.ModuleList([nn.BatchNorm1d(midend, eps=TF_BN_EPS) for _ in range(3)])
        pooled = front_channels + 3 * midend  # 753
        self.pool_bn = nn.BatchNorm1d(2 * pooled, eps=TF_BN_EPS)
        self.dense = nn.Linear(2 * pooled, backend)
        self.dense_bn = nn.BatchNorm1d(backend, eps=TF_BN_EPS)
        self.output = nn.Linear(backend, n_classes)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x``: ``(n, time, 96)`` log-mel patches.  Returns the layers musicnn's
        ``extractor`` names: ``taggram`` (sigmoid), ``penultimate``, ``max_pool``,
        ``mean_pool``."""
        x = self.input_bn(x.unsqueeze(1))  # (n, 1, time, freq)
        parts = []
        for name, _ in self.TIMBRAL:
            y = self.front[name](F.pad(x, (0, 0, 3, 3)))
            parts.append(self.front_bn[name](torch.relu(y)).amax(dim=3))
        for name, length in self.TEMPORAL:
            y = self.front[name](F.pad(x, (0, 0, *_tf_same(length))))
            parts.append(self.front_bn[name](torch.relu(y)).amax(dim=3))
        front = torch.cat(parts, dim=1)  # (n, 561, time)
        layers = [front]
        h = front
        for i, (conv, bn) in enumerate(zip(self.mid, self.mid_bn, strict=True)):
            y = bn(torch.relu(conv(F.pad(h, (3, 3)))))
            h = y if i == 0 else y + h
            layers.append(h)
        mid = torch.cat(layers, dim=1)  # (n, 753, time)
        max_pool, mean_pool = mid.amax(dim=2), mid.mean(dim=2)
        flat = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # interleaved, as TF
        penultimate = self.dense_bn(torch.relu(self.dense(self.pool_bn(flat))))
        logits = self.output(penultimate)
        return {
            "taggram": torch.sigmoid(logits),
            "penultimate": penultimate,
            "max_pool": max_pool,
            "mean_pool": mean_pool,
        }


# --------------------------------------------------------------------------- weights
def _conv2d(kernel: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())  # [out, in, t, f]


def _conv1d(kernel: np.ndarray) -> torch.Tensor:
    # TF [7, width, 1, out] over (time, channels-as-width) -> Conv1d [out, width, 7]
    return torch.from_numpy(kernel[:, :, 0, :].transpose(2, 1, 0).copy())


def convert(variables: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map musicnn's TensorFlow variables (``conv2d_3/kernel`` ...) onto the state dict of
    :class:`Musicnn`.  TF names layers by creation order: the input batch norm; the two
    timbral and three temporal front-end blocks; three mid-end convolutions; the back end."""
    state: dict[str, torch.Tensor] = {}

    def bn(target: str, tf_name: str) -> None:
        state[f"{target}.weight"] = torch.from_numpy(variables[f"{tf_name}/gamma"])
        state[f"{target}.bias"] = torch.from_numpy(variables[f"{tf_name}/beta"])
        state[f"{target}.running_mean"] = torch.from_numpy(variables[f"{tf_name}/moving_mean"])
        state[f"{target}.running_var"] = torch.from_numpy(variables[f"{tf_name}/moving_variance"])
        state[f"{target}.num_batches_tracked"] = torch.tensor(0)

    def suffix(i: int) -> str:
        return "" if i == 0 else f"_{i}"

    bn("input_bn", "batch_normalization")
    front = [name for name, _ in Musicnn.TIMBRAL] + [name for name, _ in Musicnn.TEMPORAL]
    for i, name in enumerate(front):
        state[f"front.{name}.weight"] = _conv2d(variables[f"conv2d{suffix(i)}/kernel"])
        state[f"front.{name}.bias"] = torch.from_numpy(variables[f"conv2d{suffix(i)}/bias"])
        bn(f"front_bn.{name}", f"batch_normalization_{i + 1}")
    for j in range(3):
        conv = f"conv2d_{len(front) + j}"
        state[f"mid.{j}.weight"] = _conv1d(variables[f"{conv}/kernel"])
        state[f"mid.{j}.bias"] = torch.from_numpy(variables[f"{conv}/bias"])
        bn(f"mid_bn.{j}", f"batch_normalization_{len(front) + 1 + j}")
    bn("pool_bn", "batch_normalization_9")
    state["dense.weight"] = torch.from_numpy(variables["dense/kernel"].T.copy())
    state["dense.bias"] = torch.from_numpy(variables["dense/bias"])
    bn("dense_bn", "batch_normalization_10")
    state["output.weight"] = torch.from_numpy(variables["dense_1/kernel"].T.copy())
    state["output.bias"] = torch.from_numpy(variables["dense_1/bias"])
    return state


@lru_cache(maxsize=2)
def load_musicnn(name: str = "MSD_musicnn") -> Musicnn:
    """The converted, pretrained network in eval mode (once per process)."""
    from genrebench_lukashevich2023.tf_checkpoint import CheckpointError, read_checkpoint

    prefix = find_musicnn_checkpoint(name)
    try:
        variables = read_checkpoint(str(prefix) + "/")
        net = Musicnn()
        net.load_state_dict(convert(variables))
    except (CheckpointError, KeyError, RuntimeError) as exc:
        raise ConfigError(f"cannot convert the musicnn checkpoint {prefix}: {exc}") from exc
    return net.eval()


@torch.no_grad()
def embed(
    audio: np.ndarray,
    *,
    checkpoint: str = "MSD_musicnn",
    layer: str = "penultimate",
    hop_frames: int = PATCH_FRAMES,
    batch_size: int = 16,
) -> np.ndarray:
    """``(dims, n_patches)`` activations of ``layer`` for 3 s patches every ``hop_frames``
    frames of 16 kHz ``audio`` (time on the last axis, as the core expects)."""
    if layer not in LAYERS:
        raise ConfigError(f"unknown musicnn layer {layer!r}; expected one of {sorted(LAYERS)}")
    net = load_musicnn(checkpoint)
    x = torch.from_numpy(patches(logmel(audio), hop_frames))
    out = [net(x[i : i + batch_size])[layer] for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy().T.astype(np.float32)
