"""The progress lines a run prints on stderr, one per finished job, pooled k-fold seed or
ensemble, and the ``genrebench_run_finished`` call that goes with each."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.registry.loading import Registry


def headline(result: dict[str, Any]) -> str:
    """The few metrics worth a progress line (subset accuracy alone says little for
    multi-label tasks)."""
    m = result["metrics"]
    names = ["accuracy", "f1_macro"]
    if result.get("task") == "multi-label":
        names = ["accuracy", "label_accuracy", "roc_auc"]
    return ", ".join(f"{n} {m[n]:.3f}" for n in names if m.get(n) is not None)


def announce(
    registry: Registry,
    label: str,
    result: dict[str, Any],
    folder: Path,
    done: str = "",
    after: str = "",
) -> None:
    """Print a finished result's progress line (``<label><done>: <headline><after>``, or
    ``<label>: FAILED: <error>``) and pass the result and its folder to
    ``genrebench_run_finished``, on the process that runs the command."""
    if result["status"] == "ok":
        print(f"{label}{done}: {headline(result)}{after}", file=sys.stderr)
    else:
        print(f"{label}: FAILED: {result['error']}", file=sys.stderr)
    registry.pm.hook.genrebench_run_finished(result=result, job_folder=folder)
