"""The stages of one job (experiment x data set x seed), in the order data flows:

    split = choose_tracks(ctx)                      # data set -> train/valid/test track ids
    features = extract_features(ctx, split)         # audio -> cached feature arrays
    inputs = cut_segments(ctx, split, features)     # arrays -> model inputs and labels
    trained = train_model(ctx, inputs)              # inputs -> fitted model
    predictions = predict_tracks(ctx, trained, inputs)  # model -> per-track probabilities
    calibrated = calibrate(ctx, predictions)        # validation tracks -> fitted calibrator
    metrics = score(ctx, predictions)               # probabilities -> metric values
    metrics |= score_calibrated(ctx, predictions, calibrated)  # the same, calibrated

Each stage is a plain function of a :class:`JobContext` (everything the job needs, resolved
from the registry and the run options) and the previous stages' results, so a job can be
read, tested and shipped to another process stage by stage.  Writing the job's files is
:mod:`genrebench.results.outputs`; planning, resuming and the run summary are
:mod:`genrebench.run.runner`.
"""

from __future__ import annotations

import hashlib
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from genrebench.aggregation import aggregate_tracks, get_aggregation
from genrebench.dataset import SPLIT_PARTS, Dataset, Problem, Split, stratified_split
from genrebench.datasets.protocols import TRACK_CAPS, track_caps
from genrebench.errors import ConfigError
from genrebench.evaluation.calibration import Calibrated, SegmentProbabilities
from genrebench.evaluation.calibration import calibrate as fit_and_apply_calibrator
from genrebench.evaluation.metrics import probability_problem
from genrebench.features.cache import FeatureCache
from genrebench.features.extract import Extracted, extract_all
from genrebench.features.lazy import LazySegments
from genrebench.features.segments import cut, segment_frames
from genrebench.features.workers import ExtractionPool
from genrebench.results.provenance import jsonable
from genrebench.specs import (
    CalibratorSpec,
    ExperimentSpec,
    FeatureSpec,
    MetricSpec,
    Model,
    ModelSetup,
    ModelSpec,
    SplitRequest,
)


@dataclass
class JobContext:
    """One job's resolved inputs: specs, data set, budget, seeds and where things go."""

    experiment: ExperimentSpec
    feature: FeatureSpec
    model: ModelSpec
    metrics: Sequence[MetricSpec]
    dataset: Dataset
    split_request: SplitRequest
    split_seed: int
    seed: int
    budget: Mapping[str, Any]
    device: str
    cache: FeatureCache
    #: The run's feature-extraction workers (None: extract in this process).
    pool: ExtractionPool | None = None
    progress: bool = False
    #: The calibrator to fit (a name: registered, ``temperature=<T>`` or ``none``) and the
    #: registered calibrators it is looked up in.
    calibration: str = "temperature"
    calibrators: Mapping[str, CalibratorSpec] = field(default_factory=dict)
    #: ``benchmark`` or ``paper`` (:mod:`genrebench.datasets.protocols`): which track caps apply.
    protocol: str = "benchmark"
    #: The fold of a k-fold split this job runs (0-based), None for other splits.
    fold: int | None = None
    #: Filled by the stages with what ``provenance.json`` records.
    provenance: dict[str, Any] = field(default_factory=dict)
    #: Filled by the scoring stages: metrics that raised (name -> error).
    metric_failures: dict[str, str] = field(default_factory=dict)
    #: Tracks not to extract (id -> why): their extraction killed a Dask worker each time.
    skip_tracks: Mapping[str, str] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.dataset.task


@dataclass
class Inputs:
    """Model inputs: segments of the usable tracks of each part and their labels.

    ``owner_*[i]`` is the index into ``*_ids`` of segment ``i``; ``y_train`` and
    ``y_valid`` are per segment.  ``x_*`` are lazy segments (:mod:`genrebench.features.lazy`) when
    the experiment cuts segments, arrays for whole-track features."""

    train_ids: list[str]
    valid_ids: list[str]
    test_ids: list[str]
    x_train: np.ndarray | LazySegments
    y_train: np.ndarray
    x_valid: np.ndarray | LazySegments | None
    y_valid: np.ndarray | None
    owner_valid: np.ndarray | None
    x_test: np.ndarray | LazySegments
    owner_test: np.ndarray
    problems: list[Problem]
    #: False when the validation part is a calibration holdout the model must not see.
    fit_with_valid: bool = True


