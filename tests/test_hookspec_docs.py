"""Every hook's docstring has the pytest/tox form: when it is called (and on which
process), a ``:param name:`` field per argument, and what it returns."""

from __future__ import annotations

import inspect

import pytest

from genrebench import hookspecs

HOOKS = [
    (name, fn)
    for name, fn in vars(hookspecs).items()
    if name.startswith("genrebench_") and callable(fn)
]


def test_the_hooks_are_found():
    names = {name for name, _ in HOOKS}
    assert {"genrebench_register_datasets", "genrebench_run_finished"} <= names
    assert len(HOOKS) >= 11


@pytest.mark.parametrize(("name", "hook"), HOOKS, ids=[n for n, _ in HOOKS])
def test_a_hook_docstring_says_when_where_what_it_gets_and_returns(name, hook):
    doc = " ".join((inspect.getdoc(hook) or "").split())
    assert "Called" in doc, f"{name}: when is it called?"
    assert "process" in doc or "once per registry build" in doc, f"{name}: on which process?"
    for parameter in inspect.signature(hook).parameters:
        assert f":param {parameter}:" in doc, f"{name}: no :param {parameter}: field"
    assert ":return:" in doc or "Return value ignored" in doc, f"{name}: what does it return?"
