"""Bad input gets a clear message and exit code 2; ``list --json`` has its documented shape."""

from __future__ import annotations

import json

import pytest

from genrebench.cli import main
from genrebench.plugins import KINDS


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


def test_bad_split_ratios_are_explained(capsys, tmp_path):
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
    assert main(args) == 1  # the job fails with the reason; the run itself completes
    assert "sum to 1" in json.dumps([p.read_text() for p in tmp_path.rglob("metrics.json")])


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
