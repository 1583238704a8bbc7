"""The documentation under ``docs/`` is checked against the code: the command-line
reference is the ``--help`` of every command, the hook reference has one section per hook
with its exact signature (as datasette's ``test_docs.py`` does), the public-API page lists
``genrebench.PUBLIC_API``, and every relative link points at a file that exists.

``python tests/test_docs.py --write`` regenerates ``docs/reference/cli.md``."""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CLI_PAGE = DOCS / "reference" / "cli.md"
HOOKS_PAGE = DOCS / "plugins" / "hooks.md"
API_PAGE = DOCS / "plugins" / "api.md"
COMMANDS = [
    [],
    ["list"],
    ["run"],
    ["suites"],
    ["leaderboard"],
    ["compare"],
    ["report"],
    ["data", "check"],
    ["bench"],
]
HELP_COLUMNS = "100"
CLI_HEAD = """# The command line

Generated from `genrebench COMMAND --help` by `python tests/test_docs.py --write`;
`tests/test_docs.py` fails when it differs from the code's help. Exit statuses and what
each option does in practice: [running genrebench](../guide/running.md).
"""


def help_text(argv: list[str]) -> str:
    from genrebench.cli import build_parser

    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS  # argparse wraps to the terminal's width
    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            build_parser().parse_args([*argv, "--help"])
    finally:
        if before is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = before
    return out.getvalue().rstrip() + "\n"


def cli_page() -> str:
    parts = [CLI_HEAD]
    for argv in COMMANDS:
        title = " ".join(["genrebench", *argv])
        parts.append(f"\n## `{title}`\n\n```text\n{help_text(argv)}```\n")
    return "".join(parts)


def test_the_command_line_reference_is_the_help_of_every_command():
    assert CLI_PAGE.read_text(encoding="utf-8") == cli_page(), (
        "docs/reference/cli.md is stale: run python tests/test_docs.py --write"
    )


def test_every_subcommand_is_in_the_reference():
    from genrebench.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")  # argparse has no API
    assert {c[0] for c in COMMANDS if c} == set(sub.choices)


# --------------------------------------------------------------------------- hooks
def hook_sections() -> dict[str, str]:
    text = HOOKS_PAGE.read_text(encoding="utf-8")
    return dict(re.findall(r"^## `(genrebench_\w+)`\n\n```python\n(.*?)\n```", text, re.M | re.S))


def hooks() -> list[str]:
    from genrebench import hookspecs

    return sorted(n for n in vars(hookspecs) if n.startswith("genrebench_"))


def test_the_hook_reference_has_a_section_per_hook():
    assert sorted(hook_sections()) == hooks()


@pytest.mark.parametrize("name", hooks())
def test_each_hook_section_shows_its_exact_signature(name):
    from genrebench import hookspecs

    # the annotations are strings (``from __future__ import annotations``): shown unquoted
    shown = str(inspect.signature(getattr(hookspecs, name))).replace("'", "")
    signature = f"def {name}{shown}: ..."
    assert hook_sections()[name] == signature


# --------------------------------------------------------------------------- API, links
def test_the_public_api_page_lists_every_public_module():
    from genrebench import PUBLIC_API

    text = API_PAGE.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(genrebench[\w.]*)` \|", text, re.M))
    assert listed == set(PUBLIC_API)


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert broken == []


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        CLI_PAGE.write_text(cli_page(), encoding="utf-8")
        print(f"wrote {CLI_PAGE}")
