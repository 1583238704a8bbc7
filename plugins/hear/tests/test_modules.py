"""Registration from the modules the user names: the environment variable, the config
file and the per-module weights variable; the model's facts learnt once and remembered;
the cache key following the module's version and weights; a module that cannot run is
registered with its reason; no weights where a module needs them, no row."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from genrebench_hear import embed, modules
from genrebench_hear.modules import HearConfigError

from genrebench.errors import ConfigError
from genrebench.registry.loading import load_plugins


def registry():
    found = load_plugins()
    assert "hear" not in found.failed, found.failed.get("hear")
    return found


def hear_features(found) -> dict:
    return {n: found.get("features", n) for n in found.names("features") if n.startswith("hear/")}


def test_modules_named_in_the_environment_become_features_and_experiments(monkeypatch):
    monkeypatch.setenv("GENREBENCH_HEAR_MODULES", "hear_toy")
    found = registry()
    feature = found.get("features", "hear/hear_toy")
    assert feature.sample_rate == 16000  # the model's own, learnt by loading it
    assert feature.frames_per_second is None  # one vector per track
    assert feature.params["module"] == "hear_toy"
    assert feature.params["module_version"].startswith("source sha256:")  # not in a distribution
    assert feature.params["weights_sha256"] == "none"
    assert feature.params["embedding"] == "scene"
    experiment = found.get("experiments", "hear/hear_toy-mlp")
    assert (experiment.feature, experiment.model) == ("hear/hear_toy", "hear/mlp-probe")
    assert set(experiment.tasks) == {"single-label", "multi-label"}
    assert experiment.requires_weights == ""
    assert found.plugin_of("experiments", "hear/hear_toy-mlp") == "hear"
    assert "hear/hearbaseline.naive-mlp" not in found.names("experiments")  # the list replaces
    audio = np.random.default_rng(0).uniform(-1, 1, 16000).astype(np.float32)
    vector = feature.extract(audio, 16000)
    import hear_toy

    model = hear_toy.load_model()
    expected = hear_toy.get_scene_embeddings(torch.from_numpy(audio)[None], model)[0].numpy()
    assert vector.dtype == np.float32 and vector.shape == (8,)
    np.testing.assert_allclose(vector, expected, rtol=1e-6)


def test_the_models_facts_are_learnt_once_and_remembered(monkeypatch, tmp_path):
    monkeypatch.setenv("GENREBENCH_HEAR_MODULES", "hear_toy")
    registry()
    facts = json.loads((tmp_path / "cache" / "hear" / "models.json").read_text())
    [(key, value)] = [(k, v) for k, v in facts.items() if not k.startswith("digest:")]
    assert json.loads(key)[0] == "hear_toy"
    assert value == {"sample_rate": 16000, "scene_embedding_size": 8, "timestamp_embedding_size": 8}

    def refuse(entry):
        raise AssertionError("the model was loaded again to learn its facts")

    monkeypatch.setattr(embed, "describe_model", refuse)
    assert registry().get("features", "hear/hear_toy").sample_rate == 16000


def test_default_modules_are_the_installed_ones(monkeypatch):
    defaults = {"hear_toy": (), "not_installed_module": (), "hear_toy_weights": ("nowhere",)}
    monkeypatch.setattr(modules, "DEFAULT_MODULES", defaults)
    assert [e.module for e in modules.read_entries({})] == ["hear_toy"]
    assert modules.read_entries({"GENREBENCH_HEAR_MODULES": ""}) == []


@pytest.mark.skipif(
    not modules._importable("hearbaseline.naive"), reason="hearbaseline is not installed"
)
def test_hearbaseline_naive_is_registered_by_default_with_its_version():
    found = registry()
    feature = found.get("features", "hear/hearbaseline.naive")
    version = importlib.metadata.version("hearbaseline")
    assert feature.params["module_version"] == f"hearbaseline {version}"
    assert feature.params["compat"] == ["librosa.filters.mel(sr) positional"]
    assert feature.sample_rate == 44100
    assert "hear/hearbaseline.naive-mlp" in found.names("experiments")


def test_a_config_file_names_modules_with_options(monkeypatch, tmp_path):
    torch.save({"gain": torch.full((8,), 2.0)}, tmp_path / "gain.pt")
    config = tmp_path / "conf" / "hear.toml"
    config.parent.mkdir()
    config.write_text(
        """
