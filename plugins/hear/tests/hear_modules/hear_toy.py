"""A small module implementing the HEAR 2021 API, for the tests: log energies of 8
frequency bands of 25 ms frames every 50 ms (timestamp embeddings), and their mean
(scene embeddings).  ``load_model(path)`` reads a state dict with the band ``gain``."""

from __future__ import annotations

import torch

HOP_MS = 50.0
FRAME_MS = 25.0


class BandEnergies(torch.nn.Module):
    sample_rate = 16000
    scene_embedding_size = 8
    timestamp_embedding_size = 8

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("gain", torch.ones(8))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.rfft(frames * torch.hann_window(frames.shape[-1]), dim=-1).abs() ** 2
        bands = torch.stack([b.sum(-1) for b in torch.tensor_split(spectrum, 8, dim=-1)], -1)
        return torch.log(bands * self.gain + 1e-6)


def load_model(model_file_path: str = "") -> BandEnergies:
    model = BandEnergies()
    if model_file_path:
        model.load_state_dict(torch.load(model_file_path, weights_only=True))
    return model


def get_timestamp_embeddings(audio: torch.Tensor, model: BandEnergies):
    if audio.ndim != 2:
        raise ValueError("audio must be (n_sounds, n_samples)")
    rate = model.sample_rate
    frame, hop = int(rate * FRAME_MS / 1000), rate * HOP_MS / 1000
    n = max(1, int((audio.shape[1] - frame) // hop) + 1)
    padded = torch.nn.functional.pad(audio, (0, max(0, frame - audio.shape[1])))
    starts = [round(k * hop) for k in range(n)]  # no rounding drift: each from k * hop
    frames = torch.stack([padded[:, s : s + frame] for s in starts], dim=1)
    embeddings = model(frames).float()
    centres = torch.tensor([(s + frame / 2) * 1000 / rate for s in starts])
    timestamps = centres.clamp(max=1000 * audio.shape[1] / rate).expand(audio.shape[0], n)
    return embeddings, timestamps


def get_scene_embeddings(audio: torch.Tensor, model: BandEnergies) -> torch.Tensor:
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return embeddings.mean(dim=1)
