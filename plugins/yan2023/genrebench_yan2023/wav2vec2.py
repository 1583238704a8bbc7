"""The paper's Wav2Vec2 classifiers (§4.3): a pretrained Wav2Vec2 encoder with all but its
last k transformer layers frozen, mean pooling over time and a small head, and the
"biased/main" pair trained through one combined loss.

``transformers`` is imported only here, when a model is built (``pip install
'genrebench-yan2023[wav2vec2]'``).  The weights are the user's: a local folder as saved by
``transformers`` (``config.json`` and ``model.safetensors`` or ``pytorch_model.bin``), named
by the model option ``base_checkpoint`` / ``large_checkpoint`` or the environment variable
``GENREBENCH_WAV2VEC2_BASE`` / ``GENREBENCH_WAV2VEC2_LARGE``.  Nothing is downloaded, and a
missing folder stops the job with a message saying what to provide: never random weights.

* Input: one 1 s excerpt of 16 kHz audio (the first 16 000 samples of a 3 s window, as
  the authors' dataset class truncates it), z-normalised on its own (zero mean, unit
  variance, as ``Wav2Vec2FeatureExtractor(do_normalize=True)``).
* Encoder: ``Wav2Vec2Model``; every parameter frozen except the last k transformer layers
  (k = 0 freezes the whole encoder).  Dropout, layer drop and time masking follow the
  checkpoint's configuration in training mode, as in the authors' runs.
* Pooling: the mean of the last hidden states over time.
* Head: Linear(H, H) -> tanh -> Dropout(p) -> Linear(H, classes), the order of the
  authors' code and of the report's §4.3.3 (its §4.3.2 lists dropout before tanh).
* Biased/main: in training the loss is the negative log-likelihood of the mixture
  ``w·softmax(main) + (1 − w)·softmax(biased)`` (the authors' ``bias_add_loss``); the main
  model alone predicts; ``w`` = 1 − ``biased_weight`` (0.9: see the README on α).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from genrebench import ModelSetup
from genrebench.errors import ConfigError
from genrebench.training import TorchClassifier, TrainConfig
from genrebench_yan2023.budget import merged
from genrebench_yan2023.weights import WEIGHT_FILES, checkpoint_folder

INSTALL_HINT = "pip install 'genrebench-yan2023[wav2vec2]'"
BIASED_TRAINABLE = ("all", "head", "none")


#: Weights a Wav2Vec2 checkpoint may hold beyond the encoder: the heads of
#: ``Wav2Vec2ForPreTraining`` (``facebook/wav2vec2-base`` itself: quantizer and projections),
#: ``...ForCTC`` and ``...ForSequenceClassification``; they are not used.
HEAD_PREFIXES = (
    "quantizer.",
    "project_hid.",
    "project_q.",
    "lm_head.",
    "projector.",
    "classifier.",
)
EXPECTED_WEIGHTS = (
    "expected a Wav2Vec2 checkpoint folder as saved by transformers (config.json and "
    "model.safetensors or pytorch_model.bin, e.g. a copy of facebook/wav2vec2-base)"
)


def load_encoder(folder: Path) -> nn.Module:
    """``transformers.Wav2Vec2Model`` with the weights in ``folder`` (never downloads).

    The weights must fit the encoder exactly: a file that does not load (empty, text such
    as a Git LFS pointer, truncated) or a state dict with missing encoder weights (they
    would start random), unexpected ones beyond the known heads (:data:`HEAD_PREFIXES`)
    or weights of another shape is a :class:`ConfigError` naming the file, as the OpenL3
    port does, before any training."""
    try:
        import transformers
        from transformers import Wav2Vec2Model
    except ImportError as exc:
        raise ConfigError(
            f"the Wav2Vec2 experiments need the transformers package: {INSTALL_HINT}"
        ) from exc
    file = next(folder / name for name in WEIGHT_FILES if (folder / name).is_file())
    expected = EXPECTED_WEIGHTS
    problem = _weight_file_problem(file)
    if problem is not None:
        raise ConfigError(f"Wav2Vec2 weights {file} {problem}; {expected}")
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # our message replaces its load report
    try:
        encoder, info = Wav2Vec2Model.from_pretrained(
            str(folder), local_files_only=True, output_loading_info=True
        )
    except Exception as exc:
        raise ConfigError(
            f"cannot read Wav2Vec2 weights {file}: {type(exc).__name__}: {exc}; {expected}"
        ) from exc
    finally:
        transformers.logging.set_verbosity(verbosity)
    missing = sorted(info.get("missing_keys", ()))
    unexpected = sorted(
        k for k in info.get("unexpected_keys", ()) if not k.startswith(HEAD_PREFIXES)
    )
    wrong = sorted(
        str(k[0] if isinstance(k, tuple) else k) for k in info.get("mismatched_keys", ())
    )
    if missing or unexpected or wrong:
        details = "; ".join(
            f"{what}: {', '.join(items[:4])}{' ...' if len(items) > 4 else ''} ({len(items)})"
            for what, items in (("missing", missing), ("unexpected", unexpected), ("shape", wrong))
            if items
        )
        raise ConfigError(
            f"Wav2Vec2 weights {file} do not fit the Wav2Vec2 encoder of {folder / 'config.json'}"
            f" ({details}): they are not a Wav2Vec2 checkpoint, or another size's; {expected}"
        )
    return encoder


def _weight_file_problem(file: Path) -> str | None:
    """Why ``file`` cannot hold weights at all, told before transformers tries it."""
    size = file.stat().st_size
    if size == 0:
        return "is empty (0 bytes)"
    with open(file, "rb") as handle:
        head = handle.read(256)
    if head.startswith(b"version https://git-lfs"):
        return "is a Git LFS pointer, not the weights (fetch them: git lfs pull)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if all(c.isprintable() or c.isspace() for c in text):
        return f"is text ({text[:40]!r}...), not a state dict"
    return None


def freeze_all_but_last(encoder: nn.Module, k: int) -> None:
    """Freeze every parameter of ``encoder`` except those of its last ``k`` transformer
    layers (``encoder.encoder.layers``)."""
    layers = encoder.encoder.layers
    if not 0 <= k <= len(layers):
        raise ConfigError(f"trainable_layers must be 0..{len(layers)}, got {k}")
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    for layer in layers[len(layers) - k :]:
        for parameter in layer.parameters():
            parameter.requires_grad_(True)


def znormalise(x: torch.Tensor) -> torch.Tensor:
    """Each row to zero mean and unit variance (``Wav2Vec2FeatureExtractor``'s rule)."""
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + 1e-7)


