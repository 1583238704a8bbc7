"""The run loop: one ``genrebench run`` session from planned jobs to saved results.

The command line (``genrebench run``, with or without ``--suite``), the benchmarks and the
tests all call :func:`run_planned`: load every data set of every planned run first (a bad
data root stops everything before any training), check that what must be written can be,
call ``genrebench_session_started``, then run each run's jobs on its executor
(:class:`genrebench.run.runner.Runner`), its cross-experiment ensembles and its seed ensembles
(:mod:`genrebench.run.ensembles`), printing what the rows were evaluated on.  Writing the
leaderboard and calling ``genrebench_session_finished`` is the caller's (the command
writes the board, report and suite copy as one set)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genrebench.registry.loading import Registry
from genrebench.results import outputs
from genrebench.run import ensembles
from genrebench.run.ensembles import EnsembleJob
from genrebench.run.planning import Job, RunOptions
from genrebench.run.runner import Runner

#: One planned run: its options, its jobs and its cross-experiment ensemble jobs.
PlannedRun = tuple[RunOptions, Sequence[Job], Sequence[EnsembleJob]]


def run_planned(
    registry: Registry, planned: Sequence[PlannedRun], board_out: Path, suite: Any = None
) -> tuple[list[dict], list[Path]]:
    """Load every data set of every planned run first (a bad data root stops everything
    before any training) and check that what must be written can be (``--out`` unless
    every job finished there, the leaderboard's folder ``board_out``), then run each run's
    jobs and its ensembles (cross-experiment, then seed ensembles); all their results and
    folders."""
    runners = []
    for options, jobs, ensemble_jobs in planned:
        runner = Runner(registry, options)
        runner.load_datasets(jobs)
        runner.check_storage(jobs)
        runners.append((runner, jobs, ensemble_jobs))
    outputs.check_writable(board_out, "--leaderboard-out")
    registry.pm.hook.genrebench_session_started(
        suite=suite, options=[options for options, _, _ in planned]
    )
    results, folders = [], []
    for runner, jobs, ensemble_jobs in runners:
        ran = runner.run(jobs)
        combined = ensembles.run_all(runner, ensemble_jobs, ran)
        results += ran + combined
        folders += [outputs.result_folder(runner.options.out, r) for r in ran + combined]
        summarise_problems(runner)
        summarise_splits(runner.options, ran)
    return results, folders


def summarise_problems(runner: Runner) -> None:
    """The run's notes and the tracks it skipped, on stderr."""
    for note in sorted(runner.notes):
        print(f"note: {note}", file=sys.stderr)
    if runner.skipped:
        print(f"skipped {len(runner.skipped)} unreadable track(s):", file=sys.stderr)
        for track_id, reason in sorted(runner.skipped.items()):
            print(f"  {track_id}: {reason}", file=sys.stderr)


def summarise_splits(options: RunOptions, results: Sequence[dict]) -> None:
    """What the run's rows were evaluated on, one line per data set and test-track set
    (with the experiments on it when the protocol gave them different ones), then the caps
    the protocol ignored and the test tracks each row lost."""
    sets: dict[tuple, list[str]] = {}
    ignored: dict[str, dict] = {}
    for r in results:
        if r.get("status") != "ok" or "evaluation_set" not in r:
            continue
        key = (r["dataset"], r.get("split"), r["evaluation_set"]["n_tracks"])
        key += (r["evaluation_set"]["sha256"],)
        sets.setdefault(key, [])
        if r["experiment"] not in sets[key]:
            sets[key].append(r["experiment"])
        if r.get("caps", {}).get("ignored"):
            ignored[r["experiment"]] = r["caps"]["ignored"]
        if r.get("n_test_tracks_lost"):
            shown = ", ".join(r.get("test_tracks_lost", []))
            print(
                f"note: {r['experiment']} on {r['dataset']} seed {r['seed']} lost "
                f"{r['n_test_tracks_lost']} of its {r['evaluation_set']['n_tracks']} planned "
                f"test tracks ({shown}): its row is not on the full test set",
                file=sys.stderr,
            )
    datasets = [k[0] for k in sets]
    for (dataset, split, n_tracks, sha), names in sets.items():
        who = "" if datasets.count(dataset) == 1 else f" ({', '.join(names)})"
        print(
            f"split: {dataset}, {options.protocol} protocol: {split}, {n_tracks} test tracks "
            f"(sha256 {sha[:12]}){who}",
            file=sys.stderr,
        )
    for name, caps in sorted(ignored.items()):
        text = ", ".join(f"{k}={v}" for k, v in caps.items())
        print(
            f"note: {name}: {text} ignored: the {options.protocol} protocol never caps the "
            "test tracks",
            file=sys.stderr,
        )
