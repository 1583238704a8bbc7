"""The ``genrebench`` command line.

Exit codes: 0 success; 1 some experiment failed or a data check found problems; 2 invalid
input, found before any work (unknown names, bad options, missing data, an output folder
that cannot be written, an unreachable Dask scheduler, a plugin that failed to load under
--strict-plugins); 3 the run stopped midway for want of something outside it (a full or
read-only disk, no Dask workers, a lost scheduler; finished jobs are kept); 130 interrupted
(Ctrl-C)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from genrebench import __version__
from genrebench.errors import ConfigError, GenrebenchError, PluginError
from genrebench.registry import ENV_STRICT
from genrebench.registry.loading import KINDS, Registry, load_plugins

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
        return args.handler(registry, args)
    except GenrebenchError as exc:
        print(f"genrebench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"genrebench: interrupted; {_kept(args)}", file=sys.stderr)
        return 130
    except OSError as exc:
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


# --------------------------------------------------------------------------- commands
def cmd_list(registry: Registry, args: argparse.Namespace) -> int:
    listing = {
        kind: [_describe(registry, kind, name) for name in registry.names(kind)] for kind in KINDS
    }
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for kind in KINDS:
        print(f"{kind}:")
        for item in listing[kind]:
            extra = f" [{item['task']}]" if "task" in item else ""
            extra += f" [{', '.join(item['tasks'])}]" if "tasks" in item else ""
            extra += f"  BROKEN: {item['broken']}" if "broken" in item else ""
            print(f"  {item['name']:<36} {item['plugin']}{extra}")
            if kind == "experiments" and item["description"]:
                print(f"      {item['description']}")
            if kind == "experiments" and item["split"]["scheme"] != "default":
                ratios = item["split"]["ratios"] or {}
                shares = ",".join(f"{k}={v:g}" for k, v in ratios.items())
                print(
                    f"      own split (paper protocol): {item['split']['scheme']}"
                    + (f"({shares})" if shares else "")
                )
            if item.get("requires_weights"):
                print(f"      needs {item['requires_weights']}")
    if registry.failed:
        print("plugins that failed to load:")
        for name, reason in registry.failed.items():
            print(f"  {name}: {reason}")
    return 0


def _describe(registry: Registry, kind: str, name: str) -> dict:
    spec = registry.get(kind, name)
    item = {
        "name": name,
        "plugin": registry.plugin_of(kind, name),
        "description": getattr(spec, "description", ""),
    }
    if kind in ("datasets", "metrics"):
        item["task"] = spec.task
    if kind == "datasets":
        item["embedded"] = spec.embedded
    if kind in ("models", "experiments", "calibrators", "ensembles"):
        item["tasks"] = list(spec.tasks)
    if kind == "experiments":
        item.update(feature=spec.feature, model=spec.model, paper=spec.paper)
        # The paper's own split, used under the paper protocol only.
        item["split"] = {"scheme": spec.split.scheme, "ratios": dict(spec.split.ratios or {})}
        item["requires_weights"] = spec.requires_weights
    if name in registry.broken[kind]:
        item["broken"] = registry.broken[kind][name]
    return item


def cmd_bench(registry: Registry, args: argparse.Namespace) -> int:
    from genrebench.run.bench import run_command

    return run_command(args)


def cmd_run(registry: Registry, args: argparse.Namespace) -> int:
    from genrebench.run import ensembles, session
    from genrebench.run.executors import parse_executor
    from genrebench.run.planning import RunOptions, plan

    if args.suite:
        return _run_suite(registry, args)
    options = RunOptions(
        experiments=args.experiments,
        datasets=args.dataset or (),
        data_root=args.data_root,
        dataset_options=dict(args.dataset_option or ()),
        protocol=_given(args.protocol, "benchmark"),
        split=args.split,
        split_ratios=args.split_ratios,
        split_seed=_given(args.split_seed, 0),
        folds=args.folds,
        profile=_given(args.profile, "quick"),
        seeds=_given(args.seeds, 1),
        seed_start=_given(args.seed_start, 0),
        calibration=args.calibration,
        **_common_run_options(args, args.out or Path("runs")),
    )
    parse_executor(options.executor, options.scheduler)  # bad values exit 2 before any work
    if options.data_root is not None and not options.datasets:
        raise ConfigError("--data-root needs --dataset NAME: it says where that data set lives")
    jobs, notes = plan(registry, options)
    ensemble_jobs, ensemble_notes = ensembles.plan_ensembles(registry, options)
    for note in notes + ensemble_notes:
        print(f"note: {note}", file=sys.stderr)
    if not jobs:
        raise ConfigError("nothing to run: every selected experiment was left out (see the notes)")
    board_out = args.leaderboard_out or options.out
    results, _ = session.run_planned(registry, [(options, jobs, ensemble_jobs)], board_out)
    status = _write_leaderboard([options.out / "runs"], board_out, results, registry)
    registry.pm.hook.genrebench_session_finished(
        suite=None, results=results, leaderboard_folder=board_out, exitstatus=status
    )
    return status


def _run_suite(registry: Registry, args: argparse.Namespace) -> int:
    """``run --suite``: check the whole suite, plan and load every run's data, then run;
    the leaderboard holds exactly the suite's jobs and sits beside a copy of its file."""
    from genrebench.reporting.report import NothingToReport
    from genrebench.results import outputs
    from genrebench.run import ensembles, session, suites
    from genrebench.run.executors import parse_executor
    from genrebench.run.planning import plan

    suite = suites.resolve(registry, args.suite)
    fixed = {
        "EXPERIMENT": args.experiments,
        "--dataset": args.dataset,
        "--dataset-option": args.dataset_option,
        "--protocol": args.protocol,
        "--split": args.split,
        "--folds": args.folds,
        "--split-ratios": args.split_ratios,
        "--split-seed": args.split_seed,
        "--profile": args.profile,
        "--seeds": args.seeds,
        "--seed-start": args.seed_start,
        "--calibration": args.calibration,
    }
    given = [flag for flag, value in fixed.items() if value not in (None, [])]
    if given:
        raise ConfigError(
            f"suite {suite.name!r} ({suite.path}) fixes {', '.join(given)}: edit the suite "
            "file, or a copy of it, instead"
        )
    suites.check(suite, registry, args.data_root)
    parse_executor(args.executor, args.scheduler)
    out = args.out or Path("runs") / suite.name
    option_sets = suites.run_options(
        suite, registry, args.data_root, **_common_run_options(args, out)
    )
    planned = []
    for options in option_sets:
        jobs, notes = plan(registry, options)
        ensemble_jobs, ensemble_notes = ensembles.plan_ensembles(registry, options)
        for note in notes + ensemble_notes:
            print(f"note: {note}", file=sys.stderr)
        planned.append((options, jobs, ensemble_jobs))
    # With --out, everything the run writes goes there (the leaderboard beside runs/);
    # without it, the suite's board goes to leaderboards/<suite> as committed in a checkout.
    board_out = args.leaderboard_out or args.out or Path("leaderboards") / suite.name
    results, folders = session.run_planned(registry, planned, board_out, suite)
    board_out.mkdir(parents=True, exist_ok=True)
    copy = board_out / "suite.toml"
    sources = [f / "metrics.json" for f in folders]
    nothing = None
    # The suite copy, the leaderboard and the report: all new, or (a full disk) all old.
    with outputs.AtomicFiles() as files:
        if not copy.exists() or copy.resolve() != suite.path.resolve():
            files.write_text(copy, suite.text)
        status = _write_leaderboard(sources, board_out, results, registry, files)
        try:
            _write_report(
                registry, sources, board_out / "report.html", suite, board_out / "report.png", files
            )
        except NothingToReport as exc:  # the leaderboard of failed jobs is still written
            nothing = exc
    if nothing is not None:
        raise nothing
    registry.pm.hook.genrebench_session_finished(
        suite=suite, results=results, leaderboard_folder=board_out, exitstatus=status
    )
    return status


