"""Write a pip constraints file that pins every dependency of genrebench and its plugins
to the oldest version their ``pyproject.toml`` files declare (``>=`` or ``~=``), so that
``tox -e oldest`` tests the minimums instead of taking them on trust.

The minimums are read from ``project.dependencies`` and every group of
``project.optional-dependencies`` of the core's ``pyproject.toml`` and of each
``plugins/*/pyproject.toml``.  Where several files declare a minimum for one package, the
highest wins (the oldest version that satisfies all of them).  The project's own
distributions (``genrebench``, ``genrebench-*``) are not pinned: they install from the
checkout.  A dependency with no minimum is an error naming the file, since its oldest
version would be whatever the index holds.  ``--keep NAME`` copies NAME's pin from
``--constraints`` instead (torch: the oldest declared release has no CPU wheel here, so it
stays at the local CPU build that constraints.txt pins).

Usage: ``python tools/oldest_constraints.py --keep torch -o oldest.txt`` (from the
checkout's root; ``--root`` names another); after installing with ``-c oldest.txt``,
``--check oldest.txt`` verifies that the environment holds exactly those versions.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


class DeclarationError(ValueError):
    """A pyproject.toml whose dependencies cannot be pinned to a minimum."""


@dataclass
class Minimum:
    """The oldest allowed version of one package and where each minimum was declared."""

    name: str
    version: Version
    declared: list[str] = field(default_factory=list)


def pyproject_files(root: Path) -> list[Path]:
    """The core's pyproject.toml, then every plugin's, in name order."""
    core = root / "pyproject.toml"
    if not core.is_file():
        raise DeclarationError(f"{core}: no such file (is --root a genrebench checkout?)")
    return [core, *sorted(root.glob("plugins/*/pyproject.toml"))]


def _project(path: Path) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"{path}: invalid TOML: {exc}") from None
    project = data.get("project")
    if not isinstance(project, dict) or "name" not in project:
        raise DeclarationError(f"{path}: no [project] table with a name")
    return project


def requirements(path: Path) -> list[tuple[str, Requirement]]:
    """``(where, requirement)`` for every dependency and optional dependency of ``path``;
    ``where`` reads e.g. ``plugins/mlflow/pyproject.toml [test]``."""
    project = _project(path)
    groups = {"": project.get("dependencies", [])}
    for extra, deps in (project.get("optional-dependencies") or {}).items():
        groups[extra] = deps
    found = []
    for extra, deps in groups.items():
        where = f"{path} [{extra}]" if extra else str(path)
        for text in deps:
            try:
                requirement = Requirement(text)
            except InvalidRequirement as exc:
                raise DeclarationError(f"{where}: {text!r} is not a requirement: {exc}") from None
            environment = {**default_environment(), "extra": extra}
            if requirement.marker is None or requirement.marker.evaluate(environment):
                found.append((where, requirement))
    return found


def minimum_of(requirement: Requirement, where: str) -> Version:
    """The lowest version ``requirement`` allows: its ``>=``, ``~=`` or ``==`` bound."""
    bounds = [
        Version(spec.version)
        for spec in requirement.specifier
        if spec.operator in (">=", "~=", "==")
    ]
    if not bounds:
        raise DeclarationError(
            f"{where}: {str(requirement)!r} declares no minimum version (expected "
            f"'{requirement.name}>=X'): its oldest version cannot be tested"
        )
    lowest = max(bounds)
    if not requirement.specifier.contains(lowest, prereleases=True):
        raise DeclarationError(
            f"{where}: {str(requirement)!r}: its minimum {lowest} is excluded by its own specifier"
        )
    return lowest


def minimums(root: Path) -> dict[str, Minimum]:
    """Every third-party dependency of the core and the plugins, at its oldest version."""
    files = pyproject_files(root)
    own = {canonicalize_name(_project(path)["name"]) for path in files}
    found: dict[str, Minimum] = {}
    for path in files:
        for where, requirement in requirements(path):
            name = canonicalize_name(requirement.name)
            if name in own:
                continue
            version = minimum_of(requirement, where)
            entry = found.setdefault(name, Minimum(name, version))
            entry.version = max(entry.version, version)
            shown = Path(where).relative_to(root) if Path(where).is_absolute() else where
            entry.declared.append(f"{shown}: {requirement}")
    return found


def kept_pins(constraints: Path, names: list[str]) -> dict[str, str]:
    """``name -> 'name==X'`` from a constraints file, for each of ``names``."""
    pins = {}
    for line in constraints.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        pins[canonicalize_name(requirement.name)] = text
    missing = [n for n in names if canonicalize_name(n) not in pins]
    if missing:
        raise DeclarationError(f"{constraints}: no pin for {', '.join(missing)} (--keep)")
    return {canonicalize_name(n): pins[canonicalize_name(n)] for n in names}


def render(found: dict[str, Minimum], kept: dict[str, str]) -> str:
    lines = [
        "# The oldest versions genrebench and its plugins declare (generated by",
        "# tools/oldest_constraints.py from their pyproject.toml files; do not edit).",
    ]
    for name in sorted(found):
        entry = found[name]
        if name in kept:
            lines.append(f"{kept[name]}  # kept (declared: {'; '.join(entry.declared)})")
        else:
            lines.append(f"{name}=={entry.version}  # {'; '.join(entry.declared)}")
    return "\n".join(lines) + "\n"


def check(constraints: Path) -> list[str]:
    """The pins of ``constraints`` that the running environment does not hold, as
    messages (empty: every pinned package is installed at its pinned version)."""
    from importlib.metadata import PackageNotFoundError, version

    problems = []
    for line in constraints.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            problems.append(f"{requirement.name}: not installed (pinned {requirement.specifier})")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            problems.append(f"{requirement.name}: {installed} installed, pinned {requirement}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the checkout")
    parser.add_argument("-o", "--output", type=Path, help="the file to write (default stdout)")
    parser.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="NAME",
        help="take NAME's pin from --constraints instead of its minimum (repeatable)",
    )
    parser.add_argument(
        "--constraints",
        type=Path,
        help="the constraints file --keep reads (default ROOT/constraints.txt)",
    )
    parser.add_argument(
        "--check",
        type=Path,
        metavar="FILE",
        help="instead: verify that this environment holds every pin of FILE (exit 1 if not)",
    )
    args = parser.parse_args(argv)
    if args.check is not None:
        problems = check(args.check)
        for problem in problems:
            print(f"oldest_constraints: {problem}", file=sys.stderr)
        if not problems:
            print(f"oldest_constraints: every pin of {args.check} is installed")
        return 1 if problems else 0
    root = args.root.resolve()
    try:
        found = minimums(root)
        unknown = [n for n in args.keep if canonicalize_name(n) not in found]
        if unknown:
            raise DeclarationError(f"--keep {', '.join(unknown)}: not a declared dependency")
        kept = kept_pins(args.constraints or root / "constraints.txt", args.keep)
    except DeclarationError as exc:
        print(f"oldest_constraints: {exc}", file=sys.stderr)
        return 2
    text = render(found, kept)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
