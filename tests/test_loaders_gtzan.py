"""GTZAN loader: layouts, known faults, split schemes, validation, and the real 100-clip subset."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from genrebench.audio import load_audio
from genrebench.datasets.loaders import gtzan
from genrebench.datasets.loaders.base import ENV_SPLITS_DIR, splits_dir
from genrebench.errors import AudioError, ConfigError, DataRootError
from genrebench.specs import SplitRequest

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib
from loader_fixtures import (
    GTZAN_GENRES,
    make_gtzan,
    make_gtzan_ids,
    shared_data,
    write_clip,
    write_garbage,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("where", "ext"),
    [
        ("genres", ".au"),  # original Marsyas release
        ("genres_original", ".wav"),  # Kaggle release
        ("Data/genres_original", ".wav"),  # Kaggle archive unpacked
        (".", ".wav"),  # the root holds the genre folders
        ("genres", ".flac"),
    ],
)
def test_layouts_load(tmp_path, where, ext):
    make_gtzan(tmp_path, where, ext, per_genre=2)
    ds = gtzan.load(tmp_path, {})
    assert ds.task == "single-label"
    assert ds.classes == list(GTZAN_GENRES)
    assert len(ds.tracks) == 20
    assert ds.default_split == "fault-filtered"
    assert set(ds.fixed_splits) == {"fault-filtered", "stratified-500-250-250", "yan2023-authors"}
    track = ds.track("jazz.00001")
    assert track.labels == ("jazz",) and track.path.suffix == ext
    assert load_audio(track.path, 16000).shape[0] > 0
    assert ds.problems == []


def test_missing_root_says_what_is_expected(tmp_path):
    with pytest.raises(DataRootError, match="no data root given") as info:
        gtzan.load(None, {})
    assert "genres_original" in str(info.value)
    (tmp_path / "something_else").mkdir()
    with pytest.raises(DataRootError) as info:
        gtzan.load(tmp_path, {})
    text = str(info.value)
    assert "no genre folders" in text and "something_else/" in text
    assert "Expected layout" in text and "genres/<genre>/<genre>.000NN.au" in text
    with pytest.raises(DataRootError, match="does not exist"):
        gtzan.load(tmp_path / "nope", {})


def test_corrupt_jazz_00054_is_reported_and_skipped(tmp_path):
    genre_dir = make_gtzan(tmp_path, per_genre=2)
    write_garbage(genre_dir / "jazz" / "jazz.00054.wav")
    ds = gtzan.load(tmp_path, {})
    assert "jazz.00054" not in {t.track_id for t in ds.tracks}
    [problem] = ds.problems
    assert problem.track_id == "jazz.00054" and "Kaggle" in problem.reason
    report = gtzan.validate(tmp_path, {"allow_missing": "true"})
    [(path, reason)] = report.unreadable
    assert path.endswith("jazz.00054.wav") and "known fault" in reason
    assert not report.ok


def test_other_corrupt_and_empty_files(tmp_path):
    genre_dir = make_gtzan(tmp_path, per_genre=3)
    write_garbage(genre_dir / "rock" / "rock.00001.wav")
    (genre_dir / "pop" / "pop.00002.wav").write_bytes(b"")
    ds = gtzan.load(tmp_path, {})
    # Load reads no audio: the corrupt clip is found by the decode path, for that file only.
    assert [p.track_id for p in ds.problems] == ["pop.00002"]
    assert ds.problems[0].reason == "empty file (0 bytes)"
    with pytest.raises(AudioError, match=r"rock\.00001\.wav"):
        load_audio(ds.track("rock.00001").path, 22050)
    for t in ds.tracks:
        if t.track_id != "rock.00001":
            load_audio(t.path, 22050)
    report = gtzan.validate(tmp_path, {"allow_missing": True})
    reasons = dict(report.unreadable)
    empty, corrupt = str(genre_dir / "pop/pop.00002.wav"), str(genre_dir / "rock/rock.00001.wav")
    assert set(reasons) == {empty, corrupt}
    assert reasons[empty] == "empty file (0 bytes)"


def test_validate_lists_missing_and_unexpected(tmp_path):
    genre_dir = make_gtzan(tmp_path, per_genre=2)
    (genre_dir / "blues" / "notes.txt").write_text("x")
    write_clip(genre_dir / "blues" / "blues.00000.au", 0.05)  # second copy of a clip
    write_clip(genre_dir / "rock" / "rock.00100.wav", 0.05)  # beyond the 100 per genre
    (genre_dir / "rock" / ".DS_Store").write_bytes(b"\0")
    (genre_dir / "input.mf").write_text("blues/blues.00000.wav\tblues\n")  # Marsyas list: fine
    (genre_dir / "extra_genre").mkdir()
    report = gtzan.validate(tmp_path, {})
    assert report.n_expected == 1000 and report.n_found == 20
    assert len(report.missing) == 980 and not report.ok
    assert str(genre_dir / "blues" / "blues.00002.*") in report.missing
    unexpected = "\n".join(report.unexpected)
    assert "notes.txt" in unexpected and "rock.00100.wav" in unexpected
    assert "blues.00000.au (another copy of blues.00000 is used)" in unexpected
    assert "extra_genre/ (not a GTZAN genre)" in unexpected
    assert ".DS_Store" not in unexpected and "input.mf" not in unexpected
    text = report.format(limit=3)
    assert "missing: 980" in text and "... and 977 more" in text and "NOT OK" in text
    allowed = gtzan.validate(tmp_path, {"allow_missing": "yes"})
    assert allowed.ok and "allow_missing" in allowed.format()


def test_partial_split_notes_and_strict(tmp_path):
    lists = gtzan.read_split_lists()["fault-filtered"]
    listed = {i for part in lists.values() for i in part}
    outside = next(i for i in gtzan.expected_ids() if i not in listed)  # a faulty, unlisted clip
    ids = lists["train"][:5] + lists["valid"][:3] + lists["test"][:2] + [outside]
    make_gtzan_ids(tmp_path, ids)
    ds = gtzan.load(tmp_path, {"strict": "false"})
    note = (
        "split 'fault-filtered' lists 930 tracks, 10 found (train 5/443, valid 3/197, test 2/290)"
    )
    assert note in ds.notes
    assert any(n.startswith("11 of the 1000 GTZAN clips found") for n in ds.notes)
    split = ds.split(SplitRequest("fault-filtered"))
    assert (len(split.train), len(split.valid), len(split.test)) == (5, 3, 2)
    with pytest.raises(DataRootError, match=r"lists 930 tracks, 10 found.*strict=true"):
        gtzan.load(tmp_path, {"strict": "true"})


def test_full_tree_fixed_and_stratified_splits(tmp_path):
    make_gtzan(tmp_path, "genres", ".au", per_genre=100, seconds=0.01)
    ds = gtzan.load(tmp_path, {"strict": True})
    assert len(ds.tracks) == 1000 and ds.notes == []
    ff = ds.split(SplitRequest("default"))
    assert ff.scheme == "fault-filtered"
    assert (len(ff.train), len(ff.valid), len(ff.test)) == (443, 197, 290)
    assert not set(ff.train) & set(ff.test) and not set(ff.train) & set(ff.valid)
    fixed = ds.split(SplitRequest("stratified-500-250-250"))
    assert (len(fixed.train), len(fixed.valid), len(fixed.test)) == (500, 250, 250)
    # The papers' 70/20/10 and 750/250 splits: by track, seeded, every class in proportion.
    s = ds.split(SplitRequest("stratified", {"train": 0.7, "valid": 0.2, "test": 0.1}), seed=1)
    assert (len(s.train), len(s.valid), len(s.test)) == (700, 200, 100)
    assert set(Counter(ds.track(t).labels[0] for t in s.test).values()) == {10}
    again = ds.split(SplitRequest("stratified", {"train": 0.7, "valid": 0.2, "test": 0.1}), seed=1)
    assert again.test == s.test
    s75 = ds.split(SplitRequest("stratified", {"train": 0.75, "test": 0.25}), seed=0)
    assert (len(s75.train), len(s75.valid), len(s75.test)) == (750, 0, 250)
    assert set(Counter(ds.track(t).labels[0] for t in s75.train).values()) == {75}
    other = ds.split(SplitRequest("stratified", {"train": 0.75, "test": 0.25}), seed=1)
    assert other.test != s75.test


def test_shipped_split_lists():
    lists = gtzan.read_split_lists()
    sizes = {k: tuple(len(v[p]) for p in ("train", "valid", "test")) for k, v in lists.items()}
    assert sizes == {
        "fault-filtered": (443, 197, 290),
        "stratified-500-250-250": (500, 250, 250),
        "yan2023-authors": (700, 200, 99),
    }
    for parts in lists.values():
        ids = [i for p in parts.values() for i in p]
        assert len(ids) == len(set(ids))
    provenance = (REPO / "datasets" / "gtzan" / "PROVENANCE.txt").read_text(encoding="utf-8")
    assert "yan2023_authors/" in provenance and "csci467_music_genre_classification" in provenance


def test_yan2023_authors_split_is_their_data_split_txt():
    yan = gtzan.read_split_lists()["yan2023-authors"]
    per_genre = {p: Counter(i.split(".")[0] for i in ids) for p, ids in yan.items()}
    assert set(per_genre["train"].values()) == {70} and set(per_genre["valid"].values()) == {20}
    assert per_genre["test"] == {g: 9 if g == "jazz" else 10 for g in GTZAN_GENRES}
    everything = {i for ids in yan.values() for i in ids}
    assert set(gtzan.expected_ids()) - everything == {"jazz.00054"}  # no Kaggle image
    # The first entry of each of the authors' lists ('pop/pop00050.png' etc.).
    assert "pop.00050" in yan["train"] and "pop.00024" in yan["valid"]
    assert "pop.00015" in yan["test"]


def test_splits_dir_env(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_SPLITS_DIR, raising=False)
    # the checkout's datasets/ (editable install) or the wheel's copy of it (tox -e wheels)
    split = Path("gtzan") / "sturm_filtered" / "test_filtered.txt"
    assert (splits_dir() / split).read_bytes() == (REPO / "datasets" / split).read_bytes()
    monkeypatch.setenv(ENV_SPLITS_DIR, str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=ENV_SPLITS_DIR):
        splits_dir()


def test_unknown_options_are_noted(tmp_path):
    make_gtzan(tmp_path, per_genre=1)
    ds = gtzan.load(tmp_path, {"tags": "top10"})
    assert any("ignored options" in n and "tags" in n for n in ds.notes)
    with pytest.raises(ConfigError, match="strict"):
        gtzan.load(tmp_path, {"strict": "maybe"})


# --------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_real_gtzan_mini_loads():
    root = shared_data() / "gtzan-mini"
    ds = gtzan.load(root, {})
    assert len(ds.tracks) == 100 and ds.classes == list(GTZAN_GENRES)
    assert Counter(t.labels[0] for t in ds.tracks) == {g: 10 for g in GTZAN_GENRES}
    assert ds.problems == []
    note = "split 'fault-filtered' lists 930 tracks, 93 found "
    note += "(train 40/443, valid 49/197, test 4/290)"
    assert note in ds.notes
    ff = ds.split(SplitRequest("default"))
    assert (len(ff.train), len(ff.valid), len(ff.test)) == (40, 49, 4)
    fixed = ds.split(SplitRequest("stratified-500-250-250"))
    assert (len(fixed.train), len(fixed.valid), len(fixed.test)) == (42, 31, 27)
    yan = ds.split(SplitRequest("yan2023-authors"))
    assert (len(yan.train), len(yan.valid), len(yan.test)) == (74, 15, 11)
    s = ds.split(SplitRequest("stratified", {"train": 0.7, "valid": 0.2, "test": 0.1}))
    assert (len(s.train), len(s.valid), len(s.test)) == (70, 20, 10)
    audio = load_audio(ds.track("jazz.00000").path, 22050, max_seconds=1.0)
    assert audio.shape == (22050,)


@pytest.mark.realdata
def test_real_gtzan_mini_validates():
    root = shared_data() / "gtzan-mini"
    report = gtzan.validate(root, {"allow_missing": "true"})
    assert report.n_found == 100 and len(report.missing) == 900
    assert report.unreadable == [] and report.unexpected == [] and report.ok
    assert report.warnings == []  # every clip is about 30 s


@pytest.mark.realdata
def test_shipped_lists_match_shared_copies():
    shared = shared_data() / "gtzan-splits"
    for folder in ("sturm_filtered", "stratified"):
        for path in sorted((shared / folder).glob("*.txt")):
            shipped = REPO / "datasets" / "gtzan" / folder / path.name
            assert shipped.read_bytes() == path.read_bytes(), shipped


@pytest.mark.parametrize("where", ["genres_original", "Data/genres_original"])
def test_kaggle_images_are_attached_as_assets(tmp_path, where):
    genre_dir = make_gtzan(tmp_path, where, per_genre=2)
    images = genre_dir.parent / "images_original"
    for genre in GTZAN_GENRES:
        (images / genre).mkdir(parents=True)
        (images / genre / f"{genre}00000.png").write_bytes(b"png")  # only clip 0 has one
    ds = gtzan.load(tmp_path, {})
    assert ds.track("rock.00000").assets == {gtzan.IMAGE_ASSET: images / "rock" / "rock00000.png"}
    assert ds.track("rock.00001").assets == {}
    assert any("10 of 20 GTZAN clips have a Kaggle spectrogram image" in n for n in ds.notes)
    ignored = gtzan.load(tmp_path, {"images": "false"})
    assert all(t.assets == {} for t in ignored.tracks)
    assert not any("spectrogram image" in n for n in ignored.notes)


def test_kaggle_images_outside_the_data_root_are_not_looked_for(tmp_path):
    genre_dir = make_gtzan(tmp_path, "genres_original", per_genre=1)
    (tmp_path / "images_original" / "blues").mkdir(parents=True)
    (tmp_path / "images_original" / "blues" / "blues00000.png").write_bytes(b"png")
    ds = gtzan.load(genre_dir, {})  # the root holds the genre folders itself
    assert all(t.assets == {} for t in ds.tracks)
