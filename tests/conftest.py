"""Shared fixtures: an isolated data and cache folder for the whole session, and the
throwaway third-party plugin in ``tests/example_plugin`` put on the path *with its entry
point*, exactly as ``pip install`` would leave it, so discovery is exercised for real."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
EXAMPLE_PLUGIN = HERE / "example_plugin"


def install_on_path(target: Path, dist_name: str, source: Path | None, entry_points: str) -> None:
    """Lay out ``target`` like site-packages: the package (a link to ``source``) and a
    ``.dist-info`` folder with METADATA and entry_points.txt, then put it on sys.path and
    on PYTHONPATH (for subprocesses)."""
    target.mkdir(parents=True, exist_ok=True)
    if source is not None and not (target / source.name).exists():
        (target / source.name).symlink_to(source, target_is_directory=True)
    info = target / f"{dist_name.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    sys.path.insert(0, str(target))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(target), os.environ.get("PYTHONPATH", "")) if p
    )
    importlib.invalidate_caches()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow end-to-end tests first (in their order), so that under pytest-xdist the two
    workers start on the longest tests and share the short ones at the end, instead of
    one worker finishing a long test alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory):
    """Data (synthetic sets are generated once per session) and cache in a temp folder;
    the example plugin discoverable through its entry point."""
    base = tmp_path_factory.mktemp("genrebench")
    saved = {
        k: os.environ.get(k) for k in ("GENREBENCH_DATA_DIR", "GENREBENCH_CACHE_DIR", "PYTHONPATH")
    }
    os.environ["GENREBENCH_DATA_DIR"] = str(base / "data")
    os.environ["GENREBENCH_CACHE_DIR"] = str(base / "cache")
    try:
        importlib.metadata.distribution("genrebench-example-plugin")
    except importlib.metadata.PackageNotFoundError:
        install_on_path(
            base / "site",
            "genrebench-example-plugin",
            EXAMPLE_PLUGIN / "genrebench_example_plugin",
            "[genrebench]\nexample = genrebench_example_plugin\n",
        )
    yield base
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def registry():
    from genrebench.registry.loading import load_plugins

    return load_plugins()


@pytest.fixture
def put_on_path(monkeypatch):
    """``install_on_path`` for tests that fake another installed distribution; the
    distribution is gone again after the test, so it cannot break later tests."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    yield install_on_path
    monkeypatch.undo()
    importlib.invalidate_caches()


@pytest.fixture
def install_plugin(tmp_path, put_on_path):
    """``install_plugin(name, code)``: fake an installed distribution ``genrebench-<name>``
    whose entry point ``name`` is a package holding ``code`` (gone after the test)."""

    def install(name: str, code: str) -> None:
        # Another test may have installed (and imported) a plugin of the same name with
        # other code: forget that module, or this test would run the other one's code.
        for module in [m for m in sys.modules if m.split(".")[0] == f"genrebench_{name}"]:
            del sys.modules[module]
        package = tmp_path / "plugin-src" / name / f"genrebench_{name}"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(code)
        put_on_path(
            tmp_path / "plugin-site",
            f"genrebench-{name}",
            package,
            f"[genrebench]\n{name} = {package.name}\n",
        )

    return install
