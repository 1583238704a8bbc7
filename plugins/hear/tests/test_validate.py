"""The HEAR API's rules as hearvalidator states them: a module that follows them passes,
one that breaks any of them is refused naming the rule; hearbaseline's naive model passes
(with the librosa shim it needs, and fails without it)."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from genrebench_hear import compat, validate
from genrebench_hear.validate import HearAPIError


def test_the_tests_module_follows_the_api():
    notes = validate.validate("hear_toy")
    # hearvalidator's advice only: the last 25 ms frame of 1.07 s ends before the audio does
    assert notes == ["1.07 s: timestamps end at 1012.5 ms of 1070.0 ms"]
    assert validate.main(["hear_toy"]) == 0


def broken(name: str, replace: dict) -> types.ModuleType:
    """A copy of hear_toy with some functions or model attributes replaced."""
    import hear_toy

    module = types.ModuleType(name)
    public = {k: getattr(hear_toy, k) for k in dir(hear_toy) if not k.startswith("__")}
    module.__dict__.update(public)
    attributes = {k: v for k, v in replace.items() if k.endswith(("_size", "_rate"))}
    functions = {k: v for k, v in replace.items() if k not in attributes}

    def load_model(model_file_path=""):
        model = hear_toy.load_model(model_file_path)
        for key, value in attributes.items():
            setattr(model, key, value)
        return model

    module.load_model = load_model
    module.__dict__.update(functions)
    return module


def scene_float64(audio, model):
    import hear_toy

    return hear_toy.get_scene_embeddings(audio, model).double()


def scene_flat(audio, model):
    import hear_toy

    return hear_toy.get_scene_embeddings(audio, model).reshape(-1)


def timestamps_irregular(audio, model):
    import hear_toy

    embeddings, timestamps = hear_toy.get_timestamp_embeddings(audio, model)
    timestamps = timestamps.clone()
    timestamps[:, -1] += 5.0
    return embeddings, timestamps


def timestamps_past_the_end(audio, model):
    import hear_toy

    embeddings, timestamps = hear_toy.get_timestamp_embeddings(audio, model)
    return embeddings, timestamps + 2000.0


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ({"sample_rate": 8000}, "sample_rate 8000 is not one of"),
        ({"scene_embedding_size": 8.0}, "scene_embedding_size as an int"),
        ({"timestamp_embedding_size": 9}, "timestamp_embedding_size = 9"),
        ({"get_scene_embeddings": scene_float64}, "must be float32, got torch.float64"),
        ({"get_scene_embeddings": scene_flat}, "expected (n_sounds, scene_embedding_size)"),
        ({"get_timestamp_embeddings": timestamps_irregular}, "timestamps must be regular"),
        ({"get_timestamp_embeddings": timestamps_past_the_end}, "after the end of the audio"),
        ({"get_scene_embeddings": None}, "must include a function get_scene_embeddings()"),
    ],
)
def test_a_module_breaking_a_rule_is_refused_naming_it(replace, message, monkeypatch, capsys):
    name = "hear_toy_broken"
    monkeypatch.setitem(sys.modules, name, broken(name, replace))
    with pytest.raises(HearAPIError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate.validate(name)
    assert validate.main([name]) == 1
    assert message in capsys.readouterr().err


def test_hearbaseline_naive_needs_the_librosa_shim_and_then_follows_the_api():
    naive = pytest.importorskip(
        "hearbaseline.naive",
        reason="hearbaseline is not installed (pip install --no-deps hearbaseline==2021.1.1)",
    )
    # librosa >= 0.10 takes the sample rate of filters.mel by keyword only.
    with pytest.raises(TypeError, match="positional"):
        naive.load_model()
    assert compat.shims_of("hearbaseline.naive") == ("librosa.filters.mel(sr) positional",)
    with compat.shims_for("hearbaseline.naive"):
        model = naive.load_model()
    import librosa

    expected = librosa.filters.mel(sr=44100, n_fft=4096, n_mels=256)
    assert torch.equal(model.mel_scale, torch.tensor(expected))  # the same filter bank
    assert validate.validate("hearbaseline.naive") == []
    with pytest.raises(TypeError):  # the shim is gone again
        naive.load_model()
