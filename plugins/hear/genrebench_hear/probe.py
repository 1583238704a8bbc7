"""HEAR's downstream protocol for scene tasks: a shallow MLP probe on frozen embeddings,
its hyper-parameters chosen on the validation part (the model ``hear/mlp-probe``).

Followed from hear-eval-kit 2021.1.3, ``heareval/predictions/task_predictions.py``:

* the network (``FullyConnectedPrediction``): ``hidden_layers`` x [Linear(hidden_dim) ->
  BatchNorm1d -> Dropout(0.1) -> ReLU], then a Linear projection to the classes; weights
  initialised with ``initialization`` (xavier_uniform or xavier_normal) at gain 1 for the
  first layer and sqrt(2) after a ReLU, biases at torch's default; no normalisation of
  the embeddings (``embedding_norm`` is the identity);
* training: Adam at ``lr``, batches of 1024, cross-entropy (single-label; softmax
  outputs) or binary cross-entropy per label (multi-label; sigmoid outputs); every
  ``check_val_every_n_epoch`` epochs the validation score is computed -- top-1 accuracy,
  as for HEAR's genre task ``gtzan_genre``, or mean average precision for multi-label
  data, as HEAR's ``mAP`` --; training stops after ``patience`` checks without a strictly
  better score or after ``max_epochs``, and the weights of the best check are kept
  (EarlyStopping + ModelCheckpoint on the score);
* model selection: the grid ``PARAM_GRID`` (16 configurations), shuffled, and the first
  ``grid_points`` (hear-eval-kit's default: 8) trained; the configuration with the best
  validation score predicts the test tracks.

Where this differs: the grid is shuffled with the job's seed (hear-eval-kit: Python's
``random`` after ``seed_everything(42)``), and each configuration starts from a seed of its
own so that its result does not depend on the ones trained before it; batches are
shuffled every epoch (hear-eval-kit's loader does not shuffle; with 1024 or fewer training
tracks the one batch is the same set either way); a last training batch of a single track
is skipped, as batch normalisation cannot train on it (hear-eval-kit would fail).  The
``quick`` profile trains 4 of the 16 configurations for at most 100 epochs (``paper``:
hear-eval-kit's default, 8 for at most 500).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from typing import Any

import numpy as np

from genrebench import ModelSetup
from genrebench.errors import ConfigError

#: hear-eval-kit's default grid (task_predictions.PARAM_GRID), the options it fixes included.
PARAM_GRID: dict[str, list[Any]] = {
    "hidden_layers": [1, 2],
    "hidden_dim": [1024],
    "dropout": [0.1],
    "lr": [3.2e-3, 1e-3, 3.2e-4, 1e-4],
    "patience": [20],
    "max_epochs": [500],
    "check_val_every_n_epoch": [3],
    "batch_size": [1024],
    "initialization": ["xavier_uniform", "xavier_normal"],
}
GRID_POINTS = 8
PROTOCOL = "hear-eval-kit 2021.1.3 task_predictions (scene tasks)"


def grid(seed: int, points: int, overrides: Mapping[str, Any] | None = None) -> list[dict]:
    """The configurations to train: the grid (with ``overrides`` fixing some keys),
    shuffled by ``seed``, its first ``points``."""
    from sklearn.model_selection import ParameterGrid

    options = {k: list(v) for k, v in PARAM_GRID.items()}
    for key, value in (overrides or {}).items():
        if key not in options:
            raise ConfigError(f"hear/mlp-probe: unknown grid key {key!r}; known: {sorted(options)}")
        options[key] = list(value) if isinstance(value, list | tuple) else [value]
    configurations = list(ParameterGrid(options))
    random.Random(seed).shuffle(configurations)
    return configurations[:points]


class HearProbe:
    """The ``hear/mlp-probe`` model (see the module docstring).  ``history`` (the chosen
    configuration's epochs) and ``config`` (every configuration with its validation score)
    go to the job's ``provenance.json``."""

    def __init__(self, setup: ModelSetup) -> None:
        if len(setup.input_shape) != 1:
            raise ConfigError(
                f"hear/mlp-probe needs one embedding vector per track, got inputs of shape "
                f"{setup.input_shape}"
            )
        self.setup = setup
        self.multilabel = setup.task == "multi-label"
        budget = dict(setup.budget)
        self.points = int(budget.pop("grid_points", setup.params.get("grid_points", GRID_POINTS)))
        overrides = {**dict(setup.params.get("grid", {})), **budget.pop("grid", {})}
        for key in ("max_epochs", "patience", "check_val_every_n_epoch", "batch_size"):
            if key in budget:
                overrides[key] = budget.pop(key)
        self.configurations = grid(setup.seed, self.points, overrides)
        #: torch threads on the CPU (the ``threads`` budget key; default 1): the probe is
        #: small, and on a shared machine extra threads mostly wait on each other.
        self.threads = budget.pop("threads", setup.params.get("threads", 1))
        self.history: list[dict[str, float]] = []
        self.config: dict[str, Any] = {"protocol": PROTOCOL, "grid_points": self.points}
        self.module = None

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters()) if self.module is not None else 0

    def fit(self, x, y, x_valid=None, y_valid=None) -> None:
        if x_valid is None or len(x_valid) == 0:
            raise ConfigError(
                "hear/mlp-probe chooses its configuration on the validation part: the split "
                "has none (use a split with a valid part)"
            )
        results = []
        for index, configuration in enumerate(self.configurations):
            with self._threads():
                trained = self._train(index, configuration, x, y, x_valid, y_valid)
            module, score, history = trained
            results.append((score, index, module, history))
            self.config.setdefault("grid", []).append(
                {**configuration, "validation_score": score, "epochs": len(history)}
            )
        # The best score; among equals, the earliest in the shuffled order (a stable sort,
        # as hear-eval-kit's sort_grid_points).
        best = sorted(results, key=lambda r: -r[0])[0]
        _, chosen, self.module, self.history = best
        self.config["chosen"] = chosen
        self.config["validation_score"] = "accuracy" if not self.multilabel else "mAP"

    def predict_proba(self, x) -> np.ndarray:
        import torch

        self.module.eval()
        out = []
        with torch.no_grad(), self._threads():
            for start in range(0, len(x), 4096):
                logits = self.module(self._tensor(x[start : start + 4096]))
                probs = torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, 1)
                out.append(probs.double().cpu().numpy())
        return np.concatenate(out)

    def _threads(self):
        from genrebench.training import torch_threads

        on_cpu = str(self.setup.device).startswith("cpu")
        return torch_threads(int(self.threads) if on_cpu and self.threads else None)

    # ------------------------------------------------------------------ one configuration
    def _train(self, index: int, conf: Mapping[str, Any], x, y, x_valid, y_valid):
        import torch

        seed = self.setup.seed * 1000 + index
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        module = build_network(x.shape[1], len(self.setup.classes), conf).to(self.setup.device)
        optimizer = torch.optim.Adam(module.parameters(), lr=conf["lr"])
        loss_fn = torch.nn.BCEWithLogitsLoss() if self.multilabel else torch.nn.CrossEntropyLoss()
        xt, yt = self._tensor(x), self._labels(y)
        best, best_state, waited, history = -np.inf, None, 0, []
        for epoch in range(1, int(conf["max_epochs"]) + 1):
            module.train()
            order = torch.randperm(len(xt), generator=generator)
            total, seen = 0.0, 0
            for start in range(0, len(order), int(conf["batch_size"])):
                rows = order[start : start + int(conf["batch_size"])]
                if len(rows) < 2 and conf["hidden_layers"]:
                    continue  # batch normalisation cannot train on one track
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(module(xt[rows]), yt[rows])
                loss.backward()
                optimizer.step()
                total, seen = total + float(loss.detach()) * len(rows), seen + len(rows)
            record = {"epoch": epoch, "train_loss": total / max(seen, 1)}
            if epoch % int(conf["check_val_every_n_epoch"]) == 0:
                score = self._score(module, x_valid, y_valid)
                record["valid_score"] = score
                if score > best:
                    best, waited = score, 0
                    best_state = copy.deepcopy(module.state_dict())
                else:
                    waited += 1
            history.append(record)
            if waited >= int(conf["patience"]):
                break
        if best_state is None:  # fewer epochs than one check: score the last weights
            best = self._score(module, x_valid, y_valid)
        else:
            module.load_state_dict(best_state)
        return module, float(best), history

    def _score(self, module, x_valid, y_valid) -> float:
        """Top-1 accuracy (single-label) or macro average precision over the labels that
        have a positive track (multi-label) on the validation tracks."""
        self_module, self.module = self.module, module
        try:
            probs = self.predict_proba(x_valid)
        finally:
            self.module = self_module
        if not self.multilabel:
            return float(np.mean(probs.argmax(axis=1) == np.asarray(y_valid)))
        from sklearn.metrics import average_precision_score

        truth = np.asarray(y_valid)
        present = truth.sum(axis=0) > 0
        if not present.any():
            return 0.0
        return float(average_precision_score(truth[:, present], probs[:, present], average="macro"))

    def _tensor(self, x):
        import torch

        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.setup.device)

    def _labels(self, y):
        import torch

        labels = torch.from_numpy(np.asarray(y))
        labels = labels.float() if self.multilabel else labels.long()
        return labels.to(self.setup.device)


def build_network(n_features: int, n_classes: int, conf: Mapping[str, Any]):
    """hear-eval-kit's ``FullyConnectedPrediction`` (logits; see the module docstring)."""
    from torch import nn

    init = {"xavier_uniform": nn.init.xavier_uniform_, "xavier_normal": nn.init.xavier_normal_}
    initialise = init[conf["initialization"]]
    layers: list[nn.Module] = []
    width, last = n_features, "linear"
    for _ in range(int(conf["hidden_layers"])):
        linear = nn.Linear(width, int(conf["hidden_dim"]))
        initialise(linear.weight, gain=nn.init.calculate_gain(last))
        layers += [linear, nn.BatchNorm1d(int(conf["hidden_dim"])), nn.Dropout(conf["dropout"])]
        layers.append(nn.ReLU())
        width, last = int(conf["hidden_dim"]), "relu"
    projection = nn.Linear(width, n_classes)
    initialise(projection.weight, gain=nn.init.calculate_gain(last))
    return nn.Sequential(*layers, projection)


def create(setup: ModelSetup) -> HearProbe:
    return HearProbe(setup)
