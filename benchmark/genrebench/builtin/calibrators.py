"""Builtin plugin: the temperature calibrators (definitions in
:mod:`genrebench.evaluation.calibration`).

``none`` and fixed temperatures (``temperature=1.5``) are resolved by name, not registered.
"""

from __future__ import annotations

from genrebench import CalibratorSpec, hookimpl
from genrebench.evaluation.calibration import BUILTIN


@hookimpl
def genrebench_register_calibrators() -> list[CalibratorSpec]:
    return list(BUILTIN)
