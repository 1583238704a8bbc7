"""Benchmark suites: small TOML files that say exactly what a leaderboard runs.

A suite has a ``name``, a ``description`` and one or more ``[[runs]]``, each the options of
one ``genrebench run``::

    name = "main"
    description = "The headline experiment of every plugin, quick profile, embedded data"

    [[runs]]
    experiments = ["reference/logreg", "schindler2016/*"]  # names or globs (or ensembles)
    datasets = ["synthetic-genres"]        # default: every embedded data set
    profile = "quick"                       # default "quick"
    seeds = 2                               # default 1; seed_start = 0
    protocol = "benchmark"                  # default; "paper": each experiment's own split
    split = "stratified"                    # default: the data set's default split
    split_ratios = { train = 0.7, valid = 0.1, test = 0.2 }
    split_seed = 0
    # split = "kfold" with folds = 5: k-fold cross-validation (one job per fold)
    dataset_options = { tracks_per_class = 20 }
    data_root = "{data_root}"              # the --data-root given to genrebench run, or
                                           # "{env:VAR}/sub": an environment variable
    calibration = "temperature"             # default: each experiment's own calibrator

Globs leave out experiments that need user-supplied weights (``requires_weights``); name
such an experiment exactly to include it.  A file is checked completely before any work:
an unknown key, experiment or data set is reported with the file, the line and the
nearest known name; a ``name`` that is not a plain name (a path, empty) is refused; two
runs whose results would share a folder (one experiment, ensemble members included, on
one data set with one profile and protocol) are refused.  Runs of one experiment under
both protocols go to separate folders (:func:`genrebench.results.outputs.job_folder`).

The core's suites live beside their committed output, ``leaderboards/<name>/suite.toml``
of the source checkout; plugins ship theirs through ``genrebench_register_suites``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrebench.dataset import DEFAULT_FOLDS, KFOLD, MIN_FOLDS, SPLIT_PARTS
from genrebench.datasets.protocols import DEFAULT_PROTOCOL, PROTOCOLS
from genrebench.errors import ConfigError, UnknownNameError, closest

TOP_KEYS = {"name": str, "description": str, "runs": list}
RUN_KEYS = {
    "experiments": list,
    "datasets": list,
    "profile": str,
    "seeds": int,
    "seed_start": int,
    "protocol": str,
    "split": str,
    "folds": int,
    "split_ratios": dict,
    "split_seed": int,
    "dataset_options": dict,
    "data_root": str,
    "calibration": str,
}
#: What a suite's ``name`` may be: it names folders (``runs/<name>``,
#: ``leaderboards/<name>``), so it is a plain name, never a path.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: The placeholder a suite's ``data_root`` may contain, replaced by ``--data-root``.
DATA_ROOT = "{data_root}"
#: ``{env:NAME}`` in a suite's ``data_root``: the environment variable ``NAME`` (as tox
#: writes it), e.g. ``"{env:GENREBENCH_SHARED_DATA}/gtzan-mini"``.
ENV_PATTERN = re.compile(r"\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_GLOB = re.compile(r"[*?\[]")


class SuiteError(ConfigError):
    """A suite file that cannot be run; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class SuiteRun:
    """One ``[[runs]]`` table: the options of one ``genrebench run``."""

    experiments: tuple[str, ...]
    datasets: tuple[str, ...] = ()
    profile: str = "quick"
    seeds: int = 1
    seed_start: int = 0
    protocol: str = "benchmark"
    split: str | None = None
    split_ratios: Mapping[str, float] | None = None
    split_seed: int = 0
    folds: int | None = None
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    data_root: str | None = None
    calibration: str | None = None
    #: Line of the run's ``[[runs]]`` header, for messages.
    line: int = 0


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    runs: tuple[SuiteRun, ...]
    path: Path
    text: str
    #: The plugin that registered it ("" for a file given by path).
    plugin: str = ""

    def where(self, line: int) -> str:
        return f"{self.path}:{line}"


