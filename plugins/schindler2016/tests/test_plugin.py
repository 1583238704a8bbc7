"""Entry-point discovery and the registered specs."""

from __future__ import annotations

import importlib.metadata

import pytest
from genrebench_schindler2016 import plugin

from genrebench import testing

TABLE_ROWS = [
    f"schindler2016/{arch}{variant}"
    for arch in ("shallow", "deep")
    for variant in ("", "-exp", "-cqt", "-cqt-exp")
]
EXTRA = [
    "schindler2016/shallow-cqt84-exp",
    "schindler2016/deep-cqt84-exp",
    "schindler2016/shallow-relu",
    "schindler2016/deep-relu",
]
REPORT_CODE = ["schindler2016/shallow-report-code", "schindler2016/deep-report-code"]


@pytest.fixture(scope="module")
def registry():
    return testing.load_registry("schindler2016")


def test_entry_point_is_declared():
    eps = importlib.metadata.entry_points(group="genrebench")
    assert "genrebench_schindler2016.plugin" in {
        ep.value for ep in eps if ep.name == "schindler2016"
    }


def test_discovered_through_the_entry_point(registry):
    registered = testing.check_registrations(registry, "schindler2016")
    assert set(registered["experiments"]) == set(TABLE_ROWS + EXTRA + REPORT_CODE)
    names = set(registry.names("experiments"))
    assert set(TABLE_ROWS + EXTRA + REPORT_CODE) <= names
    assert {n for n in names if n.startswith("schindler2016/")} == set(
        TABLE_ROWS + EXTRA + REPORT_CODE
    )
    for name in TABLE_ROWS + EXTRA + REPORT_CODE:
        assert registry.plugin_of("experiments", name) == "schindler2016"
    assert {
        "schindler2016/logmel-80",
        "schindler2016/logmel-80-report",
        "schindler2016/cqt-80",
        "schindler2016/cqt-84",
    } <= set(registry.names("features"))
    assert {"schindler2016/shallow-cnn", "schindler2016/deep-cnn"} <= set(registry.names("models"))


def test_experiments_reference_registered_features_and_models(registry):
    for name in TABLE_ROWS + EXTRA + REPORT_CODE:
        spec = registry.get("experiments", name)
        registry.get("features", spec.feature)
        registry.get("models", spec.model)
        assert spec.tasks == ("single-label",)
        assert spec.segments.length_frames == 80
        assert (spec.segments.train_count, spec.segments.test_count) == (15, 15)
        assert spec.segments.placement == "random"
        assert spec.split.scheme == "stratified"
        assert dict(spec.split.ratios) == {"train": 0.75, "test": 0.25}
        if name in REPORT_CODE:  # summed logits; the vote and summed probabilities beside
            assert spec.aggregation == "geometric"
            assert spec.extra_aggregations == ("vote", "mean")
        else:
            assert spec.aggregation == "mean" and spec.extra_aggregations == ("vote",)
        assert set(spec.profiles) == {"quick", "paper", "paper-200ep"}
        assert spec.profiles["paper"] == {"epochs": 100}
        assert spec.profiles["paper-200ep"] == {"epochs": 200}
        assert spec.profiles["quick"]["epochs"] <= 3
        assert spec.paper


def test_protocol_of_each_variant(registry):
    def get(name):
        return registry.get("experiments", f"schindler2016/{name}")

    assert get("shallow").feature == "schindler2016/logmel-80"
    assert get("shallow").model == "schindler2016/shallow-cnn"
    assert get("deep").model == "schindler2016/deep-cnn"
    assert get("deep-cqt").feature == "schindler2016/cqt-80"
    assert get("deep-cqt84-exp").feature == "schindler2016/cqt-84"
    for name in ("shallow", "deep-exp", "shallow-relu"):
        assert get(name).model_params["lr"] == 5e-5
    for name in ("shallow-cqt", "deep-cqt-exp", "deep-cqt84-exp"):
        assert get(name).model_params["lr"] == 3e-5
    assert get("shallow").model_params["lr_schedule"] is None
    assert get("deep-cqt-exp").model_params["lr_schedule"] == "exp"
    assert get("deep-relu").model_params["activation"] == "relu"
    assert "activation" not in get("deep").model_params  # LeakyReLU, the default
    assert all(get(n).model_params["batch_size"] == 15 for n in ("shallow", "deep-cqt"))


def test_report_code_experiments_are_the_reports_code(registry):
    for arch, dense in (("shallow", "none"), ("deep", "same")):
        spec = registry.get("experiments", f"schindler2016/{arch}-report-code")
        assert spec.feature == "schindler2016/logmel-80-report"
        assert spec.model == f"schindler2016/{arch}-cnn"
        params = spec.model_params
        assert params["activation"] == "relu" and params["conv_bias"] is False
        assert params["l1"] == 1e-4 and params["standardize"] is None
        assert params["dense_activation"] == dense
        assert params["lr"] == 5e-5 and params["lr_schedule"] is None
        assert params["batch_size"] == 15
    for name in ("shallow-relu", "deep-relu"):  # only the activation, and it says so
        spec = registry.get("experiments", f"schindler2016/{name}")
        assert set(spec.model_params) == {"lr", "batch_size", "lr_schedule", "activation"}
        assert "-report-code" in spec.description


def test_features_declare_frame_rate_and_rate(registry):
    for name in (
        "schindler2016/logmel-80",
        "schindler2016/logmel-80-report",
        "schindler2016/cqt-80",
        "schindler2016/cqt-84",
    ):
        spec = registry.get("features", name)
        assert spec.sample_rate == 22050
        assert spec.frames_per_second == pytest.approx(22050 / 256)
        assert spec.params["hop_length"] == 256


def test_plugin_module_does_not_import_torch_eagerly():
    # the factories import torch lazily, so listing plugins stays fast
    assert "torch" not in vars(plugin)
    assert callable(plugin.create_shallow) and callable(plugin.create_deep)
