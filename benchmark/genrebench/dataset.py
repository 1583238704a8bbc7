"""The loaded form of a data set: its tracks, classes and split schemes.

Loaders (``DatasetSpec.load``) build a :class:`Dataset`; the runner asks it for a split.
Only paths are held here: audio is decoded one track at a time during feature extraction.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genrebench.errors import ConfigError
from genrebench.specs import SplitRequest, Task

SPLIT_PARTS = ("train", "valid", "test")
DEFAULT_STRATIFIED_RATIOS = {"train": 0.7, "valid": 0.1, "test": 0.2}
#: The k-fold split scheme (:func:`kfold_split`), its default and smallest fold counts.
KFOLD = "kfold"
DEFAULT_FOLDS = 5
MIN_FOLDS = 3


@dataclass(frozen=True)
class Track:
    """One audio file and its labels (one label for single-label data sets).

    ``assets`` maps names to companion files the data set has for this track besides the
    audio (GTZAN's Kaggle spectrogram image is ``"gtzan-kaggle-image"``); a feature that
    names one in ``FeatureSpec.asset`` reads it instead of the audio."""

    track_id: str
    path: Path
    labels: tuple[str, ...]
    assets: Mapping[str, Path] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Problem:
    """A track that could not be used, and why (missing, unreadable, empty, ...)."""

    track_id: str
    path: str
    reason: str


@dataclass
class Split:
    """Track ids per part.  ``valid`` may be empty.  ``holdout_valid`` marks a validation
    part carved out of the training tracks for calibration only (the budget's
    ``calibration_holdout``): the model is not shown it while training."""

    scheme: str
    train: list[str]
    valid: list[str]
    test: list[str]
    note: str = ""
    holdout_valid: bool = False

    def part(self, name: str) -> list[str]:
        return getattr(self, name)


@dataclass
class Dataset:
    """A data set ready to split.

    ``fixed_splits`` maps scheme names to ``{"train": ids, "valid": ids, "test": ids}``.
    Every data set also offers ``"stratified"`` (seeded, by track).  ``problems`` lists
    tracks the loader already knows it cannot use; ``notes`` are messages for the run
    summary (for example "split lists 443 tracks, 100 found").
    """

    name: str
    task: Task
    classes: list[str]
    tracks: list[Track]
    fixed_splits: Mapping[str, Mapping[str, Sequence[str]]] = field(default_factory=dict)
    default_split: str = "stratified"
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        ids = [t.track_id for t in self.tracks]
        dupes = [i for i, n in Counter(ids).items() if n > 1]
        if dupes:
            raise ConfigError(f"data set {self.name!r} has duplicate track ids: {dupes[:5]}")
        known = set(self.classes)
        for t in self.tracks:
            unknown = set(t.labels) - known
            if unknown:
                raise ConfigError(
                    f"data set {self.name!r}: track {t.track_id!r} has labels {sorted(unknown)}"
                    f" outside its class list {self.classes}"
                )
        self._by_id = {t.track_id: t for t in self.tracks}

    # ------------------------------------------------------------------ lookup
    def track(self, track_id: str) -> Track:
        return self._by_id[track_id]

    @property
    def schemes(self) -> list[str]:
        return sorted({*self.fixed_splits, "stratified", KFOLD})

    def label_matrix(self, track_ids: Sequence[str]) -> np.ndarray:
        """Class indices (single-label) or a 0/1 matrix (multi-label) for ``track_ids``."""
        index = {c: i for i, c in enumerate(self.classes)}
        if self.task == "single-label":
            return np.array([index[self._by_id[t].labels[0]] for t in track_ids], dtype=np.int64)
        y = np.zeros((len(track_ids), len(self.classes)), dtype=np.int64)
        for row, t in enumerate(track_ids):
            for label in self._by_id[t].labels:
                y[row, index[label]] = 1
        return y

    # ------------------------------------------------------------------ splitting
    def split(self, request: SplitRequest, seed: int = 0, fold: int | None = None) -> Split:
        """Resolve ``request`` to track ids per part (see :class:`SplitRequest`); for a
        ``kfold`` request, the parts of fold ``fold`` (0-based, see :func:`kfold_split`)."""
        scheme = request.scheme
        note = ""
        if scheme == "default":
            scheme = self.default_split
        elif scheme not in ("stratified", KFOLD) and scheme not in self.fixed_splits:
            note = (
                f"data set {self.name!r} has no split scheme {scheme!r}; "
                f"used its default {self.default_split!r}"
            )
            scheme = self.default_split
        if scheme == KFOLD:
            folds = request.folds or DEFAULT_FOLDS
            if fold is None:
                raise ConfigError(f"a {KFOLD!r} split needs the fold to use (0..{folds - 1})")
            parts = kfold_split(self, folds, fold, seed)
            scheme_name = f"{KFOLD}(k={folds})"
        elif scheme == "stratified":
            ratios = dict(request.ratios or DEFAULT_STRATIFIED_RATIOS)
            parts = stratified_split(self.tracks, ratios, seed)
            scheme_name = "stratified(" + ",".join(f"{k}={v:g}" for k, v in ratios.items()) + ")"
        else:
            fixed = self.fixed_splits[scheme]
            present = set(self._by_id)
            parts = {p: [t for t in fixed.get(p, ()) if t in present] for p in SPLIT_PARTS}
            scheme_name = scheme
        split = Split(scheme_name, parts["train"], parts["valid"], parts["test"], note)
        if not split.train or not split.test:
            raise ConfigError(
                f"split {scheme_name!r} of data set {self.name!r} leaves "
                f"{len(split.train)} training and {len(split.test)} test tracks; both must be > 0"
            )
        split.note = "; ".join(n for n in (note, small_classes_note(self, split)) if n)
        return split


def kfold_assignment(tracks: Sequence[Track], folds: int, seed: int) -> list[list[str]]:
    """Every track in exactly one of ``folds`` folds, seeded by ``seed`` and stratified:
    single-label tracks by scikit-learn's ``StratifiedKFold`` (shuffled, fold sizes within
    one track of each other per class), multi-label tracks by the iterative stratification
    of :func:`stratified_split` with equal shares.  Each fold's ids are sorted."""
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < MIN_FOLDS:
        raise ConfigError(
            f"k-fold needs at least {MIN_FOLDS} folds (a test fold, a validation fold and "
            f"training folds), got {folds!r}"
        )
    ordered = sorted(tracks, key=lambda t: t.track_id)
    if len(ordered) < folds:
        raise ConfigError(
            f"{folds} folds need at least {folds} tracks, the data set has {len(ordered)}"
        )
    if any(len(t.labels) > 1 for t in ordered):
        names = [str(k) for k in range(folds)]
        shares = {name: 1.0 / folds for name in names}
        assigned = _iterative_stratification(ordered, shares, np.random.default_rng(seed))
        return [sorted(t for t, part in assigned.items() if part == name) for name in names]

    # lazy: loads sklearn, not needed at import time
    from sklearn.model_selection import StratifiedKFold

    labels = [t.labels[0] if t.labels else "" for t in ordered]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # A class with fewer tracks than folds is named by small_classes_note instead.
        warnings.simplefilter("ignore", UserWarning)
        try:
            found = [test for _, test in splitter.split(np.zeros(len(ordered)), labels)]
        except ValueError as exc:
            raise ConfigError(f"cannot cut {folds} stratified folds: {exc}") from None
    return [sorted(ordered[i].track_id for i in test) for test in found]


