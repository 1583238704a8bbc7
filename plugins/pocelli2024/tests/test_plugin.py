"""Entry-point discovery and the registered specs."""

from __future__ import annotations

import importlib.metadata

import pytest
from genrebench_pocelli2024 import plugin

from genrebench.plugins import load_plugins

EXPERIMENTS = ["pocelli2024/unet", "pocelli2024/unet-augment"]


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def test_entry_point_is_declared():
    eps = importlib.metadata.entry_points(group="genrebench")
    assert "genrebench_pocelli2024.plugin" in {ep.value for ep in eps if ep.name == "pocelli2024"}


def test_discovered_through_the_entry_point(registry):
    assert "pocelli2024" not in registry.failed
    names = {n for n in registry.names("experiments") if n.startswith("pocelli2024/")}
    assert names == set(EXPERIMENTS)
    for name in EXPERIMENTS:
        assert registry.plugin_of("experiments", name) == "pocelli2024"
    assert "pocelli2024/logmel-256" in registry.names("features")
    assert "pocelli2024/unet-parallel" in registry.names("models")


def test_protocol(registry):
    for name in EXPERIMENTS:
        spec = registry.get("experiments", name)
        feature = registry.get("features", spec.feature)
        registry.get("models", spec.model)
        assert feature.frames_per_second == pytest.approx(22050 / 512)
        assert (spec.segments.length_frames, spec.segments.train_count) == (256, 5)
        assert spec.segments.test_count == 5 and spec.segments.placement == "even"
        assert spec.split.scheme == "stratified"
        assert dict(spec.split.ratios) == {"train": 0.7, "valid": 0.1, "test": 0.2}
        assert spec.aggregation == "mean" and spec.extra_aggregations == ("vote",)
        assert set(spec.profiles) == {"quick", "paper", "paper-narrow"}
        assert spec.profiles["paper"] == {"epochs": 25, "patience": 5}
        narrow = {"epochs": 25, "patience": 5, "num_filters": 128, "input_pool": 2}
        assert spec.profiles["paper-narrow"] == narrow
        quick = spec.profiles["quick"]
        # quick: a resized network (labelled as such) that learns on the embedded data
        assert (quick["num_filters"], quick["input_pool"], quick["epochs"]) == (64, 4, 8)
        assert quick["max_train_tracks"] == 140 and "max_test_tracks" not in quick
        assert quick["threads"] == 1 and "RESIZED" in spec.description
        assert spec.paper and spec.reported
        raw = [r for r in spec.reported if r.metric == "accuracy_raw"]
        assert [r.value for r in raw] == [0.667, 0.994]
        assert all(r.dataset == "gtzan" for r in spec.reported)
    plain = registry.get("experiments", "pocelli2024/unet")
    augmented = registry.get("experiments", "pocelli2024/unet-augment")
    assert "augment" not in plain.model_params
    assert augmented.model_params["augment"] == {
        "noise": 0.05,
        "time_shift": 0.1,
        "time_mask": 25,
        "freq_mask": 25,
        "p": 0.5,
    }


def test_plugin_module_does_not_import_torch_eagerly():
    assert "torch" not in vars(plugin)
    assert callable(plugin.create_unet)
