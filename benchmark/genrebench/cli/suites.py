"""``genrebench suites``: the benchmark suites (``genrebench run --suite NAME``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from genrebench.registry.loading import Registry
from genrebench.run import suites


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``suites`` command's parser."""
    p = add("suites", help="list the benchmark suites (genrebench run --suite NAME)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=command)


def command(registry: Registry, args: argparse.Namespace) -> int:

    found, broken = suites.known(registry)
    if args.json:
        listing = [
            {
                "name": s.name,
                "description": s.description,
                "path": str(s.path),
                "plugin": s.plugin,
                "runs": suites.describe(s),
            }
            for s in found.values()
        ]
        print(json.dumps({"suites": listing, "broken": broken}, indent=2))
        return 0
    for suite in found.values():
        print(f"{suite.name:<16} {suite.description}")
        print(f"{'':<16} {suite.path} ({suite.plugin})")
        for line in suites.describe(suite):
            print(f"{'':<16}   {line}")
    for path, message in broken.items():
        print(f"warning: suite file {path} is broken: {message}", file=sys.stderr)
    if not found:
        print("no suites registered (run one from a file: genrebench run --suite PATH)")
    return 0
