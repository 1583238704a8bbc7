"""``genrebench bench scale``: a whole ``genrebench run`` on an FMA-small-shaped data set at
growing sizes, with the peak memory of every process of the run, the wall time of each stage,
and a resume after SIGKILL.

The data set is generated once into a folder of the user's (outside the repository: 8,000
clips take about 1.5 GB): ``fma_small/NNN/NNNNNN.mp3`` and ``fma_metadata/tracks.csv`` with
FMA's two header rows, so the real ``fma-small`` loader reads it.  Like fma_small it has
8 balanced genres, 30 s clips and an 80/10/10 training/validation/test split.  Unlike it,
the clips are synthetic (:func:`genrebench.datasets.synthetic.render.render_track`, one
seed per clip, so no two clips are alike and the content-keyed cache never turns one into
another's hit) and 22.05 kHz mono rather than 44.1 kHz stereo: MP3 encoding is what
generation spends its time on (0.22 s a clip against 0.93 s, measured once on the
development machine).  Decoding a 44.1 kHz stereo clip also costs more (0.05 s against
0.012 s there), so the figures are for this data set, not for FMA itself.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import pairwise
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import soundfile as sf

from genrebench.audio import write_audio
from genrebench.datasets.synthetic.render import render_track
from genrebench.datasets.synthetic.styles import GENRES
from genrebench.errors import ConfigError
from genrebench.evaluation.columns import COST_COLUMNS

Row = dict[str, Any]

#: fma_small's shape: 8 genres x 1,000 clips of 30 s, split 80/10/10 within each genre.
TRACKS = 8000
SECONDS = 30.0
SAMPLE_RATE = 22050
N_GENRES = 8
#: Where a clip falls by ``(n // N_GENRES) % 10``: eight in training, one each in validation
#: and test, so every prefix of 80 clips is balanced and split 80/10/10.
SPLIT_OF_DECILE = ("training",) * 8 + ("validation", "test")
FORMAT = "mp3"  # as FMA ships it; FLAC where libsndfile cannot encode MP3
#: The first track id (FMA's own ids start at 2 and are sparse; these are dense).
FIRST_ID = 2

#: A ``--kill-at`` entry that kills the attempt a few seconds after one more job has
#: finished (so that the next attempt has a finished job it must not redo).
AFTER_A_JOB = "job"
SECONDS_AFTER_A_JOB = 5.0


def genres() -> tuple[str, ...]:
    return GENRES[:N_GENRES]


def track_id(n: int) -> str:
    return f"{FIRST_ID + n:06d}"


def clip_genre(n: int) -> str:
    return genres()[n % N_GENRES]


def clip_split(n: int) -> str:
    return SPLIT_OF_DECILE[(n // N_GENRES) % 10]


def audio_format() -> str:
    return FORMAT if FORMAT.upper() in sf.available_formats() else "flac"


def clip_path(data_dir: Path, n: int, suffix: str) -> Path:
    tid = track_id(n)
    return data_dir / "fma_small" / tid[:3] / f"{tid}.{suffix}"


def _write_clips(data_dir: str, numbers: Sequence[int], seconds: float, suffix: str) -> int:
    """Render and encode the clips ``numbers`` that do not exist yet (in a worker)."""
    written = 0
    for n in numbers:
        path = clip_path(Path(data_dir), n, suffix)
        if path.exists():
            continue
        audio = render_track([clip_genre(n)], seed=n, duration=seconds, sample_rate=SAMPLE_RATE)
        write_audio(path, audio, SAMPLE_RATE)  # atomic: a killed generation leaves no half
        written += 1
    return written


def generate(
    data_dir: Path, count: int = TRACKS, seconds: float = SECONDS, workers: int = 2
) -> int:
    """Write the first ``count`` clips that are missing under ``data_dir`` and its
    ``fma_metadata/tracks.csv``; returns how many clips were written (0 when all exist)."""
    if count < 1:
        raise ConfigError(f"bench scale: need at least one track, got {count}")
    data_dir = Path(data_dir)
    suffix = audio_format()
    _check_generator(data_dir, {"seconds": seconds, "sample_rate": SAMPLE_RATE, "format": suffix})
    missing = [n for n in range(count) if not clip_path(data_dir, n, suffix).exists()]
    written = 0
    if missing:
        chunks = [missing[i : i + 40] for i in range(0, len(missing), 40)]
        # spawn: a fresh interpreter per worker, whatever this process has imported
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_write_clips, str(data_dir), c, seconds, suffix) for c in chunks]
            for done, future in enumerate(futures, 1):
                written += future.result()
                print(f"\rgenerated {min(done * 40, len(missing))}/{len(missing)} clips", end="")
        print()
    write_tracks_csv(data_dir / "fma_metadata" / "tracks.csv", count)
    return written


def _check_generator(data_dir: Path, record: dict[str, Any]) -> None:
    """Record how the clips under ``data_dir`` are made, or refuse to add clips made
    differently to the ones there."""
    path = data_dir / "generator.json"
    if path.exists():
        found = json.loads(path.read_text())
        if found != record:
            raise ConfigError(
                f"bench scale: {data_dir} holds clips generated with {found}, not {record}; "
                "use another --data-dir"
            )
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record) + "\n")


def write_tracks_csv(path: Path, count: int) -> None:
    """FMA's ``tracks.csv`` layout (two header rows, then a row naming the index) for the
    first ``count`` clips, with the columns the loader reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["", "track", "set", "set"])
        out.writerow(["", "genre_top", "subset", "split"])
        out.writerow(["track_id", "", "", ""])
        for n in range(count):
            out.writerow([str(FIRST_ID + n), clip_genre(n), "small", clip_split(n)])
    tmp.replace(path)


