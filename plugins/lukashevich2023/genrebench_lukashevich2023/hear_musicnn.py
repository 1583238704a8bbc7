"""musicnn ``MSD_musicnn`` (this plugin's PyTorch port, with the checkpoint the musicnn
wheel ships) behind the HEAR 2021 API, so that HEAR tools -- hear-eval-kit, or
genrebench-hear's ``hear/<module>`` features -- can use it:
``GENREBENCH_HEAR_MODULES=genrebench_lukashevich2023.hear_musicnn``.

* ``load_model(model_file_path="")``: the converted network; ``model_file_path``, if
  given, is a musicnn checkpoint folder (the ``MSD_musicnn`` folder of the wheel, holding
  ``.index``), else the installed wheel's (or ``$GENREBENCH_MUSICNN_DIR``'s) is used.
* ``get_timestamp_embeddings``: the 200-d ``penultimate`` layer for 3 s patches (187
  frames of 256 samples at 16 kHz) every 3 s -- musicnn's own patching, the
  ``lukashevich2023/musicnn`` feature's --, at the patches' centres; a sound shorter than
  a patch is padded with silence first (as musicnn does), and its one timestamp is the
  sound's end when the patch's centre lies beyond it.
* ``get_scene_embeddings``: the mean of the timestamp embeddings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from genrebench_lukashevich2023.weights import MUSICNN_HOP as HOP
from genrebench_lukashevich2023.weights import MUSICNN_PATCH_FRAMES as PATCH_FRAMES
from genrebench_lukashevich2023.weights import MUSICNN_SAMPLE_RATE as SAMPLE_RATE

__all__ = ["get_scene_embeddings", "get_timestamp_embeddings", "load_model"]


class MusicnnHear(nn.Module):
    """The HEAR model: the port and the attributes the API asks for."""

    sample_rate = SAMPLE_RATE
    scene_embedding_size = 200
    timestamp_embedding_size = 200

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net


def load_model(model_file_path: str = "") -> MusicnnHear:
    from genrebench_lukashevich2023 import musicnn

    if not model_file_path:
        return MusicnnHear(musicnn.load_musicnn("MSD_musicnn")).eval()
    from genrebench_lukashevich2023.tf_checkpoint import read_checkpoint

    net = musicnn.Musicnn()
    net.load_state_dict(musicnn.convert(read_checkpoint(str(Path(model_file_path)) + "/")))
    return MusicnnHear(net).eval()


def get_timestamp_embeddings(
    audio: torch.Tensor, model: MusicnnHear
) -> tuple[torch.Tensor, torch.Tensor]:
    from genrebench_lukashevich2023 import musicnn

    if audio.ndim != 2:
        raise ValueError("audio must be (n_sounds, n_samples)")
    device = next(model.parameters()).device
    outputs = []
    for sound in audio.detach().cpu().numpy():
        x = torch.from_numpy(musicnn.patches(musicnn.logmel(sound), PATCH_FRAMES)).to(device)
        with torch.no_grad():
            outputs.append(model.net(x)["penultimate"].float())
    n = min(len(o) for o in outputs)  # equal lengths give equal counts
    embeddings = torch.stack([o[:n] for o in outputs])
    centres = (np.arange(n) * PATCH_FRAMES + PATCH_FRAMES / 2) * HOP / SAMPLE_RATE * 1000
    end = 1000 * audio.shape[1] / SAMPLE_RATE
    timestamps = torch.tensor(np.minimum(centres, end), dtype=torch.float32)
    return embeddings, timestamps.expand(len(audio), n).to(device)


def get_scene_embeddings(audio: torch.Tensor, model: MusicnnHear) -> torch.Tensor:
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return embeddings.mean(dim=1)
