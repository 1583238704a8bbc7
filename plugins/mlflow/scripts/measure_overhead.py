"""What the MLflow plugin adds to a run's time, measured side by side.

Runs a small suite (the reference experiments, 2 seeds, on a small synthetic set: 9 jobs)
``--rounds`` times without MLflow and with it, interleaved, each time into a fresh output
folder (the jobs run again; the feature cache is warm for both), and times the whole
``genrebench run`` and, separately, the time spent inside the plugin's hooks.

    python plugins/mlflow/scripts/measure_overhead.py --uri sqlite:////tmp/m/mlflow.db
    python plugins/mlflow/scripts/measure_overhead.py --uri http://127.0.0.1:5000

Also prints the time ``import mlflow`` takes in a fresh interpreter (paid once per run,
only when the plugin is on).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE = """\
name = "mlflow-overhead"
description = "the reference experiments on a small synthetic set"

[[runs]]
experiments = ["reference/*"]
datasets = ["synthetic-genres"]
dataset_options = { tracks_per_class = 5, duration = 2.0 }
seeds = 2
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", required=True, help="MLFLOW_TRACKING_URI to measure")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from genrebench_mlflow import plugin

    from genrebench.cli import main as genrebench

    hook_seconds = [0.0]
    for name in (
        "genrebench_session_started",
        "genrebench_run_finished",
        "genrebench_session_finished",
    ):
        original = getattr(plugin, name)

        @functools.wraps(original)  # pluggy reads the argument names through __wrapped__
        def timed(*a, _original=original, **k):
            started = time.perf_counter()
            try:
                return _original(*a, **k)
            finally:
                hook_seconds[0] += time.perf_counter() - started

        # pluggy registers what the module holds when the CLI loads the plugins
        setattr(plugin, name, timed)

    scratch = Path(tempfile.mkdtemp(prefix="mlflow-overhead-"))
    suite = scratch / "suite.toml"
    suite.write_text(SUITE)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    times: dict[str, list[float]] = {"off": [], "on": []}
    hooks: list[float] = []
    plan = [(-1, "off")] + [(k, mode) for k in range(args.rounds) for mode in ("off", "on")]
    for k, mode in plan:  # round -1 warms the data and feature caches up, not counted
        if mode == "on":
            os.environ["MLFLOW_TRACKING_URI"] = args.uri
        else:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        out = scratch / f"{mode}-{k}"
        hook_seconds[0] = 0.0
        started = time.perf_counter()
        status = genrebench(
            [
                "run",
                "--suite",
                str(suite),
                "--out",
                str(out / "runs"),
                "--leaderboard-out",
                str(out / "board"),
                "--no-progress",
            ]
        )
        if k >= 0:
            times[mode].append(time.perf_counter() - started)
        if mode == "on":
            hooks.append(hook_seconds[0])
        assert status == 0, f"run failed ({mode}, round {k})"
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    print(f"runs per mode: {args.rounds} (9 jobs each); uri: {args.uri}")
    print(
        f"median run without MLflow: {off:.2f} s, with: {on:.2f} s ({(on / off - 1) * 100:+.1f} %)"
    )
    print(
        f"median time inside the plugin's hooks: {statistics.median(hooks):.2f} s "
        f"({statistics.median(hooks) / 9:.3f} s per job)"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mlflow"], check=True)
    print(
        f"import mlflow in a fresh interpreter (paid once per run when on): "
        f"{time.perf_counter() - started:.2f} s"
    )


if __name__ == "__main__":
    main()
