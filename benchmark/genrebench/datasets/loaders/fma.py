"""FMA, the Free Music Archive data set (Defferrard et al., 2017): ``fma_small`` (8000 clips,
8 balanced top genres) and ``fma_medium`` (25000 clips, 16 unbalanced top genres).

Labels and the official split come from ``fma_metadata/tracks.csv`` (two header rows:
``track.genre_top``, ``set.subset``, ``set.split``).  Audio is ``fma_<size>/NNN/NNNNNN.mp3``.
A medium track belongs to subset ``small`` or ``medium`` in ``set.subset`` (the column holds
the smallest subset a track is in).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genrebench.audio import audio_info
from genrebench.dataset import Dataset, Problem, Track
from genrebench.datasets.loaders.base import (
    METADATA_FILE_RE,
    VALIDATE_OPTIONS,
    ValidationReport,
    audio_reason,
    check_files,
    describe_dir,
    layout_error,
    normalise_part,
    opt_bool,
    opt_path,
    read_checksum_file,
    require_root,
    split_coverage,
    unknown_option_notes,
    user_checksums,
    verify_checksums,
)
from genrebench.errors import AudioError, DataRootError

SIZES = ("small", "medium")
#: ``set.subset`` values that make up each size (medium includes small).
SUBSETS = {"small": ("small",), "medium": ("small", "medium")}
COLUMNS = {"genre": ("track", "genre_top"), "subset": ("set", "subset"), "split": ("set", "split")}
OPTIONS = ("strict", "metadata_dir", "audio_dir", *VALIDATE_OPTIONS)

#: Clips cut at a wrong offset when FMA was built (mdeff/fma issues #8 and #41): most are
#: shorter than 30 s and 099134, 108925 and 133297 hold no audio at all.  They are checked
#: (header read) at load time; the ones without audio become problems.
KNOWN_SHORT_OR_EMPTY = {
    "small": ("098565", "098567", "098569", "099134", "108925", "133297"),
    "medium": (
        "001486", "005574", "065753", "080391", "098558", "098559", "098560", "098565",
        "098566", "098567", "098568", "098569", "098571", "099134", "105247", "108924",
        "108925", "126981", "127336", "133297", "143992",
    ),
}  # fmt: skip
#: A clip with less audio than this (by its header) is treated as having none.
MIN_SECONDS = 0.25
#: sha1 of the official fma_metadata files (from its ``checksums`` file).
METADATA_SHA1 = {
    "tracks.csv": "e65cfe18cbba4e37921b58ea5293c2510329de75",
    "genres.csv": "d2f3a75be03441d324ef9815d23bad33d149c831",
    "raw_genres.csv": "07817da6631ed41d0a6978a8ea956046045da810",
    "raw_albums.csv": "784833f7a2dcb5f54ca18be1d4d4238ad2665401",
    "raw_artists.csv": "4dc5d5752c47f2665c7b5ff0af8e1e13c58f8442",
    "raw_tracks.csv": "2d78c45e4d8415215d4c44eced083ac173feff4f",
    "echonest.csv": "d02a25fb1279cdc632448215abf752f9caf509de",
    "raw_echonest.csv": "a4c9cfa63b61899c506023d3b781958c1653d612",
    "features.csv": "b7f2339016af1c31e0293cef18383906992b160c",
    "not_found.pickle": "56efea07a04d527305b871d49c9d42745f77ec8a",
}


def expected_layout(size: str) -> str:
    return f"""\
  DATA_ROOT/fma_{size}/NNN/NNNNNN.mp3     audio (NNN = first 3 digits of the 6-digit track id)
  DATA_ROOT/fma_metadata/tracks.csv      official metadata (two header rows)
