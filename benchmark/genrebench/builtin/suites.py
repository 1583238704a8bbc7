"""Builtin plugin: the core's benchmark suites, ``leaderboards/<name>/suite.toml`` of the
source checkout, each beside the leaderboard and report it produced (an installed wheel
carries copies: :mod:`genrebench.datasets.resources`)."""

from __future__ import annotations

from pathlib import Path

from genrebench import hookimpl
from genrebench.datasets.resources import shipped_folder

#: ``<checkout>/leaderboards``, or the copy inside an installed wheel.
LEADERBOARDS = shipped_folder("leaderboards")


@hookimpl
def genrebench_register_suites() -> list[Path]:
    return sorted(LEADERBOARDS.glob("*/suite.toml")) if LEADERBOARDS is not None else []
