"""Pieces every real data-set loader shares: option parsing, data-root checks, path safety,
split-coverage notes, file validation (``ValidationReport``) and checksums.

Loaders only look at paths when they load (existence and size); decoding happens one track at
a time in the runner.  ``validate`` is the slow, thorough pass that opens every file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrebench.audio import audio_info, header_truncation, load_audio
from genrebench.dataset import SPLIT_PARTS, Dataset
from genrebench.datasets import resources
from genrebench.errors import AudioError, ConfigError, DataRootError, GenrebenchError
from genrebench.specs import SplitRequest

ENV_SPLITS_DIR = "GENREBENCH_SPLITS_DIR"

#: How split files name their parts -> the parts a :class:`~genrebench.dataset.Dataset` uses.
PART_NAMES = {
    "train": "train",
    "training": "train",
    "valid": "valid",
    "validation": "valid",
    "val": "valid",
    "test": "test",
}

#: Files that may sit next to audio without being "unexpected" (listings, licences, notes).
METADATA_FILE_RE = re.compile(
    r"^(readme.*|license.*|licence.*|provenance.*|checksums|.*\.(mf|txt|md|csv|tsv|json))$",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- options
_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n", ""}


def opt_bool(options: Mapping[str, Any], key: str, default: bool) -> bool:
    """A boolean option; CLI values arrive as strings (``strict=true``)."""
    value = options.get(key, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"dataset option {key!r} must be true or false, got {value!r}")


def opt_str(options: Mapping[str, Any], key: str, default: str, choices: Sequence[str] = ()) -> str:
    value = str(options.get(key, default)).strip()
    if choices and value not in choices:
        raise ConfigError(
            f"dataset option {key!r} must be one of {', '.join(choices)}; got {value!r}"
        )
    return value


def opt_path(options: Mapping[str, Any], key: str) -> Path | None:
    value = options.get(key)
    if value is None or str(value).strip() == "":
        return None
    return Path(str(value)).expanduser()


def unknown_option_notes(name: str, options: Mapping[str, Any], known: Iterable[str]) -> list[str]:
    """A note naming options this data set does not use.

    Not an error: an experiment's ``dataset_options`` are handed to every data set it runs
    on, so a multi-label recipe's ``tags`` may reach a data set that has no tags."""
    unused = sorted(set(options) - set(known))
    if not unused:
        return []
    return [f"data set {name!r} ignored options it does not use: {', '.join(unused)}"]


