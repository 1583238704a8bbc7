"""Mutation testing of the core's pure modules (``tox -e mutation``), with mutmut.

mutmut 3 mutates a copy of the sources under ``mutants/`` and imports it from ``./``,
``src/`` or ``source/``, so this script lays out a work folder it understands (default
``.mutation/`` in the repository, ignored by git): ``src/genrebench`` (a copy of
``benchmark/genrebench``), ``tests`` and a ``pyproject.toml`` holding the project's pytest
settings and the mutmut configuration.  The copy keeps modification times, so a second run
re-tests only the functions that changed.  It then runs mutmut on the modules named on the
command line (default: all of ``MODULES``) and prints, per module, how many mutants the
unit tests killed.

    tox -e mutation                      # every module in MODULES
    tox -e mutation -- segments cache    # some of them
    python tests/mutation.py --jobs 2 aggregation
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The pure modules whose behaviour the unit tests pin.
MODULES = ("metrics", "aggregation", "cache", "leaderboard", "dataset", "segments")
#: Fast unit tests only: mutmut runs, per mutant, those of them that reach the mutated code.
TESTS = (
    "tests/test_core_pieces.py",
    "tests/test_metrics.py",
    "tests/test_leaderboard.py",
    "tests/test_data_safety.py",
)
#: mutmut's verdicts that count as the mutant detected.
DETECTED = {"killed", "timeout"}


def prepare(work: Path, modules: list[str]) -> None:
    """Copy the sources and tests into ``work`` and write its ``pyproject.toml``."""
    work.mkdir(parents=True, exist_ok=True)
    for source, target in ((ROOT / "benchmark" / "genrebench", work / "src" / "genrebench"),
                           (ROOT / "tests", work / "tests")):  # fmt: skip
        shutil.copytree(
            source,
            target,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pytest_settings = re.search(r"(?ms)^\[tool\.pytest\.ini_options\].*?(?=^\[)", project)
    assert pytest_settings, "pyproject.toml has no [tool.pytest.ini_options]"
    mutmut = {
        "source_paths": ["src/genrebench"],
        "only_mutate": [f"src/genrebench/{m}.py" for m in modules],
        "pytest_add_cli_args_test_selection": list(TESTS),
        # torch and the forkserver executors are not fork-safe in an arbitrary state
        "process_isolation": "forkserver",
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in mutmut.items()]
    text = pytest_settings.group(0) + "\n[tool.mutmut]\n" + "\n".join(lines) + "\n"
    (work / "pyproject.toml").write_text(text, encoding="utf-8")


def scores(results: str, modules: list[str]) -> dict[str, dict[str, int]]:
    """``{module: {verdict: count}}`` from ``mutmut results --all true``."""
    counts: dict[str, Counter] = {m: Counter() for m in modules}
    for line in results.splitlines():
        name, sep, verdict = line.strip().rpartition(": ")
        match = re.match(r"genrebench\.(\w+)\.", name)
        if sep and match and match.group(1) in counts:
            counts[match.group(1)][verdict] += 1
    return {m: dict(c) for m, c in counts.items()}


def report(table: dict[str, dict[str, int]]) -> str:
    lines = [f"{'module':<12} {'mutants':>7} {'killed':>7} {'survived':>8} {'no test':>7} "
             f"{'timeout':>7} {'score':>6}"]  # fmt: skip
    for module, counts in table.items():
        total = sum(counts.values())
        detected = sum(counts.get(v, 0) for v in DETECTED)
        score = f"{100 * detected / total:.0f} %" if total else "-"
        lines.append(
            f"{module:<12} {total:>7} {counts.get('killed', 0):>7} "
            f"{counts.get('survived', 0):>8} {counts.get('no tests', 0):>7} "
            f"{counts.get('timeout', 0):>7} {score:>6}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULES))
    parser.add_argument("--work", type=Path, default=ROOT / ".mutation", help="work folder")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutmut workers")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown modules {unknown}; choose among {', '.join(MODULES)}")
    modules = list(args.modules or MODULES)
    prepare(args.work, modules)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    mutmut = [sys.executable, "-m", "mutmut"]
    subprocess.run([*mutmut, "run", "--max-children", str(args.jobs)], cwd=args.work, env=env)
    listing = subprocess.run(
        [*mutmut, "results", "--all", "true"],
        cwd=args.work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    table = scores(listing.stdout, modules)
    (args.work / "scores.json").write_text(json.dumps(table, indent=2) + "\n")
    print(report(table))
    print(f"survivors: python -m mutmut results  (in {args.work}); one: python -m mutmut show NAME")
    return 0


if __name__ == "__main__":
    sys.exit(main())
