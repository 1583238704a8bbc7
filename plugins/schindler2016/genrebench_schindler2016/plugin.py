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
    Reported,
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
FEATURE_LOGMEL_REPORT = f"{PREFIX}/logmel-80-report"
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
    "lr": 1e-3,
    "calibration_holdout": 0.2,
    "max_valid_tracks": 20,
}

#: ``quick`` of the ``-report-code`` experiments: 1e-4, because its unstandardised ln-mel
#: input (values down to ln 1e-6 = -13.8) makes Adam at 1e-3 collapse to a constant output
#: within the first epoch (measured on the embedded data: chance accuracy, loss ln 10).
QUICK_LR_REPORT_CODE = 1e-4

LR_MEL = 5e-5  # the paper's constant rate
LR_CQT = 3e-5  # the report's rate for its CQT runs


def _features() -> list[FeatureSpec]:
    common: dict[str, Any] = {
        "sample_rate": F.SAMPLE_RATE,
        "frames_per_second": F.FRAMES_PER_SECOND,
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
            version="2",  # 2: the torch front end
            **common,
        ),
        FeatureSpec(
            FEATURE_LOGMEL_REPORT,
            F.logmel_report,
            params={
                "n_fft": F.N_FFT_REPORT,
                "hop_length": F.HOP,
                "window": "hann",
                "center": True,
                "pad_mode": "constant",
                "n_mels": F.N_MELS,
                "magnitude": True,
                "log": "ln(mel + 1e-6)",
            },
            description="80-band ln(mel magnitude + 1e-6), n_fft 512, hop 256, centred "
            "frames at 22 050 Hz (the report's code)",
            version="2",  # 2: the torch front end
            **common,
        ),
        FeatureSpec(
            FEATURE_CQT80,
            F.logcqt80,
            params={**cqt, "n_bins": 80},
            description="80-bin log-CQT from C1, 12 bins/octave, hop 256 (the report's CQT)",
            version="1",
            **common,
        ),
        FeatureSpec(
            FEATURE_CQT84,
            F.logcqt84,
            params={**cqt, "n_bins": 84},
            description="84-bin log-CQT, 7 octaves × 12 from C1, hop 256 (the report's proposal)",
            version="1",
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


#: The report's accuracies in %: (raw, max, maj) by (network, epochs), one run each on
#: GTZAN (750 / 250 tracks, 15 segments per track), from its two result tables.
REPORT_REPLICATION = {
    ("shallow", 100): (65.20, 81.20, 78.90),
    ("deep", 100): (68.60, 83.20, 82.40),
    ("shallow", 200): (64.80, 79.60, 78.80),
    ("deep", 200): (68.60, 84.80, 83.20),
}
REPORT_CQT = {
    ("shallow", 100): (63.30, 80.00, 79.20),
    ("deep", 100): (68.20, 81.20, 80.40),
    ("shallow", 200): (63.90, 82.00, 80.80),
    ("deep", 200): (67.90, 82.00, 82.00),
}
REPORT_EXP = {
    ("shallow", 100): (67.60, 84.40, 81.20),
    ("deep", 100): (69.70, 84.40, 81.60),
    ("shallow", 200): (67.60, 84.40, 80.80),
    ("deep", 200): (67.10, 83.20, 81.60),
}
REPORT_CQT_EXP = {
    ("shallow", 100): (65.30, 84.00, 83.20),
    ("deep", 100): (70.00, 85.60, 85.20),
    ("shallow", 200): (65.00, 82.40, 83.20),
    ("deep", 200): (69.20, 85.20, 84.40),
}
#: Leaderboard columns of the report's raw / maximum-probability / majority-vote accuracy.
REPORT_COLUMNS = ("accuracy_raw", "accuracy", "accuracy_vote")


def reported(
    arch: str, table: dict[tuple[str, int], tuple[float, float, float]], source: str
) -> tuple[Reported, ...]:
    """The report's three accuracies for ``arch`` at 100 and 200 epochs.  Every ``note``
    starts with the epochs, which the README test keys on."""
    return tuple(
        Reported(
            metric,
            round(value / 100, 4),
            dataset="gtzan",
            source=source,
            note=f"{epochs} epochs; GTZAN 750 / 250 tracks, 15 segments each, one run of the "
            "report's TensorFlow code (see the -report-code experiments)",
        )
        for epochs in (100, 200)
        for metric, value in zip(REPORT_COLUMNS, table[(arch, epochs)], strict=True)
    )


#: The report's code (``classify_music.py`` / ``gztan_utils.py`` of its repository
#: ``lun3x/DeepLearningReimplement``) where it differs from the paper's description:
#: ReLU, no convolution biases, an L1 penalty of 1e-4 on every trainable parameter, its
#: ln-mel input (n_fft 512, centred) without standardisation.  The shallow network has no
#: activation after its dense layer; the deep one has ReLU there.
REPORT_CODE = {"activation": "relu", "conv_bias": False, "l1": 1e-4, "standardize": None}
REPORT_CODE_DENSE = {"shallow": "none", "deep": "same"}

#: (name suffix, feature, learning rate, schedule, extra model params, what it is,
#: the report's table or None, where it stands in the report)
VARIANTS: list[tuple[str, str, float, str | None, dict[str, Any], str, Any, str]] = [
    (
        "",
        FEATURE_LOGMEL,
        LR_MEL,
        None,
        {},
        "log-mel, constant learning rate (the paper)",
        REPORT_REPLICATION,
        "report §VII table (replication)",
    ),
    (
        "-exp",
        FEATURE_LOGMEL,
        LR_MEL,
        "exp",
        {},
        "log-mel, exponential decay (report's EXP)",
        REPORT_EXP,
        "report §X.C table (EXP)",
    ),
    (
        "-cqt",
        FEATURE_CQT80,
        LR_CQT,
        None,
        {},
        "80-bin CQT, lr 3e-5 (report's CQT)",
        REPORT_CQT,
        "report §X.C table (CQT)",
    ),
    (
        "-cqt-exp",
        FEATURE_CQT80,
        LR_CQT,
        "exp",
        {},
        "80-bin CQT + EXP (report's CQT & EXP)",
        REPORT_CQT_EXP,
        "report §X.C table (CQT & EXP)",
    ),
    (
        "-cqt84-exp",
        FEATURE_CQT84,
        LR_CQT,
        "exp",
        {},
        "84-bin CQT (7 octaves × 12) + EXP (the report's proposed improvement, not run there)",
        None,
        "",
    ),
    (
        "-relu",
        FEATURE_LOGMEL,
        LR_MEL,
        None,
        {"activation": "relu"},
        "log-mel with ReLU instead of LeakyReLU: the report's activation only; everything "
        "else as in the paper's description (see -report-code for the report's code)",
        REPORT_REPLICATION,
        "report §VII table (replication)",
    ),
]


def _experiment(arch: str, variant: tuple) -> ExperimentSpec:
    suffix, feature, lr, schedule, extra, what, table, source = variant
    params: dict[str, Any] = {"lr": lr, "batch_size": 15, "lr_schedule": schedule, **extra}
    return ExperimentSpec(
        name=f"{PREFIX}/{arch}{suffix}",
        feature=feature,
        model=MODEL_SHALLOW if arch == "shallow" else MODEL_DEEP,
        tasks=("single-label",),
        model_params=params,
        profiles=_profiles(),
        segments=SEGMENTS,
        aggregation="mean",
        extra_aggregations=("vote",),
        split=SPLIT,
        description=f"{arch} parallel CNN, {what}; 100 epochs (profile paper) or 200 "
        "(profile paper-200ep); raw / max-probability (mean) / majority-vote accuracy",
        paper=PAPER,
        reported=reported(arch, table, source) if table else (),
    )


def _report_code_experiment(arch: str) -> ExperimentSpec:
    """The report's published code: its network, penalty, input and max rule.

    Its "maximum probability" rule sums the segments' logits; the core's ``geometric``
    rule sums log-softmax values, which differ from the logits by one constant per segment,
    so both pick the same class (see the README for the limits of that equivalence).
    """
    params: dict[str, Any] = {
        "lr": LR_MEL,
        "batch_size": 15,
        "lr_schedule": None,
        **REPORT_CODE,
        "dense_activation": REPORT_CODE_DENSE[arch],
    }
    return ExperimentSpec(
        name=f"{PREFIX}/{arch}-report-code",
        feature=FEATURE_LOGMEL_REPORT,
        model=MODEL_SHALLOW if arch == "shallow" else MODEL_DEEP,
        tasks=("single-label",),
        model_params=params,
        profiles=_profiles(quick_lr=QUICK_LR_REPORT_CODE),
        segments=SEGMENTS,
        aggregation="geometric",
        extra_aggregations=("vote", "mean"),
        split=SPLIT,
        description=f"{arch} parallel CNN as the report's published code ran it: ReLU, no "
        "convolution biases, L1 1e-4 on every parameter, ln(mel magnitude + 1e-6) from an "
        "n_fft-512 centred STFT without standardisation, max rule over summed logits "
        "(geometric); 100 epochs (profile paper) or 200 (profile paper-200ep)",
        paper=PAPER,
        reported=reported(arch, REPORT_REPLICATION, "report §VII table (replication)"),
    )


def _profiles(quick_lr: float | None = None) -> dict[str, dict[str, Any]]:
    quick = {**QUICK, "lr": quick_lr} if quick_lr else dict(QUICK)
    return {"quick": quick, "paper": {"epochs": 100}, "paper-200ep": {"epochs": 200}}


def _experiments() -> list[ExperimentSpec]:
    return [
        *(_experiment(arch, v) for arch in ("shallow", "deep") for v in VARIANTS),
        *(_report_code_experiment(arch) for arch in ("shallow", "deep")),
    ]


@hookimpl
def genrebench_register_features() -> list[FeatureSpec]:
    return _features()


@hookimpl
def genrebench_register_models() -> list[ModelSpec]:
    return _models()


@hookimpl
def genrebench_register_experiments() -> list[ExperimentSpec]:
    return _experiments()
