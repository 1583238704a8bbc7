"""Bad input that must neither crash a run nor be used silently: file names that are not
valid UTF-8, damaged feature-cache entries, truncated audio, and cache permissions."""

from __future__ import annotations

import json
import logging
import os
import stat
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrebench import FeatureSpec, Segments, Track
from genrebench.audio import header_truncation, load_audio, write_audio
from genrebench.datasets.loaders.base import check_audio_file
from genrebench.errors import AudioError
from genrebench.features.cache import FeatureCache
from genrebench.features.extract import extract_all
from genrebench.features.segments import cut

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib
from loader_fixtures import tone, truncate

SR = 8000
LATIN1_NAME = b"caf\xe9.wav"  # "café.wav" in Latin-1: not valid UTF-8


def latin1_path(folder: Path, name: bytes = LATIN1_NAME) -> Path:
    """A path whose name is not valid UTF-8 (Python holds it with surrogate escapes), or a
    skip where the file system refuses such names."""
    raw = os.path.join(os.fsencode(folder), name)
    try:
        with open(raw, "wb"):
            pass
    except OSError as exc:
        pytest.skip(f"the file system refuses non-UTF-8 names: {exc}")
    os.unlink(raw)
    return Path(os.fsdecode(raw))


def band_energies(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    return np.log1p(np.array([b.sum() for b in np.array_split(spectrum, 16)], np.float32))


BANDS = FeatureSpec("test/bands", band_energies, sample_rate=SR)


def make_tracks(folder: Path, n: int = 3) -> list[Track]:
    tracks = []
    for i in range(n):
        path = folder / f"t{i}.wav"
        write_audio(path, tone(0.5, SR, 300.0 + 200 * i), SR)
        tracks.append(Track(f"t{i}", path, ("x",)))
    return tracks


# --------------------------------------------------------------------------- item 6
def test_audio_with_a_non_utf8_file_name_is_written_and_decoded(tmp_path):
    path = latin1_path(tmp_path)
    assert "\udce9" in str(path)
    write_audio(path, tone(0.5, SR), SR)
    reference = tmp_path / "cafe.wav"
    write_audio(reference, tone(0.5, SR), SR)
    np.testing.assert_array_equal(load_audio(path, SR), load_audio(reference, SR))
    assert check_audio_file(path, "full") == (None, pytest.approx(0.5))
    assert not [p for p in os.listdir(os.fsencode(tmp_path)) if b".tmp" in p]


def test_segments_of_a_track_id_with_surrogate_escapes_are_seeded_like_any_other():
    framed = FeatureSpec("f", lambda a, sr: a, sample_rate=100, frames_per_second=10.0)
    seg = Segments(length_frames=5, train_count=3, test_count=3)
    array = np.arange(40, dtype=np.float32).reshape(1, 40)
    first, _ = cut([array], ["caf\udce9.wav"], seg, framed, 3, seed=1)
    again, _ = cut([array, array], ["other", "caf\udce9.wav"], seg, framed, 3, seed=1)
    np.testing.assert_array_equal(first, again[3:])


# --------------------------------------------------------------------------- item 7
@pytest.fixture
def cached(tmp_path):
    """Three tracks whose band energies are in a fresh cache: ``(tracks, cache, entries)``
    with ``entries[i]`` the cache file of track ``i``."""
    tracks = make_tracks(tmp_path / "audio")
    cache = FeatureCache(tmp_path / "cache")
    first = extract_all(BANDS, tracks, cache)
    assert first.computed == 3
    entries = [cache._path(cache.key(t.path, BANDS), BANDS) for t in tracks]
    assert all(e.is_file() for e in entries)
    return tracks, cache, entries


def bad_entries():
    good = band_energies(tone(0.5, SR, 300.0), SR)
    with_nan = good.copy()
    with_nan[3] = np.nan
    return {
        "zero bytes": b"",
        "garbled": b"\x93NUMPY garbage",
        "NaN": with_nan,
        "infinity": np.full(16, np.inf, np.float32),
        "float64": good.astype(np.float64),
        "wrong shape": np.zeros(20, np.float32),
    }


@pytest.mark.parametrize("damage", list(bad_entries()))
def test_a_bad_cache_entry_is_a_named_miss_and_is_repaired(cached, damage, caplog):
    tracks, cache, entries = cached
    good = np.load(entries[0])
    content = bad_entries()[damage]
    if isinstance(content, bytes):
        entries[0].write_bytes(content)
    else:
        np.save(entries[0], content)
    with caplog.at_level(logging.WARNING):
        again = extract_all(BANDS, tracks, cache)
    assert (again.cache_hits, again.computed, again.problems) == (2, 1, [])
    np.testing.assert_array_equal(again.arrays["t0"], good)
    np.testing.assert_array_equal(np.load(entries[0]), good)  # repaired on disk
    warning = next(r.getMessage() for r in caplog.records if "bad cache entry" in r.getMessage())
    assert str(entries[0]) in warning and str(tracks[0].path) in warning
    assert extract_all(BANDS, tracks, cache).cache_hits == 3


def test_cache_get_removes_a_bad_entry_and_counts_a_miss(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.put("ab" * 32, BANDS, np.ones(4, np.float32))
    path = cache._path("ab" * 32, BANDS)
    path.write_bytes(b"")
    assert cache.get("ab" * 32, BANDS) is None
    assert not path.exists() and (cache.hits, cache.misses) == (0, 1)
    cache.put("ab" * 32, BANDS, np.ones(4, np.float32))
    assert cache.get("ab" * 32, BANDS).tolist() == [1.0] * 4
    assert (cache.hits, cache.misses) == (1, 1)


def test_time_varying_arrays_may_differ_in_length_but_not_in_other_axes(tmp_path):
    frames = FeatureSpec(
        "test/frames", lambda a, sr: a[: len(a) // 80].reshape(1, -1), SR, frames_per_second=100
    )
    tracks = make_tracks(tmp_path / "audio")
    write_audio(tracks[2].path, tone(0.3, SR), SR)  # a shorter clip: fewer frames
    cache = FeatureCache(tmp_path / "cache")
    extract_all(frames, tracks, cache)
    again = extract_all(frames, tracks, cache)
    assert again.cache_hits == 3 and again.arrays["t2"].shape == (1, 30)
    np.save(cache._path(cache.key(tracks[1].path, frames), frames), np.zeros((2, 50), np.float32))
    third = extract_all(frames, tracks, cache)
    assert (third.cache_hits, third.computed) == (2, 1)
    assert third.arrays["t1"].shape == (1, 50)


def test_when_every_entry_is_cached_most_of_them_set_the_expected_shape(cached):
    tracks, cache, entries = cached
    np.save(entries[2], np.zeros(20, np.float32))
    again = extract_all(BANDS, tracks, cache)
    assert (again.cache_hits, again.computed) == (2, 1)
    assert again.arrays["t2"].shape == (16,)


# --------------------------------------------------------------------------- item 10
def wav_with_chunks(path: Path, data: bytes, declared: int | None = None) -> Path:
    """A 16-bit mono 8 kHz wav with a LIST chunk of odd size (padded) before its data."""
    fmt = struct.pack("<HHIIHH", 1, 1, SR, 2 * SR, 2, 16)
    info = b"INFOISFT\x03\x00\x00\x00ab\x00"  # 15 bytes: one pad byte follows
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"LIST" + struct.pack("<I", len(info)) + info + b"\x00"
    size = len(data) if declared is None else declared
    chunks += b"data" + struct.pack("<I", size) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


def pcm(seconds: float) -> bytes:
    return (tone(seconds, SR) * 32767).astype("<i2").tobytes()


def test_wav_header_with_more_data_than_the_file_holds_is_truncated(tmp_path):
    whole = wav_with_chunks(tmp_path / "whole.wav", pcm(1.0))
    assert header_truncation(whole) is None
    assert load_audio(whole, SR).shape == (SR,)
    cut_short = wav_with_chunks(tmp_path / "cut.wav", pcm(0.5), declared=2 * SR)
    assert sf.info(cut_short).frames == SR // 2  # libsndfile alone does not notice
    assert header_truncation(cut_short) == (
        f"truncated: header says {2 * SR} bytes of audio data, the file holds {SR} (50 %)"
    )
    with pytest.raises(AudioError, match=r"cut\.wav: truncated: header says 16000 bytes"):
        load_audio(cut_short, SR)
    for decode in ("header", "full"):
        reason, _ = check_audio_file(cut_short, decode)
        assert reason.startswith("truncated: header says 16000 bytes")


def test_open_ended_wav_headers_and_other_formats_are_not_called_truncated(tmp_path):
    for declared in (0, 0xFFFFFFFF):
        assert header_truncation(wav_with_chunks(tmp_path / "s.wav", pcm(0.1), declared)) is None
    (tmp_path / "x.bin").write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST")
    assert header_truncation(tmp_path / "x.bin") is None
    (tmp_path / "tiny.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    assert header_truncation(tmp_path / "tiny.wav") is None
    flac = tmp_path / "a.flac"
    write_audio(flac, tone(0.5, SR), SR)
    assert header_truncation(flac) is None


def test_truncated_au_and_big_endian_wav_are_found(tmp_path):
    au = tmp_path / "a.au"
    write_audio(au, tone(1.0, SR), SR)
    assert header_truncation(au) is None
    truncate(au, 0.5)
    assert header_truncation(au).startswith(f"truncated: header says {2 * SR} bytes")
    streamed = bytearray((tmp_path / "a.au").read_bytes())
    streamed[8:12] = b"\xff\xff\xff\xff"  # size unknown
    (tmp_path / "s.au").write_bytes(bytes(streamed))
    assert header_truncation(tmp_path / "s.au") is None
    rifx = tmp_path / "b.wav"
    sf.write(rifx, tone(1.0, SR), SR, subtype="PCM_16", endian="BIG")
    assert rifx.read_bytes()[:4] == b"RIFX" and header_truncation(rifx) is None
    truncate(rifx, 0.5)
    assert header_truncation(rifx).startswith(f"truncated: header says {2 * SR} bytes")


def test_truncated_mp3_is_an_audio_error_and_decoder_messages_name_the_file(tmp_path, caplog):
    path = tmp_path / "clip.mp3"
    sf.write(path, tone(3.0, 22050), 22050, format="MP3")
    assert load_audio(path, 22050).shape[0] == 3 * 22050
    truncate(path, 0.5)
    with caplog.at_level(logging.WARNING), pytest.raises(AudioError) as error:
        load_audio(path, 22050)
    assert str(error.value).startswith(f"{path}: truncated: header says 3.0 s, decodes to 1.")
    decoder = [r.getMessage() for r in caplog.records if "decoder:" in r.getMessage()]
    assert decoder and all(m.startswith(f"{path}: decoder: ") for m in decoder)
    assert len(decoder) == len(set(decoder))  # each line once per file
    reason, _ = check_audio_file(path, "full")
    assert reason.startswith("truncated: header says 3.0 s")


def test_warnings_of_a_feature_name_the_track_file(tmp_path, caplog):
    def noisy(audio, sample_rate):
        warnings.warn("n_fft=2048 is too large for input signal", UserWarning, stacklevel=1)
        return band_energies(audio, sample_rate)

    tracks = make_tracks(tmp_path, 2)
    spec = FeatureSpec("test/noisy", noisy, sample_rate=SR)
    with caplog.at_level(logging.WARNING):
        extract_all(spec, tracks, FeatureCache(None))
    messages = [r.getMessage() for r in caplog.records if "too large" in r.getMessage()]
    assert messages == [
        f"{t.path}: feature 'test/noisy': UserWarning: n_fft=2048 is too large for input signal"
        for t in tracks
    ]


# --------------------------------------------------------------------------- item 13
@pytest.mark.parametrize(("umask", "file_mode"), [(0o002, 0o664), (0o022, 0o644), (0o077, 0o600)])
def test_cache_files_are_created_with_the_users_umask(tmp_path, umask, file_mode):
    previous = os.umask(umask)
    try:
        FeatureCache(tmp_path / "c").put("cd" * 32, BANDS, np.ones(3, np.float32))
    finally:
        os.umask(previous)
    (entry,) = (tmp_path / "c").rglob("*.npy")
    assert stat.S_IMODE(entry.stat().st_mode) == file_mode
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o777 & ~umask


def make_folder_set(root: Path, per_class: int = 4) -> Path:
    """A ``folder`` data set of three tone classes at 8 kHz."""
    for label, freq in (("low", 220.0), ("mid", 880.0), ("high", 3000.0)):
        for i in range(per_class):
            write_audio(root / label / f"{label}{i}.wav", tone(0.5, SR, freq * (1 + i / 20)), SR)
    return root


def test_a_truncated_wav_is_skipped_and_reported_by_runs_and_data_check(tmp_path, capsys):
    from genrebench.cli import main

    data = make_folder_set(tmp_path / "data")
    truncate(data / "mid" / "mid1.wav", 0.5)
    args = ["run", "example/centroid", "--dataset", "folder", "--data-root", str(data)]
    assert main([*args, "--out", str(tmp_path / "out"), "--no-progress", "--no-cache"]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 unreadable track(s):\n  mid/mid1.wav: " in err
    assert "mid1.wav: truncated: header says 8000 bytes of audio data" in err
    assert main(["data", "check", "folder", "--data-root", str(data)]) == 1
    out = capsys.readouterr().out
    assert f"{data / 'mid' / 'mid1.wav'}: truncated: header says 8000 bytes" in out


def test_a_run_on_files_with_non_utf8_names_uses_them_and_writes_every_output(tmp_path):
    from genrebench.cli import main

    data = make_folder_set(tmp_path / "data")
    latin1_path(data)  # skips where the file system refuses such names
    raw = os.fsencode(data)
    for i in range(4):  # "mid" becomes "música" and its files "cafe<i>.wav", in Latin-1
        os.renames(
            os.path.join(raw, b"mid", f"mid{i}.wav".encode()),
            os.path.join(raw, b"m\xfasica", b"caf\xe9" + str(i).encode() + b".wav"),
        )
    out = tmp_path / "out"
    args = ["run", "example/centroid", "--dataset", "folder", "--data-root", str(data)]
    args += ["--split-ratios", "train=0.5,test=0.5", "--out", str(out), "--no-progress"]
    assert main([*args, "--cache-dir", str(tmp_path / "cache")]) == 0
    (folder,) = {p.parent for p in (out / "runs").rglob("metrics.json")}
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["status"] == "ok" and metrics["n_skipped_tracks"] == 0
    assert "m\udcfasica" in metrics["classes"]
    text = (folder / "predictions.csv").read_text(encoding="utf-8")  # valid UTF-8
    assert "p_m\\xfasica" in text.splitlines()[0]
    assert text.count("m\\xfasica/caf\\xe9") == 2  # half of the four "música" tracks
    leftovers = [p for p in os.listdir(os.fsencode(out)) if p.endswith(b".tmp")]
    assert leftovers == [] and not list(out.rglob("*.tmp"))
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.json"):
        (out / name).read_text(encoding="utf-8")


def test_reports_with_non_utf8_names_print_on_a_strict_stream(tmp_path, monkeypatch):
    import io

    from genrebench.cli import main

    data = make_folder_set(tmp_path / "data")
    path = latin1_path(data / "low")
    write_audio(path, tone(0.5, SR), SR)
    truncate(path, 0.5)
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["data", "check", "folder", "--data-root", str(data)]) == 1
    stdout.seek(0)
    assert "low/caf\\udce9.wav: truncated: header says" in stdout.read()


def test_leaderboard_files_are_written_when_an_error_names_a_non_utf8_file(tmp_path):
    from genrebench.reporting import leaderboard

    failed = {
        "experiment": "e",
        "dataset": "d",
        "profile": "quick",
        "seed": 0,
        "status": "failed",
        "error": "AudioError: /data/caf\udce9.wav: truncated",
    }
    paths = leaderboard.write(leaderboard.build([failed]), tmp_path)
    for path in paths:
        assert "caf\\xe9.wav: truncated" in path.read_text(encoding="utf-8").replace("\\\\", "\\")


def test_decoder_messages_of_mp3s_decoded_in_threads_name_their_own_file(tmp_path, caplog):
    from concurrent.futures import ThreadPoolExecutor

    paths = []
    for i in range(4):
        path = tmp_path / f"clip{i}.mp3"
        sf.write(path, tone(1.0, 22050, 300.0 + 100 * i), 22050, format="MP3")
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - 100])  # Xing size off by > 1 %: mpg123 says so
        paths.append(path)
    before = os.fstat(2)
    with caplog.at_level(logging.WARNING), ThreadPoolExecutor(2) as pool:
        decoded = list(pool.map(lambda p: load_audio(p, 22050), paths))
    assert all(len(a) > 0.8 * 22050 for a in decoded)
    decoder = [r.getMessage() for r in caplog.records if "decoder:" in r.getMessage()]
    assert sorted(m.split(": decoder: ")[0] for m in decoder) == [str(p) for p in paths]
    assert all("Xing stream size off" in m for m in decoder)
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)  # stderr restored


# --------------------------------------------------------------------------- items 8 and 9
def write_manifest(folder: Path, text: str | bytes) -> Path:
    for name in ("a.wav", "b.wav", "c.wav", "d.wav"):
        write_audio(folder / name, tone(0.3, SR), SR)
    path = folder / "manifest.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_a_manifest_row_with_an_unquoted_comma_is_refused_naming_file_and_line(tmp_path):
    from genrebench.datasets.loaders import manifest
    from genrebench.errors import DataRootError

    load = manifest.make_load(manifest.NAME, multi=False)
    path = write_manifest(tmp_path, "path,label\na.wav,jazz\nb.wav,rock,pop\nc.wav,rock\n")
    with pytest.raises(DataRootError) as error:
        load(tmp_path, {})
    assert str(error.value) == (
        f"{path}:3: 3 fields, but the header has 2 (path,label); quote a value that holds a "
        'comma ("rock,pop")'
    )
    # Quoted, the comma is part of the label; empty trailing fields (spreadsheets) are fine.
    write_manifest(tmp_path, 'path,label\na.wav,jazz,\n"b.wav","rock,pop"\n\nc.wav,jazz\n')
    ds = load(tmp_path, {})
    assert ds.classes == ["jazz", "rock,pop"] and len(ds.tracks) == 3
    assert ds.track("b.wav").labels == ("rock,pop",)


def test_a_split_file_row_with_extra_fields_is_refused(tmp_path):
    from genrebench.datasets.loaders import folder
    from genrebench.errors import DataRootError

    path = tmp_path / "split.csv"
    path.write_text("path,split\nrock/a.wav,train\nrock/b.wav,test,valid\n")
    with pytest.raises(DataRootError, match=r"split\.csv:3: 3 fields, but the header has 2"):
        folder.read_split_file(path)


def cli(args, capsys) -> tuple[int, str]:
    from genrebench.cli import main

    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_latin1_manifest_is_a_clear_error(tmp_path, capsys):
    path = write_manifest(tmp_path, "path,label\na.wav,jazz\nb.wav,música\n".encode("latin-1"))
    root = ["--data-root", str(tmp_path)]
    run = ["run", "example/centroid", "--dataset", "manifest", *root, "--out", str(tmp_path)]
    for args in (["data", "check", "manifest", *root], run):
        code, output = cli(args, capsys)
        assert code == 2 and "Traceback" not in output
        assert f"{path}:3: not UTF-8 text (byte 0xfa); save the file as UTF-8" in output


def test_a_manifest_data_root_that_is_an_audio_file_is_a_clear_error(tmp_path, capsys):
    write_manifest(tmp_path, "path,label\na.wav,jazz\n")
    code, output = cli(
        ["data", "check", "manifest", "--data-root", str(tmp_path / "a.wav")], capsys
    )
    assert code == 2 and "Traceback" not in output
    assert f"{tmp_path / 'a.wav'} is an audio file; the data root is the CSV" in output
    assert "Expected layout:" in output


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[]", "expected a JSON object, found list"),
        ('{"accuracy": 0.5}', "no 'experiment'"),
        ('{"experiment": "e", "dataset": "d", "profile": "p", "seed": "0", "status": "ok"}',
         "'seed' is '0', expected int"),
        ('{"experiment": "e", "dataset": "d", "profile": "p", "seed": 0, "status": "ok"}',
         "status 'ok' without a 'task'"),
        ('{"experiment": "e", "dataset": "d", "profile": "p", "seed": 0, "status": "ok", '
         '"task": "single-label"}', "status 'ok' without 'metrics'"),
        ('{"experiment": "e", "dataset": "d", "profile": "p", "seed": 0, "status": "ok", '
         '"task": "single-label", "metrics": {"accuracy": "high"}}',
         "metrics 'accuracy' is 'high', expected a number or null"),
        ('{"experiment": "e", "dataset": "d", "profile": "p", "seed": 0, "status": "ok", '
         '"task": "single-label", "metrics": {}, "cost": [1]}',
         "'cost' is [1], expected an object of numbers"),
    ],
)  # fmt: skip
def test_a_metrics_json_of_the_wrong_shape_is_a_clear_leaderboard_error(
    tmp_path, capsys, content, problem
):
    path = tmp_path / "runs" / "x" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    code, output = cli(["leaderboard", str(tmp_path / "runs"), "--out", str(tmp_path)], capsys)
    assert code == 2 and "Traceback" not in output
    assert f"{path} is not a job's metrics.json: {problem}" in output


def test_streamed_extraction_checks_and_repairs_entries_too(cached):
    from genrebench.features.lazy import CachedArray

    tracks, cache, entries = cached
    good = np.load(entries[1])
    np.save(entries[1], np.zeros(20, np.float32))
    entries[2].write_bytes(b"")
    again = extract_all(BANDS, tracks, cache, in_memory=False)
    assert (again.cache_hits, again.computed) == (1, 2)
    assert all(isinstance(a, CachedArray) for a in again.arrays.values())
    np.testing.assert_array_equal(np.asarray(again.arrays["t1"][:]), good)
