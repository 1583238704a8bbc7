"""Faults of the storage a run writes to (issue 21, item 14): a read-only or not writable
``--out``, a full disk under ``--out`` or the feature cache, a read-only feature cache
(empty, or holding the entries), and Ctrl-C.  Each ends in one clear line naming the folder
and what to do, with the README's exit status (2 before any work, 3 midway, 130 for
Ctrl-C), and loses nothing finished; a finished run in a read-only folder is rebuilt into
a leaderboard elsewhere.

Read-only and full file systems are real: small tmpfs mounts in a private user and mount
namespace (``unshare -rm``), so no privilege is needed and nothing outside is touched."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

GB = f"{shlex.quote(sys.executable)} -m genrebench.cli"
RUN = f"{GB} run example/centroid --dataset example-tones --no-progress"


def namespaces_work() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = "d=$(mktemp -d) && mount -t tmpfs -o size=16k tmpfs $d && umount $d && rmdir $d"
    done = subprocess.run([unshare, "-rm", "sh", "-c", probe], capture_output=True)
    return done.returncode == 0


needs_namespaces = pytest.mark.skipif(
    not namespaces_work(), reason="needs unshare -rm (user and mount namespaces) for tmpfs"
)


def in_namespace(tmp_path: Path, script: str) -> subprocess.CompletedProcess:
    """``script`` (bash, stopping at the first failing command not marked ``|| true``) in
    a private mount namespace, in ``tmp_path``; mounts vanish with it."""
    return subprocess.run(
        ["unshare", "-rm", "bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )


def one_clear_line(stderr: str, *words: str) -> str:
    """The ``genrebench: error:`` line of ``stderr``, checked to name ``words``, and no
    traceback."""
    assert "Traceback" not in stderr, stderr
    [line] = [x for x in stderr.splitlines() if x.startswith("genrebench: error:")]
    for word in words:
        assert word in line, line
    return line


def statuses(out: Path) -> dict[str, str]:
    return {
        str(p.parent.relative_to(out)): json.loads(p.read_text())["status"]
        for p in sorted((out / "runs").rglob("metrics.json"))
    }


# --------------------------------------------------------------------------- --out
@needs_namespaces
def test_a_read_only_out_is_refused_before_any_work(tmp_path):
    done = in_namespace(
        tmp_path,
        f"""mkdir ro && mount -t tmpfs -o ro tmpfs ro
        {RUN} --out ro/out --cache-dir cache 2> err || echo "rc=$?" > rc
        cat err >&2; cat rc""",
    )
    assert done.stdout.strip() == "rc=2", done.stderr
    one_clear_line(done.stderr, "--out ro/out", "read-only", "nothing was run")
    assert not (tmp_path / "cache").exists()  # no feature was extracted either


@needs_namespaces
def test_a_finished_run_in_a_read_only_folder_is_rebuilt_into_a_leaderboard_elsewhere(tmp_path):
    done = in_namespace(
        tmp_path,
        f"""mkdir ro && mount -t tmpfs tmpfs ro
        {RUN} --seeds 2 --out ro/out --cache-dir ro/cache
        mount -o remount,ro ro
        {RUN} --seeds 2 --out ro/out --cache-dir ro/cache --leaderboard-out board
        {GB} leaderboard ro/out/runs --out board2 > /dev/null
        {RUN} --seeds 2 --out ro/out --cache-dir ro/cache 2> err || echo "rc=$?" > rc
        cat err >&2; cat rc""",
    )
    assert done.stdout.strip() == "rc=2", done.stderr
    assert done.stderr.count("(finished earlier, reused)") == 2
    one_clear_line(done.stderr, "--leaderboard-out ro/out", "read-only")
    for board in ("board", "board2"):
        rows = json.loads((tmp_path / board / "leaderboard.json").read_text())
        assert {r["experiment"] for r in rows} == {
            "example/centroid",
            "example/centroid (seed ensemble)",
        }


@needs_namespaces
def test_a_full_out_stops_with_one_line_and_keeps_the_finished_jobs(tmp_path):
    done = in_namespace(
        tmp_path,
        f"""mkdir small && mount -t tmpfs -o size=400k tmpfs small
        {RUN} --seeds 1 --out small/out --cache-dir cache
        head -c 1000000 /dev/zero > small/fill || true
        {RUN} --seeds 3 --out small/out --cache-dir cache 2> err || echo "rc=$?" > rc
        cat err >&2; cat rc
        cp -r small/out kept
        rm small/fill
        {RUN} --seeds 3 --out small/out --cache-dir cache
        cp -r small/out after""",
    )
    assert done.stdout.strip() == "rc=3", done.stderr
    line = one_clear_line(done.stderr, "small/out/runs/example/centroid", "is full")
    assert "free space" in line and "a run started again reuses it" in line
    seed = "runs/example/centroid/example-tones/quick/seed-{}"
    # Seed 0 finished before the disk was full and is still whole; seed 1 is not marked
    # finished; the run after freeing space reused seed 0 and did the rest.
    assert statuses(tmp_path / "kept") == {seed.format(0): "ok"}
    assert (tmp_path / "kept" / seed.format(0) / "predictions.csv").is_file()
    assert done.stderr.count("seed 0: ") == 3 and "(finished earlier, reused)" in done.stderr
    assert len(statuses(tmp_path / "after")) == 4  # 3 seeds and their ensemble


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to folders without write permission")
def test_an_out_without_write_permission_is_refused_before_any_work(tmp_path, capsys):
    from genrebench.cli import main

    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    args = ["run", "example/centroid", "--dataset", "example-tones", "--no-progress"]
    assert main([*args, "--out", str(locked / "out"), "--no-cache"]) == 2
    one_clear_line(capsys.readouterr().err, f"--out {locked / 'out'}", "permission denied")


# --------------------------------------------------------------------------- the cache
@needs_namespaces
def test_a_read_only_or_full_cache_is_used_read_only(tmp_path):
    done = in_namespace(
        tmp_path,
        f"""mkdir ro full filled
        mount -t tmpfs -o ro tmpfs ro
        {RUN} --out empty-ro --cache-dir ro/cache 2> err1
        mount -t tmpfs -o size=64k tmpfs full && head -c 100000 /dev/zero > full/fill || true
        {RUN} --out full-cache --cache-dir full/cache 2> err2
        mount -t tmpfs tmpfs filled
        {RUN} --out first --cache-dir filled/cache 2> /dev/null
        mount -o remount,ro filled
        {RUN} --out filled-ro --cache-dir filled/cache 2> err3
        cat err1 err2 err3 >&2""",
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for cache, why in (
        ("ro/cache", "is on a read-only file system"),
        ("full/cache", "is full (no space left on device)"),
        ("filled/cache", "is on a read-only file system"),
    ):
        warning = f"feature cache {cache} {why}: it is only read from now on"
        assert done.stderr.count(warning) == 1, done.stderr
    for out in ("empty-ro", "full-cache", "filled-ro"):
        assert statuses(tmp_path / out) == {
            "runs/example/centroid/example-tones/quick/seed-0": "ok"
        }
    provenance = next((tmp_path / "filled-ro" / "runs").rglob("provenance.json"))
    features = json.loads(provenance.read_text())["features"]
    assert features["cache_hits"] > 0 and features["computed"] == 0  # read, not recomputed


# --------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_exits_130_with_one_line_and_keeps_the_finished_jobs(tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "genrebench.cli", *shlex.split(RUN)[3:]]
    args += ["--seeds", "40", "--out", str(out), "--no-cache"]
    run = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(list((out / "runs").rglob("metrics.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1] == (
        "genrebench: interrupted; every finished job is kept in its folder, and a run "
        "started again reuses it"
    )
    finished = statuses(out)
    assert 2 <= len(finished) < 40 and set(finished.values()) == {"ok"}
    for folder in finished:
        assert (out / folder / "predictions.csv").is_file()


SWALLOWING_PLUGIN = """
import os, signal, time
import numpy as np
from genrebench import ExperimentSpec, ModelSpec, hookimpl

