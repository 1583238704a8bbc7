"""Mutation testing of the core's pure modules (``tox -e mutation``), with mutmut.

mutmut 3 mutates a copy of the sources under ``mutants/`` and imports it from ``./``,
``src/`` or ``source/``, so this script lays out a work folder it understands (default
``.mutation/`` in the repository, ignored by git): ``src/genrebench`` (a copy of
``benchmark/genrebench``), ``tests`` and a ``pyproject.toml`` holding the project's pytest
settings and the mutmut configuration.  The copy keeps modification times, so a second run
re-tests only the functions that changed.  It then runs mutmut on the modules named on the
command line (default: every target in ``TARGETS``) and prints, per target, how many
mutants the unit tests killed (a timeout counts as killed; mutants not run are left out).

A target is a module of ``MODULES`` or a part of one in ``PARTS``, ``module:part``: the
mutants of the part's functions only, scored on their own (``leaderboard:row-keying``: the
functions that decide which results form a leaderboard row and which rows share a section).

``--sample N`` runs N mutants per target, drawn with ``--seed`` (each target's draw depends
on the seed and the target's name only), instead of all of them (a full run is several
thousand mutants: hours on a busy 2-core machine); the scores then count the drawn mutants
only.  Survivors that no test can kill because they do not change behaviour are listed in
``EQUIVALENT`` with the reason: they are counted in the ``equivalent`` column and left out of
the score's denominator (an entry whose mutated line no longer reads as recorded is ignored,
with a warning).  A drawn mutant that an earlier run killed, or that survived and is listed
as equivalent, is not run again (mutmut forgets the verdicts of a function whose source
changed; ``--again`` runs them all).  mutmut also forgets every verdict of a work folder
when its configuration changes (other targets, other tests): give a run of other targets
its own ``--work`` folder to keep them.
mutmut runs one mutant at a time by default: on a shared 2-core machine, two at once
turned quick kills into timeouts.

    tox -e mutation                               # every mutant of every target
    tox -e mutation -- --sample 40 --seed 21      # 40 mutants of each target
    tox -e mutation -- --sample 60 segments cache # 60 mutants of each of two modules
    tox -e mutation -- leaderboard:row-keying     # the row-keying functions' mutants
    python tests/mutation.py --fresh aggregation  # forget earlier verdicts first
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Collection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The pure modules whose behaviour the unit tests pin, dotted under ``genrebench`` (on the
#: command line a target may be named by its module's last part: ``segments``,
#: ``leaderboard:row-keying``).
MODULES = (
    "evaluation.metrics",
    "aggregation",
    "features.cache",
    "reporting.leaderboard",
    "dataset",
    "features.segments",
    "reporting.stats",
    "reporting.resampling",
    "evaluation.calibration",
    "evaluation.reliability",
    "run.suites",
)
#: Parts of a module scored on their own: ``module:part`` -> the names of its functions.
PARTS = {
    # which results form a row (row key, configuration, evaluation set, one result per
    # seed, misplaced and stale results) and which rows share a section (test-track set)
    "reporting.leaderboard:row-keying": (
        "row_key",
        "evaluation_set",
        "_int",
        "configuration",
        "select",
        "_misplaced",
        "_newest",
        "_one_per_seed",
        "_assign_sections",
    ),
}
TARGETS = (*MODULES, *PARTS)
#: Fast unit tests only: mutmut runs, per mutant, those of them that reach the mutated code.
TESTS = (
    "tests/test_core_pieces.py",
    "tests/test_metrics.py",
    "tests/test_leaderboard.py",
    "tests/test_data_safety.py",
    "tests/test_reliability.py",
    "tests/test_stats.py",
    "tests/test_calibration.py",
    "tests/test_suites.py",
    "tests/test_results_reading.py",
    "tests/test_kfold.py",
    "tests/test_ensembles.py",
    # the calibration cases of test_plugin_faults (its other tests load plugins: slow)
    "tests/test_plugin_faults.py::test_temperature_scaling_of_knn_probabilities_with_zeros_does_not_worsen_ece",
    "tests/test_plugin_faults.py::test_probabilities_without_exact_zeros_are_clipped_at_1e_15_as_before",
)
#: Surviving mutants that change no behaviour: name -> (a fragment of the mutated line, why
#: no test can tell them apart).  The fragment guards against a renumbering: mutmut numbers
#: a function's mutants in order, so an edit to the function makes a name another mutant.
EQUIVALENT: dict[str, tuple[str, str]] = {
    "genrebench.reporting.stats.xǁBootstrapǁp_value__mutmut_34": (
        "range(61)",
        "one more bisection step moves the p-value by less than 2^-60 (1e-18): below "
        "anything a p-value is read or compared at",
    ),
    "genrebench.reporting.stats.x__bootstrap__mutmut_29": (
        "vectorized=False",
        "scipy then calls the statistic once per resample instead of in batches: the same "
        "resamples and values, only slower",
    ),
    "genrebench.reporting.stats.x__bootstrap__mutmut_102": (
        "values.size > 1",
        "with a single finite resample BCa is refused anyway (its level must lie in "
        "[1/B, 1 - 1/B] = [1, 0]), so both take the shifted percentile",
    ),
    "genrebench.evaluation.calibration.x_fit_segment_temperature__mutmut_62": (
        "loss(edge) < result.fun + 1e-12",
        "< and <= differ only when the edge's loss equals the optimum's plus exactly 1e-12, "
        "a tie of floats no fit reaches",
    ),
    "genrebench.evaluation.calibration.x_probability_floor__mutmut_3": (
        "dtype=None",
        "the values are only compared with 0, combined with 1.0 - p and passed through "
        "float(): an integer or float32 array gives the same floor as its float64 copy",
    ),
    "genrebench.evaluation.calibration.x_probability_floor__mutmut_7": (
        '(task == "single-label") and False',
        "for single-label rows (summing to 1) 1 - p is the sum of the row's other "
        "probabilities, never below its smallest positive one: adding them leaves the "
        "smallest positive value, and the floor, unchanged",
    ),
    "genrebench.reporting.leaderboard.x_select__mutmut_117": (
        "sorted(head, )",
        "head holds (order, result) pairs whose orders are distinct: sorting the pairs is "
        "sorting by order, and no result dict is ever compared",
    ),
    "genrebench.reporting.leaderboard.x_evaluation_set__mutmut_90": (
        "usecols=None",
        "reads every column of predictions.csv as text instead of track_id only: the same "
        "track ids, and so the same checksum, from any file pandas reads",
    ),
    "genrebench.reporting.resampling.x__binned_error__mutmut_26": (
        'side="right") - 2',
        "every bin index moves down by one (the bin of 1.0 into [14/15, 1)'s index, bin 0 "
        "wraps to the last, now empty, index): no two bins merge and ECE sums over bins",
    ),
    "genrebench.reporting.resampling.x__per_track_columns__mutmut_44": (
        "strict=None",
        "per_seed is built seed by seed from runs, so the two always have one entry per "
        "seed and zip's strictness never fires",
    ),
    "genrebench.reporting.resampling.x__sorted_groups__mutmut_57": (
        "last = np.ones(scores.shape, )",
        "a float array of 1.0 and 0.0 instead of booleans: np.where reads it the same",
    ),
}
#: Folders of the checkout the tests read, besides ``tests`` and the sources.
CHECKOUT_FOLDERS = ("leaderboards", "datasets", "docs", "plugins")
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
    # Folders of the checkout that the tests and the core read (the committed leaderboards
    # and their suites, the embedded data sets' lists, the docs, the plugins' projects),
    # linked where the tests run: mutmut's copy of the tests, ``mutants/tests``.
    for name in CHECKOUT_FOLDERS:
        link = work / "mutants" / name
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(ROOT / name, target_is_directory=True)
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pytest_settings = re.search(r"(?ms)^\[tool\.pytest\.ini_options\].*?(?=^\[)", project)
    assert pytest_settings, "pyproject.toml has no [tool.pytest.ini_options]"
    mutmut = {
        "source_paths": ["src/genrebench"],
        "only_mutate": [f"src/genrebench/{source_file(m)}" for m in modules],
        "pytest_add_cli_args_test_selection": list(TESTS),
        # torch and the forkserver executors are not fork-safe in an arbitrary state
        "process_isolation": "forkserver",
        # durations are measured once; on a shared machine a later run may be slower
        "timeout_constant": 10.0,
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in mutmut.items()]
    text = pytest_settings.group(0) + "\n[tool.mutmut]\n" + "\n".join(lines) + "\n"
    (work / "pyproject.toml").write_text(text, encoding="utf-8")


def source_file(module: str) -> str:
    """The file of a dotted ``module`` under ``genrebench/``."""
    return module.replace(".", "/") + ".py"


def short(target: str) -> str:
    """A target named by its module's last part (``leaderboard:row-keying``)."""
    module, sep, part = target.partition(":")
    return module.rpartition(".")[2] + sep + part


