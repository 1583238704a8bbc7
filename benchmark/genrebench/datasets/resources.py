"""Run-time files that live outside the package in the source checkout: the builtin
suites (``leaderboards/*/suite.toml``, beside the boards they produce) and the split lists
(``datasets/``).  An editable install reads them from the checkout; a wheel carries copies
under ``genrebench/data/`` (setup.py puts them there)."""

from __future__ import annotations

from pathlib import Path

#: The package folder: ``<checkout>/benchmark/genrebench`` or ``site-packages/genrebench``
#: (this module is ``genrebench/datasets/resources.py``).
PACKAGE = Path(__file__).resolve().parents[1]
#: The checkout root, when the package is imported from one (it holds pyproject.toml).
CHECKOUT = PACKAGE.parents[1]
#: The wheel's copies.
PACKAGED = PACKAGE / "data"


def shipped_folder(name: str) -> Path | None:
    """``leaderboards`` or ``datasets`` of the checkout this package runs from, else the
    copy inside an installed wheel, else None (the caller says what is missing)."""
    checkout = CHECKOUT / name
    if (CHECKOUT / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    packaged = PACKAGED / name
    return packaged if packaged.is_dir() else None
