"""genrebench hook implementations of the ``schindler2016`` plugin (registration only).

torch and librosa are imported lazily (inside the factories and feature functions), so
``genrebench list`` stays fast.
"""

from __future__ import annotations

from typing import Any

from genrebench import (
    ExperimentSpec,
    FeatureSpec,
    ModelSetup,
    ModelSpec,
    Segments,
    SplitRequest,
    hookimpl,
)
from genrebench_schindler2016 import features as F

PREFIX = "schindler2016"
PAPER = (
    "A. Schindler, T. Lidy, A. Rauber: Comparing Shallow versus Deep Neural Network "
    "Architectures for Automatic Music Genre Classification. FMT 2016, CEUR-WS Vol-1734; "
    "as reproduced and extended (CQT, EXP) by L. Wyborn, A. Butt, S. Klas (Univ. of Bristol)"
)

FEATURE_LOGMEL = f"{PREFIX}/logmel-80"
FEATURE_CQT80 = f"{PREFIX}/cqt-80"
FEATURE_CQT84 = f"{PREFIX}/cqt-84"
MODEL_SHALLOW = f"{PREFIX}/shallow-cnn"
MODEL_DEEP = f"{PREFIX}/deep-cnn"

#: 15 random 0.97 s segments (80 frames) per track, for training and for test.
SEGMENTS = Segments(
    length_frames=F.SEGMENT_FRAMES, train_count=15, test_count=15, placement="random"
)
#: The report's 750 / 250 track split, seeded and stratified by genre.
SPLIT = SplitRequest("stratified", {"train": 0.75, "test": 0.25})

#: ``quick``: a smoke test of the whole pipeline (80 optimiser steps on a class-balanced
#: subset), sized so that every experiment of this plugin fits the main job's budget on
#: 2 CPU cores.  Its learning rate is 1e-3 rather than the paper's 5e-5 / 3e-5, which
#: learn next to nothing in 80 steps.  It does not try to reach the paper's accuracy.
#: The paper's split has no validation part; ``quick`` holds 20 % of the training tracks
#: out (at most 20 of them, never shown to the network) to fit the core's calibrator.
QUICK = {
    "epochs": 2,
    "max_train_tracks": 40,
    "max_test_tracks": 40,
    "lr": 1e-3,
    "calibration_holdout": 0.2,
    "max_valid_tracks": 20,
}

LR_MEL = 5e-5  # the paper's constant rate
LR_CQT = 3e-5  # the report's rate for its CQT runs


def _features() -> list[FeatureSpec]:
    common: dict[str, Any] = {
        "sample_rate": F.SAMPLE_RATE,
        "frames_per_second": F.FRAMES_PER_SECOND,
        "version": "1",
    }
    stft = {"n_fft": F.N_FFT, "hop_length": F.HOP, "window": "hann", "center": False}
    cqt = {
        "hop_length": F.HOP,
        "center": True,
        "fmin": F.CQT_FMIN_NOTE,
        "bins_per_octave": F.CQT_BINS_PER_OCTAVE,
        "db": "amplitude, amin=1e-5",
    }
    return [
        FeatureSpec(
            FEATURE_LOGMEL,
            F.logmel,
            params={**stft, "n_mels": F.N_MELS, "fmin": 0.0, "db": "power, amin=1e-10"},
            description="80-band log-mel spectrogram (dB), n_fft 1024, hop 256 at 22 050 Hz",
            **common,
        ),
        FeatureSpec(
            FEATURE_CQT80,
            F.logcqt80,
            params={**cqt, "n_bins": 80},
            description="80-bin log-CQT from C1, 12 bins/octave, hop 256 (the report's CQT)",
            **common,
        ),
        FeatureSpec(
            FEATURE_CQT84,
            F.logcqt84,
            params={**cqt, "n_bins": 84},
            description="84-bin log-CQT, 7 octaves × 12 from C1, hop 256 (the report's proposal)",
            **common,
        ),
    ]


def create_shallow(setup: ModelSetup):
    """Factory of ``schindler2016/shallow-cnn`` (imports torch on first use)."""
    from genrebench_schindler2016.networks import create

    return create(setup, "shallow")


def create_deep(setup: ModelSetup):
    """Factory of ``schindler2016/deep-cnn`` (imports torch on first use)."""
    from genrebench_schindler2016.networks import create

    return create(setup, "deep")


def _models() -> list[ModelSpec]:
    return [
        ModelSpec(
            MODEL_SHALLOW,
            create_shallow,
            description="Shallow parallel CNN: 16×(10×23)+pool 1×20 ‖ 16×(21×20)+pool 20×1, "
            "dropout 0.1, 200-unit dense (2.06 M parameters for 80×80 input, 10 classes)",
        ),
        ModelSpec(
            MODEL_DEEP,
            create_deep,
            description="Deep parallel CNN: 4 conv+pool stages per pipeline (16/32/64/128 filters),"
            " dropout 0.25, 200-unit dense (1.28 M parameters for 80×80 input, 10 classes)",
        ),
    ]


#: (name suffix, feature, learning rate, schedule, extra model params, what it is)
VARIANTS: list[tuple[str, str, float, str | None, dict[str, Any], str]] = [
    ("", FEATURE_LOGMEL, LR_MEL, None, {}, "log-mel, constant learning rate (the paper)"),
    ("-exp", FEATURE_LOGMEL, LR_MEL, "exp", {}, "log-mel, exponential decay (report's EXP)"),
    ("-cqt", FEATURE_CQT80, LR_CQT, None, {}, "80-bin CQT, lr 3e-5 (report's CQT)"),
    ("-cqt-exp", FEATURE_CQT80, LR_CQT, "exp", {}, "80-bin CQT + EXP (report's CQT & EXP)"),
    (
        "-cqt84-exp",
        FEATURE_CQT84,
        LR_CQT,
        "exp",
        {},
        "84-bin CQT (7 octaves × 12) + EXP (the report's proposed improvement)",
    ),
    (
        "-relu",
        FEATURE_LOGMEL,
        LR_MEL,
        None,
        {"activation": "relu"},
        "log-mel with ReLU instead of LeakyReLU (as the report's TensorFlow 1.2 code ran)",
    ),
]


def _experiment(arch: str, variant: tuple) -> ExperimentSpec:
    suffix, feature, lr, schedule, extra, what = variant
    params: dict[str, Any] = {"lr": lr, "batch_size": 15, "lr_schedule": schedule, **extra}
    return ExperimentSpec(
        name=f"{PREFIX}/{arch}{suffix}",
        feature=feature,
        model=MODEL_SHALLOW if arch == "shallow" else MODEL_DEEP,
        tasks=("single-label",),
        model_params=params,
        profiles={
            "quick": dict(QUICK),
            "paper": {"epochs": 100},
            "paper-200ep": {"epochs": 200},
        },
        segments=SEGMENTS,
        aggregation="mean",
        extra_aggregations=("vote",),
        split=SPLIT,
        description=f"{arch} parallel CNN, {what}; 100 epochs (profile paper) or 200 "
        "(profile paper-200ep); raw / max-probability (mean) / majority-vote accuracy",
        paper=PAPER,
    )


def _experiments() -> list[ExperimentSpec]:
    return [_experiment(arch, v) for arch in ("shallow", "deep") for v in VARIANTS]


@hookimpl
def genrebench_register_features() -> list[FeatureSpec]:
    return _features()


@hookimpl
def genrebench_register_models() -> list[ModelSpec]:
    return _models()


@hookimpl
def genrebench_register_experiments() -> list[ExperimentSpec]:
    return _experiments()
