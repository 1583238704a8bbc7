"""Post-hoc calibration of per-track probabilities: the builtin temperature calibrators, the
name resolution of ``--calibration`` / ``ExperimentSpec.calibration``, and :func:`calibrate`,
which fits a calibrator on a job's validation tracks and applies it to its test tracks.

A calibrator acts on one of two levels (``CalibratorSpec.level``):

* ``track`` (``temperature``, ``temperature=<T>``, ``temperature-per-label``): on the
  per-track probabilities, after the experiment's aggregation of its segments;
* ``segment`` (``segment-temperature``, ``segment-temperature=<T>``): on each segment's
  probabilities *before* the aggregation, as a paper that "divides the network's output
  logits by T" and then averages its patches does.  It is still fitted on the validation
  *tracks*: ``T`` minimises the NLL of their aggregated tempered probabilities.  Segment-level
  calibrators get :class:`SegmentProbabilities` instead of track arrays.

Every output names the level: ``metrics.json``'s ``calibration`` (``level``), and the
fitted numbers' columns (``temperature`` for a track-level ``T``, ``segment_temperature``
for a segment-level one: two different quantities, never averaged in one column).

Temperature scaling (Guo et al. 2017) divides logits by one number ``T`` fitted by
minimising the validation negative log-likelihood.  The core only has probabilities, so:

* single-label: the logits are ``log p`` (softmax is shift-invariant, so
  ``softmax(log p) == p`` and ``softmax(log p / T)`` is the tempered distribution);
* multi-label: each label's logit is ``logit(p) = log(p / (1 - p))`` and the loss is the
  mean binary cross-entropy; ``temperature`` fits one ``T`` shared by every label,
  ``temperature-per-label`` one ``T`` per label.

Why the fit is written here: scikit-learn 1.9's ``CalibratedClassifierCV(method=
"temperature")`` does the same minimisation, but only through an estimator and a
cross-validation splitter (its frozen-estimator path still runs ``cross_val_predict`` and
refuses fewer than ``cv`` tracks of any class, which small validation parts have), and only
for multiclass softmax outputs, not for independent per-label sigmoids.  netcal 1.4's
``TemperatureScaling`` pulls in pyro-ppl, gpytorch, tensorboard and matplotlib for a
one-parameter fit; torchmetrics has calibration *metrics* but no calibrator.  So the fit is
the same 1-D bounded minimisation scikit-learn uses (``scipy.optimize.minimize_scalar``
over the log of the temperature), written once for both task types; the tests check it
against scikit-learn's ``CalibratedClassifierCV(method="temperature")`` on single-label data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_softmax, softmax

from genrebench.aggregation import aggregate_tracks
from genrebench.errors import ConfigError, UnknownNameError
from genrebench.evaluation.metrics import probability_problem
from genrebench.specs import CALIBRATION_LEVELS, Calibration, CalibratorSpec, Task

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.registry.loading import Registry

#: The name that turns calibration off.
NONE = "none"
#: ``temperature=<T>`` / ``segment-temperature=<T>``: a fixed temperature on the track or
#: the segment level, resolved by name (paper 000 uses 1.25, 1.5, 1.75).
FIXED_PATTERN = re.compile(r"^(?P<kind>temperature|segment-temperature)=(?P<value>.+)$")
#: The prefix of a segment-level calibrator's numeric columns (``segment_temperature``).
SEGMENT_COLUMN_PREFIX = "segment_"
#: Probabilities are clipped to [EPS, 1 - EPS] before taking logs (as metrics.nll does),
#: or higher where the validation probabilities hold exact zeros (probability_floor).
EPS = 1e-15
#: Temperatures are searched in [1/100, 100]; an optimum on an edge means the validation
#: loss keeps falling towards T -> 0 or T -> infinity, and no finite temperature fits.
LOG_T_BOUNDS = (math.log(0.01), math.log(100.0))


# --------------------------------------------------------------------------- logits
def single_label_logits(probs: np.ndarray, floor: float = EPS) -> np.ndarray:
    """``log p``: logits whose softmax is ``p`` (up to the clipping of zeros to ``floor``)."""
    return np.log(np.clip(np.asarray(probs, dtype=np.float64), floor, 1.0))


def multi_label_logits(probs: np.ndarray, floor: float = EPS) -> np.ndarray:
    """``logit(p)`` per entry: logits whose sigmoid is ``p`` (``p`` clipped to
    ``[floor, 1 - floor]``)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), floor, 1.0 - floor)
    return np.log(p) - np.log1p(-p)


