"""Which HEAR modules become features, with which weights, and what each model is.

The user names the modules (each entry gives a feature ``hear/<name>`` and an experiment
``hear/<name>-mlp``; the name is the module's import name unless the config file gives one):

* ``GENREBENCH_HEAR_MODULES``: a comma-separated list of ``module`` or ``module=WEIGHTS``,
  e.g. ``hearbaseline.naive, my_lab.model=/weights/model.pt``; set (even empty), it
  replaces the default list;
* ``GENREBENCH_HEAR_CONFIG``: a TOML file with one ``[[module]]`` table per module and
  the options of each (``name``, ``weights``, ``embedding``, ``sample_rate``,
  ``needs_weights``; see :data:`CONFIG_KEYS`), added to the list above (a module in both
  takes the file's options);
* ``GENREBENCH_HEAR_WEIGHTS_<NAME>`` (the name upper-cased, every other character than a
  letter or digit as ``_``): the weights file of one module, over both of the above.

Neither variable set: the modules of :data:`DEFAULT_MODULES` that are installed.

A model's sample rate and embedding sizes are only known once ``load_model`` has run, and
the core needs the sample rate when the plugin registers its feature (it decodes the
audio at that rate).  The plugin therefore loads each model once, the first time it sees
it, and remembers what it found in ``<feature cache>/hear/models.json`` under the module's
name, version and weights digest; a ``sample_rate`` in the config file spares that load.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from genrebench import weights

ENV_MODULES = "GENREBENCH_HEAR_MODULES"
ENV_CONFIG = "GENREBENCH_HEAR_CONFIG"
ENV_WEIGHTS_PREFIX = "GENREBENCH_HEAR_WEIGHTS_"
#: Registered when the user names no module, if installed with what they need (module ->
#: packages it needs): HEAR's naive baseline (``pip install --no-deps hearbaseline``) and
#: lukashevich2023's musicnn port with the checkpoint of the musicnn wheel.  Neither needs
#: user-supplied weights.
DEFAULT_MODULES = {
    "hearbaseline.naive": (),
    "genrebench_lukashevich2023.hear_musicnn": ("musicnn",),
}
EMBEDDINGS = ("scene", "timestamp-mean")
CONFIG_KEYS = {
    "module": "import name of the HEAR module (required)",
    "name": "the name in hear/<name> and hear/<name>-mlp (default: the module name)",
    "weights": "weights file handed to load_model (relative to the config file)",
    "embedding": "'scene' (get_scene_embeddings, the default) or 'timestamp-mean' "
    "(get_timestamp_embeddings averaged over time)",
    "sample_rate": "the model's sample rate, if known: spares loading the model at start-up",
    "needs_weights": "true: without weights the experiment is left out of suites and globs, "
    "and fails naming the file",
}
#: HEAR 2021 allows these input rates (hearvalidator's ACCEPTABLE_SAMPLE_RATE).
HEAR_SAMPLE_RATES = (16000, 22050, 32000, 44100, 48000)
#: Decoding rate for an entry whose model could not be loaded: its extraction stops with
#: the reason before any array is made, so nothing is computed or cached at this rate.
UNKNOWN_SAMPLE_RATE = 16000


class HearConfigError(ValueError):
    """The module list or config file cannot be read; the message names the culprit."""


@dataclass(frozen=True)
class Entry:
    """One HEAR module to register."""

    module: str
    name: str
    weights: Path | None = None
    #: Where the weights setting came from (for messages).
    weights_source: str = ""
    embedding: str = "scene"
    sample_rate: int | None = None
    needs_weights: bool = False
    #: What the model reported (``sample_rate``, ``scene_embedding_size``,
    #: ``timestamp_embedding_size``), once known.
    facts: Mapping[str, Any] = field(default_factory=dict)
    #: Why the module cannot run (cannot be imported, weights missing, load_model failed).
    problem: str = ""

    @property
    def feature(self) -> str:
        return f"hear/{self.name}"

    @property
    def experiment(self) -> str:
        return f"hear/{self.name}-mlp"

    @property
    def weights_variable(self) -> str:
        return ENV_WEIGHTS_PREFIX + re.sub(r"[^A-Z0-9]", "_", self.name.upper())

    def weights_hint(self) -> str:
        return (
            f"give {self.module}'s weights file with {self.weights_variable}=FILE, or as "
            f"'{self.module}=FILE' in {ENV_MODULES}, or as weights = \"FILE\" in its "
            f"[[module]] table of the {ENV_CONFIG} file"
        )


# --------------------------------------------------------------------------- the list
def read_entries(environ: Mapping[str, str] | None = None) -> list[Entry]:
    """The modules the user named (see the module docstring), in order, without facts."""
    environ = os.environ if environ is None else environ
    entries: dict[str, Entry] = {}
    listed = environ.get(ENV_MODULES)
    if listed is None and not environ.get(ENV_CONFIG):
        for module, needs in DEFAULT_MODULES.items():
            if _importable(module) and all(_importable(n) for n in needs):
                entries[module] = Entry(module, module)
    for item in (listed or "").split(","):
        item = item.strip()
        if not item:
            continue
        module, _, weights = item.partition("=")
        module = module.strip()
        _check_module_name(module, ENV_MODULES)
        source = f"{ENV_MODULES}" if weights.strip() else ""
        path = Path(weights.strip()).expanduser() if weights.strip() else None
        entries[module] = Entry(module, module, weights=path, weights_source=source)
    config = environ.get(ENV_CONFIG, "").strip()
    if config:
        for entry in read_config(Path(config).expanduser()):
            entries[entry.name] = entry
    out = []
    for entry in entries.values():
        variable = environ.get(entry.weights_variable, "").strip()
        if variable:
            entry = replace(
                entry, weights=Path(variable).expanduser(), weights_source=entry.weights_variable
            )
        out.append(entry)
    names = [e.name for e in out]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise HearConfigError(f"HEAR modules named twice: {twice}; give each a distinct name")
    return out


def read_config(path: Path) -> list[Entry]:
    """The ``[[module]]`` tables of a config file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise HearConfigError(f"{ENV_CONFIG}={path}: cannot read it: {exc}") from exc
    unknown = set(data) - {"module"}
    if unknown or not isinstance(data.get("module", []), list):
        raise HearConfigError(
            f"{path}: expected only [[module]] tables, found {sorted(unknown) or 'module ='}"
        )
    entries = []
    for number, table in enumerate(data.get("module", []), 1):
        where = f"{path}: [[module]] table {number}"
        extra = set(table) - set(CONFIG_KEYS)
        if extra:
            known = ", ".join(CONFIG_KEYS)
            raise HearConfigError(f"{where}: unknown keys {sorted(extra)} (known: {known})")
        module = table.get("module")
        if not isinstance(module, str):
            raise HearConfigError(f"{where}: 'module' (the import name) is required")
        _check_module_name(module, where)
        embedding = table.get("embedding", "scene")
        if embedding not in EMBEDDINGS:
            raise HearConfigError(f"{where}: embedding must be one of {EMBEDDINGS}")
        rate = table.get("sample_rate")
        if rate is not None and rate not in HEAR_SAMPLE_RATES:
            raise HearConfigError(f"{where}: sample_rate must be one of {HEAR_SAMPLE_RATES}")
        weights = table.get("weights")
        if weights is not None:
            weights = Path(weights).expanduser()
            weights = weights if weights.is_absolute() else path.parent / weights
        name = table.get("name", module)
        if not re.fullmatch(r"[\w.\-]+", name):
            raise HearConfigError(f"{where}: name {name!r}: use letters, digits, . _ - only")
        entries.append(
            Entry(
                module=module,
                name=name,
                weights=weights,
                weights_source=str(path) if weights is not None else "",
                embedding=embedding,
                sample_rate=rate,
                needs_weights=bool(table.get("needs_weights", False)),
            )
        )
    return entries


