"""1 vs 2 feature-extraction workers, side by side, cold cache.

    python tests/bench/extraction_workers.py [--data DIR] [--feature NAME] [--rounds N]

Extracts every track of a GTZAN-layout folder (default: ``$GENREBENCH_SHARED_DATA/gtzan-mini``)
with a fresh :class:`genrebench.features.workers.ExtractionPool` of 1 and of 2 workers, alternating
(1, 2, 1, 2, ...) so that both see the same machine load, with no feature cache, and prints
the median seconds of each and their ratio.  Worker start-up is included: a run pays it
once.  ``tests/bench/test_bench.py::test_extraction_workers`` times the same with
pytest-benchmark (``tox -e bench``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path


def measure(data: Path, feature: str, rounds: int, counts=(1, 2)) -> dict[int, list[float]]:
    from genrebench.features.cache import FeatureCache
    from genrebench.features.extract import extract_all
    from genrebench.features.workers import ExtractionPool
    from genrebench.registry.loading import load_plugins

    registry = load_plugins()
    spec = registry.get("features", feature)
    tracks = registry.get("datasets", "gtzan").load(data, {}).tracks
    seconds: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(rounds):
        for n in counts:
            started = time.perf_counter()
            with ExtractionPool(n, registry) as pool:
                result = extract_all(spec, tracks, FeatureCache(None), pool=pool)
            seconds[n].append(time.perf_counter() - started)
            assert len(result.arrays) == len(tracks), result.problems
    return seconds


def main() -> None:
    shared = Path(os.environ.get("GENREBENCH_SHARED_DATA", "../shared/data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared / "gtzan-mini")
    parser.add_argument("--feature", default="schindler2016/logmel-80")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    seconds = measure(args.data, args.feature, args.rounds)
    print(f"{args.feature} on {args.data}, {os.cpu_count()} cores, load {load:.1f} at start")
    for n, values in seconds.items():
        rounds = ", ".join(f"{v:.2f}" for v in values)
        print(f"{n} worker(s): median {statistics.median(values):.2f} s ({rounds})")
    ratio = statistics.median(seconds[1]) / statistics.median(seconds[2])
    print(f"speed-up of 2 workers over 1: {ratio:.2f}x (load {os.getloadavg()[0]:.1f} at end)")


if __name__ == "__main__":
    main()
