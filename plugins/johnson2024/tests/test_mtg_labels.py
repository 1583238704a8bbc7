"""The real MTG-Jamendo split files (split-0) parsed into the top-10 label matrix this
plugin's experiments ask for (``tags=top10, outside_tags=drop``), and into the 87-tag one.

Needs the official split files: set ``GENREBENCH_SHARED_DATA`` to the folder holding
``mtg-jamendo/data/splits/split-0/autotagging_genre-{train,validation,test}.tsv``.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from genrebench_johnson2024.plugin import ALL_TAGS, TOP10

from genrebench import SplitRequest, testing

pytestmark = pytest.mark.realdata

SHARED = os.environ.get("GENREBENCH_SHARED_DATA")
SPLITS = Path(SHARED) / "mtg-jamendo" / "data" / "splits" if SHARED else None
if SPLITS is None or not (SPLITS / "split-0" / "autotagging_genre-train.tsv").is_file():
    pytest.skip(
        "set GENREBENCH_SHARED_DATA to the shared data folder holding "
        "mtg-jamendo/data/splits/split-0/autotagging_genre-*.tsv",
        allow_module_level=True,
    )

#: The ten most frequent genre tags over all 55,094 tracks, most frequent first, and counts.
TOP10_BY_FREQUENCY = [
    ("electronic", 16480), ("soundtrack", 8094), ("pop", 7805), ("ambient", 7570),
    ("rock", 6865), ("classical", 5602), ("easylistening", 4833), ("experimental", 3941),
    ("alternative", 3761), ("chillout", 3678),
]  # fmt: skip
PARTS = {"train": "train", "valid": "validation", "test": "test"}


def parse(split: str = "split-0") -> dict[str, tuple[str, tuple[str, ...]]]:
    """A deliberately independent parser: track id -> (part, genre tags)."""
    rows = {}
    for part, name in PARTS.items():
        lines = (SPLITS / split / f"autotagging_genre-{name}.tsv").read_text().splitlines()
        assert lines[0].split("\t")[:6] == [
            "TRACK_ID",
            "ARTIST_ID",
            "ALBUM_ID",
            "PATH",
            "DURATION",
            "TAGS",
        ]
        for line in lines[1:]:
            fields = line.split("\t")
            rows[fields[0]] = (part, tuple(t.removeprefix("genre---") for t in fields[5:]))
    return rows


@pytest.fixture(scope="module")
def rows():
    return parse()


@pytest.fixture(scope="module")
def top10_matrix(rows):
    """Tracks whose genre tags all lie in the top ten, and their 0/1 matrix (columns in the
    loader's class order: alphabetical)."""
    classes = sorted(t for t, _ in TOP10_BY_FREQUENCY)
    keep = sorted(t for t, (_, tags) in rows.items() if set(tags) <= set(classes))
    y = np.zeros((len(keep), 10), dtype=np.int64)
    for i, t in enumerate(keep):
        for tag in rows[t][1]:
            y[i, classes.index(tag)] = 1
    return classes, keep, y


def test_the_ten_most_frequent_tags(rows):
    counts = Counter(tag for _, tags in rows.values() for tag in set(tags))
    assert len(rows) == 55094
    assert len(counts) == 87
    assert counts.most_common(10) == TOP10_BY_FREQUENCY
    assert counts.most_common(11)[10][0] == "dance"  # the first one left out


def test_top10_label_matrix(rows, top10_matrix):
    classes, keep, y = top10_matrix
    assert y.shape == (15080, 10)
    assert y.sum(axis=1).min() == 1 and y.sum(axis=1).max() <= 10
    parts = Counter(rows[t][0] for t in keep)
    assert parts == {"train": 8841, "valid": 2944, "test": 3295}
    row = {t: i for i, t in enumerate(keep)}

    def labels(t):
        return [c for c, on in zip(classes, y[row[t]], strict=True) if on]

    assert labels("track_0000241") == ["rock"]
    assert labels("track_0017178") == ["classical", "soundtrack"]
    assert labels("track_0001603") == ["alternative", "electronic", "experimental"]
    assert "track_0000851" not in row  # disco, funk, pop, rnb: tags outside the ten
    # the "keep the track, drop the other tags" reading keeps far more tracks
    kept_any = [t for t, (_, tags) in rows.items() if set(tags) & set(classes)]
    assert len(kept_any) == 44036


mj = pytest.importorskip("genrebench.datasets.loaders.mtg_jamendo")


def test_core_loader_functions_agree(rows, top10_matrix):
    classes, keep, y = top10_matrix
    splits = mj.read_splits(SPLITS)
    counts = mj.tag_counts(splits)
    assert mj.choose_tags(TOP10["tags"], counts) == classes
    assert len(mj.choose_tags(ALL_TAGS["tags"], counts)) == 87
    chosen = set(classes)
    core = {}
    for part, part_rows in splits["split-0"].items():
        for r in part_rows:
            kept = mj.filter_tags(r.tags, chosen, TOP10["outside_tags"])
            if kept is not None:
                core[r.track_id] = (part, kept)
    assert sorted(core) == keep
    y_core = np.array([[int(c in core[t][1]) for c in classes] for t in keep])
    np.testing.assert_array_equal(y_core, y)
    assert Counter(p for p, _ in core.values()) == Counter(rows[t][0] for t in keep)


KNOWN = {  # track id -> (audio path, part, top-10 labels or None when dropped)
    "track_0000241": ("41/241.mp3", "train", ("rock",)),
    "track_0001603": ("03/1603.mp3", "train", ("alternative", "electronic", "experimental")),
    "track_0002615": ("15/2615.mp3", "valid", ("alternative", "electronic", "experimental")),
    "track_0017178": ("78/17178.mp3", "test", ("classical", "soundtrack")),
    "track_0000851": ("51/851.mp3", "train", None),
}


@pytest.mark.parametrize("dataset_name", ["mtg-jamendo", "mtg-jamendo-top10"])
def test_registered_dataset_with_our_options(tmp_path, dataset_name):
    """The real loader, through the registry, with this plugin's top-10 options, on the
    real metadata and a few stand-in audio files of known tracks."""
    for path, _, _ in KNOWN.values():
        file = tmp_path / "audio" / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(b"not decoded by load()")
    registry = testing.load_registry(autoload=False)
    options = {**TOP10, "metadata_dir": str(SPLITS), "audio_dir": str(tmp_path / "audio")}
    ds = testing.load_dataset(dataset_name, tmp_path, options, registry)
    assert ds.task == "multi-label"
    assert ds.classes == sorted(t for t, _ in TOP10_BY_FREQUENCY)
    present = {t: v for t, v in KNOWN.items() if v[2] is not None}
    assert sorted(t.track_id for t in ds.tracks) == sorted(present)
    y = ds.label_matrix(sorted(present))
    for i, t in enumerate(sorted(present)):
        assert tuple(c for c, on in zip(ds.classes, y[i], strict=True) if on) == present[t][2]
    split = ds.split(SplitRequest("default"))
    assert split.scheme == "split-0"
    for t, (_, part, _) in present.items():
        assert t in split.part(part)
    if dataset_name == "mtg-jamendo":
        all_tags = testing.load_dataset(
            dataset_name,
            tmp_path,
            {**ALL_TAGS, "metadata_dir": str(SPLITS), "audio_dir": str(tmp_path / "audio")},
            registry,
        )
        assert len(all_tags.classes) == 87
        assert "track_0000851" in {t.track_id for t in all_tags.tracks}
        row = all_tags.label_matrix(["track_0000851"])[0]
        assert sorted(np.array(all_tags.classes)[row == 1]) == ["disco", "funk", "pop", "rnb"]
