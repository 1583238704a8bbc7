"""genrebench hook implementations of the ``lukashevich2023`` plugin (registration only).

torch, librosa and the embedding networks are imported lazily (inside the factories and
feature functions), so ``genrebench list`` stays fast.
"""

from __future__ import annotations

import functools
import os
from dataclasses import replace
from typing import Any

from genrebench import (
    ExperimentSpec,
    FeatureSpec,
    ModelSetup,
    ModelSpec,
    Reported,
    Segments,
    hookimpl,
)
from genrebench_lukashevich2023 import features as F
from genrebench_lukashevich2023 import weights as W

PREFIX = "lukashevich2023"
PAPER = (
    "H. Lukashevich, S. Grollmisch, J. Abeßer: Quantifying uncertainty in music genre "
    "classification. DAGA 2023 (49th Annual Conference on Acoustics), Hamburg, pp. 1378–1381"
)

FEATURE_LOGMEL = f"{PREFIX}/logmel-96"
FEATURE_MUSICNN = f"{PREFIX}/musicnn-msd-penultimate"
FEATURE_OPENL3 = f"{PREFIX}/openl3-mel256-music-512"
MODEL_RESNET = f"{PREFIX}/resnet"
MODEL_MLP = f"{PREFIX}/mlp"

#: OpenL3 window hop in seconds (not in the paper; openl3's own default is 0.1 s, which is
#: 10 windows per second of audio): ``$GENREBENCH_OPENL3_HOP`` overrides it.
OPENL3_HOP = float(os.environ.get("GENREBENCH_OPENL3_HOP", "0.5"))
OPENL3_REPR = "mel256"  # openl3's default input representation

#: 3 s patches every 1 s, all of them, for training and test; file-wise mean.
PATCHES = Segments(
    length_frames=F.PATCH_FRAMES,
    hop_frames=F.PATCH_HOP_FRAMES,
    train_count=None,
    test_count=None,
)
#: Every embedding vector is one MLP input; file-wise mean of their probabilities.
EMBEDDINGS = Segments(length_frames=1, train_count=None, test_count=None)

#: ``quick``: sized for the main job on 2 CPU cores so that the ResNet learns on the
#: embedded data (at most 140 / 20 training / validation tracks, every test track): a
#: RESIZED network -- quarter width (channels 16/16/16/32/64, 26 k parameters; the full
#: network costs about 1 GMAC per patch) on patches averaged in 3 × 3 cells (32 × 62
#: instead of 96 × 186) -- 6 epochs of batches of 8 at lr 3e-3 (at 1e-3 the thin network
#: stayed at chance in the former 3-epoch budget), keeping the epoch of lowest validation
#: loss.  Not the paper's network: the experiment's description says so.
QUICK_RESNET = {
    "epochs": 6,
    "batch_size": 8,
    "lr": 3e-3,
    "width": 0.25,
    "input_pool": 3,
    "max_train_tracks": 140,
    "max_valid_tracks": 20,
}
#: ``quick`` for the embedding + MLP experiments: the embedding extraction dominates.
QUICK_MLP = {"epochs": 20, "max_train_tracks": 140, "max_valid_tracks": 20}
#: ``paper``: our budget where the paper gives none -- up to 100 epochs, early stopping on
#: the validation loss with patience 10 (see networks.TRAIN_DEFAULTS).
PAPER_BUDGET: dict[str, Any] = {}

REPORTED_RESNET = (
    Reported(
        "accuracy",
        0.4912,
        "fma-small",
        "Experiments (text), Fig. 3",
        "mean file-wise accuracy on the FMA small test split; per class (Fig. 3): Hip-Hop "
        "85 %, Electronic 64 %, Pop 31 %, Folk 14 % (49 % of Folk predicted as Experimental); "
        "reliability (Fig. 5): accuracy ≈ 74 % in the 0.8–0.9 confidence bin",
    ),
)
REPORTED_OPENL3 = (
    Reported(
        "accuracy",
        0.536,
        "fma-small",
        "Experiments (text), Fig. 4",
        "mean file-wise accuracy on the FMA small test split; per class (Fig. 4): Hip-Hop "
        "92 %, Electronic 70 %, Pop 29 %, Folk 17 %; reliability (Fig. 6): accuracy ≈ 70 % in "
        "the 0.8–0.9 bin, more overconfident than the ResNet; Folk and Pop stay extremely "
        "overconfident at T = 1.25 (Fig. 8)",
    ),
)


