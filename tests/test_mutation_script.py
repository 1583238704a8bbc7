"""``tests/mutation.py`` (``tox -e mutation``): which mutants a target holds, how a sample is
drawn and how a score counts equivalent mutants; mutmut itself is not run here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib
import mutation

ROW = "reporting.leaderboard:row-keying"
LEADERBOARD = "reporting.leaderboard"


def test_function_of_names_functions_and_methods():
    assert mutation.function_of("genrebench.reporting.leaderboard.x_select__mutmut_12") == "select"
    assert mutation.function_of("genrebench.reporting.leaderboard.x__int__mutmut_2") == "_int"
    assert mutation.function_of("genrebench.reporting.leaderboard.xǁResultsǁnote__mutmut_1") == (
        "Results.note"
    )


def test_a_part_holds_only_its_functions_mutants_and_its_module_holds_all():
    keyed = "genrebench.reporting.leaderboard.x_row_key__mutmut_3"
    shown = "genrebench.reporting.leaderboard.x_to_markdown__mutmut_3"
    elsewhere = "genrebench.stats.x_row_key__mutmut_3"
    assert mutation.in_target(keyed, ROW) and not mutation.in_target(shown, ROW)
    assert mutation.in_target(keyed, LEADERBOARD) and mutation.in_target(shown, LEADERBOARD)
    assert not mutation.in_target(elsewhere, ROW)
    assert not mutation.in_target("genrebench.statsx.x_f__mutmut_1", "stats")
    assert mutation.module_of(ROW) == LEADERBOARD
    assert set(mutation.PARTS) <= set(mutation.TARGETS)
    assert all(mutation.module_of(t) in mutation.MODULES for t in mutation.TARGETS)


def test_a_target_is_named_in_full_or_by_its_modules_last_part():
    assert mutation.full_name("segments") == "features.segments"
    assert mutation.full_name("leaderboard:row-keying") == ROW
    assert mutation.full_name(ROW) == ROW
    assert mutation.full_name("leaderboard") == LEADERBOARD
    assert mutation.full_name("nothing") is None
    assert mutation.source_file("features.segments") == "features/segments.py"


def test_a_draw_is_seeded_by_the_short_name_so_it_survives_a_module_move():
    moved = [f"genrebench.reporting.stats.x_f__mutmut_{k}" for k in range(50)]
    flat = [f"genrebench.stats.x_f__mutmut_{k}" for k in range(50)]
    drawn = mutation.draw(moved, "reporting.stats", 10, seed=21)
    before = mutation.draw(flat, "stats", 10, seed=21)
    assert [n.rpartition(".")[2] for n in drawn] == [n.rpartition(".")[2] for n in before]


def test_a_targets_sample_depends_on_the_seed_and_its_name_only():
    names = [
        f"genrebench.reporting.leaderboard.x_{f}__mutmut_{k}"
        for f in ("select", "write")
        for k in range(50)
    ]
    row = mutation.draw(names, ROW, 10, seed=21)
    assert len(row) == 10 == len(set(row)) and all("x_select_" in n for n in row)
    assert row == mutation.draw(list(reversed(names)), ROW, 10, seed=21)
    assert row != mutation.draw(names, ROW, 10, seed=22)
    whole = mutation.draw(names, LEADERBOARD, 10, seed=21)
    assert len(whole) == 10 and whole != row
    assert len(mutation.draw(names, ROW, 0, seed=21)) == 50  # 0: all
    assert len(mutation.draw(names, ROW, 80, seed=21)) == 50


def test_scores_count_the_drawn_mutants_and_leave_listed_equivalents_out():
    found = {
        "genrebench.stats.x_f__mutmut_1": "killed",
        "genrebench.stats.x_f__mutmut_2": "survived",
        "genrebench.stats.x_f__mutmut_3": "survived",
        "genrebench.stats.x_f__mutmut_4": "timeout",
        "genrebench.stats.x_f__mutmut_5": "killed",  # not drawn
    }
    chosen = {"stats": [f"genrebench.stats.x_f__mutmut_{k}" for k in (1, 2, 3, 4)]}
    table = mutation.scores(found, ["stats"], chosen, {"genrebench.stats.x_f__mutmut_3"})
    assert table == {"stats": {"killed": 1, "survived": 1, "equivalent": 1, "timeout": 1}}
    assert mutation.score(table["stats"]) == pytest.approx(2 / 3)
    # a listed mutant that a test kills is killed, not equivalent
    table = mutation.scores(found, ["stats"], None, {"genrebench.stats.x_f__mutmut_1"})
    assert table["stats"]["killed"] == 2 and "equivalent" not in table["stats"]
    assert mutation.score({"not checked": 3}) is None
    line = mutation.report({"stats": {"killed": 9, "survived": 1, "equivalent": 2}}).splitlines()[1]
    assert line.split()[1:] == ["12", "12", "9", "0", "1", "2", "0", "90", "%"]


def test_an_equivalent_entry_whose_mutated_line_changed_is_stale(tmp_path, monkeypatch):
    source = tmp_path / "mutants" / "src" / "genrebench" / "stats.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "def x_f__mutmut_1(\n    a,\n) -> int:\n    return a + 2\n\n\n"
        "class C:\n    def xǁCǁg__mutmut_1(self):\n        return 'XXaXX'\n    y = 1\n"
    )
    monkeypatch.setattr(
        mutation,
        "EQUIVALENT",
        {
            "genrebench.stats.x_f__mutmut_1": ("a + 2", "why"),
            "genrebench.stats.xǁCǁg__mutmut_1": ("'XXaXX'", "why"),
            "genrebench.stats.x_f__mutmut_2": ("a + 2", "gone"),
            "genrebench.stats.xǁCǁg__mutmut_1x": ("y = 1", "not in the method"),
            "genrebench.cache.x_h__mutmut_1": ("z", "module not run"),
        },
    )
    stale = mutation.stale_equivalents(tmp_path, ["stats"])
    assert set(stale) == {"genrebench.stats.x_f__mutmut_2", "genrebench.stats.xǁCǁg__mutmut_1x"}
    texts = mutation.functions(source.read_text())
    assert texts["xǁCǁg__mutmut_1"].endswith("'XXaXX'") and "y = 1" not in texts["xǁCǁg__mutmut_1"]


def test_verdicts_read_mutmuts_result_lines():
    text = (
        "    genrebench.stats.x_f__mutmut_1: killed\n"
        "    genrebench.stats.xǁCǁg__mutmut_2: no tests\nsomething else\n"
    )
    assert mutation.verdicts(text) == {
        "genrebench.stats.x_f__mutmut_1": "killed",
        "genrebench.stats.xǁCǁg__mutmut_2": "no tests",
    }
