"""The leaderboard built from per-seed results: means and sample standard deviations, row
status, column and row order, the empty board, and the Markdown cells."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genrebench.reporting import leaderboard


def result(
    experiment: str,
    seed: int,
    *,
    dataset: str = "d",
    profile: str = "quick",
    status: str = "ok",
    task: str = "single-label",
    cost: dict | None = None,
    protocol: str = "benchmark",
    split: str = "stratified",
    tracks: tuple[str, int] = ("set-1", 40),
    **metrics: float | None,
) -> dict:
    """A job's result as its metrics.json holds it (``tracks``: its evaluation set's
    checksum and size)."""
    where = {
        "protocol": protocol,
        "split": split,
        "evaluation_set": {"sha256": tracks[0], "n_tracks": tracks[1]},
    }
    if status != "ok":
        return {
            "experiment": experiment,
            "dataset": dataset,
            "profile": profile,
            "seed": seed,
            "status": status,
            "error": f"RuntimeError: {experiment} seed {seed} broke",
            "protocol": protocol,
        }
    return {
        "experiment": experiment,
        "dataset": dataset,
        "profile": profile,
        "seed": seed,
        "status": "ok",
        "task": task,
        "metrics": metrics,
        "cost": cost or {},
        **where,
    }


def test_means_and_sample_standard_deviations_over_three_seeds():
    accuracy = [0.5, 0.6, 0.9]
    f1 = [0.4, 0.45, 0.8]
    train = [1.0, 2.0, 6.0]
    board = leaderboard.build(
        result("e", s, accuracy=a, f1_macro=f, cost={"train_seconds": t, "n_parameters": 10})
        for s, (a, f, t) in enumerate(zip(accuracy, f1, train, strict=True))
    )
    (row,) = board.to_dict("records")
    assert row["n_seeds"] == 3 and row["n_failed"] == 0 and row["status"] == "ok"
    assert row["accuracy"] == pytest.approx(np.mean(accuracy), abs=1e-12)
    assert row["accuracy_std"] == pytest.approx(np.std(accuracy, ddof=1), abs=1e-12)
    assert row["accuracy_std"] == pytest.approx(0.2081666, abs=1e-6)  # not ddof=0 (0.17)
    assert row["f1_macro"] == pytest.approx(np.mean(f1)) and row["f1_macro_std"] > 0
    assert row["train_seconds"] == pytest.approx(3.0)
    assert row["train_seconds_std"] == pytest.approx(np.std(train, ddof=1))
    assert row["n_parameters"] == 10 and row["n_parameters_std"] == 0
    assert row["error"] == ""


def test_one_seed_has_no_deviation_and_missing_values_are_left_out():
    board = leaderboard.build(
        [
            result("a", 0, accuracy=0.5, roc_auc=float("nan"), extra=None),
            result("b", 0, accuracy=0.7, roc_auc=0.6),
            result("b", 1, accuracy=0.9, roc_auc=float("nan")),
        ]
    )
    rows = board.set_index("experiment")
    assert math.isnan(rows.loc["a", "accuracy_std"]) and rows.loc["a", "accuracy"] == 0.5
    assert math.isnan(rows.loc["a", "roc_auc"])  # NaN in every seed: NaN, not an error
    assert rows.loc["b", "roc_auc"] == pytest.approx(0.6)  # NaN seeds are skipped
    assert rows.loc["b", "accuracy"] == pytest.approx(0.8)
    assert "extra" not in board  # a metric that is None everywhere makes no column
    for name in ("hamming_loss", "ece", "f1_macro"):  # main columns always exist
        assert board[name].isna().all()


def test_a_rerun_seed_replaces_the_earlier_result():
    board = leaderboard.build([result("e", 0, accuracy=0.1), result("e", 0, accuracy=0.7)])
    assert board.loc[0, "accuracy"] == 0.7 and board.loc[0, "n_seeds"] == 1


def test_status_counts_and_error_of_failed_seeds():
    board = leaderboard.build(
        [
            result("all-ok", 0, accuracy=0.5),
            result("partly", 0, accuracy=0.6),
            result("partly", 1, status="failed"),
            result("partly", 2, status="failed"),
            result("broken", 0, status="failed"),
        ]
    ).set_index("experiment")
    assert board.loc["all-ok", ["status", "n_seeds", "n_failed", "error"]].tolist() == [
        "ok",
        1,
        0,
        "",
    ]
    assert board.loc["partly", ["status", "n_seeds", "n_failed"]].tolist() == [
        "partly failed",
        1,
        2,
    ]
    assert board.loc["partly", "error"] == "RuntimeError: partly seed 1 broke"
    assert board.loc["broken", ["status", "task", "n_seeds", "n_failed"]].tolist() == [
        "failed",
        "",
        0,
        1,
    ]
    assert math.isnan(board.loc["broken", "accuracy"])


def test_rows_sort_by_dataset_profile_then_best_accuracy_then_name():
    board = leaderboard.build(
        [
            result("z", 0, dataset="b", accuracy=0.9),
            result("m", 0, dataset="a", profile="quick", accuracy=0.5),
            result("c", 0, dataset="a", profile="quick", accuracy=0.8),
            result("b", 0, dataset="a", profile="quick", accuracy=0.5),
            result("n", 0, dataset="a", profile="quick", status="failed"),
            result("y", 0, dataset="a", profile="paper", accuracy=0.1),
        ]
    )
    keys = board[["dataset", "profile", "experiment"]].apply(tuple, axis=1).tolist()
    assert keys == [
        ("a", "paper", "y"),
        ("a", "quick", "c"),
        ("a", "quick", "b"),  # equal accuracy: by name
        ("a", "quick", "m"),
        ("a", "quick", "n"),  # no accuracy: last
        ("b", "quick", "z"),
    ]
    assert list(board.index) == list(range(6))


def test_columns_come_in_a_fixed_order():
    board = leaderboard.build(
        [
            result(
                "e",
                s,
                accuracy=0.5 + s / 10,
                zeta=1.0,
                alpha=2.0,
                f1_macro=0.3,
                cost={"train_seconds": 1.0, "inference_seconds_per_track": 0.002},
            )
            for s in range(2)
        ]
    )
    assert list(board.columns) == [
        "experiment", "dataset", "profile", "section", "protocol", "split", "n_test_tracks",
        "evaluation_set", "task", "status", "incomplete", "n_seeds", "n_failed",
        "accuracy", "accuracy_std", "f1_macro", "f1_macro_std", "roc_auc", "hamming_loss",
        "ece", "alpha", "alpha_std", "zeta", "zeta_std", "train_seconds",
        "train_seconds_std", "inference_seconds_per_track", "inference_seconds_per_track_std",
        "ensemble_of", "configuration", "error", "metric_errors",
    ]  # fmt: skip


def test_an_empty_build_has_the_main_columns_and_says_no_results():
    board = leaderboard.build([])
    assert board.empty
    assert list(board.columns) == [
        "section", "experiment", "dataset", "profile", "protocol", "split", "n_test_tracks",
        "evaluation_set", "task", "status", "accuracy", "f1_macro", "roc_auc", "hamming_loss",
        "ece",
    ]  # fmt: skip
    assert leaderboard.to_markdown(board) == "# genrebench leaderboard\n\nNo results.\n"


def markdown_rows(text: str) -> dict[str, list[str]]:
    """``{experiment: cells}`` of the table rows in ``text`` (plus ``"header"``)."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| "):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows["header" if cells[0] == "experiment" else cells[0].strip("`")] = cells
    return rows


