"""``genrebench list``: the registered data sets, features, models, metrics, calibrators,
experiments and ensembles, with what is broken."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from genrebench.registry.loading import KINDS, Registry


def add_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    """The ``list`` command's parser."""
    p = add("list", help="list data sets, features, models, metrics and experiments")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=command)


def command(registry: Registry, args: argparse.Namespace) -> int:
    listing = {
        kind: [_describe(registry, kind, name) for name in registry.names(kind)] for kind in KINDS
    }
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for kind in KINDS:
        print(f"{kind}:")
        for item in listing[kind]:
            extra = f" [{item['task']}]" if "task" in item else ""
            extra += f" [{', '.join(item['tasks'])}]" if "tasks" in item else ""
            extra += f"  BROKEN: {item['broken']}" if "broken" in item else ""
            print(f"  {item['name']:<36} {item['plugin']}{extra}")
            if kind == "experiments" and item["description"]:
                print(f"      {item['description']}")
            if kind == "experiments" and item["split"]["scheme"] != "default":
                ratios = item["split"]["ratios"] or {}
                shares = ",".join(f"{k}={v:g}" for k, v in ratios.items())
                print(
                    f"      own split (paper protocol): {item['split']['scheme']}"
                    + (f"({shares})" if shares else "")
                )
            if item.get("requires_weights"):
                print(f"      needs {item['requires_weights']}")
    if registry.failed:
        print("plugins that failed to load:")
        for name, reason in registry.failed.items():
            print(f"  {name}: {reason}")
    return 0


def _describe(registry: Registry, kind: str, name: str) -> dict:
    spec = registry.get(kind, name)
    item = {
        "name": name,
        "plugin": registry.plugin_of(kind, name),
        "description": getattr(spec, "description", ""),
    }
    if kind in ("datasets", "metrics"):
        item["task"] = spec.task
    if kind == "datasets":
        item["embedded"] = spec.embedded
    if kind in ("models", "experiments", "calibrators", "ensembles"):
        item["tasks"] = list(spec.tasks)
    if kind == "experiments":
        item.update(feature=spec.feature, model=spec.model, paper=spec.paper)
        # The paper's own split, used under the paper protocol only.
        item["split"] = {"scheme": spec.split.scheme, "ratios": dict(spec.split.ratios or {})}
        item["requires_weights"] = spec.requires_weights
    if name in registry.broken[kind]:
        item["broken"] = registry.broken[kind][name]
    return item
