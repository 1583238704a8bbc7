"""``genrebench leaderboard``: rebuild the leaderboard from saved runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from genrebench.cli import common
from genrebench.registry.loading import Registry


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``leaderboard`` command's parser."""
    p = add("leaderboard", help="rebuild the leaderboard from saved runs")
    p.add_argument(
        "run_dirs",
        nargs="*",
        type=Path,
        metavar="RUN_DIR",
        help="folders holding runs (searched for metrics.json; default: runs)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("leaderboards"),
        metavar="DIR",
        help="where to write leaderboard.md/.csv/.json (default: leaderboards)",
    )
    p.set_defaults(handler=command)


def command(registry: Registry, args: argparse.Namespace) -> int:
    # lazy: loads pandas, not needed at import time
    from genrebench.reporting import leaderboard
    from genrebench.results import outputs

    outputs.check_writable(args.out, "--out")
    board, _ = common.read_board(args.run_dirs or [Path("runs")], registry)
    paths = leaderboard.write(board, args.out)
    print(paths[0].read_text())
    return 0
