"""Plugin discovery through entry points, failure isolation, conflicts, autoload switches,
and that every hook is documented."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import pytest

from genrebench import DatasetSpec, hookimpl, hookspecs
from genrebench.errors import PluginError, UnknownNameError
from genrebench.plugins import ENV_DISABLE, ENV_ONLY, KINDS, load_plugins

README = Path(__file__).parents[1] / "README.md"


def test_example_plugin_is_discovered_through_its_entry_point(registry):
    for kind, name in [
        ("datasets", "example-tones"),
        ("features", "example/band-energies"),
        ("models", "example/nearest-centroid"),
        ("metrics", "example/mean-confidence"),
        ("experiments", "example/centroid"),
    ]:
        assert registry.plugin_of(kind, name) == "example"
    assert "genrebench-example-plugin" in registry.versions["example"]


def test_builtin_plugins_register_reference_and_metrics(registry):
    assert "reference/logreg" in registry.names("experiments")
    assert registry.plugin_of("experiments", "reference/logreg") == "genrebench.builtin.reference"
    tasks = {registry.get("metrics", n).task for n in registry.names("metrics")}
    assert tasks == {"single-label", "multi-label"}


def test_autoload_can_be_disabled(monkeypatch):
    monkeypatch.setenv(ENV_DISABLE, "1")
    names = load_plugins().names("experiments")
    assert "example/centroid" not in names
    assert "reference/logreg" in names  # builtins stay


def test_autoload_can_be_limited_to_named_plugins(monkeypatch):
    monkeypatch.setenv(ENV_ONLY, "no-such-plugin")
    assert "example/centroid" not in load_plugins().names("experiments")
    monkeypatch.setenv(ENV_ONLY, "example")
    assert "example/centroid" in load_plugins().names("experiments")


def test_plugin_raising_at_import_is_reported_and_others_load(tmp_path, caplog, put_on_path):
    package = tmp_path / "src" / "genrebench_broken_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('boom at import')\n")
    put_on_path(
        tmp_path / "site",
        "genrebench-broken-plugin",
        package,
        "[genrebench]\nbroken = genrebench_broken_plugin\n",
    )
    with caplog.at_level(logging.WARNING):
        registry = load_plugins()
    assert "boom at import" in registry.failed["broken"]
    assert "broken" in caplog.text
    assert "example/centroid" in registry.names("experiments")


def test_two_plugins_registering_one_name_is_an_error_naming_both():
    class Clash:
        @hookimpl
        def genrebench_register_datasets(self):
            return [DatasetSpec("example-tones", "single-label", lambda root, opts: None)]

    with pytest.raises(PluginError) as info:
        load_plugins(extra=[Clash()])
    assert "example" in str(info.value)
    assert "Clash" in str(info.value)


def test_unknown_hook_is_rejected_by_check_pending():
    class Typo:
        @hookimpl
        def genrebench_register_dataset(self):  # missing "s"
            return []

    with pytest.raises(Exception, match="unknown hook"):
        load_plugins(extra=[Typo()])


def test_unknown_name_suggests_the_nearest(registry):
    with pytest.raises(UnknownNameError) as info:
        registry.get("experiments", "reference/logre")
    assert info.value.suggestion == "reference/logreg"
    assert "reference/mlp" in str(info.value)


def test_every_hook_has_a_docstring_and_is_documented_in_the_readme():
    readme = README.read_text()
    hooks = [
        n
        for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if n.startswith("genrebench_")
    ]
    assert len(hooks) == len(KINDS) + 1
    for name in hooks:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert name in readme, f"{name} is not documented in README.md"


def test_readme_plugin_example_runs_as_written(tmp_path):
    import types

    from genrebench.runner import Runner, RunOptions, plan

    blocks = [b.split("```", 1)[0] for b in README.read_text().split("```python\n")[1:]]
    code = next(b for b in blocks if "def genrebench_register_experiments" in b)
    module = types.ModuleType("genrebench_tiny")
    exec(compile(code, "README.md", "exec"), module.__dict__)
    registry = load_plugins(extra=[module])
    assert registry.plugin_of("experiments", "tiny/centroid") == "genrebench_tiny"
    options = RunOptions(experiments=["tiny/centroid"], datasets=["example-tones"], out=tmp_path)
    jobs, _ = plan(registry, options)
    [result] = Runner(registry, options).run(jobs)
    assert result["status"] == "ok", result.get("error")
    assert result["metrics"]["accuracy"] > 0.5
