"""``genrebench report``: one self-contained HTML report of saved runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from genrebench.cli import common
from genrebench.registry.loading import Registry
from genrebench.run import suites


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``report`` command's parser."""
    p = add(
        "report", help="one self-contained HTML report of saved runs (tables, plots, provenance)"
    )
    p.add_argument("run_dirs", nargs="*", type=Path, metavar="RUN_DIR", help="folders holding runs")
    p.add_argument("--suite", metavar="NAME|PATH", help="report on the suite's runs (runs/<suite>)")
    p.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="the HTML file (default: report.html; leaderboards/<suite>/report.html for a suite)",
    )
    p.add_argument(
        "--headline", type=Path, metavar="PNG", help="also save the headline picture here"
    )
    p.set_defaults(handler=command)


def command(registry: Registry, args: argparse.Namespace) -> int:

    suite = suites.resolve(registry, args.suite) if args.suite else None
    default = Path("leaderboards") / suite.name / "report.html" if suite else Path("report.html")
    common.write_report(
        registry, common.run_sources(registry, args), args.out or default, suite, args.headline
    )
    return 0
