"""MTG-Jamendo genre auto-tagging (Bogdanov et al., 2019): multi-label, 87 genre tags,
55,094 full-length tracks, five official splits.

Metadata are the official split files ``split-N/autotagging_genre-{train,validation,test}.tsv``
(columns ``TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS...``, tags ``genre---rock``).  Audio
is ``NN/ID.mp3`` (or the low-quality ``NN/ID.low.mp3``) under the audio folder.

Label sets (option ``tags``): ``all`` (the 87 tags), ``topN`` (the N most frequent), or a
comma-separated list.  Tags are counted as the number of tracks carrying them in the union of
split-0's train, validation and test files, i.e. all 55,094 tracks (the five splits partition
the same tracks, so any split gives the same counts); ties go alphabetically.  Counting uses
the metadata, never the audio present, so the label set does not depend on your copy.

Tracks with tags outside the chosen set (option ``outside_tags``): ``keep`` (default) keeps
the track with its chosen tags only; ``drop`` drops every such track.  Either way a track left
with no chosen tag is dropped, as the official tag subsets of MTG-Jamendo do.  Class names are
the tags without the ``genre---`` prefix.
"""

from __future__ import annotations

import difflib
import os
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from genrebench.dataset import Dataset, Problem, Track
from genrebench.datasets.loaders.base import (
    VALIDATE_OPTIONS,
    ValidationReport,
    check_files,
    describe_dir,
    layout_error,
    opt_bool,
    opt_path,
    opt_str,
    read_checksum_file,
    require_root,
    safe_relative_path,
    split_coverage,
    unknown_option_notes,
    user_checksums,
    verify_checksums,
)
from genrebench.errors import ConfigError, DataRootError

NAME = "mtg-jamendo"
TOP10_NAME = "mtg-jamendo-top10"
N_SPLITS = 5
SCHEMES = tuple(f"split-{i}" for i in range(N_SPLITS))
#: Our part names -> the names in the official file names.
PART_FILES = {"train": "train", "valid": "validation", "test": "test"}
FILE_PATTERN = "autotagging_genre-{part}.tsv"
HEADER = ("TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION", "TAGS")
TAG_PREFIX = "genre---"
METADATA_CANDIDATES = ("data/splits", "splits", ".")
AUDIO_CANDIDATES = ("audio", "audio-low", ".")
OPTIONS = (
    "strict", "tags", "outside_tags", "metadata_dir", "audio_dir", "audio_variant",
    *VALIDATE_OPTIONS,
)  # fmt: skip
#: sha256 lists of the official download, in the mtg-jamendo-dataset repo's data/download/.
CHECKSUM_FILES = ("raw_30s_audio_sha256_tracks.txt", "raw_30s_audio-low_sha256_tracks.txt")

EXPECTED_LAYOUT = """\
  metadata: DATA_ROOT/data/splits/split-N/autotagging_genre-{train,validation,test}.tsv
            (a checkout of github.com/MTG/mtg-jamendo-dataset), or DATA_ROOT/splits/split-N/...,
            or the option metadata_dir=DIR
  audio:    DATA_ROOT/audio/NN/ID.mp3, or DATA_ROOT/NN/ID.mp3, or the option audio_dir=DIR
            (the low-quality NN/ID.low.mp3 files work too; audio_variant=auto|full|low)"""


class Row(NamedTuple):
    track_id: str
    path: str  # relative, checked to stay inside the audio folder
    tags: tuple[str, ...]  # without the genre--- prefix


# --------------------------------------------------------------------------- metadata
def find_metadata_dir(root: Path | None, options: Mapping[str, Any], name: str) -> Path:
    """The folder holding ``split-0`` ... ``split-4``."""
    given = opt_path(options, "metadata_dir")
    bases = [given] if given is not None else []
    if root is not None:
        bases += [root / rel for rel in METADATA_CANDIDATES]
    for base in bases:
        for candidate in (base, base / "splits", base / "data" / "splits"):
            if any((candidate / s).is_dir() for s in SCHEMES):
                return candidate
    looked = ", ".join(str(b) for b in bases) or "(no data root and no metadata_dir)"
    raise layout_error(
        name, f"no split-N folders with the split files; looked in {looked}", EXPECTED_LAYOUT
    )