@dataclass
class Trained:
    model: Model
    seconds: float


@dataclass
class Predictions:
    """Per-track probabilities of the test part (and of the validation part, when the split
    has one), the segments' probabilities and the labels they are scored against."""

    classes: list[str]
    task: str
    test_ids: list[str]
    y_test: np.ndarray
    test_probs: np.ndarray
    test_segment_probs: np.ndarray
    owner_test: np.ndarray
    valid_ids: list[str]
    y_valid: np.ndarray | None
    valid_probs: np.ndarray | None
    threshold: float
    inference_seconds: float
    #: The validation segments' probabilities and their track rows (None: no validation
    #: part, or per-track probabilities only, as an ensemble's).
    valid_segment_probs: np.ndarray | None = None
    owner_valid: np.ndarray | None = None
    #: The experiment's aggregation rule (segment-level calibration re-applies it).
    aggregation: str = "mean"

    def segments(self, part: str) -> SegmentProbabilities | None:
        """The ``"test"`` or ``"valid"`` segments for a segment-level calibrator (None when
        this part has no segment probabilities)."""
        if part == "test":
            probs, owner, n = self.test_segment_probs, self.owner_test, len(self.test_ids)
        else:
            probs, owner, n = self.valid_segment_probs, self.owner_valid, len(self.valid_ids)
        if probs is None or owner is None:
            return None
        return SegmentProbabilities(probs, owner, n, self.aggregation, self.task)


# --------------------------------------------------------------------------- stages
def choose_tracks(ctx: JobContext) -> Split:
    """The split, with a calibration holdout (out of the training part) when the budget asks
    for one and the split has no validation part, reduced to the ``max_*_tracks`` caps the
    protocol applies (the benchmark protocol never caps the test part)."""
    split, caps = plan_split(
        ctx.dataset, ctx.split_request, ctx.split_seed, ctx.budget, ctx.protocol, ctx.fold
    )
    ctx.provenance["split"] = {
        "protocol": ctx.protocol,
        "scheme": split.scheme,
        "split_seed": ctx.split_seed,
        "fold": ctx.fold,
        "folds": ctx.split_request.folds if ctx.fold is not None else None,
        "note": split.note,
        "holdout_valid": split.holdout_valid,
        **{p: len(split.part(p)) for p in SPLIT_PARTS},
        "sha256": {p: split_checksum(split.part(p)) for p in SPLIT_PARTS},
    }
    ctx.provenance["caps"] = caps
    ctx.provenance["dataset_notes"] = list(ctx.dataset.notes)
    return split


def plan_split(
    dataset: Dataset,
    request: SplitRequest,
    split_seed: int,
    budget: Mapping[str, Any],
    protocol: str,
    fold: int | None = None,
) -> tuple[Split, dict[str, Any]]:
    """The planned parts of a job (:func:`choose_tracks` without the provenance) and what
    its track caps did: ``{"applied": {key: limit}, "ignored": {key: limit},
    "tracks_removed": {part: n}}`` -- ``ignored`` holds the caps the protocol does not apply
    (``max_test_tracks`` under the benchmark protocol).  Raises :class:`ConfigError` when a
    part the job needs is empty, so the options check finds it before any work."""
    split = dataset.split(request, seed=split_seed, fold=fold)
    split = hold_out_valid(split, dataset, budget.get("calibration_holdout"), split_seed)
    applied, ignored = track_caps(protocol, budget)
    capped = limit_split(split, dataset, applied, split_seed)
    removed = {
        part: len(split.part(part)) - len(capped.part(part))
        for part, key in TRACK_CAPS.items()
        if key in applied
    }
    return capped, {"applied": applied, "ignored": ignored, "tracks_removed": removed}


