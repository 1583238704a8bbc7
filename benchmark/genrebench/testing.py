"""A kit for testing a genrebench plugin, in the manner of pytest's ``pytester`` and
``tox.pytest``: load plugins in isolation, check what a plugin registers, run experiments
or a suite on tiny generated audio and read the rows and job folders they leave.

    from genrebench import testing

    def test_registers():
        registry = testing.load_registry("myplugin")      # builtins + this plugin only
        names = testing.check_registrations(registry, "myplugin")
        assert "myplugin/cnn" in names["experiments"]

    def test_runs(tmp_path):
        result = testing.run(tmp_path, "myplugin/cnn", dataset="synthetic-genres",
                             plugins=["myplugin"])
        row = result.row("myplugin/cnn", "synthetic-genres")    # its leaderboard row, ok
        metrics = result.metrics("myplugin/cnn", "synthetic-genres")

Runs go through the command line (``genrebench run``), exactly as a user's would; the run
folder's layout is described in the docs' outputs reference, and :meth:`RunResult.job_folder`
finds a job's folder without spelling it out.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genrebench.dataset import Dataset, Track
from genrebench.features.cache import FeatureCache
from genrebench.features.segments import cut, hop_frames, segment_frames
from genrebench.registry import ENV_DISABLE, ENV_ONLY
from genrebench.registry.loading import Registry, load_plugins
from genrebench.results import outputs
from genrebench.specs import FeatureSpec, Segments

if TYPE_CHECKING:
    from genrebench.features.extract import Extracted

__all__ = [
    "RunResult",
    "check_registrations",
    "cut_segments",
    "embedded_datasets",
    "extract",
    "job_folder",
    "load_dataset",
    "load_registry",
    "only_plugins",
    "read_csv",
    "run",
    "run_suite",
    "segment_lengths",
]


@contextlib.contextmanager
def only_plugins(names: Iterable[str] | None) -> Iterator[None]:
    """Within the block, entry-point plugins load as ``names`` says (``None``: every
    installed one; ``[]``: none but the builtins), whatever the environment said; the
    environment is restored afterwards."""
    saved = {k: os.environ.get(k) for k in (ENV_ONLY, ENV_DISABLE)}
    try:
        os.environ.pop(ENV_ONLY, None)
        os.environ.pop(ENV_DISABLE, None)
        if names is not None:
            names = list(names)
            if names:
                os.environ[ENV_ONLY] = ",".join(names)
            else:
                os.environ[ENV_DISABLE] = "1"
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_registry(*names: str, extra: Iterable[object] = (), autoload: bool = True) -> Registry:
    """The registry of the builtin plugins, the installed entry-point plugins ``names``
    (every installed one when none is named; none when only ``extra`` is given or
    ``autoload`` is false) and the plugin objects ``extra`` (e.g. a module under test that
    is not installed)."""
    extra = list(extra)
    selection: list[str] | None = None
    if not autoload or (extra and not names):
        selection = []
    elif names:
        selection = list(names)
    with only_plugins(selection):
        return load_plugins(extra=extra)


def check_registrations(registry: Registry, plugin: str) -> dict[str, list[str]]:
    """What ``plugin`` registered, by kind (``{"experiments": [...], ...}``, kinds it did
    not register left out), after checking that it loaded and that every spec it
    registered is usable (names what it refers to, has a known task, ...).  An
    :class:`AssertionError` lists every problem otherwise."""
    problems = []
    if plugin in registry.failed:
        problems.append(f"plugin {plugin!r} failed to load: {registry.failed[plugin]}")
    if plugin not in registry.versions and plugin not in registry.failed:
        loaded = ", ".join(sorted(registry.versions)) or "none"
        problems.append(f"plugin {plugin!r} is not loaded (loaded: {loaded})")
    registered: dict[str, list[str]] = {}
    for kind, items in registry.items.items():
        mine = sorted(name for name, item in items.items() if item.plugin == plugin)
        if mine:
            registered[kind] = mine
        problems += [
            registry.broken_reason(kind, name) or ""
            for name in mine
            if name in registry.broken[kind]
        ]
    if not problems and not registered:
        problems.append(f"plugin {plugin!r} registered nothing")
    if problems:
        raise AssertionError("; ".join(problems))
    return registered


def embedded_datasets(registry: Registry, task: str | None = None) -> list[str]:
    """The data sets that need no files (generated or shipped with a plugin), of ``task``
    (``"single-label"``, ``"multi-label"``; ``None``: both)."""
    return [
        spec.name
        for spec in registry.specs("datasets")
        if spec.embedded and (task is None or spec.task == task)
    ]


def load_dataset(
    name: str,
    root: Path | None = None,
    options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> Dataset:
    """The data set ``name`` as a job would load it (``--data-root root``,
    ``--dataset-option``s ``options``), from ``registry`` (default: every plugin)."""
    registry = registry or load_registry()
    return registry.get("datasets", name).load(root, dict(options or {}))


def extract(
    feature: FeatureSpec, tracks: Sequence[Track], cache_dir: Path | None = None
) -> Extracted:
    """Extract ``feature`` for ``tracks`` as a job does (in this process), with the
    feature cache in ``cache_dir`` (``None``: no cache).  The result's ``arrays`` map
    track ids to arrays, its ``problems`` list the tracks that failed and why, and
    ``from_asset`` counts the arrays read from a track's asset instead of its audio."""
    # lazy: loads soundfile, soxr, not needed at import time
    from genrebench.features.extract import extract_all

    return extract_all(feature, tracks, FeatureCache(cache_dir))


