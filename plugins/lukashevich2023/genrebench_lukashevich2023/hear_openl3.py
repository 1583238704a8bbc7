"""OpenL3 (this plugin's PyTorch port of torchopenl3) behind the HEAR 2021 API, so that
HEAR tools can use it with user-supplied weights:
``GENREBENCH_HEAR_MODULES=genrebench_lukashevich2023.hear_openl3=/w/torchopenl3_mel256_music_512.pth``.

* ``load_model(model_file_path)``: a torchopenl3 weight file (its input representation,
  ``mel256``, ``mel128`` or ``linear``, read from the file name; ``mel256`` otherwise).
  There is no default: without the file it raises, naming the file to provide -- the port
  never runs with random weights.
* ``get_timestamp_embeddings``: 512-d embeddings of 1 s windows every 100 ms (torchopenl3's
  default hop), centred on their timestamps (half a window of silence before the start,
  as torchopenl3's ``center=True``).
* ``get_scene_embeddings``: the mean of the embeddings of windows every 0.5 s (the hop of
  the ``lukashevich2023/openl3`` feature).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genrebench_lukashevich2023.weights import OPENL3_SAMPLE_RATE as SAMPLE_RATE

__all__ = ["get_scene_embeddings", "get_timestamp_embeddings", "load_model"]
TIMESTAMP_HOP = 0.1
SCENE_HOP = 0.5


class OpenL3Hear(nn.Module):
    sample_rate = SAMPLE_RATE
    scene_embedding_size = 512
    timestamp_embedding_size = 512

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net


def load_model(model_file_path: str = "") -> OpenL3Hear:
    from genrebench_lukashevich2023 import openl3
    from genrebench_lukashevich2023.weights import weights_needed

    found = re.search(r"torchopenl3_(mel256|mel128|linear)_", Path(model_file_path).name)
    input_repr = found.group(1) if found else "mel256"
    if not model_file_path:
        raise FileNotFoundError(f"OpenL3 needs its weights: {weights_needed(input_repr)}")
    return OpenL3Hear(openl3.load_weights(openl3.OpenL3(input_repr), Path(model_file_path)))


def _embed(audio: torch.Tensor, model: OpenL3Hear, hop: float) -> torch.Tensor:
    from genrebench_lukashevich2023 import openl3

    device = next(model.parameters()).device
    outputs = []
    for sound in audio.detach().cpu().numpy():
        windows = torch.from_numpy(openl3.windows(sound, hop)).to(device)
        with torch.no_grad():
            outputs.append(torch.cat([model.net(w) for w in windows.split(32)]).float())
    return torch.stack(outputs)


def get_timestamp_embeddings(
    audio: torch.Tensor, model: OpenL3Hear
) -> tuple[torch.Tensor, torch.Tensor]:
    if audio.ndim != 2:
        raise ValueError("audio must be (n_sounds, n_samples)")
    embeddings = _embed(audio, model, TIMESTAMP_HOP)
    n = embeddings.shape[1]
    # window k is centred on k hops (center=True); none lies beyond the end (hop < 0.5 s)
    timestamps = torch.tensor(np.arange(n) * TIMESTAMP_HOP * 1000, dtype=torch.float32)
    return embeddings, timestamps.expand(len(audio), n).to(embeddings.device)


def get_scene_embeddings(audio: torch.Tensor, model: OpenL3Hear) -> torch.Tensor:
    if audio.ndim != 2:
        raise ValueError("audio must be (n_sounds, n_samples)")
    return _embed(audio, model, SCENE_HOP).mean(dim=1)
