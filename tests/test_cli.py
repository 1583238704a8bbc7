"""Bad input gets a clear message and exit code 2; ``list --json`` has its documented shape."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from genrebench.cli import main
from genrebench.registry.loading import KINDS


def test_list_json_has_every_kind_with_name_and_plugin(capsys):
    assert main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert set(listing) == set(KINDS)
    for kind in ("datasets", "features", "models", "metrics", "experiments"):
        assert listing[kind]
    for items in listing.values():
        assert all({"name", "plugin"} <= set(i) for i in items)
    assert {"name": "example/centroid", "plugin": "example"}.items() <= next(
        i for i in listing["experiments"] if i["name"] == "example/centroid"
    ).items()


def test_list_text_shows_every_experiment(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "reference/logreg" in out and "example/centroid" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "reference/logrgr"], "Did you mean 'reference/logreg'"),
        (["run", "reference/logreg", "--dataset", "synthetic-genre"], "unknown dataset"),
        (["run", "--data-root", "/tmp"], "--data-root needs --dataset"),
    ],
)
def test_unknown_names_and_inconsistent_options_exit_2(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--seeds", "0"],
        ["run", "--seeds", "two"],
        ["run", "--profile", "slow", "--dataset", "example-tones"],
        ["run", "--jobs", "-1"],
        ["run", "--device", "tpu"],
        ["run", "--dataset-option", "novalue"],
        ["run", "--split-ratios", "train=a"],
        ["frobnicate"],
    ],
)
def test_invalid_option_values_exit_2(args, capsys):
    assert main(args) == 2
    assert "error" in capsys.readouterr().err


def test_bad_split_ratios_are_explained_before_any_work(capsys, tmp_path):
    args = [
        "run",
        "example/centroid",
        "--dataset",
        "example-tones",
        "--split",
        "stratified",
        "--split-ratios",
        "train=0.9,test=0.5",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 2
    assert "sum to 1" in capsys.readouterr().err
    assert not list(tmp_path.rglob("metrics.json"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--split-ratios", "train=0.9,test=0.5"], "sum to 1"),
        (["--split-ratios", "train=1.0"], "train and test above 0"),
        (["--split-ratios", "train=0.5,tset=0.5"], "must name parts among"),
        (["--split", "official", "--split-ratios", "train=0.5,test=0.5"], "--split stratified"),
        # Valid ratios that leave one part empty on this data set (6 tracks per class).
        (["--split", "stratified", "--split-ratios", "train=0.99,test=0.01"], "0 test tracks"),
    ],
)
def test_options_are_checked_before_any_work_and_leave_earlier_results(
    options, message, capsys, tmp_path
):
    base = ["run", "example/centroid", "--dataset", "example-tones", "--out", str(tmp_path)]
    assert main([*base, "--no-progress"]) == 0
    [metrics] = tmp_path.rglob("metrics.json")
    before = metrics.read_text()
    capsys.readouterr()
    assert main([*base, *options]) == 2
    assert message in capsys.readouterr().err
    assert metrics.read_text() == before


def folder_dataset(root, counts):
    """A ``folder`` data set: ``counts[label]`` short tone files per label."""
    import numpy as np

    from genrebench.audio import write_audio

    for n, (label, count) in enumerate(counts.items()):
        (root / label).mkdir(parents=True)
        for i in range(count):
            t = np.arange(4000) / 8000
            tone = 0.3 * np.sin(2 * np.pi * (220 * (n + 1) + 10 * i) * t)
            write_audio(root / label / f"{i}.wav", tone, 8000)
    return root


def test_a_data_set_with_a_single_class_is_refused_before_any_extraction(capsys, tmp_path):
    data = folder_dataset(tmp_path / "data", {"rock": 4})
    cache = tmp_path / "cache"
    args = ["run", "example/centroid", "--dataset", "folder", "--data-root", str(data)]
    assert main([*args, "--cache-dir", str(cache), "--out", str(tmp_path / "out")]) == 2
    assert "has 1 class(es) (rock): classification needs at least two" in capsys.readouterr().err
    assert not cache.exists() or not any(cache.rglob("*.npy"))
    assert not (tmp_path / "out" / "runs").exists()


def test_a_class_with_fewer_tracks_than_split_parts_gets_a_note(capsys, tmp_path):
    data = folder_dataset(tmp_path / "data", {"rock": 8, "pop": 8, "jazz": 2})
    args = ["run", "example/centroid", "--dataset", "folder", "--data-root", str(data)]
    args += ["--split-ratios", "train=0.5,valid=0.25,test=0.25", "--out", str(tmp_path / "o")]
    assert main([*args, "--no-progress"]) == 0
    err = capsys.readouterr().err
    note = next(line for line in err.splitlines() if "fewer tracks than" in line)
    assert "'jazz' (2)" in note and "'rock'" not in note and "3 parts" in note
    assert main([*args, "--no-progress"]) == 0  # reused, and still said
    assert "'jazz' (2)" in capsys.readouterr().err


def test_task_mismatch_between_named_experiment_and_dataset_exits_2(capsys):
    assert main(["run", "example/centroid", "--dataset", "synthetic-genres-multilabel"]) == 2
    assert "task type" in capsys.readouterr().err


def test_missing_data_root_shows_the_expected_layout(tmp_path, capsys):
    args = ["run", "reference/logreg", "--dataset", "gtzan", "--data-root", str(tmp_path / "nope")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "genres" in err and "blues" in err  # the layout it expected
    (tmp_path / "wrong").mkdir()
    (tmp_path / "wrong" / "notes.txt").write_text("not gtzan")
    args[-1] = str(tmp_path / "wrong")
    assert main(args) == 2
    assert "notes.txt" in capsys.readouterr().err  # and what it found instead


def test_a_reader_that_stops_reading_ends_the_command_quietly():
    """``genrebench list | head -1``: the pipe closes before the listing is written; the
    command ends with 141 (as a shell reports SIGPIPE) and no traceback."""
    command = [sys.executable, "-m", "genrebench.cli", "list"]
    listing = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    listing.stdout.close()  # the reader is gone before the first line
    _, stderr = listing.communicate(timeout=120)
    assert listing.returncode == 141, stderr.decode()
    assert b"Traceback" not in stderr and b"BrokenPipeError" not in stderr, stderr.decode()
