"""Feature extraction in worker processes (``genrebench.features.workers``): a native crash costs
one track, named with its feature; one pool serves the whole run; workers import only the
plugin they need and end with the process that started them."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from genrebench.audio import write_audio
from genrebench.cli import main
from genrebench.registry import ENV_STRICT

# A feature that segfaults (a real one, in native code) on a silent track.
CRASHY = """
import ctypes
import numpy as np
from genrebench import ExperimentSpec, FeatureSpec, hookimpl

def peak(audio, sample_rate):
    if not np.any(audio):
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    return np.array([np.abs(audio).max(), np.abs(audio).mean()], dtype=np.float32)

@hookimpl
def genrebench_register_features():
    return [FeatureSpec("crashy/peak", peak, sample_rate=8000)]

@hookimpl
def genrebench_register_experiments():
    return [ExperimentSpec("crashy/centroid", "crashy/peak", "example/nearest-centroid")]
"""

# A feature that reports which process computed it and which plugins that process imported.
PROBE = """
import json, os, sys
import numpy as np
from genrebench import ExperimentSpec, FeatureSpec, hookimpl

OTHERS = ["genrebench_example_plugin", "genrebench.builtin.reference", "genrebench_crashy"]

def probe(audio, sample_rate):
    with open(os.environ["GENREBENCH_TEST_PROBE"], "a") as log:
        seen = [m for m in OTHERS if m in sys.modules]
        log.write(json.dumps({"pid": os.getpid(), "imported": seen}) + "\\n")
    return np.array([audio.std(), np.abs(audio).max()], dtype=np.float32)

@hookimpl
def genrebench_register_features():
    return [FeatureSpec("probe/stats", probe, sample_rate=8000)]

@hookimpl
def genrebench_register_experiments():
    return [ExperimentSpec("probe/centroid", "probe/stats", "example/nearest-centroid")]
"""


def tones(root: Path, per_class: int = 4, silent: str | None = None) -> Path:
    for n, label in enumerate(("low", "high")):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            t = np.arange(4000) / 8000
            tone = 0.3 * np.sin(2 * np.pi * (220 * (1 + 4 * n) + 15 * i) * t)
            write_audio(root / label / f"{i}.wav", tone, 8000)
    if silent:
        write_audio(root / silent, np.zeros(4000), 8000)
    return root


@pytest.fixture(autouse=True)
def lenient_plugins(monkeypatch):
    monkeypatch.delenv(ENV_STRICT, raising=False)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_track_that_crashes_the_extraction_is_skipped_by_name_and_others_go_on(
    jobs, tmp_path, install_plugin, capsys
):
    install_plugin("crashy", CRASHY)
    data = tones(tmp_path / "data", silent="low/silence.wav")
    args = ["run", "crashy/centroid", "--dataset", "folder", "--data-root", str(data)]
    args += ["--no-cache", "--jobs", jobs, "--no-progress", "--out", str(tmp_path / "out")]
    assert main(args) == 0
    err = capsys.readouterr().err
    [line] = [x for x in err.splitlines() if x.strip().startswith("low/silence.wav:")]
    assert "'crashy/peak'" in line and "SIGSEGV" in line
    [provenance] = (tmp_path / "out").rglob("provenance.json")
    skipped = json.loads(provenance.read_text())["skipped_tracks"]
    assert [s["track_id"] for s in skipped] == ["low/silence.wav"]
    [metrics] = (tmp_path / "out").rglob("metrics.json")
    saved = json.loads(metrics.read_text())
    assert saved["n_train_tracks"] + saved["n_valid_tracks"] + saved["n_test_tracks"] == 8


@pytest.mark.parametrize("jobs", [1, 2])
def test_one_pool_of_workers_that_import_only_their_plugin_serves_the_whole_run(
    jobs, tmp_path, install_plugin, monkeypatch
):
    install_plugin("crashy", CRASHY)  # installed, but no worker should import it
    install_plugin("probe", PROBE)
    log = tmp_path / "probe.jsonl"
    monkeypatch.setenv("GENREBENCH_TEST_PROBE", str(log))
    data = tones(tmp_path / "data")
    args = ["run", "probe/centroid", "--dataset", "folder", "--data-root", str(data)]
    args += ["--seeds", "3", "--no-cache", "--jobs", str(jobs), "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 3 * 8  # three jobs, no cache: every job extracts every track
    assert all(c["imported"] == [] for c in calls), calls
    pids = {c["pid"] for c in calls}
    assert os.getpid() not in pids  # extraction runs in workers, even with --jobs 1
    assert len(pids) <= jobs  # the same workers for all three jobs


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie has ended; only its exit status is left


PARENT = """
import sys
from genrebench.registry.loading import load_plugins
from genrebench.features.workers import ExtractionPool
from genrebench.dataset import Track
from pathlib import Path

