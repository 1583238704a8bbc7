"""Discovery through the ``genrebench`` entry point and what the plugin registers."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest

from genrebench import ModelSetup, testing

EXPERIMENTS = {
    "johnson2024/dense": ("johnson2024/dense", "top10", "default"),
    "johnson2024/xgboost": ("johnson2024/xgboost", "top10", "default"),
    "johnson2024/dense-random-split": ("johnson2024/dense", "top10", "stratified"),
    "johnson2024/dense-all-tags": ("johnson2024/dense", "all", "default"),
}


@pytest.fixture(scope="module")
def registry(monkeypatch_module):
    return testing.load_registry("johnson2024")


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.delenv("GENREBENCH_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    mp.delenv("GENREBENCH_PLUGINS", raising=False)
    yield mp
    mp.undo()


def test_entry_point_is_declared():
    eps = importlib.metadata.entry_points(group="genrebench")
    ep = {e.name: e for e in eps}["johnson2024"]
    assert ep.value == "genrebench_johnson2024.plugin"
    assert ep.dist.name == "genrebench-johnson2024"


def test_discovered_through_the_entry_point(registry):
    registered = testing.check_registrations(registry, "johnson2024")
    assert set(EXPERIMENTS) <= set(registered["experiments"])
    assert registry.versions["johnson2024"].startswith("genrebench-johnson2024 ")
    assert registry.plugin_of("features", "johnson2024/summary-498") == "johnson2024"
    assert set(EXPERIMENTS) <= set(registry.names("experiments"))
    assert {"johnson2024/dense", "johnson2024/xgboost"} <= set(registry.names("models"))


def test_not_loaded_when_autoload_is_off():
    registry = testing.load_registry(autoload=False)  # the builtins only
    assert "johnson2024/dense" not in registry.names("experiments")


def test_experiments_bind_what_they_say(registry):
    for name, (model, tags, scheme) in EXPERIMENTS.items():
        exp = registry.get("experiments", name)
        assert exp.feature == "johnson2024/summary-498"
        assert exp.model == model
        assert exp.tasks == ("multi-label",)
        assert exp.dataset_options["tags"] == tags
        assert exp.split.scheme == scheme
        assert exp.segments.length_seconds is None and exp.segments.length_frames is None
        assert set(exp.profiles) == {"quick", "paper"}
        assert exp.paper
        registry.get("models", exp.model)  # the model exists
    random = registry.get("experiments", "johnson2024/dense-random-split").split
    # the paper's roles: "72% training, 18% testing, and 10% validation"
    assert dict(random.ratios) == {"train": 0.72, "test": 0.18, "valid": 0.10}
    assert registry.get("experiments", "johnson2024/dense").dataset_options == {
        "tags": "top10",
        "outside_tags": "drop",
    }


def test_paper_profile_is_the_papers_budget(registry):
    paper = registry.get("experiments", "johnson2024/dense").profiles["paper"]
    assert paper["epochs"] == 64 and paper["patience"] == 10 and paper["batch_size"] == 32
    assert paper["lr"] == 1e-4
    assert "max_train_tracks" not in paper
    quick = registry.get("experiments", "johnson2024/dense").profiles["quick"]
    assert quick["max_train_tracks"] == 350 and quick["max_test_tracks"] == 75
    # the validation part is capped too (early stopping on 75 tracks, as in the paper's run)
    assert quick["max_valid_tracks"] == 75
    for name in EXPERIMENTS:
        quick = registry.get("experiments", name).profiles["quick"]
        caps = {k for k in quick if k.startswith("max_") and k.endswith("_tracks")}
        assert caps == {"max_train_tracks", "max_valid_tracks", "max_test_tracks"}, name
    assert quick["epochs"] <= 30


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_models_build_from_the_registry(registry, name):
    exp = registry.get("experiments", name)
    model_spec = registry.get("models", exp.model)
    s = ModelSetup(
        task="multi-label",
        classes=["a", "b", "c"],
        input_shape=(498,),
        seed=0,
        device="cpu",
        params=exp.model_params,
        budget={**exp.profiles["quick"], "epochs": 2, "n_estimators": 3},
    )
    model = model_spec.create(s)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 498)).astype(np.float32)
    y = (rng.random((40, 3)) < 0.4).astype(np.int64)
    model.fit(x[:30], y[:30], x[30:], y[30:])
    p = model.predict_proba(x[30:])
    assert p.shape == (10, 3) and np.all((p >= 0) & (p <= 1))
    assert model.n_parameters() >= 0