def probability_floor(probs: np.ndarray, task: Task) -> float:
    """Where the validation probabilities ``probs`` are clipped before their logarithm.

    :data:`EPS` unless they hold exact zeros (or, multi-label, exact ones), as the vote
    fractions of a k-nearest-neighbour model do.  Clipped to 1e-15, such a zero becomes a
    logit of -34.5, a certainty the model never claimed; fitting the NLL then stretches T
    to soften it (T = 10.13 on kNN probabilities, ECE 0.092 -> 0.345).  There an exact
    zero stands for "below the smallest probability the model gives": half the smallest
    non-zero probability among them (for multi-label, among ``p`` and ``1 - p``)."""
    p = np.asarray(probs, dtype=np.float64).ravel()
    values = p if task == "single-label" else np.concatenate([p, 1.0 - p])
    positive = values[values > 0]
    if not (values == 0).any() or not positive.size:
        return EPS
    return max(EPS, float(positive.min()) / 2)


def tempered(
    probs: np.ndarray, temperature: float | np.ndarray, task: Task, floor: float = EPS
) -> np.ndarray:
    """``probs`` with their logits divided by ``temperature`` (a number, or one per label
    for multi-label tasks), probabilities clipped to ``floor`` before the logarithm."""
    if task == "single-label":
        return softmax(single_label_logits(probs, floor) / temperature, axis=1)
    return expit(multi_label_logits(probs, floor) / np.asarray(temperature, dtype=np.float64))


# --------------------------------------------------------------------------- fitting
def _softmax_nll(log_t: float, logits: np.ndarray, y: np.ndarray) -> float:
    scaled = log_softmax(logits / math.exp(log_t), axis=1)
    return float(-scaled[np.arange(len(y)), y].mean())


def _sigmoid_nll(log_t: float, logits: np.ndarray, y: np.ndarray) -> float:
    z = logits / math.exp(log_t)
    # -log sigmoid(z) for positives, -log(1 - sigmoid(z)) = -log sigmoid(-z) for negatives.
    return float(np.mean(np.logaddexp(0.0, np.where(y == 1, -z, z))))


def fit_temperature(logits: np.ndarray, y: np.ndarray, task: Task) -> float:
    """The temperature minimising the validation NLL of ``logits / T``: softmax
    cross-entropy against class indices ``y`` (single-label), or mean binary cross-entropy
    against the 0/1 array ``y`` of the same shape (multi-label).

    Raises ``ValueError`` when no finite temperature minimises it: when every validation
    prediction is right (the loss falls towards 0 as T -> 0), or when the loss is as low at
    an edge of the search (T of 0.01 or 100) as at the optimum found."""
    loss = _softmax_nll if task == "single-label" else _sigmoid_nll
    right = logits.argmax(axis=1) == y if task == "single-label" else (logits >= 0) == (y == 1)
    if np.all(right):
        raise ValueError(
            "every validation prediction is right, so the validation NLL keeps falling as "
            "T -> 0: no finite temperature fits"
        )
    result = minimize_scalar(
        loss, bounds=LOG_T_BOUNDS, args=(logits, y), method="bounded", options={"xatol": 1e-10}
    )
    for edge, where in zip(LOG_T_BOUNDS, ("T -> 0", "T -> infinity"), strict=True):
        if loss(edge, logits, y) <= result.fun + 1e-12:
            raise ValueError(
                f"the validation NLL keeps falling as {where}: no finite temperature fits"
            )
    return float(math.exp(result.x))


def _check_fit_inputs(probs: np.ndarray | None, y: np.ndarray | None, task: Task):
    if probs is None or y is None:
        raise ValueError("there are no validation tracks to fit on")
    probs, y = np.asarray(probs, dtype=np.float64), np.asarray(y)
    if probs.ndim != 2 or len(probs) != len(y):
        raise ValueError(
            f"expected validation probabilities (n, n_classes) and n labels, got shapes "
            f"{probs.shape} and {y.shape}"
        )
    if len(probs) < 2:
        raise ValueError(f"needs at least 2 validation tracks, got {len(probs)}")
    if not np.all(np.isfinite(probs)):
        raise ValueError(
            f"validation probabilities contain {int((~np.isfinite(probs)).sum())} NaN or "
            "infinite values"
        )
    if task == "single-label" and len(np.unique(y)) < 2:
        raise ValueError(
            f"all {len(y)} validation tracks are of one class (index {int(y[0])}); a "
            "temperature fitted on them would only learn to favour it"
        )
    if task == "multi-label" and len(np.unique(y)) < 2:
        raise ValueError(
            f"every validation label entry is {int(y.flat[0])}: nothing to calibrate against"
        )
    return probs, y


