"""Builtin plugin: the core's benchmark suites, ``leaderboards/<name>/suite.toml`` of the
source checkout, each beside the leaderboard and report it produced."""

from __future__ import annotations

from pathlib import Path

from genrebench import hookimpl

#: ``<checkout>/leaderboards``: this file is ``<checkout>/benchmark/genrebench/builtin/``.
LEADERBOARDS = Path(__file__).resolve().parents[3] / "leaderboards"


@hookimpl
def genrebench_register_suites() -> list[Path]:
    return sorted(LEADERBOARDS.glob("*/suite.toml")) if LEADERBOARDS.is_dir() else []
