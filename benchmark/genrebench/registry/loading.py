"""Plugin discovery and the registry of everything plugins provide.

Plugins come from the ``genrebench`` entry-point group and from the builtin modules below.
A plugin's name is its entry-point name.  ``GENREBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` skips
entry points altogether; ``GENREBENCH_PLUGINS=name1,name2`` loads only those entry points
and ``GENREBENCH_PLUGINS=-name`` all but that one (like pytest's
``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` / ``PYTEST_PLUGINS`` and ``-p no:name``).

A plugin that fails to import or raises in a ``register_*`` hook is recorded in
``Registry.failed`` (with its traceback in ``Registry.tracebacks``), logged once, and the
others load; ``GENREBENCH_STRICT_PLUGINS=1`` (or ``genrebench --strict-plugins``) makes the
command line refuse to go on instead.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy

from genrebench import hookspecs
from genrebench.errors import ConfigError, PluginError, UnknownNameError
from genrebench.registry import ENV_DISABLE, ENV_ONLY
from genrebench.registry.checks import check_metric_columns, check_references, clash_advice

log = logging.getLogger(__name__)

BUILTIN_PLUGINS = (
    "genrebench.builtin.metrics",
    "genrebench.builtin.calibrators",
    "genrebench.builtin.reference",
    "genrebench.builtin.synthetic",
    "genrebench.builtin.datasets",
    "genrebench.builtin.suites",
)
KINDS = (
    "datasets",
    "features",
    "models",
    "metrics",
    "experiments",
    "calibrators",
    "ensembles",
)


@dataclass
class Registered:
    """A spec and the name of the plugin that registered it."""

    spec: Any
    plugin: str


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind and name, and the plugin manager
    (for calling lifecycle hooks)."""

    pm: pluggy.PluginManager
    items: dict[str, dict[str, Registered]] = field(default_factory=lambda: {k: {} for k in KINDS})
    #: Plugins that failed to load or register: name -> error message.
    failed: dict[str, str] = field(default_factory=dict)
    #: Tracebacks of those failures, for ``genrebench -v``.
    tracebacks: dict[str, str] = field(default_factory=dict)
    #: Loaded plugins: name -> distribution version ("builtin" for the core's own).
    versions: dict[str, str] = field(default_factory=dict)
    #: Registered specs that are unusable, by kind: name -> why (an experiment naming a
    #: feature that no plugin registered, an unknown task type, ...).  They stay listed;
    #: a run reports a broken experiment as a failed row and runs the rest.
    broken: dict[str, dict[str, str]] = field(default_factory=lambda: {k: {} for k in KINDS})
    #: How to load each plugin again in another process: ``("module", dotted name)``,
    #: ``("entry_point", name)``, or absent for plugin objects handed to ``load_plugins``.
    sources: dict[str, tuple[str, str]] = field(default_factory=dict)

    def get(self, kind: str, name: str) -> Any:
        """The spec called ``name``; else the error of :meth:`missing`."""
        try:
            return self.items[kind][name].spec
        except KeyError:
            raise self.missing(kind, name) from None

    def missing(self, kind: str, name: str, known: Iterable[str] | None = None) -> ConfigError:
        """The error for a ``kind`` called ``name`` that no loaded plugin registered: which
        plugin failed to load when ``name`` carries its prefix, else the known names
        (``known``, default those of ``kind``) and the closest match."""
        owner = name.split("/", 1)[0] if "/" in name else name
        if owner in self.failed:
            return ConfigError(
                f"{kind.rstrip('s')} {name!r} cannot be used: its plugin {owner!r} failed to "
                f"load ({self.failed[owner]}); run with -v for the traceback"
            )
        error = UnknownNameError(
            kind.rstrip("s"), name, self.items[kind] if known is None else known
        )
        if self.failed:
            error.args = (
                f"{error.args[0]} (plugins that failed to load: {', '.join(sorted(self.failed))})",
            )
        return error

    def names(self, kind: str) -> list[str]:
        return sorted(self.items[kind])

    def specs(self, kind: str) -> list[Any]:
        return [self.items[kind][n].spec for n in self.names(kind)]

    def plugin_of(self, kind: str, name: str) -> str:
        return self.items[kind][name].plugin

    def broken_reason(self, kind: str, name: str) -> str | None:
        """Why the spec ``name`` cannot be used, naming its plugin; None when it can."""
        reason = self.broken[kind].get(name)
        if reason is None:
            return None
        return f"{kind[:-1]} {name!r} of plugin {self.plugin_of(kind, name)!r} is broken: {reason}"


