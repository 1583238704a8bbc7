"""A complete third-party genrebench plugin in one file: a data set of pure tones, a band-energy
feature, a nearest-centroid model, a confidence metric and an experiment binding them.
The core's tests put it on the path with an entry point, exactly as ``pip install`` would."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genrebench import (
    Dataset,
    DatasetSpec,
    ExperimentSpec,
    FeatureSpec,
    MetricSpec,
    ModelSetup,
    ModelSpec,
    Track,
    hookimpl,
)
from genrebench.audio import write_audio
from genrebench.frontends import LogMel

CLASSES = ["low", "mid", "high"]
CENTRES = {"low": 220.0, "mid": 880.0, "high": 3520.0}
SR = 8000


def load_tones(root: Path | None, options) -> Dataset:
    root = Path(root or os.environ.get("GENREBENCH_DATA_DIR", "/tmp")) / "example-tones"
    per_class = int(options.get("per_class", 6))
    rng = np.random.default_rng(0)
    tracks = []
    for label in CLASSES:
        for i in range(per_class):
            path = root / f"{label}-{i}.wav"
            if not path.exists():
                t = np.arange(SR) / SR
                freq = CENTRES[label] * rng.uniform(0.8, 1.25)
                write_audio(
                    path, 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(SR), SR
                )
            tracks.append(Track(f"{label}-{i}", path, (label,)))
    return Dataset("example-tones", "single-label", CLASSES, tracks)


def band_energies(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    bands = np.array_split(spectrum, 16)
    return np.log1p(np.array([b.sum() for b in bands], dtype=np.float32))


class NearestCentroid:
    def __init__(self, setup: ModelSetup) -> None:
        self.n_classes = len(setup.classes)

    def fit(self, x, y, x_valid=None, y_valid=None) -> None:
        self.centroids = np.stack([x[y == k].mean(axis=0) for k in range(self.n_classes)])

    def predict_proba(self, x):
        distance = ((x[:, None, :] - self.centroids[None]) ** 2).sum(axis=2)
        logits = -(distance - distance.min(axis=1, keepdims=True))
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)


def mean_confidence(y_true, probs, threshold) -> dict[str, float]:
    return {"mean_confidence": float(probs.max(axis=1).mean())}


@hookimpl
def genrebench_register_datasets():
    return [DatasetSpec("example-tones", "single-label", load_tones, "pure tones in 3 registers")]


@hookimpl
def genrebench_register_features():
    return [
        FeatureSpec("example/band-energies", band_energies, sample_rate=SR),
        # A core front end, as a plugin declares one (used by the bench command's tests).
        FeatureSpec("example/logmel", LogMel(SR, n_fft=512, hop=256, n_mels=40), sample_rate=SR),
    ]


@hookimpl
def genrebench_register_models():
    return [ModelSpec("example/nearest-centroid", NearestCentroid, tasks=("single-label",))]


@hookimpl
def genrebench_register_metrics():
    return [
        MetricSpec(
            "example/mean-confidence",
            "single-label",
            mean_confidence,
            columns=("mean_confidence",),  # the keys of the dict it returns
        )
    ]


@hookimpl
def genrebench_register_experiments():
    return [
        ExperimentSpec(
            name="example/centroid",
            feature="example/band-energies",
            model="example/nearest-centroid",
            description="band energies + nearest centroid",
        )
    ]
