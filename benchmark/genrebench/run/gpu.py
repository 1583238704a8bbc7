"""``genrebench bench gpu``: log-mel throughput and one training epoch on the CPU and, when
torch sees one, on a CUDA device, side by side.  genrebench never needs a GPU; this says
what one gives.

Throughput is the core's batched torch front end (:class:`genrebench.frontends.LogMel`, as
a feature declares it) on generated 30 s signals already in memory: decoding is left out,
as it runs on the CPU either way.  An epoch is one job of the experiment, run by the
harness on the embedded ``synthetic-genres`` set with its profile's budget but one epoch
and no cap on the tracks, once per device; its ``train_seconds`` are the epoch's.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from genrebench.errors import ConfigError
from genrebench.registry.loading import load_plugins
from genrebench.run import session
from genrebench.run.planning import RunOptions, plan
from genrebench.run.variants import variant_registry

Row = dict[str, Any]

SIGNAL_SECONDS = 30.0
#: Budget keys that cap the tracks a job trains or validates on (dropped for the epoch).
TRACK_CAPS = ("max_train_tracks", "max_valid_tracks")


def devices() -> list[str]:
    """``cpu``, and ``cuda`` when torch sees a CUDA device."""
    import torch  # lazy: heavy, and only this command needs it here

    return ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


def bench_logmel(feature: str, tracks: int = 64, rounds: int = 3) -> list[Row]:
    """Seconds to compute ``feature``'s log-mel of ``tracks`` generated 30 s signals, on
    each device (median of ``rounds`` after one warm-up), as × real time."""
    spec = load_plugins().get("features", feature)
    frontend = spec.extract
    if not callable(getattr(frontend, "batch", None)) or not hasattr(frontend, "device"):
        raise ConfigError(
            f"bench gpu: feature {feature!r} does not compute with the core's torch front "
            "end (genrebench.frontends.LogMel): name one that does"
        )
    rng = np.random.default_rng(0)
    n = int(SIGNAL_SECONDS * spec.sample_rate)
    audios = [0.1 * rng.standard_normal(n).astype(np.float32) for _ in range(tracks)]
    rows = []
    for device in devices():
        on_device = replace(frontend, device=device)
        on_device.batch(audios[:2], spec.sample_rate)  # warm-up: kernels, filterbank
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            on_device.batch(audios, spec.sample_rate)  # ends with .cpu(): synchronised
            times.append(time.perf_counter() - started)
        seconds = statistics.median(times)
        rows.append(
            {
                "feature": feature,
                "device": device,
                "tracks": tracks,
                "seconds": seconds,
                "x real time": round(tracks * SIGNAL_SECONDS / seconds, 1),
            }
        )
    return rows


def bench_epochs(experiments: Sequence[str], work_dir: Path, profile: str = "paper") -> list[Row]:
    """Seconds of one training epoch of each experiment (``profile``'s budget, one epoch,
    no track caps) on each device, and the CPU / CUDA ratio."""
    rows = []
    for name in experiments:
        seconds = {device: _one_epoch(name, profile, device, work_dir) for device in devices()}
        cuda = seconds.get("cuda")
        row: Row = {
            "experiment": f"{name} ({profile}, 1 epoch)",
            "cpu s": seconds["cpu"],
            "cuda s": "no CUDA device" if cuda is None else cuda,
            "cpu / cuda": None if cuda is None else round(seconds["cpu"] / cuda, 2),
        }
        rows.append(row)
    return rows


def _one_epoch(name: str, profile: str, device: str, work_dir: Path) -> float:
    base = load_plugins().get("experiments", name)
    if profile not in base.profiles:
        raise ConfigError(f"bench gpu: {name} has no profile {profile!r}")
    budget = {k: v for k, v in base.profiles[profile].items() if k not in TRACK_CAPS}
    bench_name = f"bench/{name.replace('/', '-')}"
    spec = replace(base, name=bench_name, profiles={"bench": {**budget, "epochs": 1}})
    registry = variant_registry(spec)
    out = work_dir / f"epoch-{bench_name.replace('/', '-')}-{device}"
    options = RunOptions(
        experiments=[bench_name],
        datasets=["synthetic-genres"],
        profile="bench",
        device=device,
        out=out,
        cache_dir=work_dir / "cache",
        progress=False,
    )
    jobs, _ = plan(registry, options)
    [result], _ = session.run_planned(registry, [(options, jobs, ())], out)
    if result["status"] != "ok":
        raise RuntimeError(f"bench gpu: {name} on {device} failed: {result.get('error')}")
    return round(float(result["cost"]["train_seconds"]), 3)