def subset(data_dir: Path, size: int) -> Path:
    """A data root holding the first ``size`` clips: its own ``tracks.csv`` and a link to
    the shared audio folder."""
    root = data_dir / "subsets" / str(size)
    audio = root / "fma_small"
    if not audio.is_symlink():
        root.mkdir(parents=True, exist_ok=True)
        audio.symlink_to(Path("..", "..", "fma_small"), target_is_directory=True)
    write_tracks_csv(root / "fma_metadata" / "tracks.csv", size)
    return root


# --------------------------------------------------------------------------- memory
def _psutil():
    try:
        import psutil  # an extra (genrebench[bench]): only this command needs it
    except ImportError:
        raise ConfigError(
            "bench scale needs psutil to measure a run's processes: pip install "
            "'genrebench[bench]' (or psutil)"
        ) from None
    return psutil


class TreeMemory:
    """Samples the memory of a process and all its descendants (every ``interval`` s, in a
    thread) and keeps the peaks of their sums.  Two sums, because processes share pages
    (the libraries they all map, torch's above all): the RSS sum counts a shared page once
    per process that maps it, an upper bound; the PSS sum (proportional set size, from
    ``/proc/PID/smaps_rollup``) splits it between them, which is what the run takes from
    the machine."""

    def __init__(self, pid: int, interval: float = 0.2):
        psutil = _psutil()
        self._root = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self.peak_rss_mib = 0.0
        self.peak_pss_mib = 0.0
        self.peak_processes = 0
        self.peak_main_mib = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        psutil = _psutil()
        while not self._stop.is_set():
            rss = pss = count = 0
            try:
                processes = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                return  # the run has ended
            for process in processes:
                try:
                    info = process.memory_full_info()
                except psutil.Error:
                    continue  # ended between the listing and the reading
                rss, pss, count = rss + info.rss, pss + info.pss, count + 1
                if process is self._root:
                    self.peak_main_mib = max(self.peak_main_mib, info.pss / 2**20)
            self.peak_rss_mib = max(self.peak_rss_mib, rss / 2**20)
            if pss / 2**20 > self.peak_pss_mib:
                self.peak_pss_mib, self.peak_processes = pss / 2**20, count
            self._stop.wait(self._interval)


# --------------------------------------------------------------------------- runs
def run_command_line(
    root: Path, experiments: Sequence[str], out: Path, cache: Path, profile: str, jobs: int
) -> list[str]:
    return [
        sys.executable, "-m", "genrebench.cli", "run",
        "--dataset", "fma-small", "--data-root", str(root),
        "--profile", profile, "--jobs", str(jobs),
        "--out", str(out), "--cache-dir", str(cache), "--no-progress",
        *experiments,
    ]  # fmt: skip


def run_once(
    command: list[str],
    log: Path,
    kill_after: float | None = None,
    kill_when: Callable[[], bool] | None = None,
) -> Row:
    """Run ``command`` (a ``genrebench run``) in its own process group, SIGKILLed with all
    its processes after ``kill_after`` seconds, or once ``kill_when()`` is true (checked
    every 0.5 s), if given; its wall seconds, exit status and the peak memory of its
    process tree."""
    started = time.perf_counter()
    killed = False
    with open(log, "a") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        with TreeMemory(process.pid) as memory:
            while process.poll() is None:
                late = kill_after is not None and time.perf_counter() - started >= kill_after
                if late or (kill_when is not None and kill_when()):
                    os.killpg(process.pid, signal.SIGKILL)  # the run and its workers, at once
                    killed = True
                    break
                time.sleep(0.5 if kill_after is None else min(0.5, kill_after / 10))
            rc = process.wait()
    return {
        "wall s": round(time.perf_counter() - started, 1),
        "exit": rc,
        "killed": killed,
        "peak PSS MiB": round(memory.peak_pss_mib, 1),
        "processes": memory.peak_processes,
        "main process PSS MiB": round(memory.peak_main_mib, 1),
        "peak RSS sum MiB": round(memory.peak_rss_mib, 1),
    }


