"""A small, shared PyTorch training loop that satisfies the :class:`~genrebench.specs.Model`
protocol, so a plugin only writes its network.

    def create(setup: ModelSetup) -> TorchClassifier:
        net = MyNet(n_classes=len(setup.classes))
        return TorchClassifier(net, setup, TrainConfig.from_budget(setup.budget, lr=1e-3))

Single-label tasks train with cross-entropy and predict a softmax; multi-label tasks train
with binary cross-entropy on independent sigmoid outputs.  The network returns logits.
torch is imported here, not by the core's top level, so listing plugins stays fast.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from genrebench.augment import SpectrogramAugment
from genrebench.errors import ConfigError
from genrebench.specs import ModelSetup


@dataclass
class TrainConfig:
    """Optimisation settings.  ``lr_schedule(step) -> factor`` multiplies ``lr`` after each
    optimiser step (``None``: constant).  ``patience`` enables early stopping on validation
    loss (the best weights are restored); it needs validation data.  The history's
    ``train_loss`` is the data loss without the ``l1`` penalty, which is recorded apart
    (``l1_penalty``, at the end of each epoch); single-label models also record
    ``train_accuracy``, over the epoch's batches as trained (the number papers report)."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    patience: int | None = None
    lr_schedule: Callable[[int], float] | None = None
    #: "global": one mean/std over all training inputs; "feature": one per input element;
    #: None: inputs used as they are.  Statistics come from the training data only.
    standardize: str | None = None
    #: "xavier" re-initialises every conv/linear weight (Glorot uniform, zero bias).
    init: str | None = None
    #: torch intra-op threads while this model trains and predicts on the CPU (restored
    #: afterwards); None keeps torch's setting.  Tiny networks run faster on one thread,
    #: and on a shared 2-core machine extra threads mostly wait on each other.
    threads: int | None = None
    #: On-the-fly augmentation of training batches, e.g. ``{"noise": 0.05, "time_mask": 20}``
    #: (see :mod:`genrebench.augment`); None: off.  Never applied when evaluating.
    augment: Mapping[str, Any] | None = None
    #: L1 penalty: ``l1 * sum(|p|)`` over every trainable parameter (weights and biases)
    #: is added to each batch's loss, as TensorFlow's ``l1_regularizer`` applied to all
    #: trainable variables does.  0 turns it off.
    l1: float = 0.0
    #: Train with ``torch.use_deterministic_algorithms(True, warn_only=True)`` (restored
    #: afterwards): ops with a deterministic variant use it; the others warn.
    deterministic: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_budget(cls, budget: Mapping[str, Any], **defaults: Any) -> TrainConfig:
        """Defaults (usually the experiment's model params) overridden by the profile's
        budget; unknown keys go to ``extra``."""
        names = {f.name for f in fields(cls)}
        merged = {**defaults, **budget}
        known = {k: v for k, v in merged.items() if k in names and k != "extra"}
        extra = {k: v for k, v in merged.items() if k not in names}
        config = cls(**known, extra=extra)
        if config.epochs < 1 or config.batch_size < 1 or not config.lr > 0:
            raise ConfigError(
                f"epochs and batch_size must be >= 1 and lr > 0, got epochs={config.epochs},"
                f" batch_size={config.batch_size}, lr={config.lr}"
            )
        SpectrogramAugment.from_config(config.augment)  # a bad setting fails before training
        if not config.l1 >= 0:
            raise ConfigError(f"l1 must be >= 0, got {config.l1!r}")
        return config

    @classmethod
    def from_settings(
        cls,
        *settings: Mapping[str, Any],
        leave_out: Iterable[str] = (),
        **overrides: Any,
    ) -> TrainConfig:
        """The training settings of layered mappings, later ones overriding earlier ones
        (typically the plugin's defaults < the experiment's ``model_params`` < the
        profile's budget), without the keys in ``leave_out`` (a model's architecture keys)
        and without the core's subset sizes (``max_train_tracks`` and the like, see
        :func:`is_subset_size`), which the core applies to the split, not to training.
        ``overrides`` (e.g. an ``lr_schedule`` object built from the settings) come last.
        """
        skip = set(leave_out)
        merged: dict[str, Any] = {}
        for layer in settings:
            merged.update(layer)
        train = {k: v for k, v in merged.items() if k not in skip and not is_subset_size(k)}
        return cls.from_budget({}, **train, **overrides)