def read_split_file(path: Path, cache: dict[str, dict[str, Any]] | None = None) -> list[Row]:
    """Rows of one official tsv; paths checked, tags stripped of ``genre---``.

    ``cache`` shares checked paths and tag tuples between files: the five splits repeat the
    same 55,094 rows, and checking each once keeps loading all of them near a second."""
    cache = {"paths": {}, "tags": {}} if cache is None else cache
    paths, tag_sets = cache["paths"], cache["tags"]
    rows = []
    with open(path, encoding="utf-8") as f:
        header = tuple(f.readline().rstrip("\r\n").split("\t"))
        if header[: len(HEADER)] != HEADER:
            raise DataRootError(f"{path}: header {header[:6]} is not the MTG-Jamendo one {HEADER}")
        for n, line in enumerate(f, 2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t", 5)
            if len(fields) < len(HEADER) or not fields[0]:
                raise DataRootError(f"{path}:{n}: expected {len(HEADER)}+ tab-separated fields")
            rel = paths.get(fields[3])
            if rel is None:
                where = f"{path}:{n} ({fields[0]})"
                rel = paths[fields[3]] = safe_relative_path(fields[3], where)
            tags = tag_sets.get(fields[5])
            if tags is None:
                tags = tag_sets[fields[5]] = _parse_tags(fields[5], f"{path}:{n}")
            rows.append(Row(fields[0], rel, tags))
    return rows


def _parse_tags(text: str, where: str) -> tuple[str, ...]:
    tags = []
    for tag in text.split("\t"):
        if not tag.startswith(TAG_PREFIX):
            raise DataRootError(
                f"{where}: tag {tag!r} is not a genre tag ({TAG_PREFIX}...); is this an "
                "autotagging_genre file?"
            )
        tags.append(tag[len(TAG_PREFIX) :])
    return tuple(tags)


def read_splits(metadata_dir: Path) -> dict[str, dict[str, list[Row]]]:
    """``{"split-N": {"train": rows, "valid": rows, "test": rows}}`` for the splits present.

    A split folder counts only when all three files are there."""
    splits: dict[str, dict[str, list[Row]]] = {}
    cache: dict[str, dict[str, Any]] = {"paths": {}, "tags": {}}
    for scheme in SCHEMES:
        folder = metadata_dir / scheme
        paths = {p: folder / FILE_PATTERN.format(part=f) for p, f in PART_FILES.items()}
        present = [p.is_file() for p in paths.values()]
        if not any(present):
            continue
        if not all(present):
            missing = [str(p) for p in paths.values() if not p.is_file()]
            raise DataRootError(f"split {scheme} is incomplete: missing {', '.join(missing)}")
        splits[scheme] = {part: read_split_file(path, cache) for part, path in paths.items()}
    if not splits:
        raise DataRootError(f"{metadata_dir}: no split-N/{FILE_PATTERN} files")
    return splits


def tag_counts(splits: Mapping[str, Mapping[str, list[Row]]]) -> Counter[str]:
    """Tracks per tag in split-0 (train + validation + test), see the module docstring."""
    first = splits.get("split-0") or next(iter(splits.values()))
    counts: Counter[str] = Counter()
    for rows in first.values():
        for row in rows:
            counts.update(set(row.tags))
    return counts


def choose_tags(spec: str, counts: Counter[str]) -> list[str]:
    """The label set for option ``tags``: ``all``, ``topN`` or ``tag1,tag2,...``."""
    spec = spec.strip()
    if spec == "all":
        return sorted(counts)
    m = re.fullmatch(r"top(\d+)", spec)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= len(counts):
            raise ConfigError(f"tags={spec!r}: N must be between 1 and {len(counts)}")
        return sorted(sorted(counts, key=lambda t: (-counts[t], t))[:n])
    chosen = []
    for tag in (t.strip() for t in spec.split(",")):
        tag = tag.removeprefix(TAG_PREFIX)
        if tag not in counts:
            close = difflib.get_close_matches(tag, list(counts), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"tags={spec!r}: {tag!r} is not an MTG-Jamendo genre tag{hint}; use 'all', "
                "'topN' or a comma-separated list of genre tags"
            )
        chosen.append(tag)
    return sorted(set(chosen))


def filter_tags(tags: tuple[str, ...], chosen: set[str], outside: str) -> tuple[str, ...] | None:
    """The track's labels under the chosen set, or None when the track is dropped."""
    kept = tuple(sorted(t for t in tags if t in chosen))
    if not kept or (outside == "drop" and len(kept) < len(set(tags))):
        return None
    return kept


# --------------------------------------------------------------------------- audio
class AudioFinder:
    """Finds a metadata path under the candidate audio folders, listing each ``NN`` folder
    once instead of probing every variant of every track (55,094 tracks); plain strings,
    because pathlib objects made per track cost seconds here."""

    def __init__(self, bases: list[Path], variant: str) -> None:
        self.bases = bases
        self._base_names = [str(b) for b in bases]
        self.variant = variant
        self._listings: dict[tuple[int, str], set[str]] = {}

    def _names(self, base: int, parent: str) -> set[str]:
        names = self._listings.get((base, parent))
        if names is None:
            try:
                names = set(os.listdir(self.bases[base] / parent))
            except OSError:
                names = set()
            self._listings[(base, parent)] = names
        return names

    def find(self, rel: str) -> Path | None:
        parent, _, name = rel.rpartition("/")
        low = name.removesuffix(".mp3") + ".low.mp3"
        names = {"full": (name,), "low": (low,), "auto": (name, low)}[self.variant]
        for base in range(len(self.bases)):
            listing = self._names(base, parent)
            for candidate in names:
                if candidate in listing:
                    return Path(f"{self._base_names[base]}/{parent}/{candidate}")
        return None


def audio_bases(root: Path | None, options: Mapping[str, Any], name: str) -> list[Path]:
    given = opt_path(options, "audio_dir")
    if given is not None:
        if not given.is_dir():
            raise layout_error(name, f"audio_dir: {describe_dir(given)}", EXPECTED_LAYOUT)
        return [given]
    if root is None:
        raise layout_error(name, "no data root given (use --data-root DIR)", EXPECTED_LAYOUT)
    return [root / rel if rel != "." else root for rel in AUDIO_CANDIDATES if (root / rel).is_dir()]


# --------------------------------------------------------------------------- load
def _all_rows(splits: Mapping[str, Mapping[str, list[Row]]]) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for parts in splits.values():
        for part_rows in parts.values():
            for row in part_rows:
                known = rows.setdefault(row.track_id, row)
                if known != row:
                    raise DataRootError(
                        f"track {row.track_id} has different paths or tags in different split "
                        "files; are the split folders from one version of the data set?"
                    )
    return rows


def make_load(name: str, default_tags: str, fixed_tags: bool):
    """A loader for ``name``; ``fixed_tags`` data sets refuse another ``tags`` option, so that
    their leaderboard rows always mean the same label set."""

    def load(root: Path | None, options: Mapping[str, Any]) -> Dataset:
        if root is not None:
            root = require_root(name, root, EXPECTED_LAYOUT)
        strict = opt_bool(options, "strict", False)
        tags_spec = opt_str(options, "tags", default_tags)
        if fixed_tags and tags_spec != default_tags:
            raise ConfigError(
                f"data set {name!r} always uses tags={default_tags}; use {NAME!r} with "
                f"--dataset-option tags={tags_spec} instead"
            )
        outside = opt_str(options, "outside_tags", "keep", ("keep", "drop"))
        variant = opt_str(options, "audio_variant", "auto", ("auto", "full", "low"))
        metadata_dir = find_metadata_dir(root, options, name)
        splits = read_splits(metadata_dir)
        rows = _all_rows(splits)
        counts = tag_counts(splits)
        chosen = choose_tags(tags_spec, counts)
        chosen_set = set(chosen)
        notes = unknown_option_notes(name, options, OPTIONS)
        labels = {}
        for row in rows.values():
            kept = filter_tags(row.tags, chosen_set, outside)
            if kept is not None:
                labels[row.track_id] = kept
        if len(labels) < len(rows):
            notes.append(
                f"tags={tags_spec} ({len(chosen)} tags), outside_tags={outside}: "
                f"{len(rows) - len(labels)} of {len(rows)} tracks left out"
            )
        missing_splits = [s for s in SCHEMES if s not in splits]
        if missing_splits:
            notes.append(f"split files not found for {', '.join(missing_splits)}")
        bases = audio_bases(root, options, name)
        finder = AudioFinder(bases, variant)
        tracks, problems, n_missing = [], [], 0
        for track_id in sorted(labels):
            path = finder.find(rows[track_id].path)
            if path is None:
                n_missing += 1
            elif os.stat(path).st_size == 0:
                problems.append(Problem(track_id, str(path), "empty file (0 bytes)"))
            else:
                tracks.append(Track(track_id, path, labels[track_id]))
        where = ", ".join(str(b) for b in bases) or "(no audio folder found)"
        if not tracks and not problems:
            raise layout_error(
                name,
                f"the metadata in {metadata_dir} lists {len(labels)} tracks but none has audio "
                f"under {where} (looked for NN/ID.mp3"
                f"{' and NN/ID.low.mp3' if variant == 'auto' else ''})",
                EXPECTED_LAYOUT,
            )
        if n_missing:
            notes.append(
                f"{n_missing} of {len(labels)} tracks have no audio under {where}; left out"
            )
        fixed = {
            scheme: {
                part: [r.track_id for r in part_rows if r.track_id in labels]
                for part, part_rows in parts.items()
            }
            for scheme, parts in splits.items()
        }
        notes += split_coverage(name, fixed, (t.track_id for t in tracks), strict)
        return Dataset(
            name=name,
            task="multi-label",
            classes=chosen,
            tracks=tracks,
            fixed_splits=fixed,
            default_split="split-0" if "split-0" in fixed else next(iter(fixed)),
            problems=problems,
            notes=notes,
        )

    return load


def make_validate(name: str):
    def validate(root: Path | None, options: Mapping[str, Any]) -> ValidationReport:
        if root is not None:
            root = require_root(name, root, EXPECTED_LAYOUT)
        variant = opt_str(options, "audio_variant", "auto", ("auto", "full", "low"))
        metadata_dir = find_metadata_dir(root, options, name)
        rows = _all_rows(read_splits(metadata_dir))
        bases = audio_bases(root, options, name)
        finder = AudioFinder(bases, variant)
        present = {}
        for track_id, row in sorted(rows.items()):
            path = finder.find(row.path)
            if path is not None:
                present[track_id] = path
        wanted = set(present.values())
        unexpected = []
        for base in bases:
            for folder in sorted(base.iterdir()):
                # Audio sits in two-digit folders; anything else under a base (data/, the
                # repo's scripts) is not ours to judge.
                if folder.is_dir() and re.fullmatch(r"\d\d", folder.name):
                    unexpected += [
                        str(p)
                        for p in sorted(folder.iterdir())
                        if p not in wanted and not p.name.startswith(".")
                    ]
        report = ValidationReport(
            dataset=name,
            root=", ".join(str(b) for b in bases) or str(root),
            n_expected=len(rows),
            n_found=len(present),
            missing=[rows[i].path for i in sorted(rows) if i not in present],
            unexpected=unexpected,
            missing_is_error=not opt_bool(options, "allow_missing", False),
        )
        check_files(report, sorted(present.items()), options)
        known = "the official sha256 lists in data/download/"
        if user_checksums(report, root or metadata_dir, options, known=known):
            _verify_known_checksums(report, metadata_dir, bases)
        return report

    return validate


def _verify_known_checksums(
    report: ValidationReport, metadata_dir: Path, bases: list[Path]
) -> None:
    download = metadata_dir.parent / "download"
    found = [download / f for f in CHECKSUM_FILES if (download / f).is_file()]
    if not found:
        report.warnings.append(
            f"no {' or '.join(CHECKSUM_FILES)} in {download} (they come with the "
            "mtg-jamendo-dataset repository): audio not checked"
        )
        return
    for sums_path in found:
        sums = read_checksum_file(sums_path)
        for base in bases:
            n = verify_checksums(report, base, sums)
            if n:
                report.warnings.append(f"checked {n} files under {base} against {sums_path}")