# --------------------------------------------------------------------------- parsing
def load(path: Path, plugin: str = "") -> Suite:
    """Parse and type-check a suite file (names are checked by :func:`check`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read the suite file: {exc.strerror or exc}") from None
    return parse(text, path, plugin)


def parse(text: str, path: Path, plugin: str = "") -> Suite:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line N, column M)" or "(at end of document)".
        found = re.search(r"line (\d+)", str(exc))
        line = found.group(1) if found else max(1, len(text.splitlines()))
        raise SuiteError(f"{path}:{line}: invalid TOML: {exc}") from None
    lines = _Lines(text)
    _check_keys(data, TOP_KEYS, "the suite", path, lines.top)
    for key in ("name", "runs"):
        if key not in data:
            raise SuiteError(f"{path}:1: the suite has no {key!r} (expected keys: name, runs)")
    if not NAME_PATTERN.fullmatch(data["name"]) or ".." in data["name"]:
        raise SuiteError(
            f"{path}:{lines.top('name')}: name: {data['name']!r} is not a suite name: it names "
            "the folders runs/<name> and leaderboards/<name>, so it must be a plain name of "
            "letters, digits, '.', '_' and '-' (no '/', no '..', not empty)"
        )
    if not data["runs"] or not all(isinstance(r, dict) for r in data["runs"]):
        raise SuiteError(
            f"{path}:1: 'runs' must be one or more [[runs]] tables, got {data['runs']!r}"
        )
    runs = []
    for number, table in enumerate(data["runs"], 1):
        section = lines.run(number)
        where = f"[[runs]] #{number}"
        _check_keys(table, RUN_KEYS, where, path, section)
        runs.append(_run(table, where, path, section, lines.run_header(number)))
    return Suite(
        name=data["name"],
        description=data.get("description", ""),
        runs=tuple(runs),
        path=path,
        text=text,
        plugin=plugin,
    )


def _run(table: dict, where: str, path: Path, section, header: int) -> SuiteRun:
    def fail(key: str, message: str) -> SuiteError:
        return SuiteError(f"{path}:{section(key)}: {where}: {key}: {message}")

    if "experiments" not in table:
        raise SuiteError(f"{path}:{header}: {where} has no 'experiments' (names or globs)")
    for key in ("experiments", "datasets"):
        values = table.get(key, [])
        if not all(isinstance(v, str) and v for v in values):
            raise fail(key, f"expected a list of names, got {values!r}")
    if not table["experiments"]:
        raise fail("experiments", "expected at least one experiment name or glob")
    for key in ("seeds", "seed_start", "split_seed"):
        if key in table and (isinstance(table[key], bool) or table[key] < (key == "seeds")):
            raise fail(key, f"expected a whole number >= {int(key == 'seeds')}, got {table[key]!r}")
    protocol = table.get("protocol", DEFAULT_PROTOCOL)
    if protocol not in PROTOCOLS:
        raise fail(
            "protocol",
            f"unknown protocol {protocol!r}{_nearest(protocol, PROTOCOLS)}; protocols: "
            + ", ".join(PROTOCOLS),
        )
    if "folds" in table:
        if table.get("split") != KFOLD:
            raise fail("folds", f"folds applies to split = {KFOLD!r} only")
        if table["folds"] < MIN_FOLDS:
            raise fail("folds", f"expected a whole number >= {MIN_FOLDS}, got {table['folds']!r}")
    ratios = table.get("split_ratios")
    if ratios is not None:
        for part, share in ratios.items():
            if part not in SPLIT_PARTS:
                raise SuiteError(
                    f"{path}:{section(part)}: {where}: split_ratios: unknown part {part!r}"
                    f"{_nearest(part, SPLIT_PARTS)}; parts: {', '.join(SPLIT_PARTS)}"
                )
            if isinstance(share, bool) or not isinstance(share, int | float) or share < 0:
                raise fail("split_ratios", f"expected a share >= 0 for {part!r}, got {share!r}")
    return SuiteRun(
        experiments=tuple(table["experiments"]),
        datasets=tuple(table.get("datasets", ())),
        profile=table.get("profile", "quick"),
        seeds=table.get("seeds", 1),
        seed_start=table.get("seed_start", 0),
        protocol=protocol,
        split=table.get("split"),
        split_ratios=ratios,
        split_seed=table.get("split_seed", 0),
        folds=table.get("folds"),
        dataset_options=dict(table.get("dataset_options", {})),
        data_root=table.get("data_root"),
        calibration=table.get("calibration"),
        line=header,
    )


def _check_keys(table: dict, known: dict[str, type], where: str, path: Path, line_of) -> None:
    for key, value in table.items():
        if key not in known:
            raise SuiteError(
                f"{path}:{line_of(key)}: unknown key {key!r} in {where}"
                f"{_nearest(key, known)}; known keys: {', '.join(known)}"
            )
        expected = known[key]
        if not isinstance(value, expected) or isinstance(value, bool):
            raise SuiteError(
                f"{path}:{line_of(key)}: {where}: {key}: expected a {expected.__name__} "
                f"({'a TOML table' if expected is dict else 'TOML ' + expected.__name__}), "
                f"got {value!r}"
            )


def _nearest(name: str, known: Iterable[str]) -> str:
    close = closest(name, known)
    return f" (did you mean {close!r}?)" if close else ""


class _Lines:
    """Line numbers of keys and values in a suite's text (tomllib keeps none): the top part
    before the first ``[[runs]]``, and each run's section up to the next one."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers = [
            i for i, line in enumerate(self.lines) if re.match(r"\s*\[\[\s*runs\s*\]\]", line)
        ]

    def _find(self, start: int, stop: int, pattern: re.Pattern, default: int) -> int:
        for i in range(start, min(stop, len(self.lines))):
            if pattern.search(self.lines[i]):
                return i + 1
        return default

    def top(self, key: str) -> int:
        stop = self.headers[0] if self.headers else len(self.lines)
        return self._find(0, stop, _key_pattern(key), 1)

    def run_header(self, number: int) -> int:
        return self.headers[number - 1] + 1 if number <= len(self.headers) else 1

    def run(self, number: int):
        """``line_of(key_or_value)`` within run ``number``'s section."""
        if number > len(self.headers):  # runs written as an inline array: search everything
            start, stop = 0, len(self.lines)
        else:
            start = self.headers[number - 1]
            stop = self.headers[number] if number < len(self.headers) else len(self.lines)
        header = start + 1

        def line_of(needle: str) -> int:
            found = self._find(start, stop, _key_pattern(needle), 0)
            return found or self._find(start, stop, _value_pattern(needle), header)

        return line_of