def _given(value, default):
    return default if value is None else value


def _common_run_options(args: argparse.Namespace, out: Path) -> dict:
    from genrebench.cache import default_cache_dir

    return dict(
        out=out,
        jobs=args.jobs,
        device=args.device,
        cache_dir=None if args.no_cache else (args.cache_dir or default_cache_dir()),
        progress=sys.stderr.isatty() and not args.no_progress,
        strict=args.strict,
        executor=args.executor,
        scheduler=args.scheduler,
    )


def _board(sources: Sequence[Path], registry: Registry | None = None):
    """The leaderboard of the jobs under ``sources``, with intervals and significance marks
    (plugins' metrics with a per-track form get theirs too); and the results it was built
    from (one configuration per row).  What was left out or is incomplete is warned about
    on stderr."""
    from genrebench.reporting import leaderboard, stats

    results = leaderboard.find_results(sources)
    metrics = registry.specs("metrics") if registry is not None else ()
    board = stats.annotate(leaderboard.build(results), results, metrics=metrics)
    for line in board.attrs.get("warnings", ()):
        print(f"warning: {line}", file=sys.stderr)
    return board, results


def _write_report(
    registry, sources, out: Path, suite=None, headline: Path | None = None, files=None
) -> None:
    """The report (and its headline picture) of the runs under ``sources``, written as a
    set with ``files`` (:class:`genrebench.results.outputs.AtomicFiles`): rendered in a scratch
    folder first, so the report and picture are both new or both as they were."""
    import tempfile

    from genrebench.reporting import report
    from genrebench.results import outputs

    if files is None:
        with outputs.AtomicFiles() as own:
            return _write_report(registry, sources, out, suite, headline, own)
    board, results = _board(sources, registry)
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


