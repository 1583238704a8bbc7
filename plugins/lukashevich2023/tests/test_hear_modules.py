"""The musicnn and OpenL3 ports behind the HEAR 2021 API (hear_musicnn, hear_openl3) pass
the API's rules as genrebench-hear checks them (hearvalidator's), and give the embeddings
of the plugin's own features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

validate = pytest.importorskip("genrebench_hear.validate", reason="genrebench-hear not installed")


def test_musicnn_hear_module_follows_the_api_and_matches_the_feature():
    pytest.importorskip("musicnn", reason="musicnn wheel not installed")
    from genrebench_lukashevich2023 import features, hear_musicnn

    assert validate.validate("genrebench_lukashevich2023.hear_musicnn") == []
    model = hear_musicnn.load_model()
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, 16000 * 7).astype(np.float32)
    scene = hear_musicnn.get_scene_embeddings(torch.from_numpy(audio)[None], model)
    expected = features.musicnn_embedding(audio, 16000).mean(axis=1)
    np.testing.assert_allclose(scene[0].numpy(), expected, rtol=1e-5, atol=1e-6)
    embeddings, timestamps = hear_musicnn.get_timestamp_embeddings(
        torch.from_numpy(audio)[None], model
    )
    assert embeddings.shape == (1, 2, 200)  # two whole 3 s patches in 7 s
    np.testing.assert_allclose(timestamps[0].numpy(), [1496.0, 4488.0])


def test_openl3_hear_module_needs_its_weights_file(tmp_path):
    from genrebench_lukashevich2023 import hear_openl3

    with pytest.raises(FileNotFoundError, match=r"torchopenl3_mel256_music_512\.pth"):
        hear_openl3.load_model()


def test_openl3_hear_module_follows_the_api(tmp_path, monkeypatch):
    """The API's rules on short sounds (OpenL3 is slow on a CPU: hearvalidator's whole
    procedure takes minutes here), with a coarser hop than the module's 100 ms."""
    from genrebench_lukashevich2023 import hear_openl3, openl3

    torch.manual_seed(0)  # random weights: this checks shapes and timing, not the embedding
    path = tmp_path / "torchopenl3_mel128_music_512.pth"
    torch.save(openl3.OpenL3("mel128").state_dict(), path)
    model = hear_openl3.load_model(str(path))
    assert model.net.input_repr == "mel128"  # read from the file name
    validate.check_attributes(model, "hear_openl3")
    monkeypatch.setattr(hear_openl3, "TIMESTAMP_HOP", 0.25)
    audio = torch.rand(2, int(48000 * 1.07)) * 2 - 1
    embeddings, timestamps = hear_openl3.get_timestamp_embeddings(audio, model)
    array, _ = validate.check_timestamps(embeddings, timestamps, model, 2, 1.07, "hear_openl3")
    assert array.shape == (2, len(openl3.windows(audio[0].numpy(), 0.25)), 512)
    np.testing.assert_allclose(timestamps[0].numpy(), np.arange(array.shape[1]) * 250.0)
    scene = hear_openl3.get_scene_embeddings(audio[:1], model)
    validate.check_scene(scene, model, 1, "hear_openl3")