def extract_features(ctx: JobContext, split: Split) -> Extracted:
    """Feature arrays of every track of the split (cached, or computed and cached); tracks
    that cannot be decoded or featurised come back as problems."""
    ids = split.train + split.valid + split.test
    wanted = [ctx.dataset.track(t) for t in ids if t not in ctx.skip_tracks]
    extracted = extract_all(
        ctx.feature,
        wanted,
        ctx.cache,
        pool=ctx.pool,
        progress=ctx.progress,
        in_memory=not streams(ctx),
    )
    crashed = [
        Problem(t, str(ctx.dataset.track(t).path), ctx.skip_tracks[t])
        for t in ids
        if t in ctx.skip_tracks
    ]
    extracted.problems = list(ctx.dataset.problems) + crashed + extracted.problems
    ctx.provenance["skipped_tracks"] = [vars(p) for p in extracted.problems]
    ctx.provenance["features"] = {
        "seconds": round(extracted.seconds, 3),
        "cache_hits": extracted.cache_hits,
        "computed": extracted.computed,
    }
    if ctx.feature.asset is not None:
        ctx.provenance["features"]["from_asset"] = extracted.from_asset
        ctx.provenance["features"]["note"] = (
            f"{ctx.feature.name}: {extracted.from_asset} of {len(wanted)} tracks read from "
            f"their {ctx.feature.asset!r} files, the others from their audio"
        )
    return extracted


def cut_segments(ctx: JobContext, split: Split, features: Extracted) -> Inputs:
    """Cut each usable track into the experiment's segments (seeded per track)."""
    ok = features.arrays
    train = [t for t in split.train if t in ok]
    valid = [t for t in split.valid if t in ok]
    test = [t for t in split.test if t in ok]
    if not train or not test:
        raise ConfigError(
            f"no usable {'training' if not train else 'test'} tracks left after "
            f"skipping {len(features.problems)} unreadable ones"
        )
    seg, feature, seed = ctx.experiment.segments, ctx.feature, ctx.seed

    def segments_of(ids: list[str], count: int | None):
        return cut([ok[t] for t in ids], ids, seg, feature, count, seed, lazy=True)

    x_train, owner_train = segments_of(train, seg.train_count)
    x_valid = y_valid = owner_valid = None
    if valid:
        x_valid, owner_valid = segments_of(valid, seg.test_count)
        y_valid = ctx.dataset.label_matrix(valid)[owner_valid]
    x_test, owner_test = segments_of(test, seg.test_count)
    return Inputs(
        train_ids=train,
        valid_ids=valid,
        test_ids=test,
        x_train=x_train,
        y_train=ctx.dataset.label_matrix(train)[owner_train],
        x_valid=x_valid,
        y_valid=y_valid,
        owner_valid=owner_valid,
        x_test=x_test,
        owner_test=owner_test,
        problems=features.problems,
        fit_with_valid=not split.holdout_valid,
    )


def train_model(ctx: JobContext, inputs: Inputs) -> Trained:
    """Create the model for this job (seeded) and fit it on the training segments, with the
    validation segments for early stopping (unless they are a calibration holdout)."""
    setup = ModelSetup(
        task=ctx.task,
        classes=list(ctx.dataset.classes),
        input_shape=tuple(inputs.x_train.shape[1:]),
        seed=ctx.seed,
        device=ctx.device,
        params=dict(ctx.experiment.model_params),
        budget=dict(ctx.budget),
        progress=ctx.progress,
    )
    seed_everything(ctx.seed)
    model = ctx.model.create(setup)
    started = time.perf_counter()
    x_train = as_model_input(model, inputs.x_train)
    if inputs.fit_with_valid:
        model.fit(x_train, inputs.y_train, as_model_input(model, inputs.x_valid), inputs.y_valid)
    else:
        model.fit(x_train, inputs.y_train, None, None)
    seconds = time.perf_counter() - started
    if hasattr(model, "history"):
        ctx.provenance["training_history"] = jsonable(model.history)
    if hasattr(model, "config"):  # the effective training settings (TorchClassifier)
        ctx.provenance["train_config"] = jsonable(model.config)
    return Trained(model, seconds)


