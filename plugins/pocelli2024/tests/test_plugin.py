"""Entry-point discovery and the registered specs."""

from __future__ import annotations

import importlib.metadata

import pytest
from genrebench_pocelli2024 import plugin

from genrebench import testing

EXPERIMENTS = ["pocelli2024/unet", "pocelli2024/unet-augment"]


@pytest.fixture(scope="module")
def registry():
    return testing.load_registry("pocelli2024")


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
        assert set(spec.profiles) == {"quick", "paper", "paper-may29", "paper-narrow"}
        assert spec.profiles["paper"] == {"epochs": 25, "patience": 5}
        may29 = {"dropout": 0.2, "decoder_dropout": False, "weight_decay": 2e-3, "batch_size": 4}
        assert spec.profiles["paper-may29"] == {"epochs": 25, "patience": 5, **may29}
        narrow = {"epochs": 25, "patience": 5, "num_filters": 128, "input_pool": 2}
        assert spec.profiles["paper-narrow"] == narrow
        quick = spec.profiles["quick"]
        # quick: a resized network (labelled as such) that learns on the embedded data
        assert (quick["num_filters"], quick["input_pool"], quick["epochs"]) == (64, 4, 8)
        assert quick["max_train_tracks"] == 140 and "max_test_tracks" not in quick
        assert quick["threads"] == 1 and "RESIZED" in spec.description
        assert spec.paper
    plain = registry.get("experiments", "pocelli2024/unet")
    augmented = registry.get("experiments", "pocelli2024/unet-augment")
    # The report's 66.7 % is the augmented run's validation clip accuracy; 99.4 % is the
    # original paper's, of another network: attached to no row.
    assert plain.reported == ()
    [number] = augmented.reported
    assert (number.metric, number.value, number.dataset) == ("valid_accuracy_raw", 0.667, "gtzan")
    assert "augment" not in plain.model_params
    # The notebook's augment_data (cell 10).
    assert augmented.model_params["augment"] == {
        "order": ["noise", "time_shift", "time_mask", "freq_mask"],
        "p": 0.35,
        "noise": 0.1,
        "noise_kind": "uniform",
        "shifts": [-45, -30, -15, 0, 15, 30, 45],
        "roll": "flattened",
        "time_mask": 12,
        "time_masks": 3,
        "time_mask_margin": 12,
        "freq_mask": 20,
        "freq_masks": 2,
        "freq_mask_margin": 10,
        "mask_width": "fixed",
        "mask_value": "min",
    }


def test_network_defaults_are_the_reported_run():
    from genrebench_pocelli2024.networks import MODEL_DEFAULTS, TRAIN_DEFAULTS

    assert MODEL_DEFAULTS == {
        "num_filters": 512,
        "dropout": 0.3,
        "input_pool": 1,
        "decoder_dropout": True,
    }
    assert (TRAIN_DEFAULTS["batch_size"], TRAIN_DEFAULTS["weight_decay"]) == (16, 2e-2)


def test_plugin_module_does_not_import_torch_eagerly():
    assert "torch" not in vars(plugin)
    assert callable(plugin.create_unet)