# --------------------------------------------------------------------------- data roots
def describe_dir(path: Path, limit: int = 12) -> str:
    """What is actually at ``path``: for error messages that say expected vs found."""
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_dir():
        return f"{path} is a file, not a folder"
    try:
        entries = sorted(path.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        return f"{path} cannot be listed ({exc})"
    if not entries:
        return f"{path} is an empty folder"
    shown = [e.name + ("/" if e.is_dir() else "") for e in entries[:limit]]
    more = f", ... ({len(entries) - limit} more)" if len(entries) > limit else ""
    return f"{path} holds: {', '.join(shown)}{more}"


def layout_error(name: str, problem: str, expected_layout: str) -> DataRootError:
    return DataRootError(f"data set {name!r}: {problem}\nExpected layout:\n{expected_layout}")


def require_root(name: str, root: Path | None, expected_layout: str) -> Path:
    """``root`` as an existing folder, or a :class:`DataRootError` saying what is expected."""
    if root is None:
        raise layout_error(name, "no data root given (use --data-root DIR)", expected_layout)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise layout_error(name, describe_dir(root), expected_layout)
    return root


def splits_dir() -> Path:
    """The folder holding the split lists shipped with genrebench (``datasets/`` in the repo).

    ``$GENREBENCH_SPLITS_DIR`` wins; otherwise the ``datasets/`` folder of the checkout this
    package runs from (an editable install), else the copy inside an installed wheel
    (:mod:`genrebench.datasets.resources`)."""
    env = os.environ.get(ENV_SPLITS_DIR, "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise ConfigError(f"${ENV_SPLITS_DIR} is {env!r}, which is not a folder")
        return path
    path = resources.shipped_folder("datasets")
    if path is not None:
        return path
    raise ConfigError(
        "cannot find genrebench's split lists: neither a checkout's datasets/ folder nor "
        f"{resources.PACKAGED / 'datasets'} (an installed wheel's copy) exists. Set "
        f"${ENV_SPLITS_DIR} to the 'datasets' folder of a genrebench checkout."
    )


# --------------------------------------------------------------------------- user CSV files
def read_user_text(path: Path) -> str:
    """A metadata file a user wrote (UTF-8, with or without a byte-order mark), or a
    :class:`DataRootError` naming the file and line of the first byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataRootError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as "
            "UTF-8 (a spreadsheet's 'CSV UTF-8' format)"
        ) from None


def read_user_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and ``(line number, {column: value})`` rows of a user's CSV file.

    A row with more non-empty fields than the header has columns is refused (naming the
    file and line): it is almost always an unquoted comma inside a value, and reading it
    would silently drop the rest of the value.  Missing trailing fields read as ``""``."""
    reader = csv.reader(io.StringIO(read_user_text(path), newline=""))
    header = next(reader, [])
    rows = []
    for fields in reader:
        if not fields:
            continue  # a blank line
        if any(f.strip() for f in fields[len(header) :]):
            raise DataRootError(
                f"{path}:{reader.line_num}: {len(fields)} fields, but the header has "
                f"{len(header)} ({','.join(header)}); quote a value that holds a comma "
                '("rock,pop")'
            )
        fields += [""] * (len(header) - len(fields))
        rows.append((reader.line_num, dict(zip(header, fields, strict=False))))
    return header, rows


# --------------------------------------------------------------------------- path safety
def safe_relative_path(text: str, where: str) -> str:
    """``text`` as a normalised relative POSIX path that stays inside its root.

    Metadata paths come from files users download; one like ``../../etc/passwd`` or
    ``/home/x.mp3`` must never make us read outside the data root.  The check is lexical:
    symbolic links inside the root are the user's business and stay allowed."""
    raw = text.strip().replace("\\", "/")
    if not raw:
        raise DataRootError(f"{where}: empty path")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw) or raw.startswith("~"):
        raise DataRootError(
            f"{where}: path {text!r} is absolute; metadata paths must be relative to the data "
            "root and stay inside it"
        )
    norm = posixpath.normpath(raw)
    if norm == ".." or norm.startswith("../") or norm == ".":
        raise DataRootError(
            f"{where}: path {text!r} escapes the data root; metadata paths must stay inside it"
        )
    return norm


def link_problem(path: Path) -> str | None:
    """Why the symbolic link ``path`` must not be followed, or None when it may be (or is
    no link): it points to itself or into a circle of links, to nothing, or to a folder
    that holds it (``loop -> .``: following it lists the same files again, under another
    name)."""
    if not path.is_symlink():
        return None
    target = os.readlink(path)
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        return f"symbolic link to {target!r}, which does not exist"
    except (RuntimeError, OSError):  # RuntimeError: Python < 3.13 on a circle of links
        return f"symbolic link loop: {target!r} leads back to the link itself"
    if resolved.is_dir():
        holder = path.parent.resolve()
        if holder == resolved or resolved in holder.parents:
            return (
                f"symbolic link loop: it points to {target!r}, a folder that holds it, so "
                "following it would list the same files again"
            )
    return None


# --------------------------------------------------------------------------- splits
def normalise_part(name: str, where: str) -> str:
    part = PART_NAMES.get(name.strip().lower())
    if part is None:
        raise DataRootError(
            f"{where}: split {name!r} is not one of {', '.join(sorted(PART_NAMES))}"
        )
    return part


def split_coverage(
    name: str,
    fixed: Mapping[str, Mapping[str, Sequence[str]]],
    present: Iterable[str],
    strict: bool,
) -> list[str]:
    """Notes saying how many listed tracks of each fixed split were found.

    With ``strict`` an incomplete split raises :class:`DataRootError` instead, because the
    numbers would not be comparable with published ones."""
    present = set(present)
    notes = []
    for scheme, parts in fixed.items():
        listed = {p: len(parts.get(p, ())) for p in SPLIT_PARTS}
        found = {p: sum(1 for t in parts.get(p, ()) if t in present) for p in SPLIT_PARTS}
        if found == listed:
            continue
        detail = ", ".join(f"{p} {found[p]}/{listed[p]}" for p in SPLIT_PARTS if listed[p])
        msg = (
            f"split {scheme!r} lists {sum(listed.values())} tracks, "
            f"{sum(found.values())} found ({detail})"
        )
        if strict:
            raise DataRootError(
                f"data set {name!r}: {msg}; refusing because strict=true "
                "(leave strict off to go on with the tracks found)"
            )
        notes.append(msg)
    return notes


# --------------------------------------------------------------------------- validation
@dataclass
class ValidationReport:
    """What ``genrebench data check`` found, without training anything.

    ``missing``: expected files not there.  ``unreadable``: ``(path, reason)`` for files that
    are there but empty, undecodable or truncated.  ``unexpected``: files in the data set's
    folders that are not part of it.  ``checksum_mismatches``: ``(path, reason)``.
    ``warnings``: facts worth knowing that are not errors (short clips, unknown checksums).
    """

    dataset: str
    root: str
    n_expected: int
    n_found: int
    missing: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    checksum_mismatches: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: False when checking a subset on purpose (option ``allow_missing=true``).
    missing_is_error: bool = True

    @property
    def ok(self) -> bool:
        return not (
            self.unreadable or self.checksum_mismatches or (self.missing and self.missing_is_error)
        )

    def format(self, limit: int = 20) -> str:
        lines = [
            f"data set {self.dataset!r} at {self.root}",
            f"  expected files: {self.n_expected}, found: {self.n_found}",
        ]

        def listing(title: str, items: Sequence[Any]) -> None:
            lines.append(f"  {title}: {len(items)}")
            for item in items[:limit]:
                text = f"{item[0]}: {item[1]}" if isinstance(item, tuple) else str(item)
                lines.append(f"    {text}")
            if len(items) > limit:
                lines.append(f"    ... and {len(items) - limit} more")

        note = "" if self.missing_is_error else " (allowed: allow_missing=true)"
        listing("missing" + note, self.missing)
        listing("unreadable", self.unreadable)
        listing("unexpected", self.unexpected)
        listing("checksum mismatches", self.checksum_mismatches)
        for w in self.warnings:
            lines.append(f"  note: {w}")
        lines.append("  OK" if self.ok else "  NOT OK")
        return "\n".join(lines)


VALIDATE_OPTIONS = ("decode", "allow_missing", "checksums")


def audio_reason(exc: Exception, path: Path) -> str:
    """An :class:`AudioError` message without the path it starts with (reports show the path
    next to it already)."""
    return str(exc).replace(f"{path}: ", "")


def check_audio_file(path: Path, decode: str) -> tuple[str | None, float]:
    """``(why path is unusable or None, duration in seconds)``.  ``decode``: ``header``
    (read the header only, fast; finds wav and au files shorter than their header says) or
    ``full`` (decode everything: also finds truncated mp3, ogg and flac files)."""
    duration = 0.0
    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes)", 0.0
        truncated = header_truncation(path)
        if truncated is not None:
            return truncated, 0.0
        sample_rate, duration = audio_info(path)
        if decode == "full":
            duration = load_audio(path, sample_rate).shape[0] / sample_rate
        elif duration <= 0:
            return "header reports no audio (0 s)", 0.0
    except (AudioError, OSError) as exc:
        return audio_reason(exc, path), 0.0
    return None, duration


