"""Only what pyproject.toml cannot say: the wheel carries the checkout's builtin suites
(``leaderboards/*/suite.toml``) and split lists (``datasets/``), which genrebench reads at
run time and which live outside the package in the checkout (beside the leaderboards they
produce, and beside the data sets' provenance).  They go to ``genrebench/data/`` in the
wheel; an editable install reads them from the checkout (see ``genrebench.builtin.suites``
and ``genrebench.datasets.loaders.base.splits_dir``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def checkout_data() -> list[tuple[Path, str]]:
    """``(file, path inside genrebench/data)`` for each run-time file kept outside the
    package; MANIFEST.in puts the same files in the sdist."""
    found = list(HERE.glob("leaderboards/*/suite.toml"))
    found += [p for p in HERE.glob("datasets/**/*") if p.is_file()]
    return sorted((p, p.relative_to(HERE).as_posix()) for p in found)


class BuildPyWithCheckoutData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "genrebench" / "data"
        for source, name in checkout_data():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / name)


setup(cmdclass={"build_py": BuildPyWithCheckoutData})
