"""``genrebench data``: data set utilities (``data check``: missing, unreadable and unexpected
files)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from genrebench.cli import common
from genrebench.registry.loading import Registry


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``data`` command's parser and its subcommands'."""
    p = add("data", help="data set utilities")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    c = data_sub.add_parser("check", help="list missing, unreadable and unexpected files")
    c.add_argument("name", help="data set name")
    c.add_argument("--data-root", type=Path, metavar="DIR", help="where the data set lives")
    c.add_argument("--dataset-option", action="append", type=common.key_value, metavar="KEY=VALUE")
    c.set_defaults(handler=check)


def check(registry: Registry, args: argparse.Namespace) -> int:
    # lazy: loads soundfile, soxr, not needed at import time
    from genrebench.datasets.loaders.base import check_command

    return check_command(registry, args.name, args.data_root, dict(args.dataset_option or ()))