def check_files(
    report: ValidationReport,
    files: Iterable[tuple[str, Path]],
    options: Mapping[str, Any],
    known_faults: Mapping[str, str] | None = None,
    short_seconds: float | None = None,
) -> None:
    """Open every ``(track_id, path)``: unreadable ones go to ``report.unreadable``, clips
    shorter than ``short_seconds`` to a warning (usable, but zero-padded by the runner)."""
    decode = opt_str(options, "decode", "header", ("header", "full"))
    known_faults = known_faults or {}
    short = []
    for track_id, path in files:
        reason, duration = check_audio_file(path, decode)
        if reason is not None:
            if track_id in known_faults:
                reason = f"{reason} [known fault: {known_faults[track_id]}]"
            report.unreadable.append((str(path), reason))
        elif short_seconds is not None and duration < short_seconds:
            short.append(f"{path} ({duration:.1f} s)")
    if short:
        more = f", ... ({len(short) - 10} more)" if len(short) > 10 else ""
        shown = ", ".join(short[:10]) + more
        report.warnings.append(f"{len(short)} clips shorter than {short_seconds:g} s: {shown}")


# --------------------------------------------------------------------------- checksums
_HASH_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}


def read_checksum_file(path: Path) -> dict[str, str]:
    """``{relative path: hex digest}`` from a ``sha1sum``/``md5sum``/``sha256sum`` file."""
    sums = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) not in _HASH_BY_LENGTH:
            raise ConfigError(f"{path}:{n}: not a checksum line ('HEXDIGEST  PATH'): {line!r}")
        sums[parts[1].lstrip("*").strip()] = parts[0].lower()
    return sums


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_checksums(
    report: ValidationReport, base: Path, sums: Mapping[str, str], *, only_present: bool = True
) -> int:
    """Compare files under ``base`` with ``sums``; returns how many were checked.

    Files absent from disk are skipped when ``only_present`` (missing files are already
    listed by the layout check)."""
    checked = 0
    for rel, expected in sums.items():
        path = base / safe_relative_path(rel, "checksum file")
        if not path.is_file():
            if not only_present:
                report.checksum_mismatches.append((str(path), "file not found"))
            continue
        actual = file_digest(path, _HASH_BY_LENGTH[len(expected)])
        checked += 1
        if actual != expected:
            report.checksum_mismatches.append(
                (str(path), f"{_HASH_BY_LENGTH[len(expected)]} {actual}, expected {expected}")
            )
    return checked


