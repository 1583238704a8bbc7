"""The README's results table shows the report's numbers exactly as the experiments declare
them (``ExperimentSpec.reported``), and lists every experiment, so the two cannot drift
apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from genrebench_schindler2016 import plugin

README = Path(__file__).resolve().parents[1] / "README.md"
EXPERIMENT = re.compile(r"`(schindler2016/[a-z0-9-]+)`")
NOT_RUN = "not run in the report"


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


def results_table() -> list[list[str]]:
    tables = [
        t
        for t in markdown_tables(README.read_text())
        if len(t[0]) > 2 and t[0][1].startswith("report, 100 epochs")
    ]
    assert len(tables) == 1, "expected one README table with 'report, 100 epochs' columns"
    table = tables[0]
    # the columns mean what the test reads them as
    assert table[0][1] == "report, 100 epochs: raw / max / maj"
    assert table[0][2] == "report, 200 epochs"
    return table


def in_readme(cell: str) -> tuple[float, ...] | None:
    if cell == NOT_RUN:
        return None
    values = tuple(float(v) for v in cell.split(" / "))
    assert len(values) == 3, cell
    return values


def declared(spec, epochs: int) -> tuple[float, ...] | None:
    """The experiment's (raw, max, maj) for ``epochs``, in % as the report prints them."""
    by_metric = {r.metric: r.value for r in spec.reported if r.note.startswith(f"{epochs} ")}
    if not by_metric:
        return None
    assert set(by_metric) == set(plugin.REPORT_COLUMNS)
    return tuple(round(100 * by_metric[m], 2) for m in plugin.REPORT_COLUMNS)


def test_results_table_shows_what_every_experiment_declares():
    experiments = {e.name: e for e in plugin.genrebench_register_experiments()}
    seen = []
    for row in results_table()[1:]:
        names = EXPERIMENT.findall(row[0])
        assert names, f"row without an experiment name: {row[0]!r}"
        for name in names:
            spec = experiments[name]
            for epochs, cell in ((100, row[1]), (200, row[2])):
                assert declared(spec, epochs) == (
                    pytest.approx(in_readme(cell)) if in_readme(cell) else None
                ), (name, epochs)
            assert all(r.dataset == "gtzan" and r.source for r in spec.reported), name
        seen += names
    assert sorted(seen) == sorted(experiments), "every experiment appears once"


def test_the_parser_reads_a_table_and_its_cells():
    text = "| a | report, 100 epochs |\n|---|---|\n| `schindler2016/deep` | 1 / 2.5 / 3 |\n"
    assert markdown_tables(text) == [
        [["a", "report, 100 epochs"], ["`schindler2016/deep`", "1 / 2.5 / 3"]]
    ]
    assert in_readme("65.2 / 81.2 / 78.9") == (65.2, 81.2, 78.9)
    assert in_readme(NOT_RUN) is None
