"""Entry-point discovery and the registered specs: names, protocol, the paper's numbers."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import numpy as np
import pytest
from genrebench_yan2023 import plugin

from genrebench import testing

IMAGE_EXPERIMENTS = [
    "yan2023/baseline",
    "yan2023/cnn",
    "yan2023/cnn-l3",
    "yan2023/cnn-l3-drop0.1",
    "yan2023/cnn-l2-drop0.1",
    "yan2023/cnn-l2-drop0.25",
    "yan2023/cnn-k10-hn32",
]
WAV2VEC2_EXPERIMENTS = [
    f"yan2023/wav2vec2-{n}"
    for n in (
        "base-frozen",
        "base-last1",
        "base-last2",
        "base-last3",
        "large-last1",
        "large-last2",
        "large-last2-lr1e-4",
        "biased-main",
        "frozen-biased-main",
        "frozen-biased-finetuned-main",
    )
]


@pytest.fixture(scope="module")
def registry():
    return testing.load_registry("yan2023")


def test_entry_point_is_declared():
    eps = importlib.metadata.entry_points(group="genrebench")
    assert "genrebench_yan2023.plugin" in {ep.value for ep in eps if ep.name == "yan2023"}


def test_discovered_through_the_entry_point(registry):
    assert "yan2023" not in registry.failed
    names = {n for n in registry.names("experiments") if n.startswith("yan2023/")}
    assert names == set(IMAGE_EXPERIMENTS + WAV2VEC2_EXPERIMENTS)
    assert registry.names("ensembles") and "yan2023/cnn-ensemble" in registry.names("ensembles")
    for name in names:
        spec = registry.get("experiments", name)
        registry.get("features", spec.feature)
        registry.get("models", spec.model)
        assert spec.split.scheme == "stratified"
        assert dict(spec.split.ratios) == {"train": 0.7, "valid": 0.2, "test": 0.1}
        assert {"quick", "paper"} <= set(spec.profiles) and spec.paper and spec.reported


def test_image_experiments_need_no_weights_and_the_wav2vec2_ones_say_what(registry):
    for name in IMAGE_EXPERIMENTS:
        spec = registry.get("experiments", name)
        assert spec.requires_weights == "" and spec.feature == "yan2023/image"
    for name in WAV2VEC2_EXPERIMENTS:
        spec = registry.get("experiments", name)
        assert "GENREBENCH_WAV2VEC2_" in spec.requires_weights
        assert spec.feature == "yan2023/waveform-16k"
        assert spec.segments == plugin.WAVEFORM_SEGMENTS
    both = registry.get("experiments", "yan2023/wav2vec2-biased-main").requires_weights
    assert "wav2vec2-base" in both and "wav2vec2-large" in both


def test_wav2vec2_input_is_the_authors_18_one_second_excerpts_every_1_5_s():
    # AudioToGenreDataset: 3 s windows every 1.5 s while the window ends before 30 s (18),
    # each truncated by the feature extractor to its first 16 000 samples.

    feature = plugin._features()[1]
    assert feature.name == plugin.FEATURE_WAVEFORM and feature.sample_rate == 16000
    clip = np.arange(30 * 16000, dtype=np.float32)  # sample index as value
    x, owner = testing.cut_segments([clip], ["t"], plugin.WAVEFORM_SEGMENTS, feature, 18, seed=0)
    assert x.shape == (18, 16000) and owner.tolist() == [0] * 18
    starts = [int(s) for s in x[:, 0]]
    assert starts == [round(k * 1.5 * 16000) for k in range(18)]  # 0 s, 1.5 s, ..., 25.5 s
    np.testing.assert_array_equal(x[17], clip[408000:424000])  # the window 25.5-28.5 s, cut


def test_paper_settings(registry):
    baseline = registry.get("experiments", "yan2023/baseline")
    assert baseline.profiles["paper"] == {"epochs": 500}
    assert baseline.model_params["lr"] == 1e-3 and baseline.model_params["batch_size"] == 32
    cnn = registry.get("experiments", "yan2023/cnn")
    assert cnn.model_params == {
        "layers": 4,
        "kernel": 5,
        "padding": 3,
        "stride": 2,
        "dropout_conv": 0.4,
        "dropout_fc": 0.1,
        "hidden": 128,
        "batch_size": 64,
        "lr": 5e-4,
    }
    last = registry.get("experiments", "yan2023/cnn-k10-hn32").model_params
    assert (last["kernel"], last["hidden"], last["dropout_fc"]) == (10, 32, 0.2)
    best = registry.get("experiments", "yan2023/wav2vec2-large-last2-lr1e-4").model_params
    assert (best["size"], best["trainable_layers"], best["lr"]) == ("large", 2, 1e-4)
    frozen = registry.get("experiments", "yan2023/wav2vec2-base-frozen").model_params
    assert frozen["trainable_layers"] == 0
    top = registry.get("experiments", "yan2023/wav2vec2-frozen-biased-finetuned-main")
    assert top.model_params["biased_trainable"] == "none"
    assert top.model_params["main_init"] == "finetuned"
    assert top.model_params["biased_weight"] == 0.1


def test_reported_numbers(registry):
    def value(name, metric):
        spec = registry.get("experiments", name)
        return {r.metric: r.value for r in spec.reported}[metric]

    assert value("yan2023/baseline", "accuracy") == 0.24242
    assert value("yan2023/cnn", "accuracy") == 0.5758
    assert value("yan2023/cnn", "valid_accuracy") == 0.705
    assert [value(n, "valid_accuracy") for n in IMAGE_EXPERIMENTS[1:]] == [
        0.705,
        0.655,
        0.605,
        0.59,
        0.645,
        0.57,
    ]
    assert value("yan2023/wav2vec2-frozen-biased-finetuned-main", "accuracy_raw") == 0.748
    ensemble = registry.get("ensembles", "yan2023/cnn-ensemble")
    assert ensemble.members == tuple(IMAGE_EXPERIMENTS[1:])
    assert {r.metric: r.value for r in ensemble.reported} == {"accuracy": 0.636}
    assert all(r.dataset == "gtzan" for r in ensemble.reported)


def test_listing_imports_no_torch():
    code = (
        "import sys; from genrebench import testing; testing.load_registry('yan2023'); "
        "print(sorted(m for m in ('torch', 'transformers', 'librosa', 'matplotlib', 'PIL') "
        "if m in sys.modules))"
    )
    env = {**os.environ, "GENREBENCH_PLUGINS": "yan2023"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"
    assert "torch" not in vars(plugin)
