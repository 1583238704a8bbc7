"""The progress lines a run prints on stderr, one per finished job or ensemble."""

from __future__ import annotations

from typing import Any


def headline(result: dict[str, Any]) -> str:
    """The few metrics worth a progress line (subset accuracy alone says little for
    multi-label tasks)."""
    m = result["metrics"]
    names = ["accuracy", "f1_macro"]
    if result.get("task") == "multi-label":
        names = ["accuracy", "label_accuracy", "roc_auc"]
    return ", ".join(f"{n} {m[n]:.3f}" for n in names if m.get(n) is not None)
