"""Streaming: lazy segments equal the stacked ones, cached arrays are read on demand with a
bounded number of open maps, and TorchClassifier trains the same on lazy inputs."""

from __future__ import annotations

import numpy as np
import pytest

from genrebench.features import lazy
from genrebench.features.cache import FeatureCache
from genrebench.features.lazy import CachedArray, LazySegments
from genrebench.features.segments import cut
from genrebench.specs import FeatureSpec, ModelSetup, Segments

FEATURE = FeatureSpec("t/f", lambda a, sr: a, sample_rate=100, frames_per_second=10.0)


def arrays(seed=0, lengths=(50, 7, 33, 20)):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, n)).astype(np.float32) for n in lengths]


@pytest.mark.parametrize("placement", ["random", "even"])
@pytest.mark.parametrize("count", [None, 1, 4])
def test_lazy_segments_equal_the_stacked_segments(placement, count):
    data, ids = arrays(), ["a", "b", "c", "d"]
    segments = Segments(length_frames=10, placement=placement)
    stacked, owner = cut(data, ids, segments, FEATURE, count, seed=3)
    lazy_x, lazy_owner = cut(data, ids, segments, FEATURE, count, seed=3, lazy=True)
    assert isinstance(lazy_x, LazySegments) and isinstance(stacked, np.ndarray)
    np.testing.assert_array_equal(owner, lazy_owner)
    assert lazy_x.shape == stacked.shape and len(lazy_x) == len(stacked)
    assert lazy_x.dtype == stacked.dtype == np.float32 and lazy_x.ndim == 3
    np.testing.assert_array_equal(np.asarray(lazy_x), stacked)
    rows = np.array([len(stacked) - 1, 0, 2, 0])
    np.testing.assert_array_equal(lazy_x[rows], stacked[rows])
    np.testing.assert_array_equal(lazy_x[1:3], stacked[1:3])
    np.testing.assert_array_equal(lazy_x[-1], stacked[-1])


def test_short_track_segment_is_its_frames_then_zeros():
    data = [np.arange(1, 8, dtype=np.float32)[None, :]]  # 7 frames, segments of 10
    x, _ = cut(data, ["a"], Segments(length_frames=10), FEATURE, 1, seed=0, lazy=True)
    np.testing.assert_array_equal(x[0][0], [1, 2, 3, 4, 5, 6, 7, 0, 0, 0])


def test_cached_array_reads_slices_and_keeps_few_maps_open(tmp_path, monkeypatch):
    monkeypatch.setattr(lazy, "OPEN_MAPS", 3)
    lazy._maps.clear()
    cache = FeatureCache(tmp_path)
    handles = []
    for i, array in enumerate(arrays(lengths=(12, 15, 9, 30, 11))):
        key = f"{i:064x}"
        cache.put(key, FEATURE, array)
        handle = cache.handle(key, FEATURE, array)
        assert isinstance(handle, CachedArray) and handle.shape == array.shape
        np.testing.assert_array_equal(handle[..., 2:5], array[..., 2:5])
        np.testing.assert_array_equal(np.asarray(handle), array)
        handles.append(handle)
        assert len(lazy._maps) <= 3
    x, _ = cut(handles, list("abcde"), Segments(length_frames=8), FEATURE, 2, 0, lazy=True)
    y, _ = cut(
        arrays(lengths=(12, 15, 9, 30, 11)), list("abcde"), Segments(length_frames=8), FEATURE, 2, 0
    )
    np.testing.assert_array_equal(np.asarray(x), y)


@pytest.mark.parametrize("standardize", [None, "global", "feature"])
def test_torch_classifier_trains_the_same_on_lazy_and_real_arrays(standardize):
    import torch
    from torch import nn

    from genrebench.training import TorchClassifier, TrainConfig

    rng = np.random.default_rng(0)
    data = [rng.standard_normal((4, 40)).astype(np.float32) + k % 2 for k in range(12)]
    ids = [f"t{k}" for k in range(12)]
    labels = np.array([k % 2 for k in range(12)])
    segments = Segments(length_frames=8)
    real, owner = cut(data, ids, segments, FEATURE, 3, seed=1)
    lazy_x, _ = cut(data, ids, segments, FEATURE, 3, seed=1, lazy=True)

    def trained(x):
        setup = ModelSetup("single-label", ["a", "b"], (4, 8), 0, "cpu", {}, {})
        torch.manual_seed(0)  # the runner seeds before the model factory builds its net
        net = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(32, 2))
        config = TrainConfig(epochs=3, batch_size=5, standardize=standardize)
        model = TorchClassifier(net, setup, config)
        model.fit(x, labels[owner], x, labels[owner])
        return model.predict_proba(x), model.history

    (p_real, h_real), (p_lazy, h_lazy) = trained(real), trained(lazy_x)
    if standardize is None:
        np.testing.assert_array_equal(p_lazy, p_real)
    else:  # moments summed in float64 by chunks rather than by NumPy in float32
        np.testing.assert_allclose(p_lazy, p_real, atol=1e-5)
    assert len(h_lazy) == len(h_real) == 3
