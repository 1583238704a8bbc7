"""``manifest`` and ``manifest-multilabel``: your own collection listed in a CSV.

Columns ``path`` (relative to the CSV's folder, never leaving it), ``label`` (for
``manifest-multilabel`` several labels joined by ``|``) and an optional ``split``
(train/valid/test): when present it becomes the ``official`` scheme and the default, otherwise
the core's seeded ``stratified`` scheme is used.  Other columns are ignored.  The data root is
the CSV itself or a folder holding ``manifest.csv`` (option ``manifest=NAME`` for another).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genrebench.audio import AUDIO_EXTENSIONS
from genrebench.dataset import SPLIT_PARTS, Dataset, Problem, Track
from genrebench.datasets.loaders.base import (
    VALIDATE_OPTIONS,
    ValidationReport,
    check_files,
    describe_dir,
    layout_error,
    normalise_part,
    opt_bool,
    opt_str,
    read_user_csv,
    safe_relative_path,
    split_coverage,
    unknown_option_notes,
    user_checksums,
)
from genrebench.errors import DataRootError

NAME = "manifest"
MULTI_NAME = "manifest-multilabel"
DEFAULT_FILE = "manifest.csv"
LABEL_SEPARATOR = "|"
OPTIONS = ("strict", "manifest", *VALIDATE_OPTIONS)

EXPECTED_LAYOUT = """\
  DATA_ROOT = a CSV file, or a folder holding manifest.csv (option manifest=NAME for another)
  columns: path   audio file relative to the CSV's folder (must stay inside it)
           label  the class; for manifest-multilabel several joined by '|' (rock|pop)
           split  optional: train, valid or test
  example:
    path,label,split
    audio/song1.mp3,rock,train
    audio/song2.flac,jazz,test"""


def find_manifest(name: str, root: Path | None, options: Mapping[str, Any]) -> Path:
    if root is None:
        problem = "no data root given (use --data-root FILE_OR_DIR)"
        raise layout_error(name, problem, EXPECTED_LAYOUT)
    root = Path(root).expanduser()
    if root.is_file() and root.suffix.lower() in AUDIO_EXTENSIONS:
        problem = f"{root} is an audio file; the data root is the CSV that lists the audio files"
        raise layout_error(name, problem + " or the folder holding it", EXPECTED_LAYOUT)
    if root.is_file():
        return root
    csv_path = root / opt_str(options, "manifest", DEFAULT_FILE)
    if not csv_path.is_file():
        raise layout_error(name, f"no {csv_path.name} found; {describe_dir(root)}", EXPECTED_LAYOUT)
    return csv_path


def read_manifest(
    name: str, csv_path: Path, multi: bool
) -> tuple[list[tuple[str, tuple[str, ...], str]], bool]:
    """``([(relative path, labels, part or ""), ...], has split column)``; every row checked."""
    rows = []
    seen: dict[str, int] = {}
    header, table = read_user_csv(csv_path)
    columns = {c.strip().lower(): c for c in header if c}
    if "path" not in columns or "label" not in columns:
        raise layout_error(
            name, f"{csv_path} has columns {header}; needs 'path' and 'label'", EXPECTED_LAYOUT
        )
    has_split = "split" in columns
    for n, row in table:
        where = f"{csv_path}:{n}"
        rel = safe_relative_path(row[columns["path"]], where)
        if rel in seen:
            raise DataRootError(f"{where}: {rel!r} is already listed on line {seen[rel]}")
        seen[rel] = n
        text = row[columns["label"]].strip()
        parts = (x.strip() for x in text.split(LABEL_SEPARATOR))
        labels = tuple(dict.fromkeys(x for x in parts if x))
        if not labels:
            raise DataRootError(f"{where}: {rel!r} has no label")
        if not multi and (len(labels) > 1 or LABEL_SEPARATOR in text):
            raise DataRootError(
                f"{where}: label {text!r} holds {LABEL_SEPARATOR!r}; use data set "
                f"{MULTI_NAME!r} for several labels per track"
            )
        split = row[columns["split"]].strip() if has_split else ""
        rows.append((rel, labels, normalise_part(split, where) if split else ""))
    if not rows:
        raise layout_error(name, f"{csv_path} lists no tracks", EXPECTED_LAYOUT)
    return rows, has_split


def make_load(name: str, multi: bool):
    def load(root: Path | None, options: Mapping[str, Any]) -> Dataset:
        csv_path = find_manifest(name, root, options)
        base = csv_path.parent
        strict = opt_bool(options, "strict", False)
        rows, has_split = read_manifest(name, csv_path, multi)
        notes = unknown_option_notes(name, options, OPTIONS)
        tracks, problems = [], []
        for rel, labels, _part in rows:
            path = base / rel
            if not path.is_file():
                problems.append(Problem(rel, str(path), "file not found"))
            elif path.stat().st_size == 0:
                problems.append(Problem(rel, str(path), "empty file (0 bytes)"))
            else:
                tracks.append(Track(rel, path, labels))
        if not tracks:
            raise layout_error(
                name, f"none of the {len(rows)} files listed in {csv_path} exists", EXPECTED_LAYOUT
            )
        if problems:
            msg = f"{len(problems)} of {len(rows)} listed files are unusable (see problems)"
            if strict:
                raise DataRootError(f"data set {name!r}: {msg}; refusing because strict=true")
            notes.append(msg)
        fixed: dict[str, dict[str, list[str]]] = {}
        if has_split:
            fixed["official"] = {p: [r[0] for r in rows if r[2] == p] for p in SPLIT_PARTS}
            unassigned = sum(1 for r in rows if not r[2])
            if unassigned:
                notes.append(f"{unassigned} rows have an empty split: in no part of 'official'")
            notes += split_coverage(name, fixed, (t.track_id for t in tracks), strict)
        return Dataset(
            name=name,
            task="multi-label" if multi else "single-label",
            classes=sorted({label for r in rows for label in r[1]}),
            tracks=tracks,
            fixed_splits=fixed,
            default_split="official" if fixed else "stratified",
            problems=problems,
            notes=notes,
        )

    return load


def make_validate(name: str, multi: bool):
    def validate(root: Path | None, options: Mapping[str, Any]) -> ValidationReport:
        csv_path = find_manifest(name, root, options)
        base = csv_path.parent
        rows, _ = read_manifest(name, csv_path, multi)
        listed = {r[0] for r in rows}
        present = [(r[0], base / r[0]) for r in rows if (base / r[0]).is_file()]
        # Audio files next to the manifest that it does not list: often a forgotten row.
        unexpected = [
            str(p) for p in sorted(base.rglob("*"))
            if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
            and p.relative_to(base).as_posix() not in listed
            and not any(part.startswith(".") for part in p.relative_to(base).parts)
        ]  # fmt: skip
        report = ValidationReport(
            dataset=name,
            root=str(csv_path),
            n_expected=len(rows),
            n_found=len(present),
            missing=[str(base / r[0]) for r in rows if not (base / r[0]).is_file()],
            unexpected=unexpected,
            missing_is_error=not opt_bool(options, "allow_missing", False),
        )
        check_files(report, present, options)
        user_checksums(report, base, options)
        return report

    return validate