def finished_jobs(out: Path) -> dict[str, float]:
    """``{job folder: mtime of its metrics.json}`` of the finished jobs under ``out``."""
    return {
        str(p.parent.relative_to(out)): p.stat().st_mtime
        for p in sorted(out.rglob("metrics.json"))
        if p.parent.name.startswith("seed-") and p.parent.name != "seed-ensemble"
    }


def stage_rows(out: Path, size: int, label: str = "uninterrupted") -> list[Row]:
    """Seconds per stage of each finished job under ``out`` (from its ``metrics.json`` and
    ``provenance.json``): features (decode + extract, or cache reads), training, prediction
    of the test tracks, and the rest of the job (split, segments, calibration, metrics,
    writing its files)."""
    rows = []
    for folder in finished_jobs(out):
        job = out / folder
        summary = json.loads((job / "metrics.json").read_text())
        provenance = json.loads((job / "provenance.json").read_text())
        cost = summary["cost"]
        predict = cost["inference_seconds_per_track"] * summary["n_test_tracks"]
        staged = cost["feature_seconds"] + cost["train_seconds"] + predict
        rows.append(
            {
                "tracks": size,
                "run": label,
                "experiment": provenance["config"]["experiment"]["name"],
                "train/valid/test": f"{summary['n_train_tracks']}/{summary['n_valid_tracks']}"
                f"/{summary['n_test_tracks']}",
                "features s": cost["feature_seconds"],
                "extracted": provenance["features"]["computed"],
                "cache hits": provenance["features"]["cache_hits"],
                "train s": cost["train_seconds"],
                "predict s": round(predict, 3),
                "rest s": round(cost["total_seconds"] - staged, 3),
                "job s": cost["total_seconds"],
                "accuracy": summary["metrics"].get("accuracy"),
            }
        )
    return rows


def leaderboard_scores(out: Path) -> list[dict[str, Any]]:
    """The leaderboard's rows without the columns that measure the run's cost (seconds
    differ from run to run)."""
    rows = json.loads((out / "leaderboard.json").read_text())
    return [
        {k: v for k, v in row.items() if k.removesuffix("_std") not in COST_COLUMNS} for row in rows
    ]


def growth(rows: Sequence[Row]) -> list[Row]:
    """MiB of peak memory per 1,000 more tracks between consecutive sizes."""
    return [
        {
            "from tracks": a["tracks"],
            "to tracks": b["tracks"],
            "MiB per 1,000 tracks": round(
                (b["peak PSS MiB"] - a["peak PSS MiB"]) / (b["tracks"] - a["tracks"]) * 1000, 1
            ),
        }
        for a, b in pairwise(rows)
    ]


def bench_scale(
    data_dir: Path,
    sizes: Sequence[int],
    experiments: Sequence[str],
    work_dir: Path,
    profile: str = "quick",
    jobs: int = 2,
    kill_at: Sequence[float | str] = (0.3, AFTER_A_JOB),
    seconds: float = SECONDS,
) -> dict[str, list[Row]]:
    """Generate the data set (once) and run ``experiments`` on each size, each run with an
    empty feature cache and output folder; then, at the largest size, a run SIGKILLed as
    ``kill_at`` says (see :func:`bench_resume`) and resumed, compared with the
    uninterrupted run.  Returns the tables: ``runs``, ``stages``, ``growth``,
    ``resume``."""
    sizes = sorted(set(sizes))
    if not experiments:
        raise ConfigError("bench scale: name at least one --experiment")
    generate(data_dir, max(sizes), seconds)
    work_dir.mkdir(parents=True, exist_ok=True)
    runs, stages = [], []
    for size in sizes:
        out, cache = work_dir / f"run-{size}", work_dir / f"cache-{size}"
        _fresh(out, cache)
        command = run_command_line(subset(data_dir, size), experiments, out, cache, profile, jobs)
        log = work_dir / f"run-{size}.log"
        row = run_once(command, log)
        if row["exit"] != 0:
            raise RuntimeError(f"bench scale: the run on {size} tracks failed; see {log}")
        (work_dir / f"run-{size}.json").write_text(json.dumps(row))
        jobs_of_run = stage_rows(out, size)
        in_jobs = sum(job["job s"] for job in jobs_of_run)
        runs.append(
            {
                "tracks": size,
                **{k: v for k, v in row.items() if k != "killed"},
                # interpreter start-up, loading the data set, planning, the leaderboard
                "outside jobs s": round(row["wall s"] - in_jobs, 1),
            }
        )
        stages += jobs_of_run
    resume = bench_resume(
        data_dir, max(sizes), experiments, work_dir, profile, jobs, kill_at, runs[-1]["wall s"]
    )
    resume.append(
        {
            "run": "uninterrupted",
            "wall s": runs[-1]["wall s"],
            "finished jobs": len(finished_jobs(work_dir / f"run-{max(sizes)}")),
        }
    )
    same = leaderboard_scores(work_dir / f"run-{max(sizes)}") == leaderboard_scores(
        work_dir / "resumed"
    )
    resume.append({"run": "same scores as uninterrupted", "wall s": None, "finished jobs": same})
    stages += stage_rows(work_dir / "resumed", max(sizes), label="resumed")
    return {"runs": runs, "stages": stages, "growth": growth(runs), "resume": resume}