def _temperature_transform(
    temperature: float | np.ndarray, task: Task, probs: np.ndarray, floor: float = EPS
):
    return tempered(probs, temperature, task, floor)


def _logits(probs: np.ndarray, task: Task) -> tuple[np.ndarray, float, dict[str, Any]]:
    """The validation logits, the floor they were clipped at (:func:`probability_floor`)
    and what the fitted parameters record of it (nothing for the usual 1e-15)."""
    floor = probability_floor(probs, task)
    logits = (single_label_logits if task == "single-label" else multi_label_logits)(probs, floor)
    clip = {} if floor == EPS else {"clip": {"floor": floor}}
    return logits, floor, clip


# --------------------------------------------------------------------------- segment level
@dataclass(frozen=True)
class SegmentProbabilities:
    """What a segment-level calibrator sees of one part of a job: each segment's
    probabilities ``(n_segments, n_classes)``, ``owner[i]`` the track row (0 .. n_tracks-1)
    of segment ``i``, and the experiment's aggregation rule, which :meth:`tracks` applies."""

    probs: np.ndarray
    owner: np.ndarray
    n_tracks: int
    aggregation: str
    task: Task

    def tracks(self, probs: np.ndarray | None = None) -> np.ndarray:
        """Per-track probabilities: ``probs`` (default: the segments' own) aggregated."""
        segments = self.probs if probs is None else probs
        return aggregate_tracks(segments, self.owner, self.n_tracks, self.aggregation, self.task)


def _track_nll(probs: np.ndarray, y: np.ndarray, task: Task) -> float:
    """Mean NLL of per-track probabilities: -log p[label] (single-label), mean binary
    cross-entropy (multi-label); probabilities clipped to [EPS, 1 - EPS]."""
    p = np.clip(probs, EPS, 1.0 - EPS)
    if task == "single-label":
        return float(-np.log(p[np.arange(len(y)), y]).mean())
    return float(-np.mean(np.where(y == 1, np.log(p), np.log1p(-p))))


def _segment_transform(temperature: float, segments: SegmentProbabilities) -> np.ndarray:
    """Temper each segment, then aggregate per track with the experiment's rule."""
    return segments.tracks(tempered(segments.probs, temperature, segments.task))


def fit_segment_temperature(valid: SegmentProbabilities, y: np.ndarray, task: Task) -> Calibration:
    """``segment-temperature``: one ``T`` dividing every segment's logits before the
    aggregation, chosen to minimise the NLL of the validation tracks' aggregated tempered
    probabilities (same bounded search as :func:`fit_temperature`)."""
    if valid is None or y is None:
        raise ValueError("there are no validation tracks to fit on")
    # the track-level checks (count, labels, classes) on a stand-in of the tracks' shape
    _check_fit_inputs(np.zeros((valid.n_tracks, valid.probs.shape[1])), y, task)
    if not np.all(np.isfinite(valid.probs)):
        raise ValueError("validation segment probabilities contain NaN or infinite values")
    y = np.asarray(y)

    def loss(log_t: float) -> float:
        return _track_nll(_segment_transform(math.exp(log_t), valid), y, task)

    result = minimize_scalar(loss, bounds=LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-10})
    for edge, where in zip(LOG_T_BOUNDS, ("T -> 0", "T -> infinity"), strict=True):
        if loss(edge) <= result.fun + 1e-12:
            raise ValueError(
                f"the validation NLL keeps falling as {where}: no finite temperature fits"
            )
    t = float(math.exp(result.x))
    return Calibration(partial(_segment_transform, t), {"temperature": t})


def fixed_segment_temperature(
    temperature: float, valid: SegmentProbabilities | None, y: np.ndarray | None, task: Task
) -> Calibration:
    """``segment-temperature=<T>``: a given ``T`` on every segment; nothing is fitted."""
    return Calibration(partial(_segment_transform, temperature), {"temperature": temperature})


