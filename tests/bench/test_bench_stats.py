"""How much the statistics add to a leaderboard build (``tox -e bench``): the same saved
runs (the main suite's shape: 8 rows x 2 seeds x 40 test tracks, single- and multi-label),
built without and with :func:`genrebench.reporting.stats.annotate`, side by side in one run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from genrebench.reporting import leaderboard, stats

sys.path.insert(0, str(Path(__file__).parents[1]))  # pytest runs with --import-mode=importlib
from stats_fixtures import make_row, save_rows


@pytest.fixture(scope="module")
def saved_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench-stats")
    rows = []
    for task, dataset, classes in (("single-label", "a", 10), ("multi-label", "b", 10)):
        first = make_row(task, n_classes=classes, key=("e0", dataset, "quick"))
        rows.append(first)
        for i in range(1, 4):
            rows.append(
                make_row(
                    task,
                    n_classes=classes,
                    seed=i,
                    skill=1.0 + i / 2,
                    y=first.y,
                    key=(f"e{i}", dataset, "quick"),
                )
            )
    save_rows(folder, rows)
    return [folder]


@pytest.mark.benchmark(group="leaderboard: 8 rows x 2 seeds x 40 tracks")
def test_leaderboard_without_statistics(benchmark, saved_runs):
    board = benchmark(lambda: leaderboard.build(leaderboard.find_results(saved_runs)))
    assert len(board) == 8


@pytest.mark.benchmark(group="leaderboard: 8 rows x 2 seeds x 40 tracks")
def test_leaderboard_with_statistics(benchmark, saved_runs):
    def build():
        results = leaderboard.find_results(saved_runs)
        return stats.annotate(leaderboard.build(results), results)

    board = benchmark(build)
    assert board["accuracy_ci_low"].notna().all()