def bench_resume(
    data_dir: Path,
    size: int,
    experiments: Sequence[str],
    work_dir: Path,
    profile: str,
    jobs: int,
    kill_at: Sequence[float | str],
    uninterrupted: float,
) -> list[Row]:
    """A run on ``size`` tracks killed (SIGKILL, all its processes) once per entry of
    ``kill_at`` -- a fraction of the uninterrupted run's wall time since the first start,
    or :data:`AFTER_A_JOB` -- and started again each time, until it finishes.  Each row
    says how long the attempt ran, how many jobs had finished and whether a job that had
    finished in an earlier attempt was written again (it must not be)."""
    out, cache = work_dir / "resumed", work_dir / "cache-resumed"
    _fresh(out, cache)
    command = run_command_line(subset(data_dir, size), experiments, out, cache, profile, jobs)
    rows, finished = [], {}
    elapsed = 0.0
    for attempt, when in enumerate([*kill_at, None], 1):
        kill_after = kill_when = None
        if when == AFTER_A_JOB:
            kill_when = _after_one_more_job(out, len(finished))
        elif when is not None:
            kill_after = max(float(when) * uninterrupted - elapsed, 1.0)
        row = run_once(command, work_dir / "resumed.log", kill_after, kill_when)
        elapsed += row["wall s"]
        now = finished_jobs(out)
        rewritten = [job for job, mtime in finished.items() if now.get(job) != mtime]
        rows.append(
            {
                "run": f"attempt {attempt}" + (" (SIGKILL)" if row["killed"] else ""),
                "wall s": row["wall s"],
                "exit": row["exit"],
                "finished jobs": len(now),
                "finished earlier, redone": len(rewritten),
                "peak PSS MiB": row["peak PSS MiB"],
            }
        )
        if not row["killed"]:
            break  # finished before its kill point: nothing is left to resume
        finished = now
    return rows


def _after_one_more_job(out: Path, finished: int) -> Callable[[], bool]:
    """True from :data:`SECONDS_AFTER_A_JOB` after more than ``finished`` jobs under
    ``out`` have finished."""
    seen: list[float] = []

    def due() -> bool:
        if not seen and len(finished_jobs(out)) > finished:
            seen.append(time.perf_counter())
        return bool(seen) and time.perf_counter() - seen[0] >= SECONDS_AFTER_A_JOB

    return due


def _fresh(*folders: Path) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


#: "Grows at most linearly": the memory added per 1,000 tracks between the two largest
#: sizes is at most this multiple of that between the two smallest (a margin for the
#: sampling of a peak every 0.2 s).
GROWTH_MARGIN = 1.2


def growth_goal(rows: Sequence[Row]) -> list[str]:
    """The goal line for linear growth (see :data:`GROWTH_MARGIN`)."""
    if len(rows) < 2:
        return []
    first, last = rows[0]["MiB per 1,000 tracks"], rows[-1]["MiB per 1,000 tracks"]
    met = last <= GROWTH_MARGIN * max(first, 0.0) or last <= 0
    return [
        f"goal: peak PSS grows at most linearly: {last} MiB per 1,000 tracks from "
        f"{rows[-1]['from tracks']} to {rows[-1]['to tracks']} vs {first} from "
        f"{rows[0]['from tracks']} to {rows[0]['to tracks']}; goal at most "
        f"{GROWTH_MARGIN}x: {'met' if met else 'MISSED'}"
    ]