def full_name(name: str) -> str | None:
    """The target of :data:`TARGETS` that ``name`` is or names by its short form, or None."""
    found = [t for t in TARGETS if name in (t, short(t))]
    return found[0] if len(found) == 1 else None


def module_of(target: str) -> str:
    """The module a target mutates (``leaderboard`` for ``leaderboard:row-keying``)."""
    return target.partition(":")[0]


def function_of(mutant: str) -> str:
    """The function a mutant changes: ``select`` for ``genrebench.leaderboard.x_select__mutmut_3``,
    ``Results.note`` for a method's ``genrebench.leaderboard.xǁResultsǁnote__mutmut_1``."""
    mangled = mutant.rpartition(".")[2].partition("__mutmut_")[0]
    if mangled.startswith("xǁ"):
        return ".".join(mangled[2:].split("ǁ"))
    return mangled.removeprefix("x_")


def in_target(mutant: str, target: str) -> bool:
    """Whether ``mutant`` (``genrebench.<module>.<mangled name>``) belongs to ``target``."""
    module, _, part = target.partition(":")
    if not mutant.startswith(f"genrebench.{module}."):
        return False
    return not part or function_of(mutant) in PARTS[target]


def mutant_names(work: Path, module: str) -> list[str]:
    """Every mutant mutmut generated for ``module`` (functions ``x_<name>__mutmut_<n>`` and
    methods ``xǁ<Class>ǁ<name>__mutmut_<n>`` in its mutated copy)."""
    text = (work / "mutants" / "src" / "genrebench" / source_file(module)).read_text(
        encoding="utf-8"
    )
    found = re.findall(r"(?m)^\s*def (x\S*?__mutmut_\d+)\(", text)
    return [f"genrebench.{module}.{name}" for name in dict.fromkeys(found)]