def _features() -> list[FeatureSpec]:
    openl3_params: dict[str, Any] = {
        "input_repr": OPENL3_REPR,
        "content_type": "music",
        "embedding_size": 512,
        "window_seconds": 1.0,
        "hop_seconds": OPENL3_HOP,
        "center": True,
        "weights": _openl3_weights_key(),
    }
    return [
        FeatureSpec(
            FEATURE_LOGMEL,
            F.logmel96,
            sample_rate=F.SAMPLE_RATE,
            params={
                "n_fft": F.N_FFT,
                "hop_length": F.HOP,
                "n_mels": F.N_MELS,
                "window": "hann",
                "center": True,
                "fmin": 0.0,
                "mel": "slaney",
                "db": "power, amin=1e-10",
            },
            version="1",
            frames_per_second=F.FRAMES_PER_SECOND,
            description="96-band log-mel spectrogram (dB), n_fft 2048, hop 710 at 44.1 kHz",
        ),
        FeatureSpec(
            FEATURE_MUSICNN,
            F.musicnn_embedding,
            sample_rate=W.MUSICNN_SAMPLE_RATE,
            params={
                "checkpoint": "MSD_musicnn (musicnn 0.1.0 wheel)",
                "layer": "penultimate",
                "patch_frames": W.MUSICNN_PATCH_FRAMES,
                "hop_frames": W.MUSICNN_PATCH_FRAMES,
            },
            version="1",
            frames_per_second=W.MUSICNN_SAMPLE_RATE / (W.MUSICNN_HOP * W.MUSICNN_PATCH_FRAMES),
            description="musicnn MSD_musicnn 200-d penultimate layer per 3 s patch "
            "(substitute for OpenL3: pretrained and available offline)",
        ),
        FeatureSpec(
            FEATURE_OPENL3,
            functools.partial(F.openl3_embedding, input_repr=OPENL3_REPR, hop_seconds=OPENL3_HOP),
            sample_rate=W.OPENL3_SAMPLE_RATE,
            params=openl3_params,
            version="1",
            frames_per_second=1.0 / OPENL3_HOP,
            description=f"OpenL3 {OPENL3_REPR} music 512-d per 1 s window every {OPENL3_HOP} s "
            f"(needs {W.OPENL3_ENV_WEIGHTS})",
        ),
    ]


def _openl3_weights_key() -> str:
    """The weight file's digest for the cache key (``missing`` when not set up: then
    extraction stops with what to provide, and nothing is cached)."""
    from genrebench.errors import ConfigError

    try:
        return W.weights_digest(W.resolve_openl3_weights(OPENL3_REPR))
    except (ConfigError, OSError):
        return "missing"


def create_resnet(setup: ModelSetup):
    """Factory of ``lukashevich2023/resnet`` (imports torch on first use)."""
    from genrebench_lukashevich2023.networks import create_resnet

    return create_resnet(setup)


def create_mlp(setup: ModelSetup):
    """Factory of ``lukashevich2023/mlp`` (imports torch on first use)."""
    from genrebench_lukashevich2023.networks import create_mlp

    return create_mlp(setup)


def _models() -> list[ModelSpec]:
    return [
        ModelSpec(
            MODEL_RESNET,
            create_resnet,
            tasks=("single-label",),
            description="ResNet of Fig. 1 on 96×186 mel patches: conv 64 5×5, residual blocks "
            "64 (3,1) / 64 (3,3) / 64 (3,3) / 128 (3,1) / 256 (1,1) with dropout 0.1 and 2×2 "
            "average pools, global average pooling (393 k parameters for 8 classes)",
        ),
        ModelSpec(
            MODEL_MLP,
            create_mlp,
            tasks=("single-label",),
            description="MLP on embedding vectors: 256 and 128 ReLU units, dropout 0.25",
        ),
    ]


#: The fixed temperatures of the paper's Fig. 7 (OpenL3+MLP).  The paper divides "the
#: output logits of the neural network" by T, and the network's outputs are per patch (per
#: embedding vector), averaged per file afterwards: so every experiment's calibrator acts
#: on the segment level (``segment-temperature``: each patch's logits divided by T, then
#: the file-wise mean), fitted on the validation files, and the Fig. 7 variants use a fixed
#: ``segment-temperature=T``.
CALIBRATION = "segment-temperature"
FIXED_TEMPERATURES = ("1.25", "1.5", "1.75")


