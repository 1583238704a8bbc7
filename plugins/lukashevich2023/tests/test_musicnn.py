"""The musicnn port: the TensorFlow checkpoint reader, the conversion, and the converted
network against the shipped model's own outputs (``tests/data/musicnn_reference.npz``,
made once with TensorFlow by ``scripts/make_musicnn_reference.py``).

Stated tolerances: the log-mel patches within 2e-3 (musicnn takes the log in float16,
we in float32 after the same float16 quantisation), the taggram within 1e-5 and the
penultimate layer within 1e-4 (float32 convolutions in another order)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from genrebench_lukashevich2023 import musicnn, weights
from genrebench_lukashevich2023.tf_checkpoint import CheckpointError, read_checkpoint

from genrebench.errors import ConfigError

HERE = Path(__file__).parent
FIXTURE = HERE / "data" / "musicnn_reference.npz"
SCRIPT = HERE.parent / "scripts" / "make_musicnn_reference.py"


def _installed() -> bool:
    try:
        weights.find_musicnn_checkpoint("MSD_musicnn")
    except ConfigError:
        return False
    return True


needs_musicnn = pytest.mark.skipif(
    not _installed(), reason="musicnn wheel not installed (pip install --no-deps musicnn==0.1.0)"
)


def _reference_clip() -> np.ndarray:
    spec = importlib.util.spec_from_file_location("make_musicnn_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference_clip()


def test_logmel_patches_match_musicnns_own():
    ref = np.load(FIXTURE)
    mel = musicnn.logmel(_reference_clip())
    assert mel.shape == (438, 96)  # 7 s at 16 kHz, hop 256, centred
    x = musicnn.patches(mel, hop_frames=61)  # musicnn's 1 s overlap setting
    assert x.shape == ref["patches"].shape == (5, 187, 96)
    np.testing.assert_allclose(x, ref["patches"], atol=2e-3, rtol=0)
    assert musicnn.patches(mel).shape == (2, 187, 96)  # default: non-overlapping 3 s
    assert musicnn.patches(mel[:50]).shape == (1, 187, 96)  # short: padded to one patch


@needs_musicnn
def test_checkpoint_reader_reads_every_variable():
    variables = read_checkpoint(str(weights.find_musicnn_checkpoint("MSD_musicnn")) + "/")
    model_vars = {k: v for k, v in variables.items() if "Adam" not in k and "power" not in k}
    assert len(model_vars) == 64  # 11 batch norms x 4 + 8 convs x 2 + 2 dense x 2
    assert variables["conv2d/kernel"].shape == (7, 38, 1, 204)  # timbral 7 x 0.4*96
    assert variables["conv2d_5/kernel"].shape == (7, 561, 1, 64)  # mid-end over 561 maps
    assert variables["dense/kernel"].shape == (1506, 200)
    assert variables["dense_1/kernel"].shape == (200, 50)
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in model_vars.values())


@needs_musicnn
@pytest.mark.parametrize("name", ["MSD_musicnn", "MTT_musicnn"])
def test_converted_network_reproduces_the_shipped_model(name):
    ref = np.load(FIXTURE)
    net = musicnn.load_musicnn(name)
    with torch.no_grad():
        out = net(torch.from_numpy(ref["patches"]))
    np.testing.assert_allclose(out["taggram"].numpy(), ref[f"{name}/taggram"], atol=1e-5)
    np.testing.assert_allclose(out["penultimate"].numpy(), ref[f"{name}/penultimate"], atol=1e-4)
    np.testing.assert_allclose(out["mean_pool"].numpy(), ref[f"{name}/mean_pool"], atol=1e-4)
    np.testing.assert_allclose(
        out["max_pool"].numpy(), ref[f"{name}/max_pool"], rtol=1e-5, atol=1e-3
    )
    # and the taggram means something: not constant over the clip's patches
    assert ref[f"{name}/taggram"].std(axis=0).max() > 1e-3


@needs_musicnn
def test_embedding_feature_shape():
    e = musicnn.embed(_reference_clip())
    assert e.shape == (200, 2) and e.dtype == np.float32  # two 3 s patches of 7 s
    assert musicnn.embed(_reference_clip(), layer="taggram", hop_frames=61).shape == (50, 5)
    with pytest.raises(ConfigError, match="unknown musicnn layer"):
        musicnn.embed(_reference_clip(), layer="cnn9")


def test_missing_checkpoint_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.MUSICNN_ENV_DIR, str(tmp_path))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install --no-deps musicnn==0\.1\.0"):
        weights.find_musicnn_checkpoint("MSD_musicnn")
    with pytest.raises(ConfigError, match="unknown musicnn checkpoint"):
        weights.find_musicnn_checkpoint("MSD_vgg_big")


def test_musicnn_dir_variable_is_honoured(tmp_path, monkeypatch):
    (tmp_path / "MSD_musicnn").mkdir()
    (tmp_path / "MSD_musicnn" / ".index").write_bytes(b"")
    monkeypatch.setenv(weights.MUSICNN_ENV_DIR, str(tmp_path))
    assert weights.find_musicnn_checkpoint() == tmp_path / "MSD_musicnn"


def test_reader_refuses_what_is_not_a_checkpoint(tmp_path):
    (tmp_path / "x.index").write_bytes(os.urandom(100))
    with pytest.raises(CheckpointError, match="bad magic"):
        read_checkpoint(tmp_path / "x")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_checkpoint(tmp_path / "missing")