class Swallowing:
    '''Catches every exception, KeyboardInterrupt included, as careless code does.'''
    def __init__(self, setup):
        self.n = len(setup.classes)
    def fit(self, x, y, xv=None, yv=None):
        try:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while this job trains
            time.sleep(5)
        except BaseException:
            pass
    def predict_proba(self, x):
        return np.full((len(x), self.n), 1 / self.n)

@hookimpl
def genrebench_register_models():
    return [ModelSpec("swallow/model", Swallowing)]

@hookimpl
def genrebench_register_experiments():
    return [ExperimentSpec("swallow/exp", "example/band-energies", "swallow/model")]
"""


def test_ctrl_c_that_a_plugin_swallows_still_stops_the_run_at_the_next_job(
    tmp_path, install_plugin, capsys
):
    from genrebench.cli import main

    install_plugin("swallow", SWALLOWING_PLUGIN)
    before = signal.getsignal(signal.SIGINT)  # pytest-xdist's workers set their own
    out = tmp_path / "out"
    args = ["run", "swallow/exp", "--dataset", "example-tones", "--seeds", "3"]
    assert main([*args, "--no-progress", "--no-cache", "--out", str(out)]) == 130
    assert capsys.readouterr().err.splitlines()[-1].startswith("genrebench: interrupted;")
    # The job that swallowed the interrupt finished; no later job started.
    assert statuses(out) == {"runs/swallow/exp/example-tones/quick/seed-0": "ok"}
    assert signal.getsignal(signal.SIGINT) is before  # put back
