"""Plain dataclasses that plugins return from the ``genrebench_register_*`` hooks.

Every spec names a thing (``name``) and says how to make or compute it; the core never
subclasses them.  A plugin author only fills these in: see docs/plugins/writing.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from genrebench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.dataset import Dataset

Task = Literal["single-label", "multi-label"]
TASKS: tuple[Task, ...] = ("single-label", "multi-label")
PROFILES: tuple[str, ...] = ("quick", "paper")


# --------------------------------------------------------------------------- datasets
@dataclass(frozen=True)
class DatasetSpec:
    """A data set: where its tracks live and how they split.

    ``load(root, options)`` returns a :class:`genrebench.dataset.Dataset`.  ``root`` is the
    ``--data-root`` directory (``None`` when the user gave none); ``options`` are the
    experiment's ``dataset_options`` overlaid with ``--dataset-option KEY=VALUE``.  A loader
    that finds nothing at ``root`` raises :class:`genrebench.errors.DataRootError` with
    ``expected_layout`` in its message.
    """

    name: str
    task: Task
    load: Callable[[Path | None, Mapping[str, Any]], Dataset]
    description: str = ""
    #: Embedded data sets run when ``genrebench run`` is given no ``--dataset``.
    embedded: bool = False
    #: Shown to the user when the data root is missing or wrong.
    expected_layout: str = ""
    #: Optional: ``validate(root, options) -> ValidationReport`` without training anything.
    validate: Callable[[Path | None, Mapping[str, Any]], Any] | None = None


# --------------------------------------------------------------------------- features
@dataclass(frozen=True)
class FeatureSpec:
    """Turns one track's mono audio into an array.

    ``extract(audio, sample_rate)`` gets float32 mono audio already resampled to
    ``sample_rate`` and returns a float array.  Time-varying features put time on the
    **last** axis and set ``frames_per_second`` so the core can cut segments; track-level
    features (one vector per track, the same shape for every track) leave it ``None``; the
    feature cache relies on this to tell a damaged entry from a longer track.  Results are
    cached on disk under a key made of the track's content, ``name``, ``params``,
    ``sample_rate`` and ``version``: bump ``version`` whenever the output for the same params
    changes.  ``params`` only key the cache -- they are never passed to ``extract``: bind
    them into it yourself (``functools.partial`` or a closure) and list the same values here.
    ``extract`` raises :class:`genrebench.errors.ConfigError` when it cannot run for any
    track (pretrained weights missing, ...): the job then fails with that message; any other
    exception skips only the track that raised it.

    A feature may instead read a companion file that the data set provides for a track
    (``Track.assets``, for example GTZAN's Kaggle spectrogram images): ``asset`` names it
    and ``read_asset(path)`` turns it into the array.  Tracks that have the asset are read
    through ``read_asset`` (cached under the asset file's content); the others go through
    ``extract`` on their audio, so ``extract`` must give an array of the same kind.
    """

    name: str
    extract: Callable[[np.ndarray, int], np.ndarray]
    sample_rate: int
    params: Mapping[str, Any] = field(default_factory=dict)
    version: str = "1"
    frames_per_second: float | None = None
    description: str = ""
    #: Name of a per-track companion file (a key of ``Track.assets``) read instead of the
    #: audio where the track has one; ``read_asset`` must be given with it.
    asset: str | None = None
    read_asset: Callable[[Path], np.ndarray] | None = None

    def __post_init__(self) -> None:
        if (self.asset is None) != (self.read_asset is None):
            raise ValueError(
                f"feature {self.name!r}: asset and read_asset go together "
                f"(asset={self.asset!r}, read_asset={self.read_asset!r})"
            )


# --------------------------------------------------------------------------- models
@dataclass
class ModelSetup:
    """Everything a model factory is told about the experiment it serves."""

    task: Task
    classes: list[str]
    input_shape: tuple[int, ...]
    seed: int
    device: str  # "cpu" or "cuda"
    #: The experiment's model parameters (architecture choices, learning rate, ...).
    params: Mapping[str, Any]
    #: The experiment's training budget for the chosen profile (epochs, batch size, ...).
    budget: Mapping[str, Any]
    #: Show progress bars (False when not on a terminal).
    progress: bool = False


class Model(Protocol):
    """What a model factory returns.

    ``x`` arrays are stacks of segments, shape ``(n, *input_shape)``.  A model whose class
    sets ``accepts_lazy_inputs = True`` gets segmented inputs as a lazy array-like
    (:class:`genrebench.features.lazy.LazySegments`: ``len``, ``shape``, ``dtype``, ``ndim``,
    indexing by an int, a slice or an array of rows, ``np.asarray`` to materialise), read
    from the feature cache as it is indexed, so memory does not grow with the data set;
    every other model gets a real NumPy array.  ``y`` is an int
    array of class indices (single-label) or a 0/1 matrix ``(n, n_classes)`` (multi-label).
    ``predict_proba`` returns ``(n, n_classes)``: rows sum to one for single-label tasks;
    independent per-label probabilities for multi-label tasks.
    """

    def fit(
        self, x: np.ndarray, y: np.ndarray, x_valid: np.ndarray | None, y_valid: np.ndarray | None
    ) -> None: ...

    def predict_proba(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelSpec:
    """A learner.  ``create(setup)`` returns an object following :class:`Model`.

    The returned object may also define ``n_parameters() -> int`` (reported as a cost
    column) and a ``threshold`` attribute (multi-label decision threshold, default 0.5).
    """

    name: str
    create: Callable[[ModelSetup], Model]
    tasks: tuple[Task, ...] = TASKS
    description: str = ""


# --------------------------------------------------------------------------- metrics
@dataclass(frozen=True)
class MetricSpec:
    """A score of per-track probabilities.

    ``compute(y_true, probs, threshold)`` gets class indices (single-label) or a 0/1 matrix
    (multi-label), the ``(n_tracks, n_classes)`` probabilities and the multi-label decision
    threshold.  It returns a float, whose leaderboard column is the metric's name after its
    last ``/`` (``chroma/top3`` -> ``top3``); or, when it yields several values (for
    example a score and how many classes it skipped), a dict whose keys are the columns
    listed in ``columns``.  Columns are unique per task type across all plugins: a clash
    stops plugin loading.

    ``per_track(y_true, probs, threshold)`` (optional) gives the metric's intervals and
    paired tests on the leaderboard: one value per track whose mean is the metric (for
    example 1.0 where the true class is among the top two, else 0.0), as an array of
    shape ``(n_tracks,)``, or a dict of such arrays by column.  Without it the column
    shows the standard deviation over seeds.  ``bounds``: the metric's range, to which
    intervals are clipped.
    """

    name: str
    task: Task
    compute: Callable[[np.ndarray, np.ndarray, float], float | dict[str, float]]
    higher_is_better: bool = True
    description: str = ""
    #: The columns of a ``compute`` that returns a dict (empty: it returns one float).
    columns: tuple[str, ...] = ()
    per_track: (
        Callable[[np.ndarray, np.ndarray, float], np.ndarray | dict[str, np.ndarray]] | None
    ) = None
    bounds: tuple[float, float] = (-math.inf, math.inf)

    def column_names(self) -> tuple[str, ...]:
        """The leaderboard columns this metric fills."""
        return tuple(self.columns) or (self.name.rsplit("/", 1)[-1],)


# --------------------------------------------------------------------------- experiments
@dataclass(frozen=True)
class Segments:
    """How tracks are cut into model inputs.

    ``length_frames`` (or ``length_seconds``, converted with the feature's frame rate)
    gives the segment length; ``None`` means the whole feature array is one input, which is
    the only choice for track-level features.  ``train_count`` / ``test_count`` segments are
    taken per track (``None``: every non-overlapping segment).  ``placement`` is
    ``"random"`` (seeded, the same tracks get the same offsets for a given seed),
    ``"even"`` (evenly spread over the track) or ``"start"`` (from the start of the track,
    one every hop: the first ``count`` segments of the ``None`` rule below, fewer when fewer
    fit, as in "18 windows, one every 1.5 s from the start").  Tracks shorter than a
    segment are zero-padded at the end.

    ``hop_frames`` (or ``hop_seconds``) applies when a count is ``None`` or the placement
    is ``"start"``: every segment whose start is a multiple of the hop and that fits in the
    track (overlapping when the hop is shorter than the segment, as in "3 s patches with a
    1 s hop"); without a hop the segments do not overlap.
    """

    length_seconds: float | None = None
    length_frames: int | None = None
    train_count: int | None = 1
    test_count: int | None = 1
    placement: Literal["random", "even", "start"] = "random"
    hop_seconds: float | None = None
    hop_frames: int | None = None


@dataclass(frozen=True)
class SplitRequest:
    """Which split an experiment wants.

    ``scheme`` is the name of one of the data set's fixed schemes (``"fault-filtered"``,
    ``"official"``, ``"split-0"``, ...), ``"stratified"`` (seeded, by track, with
    ``ratios`` such as ``{"train": 0.75, "test": 0.25}``), ``"kfold"`` (stratified k-fold
    cross-validation with ``folds`` folds, one job per fold) or ``"default"`` (the data
    set's own default).  A data set without the named fixed scheme falls back to its
    default and the run records that it did.  An experiment's split is its paper's: it
    applies under the paper protocol only (:mod:`genrebench.datasets.protocols`).
    """

    scheme: str = "default"
    ratios: Mapping[str, float] | None = None
    folds: int | None = None


@dataclass(frozen=True)
class Reported:
    """A number a paper reports for an experiment, for the report's *paper vs ours* table.

    ``metric`` is a leaderboard column (``accuracy``, ``accuracy_raw``, ``roc_auc_micro``,
    ...), ``value`` a fraction (0.491, not 49.1), ``dataset`` the data the paper used
    (``"gtzan"``, ``"fma-small"``, ...), ``source`` where in the paper it stands
    (``"Table 2"``) and ``note`` anything a reader must know to compare (granularity, runs).

    ``part`` is the part of the paper's split the number was measured on: ``"test"``,
    ``"valid"`` (a development or validation set) or ``"train"``; the report compares it
    with our value on the same part (test: the leaderboard column; valid: computed from
    each job's ``valid_predictions.csv``; train: from the training history in
    ``provenance.json``).  Empty: read from the metric's name (``valid_accuracy`` is the
    accuracy on the validation part, ``train_accuracy`` on the training part), else
    ``"test"``.  Per-segment numbers use the per-segment column (``accuracy_raw``).
    ``split`` names the paper's split (``"random 70/20/10 by file"``) for the report.
    """

    metric: str
    value: float
    dataset: str = ""
    source: str = ""
    note: str = ""
    part: str = ""
    split: str = ""

    def __post_init__(self) -> None:
        if self.part not in REPORTED_PARTS:
            raise ConfigError(
                f"Reported({self.metric!r}).part is {self.part!r}; expected one of "
                + ", ".join(repr(p) for p in REPORTED_PARTS)
            )

    @property
    def measured_on(self) -> tuple[str, str]:
        """``(part, metric)``: the split part and the leaderboard metric the number is,
        ``valid_accuracy`` read as ``("valid", "accuracy")``."""
        for part in ("valid", "train"):
            if self.metric.startswith(f"{part}_") and self.part in ("", part):
                return part, self.metric.removeprefix(f"{part}_")
        return self.part or "test", self.metric


#: What :attr:`Reported.part` may be ("": read from the metric's name).
REPORTED_PARTS = ("", "test", "valid", "train")


@dataclass(frozen=True)
class ExperimentSpec:
    """A paper's recipe: a feature, a model and a protocol, runnable on any data set of a
    matching task type.

    ``profiles`` maps ``"quick"`` and ``"paper"`` (and any extra profile, such as a
    paper's second training length ``"paper-200ep"``) to the training budget handed to the
    model (``ModelSetup.budget``); ``--profile NAME`` runs the experiments that define it.
    A budget may also hold ``max_train_tracks``, ``max_valid_tracks`` and
    ``max_test_tracks``: the core then takes a seeded, class-balanced subset of the split,
    so a ``quick`` run stays small on a large data set.  ``calibration_holdout: 0.2`` in a
    budget gives a split without a validation part one for calibration: that share of the
    training tracks (stratified, seeded by the split seed) is held out of training, never
    shown to the model, and only used to fit the calibrator and by ensembles.
    """

    name: str
    feature: str
    model: str
    tasks: tuple[Task, ...] = ("single-label",)
    model_params: Mapping[str, Any] = field(default_factory=dict)
    profiles: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {"quick": {}, "paper": {}}
    )
    segments: Segments = field(default_factory=Segments)
    #: How segment probabilities become one track's probabilities (see genrebench.aggregation).
    aggregation: str = "mean"
    #: Further aggregations whose track accuracy is reported as extra columns
    #: (``accuracy_<name>``); segment-level accuracy is reported as ``accuracy_raw``
    #: whenever tracks have more than one test segment.
    extra_aggregations: tuple[str, ...] = ()
    split: SplitRequest = field(default_factory=SplitRequest)
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    #: Citation of the paper reproduced, shown by ``genrebench list``.
    paper: str = ""
    #: What the paper reports for this experiment (see :class:`Reported`).
    reported: tuple[Reported, ...] = ()
    #: Post-hoc calibrator fitted on the validation tracks (a registered calibrator name,
    #: or ``"none"``); ``--calibration`` overrides it.
    calibration: str = "temperature"
    #: Non-empty when the experiment needs pretrained weights the user must provide: what
    #: file or folder, and the option or environment variable that points at it.  Shown by
    #: ``genrebench list``; suites leave such experiments out.
    requires_weights: str = ""


# --------------------------------------------------------------------------- calibration
#: What a calibrator acts on (``CalibratorSpec.level``).
CALIBRATION_LEVELS = ("track", "segment")


@dataclass(frozen=True)
class CalibratorSpec:
    """A post-hoc calibrator of per-track probabilities.

    ``fit(valid_probs, valid_labels, task)`` gets the validation tracks' aggregated
    probabilities ``(n, n_classes)`` and their labels (class indices, or a 0/1 matrix for
    multi-label tasks) and returns a :class:`Calibration`, or raises ``ValueError`` with
    the reason when it cannot fit (the job then reports the reason and goes on).  A
    calibrator that fits nothing (a fixed temperature) sets ``needs_validation=False``: it
    then also runs on jobs without a validation part, and ``fit`` may get ``None`` for both.

    ``level="segment"``: the calibrator acts on each segment's probabilities before the
    experiment's aggregation.  ``fit`` then gets a
    :class:`genrebench.evaluation.calibration.SegmentProbabilities` of the validation segments
    instead of the track array (the labels stay per track), and the fitted ``transform`` maps the
    test part's ``SegmentProbabilities`` to per-track probabilities.  Jobs without segments
    (ensembles) skip such a calibrator, saying why.
    """

    name: str
    fit: Callable[[Any, np.ndarray | None, Task], Calibration]
    tasks: tuple[Task, ...] = TASKS
    description: str = ""
    needs_validation: bool = True
    level: Literal["track", "segment"] = "track"


@dataclass(frozen=True)
class Calibration:
    """A fitted calibrator: ``transform(probs) -> probs`` of the same shape (for a
    segment-level calibrator: the test segments' ``SegmentProbabilities`` -> per-track
    probabilities), and the fitted parameters to report (for example
    ``{"temperature": 1.4}``)."""

    transform: Callable[[Any], np.ndarray]
    params: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- ensembles
@dataclass(frozen=True)
class EnsembleMember:
    """What an ensemble rule sees of one member experiment on one data set and seed: its
    aggregated per-track probabilities on the test and validation tracks (same track
    order for every member; ``valid`` is ``None`` when the split has no validation part)."""

    experiment: str
    test: np.ndarray
    valid: np.ndarray | None


@dataclass(frozen=True)
class EnsembleSpec:
    """An ensemble of already-run experiments, evaluated from their saved predictions.

    It runs after its ``members`` on the same data set, split, profile and seed and gets
    its own leaderboard row; selecting it with ``genrebench run`` selects its members.
    ``rule`` is the name of an aggregation rule applied across members instead of segments
    (``"mean"``: mean probability; ``"vote"``: share of members whose top class each class
    is, or for multi-label tasks share of members with ``p >= 0.5``; ``"geometric"``,
    ``"max"``), or a function ``rule(members, y_valid, task) -> test probabilities`` that may
    use the members' validation predictions (``y_valid``: the validation labels, or ``None``
    when the members have no common validation tracks).  ``calibration`` is the calibrator
    fitted on the ensemble's validation probabilities (named rules only; ``--calibration``
    overrides it).
    """

    name: str
    members: tuple[str, ...]
    rule: str | Callable[[Sequence[EnsembleMember], np.ndarray | None, Task], np.ndarray] = "mean"
    tasks: tuple[Task, ...] = ("single-label",)
    description: str = ""
    paper: str = ""
    reported: tuple[Reported, ...] = ()
    calibration: str = "temperature"