def fit_shared_temperature(probs: np.ndarray, y: np.ndarray, task: Task) -> Calibration:
    """``temperature``: one ``T`` for all classes (single-label) or all labels (multi-label)."""
    probs, y = _check_fit_inputs(probs, y, task)
    logits, floor, clip = _logits(probs, task)
    t = fit_temperature(logits, y, task)
    transform = partial(_temperature_transform, t, task, floor=floor)
    return Calibration(transform, {"temperature": t, **clip})


def fit_per_label_temperature(probs: np.ndarray, y: np.ndarray, task: Task) -> Calibration:
    """``temperature-per-label`` (multi-label): one ``T`` per label.  A label that cannot be
    fitted (only positives or only negatives among the validation tracks, or no finite
    optimum) keeps ``T = 1`` and is listed in ``unfitted_labels``; if none can be fitted,
    the calibrator fails."""
    if task != "multi-label":
        raise ValueError("temperature-per-label is for multi-label tasks")
    probs, y = _check_fit_inputs(probs, y, task)
    logits, floor, clip = _logits(probs, task)
    temperatures, unfitted = np.ones(probs.shape[1]), {}
    for k in range(probs.shape[1]):
        if len(np.unique(y[:, k])) < 2:
            unfitted[k] = "one outcome only among the validation tracks"
            continue
        try:
            temperatures[k] = fit_temperature(logits[:, [k]], y[:, [k]], task)
        except ValueError as exc:
            unfitted[k] = str(exc)
    if len(unfitted) == probs.shape[1]:
        raise ValueError(f"no label could be fitted: {next(iter(unfitted.values()))}")
    params = {"temperatures": temperatures.tolist(), "unfitted_labels": sorted(unfitted), **clip}
    return Calibration(partial(_temperature_transform, temperatures, task, floor=floor), params)


def fixed_temperature(
    temperature: float, probs: np.ndarray | None, y: np.ndarray | None, task: Task
) -> Calibration:
    """``temperature=<T>``: a given ``T``; nothing is fitted, so no validation part is needed."""
    return Calibration(
        partial(_temperature_transform, temperature, task), {"temperature": temperature}
    )


BUILTIN = (
    CalibratorSpec(
        "temperature",
        fit_shared_temperature,
        description="one temperature fitted by validation NLL (log p as logits; multi-label: "
        "one T shared by all labels on logit(p))",
    ),
    CalibratorSpec(
        "temperature-per-label",
        fit_per_label_temperature,
        tasks=("multi-label",),
        description="one temperature per label on logit(p), fitted by validation NLL",
    ),
    CalibratorSpec(
        "segment-temperature",
        fit_segment_temperature,
        description="one temperature dividing each segment's logits (log p; multi-label "
        "logit(p)) before the aggregation, fitted by the validation tracks' NLL",
        level="segment",
    ),
)


# --------------------------------------------------------------------------- names
def resolve(name: str, registered: Mapping[str, CalibratorSpec]) -> CalibratorSpec | None:
    """The calibrator called ``name``: a registered one, a fixed ``temperature=<T>`` (track
    level) or ``segment-temperature=<T>`` (segment level), or ``None`` for ``none``.
    Unknown names raise :class:`UnknownNameError` (with the known names and the nearest
    one); a malformed fixed temperature raises :class:`ConfigError`."""
    if name == NONE:
        return None
    if name in registered:
        return registered[name]
    fixed = FIXED_PATTERN.match(name)
    if fixed:
        try:
            value = float(fixed["value"])
        except ValueError:
            value = math.nan
        kind = fixed["kind"]
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(
                f"calibrator {name!r}: {kind}=<T> needs a positive number, such as "
                f"{kind}=1.5, got {fixed['value']!r}"
            )
        if kind == "segment-temperature":
            return CalibratorSpec(
                name,
                partial(fixed_segment_temperature, value),
                needs_validation=False,
                description=f"fixed temperature {value:g} on each segment's logits",
                level="segment",
            )
        return CalibratorSpec(
            name,
            partial(fixed_temperature, value),
            needs_validation=False,
            description=f"fixed temperature {value:g}",
        )
    raise UnknownNameError(
        "calibrator", name, [*registered, NONE, "temperature=<T>", "segment-temperature=<T>"]
    )