def _check_module_name(module: str, where: str) -> None:
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module):
        raise HearConfigError(f"{where}: {module!r} is not an importable module name")


def _importable(module: str) -> bool:
    return locate(module) is not None


def locate(module: str) -> Path | None:
    """The source file of ``module`` without importing it or its packages (finding
    ``a.b`` with ``importlib.util.find_spec`` imports ``a``, and a package such as
    ``hearbaseline`` imports torch and librosa in its ``__init__``): the top-level
    package's location, then the submodules' files below it; None when not found (or
    not a plain file, such as a compiled extension inside a package)."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin and Path(spec.origin).is_file() else None
    for base in spec.submodule_search_locations or []:
        path = Path(base).joinpath(*rest)
        for candidate in (path.with_suffix(".py"), path / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


# --------------------------------------------------------------------------- identity
def module_version(module: str) -> str:
    """``<distribution> <version>`` of the installed distribution holding the module, else
    the SHA-256 of the module's source file (a module on ``sys.path`` outside any
    distribution); ``""`` when it cannot be found."""
    top = module.split(".")[0]
    try:  # the usual case, a distribution named after its package: no scan of them all
        return f"{importlib.metadata.metadata(top)['Name']} {importlib.metadata.version(top)}"
    except importlib.metadata.PackageNotFoundError:
        pass
    for dist in _distributions().get(top, []):
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    origin = locate(module)
    return "source sha256:" + file_digest(origin) if origin is not None else ""


@lru_cache(maxsize=1)
def _distributions() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def file_digest(path: Path) -> str:
    """SHA-256 of a file (first 16 hex digits), remembered per path, size and mtime in the
    facts file, so that a large weights file is read once, not at every start-up."""
    stat = path.stat()
    key = f"digest:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    known = _facts_file().read().get(key)
    if known:
        return known
    digest = weights.file_digest(path)
    _facts_file().remember(key, digest)
    return digest


def weights_digest(entry: Entry) -> str:
    if entry.weights is None:
        return "none"
    return file_digest(entry.weights) if entry.weights.is_file() else "missing"


def model_key(entry: Entry, version: str) -> str:
    return json.dumps([entry.module, version, weights_digest(entry)])


# --------------------------------------------------------------------------- facts
class FactsFile:
    """A small JSON file of things learnt about models and files (see the module
    docstring); unreadable or unwritable, it is simply not used."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def remember(self, key: str, value: Any) -> None:
        data = self.read()
        data[key] = value
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            scratch.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
            scratch.replace(self.path)  # atomic: concurrent writers never half-write it
        except OSError:
            pass