def segment_lengths(segments: Segments, feature: FeatureSpec) -> tuple[int | None, int | None]:
    """``(length, hop)`` in feature frames of the segments an experiment cuts from
    ``feature`` (``(None, None)``: whole arrays)."""
    length = segment_frames(segments, feature)
    return length, (hop_frames(segments, feature, length) if length is not None else None)


def cut_segments(
    arrays: Sequence[np.ndarray],
    track_ids: Sequence[str],
    segments: Segments,
    feature: FeatureSpec,
    count: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The segments a job cuts from the tracks' feature arrays: ``(x, owner)``, ``x`` of
    shape ``(n_segments, *segment_shape)`` and ``owner[i]`` the index in ``track_ids`` of
    segment ``i``; ``count`` segments a track (``None``: as the spec says), placed with
    ``seed`` as a job with that seed places them."""
    x, owner = cut(arrays, track_ids, segments, feature, count, seed)
    return np.asarray(x), owner


def job_folder(
    out: Path,
    experiment: str,
    dataset: str,
    *,
    profile: str = "quick",
    protocol: str = "benchmark",
    seed: int | str = 0,
    fold: int | None = None,
) -> Path:
    """The folder where a run with ``--out out`` saved one job's files (``metrics.json``,
    ``provenance.json``, ``predictions.csv``, ...): the single rule of
    :func:`genrebench.results.outputs.job_folder`, with a test's usual defaults."""
    return outputs.job_folder(out, experiment, dataset, profile, protocol, seed, fold)


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header, as dictionaries of strings."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@dataclass(frozen=True)
class RunResult:
    """What ``genrebench run`` left: its exit code, its ``--out`` folder and, through the
    methods, its leaderboard rows and each job's files."""

    exit_code: int
    out: Path
    argv: tuple[str, ...]
    #: The profile the run used, the default of :meth:`job_folder`.
    profile: str = "quick"
    #: Where the leaderboard went (``out`` unless ``--leaderboard-out`` said otherwise).
    leaderboard_out: Path | None = None

    def rows(self) -> list[dict[str, str]]:
        """The rows of ``leaderboard.csv``."""
        return read_csv((self.leaderboard_out or self.out) / "leaderboard.csv")

    def row(self, experiment: str, dataset: str, *, ok: bool = True) -> dict[str, str]:
        """The one leaderboard row of ``experiment`` on ``dataset``; with ``ok`` (the
        default) it must have succeeded.  An :class:`AssertionError` saying what the
        leaderboard holds otherwise."""
        rows = self.rows()
        mine = [r for r in rows if r["experiment"] == experiment and r["dataset"] == dataset]
        held = sorted({(r["experiment"], r["dataset"]) for r in rows})
        assert len(mine) == 1, f"{len(mine)} rows of {experiment} on {dataset}; held: {held}"
        row = mine[0]
        if ok:
            assert row.get("status", "ok") == "ok", f"{experiment} on {dataset}: {row.get('error')}"
        return row

    def job_folder(
        self,
        experiment: str,
        dataset: str,
        *,
        profile: str | None = None,
        protocol: str = "benchmark",
        seed: int | str = 0,
        fold: int | None = None,
    ) -> Path:
        """The folder of one job (see :func:`job_folder`)."""
        return job_folder(
            self.out,
            experiment,
            dataset,
            profile=profile or self.profile,
            protocol=protocol,
            seed=seed,
            fold=fold,
        )

    def metrics(self, experiment: str, dataset: str, **where: Any) -> dict[str, Any]:
        """The job's ``metrics.json``; ``where`` as for :meth:`job_folder`."""
        return self._json(experiment, dataset, "metrics.json", where)

    def provenance(self, experiment: str, dataset: str, **where: Any) -> dict[str, Any]:
        """The job's ``provenance.json``; ``where`` as for :meth:`job_folder`."""
        return self._json(experiment, dataset, "provenance.json", where)

    def predictions(
        self, experiment: str, dataset: str, file: str = "predictions.csv", **where: Any
    ) -> list[dict[str, str]]:
        """The rows of one of the job's CSV files (the per-track ``predictions.csv`` by
        default); ``where`` as for :meth:`job_folder`."""
        return read_csv(self.job_folder(experiment, dataset, **where) / file)

    def _json(self, experiment: str, dataset: str, file: str, where: dict) -> dict[str, Any]:
        path = self.job_folder(experiment, dataset, **where) / file
        return json.loads(path.read_text(encoding="utf-8"))


