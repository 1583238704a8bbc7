"""The core's wheel holds every file genrebench reads at run time: the whole package
(report templates, the synthetic data definitions, ``python -m genrebench.features.workers``) and
the checkout's builtin suites and split lists, and an unpacked wheel finds them there
with no checkout beside it.  Built once per module, the way ``python -m build`` does it
(an sdist, then the wheel from the unpacked sdist), in a copy of the sources so that the
checkout gets no build folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "benchmark" / "genrebench"

BUILD = """
import sys
from setuptools import build_meta
kind, out = sys.argv[1], sys.argv[2]
print(build_meta.build_sdist(out) if kind == "sdist" else build_meta.build_wheel(out))
"""


def build(kind: str, source: Path, out: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-c", BUILD, kind, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out / result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools", minversion="77", reason="the build backend (pyproject.toml)")
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        if (ROOT / name).is_file():
            shutil.copy(ROOT / name, source / name)
    for name in ("benchmark", "datasets"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for suite in ROOT.glob("leaderboards/*"):
        shutil.copytree(suite, source / "leaderboards" / suite.name)  # boards too
    sdist = build("sdist", source, work / "dist")
    with tarfile.open(sdist) as archive:
        archive.extractall(work / "unpacked", filter="data")
    (unpacked,) = (work / "unpacked").iterdir()
    return build("wheel", unpacked, work / "dist")


def wheel_files(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_wheel_holds_the_whole_package(wheel):
    files = wheel_files(wheel)
    expected = [
        p
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    assert any(p.name == "report.html.j2" for p in expected)
    missing = [
        p.relative_to(PACKAGE.parent).as_posix()
        for p in expected
        if p.relative_to(PACKAGE.parent).as_posix() not in files
    ]
    assert missing == []
    for name in ("genrebench/features/workers.py", "genrebench/reporting/templates/report.html.j2"):
        assert files[name] == (PACKAGE.parent / name).read_bytes()
    (entry_points,) = [n for n in files if n.endswith(".dist-info/entry_points.txt")]
    assert "genrebench = genrebench.cli:main" in files[entry_points].decode()


def test_the_wheel_holds_the_checkout_suites_and_split_lists(wheel):
    files = wheel_files(wheel)
    suites = sorted(ROOT.glob("leaderboards/*/suite.toml"))
    splits = [p for p in (ROOT / "datasets").rglob("*") if p.is_file()]
    assert suites and splits
    for path in suites + splits:
        name = "genrebench/data/" + path.relative_to(ROOT).as_posix()
        assert files.get(name) == path.read_bytes(), name
    # the boards beside the suites are results, not run-time files
    assert not [
        n
        for n in files
        if n.startswith("genrebench/data/leaderboards/") and not n.endswith("/suite.toml")
    ]


FIND = """
import importlib.util, json, jinja2, genrebench
from genrebench.builtin import suites
from genrebench.datasets.loaders.base import splits_dir
# as genrebench.reporting.report loads it
loader = jinja2.PackageLoader("genrebench.reporting", "templates")
print(json.dumps({
    "package": genrebench.__file__,
    "suites": [str(p) for p in suites.genrebench_register_suites()],
    "splits": str(splits_dir()),
    "workers": importlib.util.find_spec("genrebench.features.workers").origin,
    "template": loader.get_source(jinja2.Environment(), "report.html.j2")[1],
}))
"""


def test_an_unpacked_wheel_reads_its_own_files(wheel, tmp_path):
    site = tmp_path / "venv" / "site-packages"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("GENREBENCH_SPLITS_DIR", None)
    result = subprocess.run(
        [sys.executable, "-c", FIND], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    for key in ("package", "splits", "workers", "template"):
        assert Path(found[key]).is_relative_to(site), (key, found[key])
    names = sorted(Path(p).parent.name for p in found["suites"])
    assert names == sorted(p.parent.name for p in ROOT.glob("leaderboards/*/suite.toml"))
    assert all(Path(p).is_relative_to(site) for p in found["suites"])
