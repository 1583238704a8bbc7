"""tools/oldest_constraints.py (tox -e oldest): every declared minimum of the core and the
plugins becomes an exact pin, the highest minimum wins, and a dependency without one is
refused naming its file."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location(
        "oldest_constraints", ROOT / "tools" / "oldest_constraints.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def write_project(folder: Path, name: str, deps: list[str], extras=None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["[project]", f'name = "{name}"', f"dependencies = {json.dumps(deps)}"]
    if extras:
        lines.append("[project.optional-dependencies]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in extras.items()]
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n")


def pins(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            found[name] = version
    return found


@pytest.fixture
def checkout(tmp_path):
    write_project(
        tmp_path,
        "genrebench",
        ["pluggy>=1.5", "numpy>=1.26", "torch>=2.2", "jinja2~=3.1"],
        {"test": ["pytest>=8"]},
    )
    write_project(
        tmp_path / "plugins" / "a",
        "genrebench-a",
        [
            "genrebench>=0.1",
            "numpy>=2.0",
            "pluggy>=1.0",
            "Pillow>=10",
            'tomli>=2; python_version < "3.0"',
        ],
        {"extra": ["transformers>=4.40"]},
    )
    (tmp_path / "constraints.txt").write_text("# pins\ntorch==2.13.0  # CPU\nnumpy==2.4.6\n")
    return tmp_path


def test_each_dependency_is_pinned_to_its_highest_declared_minimum(tool, checkout, capsys):
    assert tool.main(["--root", str(checkout), "--keep", "torch"]) == 0
    out = capsys.readouterr().out
    assert pins(out) == {
        "jinja2": "3.1",  # ~= is a minimum too
        "numpy": "2.0",  # the plugin's minimum is the higher one
        "pillow": "10",  # names normalised
        "pluggy": "1.5",  # the core's minimum is the higher one
        "pytest": "8",  # extras count
        "torch": "2.13.0",  # kept from constraints.txt, not its minimum 2.2
        "transformers": "4.40",
    }
    assert "genrebench" not in pins(out)  # the project's own distributions install from it
    assert "tomli" not in pins(out)  # its marker does not hold here
    assert "plugins/a/pyproject.toml: numpy>=2.0" in out


def test_a_dependency_without_a_minimum_is_refused_naming_its_file(tool, checkout, capsys):
    write_project(checkout / "plugins" / "b", "genrebench-b", ["genrebench", "scipy<2"])
    assert tool.main(["--root", str(checkout)]) == 2
    err = capsys.readouterr().err
    assert "plugins/b/pyproject.toml" in err and "'scipy<2' declares no minimum" in err


def test_keep_needs_a_declared_dependency_and_a_pin(tool, checkout, capsys):
    assert tool.main(["--root", str(checkout), "--keep", "torchaudio"]) == 2
    assert "--keep torchaudio: not a declared dependency" in capsys.readouterr().err
    assert tool.main(["--root", str(checkout), "--keep", "pluggy"]) == 2
    assert "no pin for pluggy" in capsys.readouterr().err


def test_check_reports_a_version_other_than_the_pin(tool, tmp_path, capsys):
    import pytest as installed

    good = tmp_path / "good.txt"
    good.write_text(f"pytest=={installed.__version__}  # here\n")
    assert tool.main(["--check", str(good)]) == 0
    bad = tmp_path / "bad.txt"
    bad.write_text("pytest==1.0\nno-such-package-here==1.0\n")
    assert tool.main(["--check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"pytest: {installed.__version__} installed, pinned pytest==1.0" in err
    assert "no-such-package-here: not installed" in err


def test_the_checkout_pins_every_declared_minimum(tool, tmp_path):
    out = tmp_path / "oldest.txt"
    assert tool.main(["--root", str(ROOT), "--keep", "torch", "-o", str(out)]) == 0
    found = pins(out.read_text())
    expected = {}
    for path in tool.pyproject_files(ROOT):
        for where, requirement in tool.requirements(path):
            if not requirement.name.startswith("genrebench"):
                name = tool.canonicalize_name(requirement.name)
                expected[name] = max(
                    expected.get(name, tool.Version("0")), tool.minimum_of(requirement, where)
                )
    assert set(found) == set(expected)
    for name, version in found.items():
        if name != "torch":
            assert tool.Version(version) == expected[name], name
    assert found["torch"] == "2.13.0"