def draw(names: list[str], target: str, n: int, seed: int) -> list[str]:
    """``n`` of a target's mutants (all when ``n`` is 0 or more than there are), drawn with a
    generator seeded by ``seed`` and the target's name: a target's draw depends neither on
    which other targets run nor on the order of ``names``."""
    mine = sorted(name for name in names if in_target(name, target))
    if not n or n >= len(mine):
        return mine
    # seeded by the short name, so that a draw is the same before and after a module moved
    return sorted(random.Random(f"{seed}:{short(target)}").sample(mine, n))


def functions(source: str) -> dict[str, str]:
    """The text of every function and method in ``source``, by name (decorators left out)."""
    lines = source.splitlines()
    return {
        node.name: "\n".join(lines[node.lineno - 1 : node.end_lineno])
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def stale_equivalents(work: Path, modules: list[str]) -> dict[str, str]:
    """``EQUIVALENT`` entries of ``modules`` whose mutant no longer holds the recorded mutated
    line (or is gone), with what is wrong: they do not count as equivalent."""
    stale, texts = {}, {}
    for name, (fragment, _) in EQUIVALENT.items():
        module, _, mangled = name.removeprefix("genrebench.").rpartition(".")
        if module not in modules:
            continue
        if module not in texts:
            path = work / "mutants" / "src" / "genrebench" / source_file(module)
            texts[module] = functions(path.read_text(encoding="utf-8")) if path.exists() else {}
        if fragment not in texts[module].get(mangled, ""):
            stale[name] = f"its mutated code no longer holds {fragment!r}"
    return stale


def verdicts(results: str) -> dict[str, str]:
    """``{mutant: verdict}`` from ``mutmut results --all true``."""
    out = {}
    for line in results.splitlines():
        name, sep, verdict = line.strip().rpartition(": ")
        if sep and name.startswith("genrebench."):
            out[name] = verdict
    return out


def scores(
    found: dict[str, str],
    targets: list[str],
    chosen: dict[str, list[str]] | None = None,
    equivalent: Collection[str] = (),
) -> dict[str, dict[str, int]]:
    """``{target: {verdict: count}}`` over each target's mutants in ``found`` (only those in
    ``chosen[target]`` when given); surviving mutants in ``equivalent`` count as
    ``equivalent``, not ``survived``."""
    table: dict[str, dict[str, int]] = {}
    for target in targets:
        names = chosen[target] if chosen is not None else [n for n in found if in_target(n, target)]
        counts: Counter = Counter()
        for name in names:
            verdict = found.get(name, "not checked")
            counts["equivalent" if verdict == "survived" and name in equivalent else verdict] += 1
        table[target] = dict(counts)
    return table


def score(counts: dict[str, int]) -> float | None:
    """Share of the mutants run that the tests detected, equivalent ones left out."""
    run = sum(n for verdict, n in counts.items() if verdict not in ("not checked", "equivalent"))
    return sum(counts.get(v, 0) for v in DETECTED) / run if run else None


def report(table: dict[str, dict[str, int]]) -> str:
    lines = [f"{'target':<24} {'mutants':>7} {'run':>5} {'killed':>6} {'timeout':>7} "
             f"{'survived':>8} {'equivalent':>10} {'no test':>7} {'score':>6}"]  # fmt: skip
    for target, counts in table.items():
        run = sum(n for verdict, n in counts.items() if verdict != "not checked")
        share = score(counts)
        lines.append(
            f"{target:<24} {sum(counts.values()):>7} {run:>5} {counts.get('killed', 0):>6} "
            f"{counts.get('timeout', 0):>7} {counts.get('survived', 0):>8} "
            f"{counts.get('equivalent', 0):>10} {counts.get('no tests', 0):>7} "
            + (f"{100 * share:.0f} %" if share is not None else "-").rjust(6)
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=", ".join(TARGETS))
    parser.add_argument("--work", type=Path, default=ROOT / ".mutation", help="work folder")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--sample", type=int, default=0, help="mutants per target (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample")
    parser.add_argument("--fresh", action="store_true", help="forget earlier verdicts")
    parser.add_argument(
        "--again", action="store_true", help="with --sample: run drawn mutants already killed"
    )
    args = parser.parse_args(argv)
    unknown = sorted(t for t in args.targets if full_name(t) is None)
    if unknown:
        parser.error(f"unknown targets {unknown}; choose among {', '.join(TARGETS)}")
    targets = [full_name(t) for t in args.targets] or list(TARGETS)
    modules = list(dict.fromkeys(module_of(t) for t in targets))
    if args.fresh:
        shutil.rmtree(args.work / "mutants", ignore_errors=True)
    prepare(args.work, modules)
    # pytest's temporary folders under the work folder: concurrent pytest sessions of other
    # checkouts remove each other's numbered folders under the shared default root
    temp_root = (args.work / "tmp").resolve()
    temp_root.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "PYTEST_DEBUG_TEMPROOT": str(temp_root),
    }
    mutmut = [sys.executable, "-m", "mutmut"]
    chosen: dict[str, list[str]] | None = None  # None: every mutant
    if args.sample:
        # A filter that matches nothing: mutmut generates the mutants, then stops.
        probe = [*mutmut, "run", "genrebench.no-such-mutant"]
        subprocess.run(probe, cwd=args.work, env=env, capture_output=True)
        names = {m: mutant_names(args.work, m) for m in modules}
        chosen = {t: draw(names[module_of(t)], t, args.sample, args.seed) for t in targets}

    def results() -> dict[str, str]:
        listing = subprocess.run(
            [*mutmut, "results", "--all", "true"],
            cwd=args.work,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return verdicts(listing.stdout)

    if chosen is None:
        subprocess.run([*mutmut, "run", "--max-children", str(args.jobs)], cwd=args.work, env=env)
    else:
        # mutmut runs every mutant named again; a drawn mutant already detected stays so
        # (mutmut forgets the verdicts of a function whose source changed), as does one
        # listed as equivalent that survived, unless --again.
        before = {} if args.again else results()
        settled = set(EQUIVALENT) - set(stale_equivalents(args.work, modules))
        selection = sorted(
            {
                n
                for names in chosen.values()
                for n in names
                if before.get(n) not in DETECTED
                and not (before.get(n) == "survived" and n in settled)
            }
        )
        print(f"{len(selection)} drawn mutants to run ({len(chosen)} targets)", flush=True)
        if selection:
            run = [*mutmut, "run", "--max-children", str(args.jobs), *selection]
            subprocess.run(run, cwd=args.work, env=env)
    found = results()
    stale = stale_equivalents(args.work, modules)
    for name, why in stale.items():
        print(
            f"warning: EQUIVALENT lists {name}, but {why}: counted as its verdict", file=sys.stderr
        )
    table = scores(found, targets, chosen, set(EQUIVALENT) - set(stale))
    survivors = {
        t: [n for n in (chosen[t] if chosen else found) if in_target(n, t)
            and found.get(n) == "survived" and (n not in EQUIVALENT or n in stale)]
        for t in targets
    }  # fmt: skip
    record = {"sample": args.sample, "seed": args.seed, "scores": table, "survivors": survivors}
    (args.work / "scores.json").write_text(json.dumps(record, indent=2) + "\n")
    print(report(table))
    for target, names in survivors.items():
        for name in names:
            print(f"survived ({target}): {name}")
    print(f"survivors: python -m mutmut results  (in {args.work}); one: python -m mutmut show NAME")
    return 0


if __name__ == "__main__":
    sys.exit(main())
