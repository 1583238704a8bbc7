"""Speed benchmarks (``tox -e bench``): pytest-benchmark times them side by side in one run.
In the ordinary test run they execute once as smoke tests (``--benchmark-disable``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from genrebench import FeatureSpec, Segments, Track
from genrebench.audio import write_audio
from genrebench.builtin.reference import mfcc_statistics
from genrebench.evaluation import metrics
from genrebench.features.cache import FeatureCache
from genrebench.features.extract import extract_all
from genrebench.features.segments import cut
from genrebench.features.workers import ExtractionPool

SR = 22050


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench-audio")
    rng = np.random.default_rng(0)
    out = []
    for i in range(4):
        path = folder / f"t{i}.wav"
        write_audio(path, 0.1 * rng.standard_normal(SR * 10), SR)
        out.append(Track(f"t{i}", path, ("x",)))
    return out


SPEC = FeatureSpec("bench/mfcc-stats", mfcc_statistics, sample_rate=SR)


@pytest.mark.benchmark(group="features: 4 tracks x 10 s")
def test_extract_uncached(benchmark, tracks):
    extract_all(SPEC, tracks, FeatureCache(None))  # warm numba before timing
    result = benchmark(extract_all, SPEC, tracks, FeatureCache(None))
    assert len(result.arrays) == 4


@pytest.mark.benchmark(group="features: 4 tracks x 10 s")
def test_extract_cached(benchmark, tracks, tmp_path):
    cache = FeatureCache(tmp_path)
    extract_all(SPEC, tracks, cache)
    result = benchmark(extract_all, SPEC, tracks, cache)
    assert result.cache_hits == 4


@pytest.mark.benchmark(group="segments")
def test_cut_segments(benchmark):
    arrays = [np.zeros((80, 1300), np.float32) for _ in range(100)]
    spec = FeatureSpec("m", lambda a, s: a, sample_rate=SR, frames_per_second=SR / 256)
    seg = Segments(length_frames=80, train_count=15, test_count=15)
    x, _ = benchmark(cut, arrays, [str(i) for i in range(100)], seg, spec, 15, 0)
    assert x.shape == (1500, 80, 80)


@pytest.mark.benchmark(group="metrics: 5000 tracks x 10 classes")
def test_all_single_label_metrics(benchmark, registry):
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=5000)
    y = rng.integers(0, 10, 5000)
    specs = [s for s in registry.specs("metrics") if s.task == "single-label"]
    values = benchmark(lambda: [s.compute(y, probs, 0.5) for s in specs])
    by_name = {}
    for spec, value in zip(specs, values, strict=True):
        by_name.update(value if isinstance(value, dict) else {spec.name: value})
    assert all(isinstance(v, int | float) and np.isfinite(v) for v in by_name.values()), by_name
    # random guesses over 10 classes: about 0.1 correct; the values are the metrics'
    assert by_name["accuracy"] == pytest.approx(metrics.accuracy(y, probs))
    assert by_name["accuracy"] == pytest.approx(0.1, abs=0.02)
    assert by_name["ece"] == pytest.approx(metrics.ece(y, probs))


GTZAN_MINI = Path(os.environ.get("GENREBENCH_SHARED_DATA", "/nonexistent")) / "gtzan-mini"


@pytest.mark.skipif(not GTZAN_MINI.is_dir(), reason="GENREBENCH_SHARED_DATA/gtzan-mini not set")
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.benchmark(group="extraction workers: gtzan-mini, logmel-80, cold cache")
def test_extraction_workers(benchmark, registry, workers):
    """A fresh pool of 1 or 2 workers extracting the real GTZAN subset with no cache (the
    ratio of the two is what ``--jobs 2`` gains; tests/bench/extraction_workers.py measures
    it interleaved).  As a smoke test (benchmarks disabled) it extracts 8 tracks."""
    if "schindler2016/logmel-80" not in registry.names("features"):
        pytest.skip("the schindler2016 plugin is not installed")
    spec = registry.get("features", "schindler2016/logmel-80")
    tracks = registry.get("datasets", "gtzan").load(GTZAN_MINI, {}).tracks
    tracks = tracks[:8] if benchmark.disabled else tracks

    def extract():
        with ExtractionPool(workers, registry) as pool:
            return extract_all(spec, tracks, FeatureCache(None), pool=pool)

    result = benchmark.pedantic(extract, rounds=3, iterations=1)
    assert len(result.arrays) == len(tracks) and not result.problems
