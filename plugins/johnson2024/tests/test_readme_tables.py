"""The README's tables of the report's numbers agree with what the experiments declare
(``ExperimentSpec.reported``), so the two cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from genrebench_johnson2024 import plugin

README = Path(__file__).resolve().parents[1] / "README.md"
COLUMN = re.compile(r"`([a-z][a-z0-9_]*)`")


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every table of ``text`` as rows of cells (header first, the ``---`` row dropped)."""
    tables, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _number(cell: str) -> float | None:
    found = re.match(r"[≈~ ]*([0-9]*\.?[0-9]+)", cell)
    return float(found.group(1)) if found else None


def _experiments() -> dict:
    return {e.name: e for e in plugin.genrebench_register_experiments()}


def _table(first: str) -> list[list[str]]:
    """The README table whose header starts with ``first`` and then ``report``."""
    tables = [
        t
        for t in markdown_tables(README.read_text())
        if t[0][0].startswith(first) and t[0][1:2] == ["report"]
    ]
    assert len(tables) == 1, f"expected one README table with header {first!r} | report"
    return tables[0]


def test_dense_report_column_is_what_the_dense_experiments_declare():
    table = _table("metric (leaderboard column)")
    in_readme = {}
    for row in table[1:]:
        columns = COLUMN.findall(row[0])
        values = [v.strip() for v in row[1].split(" / ")]
        assert len(columns) == len(values), row
        in_readme.update({c: _number(v) for c, v in zip(columns, values, strict=True) if v != "–"})
    experiments = _experiments()
    for name in ("johnson2024/dense", "johnson2024/dense-random-split"):
        declared = {r.metric: r.value for r in experiments[name].reported}
        assert declared == pytest.approx(in_readme), name
        assert all(r.dataset == "mtg-jamendo" and r.source for r in experiments[name].reported)


def test_every_other_declared_number_is_in_the_experiment_table():
    table = _table("experiment")
    assert table[0][2] == "leaderboard column"
    in_readme = {
        row[0].strip("`"): (COLUMN.fullmatch(row[2]).group(1), row[1]) for row in table[1:]
    }
    for name, spec in _experiments().items():
        if name in ("johnson2024/dense", "johnson2024/dense-random-split"):
            continue
        if not spec.reported:
            assert name not in in_readme
            continue
        [reported] = spec.reported
        column, cell = in_readme[name]
        assert (column, _number(cell)) == (reported.metric, pytest.approx(reported.value))


def test_the_parser_reads_a_table():
    text = "x\n| a | b |\n|---|---|\n| `f1_micro` / `nll` | 0.68 / 1.40 |\n\nend"
    assert markdown_tables(text) == [[["a", "b"], ["`f1_micro` / `nll`", "0.68 / 1.40"]]]
    assert _number("≈ 0.50 (about)") == 0.5 and _number("–") is None