def _write_leaderboard(
    sources: list[Path],
    out: Path,
    results: list[dict],
    registry: Registry | None = None,
    files=None,
) -> int:
    """The leaderboard files of the runs under ``sources`` (staged in ``files`` when given,
    to be written with the caller's other files as one set)."""
    from genrebench.reporting import leaderboard

    board, _ = _board(sources, registry)
    paths = leaderboard.write(board, out, files)
    print(f"leaderboard: {paths[0]}", file=sys.stderr)
    failed = [r for r in results if r["status"] != "ok"]
    if failed:
        print(
            f"{len(failed)} of {len(results)} runs failed (see their metrics.json)", file=sys.stderr
        )
    return 1 if failed else 0


def cmd_suites(registry: Registry, args: argparse.Namespace) -> int:
    from genrebench.run import suites

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


def cmd_leaderboard(registry: Registry, args: argparse.Namespace) -> int:
    from genrebench.reporting import leaderboard
    from genrebench.results import outputs

    outputs.check_writable(args.out, "--out")
    board, _ = _board(args.run_dirs or [Path("runs")], registry)
    paths = leaderboard.write(board, args.out)
    print(paths[0].read_text())
    return 0


def cmd_compare(registry: Registry, args: argparse.Namespace) -> int:
    from genrebench.reporting import leaderboard, resampling, stats

    results = leaderboard.find_results(_run_sources(registry, args))
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


def cmd_report(registry: Registry, args: argparse.Namespace) -> int:
    from genrebench.run import suites

    suite = suites.resolve(registry, args.suite) if args.suite else None
    default = Path("leaderboards") / suite.name / "report.html" if suite else Path("report.html")
    _write_report(registry, _run_sources(registry, args), args.out or default, suite, args.headline)
    return 0


def _run_sources(registry: Registry, args: argparse.Namespace) -> list[Path]:
    """The run folders a command reads: RUN_DIR arguments, or a suite's runs folder."""
    if getattr(args, "suite", None):
        from genrebench.run import suites

        suite = suites.resolve(registry, args.suite)
        return [Path("runs") / suite.name]
    return list(args.run_dirs) or [Path("runs")]


def cmd_data_check(registry: Registry, args: argparse.Namespace) -> int:
    from genrebench.datasets.loaders.base import check_command

    return check_command(registry, args.name, args.data_root, dict(args.dataset_option or ()))