def predict_tracks(ctx: JobContext, trained: Trained, inputs: Inputs) -> Predictions:
    """Segment probabilities of the test (and validation) tracks, checked, then aggregated
    per track with the experiment's rule."""
    model, dataset = trained.model, ctx.dataset
    started = time.perf_counter()
    seg_probs = _predict(ctx, model, inputs.x_test, inputs.test_ids, inputs.owner_test)
    inference_seconds = time.perf_counter() - started
    test_probs = aggregate_tracks(
        seg_probs, inputs.owner_test, len(inputs.test_ids), ctx.experiment.aggregation, ctx.task
    )
    valid_probs = y_valid = valid_seg_probs = None
    if inputs.valid_ids:
        valid_seg_probs = _predict(ctx, model, inputs.x_valid, inputs.valid_ids, inputs.owner_valid)
        valid_probs = aggregate_tracks(
            valid_seg_probs,
            inputs.owner_valid,
            len(inputs.valid_ids),
            ctx.experiment.aggregation,
            ctx.task,
        )
        y_valid = dataset.label_matrix(inputs.valid_ids)
    return Predictions(
        classes=list(dataset.classes),
        task=ctx.task,
        test_ids=inputs.test_ids,
        y_test=dataset.label_matrix(inputs.test_ids),
        test_probs=test_probs,
        test_segment_probs=seg_probs,
        owner_test=inputs.owner_test,
        valid_ids=inputs.valid_ids,
        y_valid=y_valid,
        valid_probs=valid_probs,
        threshold=float(getattr(model, "threshold", 0.5)),
        inference_seconds=inference_seconds,
        valid_segment_probs=valid_seg_probs,
        owner_valid=inputs.owner_valid if inputs.valid_ids else None,
        aggregation=ctx.experiment.aggregation,
    )


def score(ctx: JobContext, predictions: Predictions) -> dict[str, float | None]:
    """Every registered metric of the task type on the test tracks, plus segment-level
    accuracy and the extra aggregations' accuracies, and the accuracies on the validation
    tracks (``valid_accuracy``, ``valid_accuracy_raw``: what papers that report a
    development-set number are compared with).  A metric that raises leaves its columns
    None and its error in ``ctx.metric_failures``; the job goes on."""
    p = predictions
    values = compute_metrics(
        ctx.metrics, ctx.task, p.y_test, p.test_probs, p.threshold, ctx.metric_failures
    )
    values.update(
        extra_accuracies(ctx.experiment, ctx.task, p.test_segment_probs, p.owner_test, p.y_test)
    )
    values.update(validation_accuracies(p))
    return values


def validation_accuracies(p: Predictions) -> dict[str, float]:
    """Single-label accuracy on the validation tracks (``valid_accuracy``) and, where tracks
    have several segments, on their segments (``valid_accuracy_raw``); nothing without a
    validation part.  A calibration holdout counts: its tracks are validation tracks the
    model never saw."""
    if p.task != "single-label" or p.valid_probs is None or p.y_valid is None:
        return {}
    out = {"valid_accuracy": float(np.mean(p.valid_probs.argmax(axis=1) == p.y_valid))}
    seg, owner = p.valid_segment_probs, p.owner_valid
    if seg is not None and owner is not None and len(owner) > len(p.valid_ids):
        out["valid_accuracy_raw"] = float(np.mean(seg.argmax(axis=1) == p.y_valid[owner]))
    return out


def calibrate(ctx: JobContext, predictions: Predictions) -> Calibrated:
    """Fit the experiment's calibrator on the validation tracks' probabilities and apply it
    to the test tracks' (a segment-level calibrator: on their segments' probabilities,
    before the aggregation).  Never fails the job: a missing validation part or a calibrator
    that cannot be fitted comes back as skipped or failed, with the reason."""
    p = predictions
    calibrated = fit_and_apply_calibrator(
        ctx.calibration,
        ctx.calibrators,
        ctx.task,
        p.valid_probs,
        p.y_valid,
        p.test_probs,
        valid_segments=p.segments("valid"),
        test_segments=p.segments("test"),
    )
    ctx.provenance["calibration"] = calibrated.report()
    return calibrated


