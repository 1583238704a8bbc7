"""``folder``: your own collection as one folder per class.

``DATA_ROOT/<label>/<file>.<ext>`` (files may sit in subfolders of a label folder) becomes a
single-label data set whose track ids are the paths relative to ``DATA_ROOT``.  The split is
the core's seeded, stratified ``stratified`` scheme unless ``split_file=FILE`` names a CSV with
columns ``path,split``: it then becomes the ``split-file`` scheme and the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genrebench.audio import AUDIO_EXTENSIONS
from genrebench.dataset import SPLIT_PARTS, Dataset, Problem, Track
from genrebench.datasets.loaders.base import (
    METADATA_FILE_RE,
    VALIDATE_OPTIONS,
    ValidationReport,
    check_files,
    describe_dir,
    layout_error,
    link_problem,
    normalise_part,
    opt_bool,
    opt_path,
    read_user_csv,
    require_root,
    safe_relative_path,
    split_coverage,
    unknown_option_notes,
    user_checksums,
)
from genrebench.errors import ConfigError, DataRootError

NAME = "folder"
SPLIT_SCHEME = "split-file"
OPTIONS = ("strict", "split_file", *VALIDATE_OPTIONS)

EXPECTED_LAYOUT = f"""\
  DATA_ROOT/<label>/<file>.<ext>    one folder per class; ext one of {" ".join(AUDIO_EXTENSIONS)}
                                    (files may also sit in subfolders of a label folder)
  optional, option split_file=FILE: a CSV with columns path,split (path relative to DATA_ROOT,
  split one of train/valid/test); otherwise a seeded stratified split is made"""


def scan(
    root: Path,
) -> tuple[dict[str, tuple[Path, str]], list[str], list[str], list[tuple[str, str]]]:
    """``({track_id: (path, label)}, unexpected files, label folders without audio,
    [(symbolic link, why it was not followed)])``: a link loop (``loop -> .``), a link to
    itself and a dangling link are reported, never used (a loop at the root would
    otherwise become a label holding a copy of every track)."""
    files: dict[str, tuple[Path, str]] = {}
    unexpected: list[str] = []
    empty_labels: list[str] = []
    bad_links: list[tuple[str, str]] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue  # hidden files and folders (.DS_Store, .git) are nobody's tracks
        problem = link_problem(entry)
        if problem is not None:
            bad_links.append((str(entry), problem))
            continue
        if entry.is_file():
            if not METADATA_FILE_RE.match(entry.name):
                unexpected.append(str(entry))
            continue
        before = len(files)
        for path in sorted(entry.rglob("*")):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            problem = link_problem(path)
            if problem is not None:
                bad_links.append((str(path), problem))
                continue
            if not path.is_file():
                continue
            if path.suffix.lower() in AUDIO_EXTENSIONS:
                files[rel.as_posix()] = (path, entry.name)
            else:
                unexpected.append(str(path))
        if len(files) == before:
            empty_labels.append(entry.name)
    return files, unexpected, empty_labels, bad_links


def read_split_file(path: Path) -> dict[str, list[str]]:
    """``{part: [relative path, ...]}`` from a ``path,split`` CSV."""
    parts: dict[str, list[str]] = {p: [] for p in SPLIT_PARTS}
    seen: set[str] = set()
    header, table = read_user_csv(path)
    columns = {c.strip().lower(): c for c in header}
    if "path" not in columns or "split" not in columns:
        raise ConfigError(f"split file {path} needs columns 'path' and 'split'; it has {header}")
    for n, row in table:
        where = f"{path}:{n}"
        rel = safe_relative_path(row[columns["path"]], where)
        if rel in seen:
            raise ConfigError(f"{where}: {rel!r} is listed twice")
        seen.add(rel)
        parts[normalise_part(row[columns["split"]], where)].append(rel)
    return parts


def _split_file(root: Path, options: Mapping[str, Any]) -> Path | None:
    path = opt_path(options, "split_file")
    if path is None:
        return None
    if not path.is_absolute() and not path.exists() and (root / path).is_file():
        path = root / path
    if not path.is_file():
        raise ConfigError(f"split_file {str(path)!r} not found")
    return path


def load(root: Path | None, options: Mapping[str, Any]) -> Dataset:
    root = require_root(NAME, root, EXPECTED_LAYOUT)
    strict = opt_bool(options, "strict", False)
    files, _unexpected, _empty, bad_links = scan(root)
    if not files:
        problem = f"no audio in label folders: {describe_dir(root)}"
        raise layout_error(NAME, problem, EXPECTED_LAYOUT)
    notes = unknown_option_notes(NAME, options, OPTIONS)
    notes += [f"{link} not followed: {why}" for link, why in bad_links]
    tracks, problems = [], []
    for track_id, (path, label) in files.items():
        if path.stat().st_size == 0:
            problems.append(Problem(track_id, str(path), "empty file (0 bytes)"))
        else:
            tracks.append(Track(track_id, path, (label,)))
    fixed: dict[str, dict[str, list[str]]] = {}
    split_path = _split_file(root, options)
    if split_path is not None:
        fixed[SPLIT_SCHEME] = read_split_file(split_path)
        notes += split_coverage(NAME, fixed, (t.track_id for t in tracks), strict)
    if strict and problems:
        raise DataRootError(
            f"data set {NAME!r}: {len(problems)} unusable files (first: {problems[0].path}: "
            f"{problems[0].reason}); refusing because strict=true"
        )
    return Dataset(
        name=NAME,
        task="single-label",
        classes=sorted({label for _, label in files.values()}),
        tracks=tracks,
        fixed_splits=fixed,
        default_split=SPLIT_SCHEME if fixed else "stratified",
        problems=problems,
        notes=notes,
    )


def validate(root: Path | None, options: Mapping[str, Any]) -> ValidationReport:
    root = require_root(NAME, root, EXPECTED_LAYOUT)
    files, unexpected, empty_labels, bad_links = scan(root)
    split_path = _split_file(root, options)
    listed = (
        sorted({p for ids in read_split_file(split_path).values() for p in ids})
        if split_path is not None
        else sorted(files)
    )
    report = ValidationReport(
        dataset=NAME,
        root=str(root),
        n_expected=len(listed),
        n_found=sum(1 for p in listed if p in files),
        missing=[str(root / p) for p in listed if p not in files],
        unexpected=unexpected,
        missing_is_error=not opt_bool(options, "allow_missing", False),
    )
    if split_path is not None:
        unlisted = sorted(set(files) - set(listed))
        report.unexpected += [f"{root / p} (not in {split_path.name})" for p in unlisted]
    report.unreadable += bad_links
    if empty_labels:
        report.warnings.append(f"folders without audio: {', '.join(empty_labels)}")
    check_files(report, ((i, p) for i, (p, _) in sorted(files.items())), options)
    user_checksums(report, root, options)
    return report
