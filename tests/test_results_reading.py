"""What the leaderboard does with the run folders it is given: one configuration per row,
duplicates refused, k-fold folds kept apart from seeds, and every lost or damaged file
reported, the row marked incomplete and never out-ranked."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genrebench.cli import main
from genrebench.errors import ConfigError
from genrebench.reporting import leaderboard, stats

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib
from stats_fixtures import make_row, save_job

CONFIG = {"split": "stratified", "split_seed": 0, "profile": "quick"}
OFFICIAL = {"split": "official", "split_seed": 0, "profile": "quick"}


def job(root: Path, row, s: int, config=CONFIG, **fields) -> Path:
    folder = root / "runs" / row.key[0] / row.key[1] / row.key[2] / f"seed-{row.seeds[s]}"
    save_job(folder, row, s, config=config, **fields)
    return folder


def age(folder: Path, seconds: float) -> None:
    """Make a job's metrics.json look ``seconds`` older."""
    path = folder / "metrics.json"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - int(seconds * 1e9)))


# --------------------------------------------------------------------------- configurations
def test_a_stale_seed_of_another_configuration_is_left_out_and_reported(tmp_path):
    # A rerun into the same --out with another split and fewer seeds: seeds 0-1 new
    # (stratified, 60 tracks), seed 2 left from the earlier run (official, 40 tracks).
    new = make_row(n_seeds=2, n_tracks=60, key=("e", "d", "quick"))
    old = make_row(n_seeds=3, n_tracks=40, seed=9, key=("e", "d", "quick"))
    stale = job(tmp_path, old, 2, config=OFFICIAL, split="official")
    age(stale, 3600)
    for s in range(2):
        job(tmp_path, new, s, split="stratified")
    results = leaderboard.find_results([tmp_path / "runs"])
    board = leaderboard.build(results)
    [row] = board.to_dict("records")
    assert row["n_seeds"] == 2 and row["n_test_tracks"] == 60
    [text] = results.left_out
    assert "seed 2 (split official, 40 test tracks)" in text and str(stale) in text
    assert "seeds 0, 1 (split stratified, 60 test tracks)" in text
    assert "## Left out" in leaderboard.to_markdown(board) and str(stale) in (
        leaderboard.to_markdown(board)
    )


def test_the_same_seed_and_configuration_in_two_folders_is_refused_naming_both(tmp_path):
    row = make_row(n_seeds=1, key=("e", "d", "quick"))
    first = job(tmp_path / "a", row, 0)
    second = job(tmp_path / "b", row, 0)
    with pytest.raises(ConfigError) as refused:
        leaderboard.find_results([tmp_path / "a" / "runs", tmp_path / "b" / "runs"])
    assert str(first) in str(refused.value) and str(second) in str(refused.value)
    assert main(["leaderboard", str(tmp_path / "a"), str(tmp_path / "b"), "--out",
                 str(tmp_path / "board")]) == 2  # fmt: skip


