"""A tiny randomly initialised Wav2Vec2 saved as a local checkpoint folder, for the tests
only (the experiments never build random weights themselves)."""

from __future__ import annotations

import pytest


def tiny_config(**overrides):
    transformers = pytest.importorskip("transformers")
    settings = dict(
        hidden_size=16,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8, 8),
        conv_stride=(10, 8),
        conv_kernel=(10, 8),
        num_conv_pos_embeddings=4,
        num_conv_pos_embedding_groups=2,
        # No randomness in training mode, so outputs can be compared exactly.
        hidden_dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        feat_proj_dropout=0.0,
        final_dropout=0.0,
        layerdrop=0.0,
        mask_time_prob=0.0,
    )
    settings.update(overrides)
    return transformers.Wav2Vec2Config(**settings)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A folder with config.json and model.safetensors of a 3-layer, 16-wide Wav2Vec2."""
    transformers = pytest.importorskip("transformers")
    import torch

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-wav2vec2")
    transformers.Wav2Vec2Model(tiny_config()).save_pretrained(folder)
    return folder
