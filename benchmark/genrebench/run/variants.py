"""A variant of a registered experiment (its own name and budget), registered as a plugin
would register it: what the bench commands run through the ``genrebench run`` loop."""

from __future__ import annotations

import types

from genrebench import hookimpl
from genrebench.registry.loading import Registry, load_plugins
from genrebench.specs import ExperimentSpec


def variant_registry(spec: ExperimentSpec) -> Registry:
    """The installed plugins plus ``spec``, registered by a plugin module of its own."""
    module = types.ModuleType("genrebench_bench_variant")
    module.genrebench_register_experiments = hookimpl(lambda: [spec])
    return load_plugins(extra=[module])
