"""MTG-Jamendo loaders: the official split files (fixtures of real rows, and the real files),
label sets and the rule for foreign tags, audio layouts, path safety and validation."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from genrebench.datasets.loaders import mtg_jamendo as mtg
from genrebench.errors import ConfigError, DataRootError
from genrebench.specs import SplitRequest

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib
from loader_fixtures import (
    MTG_HEADER,
    MTG_ROWS,
    make_mtg,
    mtg_track,
    shared_data,
    write_garbage,
    write_mtg_metadata,
)

load_all = mtg.make_load(mtg.NAME, "all", fixed_tags=False)
load_top10 = mtg.make_load(mtg.TOP10_NAME, "top10", fixed_tags=True)
validate = mtg.make_validate(mtg.NAME)
IDS = [mtg_track(line)[0] for _, line in MTG_ROWS]
FIXTURE_TAGS = sorted({t[8:] for _, line in MTG_ROWS for t in line.split("\t")[5:]})


def part_counts(ds, scheme):
    split = ds.split(SplitRequest(scheme))
    return len(split.train), len(split.valid), len(split.test)


def test_loads_all_five_splits(tmp_path):
    make_mtg(tmp_path)
    ds = load_all(tmp_path, {})
    assert ds.task == "multi-label" and ds.classes == FIXTURE_TAGS
    assert len(ds.tracks) == len(MTG_ROWS) and ds.notes == [] and ds.problems == []
    assert sorted(ds.fixed_splits) == [f"split-{i}" for i in range(5)]
    assert ds.default_split == "split-0"
    for s in range(5):
        expected = tuple(sum(1 for parts, _ in MTG_ROWS if parts[s] == c) for c in "TVE")
        assert part_counts(ds, f"split-{s}") == expected
    track = ds.track("track_0211720")
    assert track.labels == ("easylistening", "electronic", "lounge")
    assert track.path == tmp_path / "audio" / "20" / "211720.mp3"
    y = ds.label_matrix(IDS)
    assert y.shape == (len(IDS), len(FIXTURE_TAGS)) and y.sum() == sum(
        len(line.split("\t")) - 5 for _, line in MTG_ROWS
    )


def test_top_n_and_outside_tags(tmp_path):
    make_mtg(tmp_path)
    # In the fixture: electronic 7, pop 6, rock 6, soundtrack 4, alternative 2, ...
    keep = load_all(tmp_path, {"tags": "top3"})
    assert keep.classes == ["electronic", "pop", "rock"]
    # keep: tracks keep their chosen tags; tracks with none of them are left out
    assert keep.track("track_0211720").labels == ("electronic",)
    left_out = {i for i in IDS if i not in {t.track_id for t in keep.tracks}}
    assert left_out == {
        "track_0966520", "track_1245152", "track_0229044", "track_0181425", "track_1050787",
    }  # fmt: skip
    assert any("tags=top3 (3 tags), outside_tags=keep: 5 of 18" in n for n in keep.notes)
    drop = load_all(tmp_path, {"tags": "top3", "outside_tags": "drop"})
    dropped = {i for i in IDS if i not in {t.track_id for t in drop.tracks}}
    assert dropped == left_out | {
        "track_0251090", "track_0024318", "track_0211720", "track_1226027", "track_1212574",
    }  # fmt: skip
    # fixed splits only hold the tracks of the label set, so no "partial split" notes
    assert not any("lists" in n for n in drop.notes)
    listed = load_all(tmp_path, {"tags": "genre---rock, pop"})
    assert listed.classes == ["pop", "rock"]
    with pytest.raises(ConfigError, match="did you mean 'electronic'"):
        load_all(tmp_path, {"tags": "electronik"})
    with pytest.raises(ConfigError, match="outside_tags"):
        load_all(tmp_path, {"outside_tags": "maybe"})
    with pytest.raises(ConfigError, match="N must be between"):
        load_all(tmp_path, {"tags": "top0"})


def test_top10_dataset(tmp_path):
    make_mtg(tmp_path)
    ds = load_top10(tmp_path, {})
    assert len(ds.classes) == 10 and ds.task == "multi-label"
    assert load_top10(tmp_path, {"tags": "top10"}).classes == ds.classes
    with pytest.raises(ConfigError, match="always uses tags=top10"):
        load_top10(tmp_path, {"tags": "all"})


def test_audio_layouts_and_variants(tmp_path):
    low = ["track_0942722", "track_0100659"]
    audio = make_mtg(tmp_path, metadata="splits", audio=".", low=low)
    ds = load_all(tmp_path, {})
    assert len(ds.tracks) == 18
    assert ds.track("track_0942722").path == audio / "22" / "942722.low.mp3"
    full = load_all(tmp_path, {"audio_variant": "full"})
    assert len(full.tracks) == 16
    assert any(n.startswith("2 of 18 tracks have no audio") for n in full.notes)
    only_low = load_all(tmp_path, {"audio_variant": "low"})
    assert {t.track_id for t in only_low.tracks} == set(low)
    # metadata and audio in places of their own
    other = tmp_path / "elsewhere"
    write_mtg_metadata(other / "meta")
    ds = load_all(None, {"metadata_dir": str(other / "meta"), "audio_dir": str(audio)})
    assert len(ds.tracks) == 18


def test_partial_audio_notes_and_strict(tmp_path):
    make_mtg(tmp_path, skip=["track_0942722", "track_1050787"])
    ds = load_all(tmp_path, {})
    assert len(ds.tracks) == 16
    assert any(n.startswith("2 of 18 tracks have no audio") for n in ds.notes)
    # split-0 parts: track_0942722 is in test ("EETVT"), track_1050787 in train ("TTTVV")
    listed = [sum(parts[0] == c for parts, _ in MTG_ROWS) for c in "TVE"]
    note = (
        f"split 'split-0' lists 18 tracks, 16 found (train {listed[0] - 1}/{listed[0]}, "
        f"valid {listed[1]}/{listed[1]}, test {listed[2] - 1}/{listed[2]})"
    )
    assert note in ds.notes
    assert sum(n.startswith("split 'split-") for n in ds.notes) == 5
    with pytest.raises(DataRootError, match="strict=true"):
        load_all(tmp_path, {"strict": True})


def test_no_audio_or_no_metadata(tmp_path):
    write_mtg_metadata(tmp_path / "data" / "splits")
    with pytest.raises(DataRootError, match="lists 18 tracks but none has audio") as info:
        load_all(tmp_path, {})
    assert "Expected layout" in str(info.value)
    with pytest.raises(DataRootError, match="no split-N folders"):
        load_all(tmp_path / "data" / "splits" / "split-0", {})
    with pytest.raises(DataRootError, match="no data root"):
        load_all(None, {})


def write_bad_row(tmp_path, path_field):
    rows = [
        *MTG_ROWS[:3],
        ("TTTTT", f"track_9\tartist_1\talbum_1\t{path_field}\t10.0\tgenre---rock"),
    ]
    make_mtg(tmp_path, rows=MTG_ROWS[:3])
    write_mtg_metadata(tmp_path / "data" / "splits", rows)


@pytest.mark.parametrize(
    "path_field", ["../../etc/passwd.mp3", "/etc/passwd.mp3", "12/../../x.mp3", "C:/x.mp3"]
)
def test_paths_outside_the_root_are_refused(tmp_path, path_field):
    write_bad_row(tmp_path, path_field)
    with pytest.raises(DataRootError) as info:
        load_all(tmp_path, {})
    text = str(info.value)
    assert "split-0/autotagging_genre-train.tsv:2 (track_9)" in text
    assert "absolute" in text or "escapes the data root" in text
    with pytest.raises(DataRootError):
        validate(tmp_path, {})


def test_harmless_dots_in_paths_are_normalised(tmp_path):
    write_bad_row(tmp_path, "./12/../12/9.mp3")
    from loader_fixtures import write_clip

    write_clip(tmp_path / "audio" / "12" / "9.mp3", 0.2)
    ds = load_all(tmp_path, {})
    assert ds.track("track_9").path == tmp_path / "audio" / "12" / "9.mp3"


def test_malformed_files(tmp_path):
    make_mtg(tmp_path)
    path = tmp_path / "data" / "splits" / "split-3" / "autotagging_genre-test.tsv"
    path.write_text(
        MTG_HEADER + "\ntrack_1\tartist_1\talbum_1\t01/1.mp3\t10.0\tmood/theme---happy\n"
    )
    with pytest.raises(DataRootError, match="not a genre tag"):
        load_all(tmp_path, {})
    path.write_text("ID\tPATH\n")
    with pytest.raises(DataRootError, match="not the MTG-Jamendo one"):
        load_all(tmp_path, {})
    path.unlink()
    with pytest.raises(DataRootError, match="split split-3 is incomplete"):
        load_all(tmp_path, {})


def test_validate(tmp_path):
    audio = make_mtg(tmp_path, skip=["track_0942722"])
    write_garbage(audio / "90" / "251090.mp3")
    (audio / "90" / "999.mp3").write_bytes(b"x")
    report = validate(tmp_path, {})
    assert report.n_expected == 18 and report.n_found == 17
    assert report.missing == ["22/942722.mp3"]
    assert [Path(p).name for p, _ in report.unreadable] == ["251090.mp3"]
    assert [Path(p).name for p in report.unexpected] == ["999.mp3"]
    assert not report.ok
    checks = validate(tmp_path, {"checksums": "true", "allow_missing": "true"})
    assert any("raw_30s_audio_sha256_tracks.txt" in w for w in checks.warnings)


# --------------------------------------------------------------------------- real data
REAL_COUNTS = {  # (train, validation, test) tracks per official split
    "split-0": (32572, 11043, 11479),
    "split-1": (32746, 10833, 11515),
    "split-2": (32360, 12185, 10549),
    "split-3": (33515, 10656, 10923),
    "split-4": (31305, 11804, 11985),
}
README_TOP10 = [
    "electronic", "soundtrack", "pop", "ambient", "rock",
    "classical", "easylistening", "experimental", "alternative", "chillout",
]  # fmt: skip


@pytest.fixture(scope="module")
def real_splits():
    return mtg.read_splits(shared_data() / "mtg-jamendo" / "data" / "splits")


@pytest.mark.realdata
def test_real_split_files_parse(real_splits):
    counts = {
        s: tuple(len(p[k]) for k in ("train", "valid", "test")) for s, p in real_splits.items()
    }
    assert counts == REAL_COUNTS
    rows = mtg._all_rows(real_splits)  # also checks that every split agrees on tags and paths
    assert len(rows) == 55094
    for parts in real_splits.values():
        ids = [r.track_id for rows_ in parts.values() for r in rows_]
        assert len(ids) == len(set(ids)) == 55094  # each split partitions all tracks
    tag_counts = mtg.tag_counts(real_splits)
    assert len(tag_counts) == 87
    assert mtg.choose_tags("top10", tag_counts) == sorted(README_TOP10)
    assert [t for t, _ in tag_counts.most_common(10)] == README_TOP10


@pytest.mark.realdata
def test_real_label_matrices(real_splits):
    from genrebench.dataset import Dataset, Track

    rows = mtg._all_rows(real_splits)
    for tags_spec, n_classes in (("all", 87), ("top10", 10)):
        classes = mtg.choose_tags(tags_spec, mtg.tag_counts(real_splits))
        chosen = set(classes)
        tracks = []
        for row in rows.values():
            labels = mtg.filter_tags(row.tags, chosen, "keep")
            if labels is not None:
                tracks.append(Track(row.track_id, Path(row.path), labels))
        ds = Dataset("m", "multi-label", classes, tracks)
        train = [r.track_id for r in real_splits["split-0"]["train"] if r.track_id in ds._by_id]
        y = ds.label_matrix(train)
        assert y.shape == (len(train), n_classes)
        assert np.all(y.sum(axis=1) >= 1)
        if tags_spec == "all":
            assert len(tracks) == 55094 and len(train) == 32572 and y.sum() == 78873
        else:
            assert len(tracks) == 44036 and len(train) == 25976  # tracks with a top-10 tag
            drop = [r for r in rows.values() if mtg.filter_tags(r.tags, chosen, "drop")]
            assert len(drop) == 15080  # tracks with only top-10 tags


@pytest.mark.realdata
def test_real_metadata_with_a_few_audio_files(tmp_path, real_splits):
    """The loader on the real split files, with audio for ten real tracks only."""
    from loader_fixtures import write_clip

    splits_dir = shared_data() / "mtg-jamendo" / "data" / "splits"
    rows = sorted(mtg._all_rows(real_splits).values())
    some = [r for r in rows if set(r.tags) & set(README_TOP10)][:10]
    for row in some:
        write_clip(tmp_path / "audio" / row.path, 0.1, 16000)
    ds = load_all(tmp_path, {"metadata_dir": str(splits_dir)})
    assert len(ds.tracks) == 10 and len(ds.classes) == 87
    assert (
        sum(n.startswith("split 'split-") and "lists 55094 tracks, 10 found" in n for n in ds.notes)
        == 5
    )
    assert any(n.startswith("55084 of 55094 tracks have no audio") for n in ds.notes)
    top = load_top10(tmp_path, {"metadata_dir": str(splits_dir)})
    assert top.classes == sorted(README_TOP10) and len(top.tracks) == 10


@pytest.mark.realdata
@pytest.mark.slow
def test_real_splits_load_complete(tmp_path, real_splits):
    """All five official splits through the loader, every track present (1-byte stand-ins:
    loading checks files exist, it does not decode them)."""
    splits_dir = shared_data() / "mtg-jamendo" / "data" / "splits"
    for row in mtg._all_rows(real_splits).values():
        path = tmp_path / "audio" / row.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    options = {"metadata_dir": str(splits_dir), "strict": True}
    ds = load_all(tmp_path, options)
    assert len(ds.tracks) == 55094 and ds.notes == [] and len(ds.classes) == 87
    for scheme, counts in REAL_COUNTS.items():
        assert part_counts(ds, scheme) == counts
    y = ds.label_matrix(ds.split(SplitRequest("split-0")).train)
    assert y.shape == (32572, 87) and y.sum() == 78873
    top = load_top10(tmp_path, options)
    assert len(top.tracks) == 44036 and top.classes == sorted(README_TOP10)
    assert part_counts(top, "split-0") == (25976, 8897, 9163)
    y = top.label_matrix(top.split(SplitRequest("split-0")).train)
    assert y.shape == (25976, 10) and np.all(y.sum(axis=1) >= 1)