def load_plugins(*, autoload: bool | None = None, extra: Iterable[object] = ()) -> Registry:
    """Register the builtin plugins, the ``genrebench`` entry points (unless autoloading is
    off) and ``extra`` plugin objects, validate the hooks and build the registry.

    A plugin that raises on import or in a ``register_*`` hook is reported (``Registry.failed``
    and one warning, with the traceback when debug logging is on) and the others load.  Two
    plugins registering the same name raise :class:`PluginError`."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = Registry(pm)
    for modname in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(modname), name=modname)
        registry.versions[modname] = "builtin"
        registry.sources[modname] = ("module", modname)
    if autoload is None:
        autoload = os.environ.get(ENV_DISABLE, "").strip().lower() in {"", "0", "false", "no"}
    if autoload:
        names = sorted({ep.name for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT)})
        for name in selected_entry_points(names, os.environ.get(ENV_ONLY, "")):
            try:
                # One call per name, so one broken plugin cannot stop the others.
                pm.load_setuptools_entrypoints(hookspecs.PROJECT, name=name)
            except Exception as exc:
                _failed(registry, name, f"{type(exc).__name__}: {exc}")
                continue
            registry.sources[name] = ("entry_point", name)
        for plugin, dist in pm.list_plugin_distinfo():
            registry.versions[pm.get_name(plugin)] = f"{dist.project_name} {dist.version}"
    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        pm.register(plugin, name=name)
        registry.versions[name] = "extra"
    pm.check_pending()
    _collect_specs(registry)
    check_metric_columns(registry)
    check_references(registry)
    return registry


def selected_entry_points(names: Sequence[str], setting: str) -> list[str]:
    """The entry-point plugins to load given ``GENREBENCH_PLUGINS``: every one when empty;
    the listed ones; or, for entries written ``-name``, every one but those."""
    entries = [e.strip() for e in setting.split(",") if e.strip()]
    include = {e for e in entries if not e.startswith("-")}
    exclude = {e[1:].strip() for e in entries if e.startswith("-")}
    unknown = sorted((include | exclude) - set(names))
    if unknown:
        log.warning(
            "%s names %s, which no installed plugin is called; installed plugins: %s",
            ENV_ONLY,
            ", ".join(map(repr, unknown)),
            ", ".join(names) or "(none)",
        )
    return [n for n in names if (not include or n in include) and n not in exclude]


def load_single_plugin(source: tuple[str, str]) -> Registry:
    """A registry holding only the plugin that ``source`` (from ``Registry.sources``) names:
    what a worker process needs to look up that plugin's specs, without importing the
    others."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    how, name = source
    if how == "module":
        pm.register(importlib.import_module(name), name=name)
    elif how == "entry_point":
        pm.load_setuptools_entrypoints(hookspecs.PROJECT, name=name)
    else:
        raise ValueError(f"unknown plugin source {source!r}")
    registry = Registry(pm, sources={name: source})
    _collect_specs(registry)
    if registry.failed:
        raise PluginError(f"plugin {name!r} failed to load: {registry.failed[name]}")
    return registry


def _failed(registry: Registry, name: str, reason: str) -> None:
    """Record a plugin that failed to load, and say so once (with the traceback when
    debug logging is on: ``genrebench -v``)."""
    registry.failed[name] = reason
    registry.tracebacks[name] = traceback.format_exc()
    log.warning(
        "plugin %r failed to load and was skipped: %s",
        name,
        reason,
        exc_info=log.isEnabledFor(logging.DEBUG),
    )


def _collect_specs(registry: Registry) -> None:
    for kind in KINDS:
        hook = getattr(registry.pm.hook, f"genrebench_register_{kind}")
        for impl in hook.get_hookimpls():
            if impl.plugin_name in registry.failed:
                continue
            try:
                specs = impl.function() or []
            except Exception as exc:
                _failed(
                    registry,
                    impl.plugin_name,
                    f"{type(exc).__name__} in genrebench_register_{kind}: {exc}",
                )
                _forget(registry, impl.plugin_name)
                continue
            for spec in specs:
                known = registry.items[kind].get(spec.name)
                if known is not None:
                    raise PluginError(
                        f"{kind[:-1]} {spec.name!r} is registered by both plugin "
                        f"{known.plugin!r} and plugin {impl.plugin_name!r}; "
                        + clash_advice(registry, known.plugin, impl.plugin_name)
                    )
                registry.items[kind][spec.name] = Registered(spec, impl.plugin_name)


def _forget(registry: Registry, plugin: str) -> None:
    """Drop what a plugin registered before one of its hooks raised: it counts as not
    loaded, not as half loaded."""
    for items in registry.items.values():
        for name in [n for n, r in items.items() if r.plugin == plugin]:
            del items[name]
    registry.pm.unregister(name=plugin)
