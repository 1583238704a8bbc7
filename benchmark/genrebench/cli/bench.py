"""``genrebench bench``: the performance figures, measured by :mod:`genrebench.run.bench`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from genrebench.cli import common
from genrebench.registry.loading import Registry


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``bench`` command's parser."""
    p = add(
        "bench",
        help="measure feature speed, memory, executor scaling, overhead and runs at scale",
        description=(
            "features: log-mel extraction vs a plain librosa loop on --data-root; memory: "
            "peak RSS at --tracks generated 30 s tracks; executors: 1 vs 2 Dask workers; "
            "overhead: harness vs a bare script; scale: whole runs on an FMA-small-shaped "
            "data set generated into --data-dir (peak memory of all processes, seconds per "
            "stage, resume after SIGKILL); gpu: log-mel throughput and one training epoch on "
            "the CPU and on CUDA when present"
        ),
    )
    p.add_argument("what", choices=("features", "memory", "executors", "overhead", "scale", "gpu"))
    p.add_argument("--data-root", type=Path, metavar="DIR", help="audio files (features)")
    p.add_argument("--feature", action="append", metavar="NAME", help="feature (repeatable)")
    p.add_argument("--limit", type=common.positive_int, metavar="N", help="use the first N files")
    p.add_argument(
        "--tracks",
        type=lambda text: [common.positive_int(v) for v in text.split(",")],
        default=None,
        metavar="N,N,...",
        help="track counts for memory (default 250,500,1000,2000) and scale "
        "(default 1000,2000,4000,8000); gpu: the number of 30 s signals (default 64)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="scale: where the FMA-small-shaped data set is generated once (about 1.5 GB "
        "for 8,000 clips) and reused",
    )
    p.add_argument(
        "--jobs",
        type=common.positive_int,
        help="extraction workers of the harness: overhead (default 1, the run's default) "
        "and scale (default 2)",
    )
    p.add_argument(
        "--kill-at",
        type=_kill_points,
        default=[0.3, "job"],
        metavar="WHEN,...",
        help="scale: SIGKILL the resumed run at each point, a fraction of the uninterrupted "
        "run's wall time or 'job' (5 s after one more job has finished), restarting it each "
        "time (default 0.3,job)",
    )
    p.add_argument("--experiment", action="append", metavar="NAME", help="(repeatable)")
    p.add_argument(
        "--profile",
        default="paper",
        help="gpu: the training budget whose epoch is timed (default paper: the papers' "
        "networks; one epoch, no track caps)",
    )
    p.add_argument("--seeds", type=common.positive_int, default=4, help="seeds per experiment")
    p.add_argument(
        "--dataset",
        default="synthetic-genres",
        metavar="NAME",
        help="embedded data set for overhead (default synthetic-genres; "
        "synthetic-genres-multilabel for multi-label experiments)",
    )
    p.add_argument("--work-dir", type=Path, metavar="DIR", help="default: a new temp folder")
    p.set_defaults(handler=command)


def _kill_points(text: str) -> list[float | str]:
    points: list[float | str] = []
    for value in text.split(","):
        if value == "job":  # genrebench.run.scale.AFTER_A_JOB (not imported: heavy)
            points.append(value)
            continue
        try:
            points.append(float(value))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is neither a fraction nor 'job'") from None
    return points


def command(registry: Registry, args: argparse.Namespace) -> int:
    # lazy: loads pandas, scipy, sklearn, soundfile, soxr, not needed at import time
    from genrebench.run.bench import run_command

    return run_command(args)