def classifier_head(hidden: int, n_classes: int, dropout: float) -> nn.Sequential:
    """Linear(H, H) -> tanh -> Dropout -> Linear(H, classes): the authors' ``projector``,
    ``tanh_f``, ``dropout``, ``classifier`` in the order their ``forward`` calls them."""
    return nn.Sequential(
        nn.Linear(hidden, hidden), nn.Tanh(), nn.Dropout(dropout), nn.Linear(hidden, n_classes)
    )


class Wav2Vec2Classifier(nn.Module):
    """``(n, samples)`` 16 kHz segments -> ``(n, classes)`` logits.

    Out of training mode the batch is processed in chunks of ``eval_batch_size`` segments,
    so evaluating hundreds of segments at once does not hold all their activations."""

    def __init__(
        self,
        encoder: nn.Module,
        n_classes: int,
        *,
        trainable_layers: int = 2,
        dropout: float = 0.1,
        eval_batch_size: int = 16,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        freeze_all_but_last(encoder, trainable_layers)
        self.head = classifier_head(int(encoder.config.hidden_size), n_classes, dropout)
        self.eval_batch_size = int(eval_batch_size)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of the encoder's last hidden states over time: ``(n, hidden)``."""
        return self.encoder(znormalise(x)).last_hidden_state.mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.head(self.pooled(x))
        return torch.cat(
            [self.head(self.pooled(chunk)) for chunk in x.split(self.eval_batch_size)], dim=0
        )


class BiasedMain(nn.Module):
    """Two classifiers of the same structure combined only in training: the output is then
    ``log(main_weight·softmax(main) + (1 − main_weight)·softmax(biased))``, whose
    cross-entropy is the NLL of the mixture; the main one's logits alone otherwise.

    ``biased_trainable``: ``"all"`` (every biased parameter learns), ``"head"`` (its
    encoder frozen, its head learns) or ``"none"`` (no gradient reaches it at all)."""

    def __init__(
        self,
        main: Wav2Vec2Classifier,
        biased: Wav2Vec2Classifier,
        *,
        main_weight: float = 0.9,
        biased_trainable: str = "all",
    ) -> None:
        super().__init__()
        if biased_trainable not in BIASED_TRAINABLE:
            raise ConfigError(
                f"biased_trainable must be one of {BIASED_TRAINABLE}, got {biased_trainable!r}"
            )
        if not 0.0 <= main_weight <= 1.0:
            raise ConfigError(f"the main model's weight must be in [0, 1], got {main_weight}")
        self.main, self.biased = main, biased
        self.main_weight = float(main_weight)
        self.biased_trainable = biased_trainable
        if biased_trainable == "all":
            biased.requires_grad_(True)
        else:
            biased.encoder.requires_grad_(False)
            biased.head.requires_grad_(biased_trainable == "head")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.main(x)
        main = self.main(x)
        if self.biased_trainable == "none":
            with torch.no_grad():
                biased = self.biased(x)
        else:
            biased = self.biased(x)
        return mixture_log_probs(main, biased, self.main_weight)


def mixture_log_probs(main: torch.Tensor, biased: torch.Tensor, main_weight: float) -> torch.Tensor:
    """The training-time prediction of the pair as log-probabilities:
    ``log(w·softmax(main) + (1 − w)·softmax(biased))``, computed stably (log-sum-exp).

    The authors' ``bias_add_loss`` takes ``nll_loss(log(ensemble_probs))`` of exactly this
    mixture; a row of log-probabilities is its own log-softmax, so the cross-entropy that
    the training loop applies to it is that NLL."""
    weights = torch.tensor([main_weight, 1.0 - main_weight], dtype=main.dtype)
    stacked = torch.stack(
        [torch.log_softmax(main, dim=-1), torch.log_softmax(biased, dim=-1)], dim=0
    )
    log_weights = torch.log(weights).to(main.device).view(2, *[1] * main.dim())
    return torch.logsumexp(stacked + log_weights, dim=0)


# --------------------------------------------------------------------------- factories
#: Defaults: the authors' settings (batch 32, lr 1e-3, dropout 0.1, Adam, 100 epochs with
#: the best validation epoch kept; our early stopping uses the validation loss, patience 10).
DEFAULTS: dict[str, Any] = {
    "size": "base",
    "trainable_layers": 2,
    "dropout": 0.1,
    "eval_batch_size": 16,
    "lr": 1e-3,
    "batch_size": 32,
    "epochs": 100,
    "patience": 10,
    "optimizer": "adam",
}
BIASED_MAIN_DEFAULTS: dict[str, Any] = {
    **DEFAULTS,
    "size": "large",  # the main model's
    "biased_size": "base",
    "biased_trainable": "all",
    "biased_weight": 0.1,
    "main_init": "pretrained",  # or "finetuned": first fine-tune main alone
    "finetune_lr": 1e-4,
}
MODEL_KEYS = (
    "size",
    "trainable_layers",
    "dropout",
    "eval_batch_size",
    "base_checkpoint",
    "large_checkpoint",
    "biased_size",
    "biased_trainable",
    "biased_weight",
    "main_init",
    "finetune_lr",
)


def _check_input(setup: ModelSetup) -> None:
    if len(setup.input_shape) != 1:
        raise ConfigError(
            f"the Wav2Vec2 models take 1-D audio segments, got input shape {setup.input_shape}"
        )
    if setup.task != "single-label":
        raise ConfigError("the Wav2Vec2 models of this plugin are single-label")


def build_classifier(size: str, setup: ModelSetup, params: Mapping[str, Any]) -> Wav2Vec2Classifier:
    encoder = load_encoder(checkpoint_folder(size, params))
    return Wav2Vec2Classifier(
        encoder,
        len(setup.classes),
        trainable_layers=int(params["trainable_layers"]),
        dropout=float(params["dropout"]),
        eval_batch_size=int(params["eval_batch_size"]),
    )


def create(setup: ModelSetup) -> TorchClassifier:
    """Factory of ``yan2023/wav2vec2``: one classifier."""
    _check_input(setup)
    params = merged(DEFAULTS, setup.params)
    net = build_classifier(str(params["size"]), setup, params)
    config = TrainConfig.from_settings(DEFAULTS, setup.params, setup.budget, leave_out=MODEL_KEYS)
    return TorchClassifier(net, setup, config)


class FinetunedMainThenBiasedMain:
    """Table 6's best row in one job: fine-tune the main model alone (lr ``finetune_lr``,
    Table 5's best large setting), then train it with the biased model (lr ``lr``)."""

    #: Inputs go to the two TorchClassifiers, which read lazy (cached) inputs batch by batch.
    accepts_lazy_inputs = True

    def __init__(self, setup: ModelSetup, params: Mapping[str, Any]) -> None:
        self.setup, self.params = setup, dict(params)
        self.stages: list[TorchClassifier] = []

    @property
    def history(self) -> list[dict[str, Any]]:
        return [{"stage": i + 1, **row} for i, s in enumerate(self.stages) for row in s.history]

    def n_parameters(self) -> int:
        return self.stages[-1].n_parameters()

    def fit(self, x, y, x_valid=None, y_valid=None) -> None:
        setup, params = self.setup, self.params
        main = build_classifier(str(params["size"]), setup, params)
        finetune = {**setup.params, "lr": params["finetune_lr"]}
        first = TorchClassifier(
            main,
            setup,
            TrainConfig.from_settings(DEFAULTS, finetune, setup.budget, leave_out=MODEL_KEYS),
        )
        self.stages = [first]
        first.fit(x, y, x_valid, y_valid)
        biased = build_classifier(str(params["biased_size"]), setup, params)
        pair = BiasedMain(
            first.module,
            biased,
            main_weight=1.0 - float(params["biased_weight"]),
            biased_trainable=str(params["biased_trainable"]),
        )
        second = TorchClassifier(
            pair,
            setup,
            TrainConfig.from_settings(DEFAULTS, setup.params, setup.budget, leave_out=MODEL_KEYS),
        )
        self.stages.append(second)
        second.fit(x, y, x_valid, y_valid)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.stages[-1].predict_proba(x)


def create_biased_main(setup: ModelSetup):
    """Factory of ``yan2023/wav2vec2-biased-main``."""
    _check_input(setup)
    params = merged(BIASED_MAIN_DEFAULTS, setup.params)
    # Both folders are checked before any training, so a missing one fails at once.
    checkpoint_folder(str(params["size"]), params)
    biased_folder = checkpoint_folder(str(params["biased_size"]), params)
    if params["main_init"] == "finetuned":
        # The biased encoder is built after the main one's fine-tuning: check its weights
        # load now, not minutes into the job.
        load_encoder(biased_folder)
        return FinetunedMainThenBiasedMain(setup, params)
    if params["main_init"] != "pretrained":
        raise ConfigError(
            f"main_init must be 'pretrained' or 'finetuned', got {params['main_init']!r}"
        )
    pair = BiasedMain(
        build_classifier(str(params["size"]), setup, params),
        build_classifier(str(params["biased_size"]), setup, params),
        main_weight=1.0 - float(params["biased_weight"]),
        biased_trainable=str(params["biased_trainable"]),
    )
    config = TrainConfig.from_settings(DEFAULTS, setup.params, setup.budget, leave_out=MODEL_KEYS)
    return TorchClassifier(pair, setup, config)
