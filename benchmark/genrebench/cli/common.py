"""What the commands share: the argument types of their options, and the writing of the
leaderboard and the report from saved runs."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from genrebench.dataset import check_ratios
from genrebench.errors import ConfigError
from genrebench.registry.loading import Registry
from genrebench.run import suites


def read_board(sources: Sequence[Path], registry: Registry | None = None):
    """The leaderboard of the jobs under ``sources``, with intervals and significance marks
    (plugins' metrics with a per-track form get theirs too); and the results it was built
    from (one configuration per row).  What was left out or is incomplete is warned about
    on stderr."""
    # lazy: loads pandas, scipy, sklearn, not needed at import time
    from genrebench.reporting import leaderboard, stats

    results = leaderboard.find_results(sources)
    metrics = registry.specs("metrics") if registry is not None else ()
    board = stats.annotate(leaderboard.build(results), results, metrics=metrics)
    for line in board.attrs.get("warnings", ()):
        print(f"warning: {line}", file=sys.stderr)
    return board, results


def write_report(
    registry, sources, out: Path, suite=None, headline: Path | None = None, files=None
) -> None:
    """The report (and its headline picture) of the runs under ``sources``, written as a
    set with ``files`` (:class:`genrebench.results.outputs.AtomicFiles`): rendered in a scratch
    folder first, so the report and picture are both new or both as they were."""

    # lazy: loads pandas, scipy, sklearn, not needed at import time
    from genrebench.reporting import report
    from genrebench.results import outputs

    if files is None:
        with outputs.AtomicFiles() as own:
            return write_report(registry, sources, out, suite, headline, own)
    board, results = read_board(sources, registry)
    title = f"genrebench suite {suite.name}" if suite else "genrebench report"
    with tempfile.TemporaryDirectory(prefix="genrebench-report-") as scratch:
        page = Path(scratch) / "report.html"
        picture = Path(scratch) / "report.png" if headline is not None else None
        report.write(
            page,
            board,
            results,
            registry,
            title=title,
            description=suite.description if suite else "",
            headline=picture,
        )
        files.write_bytes(out, page.read_bytes())
        if picture is not None:
            files.write_bytes(headline, picture.read_bytes())
    print(f"report: {out}", file=sys.stderr)


def write_leaderboard(
    sources: list[Path],
    out: Path,
    results: list[dict],
    registry: Registry | None = None,
    files=None,
) -> int:
    """The leaderboard files of the runs under ``sources`` (staged in ``files`` when given,
    to be written with the caller's other files as one set)."""
    # lazy: loads pandas, not needed at import time
    from genrebench.reporting import leaderboard

    board, _ = read_board(sources, registry)
    paths = leaderboard.write(board, out, files)
    print(f"leaderboard: {paths[0]}", file=sys.stderr)
    failed = [r for r in results if r["status"] != "ok"]
    if failed:
        print(
            f"{len(failed)} of {len(results)} runs failed (see their metrics.json)", file=sys.stderr
        )
    return 1 if failed else 0


def run_sources(registry: Registry, args: argparse.Namespace) -> list[Path]:
    """The run folders a command reads: RUN_DIR arguments, or a suite's runs folder."""
    if getattr(args, "suite", None):
        suite = suites.resolve(registry, args.suite)
        return [Path("runs") / suite.name]
    return list(args.run_dirs) or [Path("runs")]


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def ratios(text: str) -> dict[str, float]:

    try:
        ratios = {k: float(v) for k, v in (key_value(p) for p in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ratios like train=0.75,test=0.25, got {text!r}"
        ) from None
    try:
        check_ratios(ratios)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if ratios.get("train", 0) <= 0 or ratios.get("test", 0) <= 0:
        raise argparse.ArgumentTypeError(f"split ratios need train and test above 0, got {text}")
    return ratios


def int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value

    return parse


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)