def test_markdown_cells_show_mean_std_dashes_costs_and_failures():
    cost = {"train_seconds": 12.34, "inference_seconds_per_track": 0.0015, "n_parameters": 12345}
    board = leaderboard.build(
        [
            result("two-seeds", 0, accuracy=0.5, f1_macro=0.25, roc_auc=0.75, cost=cost),
            result("two-seeds", 1, accuracy=0.7, f1_macro=0.35, roc_auc=0.85, cost=cost),
            result("one-seed", 0, accuracy=0.55, f1_macro=0.3, roc_auc=float("nan")),
            result("one-seed", 1, status="failed"),
            result("broken", 0, status="failed"),
        ]
    )
    text = leaderboard.to_markdown(board)
    assert text.startswith(
        "# genrebench leaderboard\n\nEach section holds the rows evaluated on one set of test "
        "tracks"
    )
    assert "mean over seeds. `±`: the standard deviation over seeds." in text
    assert (
        "## d · profile quick · benchmark protocol · stratified · 40 test tracks (single-label)"
        in text
    )
    rows = markdown_rows(text)
    assert rows["header"] == [
        "experiment", "accuracy", "f1_macro", "roc_auc",
        "train s", "infer ms/track", "params", "seeds",
    ]  # fmt: skip
    assert rows["two-seeds"] == [
        "`two-seeds`",
        "0.600 ± 0.141",
        "0.300 ± 0.071",
        "0.800 ± 0.071",
        "12.3",
        "1.50",
        "12,345",
        "2",
    ]
    assert rows["one-seed"] == ["`one-seed`", "0.550", "0.300", "–", "–", "–", "–", "1 (1 failed)"]
    assert rows["broken"] == [
        "`broken`",
        "**failed**: RuntimeError: broken seed 0 broke",
        "",
        "",
        "",
        "",
        "",
        "",
    ]
    order = [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| `")]
    assert order == ["| `two-seeds`", "| `one-seed`", "| `broken`"]


def test_markdown_sections_per_data_set_and_profile_with_multilabel_titles():
    board = leaderboard.build(
        [
            result("e", 0, dataset="tags", task="multi-label", accuracy=0.2, label_accuracy=0.9),
            result("e", 0, dataset="genres", accuracy=0.5),
            result("e", 0, dataset="genres", profile="paper", accuracy=0.6),
        ]
    )
    text = leaderboard.to_markdown(board)
    titles = [line for line in text.splitlines() if line.startswith("## ")]
    assert titles == [
        "## genres · profile paper · benchmark protocol · stratified · 40 test tracks "
        "(single-label)",
        "## genres · profile quick · benchmark protocol · stratified · 40 test tracks "
        "(single-label)",
        "## tags · profile quick · benchmark protocol · stratified · 40 test tracks (multi-label)",
    ]
    tags = text.split("## tags")[1]
    assert markdown_rows(tags)["header"][:3] == ["experiment", "subset accuracy", "label_accuracy"]
    assert "| `e` | 0.200 | 0.900 |" in tags
    assert "subset accuracy" not in text.split("## tags")[0]


def test_written_files_hold_the_same_rows(tmp_path):
    board = leaderboard.build([result("e", s, accuracy=0.5 + s / 4) for s in range(2)])
    md, csv, js = leaderboard.write(board, tmp_path / "out")
    assert [p.name for p in (md, csv, js)] == [
        "leaderboard.md",
        "leaderboard.csv",
        "leaderboard.json",
    ]
    assert md.read_text() == leaderboard.to_markdown(board)
    from_csv = pd.read_csv(csv)
    assert from_csv.loc[0, "accuracy"] == pytest.approx(0.625)
    records = json.loads(js.read_text())
    assert records[0]["accuracy_std"] == pytest.approx(np.std([0.5, 0.75], ddof=1), abs=1e-6)
    assert records[0]["roc_auc"] is None  # NaN becomes null


def test_ensemble_rows_say_what_they_combine():
    seeds = {**result("e (seed ensemble)", 0, accuracy=0.8), "seed": "ensemble"}
    seeds["ensemble"] = {"kind": "seeds", "seeds": [0, 1, 2]}
    members = result("ab", 0, accuracy=0.7)
    members["ensemble"] = {"kind": "members", "members": ["a", "b"], "rule": "mean"}
    board = leaderboard.build([seeds, members, result("e", 0, accuracy=0.6)])
    rows = board.set_index("experiment")
    assert rows.loc["e (seed ensemble)", "ensemble_of"] == "seeds 0,1,2"
    assert rows.loc["ab", "ensemble_of"] == "a + b (mean)"
    assert rows.loc["e", "ensemble_of"] == ""
    cells = markdown_rows(leaderboard.to_markdown(board))
    assert cells["e (seed ensemble)"][-1] == "ensemble of 3"
    assert cells["ab"][-1] == "1" and cells["e"][-1] == "1"


def test_a_failure_reason_is_kept_to_one_table_cell():
    broken = result("broken", 0, status="failed")
    broken["error"] = "ValueError: a|b " + "x" * 200
    cells = markdown_rows(leaderboard.to_markdown(leaderboard.build([broken])))["broken"]
    assert cells[1] == "**failed**: " + ("ValueError: a/b " + "x" * 200)[:120]


@pytest.mark.parametrize(
    ("low", "high", "text"),
    [
        (0.0066, 0.0712, "[0.00, 0.08]"),  # 0.007 [0.01, 0.07] would look like a miss
        (0.70, 0.84, "[0.70, 0.84]"),  # exact hundredths stay as they are
        (0.123, 0.9999, "[0.12, 1.00]"),
    ],
)
def test_interval_bounds_are_rounded_outwards(low, high, text):
    assert leaderboard.interval_text(low, high) == text


def test_compared_rows_get_a_vs_best_column_bold_accuracy_intervals_and_a_legend():
    board = leaderboard.build(
        [
            result("a", 0, accuracy=0.9, temperature=1.5),
            result("b", 0, accuracy=0.8, temperature=2.0),
            result("c", 0, accuracy=0.5, temperature=1.25),
        ]
    )
    # the columns genrebench.reporting.stats.annotate adds (rows are sorted by accuracy: a, b, c)
    board["accuracy_ci_low"] = [0.85, 0.7, 0.4]
    board["accuracy_ci_high"] = [0.95, 0.9, 0.6]
    board["significance"] = ["best", "tied", "worse"]
    board["comparison_group"] = [1.0, 1.0, 1.0]
    board["p_vs_best_holm"] = [math.nan, 0.25, 0.0004]
    text = leaderboard.to_markdown(board)
    rows = markdown_rows(text)
    assert rows["header"] == [
        "experiment", "vs best", "accuracy", "T", "train s", "infer ms/track", "params", "seeds",
    ]  # fmt: skip
    assert rows["a"] == ["`a`", "best", "**0.900 [0.85, 0.95]**", "1.500", "–", "–", "–", "1"]
    assert rows["b"] == [
        "`b`",
        "≈ (p=0.250)",
        "**0.800 [0.70, 0.90]**",
        "2.000",
        "–",
        "–",
        "–",
        "1",
    ]
    assert rows["c"] == ["`c`", "p<0.001", "0.500 [0.40, 0.60]", "1.250", "–", "–", "–", "1"]
    legend = leaderboard.legend(board)
    assert len(legend) == 2
    assert (
        "bootstrap interval over test tracks and seeds (bounds rounded outwards, clipped"
        in (legend[0])
    )
    assert legend[1].startswith("**vs best**: the rows of a section are compared with its most")
    assert "letters" not in " ".join(legend)
    assert text.startswith("# genrebench leaderboard\n\n" + "\n\n".join(legend) + "\n\n## d")
    plain = board.drop(columns=["significance", "comparison_group", "p_vs_best_holm"])
    assert markdown_rows(leaderboard.to_markdown(plain))["a"][1:3] == [
        "0.900 [0.85, 0.95]",
        "1.500",
    ]
    assert len(leaderboard.legend(plain)) == 1


def test_rows_on_other_test_tracks_go_to_their_own_section_named_by_protocol_split_tracks():
    board = leaderboard.build(
        [
            result("a", 0, accuracy=0.9),
            result("b", 0, accuracy=0.8),
            result("b", 1, accuracy=0.6),
            result("p", 0, accuracy=0.95, protocol="paper", split="75/25", tracks=("set-2", 30)),
            result("q", 0, accuracy=0.5, tracks=("set-3", 20)),
        ]
    )
    sections = board.groupby("section", sort=False)["experiment"].apply(list).to_dict()
    assert sections == {
        "d · profile quick · benchmark protocol · stratified · 40 test tracks": ["a", "b"],
        "d · profile quick · benchmark protocol · stratified · 20 test tracks": ["q"],
        "d · profile quick · paper protocol · 75/25 · 30 test tracks": ["p"],
    }
    for _, part in board.groupby("section"):
        assert part["evaluation_set"].nunique() == 1  # one set of test tracks per section
    row = board.set_index("experiment").loc["p"]
    assert (row["protocol"], row["split"], row["n_test_tracks"]) == ("paper", "75/25", 30)
    assert row["evaluation_set"] == "set-2" and row["incomplete"] == ""
    text = leaderboard.to_markdown(board)
    titles = [line.removeprefix("## ") for line in text.splitlines() if line.startswith("## ")]
    assert titles == [f"{label} (single-label)" for label in sections]
    # the paper row, the most accurate of all, is in its own table, never ranked with a
    board["significance"] = ["best", "tied", "", ""]  # as stats.annotate marks them
    board["p_vs_best_holm"] = [math.nan, 0.25, math.nan, math.nan]
    rows = markdown_rows(leaderboard.to_markdown(board))
    assert [rows[name][1] for name in "abqp"] == ["best", "≈ (p=0.250)", "–", "–"]


def test_two_sections_that_would_read_the_same_are_told_apart_by_their_checksum():
    board = leaderboard.build(
        [
            result("a", 0, accuracy=0.9, tracks=("0123456789abcdef", 40)),
            result("b", 0, accuracy=0.8, tracks=("fedcba9876543210", 40)),
        ]
    )
    assert sorted(board["section"]) == [
        "d · profile quick · benchmark protocol · stratified · 40 test tracks · test set 01234567",
        "d · profile quick · benchmark protocol · stratified · 40 test tracks · test set fedcba98",
    ]


def test_the_three_files_are_written_as_a_set_all_old_when_the_disk_fills(tmp_path, monkeypatch):
    out = tmp_path / "out"
    old = leaderboard.write(leaderboard.build([result("old", 0, accuracy=0.5)]), out)
    before = {p.name: p.read_bytes() for p in old}
    new = leaderboard.build([result("new", 0, accuracy=0.9)])

    def full_disk(self, path, *args, **kwargs):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("experiment,dataset,pro")  # half a row, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    with pytest.raises(OSError, match="No space"):
        leaderboard.write(new, out)
    assert {p.name: p.read_bytes() for p in old} == before  # all old, .md included
    assert sorted(p.name for p in out.iterdir()) == sorted(before)  # no temporary file left
    monkeypatch.undo()
    leaderboard.write(new, out)
    assert all(b"new" in (out / name).read_bytes() for name in before)


def test_a_file_set_moves_every_file_into_place_only_when_all_were_written(tmp_path):
    from genrebench.results.outputs import AtomicFiles

    (tmp_path / "a.txt").write_text("old a")
    with pytest.raises(RuntimeError), AtomicFiles() as files:
        files.write_text(tmp_path / "a.txt", "new a")
        files.write_bytes(tmp_path / "sub" / "b.png", b"new b")
        raise RuntimeError("rendering the report failed")
    assert (tmp_path / "a.txt").read_text() == "old a" and not (tmp_path / "sub" / "b.png").exists()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.txt"]
    with AtomicFiles() as files:
        files.write_text(tmp_path / "a.txt", "new a")
        files.write_bytes(tmp_path / "sub" / "b.png", b"new b")
        assert (tmp_path / "a.txt").read_text() == "old a"  # nothing moved before the end
    assert (tmp_path / "a.txt").read_text() == "new a"
    assert (tmp_path / "sub" / "b.png").read_bytes() == b"new b"


COMMITTED = Path(__file__).resolve().parents[1] / "leaderboards"


@pytest.mark.parametrize(
    "board", sorted(p.parent.name for p in COMMITTED.glob("*/leaderboard.json")) or ["main"]
)
def test_each_section_of_a_committed_leaderboard_holds_one_test_track_set(board):
    folder = COMMITTED / board
    records = json.loads((folder / "leaderboard.json").read_text(encoding="utf-8"))
    csv = pd.read_csv(folder / "leaderboard.csv", dtype=str, keep_default_na=False)
    for name, rows in (("leaderboard.json", records), ("leaderboard.csv", csv.to_dict("records"))):
        missing = sorted({"section", "evaluation_set"} - set(rows[0]))
        assert not missing, (
            f"leaderboards/{board}/{name} has no {' or '.join(missing)} column: it was written "
            "before leaderboard sections were keyed by their set of test tracks. Regenerate "
            f"leaderboards/{board}/ with the committed code (genrebench run --suite {board} "
            f"--leaderboard-out leaderboards/{board}; the main job: python3 -m tox -e main) "
            "and commit it."
        )
        sets: dict[str, set[str]] = {}
        for row in rows:
            if row["evaluation_set"]:  # a failed row may not know its test tracks
                sets.setdefault(row["section"], set()).add(row["evaluation_set"])
        mixed = {section: sorted(found) for section, found in sets.items() if len(found) > 1}
        assert not mixed, (
            f"leaderboards/{board}/{name}: these sections hold rows evaluated on different "
            f"test tracks (section: evaluation-set checksums): {mixed}"
        )
