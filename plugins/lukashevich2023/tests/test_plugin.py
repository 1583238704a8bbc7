"""Discovery through the entry point and every experiment's protocol."""

from __future__ import annotations

import pytest
from genrebench_lukashevich2023 import plugin as P

from genrebench import testing


@pytest.fixture(scope="module")
def registry():
    return testing.load_registry("lukashevich2023")


def test_discovered_through_the_entry_point(registry):
    assert {"lukashevich2023/resnet", "lukashevich2023/mlp"} <= set(registry.names("models"))
    names = set(registry.names("experiments"))
    assert {
        "lukashevich2023/resnet",
        "lukashevich2023/openl3-mlp",
        "lukashevich2023/musicnn-mlp",
    } <= names
    for name in names:
        if name.startswith("lukashevich2023/"):
            assert registry.plugin_of("experiments", name) == "lukashevich2023"


def test_resnet_protocol(registry):
    exp = registry.get("experiments", "lukashevich2023/resnet")
    assert exp.feature == P.FEATURE_LOGMEL and exp.model == P.MODEL_RESNET
    assert exp.segments.length_frames == 186 and exp.segments.hop_frames == 62
    assert exp.segments.train_count is None and exp.segments.test_count is None
    assert exp.aggregation == "mean" and exp.tasks == ("single-label",)
    assert exp.split.scheme == "default"  # FMA's official split, with its validation part
    assert exp.reported[0].metric == "accuracy" and exp.reported[0].value == 0.4912
    assert exp.reported[0].dataset == "fma-small" and "Hip-Hop 85" in exp.reported[0].note
    assert exp.profiles["quick"]["width"] == 0.25 and "width" not in exp.profiles["paper"]
    # the quick network is resized (and says so); the test part is never capped
    assert exp.profiles["quick"]["input_pool"] == 3 and "input_pool" not in exp.profiles["paper"]
    assert "RESIZED" in exp.description and "max_test_tracks" not in exp.profiles["quick"]
    feature = registry.get("features", P.FEATURE_LOGMEL)
    assert feature.sample_rate == 44100 and feature.params["hop_length"] == 710


def test_openl3_row_needs_weights_and_says_which(registry):
    exp = registry.get("experiments", "lukashevich2023/openl3-mlp")
    assert "torchopenl3_mel256_music_512.pth" in exp.requires_weights
    assert "GENREBENCH_OPENL3_WEIGHTS" in exp.requires_weights
    assert exp.reported[0].value == 0.536
    feature = registry.get("features", exp.feature)
    assert feature.sample_rate == 48000 and feature.params["embedding_size"] == 512


def test_musicnn_row_is_labelled_a_substitute(registry):
    exp = registry.get("experiments", "lukashevich2023/musicnn-mlp")
    assert exp.description.startswith("SUBSTITUTE for OpenL3")
    assert "MSD_musicnn" in exp.description and "penultimate" in exp.description
    assert exp.reported == ()  # the paper has no musicnn numbers
    assert exp.model == P.MODEL_MLP
    assert exp.segments.length_frames == 1 and exp.segments.train_count is None
    feature = registry.get("features", exp.feature)
    assert feature.sample_rate == 16000
    assert feature.params["layer"] == "penultimate"


def test_fixed_temperature_variants_of_fig_7(registry):
    # The paper divides the network's output logits (per patch) by T, then averages per file:
    # every calibrator of this plugin acts on the segment level.
    for base in ("openl3-mlp", "musicnn-mlp"):
        parent = registry.get("experiments", f"lukashevich2023/{base}")
        assert parent.calibration == "segment-temperature"  # fitted on the validation tracks
        for t in ("1.25", "1.5", "1.75"):
            exp = registry.get("experiments", f"lukashevich2023/{base}-t{t}")
            assert exp.calibration == f"segment-temperature={t}"
            assert (exp.feature, exp.model, exp.segments) == (
                parent.feature,
                parent.model,
                parent.segments,
            )
            assert exp.requires_weights == parent.requires_weights
            assert f"fixed temperature T = {t} on each patch's logits" in exp.description
            assert "fitted on validation" not in exp.description
    resnet = registry.get("experiments", "lukashevich2023/resnet")
    assert resnet.calibration == "segment-temperature"
    assert registry.get("calibrators", "segment-temperature").level == "segment"


def test_mc_dropout_variants(registry):
    for base in ("resnet", "openl3-mlp", "musicnn-mlp"):
        parent = registry.get("experiments", f"lukashevich2023/{base}")
        exp = registry.get("experiments", f"lukashevich2023/{base}-mc-dropout")
        assert exp.profiles["paper"]["mc_dropout"] == 20
        if base == "resnet":  # kept out of quick runs: it would train the ResNet again
            assert "quick" not in exp.profiles
        else:
            assert exp.profiles["quick"] == {**parent.profiles["quick"], "mc_dropout": 3}
        assert (exp.feature, exp.model, exp.calibration) == (
            parent.feature,
            parent.model,
            parent.calibration,
        )
        assert exp.requires_weights == parent.requires_weights