def _key_pattern(key: str) -> re.Pattern:
    return re.compile(rf"(^|[{{,\s.])\s*[\"']?{re.escape(key)}[\"']?\s*=")


def _value_pattern(value: str) -> re.Pattern:
    return re.compile(rf"[\"']{re.escape(value)}[\"']")


# --------------------------------------------------------------------------- names
def check(suite: Suite, registry, data_root: Path | None = None) -> None:
    """Check every name of ``suite`` against the registry, and the data-root placeholder
    against ``data_root``, before any work; raise :class:`SuiteError` on the first
    problem."""
    experiments = [*registry.names("experiments"), *registry.names("ensembles")]
    datasets = registry.names("datasets")
    seen: dict[tuple[str, str, str, str], tuple[int, str]] = {}
    for number, run in enumerate(suite.runs, 1):
        line_of = _Lines(suite.text).run(number)
        where = f"[[runs]] #{number}"
        chosen = []
        for pattern in run.experiments:
            matches = expand(registry, pattern)
            if not matches:
                what = "glob matches no experiment" if _GLOB.search(pattern) else "experiment"
                raise SuiteError(
                    f"{suite.where(line_of(pattern))}: {where}: unknown {what} {pattern!r}"
                    f"{_nearest(pattern, experiments)}"
                )
            chosen += [m for m in matches if m not in chosen]
        for name in run.datasets:
            if name not in datasets:
                raise SuiteError(
                    f"{suite.where(line_of(name))}: {where}: unknown data set {name!r}"
                    f"{_nearest(name, datasets)}; known data sets: {', '.join(datasets)}"
                )
        profiles = {p for n in _experiments_of(registry, chosen) for p in n.profiles}
        if run.profile not in profiles:
            raise SuiteError(
                f"{suite.where(line_of('profile'))}: {where}: no selected experiment has "
                f"profile {run.profile!r}{_nearest(run.profile, profiles)}"
            )
        if run.calibration is not None:
            # lazy: loads scipy, sklearn, not needed at import time
            from genrebench.evaluation import calibration

            try:
                calibration.resolve(run.calibration, calibration.calibrators(registry))
            except ConfigError as exc:
                raise SuiteError(f"{suite.where(line_of('calibration'))}: {where}: {exc}") from None
        unset = [n for n in ENV_PATTERN.findall(run.data_root or "") if not os.environ.get(n)]
        if unset:
            raise SuiteError(
                f"{suite.where(line_of('data_root'))}: {where} reads its data from "
                f"{run.data_root!r}: set the environment variable {unset[0]} (where "
                f"{' and '.join(run.datasets) or 'the data set'} lives)"
            )
        if run.data_root and DATA_ROOT in run.data_root and data_root is None:
            raise SuiteError(
                f"{suite.where(line_of('data_root'))}: {where} reads its data from "
                f"{run.data_root!r}: pass --data-root DIR (where "
                f"{' and '.join(run.datasets) or 'the data set'} lives)"
            )
        targets = run.datasets or [d.name for d in registry.specs("datasets") if d.embedded]
        for name, via in _results_of(registry, chosen):
            for ds in targets:
                key = (name, ds, run.profile, run.protocol)
                if key in seen and seen[key][0] != number:
                    earlier, earlier_via = seen[key]
                    raise SuiteError(
                        f"{suite.where(run.line)}: {where} runs {name}{via} on {ds} with "
                        f"profile {run.profile!r} and the {run.protocol} protocol again (run "
                        f"#{earlier} does already{earlier_via}); their results would share one "
                        "folder"
                    )
                seen.setdefault(key, (number, via))


