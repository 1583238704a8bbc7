"""Mutation testing of the core's pure modules (``tox -e mutation``), with mutmut.

mutmut 3 mutates a copy of the sources under ``mutants/`` and imports it from ``./``,
``src/`` or ``source/``, so this script lays out a work folder it understands (default
``.mutation/`` in the repository, ignored by git): ``src/genrebench`` (a copy of
``benchmark/genrebench``), ``tests`` and a ``pyproject.toml`` holding the project's pytest
settings and the mutmut configuration.  The copy keeps modification times, so a second run
re-tests only the functions that changed.  It then runs mutmut on the modules named on the
command line (default: all of ``MODULES``) and prints, per module, how many mutants the
unit tests killed (a timeout counts as killed; mutants not run are left out).

``--sample N`` runs N mutants per module, drawn with ``--seed``, instead of all of them (a
full run is about 2,000 mutants: hours on a busy 2-core machine).  mutmut runs one mutant at
a time by default: on a shared 2-core machine, two at once turned quick kills into timeouts.

    tox -e mutation                               # every mutant of every module in MODULES
    tox -e mutation -- --sample 60 segments cache # 60 mutants of each of two modules
    python tests/mutation.py --fresh aggregation  # forget earlier verdicts first
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The pure modules whose behaviour the unit tests pin, dotted under ``genrebench`` (on the
#: command line a module may be named by its last part: ``segments`` for features.segments).
MODULES = (
    "evaluation.metrics",
    "aggregation",
    "features.cache",
    "reporting.leaderboard",
    "dataset",
    "features.segments",
)
#: Fast unit tests only: mutmut runs, per mutant, those of them that reach the mutated code.
TESTS = (
    "tests/test_core_pieces.py",
    "tests/test_metrics.py",
    "tests/test_leaderboard.py",
    "tests/test_data_safety.py",
    "tests/test_reliability.py",
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
        "only_mutate": [f"src/genrebench/{source(m)}" for m in modules],
        "pytest_add_cli_args_test_selection": list(TESTS),
        # torch and the forkserver executors are not fork-safe in an arbitrary state
        "process_isolation": "forkserver",
        # durations are measured once; on a shared machine a later run may be slower
        "timeout_constant": 10.0,
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in mutmut.items()]
    text = pytest_settings.group(0) + "\n[tool.mutmut]\n" + "\n".join(lines) + "\n"
    (work / "pyproject.toml").write_text(text, encoding="utf-8")


def source(module: str) -> str:
    """The file of a dotted ``module`` under ``genrebench/``."""
    return module.replace(".", "/") + ".py"


def full_name(name: str) -> str | None:
    """The entry of :data:`MODULES` that ``name`` is or ends (``segments``), or None."""
    found = [m for m in MODULES if name in (m, m.rpartition(".")[2])]
    return found[0] if len(found) == 1 else None


def mutant_names(work: Path, module: str) -> list[str]:
    """Every mutant mutmut generated for ``module`` (functions ``x_<name>__mutmut_<n>`` and
    methods ``xǁ<Class>ǁ<name>__mutmut_<n>`` in its mutated copy)."""
    text = (work / "mutants" / "src" / "genrebench" / source(module)).read_text(encoding="utf-8")
    found = re.findall(r"(?m)^\s*def (x\S*?__mutmut_\d+)\(", text)
    return [f"genrebench.{module}.{name}" for name in dict.fromkeys(found)]


def scores(results: str, modules: list[str]) -> dict[str, dict[str, int]]:
    """``{module: {verdict: count}}`` from ``mutmut results --all true``."""
    counts: dict[str, Counter] = {m: Counter() for m in modules}
    for line in results.splitlines():
        name, sep, verdict = line.strip().rpartition(": ")
        for module in counts:
            # a mutant is genrebench.<module>.x_<function>__mutmut_<n> (or xǁ<Class>ǁ...)
            if sep and name.startswith(f"genrebench.{module}.x"):
                counts[module][verdict] += 1
    return {m: dict(c) for m, c in counts.items()}


def report(table: dict[str, dict[str, int]]) -> str:
    lines = [f"{'module':<22} {'mutants':>7} {'run':>5} {'killed':>6} {'timeout':>7} "
             f"{'survived':>8} {'no test':>7} {'score':>6}"]  # fmt: skip
    for module, counts in table.items():
        run = sum(n for verdict, n in counts.items() if verdict != "not checked")
        detected = sum(counts.get(v, 0) for v in DETECTED)
        score = f"{100 * detected / run:.0f} %" if run else "-"
        lines.append(
            f"{module:<22} {sum(counts.values()):>7} {run:>5} {counts.get('killed', 0):>6} "
            f"{counts.get('timeout', 0):>7} {counts.get('survived', 0):>8} "
            f"{counts.get('no tests', 0):>7} {score:>6}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULES))
    parser.add_argument("--work", type=Path, default=ROOT / ".mutation", help="work folder")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--sample", type=int, default=0, help="mutants per module (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample")
    parser.add_argument("--fresh", action="store_true", help="forget earlier verdicts")
    args = parser.parse_args(argv)
    unknown = sorted(m for m in args.modules if full_name(m) is None)
    if unknown:
        parser.error(f"unknown modules {unknown}; choose among {', '.join(MODULES)}")
    modules = [full_name(m) for m in args.modules] or list(MODULES)
    if args.fresh:
        shutil.rmtree(args.work / "mutants", ignore_errors=True)
    prepare(args.work, modules)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    mutmut = [sys.executable, "-m", "mutmut"]
    chosen: list[str] = []  # empty: every mutant
    if args.sample:
        # A filter that matches nothing: mutmut generates the mutants, then stops.
        probe = [*mutmut, "run", "genrebench.no-such-mutant"]
        subprocess.run(probe, cwd=args.work, env=env, capture_output=True)
        rng = random.Random(args.seed)
        for module in modules:
            names = mutant_names(args.work, module)
            chosen += sorted(rng.sample(names, min(args.sample, len(names))))
    run = [*mutmut, "run", "--max-children", str(args.jobs), *chosen]
    subprocess.run(run, cwd=args.work, env=env)
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