[[module]]
module = "hear_toy"
name = "toy-timestamps"
embedding = "timestamp-mean"
weights = "../gain.pt"
sample_rate = 16000
"""
    )
    monkeypatch.setenv("GENREBENCH_HEAR_CONFIG", str(config))
    monkeypatch.setenv("GENREBENCH_HEAR_MODULES", "hear_toy")
    found = registry()
    assert {"hear/hear_toy", "hear/toy-timestamps"} <= set(hear_features(found))
    feature = found.get("features", "hear/toy-timestamps")
    assert feature.params["embedding"] == "timestamp-mean"
    assert feature.params["weights_sha256"] == modules.file_digest(tmp_path / "gain.pt")
    plain = found.get("features", "hear/hear_toy")
    audio = np.random.default_rng(1).uniform(-1, 1, 8000).astype(np.float32)
    # log(2 x energy) = log(energy) + log 2 in every band (up to the 1e-6 floor)
    np.testing.assert_allclose(
        feature.extract(audio, 16000), plain.extract(audio, 16000) + np.log(2.0), atol=1e-3
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[module]]\nname = "x"\n', "'module' (the import name) is required"),
        ('[[module]]\nmodule = "hear_toy"\ncolour = 1\n', "unknown keys ['colour']"),
        ('[[module]]\nmodule = "hear_toy"\nembedding = "frames"\n', "embedding must be one of"),
        ('[[module]]\nmodule = "hear_toy"\nsample_rate = 8000\n', "sample_rate must be one of"),
        ('[[module]]\nmodule = "no such"\n', "'no such' is not an importable module name"),
        ("module = 3\n", "expected only [[module]] tables"),
        ("[[module]\n", "cannot read it"),
    ],
)
def test_a_bad_config_file_is_refused_naming_file_and_problem(text, message, tmp_path):
    path = tmp_path / "hear.toml"
    path.write_text(text)
    with pytest.raises(HearConfigError) as info:
        modules.read_entries({"GENREBENCH_HEAR_CONFIG": str(path)})
    assert str(path) in str(info.value) and message in str(info.value)


def test_the_cache_key_follows_the_weights_file(monkeypatch, tmp_path):
    monkeypatch.setenv("GENREBENCH_HEAR_MODULES", "hear_toy")
    before = registry().get("features", "hear/hear_toy").params
    torch.save({"gain": torch.full((8,), 3.0)}, tmp_path / "w.pt")
    monkeypatch.setenv("GENREBENCH_HEAR_WEIGHTS_HEAR_TOY", str(tmp_path / "w.pt"))
    after = registry().get("features", "hear/hear_toy").params
    assert before["weights_sha256"] == "none" != after["weights_sha256"]
    assert before["module_version"] == after["module_version"]


def test_no_weights_where_a_module_needs_them_means_no_row_and_names_the_setting(
    monkeypatch, tmp_path
):
    config = tmp_path / "hear.toml"
    config.write_text('[[module]]\nmodule = "hear_toy_weights"\nneeds_weights = true\n')
    monkeypatch.setenv("GENREBENCH_HEAR_CONFIG", str(config))
    found = registry()
    experiment = found.get("experiments", "hear/hear_toy_weights-mlp")
    assert "GENREBENCH_HEAR_WEIGHTS_HEAR_TOY_WEIGHTS=FILE" in experiment.requires_weights
    feature = found.get("features", "hear/hear_toy_weights")
    with pytest.raises(ConfigError, match="needs a weights file: give hear_toy_weights"):
        feature.extract(np.zeros(16000, np.float32), feature.sample_rate)
    # A weights file that is not there is named.
    monkeypatch.setenv("GENREBENCH_HEAR_WEIGHTS_HEAR_TOY_WEIGHTS", str(tmp_path / "gain.pt"))
    feature = registry().get("features", "hear/hear_toy_weights")
    with pytest.raises(ConfigError, match="does not exist") as info:
        feature.extract(np.zeros(16000, np.float32), feature.sample_rate)
    assert f"weights file {tmp_path / 'gain.pt'} (from GENREBENCH_HEAR_WEIGHTS" in str(info.value)
    # Given, it runs.
    torch.save({"gain": torch.ones(8)}, tmp_path / "gain.pt")
    found = registry()
    assert found.get("experiments", "hear/hear_toy_weights-mlp").requires_weights == ""
    feature = found.get("features", "hear/hear_toy_weights")
    assert feature.extract(np.zeros(16000, np.float32), 16000).shape == (8,)


def test_a_module_that_cannot_run_is_registered_with_its_reason(monkeypatch):
    monkeypatch.setenv("GENREBENCH_HEAR_MODULES", "hear_toy_weights, not_installed.model")
    found = registry()
    failing = found.get("features", "hear/hear_toy_weights")
    # load_model() without weights raised: the reason, and where the weights would go
    with pytest.raises(
        ConfigError, match=r"hear_toy_weights\.load_model failed \(FileNotFoundError"
    ):
        failing.extract(np.zeros(16000, np.float32), failing.sample_rate)
    missing = found.get("features", "hear/not_installed.model")
    with pytest.raises(ConfigError, match=r"'not_installed\.model' cannot be found"):
        missing.extract(np.zeros(16000, np.float32), missing.sample_rate)


def test_an_api_breach_at_extraction_stops_the_feature_and_a_bad_track_only_its_track(
    monkeypatch,
):
    import hear_toy

    monkeypatch.setenv("GENREBENCH_HEAR_MODULES", "hear_toy")
    feature = registry().get("features", "hear/hear_toy")
    monkeypatch.setattr(hear_toy, "get_scene_embeddings", lambda audio, model: torch.zeros(1, 5))
    with pytest.raises(ConfigError, match="returned shape \\(1, 5\\)"):
        feature.extract(np.zeros(16000, np.float32), 16000)
    nan = torch.full((1, 8), float("nan"))
    monkeypatch.setattr(hear_toy, "get_scene_embeddings", lambda audio, model: nan)
    with pytest.raises(ValueError, match="non-finite") as info:
        feature.extract(np.zeros(16000, np.float32), 16000)
    assert not isinstance(info.value, ConfigError)


def test_registration_with_known_facts_imports_neither_torch_nor_the_modules(monkeypatch):
    """``genrebench list`` and every extraction worker register the plugin: once a model's
    facts are known, that costs no import of torch or of the module (hearbaseline's
    package imports torch and librosa)."""
    named = ["hear_toy"] + (["hearbaseline.naive"] if modules._importable("hearbaseline") else [])
    monkeypatch.setenv("GENREBENCH_HEAR_MODULES", ",".join(named))
    assert all(not e.problem for e in registry_entries())  # learns the facts
    code = (
        "import sys; from genrebench_hear import plugin; found = plugin.entries(); "
        "print([e.facts['sample_rate'] for e in found], "
        "sorted(m for m in ('torch', 'librosa', 'hear_toy', 'hearbaseline') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rates = [16000] + ([44100] if len(named) > 1 else [])
    assert done.stdout.strip() == f"{rates} []"


def registry_entries():
    from genrebench_hear import plugin

    return plugin.entries()


def test_the_device_setting(monkeypatch):
    monkeypatch.setenv("GENREBENCH_HEAR_DEVICE", "cpu")
    assert embed.device() == "cpu"
    monkeypatch.setenv("GENREBENCH_HEAR_DEVICE", "gpu")
    with pytest.raises(ConfigError, match="must be cpu or cuda, got 'gpu'"):
        embed.device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("GENREBENCH_HEAR_DEVICE", "cuda")
        with pytest.raises(ConfigError, match="sees no CUDA device"):
            embed.device()
