"""Your own collections: the ``folder`` and ``manifest`` data sets, and the shared loader
pieces (options, path safety, validation reports, checksums, ``data check``, registration)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from genrebench.datasets.loaders import base, folder, manifest
from genrebench.errors import ConfigError, DataRootError
from genrebench.registry.loading import load_plugins
from genrebench.specs import SplitRequest

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib
from loader_fixtures import make_gtzan, write_clip, write_garbage

load_manifest = manifest.make_load(manifest.NAME, multi=False)
load_multi = manifest.make_load(manifest.MULTI_NAME, multi=True)
validate_manifest = manifest.make_validate(manifest.NAME, multi=False)


def make_folder(root: Path) -> Path:
    """Three labels, every supported format, a nested album folder."""
    for i, name in enumerate(("a.wav", "b.flac", "c.mp3", "d.ogg")):
        write_clip(root / "rock" / name, 0.2, 22050, 300 + 20 * i)
    for i, name in enumerate(("a.au", "album/b.wav", "album/c.wav", "d.mp3")):
        write_clip(root / "jazz" / name, 0.2, 22050, 500 + 20 * i)
    for i in range(4):
        write_clip(root / "folk" / f"{i}.wav", 0.2, 16000, 700 + 20 * i)
    return root


# --------------------------------------------------------------------------- folder
def test_folder_loads_every_format(tmp_path):
    make_folder(tmp_path)
    (tmp_path / "README.md").write_text("my collection")
    (tmp_path / ".hidden").mkdir()
    ds = folder.load(tmp_path, {})
    assert ds.task == "single-label" and ds.classes == ["folk", "jazz", "rock"]
    assert len(ds.tracks) == 12 and ds.default_split == "stratified" and not ds.fixed_splits
    assert ds.track("jazz/album/b.wav").labels == ("jazz",)
    assert ds.track("rock/d.ogg").path == tmp_path / "rock" / "d.ogg"
    s = ds.split(SplitRequest("stratified", {"train": 0.75, "test": 0.25}), seed=3)
    assert (len(s.train), len(s.test)) == (9, 3)


def test_folder_split_file(tmp_path):
    make_folder(tmp_path)
    rows = ["path,split", "rock/a.wav,train", "rock/b.flac,validation", "rock/c.mp3,test"]
    rows += ["jazz/a.au,train", "jazz/d.mp3,test", "folk/0.wav,train", "folk/1.wav,test"]
    rows += ["folk/9.wav,test"]  # listed, not there
    (tmp_path / "split.csv").write_text("\n".join(rows) + "\n")
    ds = folder.load(tmp_path, {"split_file": "split.csv"})
    assert ds.default_split == "split-file"
    split = ds.split(SplitRequest("default"))
    assert (len(split.train), len(split.valid), len(split.test)) == (3, 1, 3)
    assert "split 'split-file' lists 8 tracks, 7 found (train 3/3, valid 1/1, test 3/4)" in ds.notes
    with pytest.raises(DataRootError, match="strict=true"):
        folder.load(tmp_path, {"split_file": str(tmp_path / "split.csv"), "strict": "1"})
    (tmp_path / "bad.csv").write_text("path,split\nrock/a.wav,holdout\n")
    with pytest.raises(DataRootError, match="'holdout' is not one of"):
        folder.load(tmp_path, {"split_file": "bad.csv"})
    (tmp_path / "bad.csv").write_text("file,part\n")
    with pytest.raises(ConfigError, match="needs columns 'path' and 'split'"):
        folder.load(tmp_path, {"split_file": "bad.csv"})
    with pytest.raises(ConfigError, match="not found"):
        folder.load(tmp_path, {"split_file": "nope.csv"})
    report = folder.validate(tmp_path, {"split_file": "split.csv"})
    assert report.n_expected == 8 and report.missing == [str(tmp_path / "folk/9.wav")]
    assert any("rock/d.ogg (not in split.csv)" in u for u in report.unexpected)


def test_folder_faults_and_validate(tmp_path):
    make_folder(tmp_path)
    write_garbage(tmp_path / "rock" / "broken.mp3")
    (tmp_path / "folk" / "empty.wav").write_bytes(b"")
    (tmp_path / "folk" / "cover.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "stray.wav").write_bytes(b"RIFF")
    (tmp_path / "nothing").mkdir()
    ds = folder.load(tmp_path, {})
    assert [(p.track_id, p.reason) for p in ds.problems] == [
        ("folk/empty.wav", "empty file (0 bytes)")
    ]
    assert "rock/broken.mp3" in {t.track_id for t in ds.tracks}  # found when decoded
    with pytest.raises(DataRootError, match="unusable files"):
        folder.load(tmp_path, {"strict": True})
    report = folder.validate(tmp_path, {})
    assert sorted(Path(p).name for p, _ in report.unreadable) == ["broken.mp3", "empty.wav"]
    assert sorted(Path(p).name for p in report.unexpected) == ["cover.jpg", "stray.wav"]
    assert report.warnings == ["folders without audio: nothing"]
    assert not report.ok


def test_folder_wrong_root(tmp_path):
    with pytest.raises(DataRootError, match="no audio in label folders") as info:
        folder.load(tmp_path, {})
    assert "empty folder" in str(info.value) and "DATA_ROOT/<label>/<file>.<ext>" in str(info.value)


# --------------------------------------------------------------------------- manifest
def write_manifest(root: Path, lines: list[str], name: str = "manifest.csv") -> Path:
    path = root / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_manifest_with_split_column(tmp_path):
    make_folder(tmp_path / "audio")
    csv_path = write_manifest(
        tmp_path,
        [
            "path,label,split,comment",
            "audio/rock/a.wav,rock,train,first",
            "audio/rock/b.flac,rock,valid,",
            "audio/rock/c.mp3,rock,test,",
            "audio/jazz/a.au,jazz,train,",
            "audio/jazz/d.mp3,jazz,test,",
            "audio/folk/0.wav,folk,,unassigned",
            "audio/folk/missing.wav,folk,test,",
        ],
    )
    for root in (tmp_path, csv_path):  # the folder or the file itself
        ds = load_manifest(root, {})
        assert ds.classes == ["folk", "jazz", "rock"] and ds.default_split == "official"
        assert len(ds.tracks) == 6
        assert [(p.track_id, p.reason) for p in ds.problems] == [
            ("audio/folk/missing.wav", "file not found")
        ]
        split = ds.split(SplitRequest("default"))
        assert (len(split.train), len(split.valid), len(split.test)) == (2, 1, 2)
        assert "1 rows have an empty split: in no part of 'official'" in ds.notes
        assert any("lists 6 tracks, 5 found" in n for n in ds.notes)
    with pytest.raises(DataRootError, match="strict=true"):
        load_manifest(tmp_path, {"strict": "on"})


def test_manifest_multilabel_and_stratified(tmp_path):
    make_folder(tmp_path)
    lines = ["\ufeffPath,Label"]  # a BOM and capitalised names, as spreadsheets write them
    lines += ["rock/a.wav,rock|pop", "rock/b.flac,rock", "jazz/a.au,jazz| pop", "folk/0.wav,folk"]
    write_manifest(tmp_path, lines, "list.csv")
    ds = load_multi(tmp_path, {"manifest": "list.csv"})
    assert ds.task == "multi-label" and ds.classes == ["folk", "jazz", "pop", "rock"]
    assert ds.default_split == "stratified" and not ds.fixed_splits
    y = ds.label_matrix(["rock/a.wav", "jazz/a.au"])
    assert y.tolist() == [[0, 0, 1, 1], [0, 1, 1, 0]]
    with pytest.raises(DataRootError, match="use data set 'manifest-multilabel'"):
        load_manifest(tmp_path / "list.csv", {})


@pytest.mark.parametrize(
    "bad", ["../outside.wav", "/etc/passwd", "rock/../../outside.wav", "C:\\music\\a.wav"]
)
def test_manifest_paths_must_stay_inside(tmp_path, bad):
    make_folder(tmp_path)
    write_manifest(tmp_path, ["path,label", "rock/a.wav,rock", f"{bad},rock"])
    with pytest.raises(DataRootError, match=r"manifest\.csv:3") as info:
        load_manifest(tmp_path, {})
    assert "absolute" in str(info.value) or "escapes the data root" in str(info.value)


def test_manifest_malformed(tmp_path):
    make_folder(tmp_path)
    write_manifest(tmp_path, ["file,genre", "rock/a.wav,rock"])
    with pytest.raises(DataRootError, match="needs 'path' and 'label'"):
        load_manifest(tmp_path, {})
    write_manifest(tmp_path, ["path,label", "rock/a.wav,rock", "./rock/a.wav,rock"])
    with pytest.raises(DataRootError, match="already listed on line 2"):
        load_manifest(tmp_path, {})
    write_manifest(tmp_path, ["path,label", "rock/a.wav,"])
    with pytest.raises(DataRootError, match="has no label"):
        load_manifest(tmp_path, {})
    write_manifest(tmp_path, ["path,label,split", "rock/a.wav,rock,dev"])
    with pytest.raises(DataRootError, match="'dev' is not one of"):
        load_manifest(tmp_path, {})
    write_manifest(tmp_path, ["path,label", "x.wav,rock"])
    with pytest.raises(DataRootError, match="none of the 1 files"):
        load_manifest(tmp_path, {})
    with pytest.raises(DataRootError, match=r"no manifest\.csv found"):
        load_manifest(tmp_path / "rock", {})


def test_manifest_validate(tmp_path):
    make_folder(tmp_path)
    write_garbage(tmp_path / "rock" / "x.wav")
    write_manifest(
        tmp_path, ["path,label", "rock/a.wav,rock", "rock/x.wav,rock", "rock/gone.wav,rock"]
    )
    report = validate_manifest(tmp_path, {})
    assert report.n_expected == 3 and report.n_found == 2
    assert report.missing == [str(tmp_path / "rock/gone.wav")]
    assert [Path(p).name for p, _ in report.unreadable] == ["x.wav"]
    assert len(report.unexpected) == 11  # the other audio files next to the manifest
    good = hashlib.md5((tmp_path / "rock/a.wav").read_bytes()).hexdigest()
    (tmp_path / "sums.md5").write_text(f"{good}  rock/a.wav\n{'0' * 32}  rock/b.flac\n")
    report = validate_manifest(tmp_path, {"checksums": "sums.md5"})
    assert [Path(p).name for p, _ in report.checksum_mismatches] == ["b.flac"]
    assert "checked 2 files" in report.warnings[0]


# --------------------------------------------------------------------------- shared pieces
def test_options_and_paths():
    assert base.opt_bool({"x": "Yes"}, "x", False) is True
    assert base.opt_bool({"x": "0"}, "x", True) is False
    assert base.opt_bool({}, "x", True) is True
    with pytest.raises(ConfigError, match="true or false"):
        base.opt_bool({"x": "sometimes"}, "x", False)
    assert base.safe_relative_path("a/./b/../c.mp3", "here") == "a/c.mp3"
    assert base.safe_relative_path("a\\b.wav", "here") == "a/b.wav"
    for bad in ("../a", "/a", "a/../../b", "~/a", "D:/a", "", "."):
        with pytest.raises(DataRootError, match="here"):
            base.safe_relative_path(bad, "here")
    with pytest.raises(ConfigError, match="not a checksum line"):
        path = Path(__file__).parent / "loader_fixtures.py"
        base.read_checksum_file(path)


def test_report_ok_and_format():
    report = base.ValidationReport("x", "/d", 3, 2, missing=["/d/a"])
    assert not report.ok
    report.missing_is_error = False
    assert report.ok
    report.unexpected = [f"/d/u{i}" for i in range(30)]
    assert report.ok  # unexpected files are listed, not fatal
    report.unreadable = [("/d/b", "cannot decode")]
    text = report.format(limit=5)
    assert not report.ok and "/d/b: cannot decode" in text and "... and 25 more" in text


def test_registered_datasets():
    registry = load_plugins(autoload=False)
    specs = {n: registry.get("datasets", n) for n in registry.names("datasets")}
    expected = {
        "gtzan": "single-label",
        "fma-small": "single-label",
        "fma-medium": "single-label",
        "mtg-jamendo": "multi-label",
        "mtg-jamendo-top10": "multi-label",
        "folder": "single-label",
        "manifest": "single-label",
        "manifest-multilabel": "multi-label",
    }
    for name, task in expected.items():
        spec = specs[name]
        assert spec.task == task and spec.validate is not None and not spec.embedded
        assert spec.expected_layout and spec.description
        with pytest.raises(DataRootError, match="Expected layout"):
            spec.load(None, {})


def test_check_command(tmp_path):
    registry = load_plugins(autoload=False)
    make_gtzan(tmp_path, per_genre=2)
    out: list[str] = []
    assert base.check_command(registry, "gtzan", tmp_path, {}, echo=out.append) == 1
    assert "missing: 980" in out[0] and "fault-filtered (default)" in out[1]
    out.clear()
    code = base.check_command(registry, "gtzan", tmp_path, {"allow_missing": "true"}, out.append)
    assert code == 0 and out[0].endswith("OK")
    assert "single-label, 10 classes, 20 usable tracks" in out[1]
    out.clear()
    assert base.check_command(registry, "folder", tmp_path / "genres_original", {}, out.append) == 0
    assert "split stratified (default)" in out[1]