def score_calibrated(
    ctx: JobContext, predictions: Predictions, calibrated: Calibrated
) -> dict[str, float]:
    """Every metric of the task type on the calibrated test probabilities, as
    ``<column>_calibrated``, and the calibrator's fitted numbers (``temperature``); nothing
    when calibration was skipped or failed."""
    return calibrated_columns(ctx.metrics, ctx.task, predictions, calibrated, ctx.metric_failures)


# --------------------------------------------------------------------------- helpers
def split_checksum(track_ids: Sequence[str]) -> str:
    """SHA-256 of a split part's sorted track ids, one per line: two runs with the same
    checksum trained (or were tested) on exactly the same tracks.  Ids from file names that
    are not UTF-8 carry surrogate escapes: they are hashed as the bytes on disk."""
    text = "\n".join(sorted(track_ids))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def calibrated_columns(
    specs: Sequence[MetricSpec],
    task: str,
    predictions: Predictions,
    calibrated: Calibrated,
    failures: dict[str, str] | None = None,
) -> dict[str, float | None]:
    """``<column>_calibrated`` for every metric column (counts of skipped classes left out)
    and the calibrator's numeric parameters; ``failures`` as in :func:`compute_metrics`."""
    if not calibrated.ok:
        return {}
    p = predictions
    values = compute_metrics(specs, task, p.y_test, calibrated.test_probs, p.threshold, failures)
    out = {f"{k}_calibrated": v for k, v in values.items() if not k.endswith("_skipped_classes")}
    return out | calibrated.columns()


def hold_out_valid(split: Split, dataset: Dataset, share: Any, seed: int) -> Split:
    """A split without a validation part gets one of ``share`` of its training tracks
    (stratified, seeded), marked as a calibration holdout; other splits come back as they
    are."""
    if share is None or split.valid:
        return split
    share = float(share)
    if not 0.0 < share < 1.0:
        raise ConfigError(f"calibration_holdout must be a share between 0 and 1, got {share!r}")
    parts = stratified_split(
        [dataset.track(t) for t in split.train], {"train": 1.0 - share, "valid": share}, seed
    )
    held = set(parts["valid"])
    return replace(
        split,
        train=[t for t in split.train if t not in held],
        valid=[t for t in split.train if t in held],
        holdout_valid=True,
    )


def compute_metrics(
    specs: Sequence[MetricSpec],
    task: str,
    y: np.ndarray,
    probs: np.ndarray,
    threshold: float,
    failures: dict[str, str] | None = None,
) -> dict[str, float | None]:
    """Every metric of ``task`` in ``specs``, by column (:meth:`MetricSpec.column_names`);
    a metric whose value does not fill the columns it declares is a ``ValueError``.

    With ``failures``, a metric that raises (or fills other columns than it declares)
    costs nothing else: its columns are None (empty cells) and ``failures[metric name]``
    says why (the first failure of each metric is kept); without, the error propagates."""
    values: dict[str, float | None] = {}
    for spec in specs:
        if spec.task != task:
            continue
        columns = spec.column_names()
        try:
            values.update(_metric_values(spec, columns, y, probs, threshold))
        except Exception as exc:
            if failures is None:
                raise
            failures.setdefault(spec.name, f"{type(exc).__name__}: {exc}")
            values.update(dict.fromkeys(columns))
    return values


def _metric_values(spec: MetricSpec, columns, y, probs, threshold) -> dict[str, float]:
    value = spec.compute(y, probs, threshold)
    if not isinstance(value, Mapping):
        value = {columns[0]: value} if not spec.columns else value
    if not isinstance(value, Mapping) or set(value) != set(columns):
        got = sorted(value) if isinstance(value, Mapping) else type(value).__name__
        raise ValueError(
            f"metric {spec.name!r} returned {got}; it declares the columns {list(columns)}"
            " (MetricSpec.columns: the keys of a returned dict; empty: one float)"
        )
    return {k: float(v) for k, v in value.items()}


def metric_errors(failures: Mapping[str, str], plugin_of: Callable[[str], str]) -> dict[str, str]:
    """``metrics.json``'s ``metric_errors``: for each metric that failed (name -> error,
    as :func:`compute_metrics` records them), the reason naming the metric, its plugin and
    the columns left empty."""
    return {
        name: f"metric {name!r} of plugin {plugin_of(name)!r} failed ({error}); its "
        "leaderboard cells are left empty"
        for name, error in failures.items()
    }


