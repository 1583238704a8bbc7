"""Plugin discovery and the registry of everything plugins provide.

Plugins come from the ``genrebench`` entry-point group and from the builtin modules below.
``GENREBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` skips entry points altogether;
``GENREBENCH_PLUGINS=name1,name2`` loads only those entry points (like pytest's
``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` / ``PYTEST_PLUGINS``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from genrebench import hookspecs
from genrebench.errors import PluginError, UnknownNameError

log = logging.getLogger(__name__)

BUILTIN_PLUGINS = (
    "genrebench.builtin.metrics",
    "genrebench.builtin.calibrators",
    "genrebench.builtin.reference",
    "genrebench.builtin.synthetic",
    "genrebench.builtin.datasets",
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
ENV_DISABLE = "GENREBENCH_DISABLE_PLUGIN_AUTOLOAD"
ENV_ONLY = "GENREBENCH_PLUGINS"


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
    #: Loaded plugins: name -> distribution version ("builtin" for the core's own).
    versions: dict[str, str] = field(default_factory=dict)

    def get(self, kind: str, name: str) -> Any:
        """The spec called ``name``; an error naming the known ones and the closest match."""
        try:
            return self.items[kind][name].spec
        except KeyError:
            raise UnknownNameError(kind.rstrip("s"), name, self.items[kind]) from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.items[kind])

    def specs(self, kind: str) -> list[Any]:
        return [self.items[kind][n].spec for n in self.names(kind)]

    def plugin_of(self, kind: str, name: str) -> str:
        return self.items[kind][name].plugin


def load_plugins(*, autoload: bool | None = None, extra: Iterable[object] = ()) -> Registry:
    """Register the builtin plugins, the ``genrebench`` entry points (unless autoloading is
    off) and ``extra`` plugin objects, validate the hooks and build the registry.

    A plugin that raises on import is reported (``Registry.failed`` and a warning) and the
    others load.  Two plugins registering the same name raise :class:`PluginError`."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = Registry(pm)
    for modname in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(modname), name=modname)
        registry.versions[modname] = "builtin"
    if autoload is None:
        autoload = os.environ.get(ENV_DISABLE, "").strip().lower() in {"", "0", "false", "no"}
    if autoload:
        only = {n.strip() for n in os.environ.get(ENV_ONLY, "").split(",") if n.strip()}
        names = sorted({ep.name for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT)})
        for name in names:
            if only and name not in only:
                continue
            try:
                # One call per name, so one broken plugin cannot stop the others.
                pm.load_setuptools_entrypoints(hookspecs.PROJECT, name=name)
            except Exception as exc:
                registry.failed[name] = f"{type(exc).__name__}: {exc}"
                log.warning("genrebench plugin %r failed to load and was skipped: %s", name, exc)
        for plugin, dist in pm.list_plugin_distinfo():
            registry.versions[pm.get_name(plugin)] = f"{dist.project_name} {dist.version}"
    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        pm.register(plugin, name=name)
        registry.versions[name] = "extra"
    pm.check_pending()
    _collect_specs(registry)
    return registry


def _collect_specs(registry: Registry) -> None:
    for kind in KINDS:
        hook = getattr(registry.pm.hook, f"genrebench_register_{kind}")
        for impl in hook.get_hookimpls():
            try:
                specs = impl.function() or []
            except Exception as exc:
                registry.failed[impl.plugin_name] = (
                    f"{type(exc).__name__} in register_{kind}: {exc}"
                )
                log.warning(
                    "plugin %r raised in genrebench_register_%s and was skipped: %s",
                    impl.plugin_name,
                    kind,
                    exc,
                )
                continue
            for spec in specs:
                known = registry.items[kind].get(spec.name)
                if known is not None:
                    raise PluginError(
                        f"{kind[:-1]} {spec.name!r} is registered by both plugin "
                        f"{known.plugin!r} and plugin {impl.plugin_name!r}; uninstall one, or "
                        f"load only the plugins you want with {ENV_ONLY}=name,..."
                    )
                registry.items[kind][spec.name] = Registered(spec, impl.plugin_name)