def is_subset_size(key: str) -> bool:
    """Whether a budget key is one of the core's subset sizes (``max_train_tracks``,
    ``max_valid_tracks``, ``max_test_tracks``: see :class:`~genrebench.specs.ExperimentSpec`),
    which the core consumes when it splits the data and a model never sees as a setting."""
    return key.startswith("max_") and key.endswith("_tracks")


def count_parameters(module: nn.Module) -> int:
    """The number of parameters of ``module``, trainable or frozen; buffers (batch norm's
    running statistics) are not parameters and are not counted."""
    return sum(p.numel() for p in module.parameters())


def resolve_device(requested: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cuda`` without CUDA is an error."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but torch sees no CUDA device")
    if requested not in {"cpu", "cuda"}:
        raise ConfigError(f"--device must be auto, cpu or cuda, got {requested!r}")
    return requested


@contextmanager
def deterministic_algorithms(enabled: bool = True) -> Iterator[None]:
    """Run the block with ``torch.use_deterministic_algorithms(enabled, warn_only=True)``,
    then restore the previous setting.  Deterministic cuBLAS also needs
    ``CUBLAS_WORKSPACE_CONFIG`` before its first use, so it is set (``:4096:8``) unless the
    user set it."""
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def l1_norm(module: nn.Module) -> torch.Tensor:
    """``sum(|p|)`` over every trainable parameter of ``module``."""
    return sum(p.abs().sum() for p in module.parameters() if p.requires_grad)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``, then restore the previous count."""
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def xavier_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every convolution (transposed ones
    included) and linear layer, in ``module.modules()`` order: Keras' default
    initialisation (``glorot_uniform`` kernels, zero biases; batch norm keeps scale 1,
    shift 0)."""
    for m in module.modules():
        if isinstance(m, _GLOROT_LAYERS):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


_GLOROT_LAYERS = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
)

_DROPOUT_TYPES = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)


def dropout_layers(module: nn.Module) -> list[nn.Module]:
    """The dropout layers of ``module`` (functional dropout inside ``forward`` is not seen)."""
    return [m for m in module.modules() if isinstance(m, _DROPOUT_TYPES)]


def mc_dropout_passes(setup: ModelSetup) -> int:
    """``mc_dropout: N`` from the budget (first) or the model parameters: the number of
    stochastic prediction passes, 0 (or absent) for an ordinary deterministic prediction."""
    value = setup.budget.get("mc_dropout", setup.params.get("mc_dropout", 0))
    try:
        passes = int(value or 0)
    except (TypeError, ValueError):
        passes = -1
    if passes < 0 or (value not in (None, False) and float(value) != passes):
        raise ConfigError(f"mc_dropout must be a whole number of passes >= 0, got {value!r}")
    return passes


