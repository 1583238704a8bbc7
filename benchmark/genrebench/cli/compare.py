"""``genrebench compare``: two experiments on the same test tracks (paired bootstrap,
McNemar)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from genrebench.cli import common
from genrebench.errors import ConfigError
from genrebench.registry.loading import Registry


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``compare`` command's parser."""
    p = add(
        "compare",
        help="compare two experiments on the same test tracks (paired bootstrap, McNemar)",
    )
    p.add_argument("a", metavar="A", help="experiment name")
    p.add_argument("b", metavar="B", help="experiment name")
    p.add_argument("run_dirs", nargs="*", type=Path, metavar="RUN_DIR", help="folders holding runs")
    p.add_argument("--suite", metavar="NAME|PATH", help="read the suite's runs (runs/<suite>)")
    p.add_argument("--dataset", metavar="NAME", help="the data set, when both ran on several")
    p.add_argument("--profile", metavar="PROFILE", help="the profile, when both ran with several")
    p.add_argument(
        "--protocol",
        choices=("benchmark", "paper"),
        help="the protocol, when both ran under both",
    )
    p.add_argument(
        "--metric", default="accuracy", help="metric of the bootstrap (default accuracy)"
    )
    p.set_defaults(handler=command)


def command(registry: Registry, args: argparse.Namespace) -> int:
    # lazy: loads pandas, scipy, sklearn, not needed at import time
    from genrebench.reporting import leaderboard, resampling, stats

    results = leaderboard.find_results(common.run_sources(registry, args))
    for line in results.left_out:
        print(f"warning: {line}", file=sys.stderr)
    loaded = resampling.load_rows(results, registry.specs("metrics"))
    rows, skipped = loaded.rows, loaded.skipped
    chosen = []
    for name in (args.a, args.b):
        found = [
            key
            for key in rows
            if key[0] == name
            and (args.dataset is None or key[1] == args.dataset)
            and (args.profile is None or key[2] == args.profile)
            and (args.protocol is None or key[3] == args.protocol)
        ]
        if not found:
            known = sorted({k[0] for k in rows})
            reason = [why for k, why in skipped.items() if k[0] == name]
            raise ConfigError(
                f"no finished run of {name!r}"
                + (f" on {args.dataset}" if args.dataset else "")
                + (f" with profile {args.profile}" if args.profile else "")
                + (f" under the {args.protocol} protocol" if args.protocol else "")
                + (f" with readable predictions ({reason[0]})" if reason else "")
                + f"; experiments with runs: {', '.join(known) or '(none)'}"
            )
        chosen.append(found)
    pairs = [(a, b) for a in chosen[0] for b in chosen[1] if a[1:] == b[1:]]
    where = lambda key: f"{key[1]}/{key[2]}" + (f" ({key[3]} protocol)" if key[3] else "")  # noqa: E731
    if not pairs:
        raise stats.NotComparable(
            f"{args.a} ran on {', '.join(map(where, chosen[0]))} and {args.b} on "
            f"{', '.join(map(where, chosen[1]))}: no common data set, profile and protocol, "
            "so there are no shared test tracks to compare on"
        )
    if len(pairs) > 1:
        raise ConfigError(
            "both ran on several data sets/profiles/protocols ("
            + ", ".join(where(a) for a, _ in pairs)
            + "): choose one with --dataset, --profile and --protocol"
        )
    a, b = pairs[0]
    for key in (a, b):
        for seed, problem in loaded.problems.get(key, {}).items():
            print(f"warning: {key[0]} seed {seed} left out: {problem}", file=sys.stderr)
    row_a, row_b = rows[a], rows[b]
    if args.metric not in resampling.columns_of(row_a):
        raise ConfigError(
            f"metric {args.metric!r} has no bootstrap form for {row_a.task} rows (a plugin "
            "metric gets one from its per_track function); choose one of "
            f"{', '.join(resampling.columns_of(row_a))}"
        )
    for key in (a, b):
        print(_evaluated_on(key, results))
    c = stats.compare(row_a, row_b, metric=args.metric)
    print(stats.describe_comparison(c))
    return 0


def _evaluated_on(key: tuple, results: Sequence[dict]) -> str:
    """One line naming a compared row's protocol, split and planned test tracks."""
    # lazy: loads pandas, not needed at import time
    from genrebench.reporting.leaderboard import row_key

    found = [r for r in results if row_key(r) == key]
    r = next((r for r in found if r.get("status") == "ok"), found[0] if found else {})
    evaluated = r.get("evaluation_set") or {}
    tracks = f", {evaluated['n_tracks']} planned test tracks" if evaluated else ""
    lost = f" ({r['n_test_tracks_lost']} lost)" if r.get("n_test_tracks_lost") else ""
    return (
        f"{key[0]} on {key[1]} ({key[2]}): {r.get('protocol', 'unknown')} protocol, split "
        f"{r.get('split', '?')}{tracks}{lost}"
    )
