"""Builtin plugin: the embedded synthetic data sets, generated on first use.

``synthetic-genres`` (single-label) and ``synthetic-genres-multilabel`` (1–3 genres per
track) are rendered by :mod:`genrebench.datasets.synthetic` into the data root, then loaded like
any real data set: wav files listed in a manifest, decoded by the core.

Data set options (``--dataset-option KEY=VALUE``; strings are converted):

``tracks_per_class``
    Tracks per genre (multi-label: per main genre); default 20, at least 3 so that every
    genre has train, valid and test tracks.
``duration``
    Seconds per track; default 8.
``seed``
    Generator seed; default 0.  Another seed gives another, equally hard, data set.
``sample_rate``
    Hz; default 22050.

Non-default options are generated into their own directory (``<name>-<hash>``) next to
the default set, so switching back and forth never regenerates.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from genrebench import DatasetSpec, hookimpl
from genrebench.dataset import Dataset, Track
from genrebench.datasets.loaders.base import unknown_option_notes
from genrebench.datasets.synthetic import (
    DEFAULT_DURATION,
    DEFAULT_SAMPLE_RATE,
    DEFAULT_SEED,
    DEFAULT_TRACKS_PER_CLASS,
    GENRES,
    MULTI_LABEL_SET,
    SINGLE_LABEL_SET,
    generate,
)
from genrebench.errors import ConfigError, DataRootError

DATA_DIR_ENV = "GENREBENCH_DATA_DIR"
DEFAULT_DATA_DIR = Path("~/.cache/genrebench/data")

#: option -> (type, smallest allowed value, largest allowed value, default)
OPTIONS: dict[str, tuple[type, float, float, Any]] = {
    "tracks_per_class": (int, 3, 10_000, DEFAULT_TRACKS_PER_CLASS),
    "duration": (float, 0.5, 600.0, DEFAULT_DURATION),
    "seed": (int, 0, 2**32 - 1, DEFAULT_SEED),
    "sample_rate": (int, 8000, 96000, DEFAULT_SAMPLE_RATE),
}

EXPECTED_LAYOUT = """\
Generated automatically on first use under the data root (--data-root, else
$GENREBENCH_DATA_DIR, else ~/.cache/genrebench/data); the data root must be writable:
  <data-root>/{name}/manifest.csv     track_id,path,label,split (labels joined by '|')
  <data-root>/{name}/generator.json   generator version and parameters
  <data-root>/{name}/audio/<track_id>.wav"""


def default_data_root() -> Path:
    """``$GENREBENCH_DATA_DIR`` if set, else ``~/.cache/genrebench/data``."""
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(configured).expanduser() if configured else DEFAULT_DATA_DIR.expanduser()


def parse_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The generator parameters from data set options (command-line strings included);
    unknown options are left to :func:`load`, which notes them (experiments may carry
    options meant for other data sets)."""
    parsed = {name: default for name, (_, _, _, default) in OPTIONS.items()}
    for key, value in options.items():
        if key not in OPTIONS:
            continue
        kind, low, high, _ = OPTIONS[key]
        expected = "an integer" if kind is int else "a number"
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"dataset option {key}={value!r} must be {expected}") from None
        if kind is int and not number.is_integer():
            raise ConfigError(f"dataset option {key}={value!r} must be {expected}")
        if not low <= number <= high:
            raise ConfigError(
                f"dataset option {key}={value!r} must be between {low:g} and {high:g}"
            )
        parsed[key] = kind(number)
    return parsed


def load(root: Path | None, options: Mapping[str, Any], *, multilabel: bool) -> Dataset:
    """Generate the set under ``root`` if needed, then read its manifest."""
    name = MULTI_LABEL_SET if multilabel else SINGLE_LABEL_SET
    params = parse_options(options)
    root = Path(root).expanduser() if root is not None else default_data_root()
    try:
        directory = generate(root, multilabel=multilabel, **params)
    except OSError as exc:
        raise DataRootError(
            f"cannot write the {name!r} data set under {root}: {exc}\n"
            + EXPECTED_LAYOUT.format(name=name)
        ) from exc
    dataset = read_manifest(directory, name, "multi-label" if multilabel else "single-label")
    dataset.notes.extend(unknown_option_notes(name, options, [*OPTIONS, "strict"]))
    return dataset


def read_manifest(directory: Path, name: str, task: str) -> Dataset:
    """The :class:`Dataset` described by ``directory/manifest.csv``, with its ``official``
    split taken from the manifest's split column.  Its default (the benchmark protocol's
    split) is the core's seeded ``stratified`` split, train 0.7 / valid 0.1 / test 0.2 with
    ``--split-seed`` (0 by default), as for any collection without a split list."""
    directory = directory.resolve()
    tracks: list[Track] = []
    parts: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    with open(directory / "manifest.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            labels = tuple(row["label"].split("|"))
            tracks.append(Track(row["track_id"], directory / row["path"], labels))
            parts[row["split"]].append(row["track_id"])
    return Dataset(
        name=name,
        task=task,  # type: ignore[arg-type]
        classes=list(GENRES),
        tracks=tracks,
        fixed_splits={"official": parts},
        default_split="stratified",
    )


@hookimpl
def genrebench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name=SINGLE_LABEL_SET,
            task="single-label",
            load=partial(load, multilabel=False),
            embedded=True,
            description=(
                f"Procedurally generated music, {len(GENRES)} genres ({', '.join(GENRES)}), "
                f"{DEFAULT_TRACKS_PER_CLASS} clips of {DEFAULT_DURATION:g} s per genre; default "
                "split the seeded stratified 70/10/20, also a fixed 60/20/20 'official' one.  "
                "Genres differ in tempo, groove, swing, bass line, harmony, timbre and "
                "production, and overlap."
            ),
            expected_layout=EXPECTED_LAYOUT.format(name=SINGLE_LABEL_SET),
        ),
        DatasetSpec(
            name=MULTI_LABEL_SET,
            task="multi-label",
            load=partial(load, multilabel=True),
            embedded=True,
            description=(
                "Procedurally generated music mixing 1-3 genres per track (drums of one, "
                "harmony of another, ...), multi-hot labels over the same genres; "
                f"{DEFAULT_TRACKS_PER_CLASS * len(GENRES)} clips of {DEFAULT_DURATION:g} s; "
                "default split the seeded stratified 70/10/20, also a fixed 60/20/20 "
                "'official' one."
            ),
            expected_layout=EXPECTED_LAYOUT.format(name=MULTI_LABEL_SET),
        ),
    ]