def _tempered(exp: ExperimentSpec, temperature: str) -> ExperimentSpec:
    """``exp`` calibrated with a fixed temperature on each patch's logits instead of a
    fitted one (the model and its raw columns are the same; the ``*_calibrated`` columns use
    this T)."""
    return replace(
        exp,
        name=f"{exp.name}-t{temperature}",
        calibration=f"{CALIBRATION}={temperature}",
        description=exp.description.replace(
            "calibration by a temperature on each patch's logits fitted on validation",
            f"calibration: fixed temperature T = {temperature} on each patch's logits "
            "(paper Fig. 7)",
        ),
        reported=(),
    )


#: MC dropout (recommended by the paper, not run there): stochastic passes per input at
#: prediction, dropout active and batch norm in eval mode (the core's ``mc_dropout`` key).
MC_PASSES = {"quick": 3, "paper": 20}


def _mc_dropout(exp: ExperimentSpec, quick: bool = True) -> ExperimentSpec:
    """``exp`` predicting with MC dropout (same training; prediction averages passes).
    ``quick=False`` leaves out the ``quick`` profile, so the main job does not train the
    model a second time just for this."""
    profiles = {
        name: {**budget, "mc_dropout": MC_PASSES.get(name, MC_PASSES["paper"])}
        for name, budget in exp.profiles.items()
        if quick or name != "quick"
    }
    return replace(
        exp,
        name=f"{exp.name}-mc-dropout",
        profiles=profiles,
        description=f"{exp.description}; MC dropout at prediction ({MC_PASSES['paper']} "
        + (f"passes, {MC_PASSES['quick']} in quick;" if quick else "passes; no quick profile;")
        + " recommended by the paper, not run there)",
        reported=(),
    )


def _experiments() -> list[ExperimentSpec]:
    base = _base_experiments()
    by_name = {e.name: e for e in base}
    tempered = [
        _tempered(by_name[f"{PREFIX}/{name}"], t)
        for name in ("openl3-mlp", "musicnn-mlp")
        for t in FIXED_TEMPERATURES
    ]
    mc = [
        _mc_dropout(by_name[f"{PREFIX}/resnet"], quick=False),  # the ResNet dominates quick
        _mc_dropout(by_name[f"{PREFIX}/openl3-mlp"]),
        _mc_dropout(by_name[f"{PREFIX}/musicnn-mlp"]),
    ]
    return base + tempered + mc


def _base_experiments() -> list[ExperimentSpec]:
    common: dict[str, Any] = {"tasks": ("single-label",), "paper": PAPER}
    return [
        ExperimentSpec(
            name=f"{PREFIX}/resnet",
            feature=FEATURE_LOGMEL,
            model=MODEL_RESNET,
            profiles={"quick": dict(QUICK_RESNET), "paper": dict(PAPER_BUDGET)},
            segments=PATCHES,
            aggregation="mean",
            extra_aggregations=("vote",),
            description="ResNet on 3 s mel patches (1 s hop), file-wise mean of patch "
            "probabilities; calibration by a temperature on each patch's logits fitted on "
            "validation; profile quick trains a RESIZED ResNet (quarter width, patches "
            "averaged 3 × 3), not the paper's",
            reported=REPORTED_RESNET,
            calibration=CALIBRATION,
            **common,
        ),
        ExperimentSpec(
            name=f"{PREFIX}/openl3-mlp",
            feature=FEATURE_OPENL3,
            model=MODEL_MLP,
            profiles={"quick": dict(QUICK_MLP), "paper": dict(PAPER_BUDGET)},
            segments=EMBEDDINGS,
            aggregation="mean",
            description=f"OpenL3 ({OPENL3_REPR}, music, 512-d, 1 s windows every {OPENL3_HOP} s)"
            " + MLP, file-wise mean; calibration by a temperature on each patch's logits "
            "fitted on validation; needs user-supplied torchopenl3 weights",
            reported=REPORTED_OPENL3,
            requires_weights=W.weights_needed(OPENL3_REPR),
            calibration=CALIBRATION,
            **common,
        ),
        ExperimentSpec(
            name=f"{PREFIX}/musicnn-mlp",
            feature=FEATURE_MUSICNN,
            model=MODEL_MLP,
            profiles={"quick": dict(QUICK_MLP), "paper": dict(PAPER_BUDGET)},
            segments=EMBEDDINGS,
            aggregation="mean",
            description="SUBSTITUTE for OpenL3+MLP (not in the paper): the same MLP on "
            "pretrained musicnn MSD_musicnn embeddings (200-d penultimate layer, 3 s "
            "patches), file-wise mean; calibration by a temperature on each patch's logits "
            "fitted on validation; runs offline from the musicnn wheel's checkpoint",
            calibration=CALIBRATION,
            **common,
        ),
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