# --------------------------------------------------------------------------- parsing
def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _ratios(text: str) -> dict[str, float]:
    from genrebench.dataset import check_ratios

    try:
        ratios = {k: float(v) for k, v in (_key_value(p) for p in text.split(","))}
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


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1)
_nonnegative_int = _int_at_least(0)


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

    def add_parser(name: str, **kwargs):
        return sub.add_parser(name, parents=[common], **kwargs)

    p = add_parser("list", help="list data sets, features, models, metrics and experiments")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_list)

    p = add_parser(
        "bench",
        help="measure feature speed, memory, executor scaling and harness overhead",
        description=(
            "features: log-mel extraction vs a plain librosa loop on --data-root; memory: "
            "peak RSS at --tracks generated 30 s tracks; executors: 1 vs 2 Dask workers; "
            "overhead: harness vs a bare script"
        ),
    )
    p.add_argument("what", choices=("features", "memory", "executors", "overhead"))
    p.add_argument("--data-root", type=Path, metavar="DIR", help="audio files (features)")
    p.add_argument("--feature", action="append", metavar="NAME", help="feature (repeatable)")
    p.add_argument("--limit", type=_positive_int, metavar="N", help="use the first N files")
    p.add_argument(
        "--tracks",
        type=lambda text: [_positive_int(v) for v in text.split(",")],
        default=[250, 500, 1000, 2000],
        metavar="N,N,...",
        help="track counts for memory (default 250,500,1000,2000)",
    )
    p.add_argument("--experiment", action="append", metavar="NAME", help="(repeatable)")
    p.add_argument("--seeds", type=_positive_int, default=4, help="seeds per experiment")
    p.add_argument("--work-dir", type=Path, metavar="DIR", help="default: a new temp folder")
    p.set_defaults(handler=cmd_bench)

    p = add_parser("run", help="run experiments and write the leaderboard")
    p.add_argument(
        "experiments",
        nargs="*",
        metavar="EXPERIMENT",
        help="experiment names or globs (default: all registered)",
    )
    p.add_argument(
        "--suite",
        metavar="NAME|PATH",
        help="run a benchmark suite (see genrebench suites): its experiments, data sets, "
        "profile, seeds, protocol and split; writes runs/<suite>/ and leaderboards/<suite>/, "
        "or both under --out, unless --leaderboard-out",
    )
    p.add_argument(
        "--dataset",
        action="append",
        metavar="NAME",
        help="data set to run on (repeatable; default: every embedded synthetic set)",
    )
    p.add_argument("--data-root", type=Path, metavar="DIR", help="where the named data set lives")
    p.add_argument(
        "--dataset-option",
        action="append",
        type=_key_value,
        metavar="KEY=VALUE",
        help="option passed to the data set loader (repeatable)",
    )
    p.add_argument(
        "--protocol",
        choices=("benchmark", "paper"),
        help="benchmark (default): every experiment on a data set uses one split (--split, "
        "else the data set's default) and no cap touches the test tracks, so rows compare; "
        "paper: each experiment's own split and caps, to reproduce its paper (results under "
        ".../<profile>/paper-protocol/)",
    )
    p.add_argument(
        "--split",
        metavar="SCHEME",
        help="split scheme of every experiment: a data set's fixed scheme (e.g. fault-filtered, "
        "official, split-0), stratified, or kfold (with --folds); default: the data set's "
        "default under the benchmark protocol, each experiment's own under the paper protocol",
    )
    p.add_argument(
        "--folds",
        type=_int_at_least(3),
        metavar="K",
        help="folds of --split kfold (default 5): each fold is a job, every track is tested "
        "once per seed, and the seed's result pools the folds' test predictions",
    )
    p.add_argument(
        "--split-ratios",
        type=_ratios,
        metavar="PART=SHARE,...",
        help="ratios for the stratified scheme, e.g. train=0.75,test=0.25",
    )
    p.add_argument(
        "--split-seed",
        type=_nonnegative_int,
        help="seed of seeded splits (default 0, the same for every training seed)",
    )
    p.add_argument(
        "--profile",
        metavar="PROFILE",
        help="training budget: quick (demos, CI), paper (the paper's own), or an extra "
        "profile some experiments define (e.g. paper-200ep); default quick",
    )
    p.add_argument("--seeds", type=_positive_int, help="number of training seeds (default 1)")
    p.add_argument(
        "--calibration",
        metavar="NAME",
        help="post-hoc calibrator fitted on the validation tracks, for every experiment: "
        "temperature, temperature-per-label (multi-label), temperature=<T> (fixed), "
        "segment-temperature or segment-temperature=<T> (on each segment before the "
        "aggregation), none, or a plugin's (default: each experiment's own, usually "
        "temperature)",
    )
    p.add_argument("--seed-start", type=_nonnegative_int, help="first seed (default 0)")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where runs and the leaderboard are written (default: runs; for a suite runs/<suite> "
        "and leaderboards/<suite>)",
    )
    p.add_argument(
        "--leaderboard-out",
        type=Path,
        metavar="DIR",
        help="write the leaderboard here instead of --out",
    )
    p.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        help="feature-extraction worker processes (one thread each)",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="training device (auto: CUDA when present)",
    )
    p.add_argument(
        "--executor",
        default="local",
        metavar="local|dask|dask:local:N",
        help="where jobs run: this process (local), a Dask scheduler (dask, with --scheduler) "
        "or a local Dask cluster of N single-threaded workers (dask:local:N)",
    )
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    p.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="feature cache (default: $GENREBENCH_CACHE_DIR or ~/.cache/genrebench/features)",
    )
    p.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the feature cache"
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse data sets whose split lists name tracks that are missing",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=cmd_run)

    p = add_parser("suites", help="list the benchmark suites (genrebench run --suite NAME)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_suites)

    p = add_parser("leaderboard", help="rebuild the leaderboard from saved runs")
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
    p.set_defaults(handler=cmd_leaderboard)

    p = add_parser(
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
    p.set_defaults(handler=cmd_compare)

    p = add_parser(
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
    p.set_defaults(handler=cmd_report)

    p = add_parser("data", help="data set utilities")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    c = data_sub.add_parser("check", help="list missing, unreadable and unexpected files")
    c.add_argument("name", help="data set name")
    c.add_argument("--data-root", type=Path, metavar="DIR", help="where the data set lives")
    c.add_argument("--dataset-option", action="append", type=_key_value, metavar="KEY=VALUE")
    c.set_defaults(handler=cmd_data_check)
    return parser