def expand(registry, pattern: str) -> list[str]:
    """Experiment and ensemble names matching ``pattern``; a glob leaves out experiments
    that need user-supplied weights (as :func:`genrebench.run.planning.plan` does)."""
    experiments, ensembles = registry.names("experiments"), registry.names("ensembles")
    if not _GLOB.search(pattern):
        return [pattern] if pattern in experiments or pattern in ensembles else []
    found = [
        n
        for n in fnmatch.filter(experiments, pattern)
        if not getattr(registry.get("experiments", n), "requires_weights", "")
    ]
    return found + fnmatch.filter(ensembles, pattern)


def _results_of(registry, names: list[str]) -> list[tuple[str, str]]:
    """Every experiment and ensemble whose results running ``names`` writes: the names
    themselves and the member experiments of the ensembles among them (which run with
    them), each with how it came in (``""``, or `` (a member of ensemble E)``)."""
    out: dict[str, str] = {name: "" for name in names}
    known = set(registry.names("experiments"))
    for name in names:
        if name in registry.names("ensembles"):
            for member in registry.get("ensembles", name).members:
                if member in known:
                    out.setdefault(member, f" (a member of ensemble {name})")
    return list(out.items())


def _experiments_of(registry, names: list[str]) -> list:
    """The experiment specs of ``names``: experiments themselves, ensembles' members."""
    specs = []
    for name in names:
        if name in registry.names("ensembles"):
            members = registry.get("ensembles", name).members
            known = registry.names("experiments")
            specs += [registry.get("experiments", m) for m in members if m in known]
        else:
            specs.append(registry.get("experiments", name))
    return specs


