"""Writing a synthetic data set to disk once, atomically, with its manifest."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrebench.audio import write_audio
from genrebench.datasets.synthetic.render import DEFAULT_DURATION, DEFAULT_SAMPLE_RATE, render_track
from genrebench.datasets.synthetic.styles import GENRES

try:  # POSIX only; elsewhere the atomic rename alone keeps concurrent generation safe
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


GENERATOR_VERSION = 1
SINGLE_LABEL_SET = "synthetic-genres"
MULTI_LABEL_SET = "synthetic-genres-multilabel"
DEFAULT_TRACKS_PER_CLASS = 20
DEFAULT_SEED = 0
SPLIT_RATIOS = {"train": 0.6, "valid": 0.2, "test": 0.2}
#: How many genres a multi-label track mixes, and how often.
CARDINALITY_WEIGHTS = {1: 0.4, 2: 0.4, 3: 0.2}


# =========================================================================== data sets
@dataclass(frozen=True)
class _SetParams:
    multilabel: bool
    tracks_per_class: int
    duration: float
    sample_rate: int
    seed: int

    @property
    def name(self) -> str:
        return MULTI_LABEL_SET if self.multilabel else SINGLE_LABEL_SET

    def record(self) -> dict:
        """What ``generator.json`` holds: a set is reused only when this matches."""
        return {
            "generator": "genrebench.synthetic",
            "version": GENERATOR_VERSION,
            "set": self.name,
            "multilabel": self.multilabel,
            "tracks_per_class": self.tracks_per_class,
            "duration": self.duration,
            "sample_rate": self.sample_rate,
            "seed": self.seed,
            "genres": list(GENRES),
        }

    def directory_name(self) -> str:
        """The set's name for the default parameters; other parameters get their own
        directory (``<name>-<hash>``) so variants never overwrite one another."""
        if (self.tracks_per_class, self.duration, self.sample_rate, self.seed) == (
            DEFAULT_TRACKS_PER_CLASS,
            DEFAULT_DURATION,
            DEFAULT_SAMPLE_RATE,
            DEFAULT_SEED,
        ):
            return self.name
        key = json.dumps([self.tracks_per_class, self.duration, self.sample_rate, self.seed])
        return f"{self.name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def generate(
    root: str | Path,
    *,
    multilabel: bool = False,
    tracks_per_class: int = DEFAULT_TRACKS_PER_CLASS,
    duration: float = DEFAULT_DURATION,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    seed: int = DEFAULT_SEED,
) -> Path:
    """Write a synthetic data set under ``root`` unless an identical one is there; return
    its directory (holding ``manifest.csv``, ``generator.json`` and ``audio/``).

    Single-label: ``tracks_per_class`` tracks per genre.  Multi-label: ``tracks_per_class``
    tracks per *primary* genre, each mixing 1–3 genres.  The set is rendered into a
    temporary sibling directory and renamed into place, so it appears complete or not at
    all; concurrent callers wait on a lock file and then reuse the finished set.
    """
    if tracks_per_class < 1 or duration <= 0 or sample_rate <= 0 or seed < 0:
        raise ValueError("tracks_per_class, duration and sample_rate must be > 0, seed >= 0")
    params = _SetParams(multilabel, tracks_per_class, float(duration), sample_rate, seed)
    root = Path(root)
    target = root / params.directory_name()
    if _is_complete(target, params):
        return target
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f".{target.name}.lock"):
        if _is_complete(target, params):  # another process finished it while we waited
            return target
        _remove_leftovers(root, target.name)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=root))
        try:
            _write_set(scratch, params)
            _move_into_place(scratch, target, params)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def _is_complete(directory: Path, params: _SetParams) -> bool:
    try:
        recorded = json.loads((directory / "generator.json").read_text())
    except (OSError, ValueError):
        return False
    return recorded == params.record() and (directory / "manifest.csv").is_file()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_leftovers(root: Path, name: str) -> None:
    """Scratch directories of generations that were killed half-way.  Only called while
    holding the lock, so no live generation owns them."""
    if fcntl is None:  # pragma: no cover - without a lock we cannot tell live from dead
        return
    for leftover in [*root.glob(f".{name}.tmp-*"), *root.glob(f".{name}.old-*")]:
        shutil.rmtree(leftover, ignore_errors=True)


def _move_into_place(scratch: Path, target: Path, params: _SetParams) -> None:
    try:
        os.rename(scratch, target)  # atomic; fails if target exists and is not empty
        return
    except OSError:
        if _is_complete(target, params):
            return
    # An outdated set (older generator version): swap it out, then delete it.
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    with contextlib.suppress(FileNotFoundError):
        os.rename(target, old)
    os.rename(scratch, target)
    shutil.rmtree(old, ignore_errors=True)


def _label_sets(params: _SetParams, rng: np.random.Generator) -> list[tuple[str, ...]]:
    """Each track's genres, primary first: every genre is primary for ``tracks_per_class``
    tracks; multi-label tracks add 0-2 other genres."""
    labels = []
    sizes, weights = zip(*CARDINALITY_WEIGHTS.items(), strict=True)
    p = np.array(weights) / sum(weights)
    for primary in GENRES:
        for _ in range(params.tracks_per_class):
            if not params.multilabel:
                labels.append((primary,))
                continue
            size = int(rng.choice(sizes, p=p))
            others = [g for g in GENRES if g != primary]
            extra = rng.choice(len(others), size=size - 1, replace=False)
            labels.append((primary, *(others[i] for i in sorted(extra))))
    return labels


def _split_counts(n: int) -> list[int]:
    """Tracks per part for a class of ``n``: proportional (largest remainder), and at
    least one in every part once there are enough tracks."""
    exact = np.array([ratio * n for ratio in SPLIT_RATIOS.values()])
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    while n >= len(counts) and counts.min() == 0:
        counts[counts.argmax()] -= 1
        counts[counts.argmin()] += 1
    return counts.tolist()


def _assign_splits(primaries: Sequence[str], rng: np.random.Generator) -> list[str]:
    """A fixed 60/20/20 train/valid/test assignment, stratified on the main genre."""
    splits = [""] * len(primaries)
    for genre in GENRES:
        members = [i for i, g in enumerate(primaries) if g == genre]
        members = [members[i] for i in rng.permutation(len(members))]
        bounds = np.cumsum([0, *_split_counts(len(members))])
        for part, lo, hi in zip(SPLIT_RATIOS, bounds[:-1], bounds[1:], strict=True):
            for i in members[lo:hi]:
                splits[i] = part
    return splits


def _write_set(directory: Path, params: _SetParams) -> None:
    set_index = int(params.multilabel)
    rng = np.random.default_rng([params.seed, set_index])
    labels = _label_sets(params, rng)
    splits = _assign_splits([g[0] for g in labels], rng)
    prefix = "mix" if params.multilabel else None
    rows = []
    for index, genres in enumerate(labels):
        number = index if params.multilabel else index % params.tracks_per_class
        track_id = f"{prefix or genres[0]}.{number:04d}"
        track_seed = int(
            np.random.SeedSequence([params.seed, set_index, index]).generate_state(1)[0]
        )
        audio = render_track(genres, track_seed, params.duration, params.sample_rate)
        relative = f"audio/{track_id}.wav"
        write_audio(directory / relative, audio, params.sample_rate)
        ordered = [g for g in GENRES if g in genres]
        rows.append((track_id, relative, "|".join(ordered), splits[index]))
    with open(directory / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["track_id", "path", "label", "split"])
        writer.writerows(rows)
    (directory / "generator.json").write_text(json.dumps(params.record(), indent=2) + "\n")