Also accepted: DATA_ROOT = the fma_{size} folder itself with fma_metadata/ beside it, or the
options audio_dir=DIR and metadata_dir=DIR."""


def audio_path(audio_dir: Path, track_id: str) -> Path:
    return audio_dir / track_id[:3] / f"{track_id}.mp3"


def find_dirs(size: str, root: Path, options: Mapping[str, Any]) -> tuple[Path, Path]:
    """``(audio_dir, metadata_dir)`` for ``root`` and the options."""
    name = f"fma-{size}"
    layout = expected_layout(size)
    audio_dir = opt_path(options, "audio_dir")
    if audio_dir is None:
        for candidate in (root / f"fma_{size}", root):
            if candidate.is_dir() and any(
                p.is_dir() and len(p.name) == 3 and p.name.isdigit() for p in candidate.iterdir()
            ):
                audio_dir = candidate
                break
    if audio_dir is None or not audio_dir.is_dir():
        where = audio_dir or root / f"fma_{size}"
        raise layout_error(name, f"no FMA audio folder: {describe_dir(where)}", layout)
    metadata_dir = opt_path(options, "metadata_dir")
    if metadata_dir is not None:
        candidates = [metadata_dir]
    else:
        candidates = [root / "fma_metadata", root.parent / "fma_metadata"]
        candidates.append(audio_dir.parent / "fma_metadata")
    for candidate in candidates:
        if (candidate / "tracks.csv").is_file():
            return audio_dir, candidate
    looked = ", ".join(str(c / "tracks.csv") for c in candidates)
    raise layout_error(name, f"no tracks.csv found; looked for {looked}", layout)


def read_tracks_csv(path: Path) -> list[tuple[str, str, str, str]]:
    """``(track_id, genre_top, subset, split)`` rows of FMA's ``tracks.csv``.

    The real file has two header rows (``track``/``genre_top``, ``set``/``split``, ...) and a
    third that names the index (``track_id``), and is 260 MB: only the four needed columns
    are parsed."""
    import pandas as pd  # heavy import, only when FMA is used

    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            top, sub = next(reader), next(reader)
        except StopIteration:
            raise DataRootError(f"{path}: fewer than two header rows") from None
    index = {(a.strip(), b.strip()): i for i, (a, b) in enumerate(zip(top, sub, strict=False))}
    missing = [".".join(c) for c in COLUMNS.values() if c not in index]
    if missing:
        raise DataRootError(
            f"{path} has no column(s) {', '.join(missing)}; expected FMA's tracks.csv with two "
            "header rows (first row 'track'/'set'/..., second row 'genre_top'/'subset'/"
            "'split'/...)"
        )
    cols = [0, *(index[c] for c in COLUMNS.values())]
    frame = pd.read_csv(
        path, header=None, skiprows=2, usecols=cols, dtype=str, keep_default_na=False
    )
    frame = frame[cols]
    rows = []
    for track, genre, subset, split in frame.itertuples(index=False, name=None):
        track = str(track).strip()
        if not track.isdigit():
            continue  # the "track_id" row that names the index
        rows.append((f"{int(track):06d}", genre.strip(), subset.strip(), split.strip()))
    return rows


def _select(
    size: str, rows: list[tuple[str, str, str, str]], metadata: Path
) -> tuple[list[tuple[str, str, str, str]], list[str]]:
    """``(rows of the subset with a top genre, ids of the subset without one)``."""
    chosen = [r for r in rows if r[2] in SUBSETS[size]]
    if not chosen:
        raise DataRootError(f"{metadata}: no track has set.subset in {SUBSETS[size]}")
    no_genre = [r[0] for r in chosen if not r[1]]
    return [r for r in chosen if r[1]], no_genre


def make_load(size: str):
    name = f"fma-{size}"

    def load(root: Path | None, options: Mapping[str, Any]) -> Dataset:
        root = require_root(name, root, expected_layout(size))
        strict = opt_bool(options, "strict", False)
        audio_dir, metadata_dir = find_dirs(size, root, options)
        tracks_csv = metadata_dir / "tracks.csv"
        chosen, no_genre = _select(size, read_tracks_csv(tracks_csv), tracks_csv)
        notes = unknown_option_notes(name, options, OPTIONS)
        if no_genre:
            notes.append(f"{len(no_genre)} tracks without track.genre_top were left out")
        official: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
        tracks, problems, n_missing = [], [], 0
        known = set(KNOWN_SHORT_OR_EMPTY[size])
        for track_id, genre, _subset, split in chosen:
            official[normalise_part(split, f"{tracks_csv} track {track_id}")].append(track_id)
            path = audio_path(audio_dir, track_id)
            try:
                size_bytes = path.stat().st_size
            except OSError:
                n_missing += 1
                continue
            reason = "empty file (0 bytes)" if size_bytes == 0 else None
            if reason is None and track_id in known:
                try:
                    if audio_info(path)[1] < MIN_SECONDS:
                        reason = "known FMA fault (mdeff/fma#8): the clip holds no audio"
                except AudioError as exc:
                    reason = f"known FMA fault (mdeff/fma#8): {audio_reason(exc, path)}"
            if reason is not None:
                problems.append(Problem(track_id, str(path), reason))
            else:
                tracks.append(Track(track_id, path, (genre,)))
        if not tracks and not problems:
            raise layout_error(
                name,
                f"tracks.csv lists {len(chosen)} tracks of fma_{size} but none has audio under "
                f"{audio_dir} (as NNN/NNNNNN.mp3)",
                expected_layout(size),
            )
        if n_missing:
            notes.append(
                f"{n_missing} of {len(chosen)} fma_{size} tracks have no audio file under "
                f"{audio_dir}; they are left out"
            )
        fixed = {"official": official}
        notes += split_coverage(name, fixed, (t.track_id for t in tracks), strict)
        return Dataset(
            name=name,
            task="single-label",
            classes=sorted({r[1] for r in chosen}),
            tracks=tracks,
            fixed_splits=fixed,
            default_split="official",
            problems=problems,
            notes=notes,
        )

    return load


def make_validate(size: str):
    name = f"fma-{size}"

    def validate(root: Path | None, options: Mapping[str, Any]) -> ValidationReport:
        root = require_root(name, root, expected_layout(size))
        audio_dir, metadata_dir = find_dirs(size, root, options)
        tracks_csv = metadata_dir / "tracks.csv"
        chosen, _ = _select(size, read_tracks_csv(tracks_csv), tracks_csv)
        expected = {r[0]: audio_path(audio_dir, r[0]) for r in chosen}
        present = {i: p for i, p in expected.items() if p.is_file()}
        wanted = set(expected.values())
        unexpected = []
        for path in sorted(audio_dir.rglob("*")):
            if path.is_file() and path not in wanted and not path.name.startswith("."):
                if path.parent == audio_dir and METADATA_FILE_RE.match(path.name):
                    continue  # README.txt and checksums of the zip
                unexpected.append(str(path))
        report = ValidationReport(
            dataset=name,
            root=str(audio_dir),
            n_expected=len(expected),
            n_found=len(present),
            missing=[str(p) for i, p in expected.items() if i not in present],
            unexpected=unexpected,
            missing_is_error=not opt_bool(options, "allow_missing", False),
        )
        faults = {i: "clip cut at a wrong offset (mdeff/fma#8)" for i in KNOWN_SHORT_OR_EMPTY[size]}
        check_files(report, sorted(present.items()), options, faults, short_seconds=29.0)
        if user_checksums(report, root, options, known="FMA metadata sha1 and fma_*/checksums"):
            _verify_known_checksums(report, audio_dir, metadata_dir)
        return report

    return validate


def _verify_known_checksums(report: ValidationReport, audio_dir: Path, metadata_dir: Path) -> None:
    """The official sha1 of the metadata files, and the ``checksums`` file that the
    ``fma_<size>.zip`` archive holds for its mp3 files (it protects against corruption on
    disk, not against a tampered copy)."""
    n = verify_checksums(report, metadata_dir, METADATA_SHA1)
    report.warnings.append(f"checked {n} metadata files against the official sha1 sums")
    sums = audio_dir / "checksums"
    if sums.is_file():
        n = verify_checksums(report, audio_dir, read_checksum_file(sums))
        report.warnings.append(f"checked {n} audio files against {sums}")
    else:
        report.warnings.append(f"{sums} not found (it comes with the fma zip): audio not checked")