def kfold_split(dataset: Dataset, folds: int, fold: int, seed: int) -> dict[str, list[str]]:
    """The parts of fold ``fold`` of ``folds`` (:func:`kfold_assignment`): its test part is
    fold ``fold``, its validation part the next fold (``(fold + 1) % folds``), its training
    part the other ``folds - 2`` folds.  Over the folds of one seed every track is tested
    exactly once and validated exactly once (5 folds: 60/20/20 per fold)."""
    assignment = kfold_assignment(dataset.tracks, folds, seed)
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < folds:
        raise ConfigError(f"fold must be between 0 and {folds - 1}, got {fold!r}")
    valid = (fold + 1) % folds
    train = sorted(t for k, ids in enumerate(assignment) if k not in (fold, valid) for t in ids)
    return {"train": train, "valid": assignment[valid], "test": assignment[fold]}


def check_ratios(ratios: Mapping[str, float]) -> None:
    """A :class:`ConfigError` unless ``ratios`` name parts among train/valid/test with
    shares >= 0 that sum to 1."""
    unknown = set(ratios) - set(SPLIT_PARTS)
    if unknown or not ratios:
        raise ConfigError(f"split ratios must name parts among {SPLIT_PARTS}, got {dict(ratios)}")
    if any(v < 0 for v in ratios.values()) or abs(sum(ratios.values()) - 1.0) > 1e-6:
        raise ConfigError(f"split ratios must be >= 0 and sum to 1, got {dict(ratios)}")


