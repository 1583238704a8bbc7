"""Wav2Vec2 weights that do not fit (issue 21, item 15): another model's state dict with a
valid config.json, another size's weights, an empty, text or Git LFS pointer weight file
are refused when the encoder is built, before any training, with a message naming the
file; checkpoints of the pretraining or CTC models (extra heads) still load."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch
from genrebench_yan2023 import wav2vec2 as W
from genrebench_yan2023.weights import ENV

from genrebench import ModelSetup
from genrebench.errors import ConfigError

transformers = pytest.importorskip("transformers")
CLASSES = ["a", "b", "c"]


def _tiny_config_function():
    """``tiny_config`` of this folder's conftest.py (a plain import would find the core
    tests' conftest when both folders are collected)."""
    spec = importlib.util.spec_from_file_location(
        "yan2023_tests_conftest", Path(__file__).with_name("conftest.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.tiny_config


tiny_config = _tiny_config_function()


def setup(params):
    return ModelSetup("single-label", CLASSES, (1600,), 0, "cpu", params, {"epochs": 1})


def folder_with(tmp_path, tiny_checkpoint, name, content):
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(tiny_checkpoint / "config.json", folder)
    target = folder / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        torch.save(content, target)
    return folder


def test_another_models_state_dict_is_refused_naming_the_file(tmp_path, tiny_checkpoint):
    state = {"fc.weight": torch.zeros(3, 3), "fc.bias": torch.zeros(3)}
    folder = folder_with(tmp_path, tiny_checkpoint, "pytorch_model.bin", state)
    with pytest.raises(ConfigError) as info:
        W.create(setup({"base_checkpoint": str(folder)}))  # builds the model: no training
    message = str(info.value)
    assert f"Wav2Vec2 weights {folder / 'pytorch_model.bin'} do not fit" in message
    assert "missing: encoder." in message and "unexpected: fc.bias, fc.weight (2)" in message


def test_another_sizes_weights_are_refused_naming_the_file(tmp_path, tiny_checkpoint):
    wider = tmp_path / "wider"
    transformers.Wav2Vec2Model(tiny_config(hidden_size=24, intermediate_size=48)).save_pretrained(
        wider
    )
    shutil.copy(tiny_checkpoint / "config.json", wider)  # the 16-wide config, 24-wide weights
    with pytest.raises(ConfigError) as info:
        W.load_encoder(wider)
    assert str(wider / "model.safetensors") in str(info.value)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("pytorch_model.bin", b"", "is empty (0 bytes)"),
        ("model.safetensors", b"", "is empty (0 bytes)"),
        ("pytorch_model.bin", b"these are not weights\n" * 100, "is text ('these are not"),
        (
            "pytorch_model.bin",
            b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 377667514\n",
            "is a Git LFS pointer",
        ),
        ("pytorch_model.bin", b"\x80\x04garbled" * 300, "cannot read Wav2Vec2 weights"),
    ],
)
def test_a_weight_file_that_is_no_state_dict_is_named(
    tmp_path, tiny_checkpoint, name, content, says
):
    folder = folder_with(tmp_path, tiny_checkpoint, name, content)
    with pytest.raises(ConfigError) as info:
        W.load_encoder(folder)
    assert str(folder / name) in str(info.value) and says in str(info.value)


@pytest.mark.parametrize("model", ["Wav2Vec2ForPreTraining", "Wav2Vec2ForCTC"])
def test_checkpoints_with_a_pretraining_or_ctc_head_load(tmp_path, tiny_checkpoint, model):
    getattr(transformers, model)(tiny_config(vocab_size=5)).save_pretrained(tmp_path / "c")
    encoder = W.load_encoder(tmp_path / "c")
    assert encoder.config.hidden_size == 16


def test_the_finetuned_biased_main_pair_checks_the_biased_weights_before_training(
    tmp_path, tiny_checkpoint, monkeypatch
):
    state = {"fc.weight": torch.zeros(3, 3)}
    bad = folder_with(tmp_path, tiny_checkpoint, "pytorch_model.bin", state)
    monkeypatch.setenv(ENV["large"], str(tiny_checkpoint))
    monkeypatch.setenv(ENV["base"], str(bad))
    with pytest.raises(ConfigError, match="do not fit"):
        W.create_biased_main(setup({"main_init": "finetuned"}))