def run(
    tmp_path: Path,
    *experiments: str,
    dataset: str | Sequence[str] | None = None,
    profile: str = "quick",
    seeds: int = 1,
    plugins: Iterable[str] | None = None,
    options: Sequence[str] = (),
    out: Path | None = None,
    cache_dir: Path | None = None,
) -> RunResult:
    """``genrebench run EXPERIMENT... --profile PROFILE --seeds N`` into ``tmp_path/out``
    (or ``out``) with its feature cache in ``tmp_path/cache`` (or ``cache_dir``) and no
    progress bars.  ``dataset`` adds ``--dataset`` (each); ``options`` are further
    command-line arguments; ``plugins`` selects the entry-point plugins as
    :func:`only_plugins` does (``None``: every installed one)."""
    datasets = [dataset] if isinstance(dataset, str) else list(dataset or ())
    argv = ["run", *experiments, "--profile", profile, "--seeds", str(seeds)]
    for name in datasets:
        argv += ["--dataset", name]
    return _main(tmp_path, argv, options, plugins, out, cache_dir, profile)


def run_suite(
    tmp_path: Path,
    suite: str | Path,
    *,
    plugins: Iterable[str] | None = None,
    options: Sequence[str] = (),
    out: Path | None = None,
    cache_dir: Path | None = None,
    profile: str = "quick",
) -> RunResult:
    """``genrebench run --suite SUITE`` (a name or a TOML file) into ``tmp_path/out``, as
    :func:`run` does; ``profile`` is the suite's, for :meth:`RunResult.job_folder`."""
    argv = ["run", "--suite", str(suite)]
    return _main(tmp_path, argv, options, plugins, out, cache_dir, profile)


def _main(
    tmp_path: Path,
    argv: list[str],
    options: Sequence[str],
    plugins: Iterable[str] | None,
    out: Path | None,
    cache_dir: Path | None,
    profile: str,
) -> RunResult:
    # the command line is the user's way in; imported here so that loading this kit (and
    # a plugin's test module) does not import the whole harness
    from genrebench.cli import main

    out = Path(out or Path(tmp_path) / "out")
    cache_dir = Path(cache_dir or Path(tmp_path) / "cache")
    argv = [*argv, *options, "--out", str(out), "--cache-dir", str(cache_dir), "--no-progress"]
    board = _option_value(options, "--leaderboard-out")
    with only_plugins(plugins):
        code = main(argv)
    return RunResult(
        exit_code=code,
        out=out,
        argv=tuple(argv),
        profile=profile,
        leaderboard_out=Path(board) if board else None,
    )


def _option_value(options: Sequence[str], flag: str) -> str | None:
    for i, arg in enumerate(options):
        if arg == flag and i + 1 < len(options):
            return options[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None