def test_leaderboard_of_two_run_folders_never_averages_two_configurations(tmp_path, capsys):
    one = make_row(n_seeds=1, key=("e", "d", "quick"))
    two = make_row(n_seeds=2, seed=4, key=("e", "d", "quick"), y=one.y)
    older = job(tmp_path / "a", one, 0, config={**CONFIG, "calibration": "none"})
    age(older, 60)
    job(tmp_path / "b", two, 1)  # seed 1 of another configuration
    out = tmp_path / "board"
    assert main(["leaderboard", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: left out: e on d" in err and str(older) in err
    [record] = json.loads((out / "leaderboard.json").read_text())
    assert record["n_seeds"] == 1 and record["accuracy_std"] is None


def test_a_job_folder_copied_from_another_data_set_does_not_replace_a_seed(tmp_path):
    here = make_row(n_seeds=2, key=("e", "here", "quick"))
    there = make_row(n_seeds=2, seed=3, key=("e", "there", "quick"))
    for s in range(2):
        job(tmp_path, here, s)
        job(tmp_path, there, s)
    target = tmp_path / "runs" / "e" / "here" / "quick" / "seed-1"
    shutil.rmtree(target)
    shutil.copytree(tmp_path / "runs" / "e" / "there" / "quick" / "seed-1", target)
    results = leaderboard.find_results([tmp_path / "runs"])
    board = leaderboard.build(results).set_index("dataset")
    assert board.loc["there", "n_seeds"] == 2 and board.loc["here", "n_seeds"] == 1
    assert (
        "seed 1" in board.loc["here", "incomplete"]
        and str(target) in (board.loc["here", "incomplete"])
    )
    assert any(str(target) in text and "belongs to" in text for text in results.left_out)


# --------------------------------------------------------------------------- lost files
def two_rows(tmp_path):
    strong = make_row(n_seeds=2, skill=4.0, key=("strong", "d", "quick"))
    weak = make_row(n_seeds=2, skill=0.5, seed=2, key=("weak", "d", "quick"), y=strong.y)
    for row in (strong, weak):
        for s in range(2):
            job(tmp_path, row, s)
    return tmp_path / "runs" / "strong" / "d" / "quick"


def annotated(tmp_path):
    results = leaderboard.find_results([tmp_path / "runs"])
    return stats.annotate(leaderboard.build(results), results).set_index("experiment")


def test_complete_rows_are_ranked(tmp_path):
    two_rows(tmp_path)
    board = annotated(tmp_path)
    assert board.loc["strong", "significance"] == "best"
    assert board.loc["weak", "significance"] == "worse"
    assert (board["incomplete"] == "").all() and (board["ranking_note"] == "").all()


@pytest.mark.parametrize("damage", ["no predictions", "truncated predictions", "no metrics"])
def test_a_seed_that_lost_a_file_marks_its_row_incomplete_and_nothing_is_crowned(
    tmp_path, damage, capsys
):
    folder = two_rows(tmp_path) / "seed-1"
    predictions = folder / "predictions.csv"
    if damage == "no predictions":
        predictions.unlink()
        expected = "seed 1 has no predictions.csv"
    elif damage == "truncated predictions":
        predictions.write_bytes(predictions.read_bytes()[:900])
        expected = f"{predictions} line "
    else:
        (folder / "metrics.json").unlink()
        expected = f"seed 1's folder {folder} has no metrics.json"
    board = annotated(tmp_path)
    assert expected in board.loc["strong", "incomplete"]
    assert set(board["significance"]) == {""}  # the weak row is not crowned
    assert "strong is incomplete" in board.loc["weak", "ranking_note"]
    out = tmp_path / "board"
    assert main(["leaderboard", str(tmp_path / "runs"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: strong" in err and expected in err
    markdown = (out / "leaderboard.md").read_text()
    assert "`strong` (incomplete)" in markdown and expected in markdown
    csv = pd.read_csv(out / "leaderboard.csv").set_index("experiment")
    assert expected in csv.loc["strong", "incomplete"]
    assert "best" not in set(csv["significance"].dropna())


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("nan", "line 5: track 't003': probability nan (column 3) is not a number"),
        ("sum", "line 5: track 't003': probabilities sum to 2"),
        ("unknown track", "line 5: track 'nope' is not among the other seeds' test tracks"),
    ],
)
def test_damaged_predictions_are_reported_with_file_and_line_and_mark_the_row(
    tmp_path, damage, expected, capsys
):
    folder = two_rows(tmp_path) / "seed-1"
    path = folder / "predictions.csv"
    lines = path.read_text().splitlines()
    cells = lines[4].split(",")  # track t003
    if damage == "nan":
        cells[2] = "nan"
    elif damage == "sum":
        cells[2:] = ["0.4"] * len(cells[2:])
    else:
        cells[0] = "nope"
    lines[4] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    board = annotated(tmp_path)
    assert f"{path}" in board.loc["strong", "incomplete"]
    assert expected in board.loc["strong", "incomplete"]
    assert board.loc["strong", "interval_note"] == "intervals from seed 0 only"
    assert set(board["significance"]) == {""}
    assert main(["leaderboard", str(tmp_path / "runs"), "--out", str(tmp_path / "b")]) == 0
    assert expected in capsys.readouterr().err


def test_a_single_seed_with_a_foreign_track_id_is_caught_by_the_planned_tracks_checksum(
    tmp_path,
):
    from genrebench.run.stages import split_checksum

    row = make_row(n_seeds=1, key=("e", "d", "quick"))
    planned = {"sha256": split_checksum(row.track_ids), "n_tracks": len(row.track_ids)}
    folder = job(tmp_path, row, 0, evaluation_set=planned)
    path = folder / "predictions.csv"
    path.write_text(path.read_text().replace("t007,", "t999,"))
    board = annotated(tmp_path)
    assert "not the job's planned test tracks" in board.loc["e", "incomplete"]


# --------------------------------------------------------------------------- k-fold
def test_kfold_folds_are_never_seeds_and_the_pooled_result_carries_per_fold_scores(tmp_path):
    pooled = make_row(n_seeds=1, n_tracks=60, key=("e", "d", "quick"))
    fold_accuracy = [0.6, 0.75, 0.9]
    seed_folder = job(
        tmp_path,
        pooled,
        0,
        fold=None,
        folds=3,
        split="kfold(k=3)",
        fold_metrics=[{"fold": k, "accuracy": a} for k, a in enumerate(fold_accuracy)],
    )
    for k in range(3):  # each fold's own job, 20 tracks each
        part = make_row(n_seeds=1, n_tracks=20, seed=10 + k, key=("e", "d", "quick"))
        save_job(seed_folder / f"fold-{k}", part, 0, fold=k, folds=3, config=CONFIG)
    results = leaderboard.find_results([tmp_path / "runs"])
    board = leaderboard.build(results)
    [row] = board.to_dict("records")
    assert row["n_seeds"] == 1 and row["n_folds"] == 3 and row["incomplete"] == ""
    assert row["accuracy_folds"] == fold_accuracy
    out = tmp_path / "board"
    leaderboard.write(board, out)
    assert json.loads((out / "leaderboard.json").read_text())[0]["accuracy_folds"] == (
        fold_accuracy
    )
    assert json.loads(pd.read_csv(out / "leaderboard.csv")["accuracy_folds"][0]) == (fold_accuracy)
    loaded = stats.load_rows(results)
    [data] = loaded.rows.values()
    assert len(data.track_ids) == 60  # intervals and tests over every pooled track


def test_kfold_seed_without_all_its_folds_is_incomplete(tmp_path):
    pooled = make_row(n_seeds=1, n_tracks=60, key=("e", "d", "quick"))
    job(tmp_path, pooled, 0, folds=3, fold_metrics=[{"fold": 0, "accuracy": 0.5}])
    [row] = leaderboard.build(leaderboard.find_results([tmp_path / "runs"])).to_dict("records")
    assert row["incomplete"] == "seed 0 pooled 1 of 3 folds"


def test_fold_scores_fall_back_to_the_fold_results_found_beside_the_pooled_one(tmp_path):
    pooled = make_row(n_seeds=1, n_tracks=40, key=("e", "d", "quick"))
    seed_folder = job(tmp_path, pooled, 0, folds=2)
    for k in range(2):
        part = make_row(n_seeds=1, n_tracks=20, seed=10 + k, key=("e", "d", "quick"))
        save_job(seed_folder / f"fold-{k}", part, 0, fold=k, folds=2, config=CONFIG)
    results = leaderboard.find_results([tmp_path / "runs"])
    [row] = leaderboard.build(results).to_dict("records")
    expected = [
        f["metrics"]["accuracy"] for f in sorted(results.folds[next(iter(results.folds))],
                                                  key=lambda f: f["fold"])
    ]  # fmt: skip
    assert row["accuracy_folds"] == pytest.approx(expected, abs=1e-6)
    assert row["n_seeds"] == 1


def test_evaluation_set_of_runs_from_before_the_field_comes_from_their_provenance(tmp_path):
    row = make_row(n_seeds=1, key=("e", "d", "quick"))
    folder = job(tmp_path, row, 0)
    provenance = json.loads((folder / "provenance.json").read_text())
    provenance["split"] = {"test": 50, "sha256": {"test": "ab" * 32}}
    (folder / "provenance.json").write_text(json.dumps(provenance))
    [record] = leaderboard.build(leaderboard.find_results([tmp_path])).to_dict("records")
    assert record["evaluation_set"] == "ab" * 32 and record["n_test_tracks"] == 50
    assert np.isnan(
        leaderboard.build(
            [{**r, "job_dir": None} for r in leaderboard.find_results([tmp_path])]
        ).loc[0, "n_test_tracks"]
    )


def test_folds_without_their_pooled_result_are_reported_never_shown_as_seeds(tmp_path):
    pooled = make_row(n_seeds=2, n_tracks=40, key=("e", "d", "quick"))
    job(tmp_path, pooled, 0, folds=2, fold_metrics=[{"accuracy": 0.5}, {"accuracy": 0.7}])
    unfinished = tmp_path / "runs" / "e" / "d" / "quick" / "seed-1"
    part = make_row(n_seeds=1, n_tracks=20, seed=5, key=("e", "d", "quick"))
    part.seeds = [1]
    save_job(unfinished / "fold-0", part, 0, fold=0, folds=2, config=CONFIG)
    results = leaderboard.find_results([tmp_path / "runs"])
    [row] = leaderboard.build(results).to_dict("records")
    assert row["n_seeds"] == 1 and row["accuracy_folds"] == [0.5, 0.7]
    assert (
        f"seed 1 has 1 fold result(s) but no pooled result (in {unfinished}): its folds did "
        "not all finish" in row["incomplete"]
    )


def test_segment_predictions_repeat_a_track_but_track_predictions_may_not(tmp_path):
    """segment_predictions.csv holds one row per segment (a track's id repeats): reading
    it per segment accepts that, reading a per-track file refuses it naming the line."""
    from genrebench.results import outputs

    path = tmp_path / "segment_predictions.csv"
    y = np.array([0, 0, 1])
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    outputs.save_predictions(path, ["a", "a", "b"], y, probs, ["x", "y"], "single-label")
    ids, labels, read = outputs.read_predictions(path, ["x", "y"], "single-label", per_segment=True)
    assert ids == ["a", "a", "b"] and labels.tolist() == [0, 0, 1]
    np.testing.assert_array_equal(read, probs)
    with pytest.raises(outputs.PredictionsError, match=r"line 3: track 'a' appears twice"):
        outputs.read_predictions(path, ["x", "y"], "single-label")


def test_files_written_atomically_get_the_permissions_of_a_new_file(tmp_path):
    """mkstemp's 0600 once made every leaderboard file unreadable to the user's group."""
    from genrebench.results import outputs

    old = os.umask(0o022)
    try:
        outputs.write_atomic(tmp_path / "a.txt", lambda tmp: tmp.write_text("x"))
        with outputs.AtomicFiles() as files:
            files.write_text(tmp_path / "b.txt", "y")
    finally:
        os.umask(old)
    for name in ("a.txt", "b.txt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


def test_a_seed_ensemble_without_an_evaluation_set_takes_its_first_members(tmp_path):
    from genrebench.results import outputs

    for folder in ("seed-3", "seed-ensemble"):
        (tmp_path / folder).mkdir()
    outputs.write_json(
        tmp_path / "seed-3" / "provenance.json", {"split": {"test": 12, "sha256": {"test": "abc"}}}
    )
    ensemble = {
        "seed": "ensemble",
        "status": "failed",  # read from what the jobs recorded, never from predictions
        "ensemble": {"kind": "seeds", "seeds": [3, 4]},
        "job_dir": str(tmp_path / "seed-ensemble"),
    }
    assert leaderboard.evaluation_set(ensemble) == ("abc", 12)
    assert leaderboard.evaluation_set({**ensemble, "seed": 3}) is None


def test_configuration_without_provenance_tells_ensembles_apart_but_not_by_their_seeds():
    base = {"split": "stratified", "task": "single-label", "classes": ["a", "b"]}
    mean = {**base, "ensemble": {"kind": "members", "members": ["x", "y"], "rule": "mean"}}
    vote = {**base, "ensemble": {**mean["ensemble"], "rule": "vote"}}
    assert leaderboard.configuration(mean, {}) != leaderboard.configuration(vote, {})
    two = {**base, "ensemble": {"kind": "seeds", "seeds": [0, 1]}}
    three = {**base, "ensemble": {"kind": "seeds", "seeds": [0, 1, 2]}}
    assert leaderboard.configuration(two, {}) == leaderboard.configuration(three, {})
    assert leaderboard.configuration(two, {}) != leaderboard.configuration(base, {})


def test_a_job_folder_holding_another_rows_result_is_named_with_its_seed_and_fold(tmp_path):
    folder = tmp_path / "exp" / "other" / "seed-1"
    result = {"experiment": "exp", "dataset": "data", "profile": "quick", "seed": 1,
              "status": "ok", "job_dir": str(folder)}  # fmt: skip
    [text] = leaderboard.select([result]).left_out
    assert text == (
        f"left out: {folder} holds the result of exp on data (profile quick) seed 1, which "
        "belongs to another folder (a copied folder?)"
    )
    fold = {**result, "fold": 2, "job_dir": str(folder / "fold-2")}
    [text] = leaderboard.select([fold]).left_out
    assert text.endswith(
        "(profile quick) seed 1 fold 2, which belongs to another folder (a copied folder?)"
    )


def test_a_failed_attempt_of_another_configuration_for_a_finished_seed_is_reported():
    ok = {"experiment": "e", "dataset": "d", "profile": "q", "seed": 0, "status": "ok",
          "task": "single-label", "classes": ["a", "b"], "split": "stratified",
          "metrics": {}}  # fmt: skip
    failed = {**ok, "status": "failed", "split": "official"}
    chosen = leaderboard.select([ok, failed])
    assert list(chosen) == [ok]
    [text] = chosen.left_out
    assert text.startswith("left out: e on d (profile q): seed 0 (split official) ran with another")
