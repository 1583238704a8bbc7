"""FMA loaders: tracks.csv with its real two-row header, the official split, known faults,
layouts, validation and checksums."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest

from genrebench.audio import load_audio
from genrebench.datasets.loaders import fma
from genrebench.errors import AudioError, DataRootError
from genrebench.specs import SplitRequest

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib
from loader_fixtures import (
    FMA_ROWS,
    fma_id,
    make_fma,
    shared_data,
    truncate,
    write_tracks_csv,
)

SMALL_GENRES = [
    "Electronic", "Experimental", "Folk", "Hip-Hop",
    "Instrumental", "International", "Pop", "Rock",
]  # fmt: skip
NO_AUDIO = {"099134", "108925", "133297"}


def load_small(root, **options):
    return fma.make_load("small")(root, options)


def test_tracks_csv_fixture_has_the_real_shape(tmp_path):
    path = write_tracks_csv(tmp_path / "tracks.csv")
    lines = path.read_text().splitlines()
    assert lines[0].startswith(",album,album") and ",set,set,track" in lines[0]
    assert lines[1].startswith(",comments,date_created") and ",split,subset," in lines[1]
    assert lines[2].startswith("track_id,,,")
    rows = fma.read_tracks_csv(path)
    assert len(rows) == len(FMA_ROWS)
    assert rows[0] == ("000002", "Hip-Hop", "small", "training")


def test_small_official_split_and_known_faults(tmp_path):
    make_fma(tmp_path, "small")
    ds = load_small(tmp_path)
    assert ds.task == "single-label" and ds.classes == SMALL_GENRES
    assert ds.default_split == "official"
    ids = {t.track_id for t in ds.tracks}
    assert len(ids) == 19 and "001486" not in ids and "000003" not in ids  # medium, large
    assert {p.track_id for p in ds.problems} == NO_AUDIO
    assert all("known FMA fault" in p.reason for p in ds.problems)
    official = ds.fixed_splits["official"]
    assert {k: len(v) for k, v in official.items()} == {"train": 10, "valid": 3, "test": 9}
    split = ds.split(SplitRequest("default"))
    assert (len(split.train), len(split.valid), len(split.test)) == (8, 3, 8)
    assert (
        "split 'official' lists 22 tracks, 19 found (train 8/10, valid 3/3, test 8/9)" in ds.notes
    )
    track = ds.track("011204")
    assert track.labels == ("Hip-Hop",) and track.path.name == "011204.mp3"
    assert load_audio(track.path, 22050).shape[0] > 0


def test_medium_includes_small(tmp_path):
    make_fma(tmp_path, "medium")
    ds = fma.make_load("medium")(tmp_path, {})
    ids = {t.track_id for t in ds.tracks}
    assert "001486" in ids and "000002" in ids and "000003" not in ids
    assert "Jazz" in ds.classes


def test_empty_missing_and_truncated_files(tmp_path):
    audio_dir = make_fma(tmp_path, "small", skip=[2])
    (audio_dir / "000" / "000005.mp3").write_bytes(b"")
    truncate(audio_dir / "000" / "000010.mp3", 0.5)
    ds = load_small(tmp_path)
    problems = {p.track_id: p.reason for p in ds.problems}
    assert problems["000005"] == "empty file (0 bytes)"
    assert "000002" not in problems and "000002" not in {t.track_id for t in ds.tracks}
    assert any(n.startswith("1 of 22 fma_small tracks have no audio file") for n in ds.notes)
    # A truncated clip is loaded (its header is fine); full validation finds it.
    assert "000010" in {t.track_id for t in ds.tracks}
    report = fma.make_validate("small")(tmp_path, {"decode": "full", "allow_missing": "true"})
    reasons = {Path(p).stem: r for p, r in report.unreadable}
    assert reasons["000010"].startswith("truncated: header says")
    assert reasons["000005"] == "empty file (0 bytes)"
    assert set(reasons) == {"000005", "000010", *NO_AUDIO}
    assert all("known fault" in reasons[i] for i in NO_AUDIO)
    assert report.missing == [str(audio_dir / "000" / "000002.mp3")]
    with pytest.raises(AudioError):
        load_audio(audio_dir / "099" / "099134.mp3", 22050)


def test_strict_refuses_partial_split(tmp_path):
    make_fma(tmp_path, "small", skip=[2])
    with pytest.raises(DataRootError, match=r"split 'official' lists 22 tracks.*strict=true"):
        load_small(tmp_path, strict="true")


def test_layouts(tmp_path):
    make_fma(tmp_path / "data", "small")
    # the fma_small folder itself as root, fma_metadata beside it
    ds = load_small(tmp_path / "data" / "fma_small")
    assert len(ds.tracks) == 19
    # explicit folders
    shutil.move(tmp_path / "data" / "fma_metadata", tmp_path / "meta")
    ds = load_small(tmp_path / "data", metadata_dir=str(tmp_path / "meta"))
    assert len(ds.tracks) == 19
    ds = load_small(
        tmp_path,
        audio_dir=str(tmp_path / "data" / "fma_small"),
        metadata_dir=str(tmp_path / "meta"),
    )
    assert len(ds.tracks) == 19
    with pytest.raises(DataRootError, match=r"no tracks\.csv found") as info:
        load_small(tmp_path / "data")
    assert "fma_metadata/tracks.csv" in str(info.value)


def test_wrong_roots(tmp_path):
    with pytest.raises(DataRootError, match="no FMA audio folder") as info:
        load_small(tmp_path)
    assert "Expected layout" in str(info.value) and "NNN/NNNNNN.mp3" in str(info.value)
    # metadata but no audio files at all
    write_tracks_csv(tmp_path / "fma_metadata" / "tracks.csv")
    (tmp_path / "fma_small" / "000").mkdir(parents=True)
    with pytest.raises(DataRootError, match="lists 22 tracks of fma_small but none has audio"):
        load_small(tmp_path)


def test_one_header_row_is_refused(tmp_path):
    make_fma(tmp_path, "small")
    (tmp_path / "fma_metadata" / "tracks.csv").write_text(
        "track_id,genre_top,split\n2,Hip-Hop,training\n"
    )
    with pytest.raises(DataRootError, match="two header rows"):
        load_small(tmp_path)


def test_validate_unexpected_and_checksums(tmp_path):
    audio_dir = make_fma(tmp_path, "small")
    (audio_dir / "000" / "stray.wav").write_bytes(b"RIFF")
    (audio_dir / "000" / "000003.mp3").write_bytes(b"x")  # a large-only track
    sums = []
    for rel in ("000/000002.mp3", "000/000005.mp3"):
        sums.append(f"{hashlib.sha1((audio_dir / rel).read_bytes()).hexdigest()}  {rel}")
    (audio_dir / "checksums").write_text("\n".join(sums) + "\n")
    (audio_dir / "000" / "000005.mp3").write_bytes(b"changed")
    report = fma.make_validate("small")(tmp_path, {"checksums": "true"})
    assert sorted(Path(p).name for p in report.unexpected) == ["000003.mp3", "stray.wav"]
    mismatched = {Path(p).name for p, _ in report.checksum_mismatches}
    # the fixture tracks.csv is not the official one, and 000005.mp3 was changed
    assert mismatched == {"tracks.csv", "000005.mp3"}
    assert any("checked 2 audio files" in w for w in report.warnings)
    assert not report.ok


@pytest.mark.realdata
def test_official_metadata_checksums_match_real_files(tmp_path):
    real = shared_data() / "fma" / "fma_metadata"
    make_fma(tmp_path, "small")
    for name in ("genres.csv", "raw_genres.csv", "not_found.pickle"):
        shutil.copy(real / name, tmp_path / "fma_metadata" / name)
    report = fma.make_validate("small")(tmp_path, {"checksums": True})
    assert {Path(p).name for p, _ in report.checksum_mismatches} == {"tracks.csv"}
    assert any("checked 4 metadata files" in w for w in report.warnings)


@pytest.mark.realdata
def test_real_track_ids_resolve_to_paths(tmp_path):
    """The fma_small list of the shared data names its files NNN/NNNNNN.mp3 like we do."""
    listing = (shared_data() / "fma" / "derived" / "fma_small_romi1502.csv").read_text()
    names = [line.split(",")[0] for line in listing.splitlines()[1:]]
    assert len(names) == 8000
    for name in names[:50]:
        tid = fma_id(int(Path(name).stem))
        assert fma.audio_path(Path("."), tid).as_posix() == name
    assert {fma_id(r[0]) for r in FMA_ROWS if r[2] == "small"} <= {Path(n).stem for n in names}
