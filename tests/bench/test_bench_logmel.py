"""Log-mel extraction, side by side (``tox -e bench``): a plain ``librosa.load`` + librosa
loop, genrebench's batched front end through ``extract_all``, and the bare torch compute,
on real GTZAN clips when ``GENREBENCH_SHARED_DATA`` has them, else on generated audio."""

from __future__ import annotations

import os
from pathlib import Path

import librosa
import numpy as np
import pytest

from genrebench import FeatureSpec, Track
from genrebench.audio import load_audio, write_audio
from genrebench.features.cache import FeatureCache
from genrebench.features.extract import extract_all
from genrebench.frontends import LogMel

SR = 22050
FRONTEND = LogMel(SR, n_fft=1024, hop=256, n_mels=80, fmax=SR / 2)
SPEC = FeatureSpec("bench/logmel-80", FRONTEND, sample_rate=SR)
GROUP = "log-mel 80 bands: 10 clips"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    shared = Path(os.environ.get("GENREBENCH_SHARED_DATA", "")) / "gtzan-mini" / "genres"
    if shared.is_dir():
        return sorted(shared.rglob("*.wav"))[::10][:10]
    folder = tmp_path_factory.mktemp("logmel-audio")
    rng = np.random.default_rng(0)
    out = []
    for i in range(10):
        path = folder / f"t{i}.wav"
        write_audio(path, 0.1 * rng.standard_normal(SR * 30), SR)
        out.append(path)
    return out


def plain_librosa_loop(files):
    for path in files:
        audio, _ = librosa.load(path, sr=SR, mono=True)
        FRONTEND.librosa(audio)


@pytest.mark.benchmark(group=GROUP)
def test_plain_librosa_loop(benchmark, files):
    plain_librosa_loop(files[:1])  # compile numba before timing
    benchmark.pedantic(plain_librosa_loop, args=(files,), rounds=3)


@pytest.mark.benchmark(group=GROUP)
def test_genrebench_extract_all_one_process(benchmark, files):
    tracks = [Track(str(i), p, ("x",)) for i, p in enumerate(files)]
    extract_all(SPEC, tracks[:1], FeatureCache(None))
    result = benchmark.pedantic(extract_all, args=(SPEC, tracks, FeatureCache(None)), rounds=3)
    assert len(result.arrays) == len(files)


@pytest.mark.benchmark(group=GROUP)
def test_bare_torch_compute_on_decoded_audio(benchmark, files):
    decoded = [load_audio(p, SR) for p in files]
    arrays = benchmark.pedantic(FRONTEND.batch, args=(decoded, SR), rounds=3)
    assert len(arrays) == len(files)