def small_classes_note(dataset: Dataset, split: Split) -> str:
    """A note naming the classes with fewer tracks than the split has parts: such a class
    is missing from some part (``f1_macro`` scores a class absent from the test part 0)."""
    parts = [p for p in SPLIT_PARTS if split.part(p)]
    used = {t for p in parts for t in split.part(p)}
    counts = Counter(label for t in used for label in dataset.track(t).labels)
    small = [f"{c!r} ({counts[c]})" for c in dataset.classes if counts[c] < len(parts)]
    if not small:
        return ""
    return (
        f"data set {dataset.name!r}: {len(small)} class(es) have fewer tracks than the "
        f"{len(parts)} parts of split {split.scheme!r} and are missing from some part: "
        + ", ".join(small)
        + " (f1_macro scores a class absent from the test part as 0)"
    )


def stratified_split(
    tracks: Sequence[Track], ratios: Mapping[str, float], seed: int
) -> dict[str, list[str]]:
    """Seeded split by track that keeps every label's share in every part.

    ``ratios`` names parts among train/valid/test and their shares; they must sum to 1.
    Single-label tracks: each class is shuffled and cut in proportion (largest-remainder
    rounding).  Multi-label tracks: iterative stratification (Sechidis, Tsoumakas and
    Vlahavas 2011), which serves the rarest label first, so every tag keeps its share.
    """
    check_ratios(ratios)
    rng = np.random.default_rng(seed)
    ordered = sorted(tracks, key=lambda t: t.track_id)
    parts: dict[str, list[str]] = {p: [] for p in SPLIT_PARTS}
    if any(len(t.labels) > 1 for t in ordered):
        for track_id, part in _iterative_stratification(ordered, ratios, rng).items():
            parts[part].append(track_id)
        return parts
    by_class: dict[str, list[str]] = {}
    for t in ordered:
        by_class.setdefault(t.labels[0] if t.labels else "", []).append(t.track_id)
    names = list(ratios)
    for ids in by_class.values():
        ids = [ids[i] for i in rng.permutation(len(ids))]
        exact = np.array([ratios[p] * len(ids) for p in names])
        counts = np.floor(exact).astype(int)
        for i in np.argsort(-(exact - counts), kind="stable")[: len(ids) - counts.sum()]:
            counts[i] += 1
        start = 0
        for p, n in zip(names, counts, strict=True):
            parts[p].extend(ids[start : start + n])
            start += n
    return parts


def _iterative_stratification(
    tracks: Sequence[Track], ratios: Mapping[str, float], rng: np.random.Generator
) -> dict[str, str]:
    names = list(ratios)
    share = np.array([ratios[p] for p in names])
    wanted = share * len(tracks)  # tracks still wanted per part
    labels = sorted({label for t in tracks for label in t.labels})
    wanted_label = {label: share * sum(label in t.labels for t in tracks) for label in labels}
    remaining = {t.track_id: t for t in tracks}
    assignment: dict[str, str] = {}

    def assign(track: Track, candidates: np.ndarray) -> None:
        best = candidates[wanted[candidates] == wanted[candidates].max()]
        part = int(rng.choice(best))
        assignment[track.track_id] = names[part]
        wanted[part] -= 1
        for label in track.labels:
            wanted_label[label][part] -= 1
        del remaining[track.track_id]

    while remaining:
        counts = {}
        for t in remaining.values():
            for label in t.labels:
                counts[label] = counts.get(label, 0) + 1
        if not counts:  # only unlabelled tracks left
            for t in list(remaining.values()):
                assign(t, np.arange(len(names)))
            break
        rarest = min(counts, key=lambda label: (counts[label], label))
        holders = [t for t in remaining.values() if rarest in t.labels]
        for i in rng.permutation(len(holders)):
            need = wanted_label[rarest]
            assign(holders[i], np.flatnonzero(need == need.max()))
    return assignment
