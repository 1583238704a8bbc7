"""GTZAN (Tzanetakis and Cook, 2002): 10 genres x 100 clips of 30 s, 22050 Hz mono.

Reads any of the layouts in circulation (Marsyas ``genres/``, Kaggle ``genres_original/``,
a folder of genre folders) in wav, au or flac.  Split schemes: ``fault-filtered`` (the
artist-conflict-free split of Kereliuk and Sturm, 443/197/290 tracks, the default),
``stratified-500-250-250`` (a fixed random stratified list from the same repository),
``yan2023-authors`` (the 700/200/99 list of Yan, Wang and Wu's public code) and the core's
seeded ``stratified`` scheme with any ratios.  The lists ship in ``datasets/gtzan/``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genrebench.audio import audio_info
from genrebench.dataset import SPLIT_PARTS, Dataset, Problem, Track
from genrebench.datasets.loaders.base import (
    METADATA_FILE_RE,
    VALIDATE_OPTIONS,
    ValidationReport,
    audio_reason,
    check_files,
    describe_dir,
    layout_error,
    opt_bool,
    require_root,
    split_coverage,
    splits_dir,
    unknown_option_notes,
    user_checksums,
)
from genrebench.errors import AudioError, ConfigError

NAME = "gtzan"
GENRES = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)  # fmt: skip
TRACKS_PER_GENRE = 100
#: When one clip exists in several formats, the first of these is used.
EXTENSIONS = (".wav", ".flac", ".au")
#: Where the genre folders may sit below the data root, in the order they are tried.
GENRE_DIR_CANDIDATES = (
    ".", "genres", "genres_original", "Data/genres_original", "data/genres_original",
)  # fmt: skip
#: Clips known to be broken in some copies: checked (header read) at load time.
KNOWN_FAULTS = {
    "jazz.00054": "the Kaggle 'genres_original' copy of jazz.00054.wav does not decode",
}
#: Fixed split schemes -> (folder under datasets/gtzan, file name pattern).
SCHEMES = {
    "fault-filtered": ("sturm_filtered", "{part}_filtered.txt"),
    "stratified-500-250-250": ("stratified", "{part}_stratified.txt"),
    "yan2023-authors": ("yan2023_authors", "{part}_yan2023.txt"),
}
DEFAULT_SPLIT = "fault-filtered"
OPTIONS = ("strict", "images", *VALIDATE_OPTIONS)
#: The Kaggle release's spectrogram images (``images_original/<genre>/<genre>000NN.png``,
#: beside ``genres_original/``) are attached to their tracks under this asset name, for
#: features that read them (``FeatureSpec.asset``); option ``images=false`` ignores them.
IMAGE_ASSET = "gtzan-kaggle-image"
IMAGES_DIR = "images_original"

EXPECTED_LAYOUT = """\
One folder per genre (blues classical country disco hiphop jazz metal pop reggae rock), each
holding <genre>.000NN.<wav|au|flac> (NN = 00..99), in any of these places:
  DATA_ROOT/genres/<genre>/<genre>.000NN.au                 (original Marsyas release)
  DATA_ROOT/genres_original/<genre>/<genre>.000NN.wav       (Kaggle release)
  DATA_ROOT/Data/genres_original/<genre>/<genre>.000NN.wav  (Kaggle archive unpacked)
  DATA_ROOT/<genre>/<genre>.000NN.wav                       (DATA_ROOT holds the genre folders)
