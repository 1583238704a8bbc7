"""``genrebench bench``: the figures of the performance log
(``docs/development/performance.md``), measured on your machine and, where it takes audio,
on your data.  Every comparison runs side by side in one
invocation and is reported as a ratio, because absolute seconds mean little on a shared
machine.

    genrebench bench features --data-root DIR   log-mel extraction: plain librosa loop vs
                                                 genrebench (1 and 2 workers) vs bare torch
    genrebench bench memory                      peak memory of a log-mel run at 250, 500,
                                                 1,000 and 2,000 generated 30 s tracks
    genrebench bench executors                   job-parallel suite on 1 vs 2 Dask workers
    genrebench bench overhead                    harness time over a bare script doing the
                                                 same decode, extract, train and predict
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from genrebench.aggregation import aggregate_tracks
from genrebench.audio import AUDIO_EXTENSIONS, load_audio, write_audio
from genrebench.dataset import Track
from genrebench.errors import ConfigError
from genrebench.features.cache import FeatureCache
from genrebench.features.extract import extract_all
from genrebench.features.segments import cut
from genrebench.features.workers import ExtractionPool
from genrebench.registry.loading import load_plugins
from genrebench.run import gpu, scale, session
from genrebench.run.planning import RunOptions, plan
from genrebench.run.runner import Runner
from genrebench.run.stages import limit_split, seed_everything
from genrebench.run.variants import variant_registry
from genrebench.specs import ModelSetup

Row = dict[str, Any]

#: The goals of issue 24, by figure: ``(column, "at least" or "at most", value, what)``.
GOALS = {
    "features": [
        ("speed-up 2 workers", "at least", 2.0, "two workers vs a plain librosa loop"),
        ("in-process / bare", "at least", 0.8, "in-process extraction vs the bare-torch bound"),
    ],
    "overhead": [("overhead", "at most", 0.10, "harness time over a bare loop")],
    "memory": [
        ("peak RSS MiB", "at most", 2048.0, "peak RSS of the job's process, workers not counted")
    ],
    "gpu": [("x real time", "at least", 4000.0, "log-mel on CUDA: EVAR's GPU embedding rate")],
    "scale": [
        ("peak PSS MiB", "at most", 2048.0, "memory of the whole run: PSS of all its processes"),
        (
            "peak RSS sum MiB",
            "at most",
            2048.0,
            "RSS of all its processes, shared pages counted once per process: an upper bound",
        ),
    ],
}


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def print_table(rows: Sequence[Row]) -> None:
    if not rows:
        print("(nothing measured)")
        return
    columns = list(rows[0])
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def goal_lines(rows: Sequence[Row], what: str) -> list[str]:
    """One line per row and goal of ``what`` (see :data:`GOALS`): the measured value, the
    goal and whether it is met."""
    lines = []
    for row in rows:
        label = next(str(v) for v in row.values())  # the row's first column names it
        for column, way, goal, meaning in GOALS.get(what, []):
            value = row.get(column)
            if value is None:
                continue
            met = value >= goal if way == "at least" else value <= goal
            lines.append(
                f"goal: {label}: {column} {_cell(float(value))} ({meaning}); goal {way} "
                f"{_cell(goal)}: {'met' if met else 'MISSED'}"
            )
    return lines


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return "" if value is None else str(value)


# --------------------------------------------------------------------------- features
def audio_files(root: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise ConfigError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) under {root}")
    return files[:limit] if limit else files


def bench_features(
    data_root: Path, names: Sequence[str] = (), limit: int | None = None, rounds: int = 3
) -> list[Row]:
    """For each front-end feature (every registered feature whose extract computes in
    batches and has a librosa reference -- a :class:`~genrebench.frontends.LogMel` or a
    plugin's wrapper of one -- or those named): seconds for a plain ``librosa.load`` +
    librosa loop, for ``extract_all`` without cache through a pool of 1 and of 2 worker
    processes and in this process, and for the bare batched torch compute on already
    decoded audio, the bound (``in-process / bare``: its seconds over the in-process
    path's, decoding included there).  They are timed in turn, ``rounds`` times, and each
    cell is the median.  The pools are started once, before any timing, as a run starts
    its pool once; the seconds the first worker takes to start (interpreter, imports,
    plugin) are the ``worker start-up s`` column."""
    # lazy: loads librosa, not needed at import time
    import librosa

    registry = load_plugins()
    specs = [registry.get("features", n) for n in names] or [
        s for s in registry.specs("features") if _is_front_end(s.extract)
    ]
    for spec in specs:
        if not _is_front_end(spec.extract):
            raise ConfigError(
                f"feature {spec.name!r} is not a front end (an extract with batch() and a "
                "librosa() reference, like genrebench.frontends.LogMel)"
            )
    files = audio_files(data_root, limit)
    tracks = [Track(str(i), path, ("x",)) for i, path in enumerate(files)]
    no_cache = FeatureCache(None)
    rows = []
    with ExtractionPool(1, registry) as one, ExtractionPool(2, registry) as two:
        startup = timed(lambda: extract_all(specs[0], tracks[:1], no_cache, pool=one))
        extract_all(specs[0], tracks[:4], no_cache, pool=two)
        for spec in specs:
            frontend = spec.extract
            frontend.librosa(np.zeros(spec.sample_rate, np.float32))  # compile numba first
            extract_all(spec, tracks[:2], no_cache)  # and warm torch up
            decoded = [load_audio(path, spec.sample_rate) for path in files]

            def plain_loop(spec=spec, frontend=frontend):
                for path in files:
                    audio, _ = librosa.load(path, sr=spec.sample_rate, mono=True)
                    frontend.librosa(audio)

            ways = {
                "librosa loop s": plain_loop,
                "genrebench 1 worker s": lambda spec=spec: extract_all(
                    spec, tracks, no_cache, pool=one
                ),
                "genrebench 2 workers s": lambda spec=spec: extract_all(
                    spec, tracks, no_cache, pool=two
                ),
                "genrebench in-process s": lambda spec=spec: extract_all(spec, tracks, no_cache),
                "bare torch compute s": lambda spec=spec, frontend=frontend, decoded=decoded: (
                    frontend.batch(decoded, spec.sample_rate)
                ),
            }
            seconds: dict[str, list[float]] = {way: [] for way in ways}
            for _ in range(rounds):
                for way, fn in ways.items():
                    seconds[way].append(timed(fn))
            median = {way: float(np.median(values)) for way, values in seconds.items()}
            plain = median["librosa loop s"]
            rows.append(
                {
                    "feature": spec.name,
                    "tracks": len(files),
                    **median,
                    "worker start-up s": startup,
                    "speed-up 1 worker": plain / median["genrebench 1 worker s"],
                    "speed-up 2 workers": plain / median["genrebench 2 workers s"],
                    "speed-up bare": plain / median["bare torch compute s"],
                    # The bound leaves decoding out: the in-process path overlaps it
                    # with the compute, so decode-then-compute would bound nothing.
                    "in-process / bare": median["bare torch compute s"]
                    / median["genrebench in-process s"],
                }
            )
    return rows


def _is_front_end(extract) -> bool:
    return callable(getattr(extract, "batch", None)) and callable(getattr(extract, "librosa", None))


# --------------------------------------------------------------------------- memory
def generate_tracks(
    folder: Path, count: int, seconds: float, sample_rate: int = 22050
) -> list[Path]:
    """``count`` tracks of ``seconds`` in four classes (a tone per class, noise), as
    ``folder/<class>/<n>.wav``; existing files are kept."""
    paths = []
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    for n in range(count):
        label = f"class{n % 4}"
        path = folder / label / f"{n:05d}.wav"
        if not path.exists():
            rng = np.random.default_rng(n)
            tone = np.sin(2 * np.pi * (110 * 2 ** (n % 4)) * t)
            write_audio(path, 0.3 * tone + 0.1 * rng.standard_normal(len(t)), sample_rate)
        paths.append(path)
    return paths


def bench_memory(
    sizes: Sequence[int], experiment: str, work_dir: Path, seconds: float = 30.0
) -> list[Row]:
    """Peak resident memory of one training job (one epoch, two segments per track) of
    ``experiment`` on each number of generated tracks, each in a fresh process; the
    feature cache is shared, so every size after the first extracts only its new tracks."""
    paths = generate_tracks(work_dir / "audio", max(sizes), seconds)
    rows = []
    for size in sizes:
        root = work_dir / f"tracks-{size}"
        for path in paths[:size]:
            link = root / path.parent.name / path.name
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(path)
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "genrebench.run.bench",
                "_memory_child",
                experiment,
                str(root),
                str(work_dir / "cache"),
                str(work_dir / f"out-{size}"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            raise RuntimeError(f"memory run on {size} tracks failed:\n{child.stderr[-2000:]}")
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        rows.append({"tracks": size, **measured})
    return rows


def _memory_child(experiment: str, root: str, cache_dir: str, out: str) -> None:
    """One job in this process; prints its peak RSS (MiB) and seconds as JSON."""

    base = load_plugins().get("experiments", experiment)
    spec = replace(
        base,
        name="bench/memory",
        segments=replace(base.segments, train_count=2, test_count=2),
        profiles={"bench": {"epochs": 1}},
        calibration="none",
    )
    registry = variant_registry(spec)
    options = RunOptions(
        experiments=["bench/memory"],
        datasets=["folder"],
        data_root=Path(root),
        split="stratified",
        split_ratios={"train": 0.8, "test": 0.2},
        profile="bench",
        out=Path(out),
        cache_dir=Path(cache_dir),
    )
    jobs, _ = plan(registry, options)
    started = time.perf_counter()
    # The run loop of genrebench run, with the leaderboard's folder the job's own --out.
    [result], _ = session.run_planned(registry, [(options, jobs, ())], Path(out))
    if result["status"] != "ok":
        raise SystemExit(result.get("error"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"peak RSS MiB": round(peak, 1), "seconds": round(time.perf_counter() - started, 1)}
        )
    )


def memory_slope(rows: Sequence[Row]) -> tuple[float, float]:
    """Least-squares ``(MiB per 1,000 tracks, MiB extrapolated to 8,000 tracks)``."""
    x = np.array([r["tracks"] for r in rows], dtype=float)
    y = np.array([r["peak RSS MiB"] for r in rows], dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    return slope * 1000, slope * 8000 + intercept


# --------------------------------------------------------------------------- executors
def bench_executors(
    experiments: Sequence[str], seeds: int, workers: Sequence[int], work_dir: Path
) -> list[Row]:
    """Wall time of the same job-parallel run on Dask local clusters of each worker count
    (features cached by a first local run, so the jobs dominate)."""
    common = [
        *experiments,
        "--dataset",
        "synthetic-genres",
        "--seeds",
        str(seeds),
        "--no-progress",
        "--cache-dir",
        str(work_dir / "cache"),
    ]
    _cli(["run", *common, "--out", str(work_dir / "warm"), "--seeds", "1"])
    rows = []
    for n in workers:
        seconds = timed(
            lambda n=n: _cli(
                [
                    "run",
                    *common,
                    "--out",
                    str(work_dir / f"dask-{n}"),
                    "--executor",
                    f"dask:local:{n}",
                ]
            )
        )
        rows.append({"workers": n, "jobs": len(experiments) * seeds, "seconds": seconds})
    for row in rows:
        row["speed-up vs first"] = rows[0]["seconds"] / row["seconds"]
    return rows


def _cli(args: Sequence[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "genrebench.cli", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"genrebench {' '.join(args)} failed:\n{done.stderr[-2000:]}")


# --------------------------------------------------------------------------- overhead
def bench_overhead(
    experiments: Sequence[str],
    work_dir: Path,
    rounds: int = 3,
    dataset: str = "synthetic-genres",
    jobs: int = 1,
) -> list[Row]:
    """For each experiment on the embedded ``dataset``, quick profile, no
    feature cache: the harness's job time against a bare loop that decodes, extracts,
    cuts, trains and predicts with the same functions and nothing else, timed in turn
    ``rounds`` times (medians; each harness round writes to a fresh folder, so nothing is
    reused).  The harness's extraction worker is started once before the timing, as a run
    starts its pool once for all its jobs; its start-up is the ``worker start-up s``
    column, a cost per run, not per job.  ``jobs`` is the pool's size (``--jobs``: 1, the
    run's default; a pool grows to its size while the machine has a core to spare)."""

    registry = load_plugins()
    rows = []
    startup = None
    with ExtractionPool(jobs, registry) as pool:
        for name in experiments:

            def runner_for(folder: str, name=name):
                options = RunOptions(
                    experiments=[name],
                    datasets=[dataset],
                    out=work_dir / folder,
                    cache_dir=None,
                )
                [job], _ = plan(registry, options)
                # One job at a time, not the run loop (session.run_planned): what is timed
                # is a job's cost on a run whose pool has started, as a bare loop's is.
                runner = Runner(registry, options)
                runner.pool = pool  # the run's one pool, already started
                runner.load_datasets([job])
                return runner, job

            runner, job = runner_for("bare")
            if startup is None:
                ctx = runner.context(job)
                startup = timed(
                    lambda ctx=ctx: extract_all(
                        ctx.feature, ctx.dataset.tracks[:1], FeatureCache(None), pool=pool
                    )
                )
            seconds: dict[str, list[float]] = {"bare s": [], "harness s": []}
            for k in range(rounds):
                seconds["bare s"].append(
                    timed(lambda runner=runner, job=job: _bare_job(runner, job))
                )
                harness, harness_job = runner_for(f"runs-{name.replace('/', '-')}-{k}")
                seconds["harness s"].append(timed(lambda r=harness, j=harness_job: r.run_job(j)))
            bare, harness = (float(np.median(v)) for v in seconds.values())
            rows.append(
                {
                    "experiment": name,
                    "jobs": jobs,
                    "bare s": bare,
                    "harness s": harness,
                    "overhead": (harness - bare) / harness,
                    "worker start-up s": startup,
                }
            )
    return rows


def _bare_job(runner, job) -> None:

    ctx = runner.context(job)
    split = ctx.dataset.split(ctx.split_request, seed=ctx.split_seed)

    split = limit_split(split, ctx.dataset, ctx.budget, ctx.split_seed)
    seg, feature = ctx.experiment.segments, ctx.feature

    def inputs(ids, count):
        arrays = [
            feature.extract(
                load_audio(ctx.dataset.track(t).path, feature.sample_rate), feature.sample_rate
            )
            for t in ids
        ]
        return cut(arrays, ids, seg, feature, count, ctx.seed)

    x, owner = inputs(split.train, seg.train_count)
    y = ctx.dataset.label_matrix(split.train)[owner]
    x_valid = y_valid = None
    if split.valid:
        x_valid, owner_valid = inputs(split.valid, seg.test_count)
        y_valid = ctx.dataset.label_matrix(split.valid)[owner_valid]
    x_test, owner_test = inputs(split.test, seg.test_count)
    setup = ModelSetup(
        ctx.task,
        list(ctx.dataset.classes),
        tuple(x.shape[1:]),
        ctx.seed,
        ctx.device,
        dict(ctx.experiment.model_params),
        dict(ctx.budget),
    )
    seed_everything(ctx.seed)
    model = ctx.model.create(setup)
    model.fit(x, y, x_valid, y_valid)
    probs = model.predict_proba(x_test)
    aggregate_tracks(probs, owner_test, len(split.test), ctx.experiment.aggregation, ctx.task)


# --------------------------------------------------------------------------- command line
def gpu_goal_lines(rows: Sequence[Row]) -> list[str]:
    """The goal lines of ``bench gpu``'s CUDA rows, or one saying there was none."""
    on_cuda = [r for r in rows if r["device"] == "cuda"]
    if on_cuda:
        return goal_lines(on_cuda, "gpu")
    return ["goal: log-mel on CUDA at least 4000 x real time: not measured (no CUDA device)"]


def _gpu_command(args, work_dir: Path) -> int:
    rows = []
    for feature in args.feature or ["schindler2016/logmel-80"]:
        rows += gpu.bench_logmel(feature, tracks=(args.tracks or [64])[0])
    print_table(rows)
    for line in gpu_goal_lines(rows):
        print(line)
    experiments = args.experiment or ["schindler2016/shallow", "pocelli2024/unet"]
    print()
    print_table(gpu.bench_epochs(experiments, work_dir, profile=args.profile))
    print(f"(work folder: {work_dir})")
    return 0


def _scale_command(args, work_dir: Path) -> int:
    if args.data_dir is None:
        raise ConfigError(
            "bench scale needs --data-dir DIR: where the FMA-small-shaped data set is "
            "generated (outside the repository; about 1.5 GB for 8,000 clips)"
        )
    tables = scale.bench_scale(
        args.data_dir,
        args.tracks or [1000, 2000, 4000, 8000],
        args.experiment or ["reference/logreg", "schindler2016/shallow"],
        work_dir,
        jobs=args.jobs or 2,
        kill_at=args.kill_at,
    )
    for name, rows in tables.items():
        print(f"\n{name}:")
        print_table(rows)
    for line in goal_lines(tables["runs"][-1:], "scale") + scale.growth_goal(tables["growth"]):
        print(line)
    print(f"(work folder: {work_dir})")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_memory_child":
        _memory_child(*argv[1:])
        return
    raise SystemExit("use: genrebench bench {features,memory,executors,overhead} --help")


def run_command(args) -> int:
    """The ``genrebench bench`` subcommands (see :func:`genrebench.cli.build_parser`)."""
    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="gb-bench-"))
    os.environ.setdefault("GENREBENCH_CACHE_DIR", str(work_dir / "cache"))
    if args.what == "features":
        if args.data_root is None:
            raise ConfigError("bench features needs --data-root DIR (a folder of audio files)")
        rows = bench_features(args.data_root, args.feature or (), args.limit)
    elif args.what == "memory":
        experiment = (args.experiment or ["schindler2016/shallow"])[0]
        rows = bench_memory(args.tracks or [250, 500, 1000, 2000], experiment, work_dir)
    elif args.what == "scale":
        return _scale_command(args, work_dir)
    elif args.what == "gpu":
        return _gpu_command(args, work_dir)
    elif args.what == "executors":
        experiments = args.experiment or ["schindler2016/shallow", "schindler2016/deep"]
        rows = bench_executors(experiments, args.seeds, (1, 2), work_dir)
    else:
        experiments = args.experiment or ["reference/logreg", "schindler2016/shallow"]
        rows = bench_overhead(experiments, work_dir, dataset=args.dataset, jobs=args.jobs or 1)
    print_table(rows)
    if args.what == "memory" and len(rows) > 1:
        per_1000, at_8000 = memory_slope(rows)
        print(
            f"slope {per_1000:.1f} MiB per 1,000 tracks; extrapolated to 8,000: {at_8000:.0f} MiB"
        )
    for line in goal_lines(rows, args.what):
        print(line)
    print(f"(work folder: {work_dir})")
    return 0


if __name__ == "__main__":
    main()