def _facts_file() -> FactsFile:
    from genrebench.cache import default_cache_dir

    return FactsFile(default_cache_dir() / "hear" / "models.json")


def with_facts(entry: Entry) -> Entry:
    """The entry with its model's facts (sample rate, embedding sizes): from the facts
    file, or by loading the model once; or with the reason it cannot run."""
    if not _importable(entry.module):
        return replace(entry, problem=f"module {entry.module!r} cannot be found (is it installed?)")
    if entry.weights is not None and not entry.weights.is_file():
        where = f" (from {entry.weights_source})" if entry.weights_source else ""
        return replace(entry, problem=f"the weights file {entry.weights}{where} does not exist")
    if entry.needs_weights and entry.weights is None:
        return replace(
            entry, problem=f"{entry.module} needs a weights file: {entry.weights_hint()}"
        )
    version = module_version(entry.module)
    key = model_key(entry, version)
    facts = _facts_file().read().get(key)
    if facts is None and entry.sample_rate is not None:
        facts = {"sample_rate": entry.sample_rate}
    if facts is None:
        from genrebench_hear.embed import describe_model

        try:
            facts = describe_model(entry)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            hint = (
                ""
                if entry.weights is not None
                else f"; if it needs weights, {entry.weights_hint()}"
            )
            return replace(entry, problem=f"{entry.module}.load_model failed ({reason}){hint}")
        _facts_file().remember(key, facts)
    return replace(entry, facts={**facts, "version": version})