A subset (for example the 100-clip gtzan-mini) loads too; splits then keep the tracks found."""

_FILE_RE = re.compile(r"^(?P<genre>[a-z]+)\.(?P<num>\d{5})(?P<ext>\.[A-Za-z0-9]+)$")


def expected_ids() -> list[str]:
    return [f"{g}.{n:05d}" for g in GENRES for n in range(TRACKS_PER_GENRE)]


def find_genre_dir(root: Path) -> Path:
    """The folder holding the genre folders, or a :class:`DataRootError` saying where we
    looked and what is there."""
    for rel in GENRE_DIR_CANDIDATES:
        candidate = root / rel
        if any((candidate / g).is_dir() for g in GENRES):
            return candidate if rel != "." else root
    looked = ", ".join(str(root / rel) for rel in GENRE_DIR_CANDIDATES)
    raise layout_error(
        NAME,
        f"no genre folders ({', '.join(GENRES[:3])}, ...) found; looked in {looked}. "
        f"{describe_dir(root)}",
        EXPECTED_LAYOUT,
    )


def scan(genre_dir: Path) -> tuple[dict[str, Path], list[str]]:
    """``({track_id: path}, unexpected files)`` of the genre folders; reads names only."""
    files: dict[str, Path] = {}
    unexpected: list[str] = []
    for entry in sorted(genre_dir.iterdir()):
        # Non-genre entries next to the genre folders (Marsyas .mf lists, README, the
        # Kaggle images/ and features csv one level up) are not part of the audio set.
        if entry.name.startswith("."):
            continue  # .DS_Store and friends
        if entry.is_dir() and entry.name not in GENRES:
            unexpected.append(f"{entry}/ (not a GTZAN genre)")
        elif entry.is_file() and not METADATA_FILE_RE.match(entry.name):
            unexpected.append(str(entry))
    for genre in GENRES:
        folder = genre_dir / genre
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue  # .DS_Store and friends
            m = _FILE_RE.match(path.name)
            if m is None:
                unexpected.append(str(path))
                continue
            ext = m.group("ext").lower()
            ok = (
                path.is_file()
                and m.group("genre") == genre
                and int(m.group("num")) < TRACKS_PER_GENRE
                and ext in EXTENSIONS
            )
            if not ok:
                unexpected.append(str(path))
                continue
            track_id = f"{genre}.{m.group('num')}"
            known = files.get(track_id)
            if known is None or EXTENSIONS.index(ext) < EXTENSIONS.index(known.suffix.lower()):
                if known is not None:
                    unexpected.append(f"{known} (another copy of {track_id} is used)")
                files[track_id] = path
            else:
                unexpected.append(f"{path} (another copy of {track_id} is used)")
    return files, unexpected


def read_split_lists() -> dict[str, dict[str, list[str]]]:
    """The fixed split schemes shipped in ``datasets/gtzan`` as track ids per part."""
    base = splits_dir() / "gtzan"
    schemes: dict[str, dict[str, list[str]]] = {}
    for scheme, (folder, pattern) in SCHEMES.items():
        parts: dict[str, list[str]] = {}
        for part in SPLIT_PARTS:
            path = base / folder / pattern.format(part=part)
            if not path.is_file():
                raise ConfigError(f"GTZAN split list {path} is missing from genrebench's files")
            ids = []
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                line = line.strip()
                if not line:
                    continue
                m = _FILE_RE.match(Path(line).name)
                if m is None or m.group("genre") not in GENRES:
                    raise ConfigError(f"{path}:{n}: not a GTZAN file name: {line!r}")
                ids.append(f"{m.group('genre')}.{m.group('num')}")
            parts[part] = ids
        schemes[scheme] = parts
    return schemes


def load(root: Path | None, options: Mapping[str, Any]) -> Dataset:
    root = require_root(NAME, root, EXPECTED_LAYOUT)
    strict = opt_bool(options, "strict", False)
    genre_dir = find_genre_dir(root)
    files, _unexpected = scan(genre_dir)
    if not files:
        raise layout_error(
            NAME, f"the genre folders under {genre_dir} hold no GTZAN clips", EXPECTED_LAYOUT
        )
    notes = unknown_option_notes(NAME, options, OPTIONS)
    problems: list[Problem] = []
    tracks: list[Track] = []
    for track_id, path in sorted(files.items()):
        reason = None
        if path.stat().st_size == 0:
            reason = "empty file (0 bytes)"
        elif track_id in KNOWN_FAULTS:
            # One header read: cheap, and names the known fault instead of a bare decode error.
            try:
                audio_info(path)
            except AudioError as exc:
                reason = f"{KNOWN_FAULTS[track_id]} ({audio_reason(exc, path)})"
        if reason is not None:
            problems.append(Problem(track_id, str(path), reason))
            continue
        tracks.append(Track(track_id, path, (track_id.split(".")[0],)))
    absent = [g for g in GENRES if not any(t.labels[0] == g for t in tracks)]
    if len(files) < len(GENRES) * TRACKS_PER_GENRE:
        notes.append(
            f"{len(files)} of the {len(GENRES) * TRACKS_PER_GENRE} GTZAN clips found "
            f"under {genre_dir}"
        )
    if absent:
        notes.append(f"no clips of genre(s) {', '.join(absent)}")
    if opt_bool(options, "images", True):
        tracks, image_note = attach_images(root, genre_dir, tracks)
        notes += [image_note] if image_note else []
    fixed = read_split_lists()
    notes += split_coverage(NAME, fixed, (t.track_id for t in tracks), strict)
    return Dataset(
        name=NAME,
        task="single-label",
        classes=list(GENRES),
        tracks=tracks,
        fixed_splits=fixed,
        default_split=DEFAULT_SPLIT,
        problems=problems,
        notes=notes,
    )


def attach_images(root: Path, genre_dir: Path, tracks: list[Track]) -> tuple[list[Track], str]:
    """Tracks with their Kaggle spectrogram image attached (asset :data:`IMAGE_ASSET`)
    where ``images_original/`` sits beside the genre folders inside the data root, and a
    note saying how many clips have one ("" when there is no such folder)."""
    if genre_dir.resolve() == root.resolve():
        return tracks, ""  # the folder beside would be outside the data root
    images_dir = genre_dir.parent / IMAGES_DIR
    if not images_dir.is_dir():
        return tracks, ""
    out = []
    for track in tracks:
        genre, number = track.track_id.split(".")
        image = images_dir / genre / f"{genre}{number}.png"
        if image.is_file():
            track = Track(track.track_id, track.path, track.labels, {IMAGE_ASSET: image})
        out.append(track)
    found = sum(IMAGE_ASSET in t.assets for t in out)
    return out, f"{found} of {len(out)} GTZAN clips have a Kaggle spectrogram image in {images_dir}"


def validate(root: Path | None, options: Mapping[str, Any]) -> ValidationReport:
    root = require_root(NAME, root, EXPECTED_LAYOUT)
    genre_dir = find_genre_dir(root)
    files, unexpected = scan(genre_dir)
    expected = expected_ids()
    report = ValidationReport(
        dataset=NAME,
        root=str(genre_dir),
        n_expected=len(expected),
        n_found=len(files),
        missing=[f"{genre_dir / i.split('.')[0] / i}.*" for i in expected if i not in files],
        unexpected=unexpected,
        missing_is_error=not opt_bool(options, "allow_missing", False),
    )
    check_files(report, sorted(files.items()), options, KNOWN_FAULTS, short_seconds=29.0)
    user_checksums(report, genre_dir, options)
    return report