def user_checksums(
    report: ValidationReport, root: Path, options: Mapping[str, Any], known: str = ""
) -> bool:
    """Handle ``checksums=FILE`` (a sum file, paths relative to ``root``).

    Returns True when the option asked for the data set's own known checksums
    (``checksums=true``), which the caller verifies; ``known`` says what those are, or is
    empty when none are known."""
    value = options.get("checksums")
    if value is None or (isinstance(value, bool) and not value):
        return False
    text = str(value).strip()
    if text.lower() in _FALSE:
        return False
    if text.lower() in _TRUE:
        if not known:
            report.warnings.append(
                f"no checksums are known for {report.dataset!r}; pass checksums=FILE "
                "(a sha1sum/md5sum/sha256sum file with paths relative to the data root)"
            )
        return bool(known)
    sums_path = Path(text).expanduser()
    if not sums_path.is_absolute() and not sums_path.exists():
        sums_path = root / sums_path
    if not sums_path.is_file():
        raise ConfigError(f"checksums file {text!r} not found")
    n = verify_checksums(report, root, read_checksum_file(sums_path))
    report.warnings.append(f"checked {n} files against {sums_path}")
    return False


# --------------------------------------------------------------------------- CLI helpers
def describe_dataset(dataset: Dataset) -> str:
    """Task, classes and track counts per split scheme, for ``genrebench data check``."""

    lines = [
        f"data set {dataset.name!r}: {dataset.task}, {len(dataset.classes)} classes, "
        f"{len(dataset.tracks)} usable tracks",
        f"  classes: {', '.join(dataset.classes)}",
    ]
    for scheme in sorted(dataset.fixed_splits):
        try:
            split = dataset.split(SplitRequest(scheme))
            counts = f"train {len(split.train)}, valid {len(split.valid)}, test {len(split.test)}"
        except ConfigError as exc:
            counts = str(exc)
        default = " (default)" if scheme == dataset.default_split else ""
        lines.append(f"  split {scheme}{default}: {counts}")
    default = " (default)" if dataset.default_split == "stratified" else ""
    lines.append(f"  split stratified{default}: seeded, by track, with the run's ratios")
    for p in dataset.problems[:20]:
        lines.append(f"  problem: {p.path}: {p.reason}")
    if len(dataset.problems) > 20:
        lines.append(f"  ... and {len(dataset.problems) - 20} more problems")
    for note in dataset.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def check_command(
    registry: Any,
    name: str,
    root: Path | None,
    options: Mapping[str, Any],
    echo: Callable[[str], None] = print,
) -> int:
    """``genrebench data check NAME --data-root DIR``: validate, then describe the data set.

    Returns the exit code: 0 when the validation is OK, 1 otherwise.  Errors about the root
    itself (:class:`DataRootError`) propagate for the CLI to report."""
    spec = registry.get("datasets", name)
    status = 0
    if spec.validate is not None:
        report = spec.validate(root, options)
        echo(report.format())
        status = 0 if report.ok else 1
    else:
        echo(f"data set {name!r} has no validate step; loading it instead")
    try:
        dataset = spec.load(root, options)
    except GenrebenchError as exc:
        echo(f"cannot load data set {name!r}: {exc}")
        return 1
    echo(describe_dataset(dataset))
    return status
