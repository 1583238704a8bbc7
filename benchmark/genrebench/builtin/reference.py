"""The reference experiments: summary statistics of MFCCs and spectral shape, then logistic
regression or a small MLP, and the mean of the two as an ensemble.  They make the core work
end to end before any paper plugin is installed, run on single-label and multi-label data,
and give every leaderboard a baseline.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from genrebench import EnsembleSpec, ExperimentSpec, FeatureSpec, ModelSetup, ModelSpec, hookimpl

SAMPLE_RATE = 22050
N_MFCC = 20
HOP = 512


def mfcc_statistics(audio: np.ndarray, sample_rate: int, n_mfcc: int = N_MFCC) -> np.ndarray:
    """Mean and standard deviation over time of MFCCs, their deltas, and six spectral
    descriptors (centroid, bandwidth, roll-off, flatness, zero-crossing rate, RMS):
    a ``4 * n_mfcc + 12`` vector."""
    import librosa  # lazy: librosa (and numba) load only when features are computed

    power = np.abs(librosa.stft(audio, n_fft=2048, hop_length=HOP)) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=sample_rate, n_mels=128)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=n_mfcc)
    delta = (
        librosa.feature.delta(mfcc, mode="nearest") if mfcc.shape[1] >= 3 else np.zeros_like(mfcc)
    )
    magnitude = np.sqrt(power)
    spectral = np.vstack(
        [
            librosa.feature.spectral_centroid(S=magnitude, sr=sample_rate) / sample_rate,
            librosa.feature.spectral_bandwidth(S=magnitude, sr=sample_rate) / sample_rate,
            librosa.feature.spectral_rolloff(S=magnitude, sr=sample_rate) / sample_rate,
            librosa.feature.spectral_flatness(S=magnitude),
            librosa.feature.zero_crossing_rate(audio, hop_length=HOP)[:, : magnitude.shape[1]],
            librosa.feature.rms(S=magnitude),
        ]
    )
    frames = np.vstack([mfcc, delta, spectral[:, : mfcc.shape[1]]])
    return np.concatenate([frames.mean(axis=1), frames.std(axis=1)]).astype(np.float32)


class LogisticRegressionModel:
    """Standardised inputs, then multinomial logistic regression (single-label) or one
    independent logistic regression per label (multi-label)."""

    def __init__(self, setup: ModelSetup) -> None:
        # lazy: loads sklearn, not needed at import time
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        c = float(setup.params.get("C", 1.0))
        max_iter = int(setup.budget.get("max_iter", 2000))
        base = LogisticRegression(C=c, max_iter=max_iter, random_state=setup.seed)
        head = OneVsRestClassifier(base) if setup.task == "multi-label" else base
        self.pipeline = make_pipeline(StandardScaler(), head)
        self.n_classes = len(setup.classes)
        self.task = setup.task

    def fit(self, x, y, x_valid=None, y_valid=None) -> None:
        self.pipeline.fit(x, y)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        probs = self.pipeline.predict_proba(x)
        if self.task == "multi-label":
            return probs
        # Classes missing from the training data get probability 0.
        full = np.zeros((len(x), self.n_classes))
        full[:, self.pipeline.classes_] = probs
        return full

    def n_parameters(self) -> int:
        head = self.pipeline[-1]
        estimators = getattr(head, "estimators_", [head])
        return int(sum(e.coef_.size + e.intercept_.size for e in estimators))


def create_logreg(setup: ModelSetup) -> LogisticRegressionModel:
    return LogisticRegressionModel(setup)


def create_mlp(setup: ModelSetup):
    # lazy: loads torch, not needed at import time
    from torch import nn

    # lazy: loads torch, not needed at import time
    from genrebench.training import TorchClassifier, TrainConfig

    hidden = int(setup.params.get("hidden", 128))
    dropout = float(setup.params.get("dropout", 0.3))
    net = nn.Sequential(
        nn.Linear(int(np.prod(setup.input_shape)), hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, len(setup.classes)),
    )
    # One torch thread: the network is tiny, and more threads only add synchronisation.
    config = TrainConfig.from_budget(
        setup.budget, lr=1e-3, batch_size=32, weight_decay=1e-4, standardize="feature", threads=1
    )
    return TorchClassifier(net, setup, config)


@hookimpl
def genrebench_register_features():
    return [
        FeatureSpec(
            name="reference/mfcc-stats",
            extract=partial(mfcc_statistics, n_mfcc=N_MFCC),
            sample_rate=SAMPLE_RATE,
            params={"n_mfcc": N_MFCC, "n_fft": 2048, "hop": HOP, "n_mels": 128},
            version="1",
            description="mean and std of 20 MFCCs, their deltas and 6 spectral descriptors (92-d)",
        )
    ]


@hookimpl
def genrebench_register_models():
    return [
        ModelSpec(
            name="reference/logreg",
            create=create_logreg,
            description="standardised logistic regression (one-vs-rest for multi-label)",
        ),
        ModelSpec(
            name="reference/mlp",
            create=create_mlp,
            description="one hidden layer (128, ReLU, dropout 0.3), Adam",
        ),
    ]


@hookimpl
def genrebench_register_experiments():
    both = ("single-label", "multi-label")
    return [
        ExperimentSpec(
            name="reference/logreg",
            feature="reference/mfcc-stats",
            model="reference/logreg",
            tasks=both,
            profiles={"quick": {"max_iter": 500}, "paper": {"max_iter": 5000}},
            description="baseline: MFCC/spectral statistics + logistic regression",
        ),
        ExperimentSpec(
            name="reference/mlp",
            feature="reference/mfcc-stats",
            model="reference/mlp",
            tasks=both,
            profiles={"quick": {"epochs": 40}, "paper": {"epochs": 200}},
            description="baseline: MFCC/spectral statistics + one-hidden-layer MLP",
        ),
    ]


@hookimpl
def genrebench_register_ensembles():
    return [
        EnsembleSpec(
            name="reference/ensemble",
            members=("reference/logreg", "reference/mlp"),
            rule="mean",
            tasks=("single-label", "multi-label"),
            description="mean of the two reference experiments' track probabilities",
        )
    ]