class TorchClassifier:
    """Trains ``module`` (inputs ``(n, *input_shape)`` -> logits ``(n, n_classes)``).

    Inputs may be arrays or lazy arrays (:mod:`genrebench.features.lazy`): batches are read and
    standardised as they are consumed, so memory does not grow with the data set.

    ``mc_dropout: N`` in the experiment's budget or model parameters makes
    :meth:`predict_proba` average N stochastic passes with the dropout layers active and
    batch norm in eval mode (MC dropout), seeded by the job's seed."""

    accepts_lazy_inputs = True

    def __init__(self, module: nn.Module, setup: ModelSetup, config: TrainConfig) -> None:
        self.setup = setup
        self.config = config
        self.device = torch.device(setup.device)
        torch.manual_seed(setup.seed)
        if config.init == "xavier":
            xavier_init(module)
        elif config.init is not None:
            raise ConfigError(f"unknown init {config.init!r}; expected 'xavier' or None")
        self.module = module.to(self.device)
        self.multilabel = setup.task == "multi-label"
        self.mc_dropout = mc_dropout_passes(setup)
        self.history: list[dict[str, float]] = []
        self._mean: np.ndarray | float = 0.0
        self._std: np.ndarray | float = 1.0

    # ------------------------------------------------------------------ Model protocol
    def n_parameters(self) -> int:
        return count_parameters(self.module)

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        x_valid: np.ndarray | None = None,
        y_valid: np.ndarray | None = None,
    ) -> None:
        with self._threads(), deterministic_algorithms(self.config.deterministic):
            self._fit(x, y, x_valid, y_valid)

    @torch.no_grad()
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        with self._threads():
            if self.mc_dropout:
                return self._mc_dropout_proba(x)
            return self._predict_proba(x)

    def _threads(self):
        return torch_threads(self.config.threads if self.device.type == "cpu" else None)

    def _fit(self, x, y, x_valid, y_valid) -> None:
        cfg = self.config
        self._fit_standardizer(x)
        yt = self._labels(y)
        has_valid = x_valid is not None and len(x_valid) > 0
        if cfg.patience is not None and not has_valid:
            raise ConfigError("early stopping (patience) needs a validation split")
        yv = self._labels(y_valid) if has_valid else None
        optimizer = self._optimizer()
        scheduler = (
            torch.optim.lr_scheduler.LambdaLR(optimizer, cfg.lr_schedule)
            if cfg.lr_schedule is not None
            else None
        )
        loss_fn = self._loss()
        generator = torch.Generator().manual_seed(self.setup.seed)
        augment = SpectrogramAugment.from_config(cfg.augment)
        # Its own stream, so turning augmentation on leaves the batch order unchanged.
        augment_rng = torch.Generator().manual_seed(self.setup.seed + 0x5EED)
        best_loss, best_state, waited = math.inf, None, 0
        epochs = range(cfg.epochs)
        if self.setup.progress:
            # lazy: loads tqdm, not needed at import time
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="train", unit="epoch", leave=False)
        for epoch in epochs:
            self.module.train()
            order = torch.randperm(len(x), generator=generator)
            total, seen, correct, counted = 0.0, 0, 0, 0
            for start in range(0, len(order), cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                xb, yb = self._inputs(x, idx.numpy()).to(self.device), yt[idx].to(self.device)
                if augment is not None:
                    xb = augment(xb, augment_rng)
                optimizer.zero_grad(set_to_none=True)
                logits = self.module(xb)
                loss = loss_fn(logits, yb)
                objective = loss + cfg.l1 * l1_norm(self.module) if cfg.l1 else loss
                objective.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                total += float(loss.detach()) * len(idx)
                seen += len(idx)
                if not self.multilabel and yb.dim() == 1:  # class indices
                    correct += int((logits.detach().argmax(dim=1) == yb).sum())
                    counted += len(idx)
            record = {
                "epoch": epoch + 1,
                "train_loss": total / seen,
                "lr": optimizer.param_groups[0]["lr"],
            }
            if counted:
                # As Keras reports it (and the papers compared with): over the epoch's
                # batches as trained, in training mode (dropout, augmentation).
                record["train_accuracy"] = correct / counted
            if cfg.l1:
                with torch.no_grad():
                    record["l1_penalty"] = float(cfg.l1 * l1_norm(self.module))
            if has_valid:
                record["valid_loss"] = self._evaluate_loss(x_valid, yv, loss_fn)
            self.history.append(record)
            if cfg.patience is not None:
                if record["valid_loss"] < best_loss - 1e-6:
                    best_loss, waited = record["valid_loss"], 0
                    best_state = copy.deepcopy(self.module.state_dict())
                else:
                    waited += 1
                    if waited >= cfg.patience:
                        break
        if best_state is not None:
            self.module.load_state_dict(best_state)

    @torch.no_grad()
    def _predict_proba(self, x: np.ndarray, dropout: bool = False) -> np.ndarray:
        self.module.eval()
        if dropout:  # MC dropout: dropout layers sample, batch norm keeps its running stats
            for layer in dropout_layers(self.module):
                layer.train()
        out = []
        size = max(self.config.batch_size, 256)
        for start in range(0, len(x), size):
            logits = self.module(self._inputs(x, slice(start, start + size)).to(self.device))
            probs = torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=1)
            out.append(probs.double().cpu().numpy())
        return np.concatenate(out, axis=0)

    @torch.no_grad()
    def _mc_dropout_proba(self, x: np.ndarray) -> np.ndarray:
        """Mean of ``self.mc_dropout`` stochastic passes (Gal and Ghahramani 2016), seeded by
        the job's seed on a forked RNG: the same call gives the same masks, and the global
        random state is left as it was."""
        if not dropout_layers(self.module):
            raise ConfigError(
                "mc_dropout needs dropout layers (torch.nn.Dropout and its variants) in the "
                "network; this one has none"
            )
        devices = [self.device] if self.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(self.setup.seed)
                total = sum(self._predict_proba(x, dropout=True) for _ in range(self.mc_dropout))
        finally:
            self.module.eval()
        return total / self.mc_dropout

    # ------------------------------------------------------------------ helpers
    def loss_on(self, x: np.ndarray, y: np.ndarray) -> float:
        """Mean training loss of the current weights on ``(x, y)`` (used by tests)."""
        return self._evaluate_loss(x, self._labels(y), self._loss())

    @torch.no_grad()
    def _evaluate_loss(self, x, y: torch.Tensor, loss_fn: nn.Module) -> float:
        self.module.eval()
        total = 0.0
        for start in range(0, len(x), 256):
            xb = self._inputs(x, slice(start, start + 256)).to(self.device)
            yb = y[start : start + 256].to(self.device)
            total += float(loss_fn(self.module(xb), yb)) * len(xb)
        return total / len(x)

    def _loss(self) -> nn.Module:
        return nn.BCEWithLogitsLoss() if self.multilabel else nn.CrossEntropyLoss()

    def _optimizer(self) -> torch.optim.Optimizer:
        cfg, params = self.config, self.module.parameters()
        if cfg.optimizer == "adam":
            return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        if cfg.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        if cfg.optimizer == "sgd":
            momentum = float(cfg.extra.get("momentum", 0.9))
            return torch.optim.SGD(
                params, lr=cfg.lr, momentum=momentum, weight_decay=cfg.weight_decay
            )
        raise ConfigError(f"unknown optimizer {cfg.optimizer!r}; expected adam, adamw or sgd")

    def _fit_standardizer(self, x) -> None:
        mode = self.config.standardize
        if mode is not None and not isinstance(x, np.ndarray):
            mean, std = _moments(x, per_element=mode == "feature")
        if mode == "global":
            if isinstance(x, np.ndarray):
                mean, std = float(x.mean()), float(x.std())
            self._mean, self._std = mean, std or 1.0
        elif mode == "feature":
            if isinstance(x, np.ndarray):
                mean, std = x.mean(axis=0), x.std(axis=0)
            self._mean = mean
            self._std = np.where(std > 0, std, 1.0)
        elif mode is not None:
            raise ConfigError(f"unknown standardize {mode!r}; expected 'global', 'feature' or None")

    def _standardize(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float32) - self._mean) / self._std).astype(np.float32)

    def _inputs(self, x, rows) -> torch.Tensor:
        """Standardised float32 tensor of ``x[rows]`` (``x`` an array or a lazy array)."""
        return torch.from_numpy(self._standardize(x[rows]))

    def _labels(self, y: np.ndarray) -> torch.Tensor:
        yt = torch.from_numpy(np.asarray(y))
        return yt.float() if self.multilabel else yt.long()


def _moments(x, per_element: bool, rows: int = 1024) -> tuple[Any, Any]:
    """Mean and standard deviation of a lazy array, read ``rows`` at a time: over every
    value, or per element (over the first axis) with ``per_element``."""
    count, total, squares = 0, 0.0, 0.0
    for start in range(0, len(x), rows):
        chunk = np.asarray(x[start : start + rows], dtype=np.float64)
        count += chunk.shape[0] if per_element else chunk.size
        total = total + (chunk.sum(axis=0) if per_element else chunk.sum())
        squares = squares + ((chunk**2).sum(axis=0) if per_element else (chunk**2).sum())
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    if per_element:
        return mean.astype(np.float32), std.astype(np.float32)
    return float(mean), float(std)