# --------------------------------------------------------------------------- applying
@dataclass
class Calibrated:
    """The outcome of calibrating one job: ``status`` is ``"ok"`` (``test_probs`` holds the
    calibrated test probabilities), ``"skipped"`` (calibration off, or no validation part) or
    ``"failed"`` (the calibrator could not be fitted); ``reason`` says why for the latter two."""

    calibrator: str
    status: str
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    test_probs: np.ndarray | None = None
    n_valid_tracks: int = 0
    #: What the calibrator acts on: ``"track"`` or ``"segment"`` (see the module
    #: docstring); None when there is no calibrator (``none``, an unknown name).
    level: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def report(self) -> dict[str, Any]:
        """What ``metrics.json`` records under ``calibration``."""
        out: dict[str, Any] = {"calibrator": self.calibrator, "status": self.status}
        if self.level is not None:
            out["level"] = self.level
        if self.reason:
            out["reason"] = self.reason
        if self.ok:
            out["params"] = self.params
            out["n_valid_tracks"] = self.n_valid_tracks
        return out

    def columns(self) -> dict[str, float]:
        """The fitted parameters that are single numbers, as leaderboard columns:
        ``temperature`` for a track-level calibrator, ``segment_temperature`` for a
        segment-level one."""
        prefix = SEGMENT_COLUMN_PREFIX if self.level == "segment" else ""
        return {
            f"{prefix}{k}": float(v)
            for k, v in self.params.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }


def calibrate(
    name: str,
    registered: Mapping[str, CalibratorSpec],
    task: Task,
    valid_probs: np.ndarray | None,
    y_valid: np.ndarray | None,
    test_probs: np.ndarray,
    *,
    valid_segments: SegmentProbabilities | None = None,
    test_segments: SegmentProbabilities | None = None,
) -> Calibrated:
    """Fit the calibrator ``name`` on the validation probabilities and apply it to the test
    probabilities: the per-track ones, or for a segment-level calibrator the segments'
    (``valid_segments`` / ``test_segments``, whose aggregation gives ``valid_probs`` /
    ``test_probs``).  Never raises: an unknown name, a calibrator for another task type, a
    missing validation part, missing segments or a failed fit come back as a skipped or
    failed :class:`Calibrated` with the reason."""
    try:
        spec = resolve(name, registered)
    except ConfigError as exc:
        return Calibrated(name, "failed", str(exc))
    if spec is None:
        return Calibrated(name, "skipped", "calibration is 'none'")
    level = getattr(spec, "level", "track")
    if level not in CALIBRATION_LEVELS:
        return Calibrated(name, "failed", f"calibrator {name!r} has an unknown level {level!r}")
    if task not in spec.tasks:
        return Calibrated(
            name, "skipped", f"calibrator {name!r} supports {'/'.join(spec.tasks)}", level=level
        )
    if spec.needs_validation and valid_probs is None:
        return Calibrated(
            name,
            "skipped",
            "the split has no validation part to fit on (use a split with one, or the budget "
            "key calibration_holdout)",
            level=level,
        )
    segment_level = level == "segment"
    if segment_level and (
        test_segments is None or (spec.needs_validation and valid_segments is None)
    ):
        return Calibrated(
            name,
            "skipped",
            f"calibrator {name!r} acts on segment probabilities, and there are none here "
            "(only per-track probabilities, e.g. an ensemble's)",
            level=level,
        )
    try:
        if segment_level:
            fitted = spec.fit(valid_segments, y_valid, task)
            probs = np.asarray(fitted.transform(test_segments), float)
        else:
            fitted = spec.fit(valid_probs, y_valid, task)
            probs = np.asarray(fitted.transform(np.asarray(test_probs, dtype=np.float64)), float)
        _check_output(probs, np.shape(test_probs), task)
    except Exception as exc:  # a calibrator must never fail the job
        return Calibrated(name, "failed", f"{type(exc).__name__}: {exc}", level=level)
    n_valid = 0 if valid_probs is None or not spec.needs_validation else len(valid_probs)
    return Calibrated(name, "ok", "", dict(fitted.params), probs, n_valid, level)


def _check_output(probs: np.ndarray, shape: tuple[int, ...], task: Task) -> None:
    if probs.shape != tuple(shape):
        raise ValueError(f"transform returned shape {probs.shape}, expected {tuple(shape)}")
    problem = probability_problem(probs, task, value_atol=1e-9, sum_atol=1e-6)
    if problem is not None:
        raise ValueError(f"transform returned {problem}")


def calibrators(registry: Registry) -> dict[str, Any]:
    """The registered calibrators by name."""
    return {name: registry.get("calibrators", name) for name in registry.names("calibrators")}