registry = load_plugins()
spec = registry.get("features", "example/band-energies")
tracks = [Track(p.name, p, ("x",)) for p in sorted(Path(sys.argv[1]).rglob("*.wav"))]
pool = ExtractionPool(2, registry)
assert all(error is None for _, _, error in pool.extract(spec, tracks))
print(" ".join(str(w.process.pid) for w in pool._all), flush=True)
sys.stdin.read()  # wait to be killed
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_the_run_is_killed(tmp_path):
    data = tones(tmp_path / "data")
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(data)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert pids and not any(process_gone(p) for p in pids)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 60
    while not all(process_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(process_gone(p) for p in pids)


WARNY = """
import warnings
import numpy as np
from genrebench import ExperimentSpec, FeatureSpec, hookimpl

def stats(audio, sample_rate):
    warnings.warn("suspicious input")
    return np.array([audio.std(), np.abs(audio).max()], dtype=np.float32)

@hookimpl
def genrebench_register_features():
    return [FeatureSpec("warny/stats", stats, sample_rate=8000)]

@hookimpl
def genrebench_register_experiments():
    return [ExperimentSpec("warny/centroid", "warny/stats", "example/nearest-centroid")]
"""


def test_what_workers_log_is_logged_by_the_run_naming_the_file(tmp_path, install_plugin, caplog):
    install_plugin("warny", WARNY)
    data = tones(tmp_path / "data")
    args = ["run", "warny/centroid", "--dataset", "folder", "--data-root", str(data)]
    args += ["--no-cache", "--jobs", "2", "--no-progress", "--out", str(tmp_path / "out")]
    with caplog.at_level(logging.WARNING):
        assert main(args) == 0
    said = [r.getMessage() for r in caplog.records if "suspicious input" in r.getMessage()]
    assert len(said) == 8  # once per track, in this process
    assert any(str(data / "low" / "0.wav") in m and "'warny/stats'" in m for m in said)


def loud_stats(audio, sample_rate):
    return np.array([audio.std(), np.abs(audio).max()], dtype=np.float32)


def test_a_feature_workers_cannot_load_is_computed_in_this_process(tmp_path, monkeypatch):
    from genrebench import FeatureSpec
    from genrebench.dataset import Track
    from genrebench.features.cache import FeatureCache
    from genrebench.features.extract import extract_all
    from genrebench.features.workers import ExtractionPool

    # A function of this process's __main__ (a user's script, a notebook): it pickles,
    # but a worker has another __main__.
    monkeypatch.setattr(loud_stats, "__module__", "__main__")
    monkeypatch.setattr(sys.modules["__main__"], "loud_stats", loud_stats, raising=False)
    spec = FeatureSpec("script/stats", loud_stats, sample_rate=8000)
    data = tones(tmp_path / "data")
    tracks = [Track(str(p.relative_to(data)), p, ("x",)) for p in sorted(data.rglob("*.wav"))]
    with ExtractionPool(2) as pool:
        result = extract_all(spec, tracks, FeatureCache(None), pool=pool)
    assert not result.problems and len(result.arrays) == len(tracks) == 8


def test_another_worker_starts_only_when_it_would_end_the_work_sooner():
    from types import SimpleNamespace

    from genrebench.features.workers import ExtractionPool

    pool = ExtractionPool(2)
    pool._all.append(SimpleNamespace(stop=lambda: None))  # one worker running
    assert not pool._worth_starting(100)  # nothing measured yet: it goes on alone
    pool._startup_seconds, pool._track_seconds, pool._cpu_share = 2.0, 0.05, 1.0
    assert pool._worth_starting(100)  # 5 s of work left, 2 s to start another
    assert not pool._worth_starting(30)  # 1.5 s left: starting one would not pay
    pool._cpu_share = 0.3  # the running worker gets a third of a core: the machine is busy
    assert not pool._worth_starting(100)
    pool.close()