def extra_accuracies(exp, task, seg_probs, owner, y_test) -> dict[str, float]:
    """Segment-level accuracy (``accuracy_raw``) and the track accuracy of each extra
    aggregation (``accuracy_<name>``), for single-label tasks."""
    if task != "single-label":
        return {}
    extra: dict[str, float] = {}
    if len(owner) > len(y_test):
        extra["accuracy_raw"] = float(np.mean(seg_probs.argmax(axis=1) == y_test[owner]))
    for name in exp.extra_aggregations:
        get_aggregation(name)
        agg = aggregate_tracks(seg_probs, owner, len(y_test), name, task)
        extra[f"accuracy_{name}"] = float(np.mean(agg.argmax(axis=1) == y_test))
    return extra


def limit_split(split: Split, dataset: Dataset, budget: Mapping[str, Any], seed: int) -> Split:
    """Apply ``max_train_tracks`` / ``max_valid_tracks`` / ``max_test_tracks`` from
    ``budget`` (the caps :func:`plan_split` lets the protocol apply): a seeded subset that
    takes the classes in turn, so every class keeps tracks."""

    def take(ids: list[str], limit: Any) -> list[str]:
        if limit is None or len(ids) <= int(limit):
            return ids
        rng = np.random.default_rng(seed)
        by_class: dict[str, list[str]] = {}
        for t in ids:
            by_class.setdefault(dataset.track(t).labels[0], []).append(t)
        queues = [list(rng.permutation(v)) for _, v in sorted(by_class.items())]
        chosen: list[str] = []
        while len(chosen) < int(limit):
            for q in queues:
                if q and len(chosen) < int(limit):
                    chosen.append(str(q.pop()))
        return sorted(chosen)

    return replace(
        split,
        train=take(split.train, budget.get("max_train_tracks")),
        valid=take(split.valid, budget.get("max_valid_tracks")),
        test=take(split.test, budget.get("max_test_tracks")),
    )


#: How far a model's probability may lie outside [0, 1] (float rounding), and how far a
#: single-label row may sum away from 1 (float32 softmax outputs are ~1e-7 off).
PROBABILITY_ATOL = 1e-6
ROW_SUM_ATOL = 1e-4


def check_probabilities(
    probs: np.ndarray,
    n: int,
    n_classes: int,
    task: str,
    model: str,
    row_names: Callable[[int], str] | None = None,
) -> np.ndarray:
    """``probs`` as float64 if it has the shape and range a model must return; else a
    ``ValueError`` naming the model, the first offending row (its value or its sum, and
    ``row_names(row)``), how many rows offend and the tolerance."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (n, n_classes):
        raise ValueError(
            f"model {model!r} returned probabilities of shape {probs.shape}, "
            f"expected ({n}, {n_classes})"
        )
    problem = probability_problem(probs, task, PROBABILITY_ATOL, ROW_SUM_ATOL, row_names)
    if problem is not None:
        raise ValueError(f"model {model!r} returned {problem}")
    return probs


def _predict(ctx: JobContext, model: Model, x, track_ids: Sequence[str], owner) -> np.ndarray:
    return check_probabilities(
        model.predict_proba(as_model_input(model, x)),
        len(x),
        len(ctx.dataset.classes),
        ctx.task,
        ctx.model.name,
        row_names=lambda row: f"a segment of track {track_ids[owner[row]]}",
    )


def streams(ctx: JobContext) -> bool:
    """Whether the job reads its features from the cache on demand instead of holding them:
    when it cuts segments (whole-track features are one small vector each) and the cache
    is on."""
    return ctx.cache.enabled and segment_frames(ctx.experiment.segments, ctx.feature) is not None


def as_model_input(model: Model, x):
    """``x`` as the model takes it: lazy segments for models that declare
    ``accepts_lazy_inputs`` (see :mod:`genrebench.features.lazy`), a real array for the others."""
    if x is None or isinstance(x, np.ndarray) or getattr(model, "accepts_lazy_inputs", False):
        return x
    return np.asarray(x)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
