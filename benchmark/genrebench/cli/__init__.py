"""The ``genrebench`` command line.

Exit codes: 0 success; 1 some experiment failed or a data check found problems; 2 invalid
input, found before any work (unknown names, bad options, missing data, an output folder
that cannot be written, an unreachable Dask scheduler, a plugin that failed to load under
--strict-plugins); 3 the run stopped midway for want of something outside it (a full or
read-only disk, no Dask workers, a lost scheduler; finished jobs are kept); 130 interrupted
(Ctrl-C)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from genrebench import __version__
from genrebench.cli import bench, compare, data, leaderboard, report, run, suites
from genrebench.cli import list as list_command
from genrebench.errors import GenrebenchError, PluginError
from genrebench.registry import ENV_STRICT
from genrebench.registry.loading import KINDS, Registry, load_plugins
from genrebench.run.interrupts import catching_interrupts

DESCRIPTION = "Benchmark music genre classifiers: every reproduced paper is a plugin."
EPILOG = (
    "Exit codes: 0 success; 1 some experiment failed or a data check found problems; "
    "2 invalid input, found before any work (unknown names, bad options, missing data, an "
    "output folder that cannot be written, an unreachable Dask scheduler, a plugin that "
    f"failed to load under --strict-plugins or {ENV_STRICT}=1); 3 the run stopped midway "
    "for want of something outside it (a full or read-only disk, no Dask workers, a lost "
    "scheduler): finished jobs are kept and reused; 130 interrupted (Ctrl-C), finished jobs "
    "kept."
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 for bad options, 0 for --help
        return int(exc.code or 0)
    for stream in (sys.stdout, sys.stderr):
        # A file name that is not valid UTF-8 must not crash a report on a strict stream.
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING,
        format="genrebench: %(levelname)s: %(message)s",
    )
    try:
        registry = load_plugins()  # logs each plugin that fails to load, once
        if strict_plugins(args):
            refuse_failures(registry)
        with catching_interrupts():
            status = args.handler(registry, args)
        sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader stopped reading (genrebench list | head): not an error of the command.
        # Python would fail again flushing stdout at exit, so it goes nowhere from now on.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a command ended by SIGPIPE
    except GenrebenchError as exc:
        print(f"genrebench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"genrebench: interrupted; {_kept(args)}", file=sys.stderr)
        return 130
    except OSError as exc:
        # lazy: loads pandas, not needed at import time
        from genrebench.results.outputs import storage_problem

        problem = storage_problem(exc)
        if problem is None:
            raise
        print(f"genrebench: error: {problem}, then run again; {_kept(args)}", file=sys.stderr)
        return 3


def _kept(args: argparse.Namespace) -> str:
    """What an interrupted or stopped command leaves: a run's finished jobs."""
    if getattr(args, "command", None) != "run":
        return "nothing was changed that is not complete"
    return "every finished job is kept in its folder, and a run started again reuses it"


def strict_plugins(args: argparse.Namespace) -> bool:
    """Whether a plugin that fails to load stops the command (``--strict-plugins`` or
    ``GENREBENCH_STRICT_PLUGINS=1``)."""
    setting = os.environ.get(ENV_STRICT, "").strip().lower()
    return bool(getattr(args, "strict_plugins", False)) or setting not in {"", "0", "false", "no"}


def refuse_failures(registry: Registry) -> None:
    """Under strict plugin loading: a :class:`PluginError` listing every plugin that failed
    to load and every broken registration, if there is any."""
    problems = [f"plugin {n!r} failed to load: {r}" for n, r in registry.failed.items()]
    problems += [
        registry.broken_reason(kind, name) for kind in KINDS for name in registry.broken[kind]
    ]
    if problems:
        raise PluginError(
            "; ".join(problems) + f" (strict plugin loading: --strict-plugins or {ENV_STRICT}=1)"
        )


#: The commands, in the order ``genrebench --help`` lists them; each module has
#: ``add_parser(add)`` (``add(name, **kwargs)`` makes the command's subparser, which takes
#: ``-v`` and ``--strict-plugins`` too) and the function the parser's ``handler`` names.
COMMANDS = (list_command, bench, run, suites, leaderboard, compare, report, data)


def build_parser() -> argparse.ArgumentParser:
    # -v and --strict-plugins are accepted before and after the command name (their
    # actions are shared with the subcommands: read them with getattr, set no defaults).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="debug logging, with tracebacks of plugins that fail to load",
    )
    common.add_argument(
        "--strict-plugins",
        action="store_true",
        default=argparse.SUPPRESS,
        help=f"exit 2 when any plugin fails to load (also: {ENV_STRICT}=1)",
    )
    parser = argparse.ArgumentParser(
        prog="genrebench", description=DESCRIPTION, epilog=EPILOG, parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"genrebench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    for command in COMMANDS:
        command.add_parser(add)
    return parser