def run_options(suite: Suite, registry, data_root: Path | None, **common: Any) -> list:
    """One :class:`genrebench.run.planning.RunOptions` per run of ``suite``; ``common`` holds the
    options a suite leaves to the command line (out, jobs, device, cache_dir, ...)."""
    # lazy: loads scipy, sklearn, not needed at import time
    from genrebench.run.planning import RunOptions

    options = []
    for run in suite.runs:
        root = None
        if run.data_root:
            text = run.data_root.replace(DATA_ROOT, str(data_root) if data_root else "")
            text = ENV_PATTERN.sub(lambda m: os.environ.get(m.group(1), ""), text)
            root = Path(text).expanduser()
        options.append(
            RunOptions(
                # The patterns themselves: the runner expands them, selects the ensembles
                # they name and leaves out globbed experiments that need weights.
                experiments=list(run.experiments),
                datasets=run.datasets,
                data_root=root,
                dataset_options=dict(run.dataset_options),
                split=run.split,
                split_ratios=dict(run.split_ratios) if run.split_ratios else None,
                split_seed=run.split_seed,
                profile=run.profile,
                seeds=run.seeds,
                seed_start=run.seed_start,
                calibration=run.calibration,
                protocol=run.protocol,
                folds=run.folds,
                **common,
            )
        )
    return options


# --------------------------------------------------------------------------- discovery
def known(registry) -> tuple[dict[str, Suite], dict[str, str]]:
    """The suites plugins register (``genrebench_register_suites``), by name, and the files
    that failed to parse (path -> message).  Two suites with one name raise."""
    found: dict[str, Suite] = {}
    broken: dict[str, str] = {}
    hook = registry.pm.hook.genrebench_register_suites
    for impl in hook.get_hookimpls():
        for path in impl.function() or []:
            try:
                suite = load(Path(path), impl.plugin_name)
            except SuiteError as exc:
                broken[str(path)] = str(exc)
                continue
            other = found.get(suite.name)
            if other is not None and other.path.resolve() != suite.path.resolve():
                raise ConfigError(
                    f"suite {suite.name!r} is defined twice: {other.path} ({other.plugin}) "
                    f"and {suite.path} ({suite.plugin})"
                )
            found[suite.name] = suite
    return dict(sorted(found.items())), broken


def resolve(registry, name_or_path: str) -> Suite:
    """The suite a ``--suite`` argument names: a file path, or a registered suite name."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise SuiteError(f"{path}: no such suite file")
        return load(path)
    suites, broken = known(registry)
    if name_or_path not in suites:
        if broken:
            raise SuiteError(
                f"unknown suite {name_or_path!r}; these suite files did not parse: "
                + "; ".join(broken.values())
            )
        raise UnknownNameError("suite", name_or_path, suites)
    return suites[name_or_path]


def describe(suite: Suite) -> list[str]:
    """One line per run, for ``genrebench suites``."""
    out = []
    for run in suite.runs:
        seeds = f"seeds {run.seed_start}..{run.seed_start + run.seeds - 1}"
        data = ", ".join(run.datasets) or "embedded data sets"
        split = f", split {run.split}" if run.split else ", the data set's default split"
        if run.protocol == "paper":
            split = f", split {run.split}" if run.split else ", each experiment's own split"
        if run.split == KFOLD:
            split += f" ({run.folds or DEFAULT_FOLDS} folds)"
        out.append(
            f"{', '.join(run.experiments)} on {data}: {run.profile}, {seeds}, "
            f"{run.protocol} protocol{split}"
        )
    return out
