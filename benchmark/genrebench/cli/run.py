"""``genrebench run``: plan experiments (or a suite's runs), run them through the run loop
(:func:`genrebench.run.session.run_planned`) and write the leaderboard."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from genrebench.cache import default_cache_dir
from genrebench.cli import common
from genrebench.errors import ConfigError
from genrebench.registry.loading import Registry


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``run`` command's parser."""
    p = add("run", help="run experiments and write the leaderboard")
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
        type=common.key_value,
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
        type=common.int_at_least(3),
        metavar="K",
        help="folds of --split kfold (default 5): each fold is a job, every track is tested "
        "once per seed, and the seed's result pools the folds' test predictions",
    )
    p.add_argument(
        "--split-ratios",
        type=common.ratios,
        metavar="PART=SHARE,...",
        help="ratios for the stratified scheme, e.g. train=0.75,test=0.25",
    )
    p.add_argument(
        "--split-seed",
        type=common.nonnegative_int,
        help="seed of seeded splits (default 0, the same for every training seed)",
    )
    p.add_argument(
        "--profile",
        metavar="PROFILE",
        help="training budget: quick (demos, CI), paper (the paper's own), or an extra "
        "profile some experiments define (e.g. paper-200ep); default quick",
    )
    p.add_argument("--seeds", type=common.positive_int, help="number of training seeds (default 1)")
    p.add_argument(
        "--calibration",
        metavar="NAME",
        help="post-hoc calibrator fitted on the validation tracks, for every experiment: "
        "temperature, temperature-per-label (multi-label), temperature=<T> (fixed), "
        "segment-temperature or segment-temperature=<T> (on each segment before the "
        "aggregation), none, or a plugin's (default: each experiment's own, usually "
        "temperature)",
    )
    p.add_argument("--seed-start", type=common.nonnegative_int, help="first seed (default 0)")
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
        type=common.positive_int,
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
    p.set_defaults(handler=command)


def command(registry: Registry, args: argparse.Namespace) -> int:
    # lazy: loads pandas, scipy, sklearn, soundfile, soxr, not needed at import time
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
    status = common.write_leaderboard([options.out / "runs"], board_out, results, registry)
    registry.pm.hook.genrebench_session_finished(
        suite=None, results=results, leaderboard_folder=board_out, exitstatus=status
    )
    return status


def _run_suite(registry: Registry, args: argparse.Namespace) -> int:
    """``run --suite``: check the whole suite, plan and load every run's data, then run;
    the leaderboard holds exactly the suite's jobs and sits beside a copy of its file."""
    # lazy: loads pandas, scipy, sklearn, soundfile, soxr, not needed at import time
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
        status = common.write_leaderboard(sources, board_out, results, registry, files)
        try:
            common.write_report(
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
