"""Plugin discovery through entry points, failure isolation, conflicts, autoload switches,
and that every hook is documented."""

from __future__ import annotations

import configparser
import inspect
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genrebench import (
    DatasetSpec,
    EnsembleSpec,
    ExperimentSpec,
    MetricSpec,
    hookimpl,
    hookspecs,
)
from genrebench.cli import main
from genrebench.errors import PluginError, UnknownNameError
from genrebench.registry import ENV_DISABLE, ENV_ONLY, ENV_STRICT
from genrebench.registry.loading import KINDS, load_plugins, selected_entry_points

DOCS = Path(__file__).parents[1] / "docs"
#: The plugin guide, whose code blocks these tests execute.
WRITING = DOCS / "plugins" / "writing.md"
HOOKS = DOCS / "plugins" / "hooks.md"


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


def test_every_hook_has_a_docstring_and_is_documented():
    reference = HOOKS.read_text()
    hooks = [
        n
        for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if n.startswith("genrebench_")
    ]
    # a register hook per kind, suites, and the lifecycle: session started, run finished,
    # session finished
    assert len(hooks) == len(KINDS) + 4
    for name in hooks:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert name in reference, f"{name} is not documented in docs/plugins/hooks.md"


def test_docs_plugin_example_runs_as_written(tmp_path):
    import types

    from genrebench.run.runner import Runner, RunOptions, plan

    blocks = [b.split("```", 1)[0] for b in WRITING.read_text().split("```python\n")[1:]]
    code = next(b for b in blocks if "tiny/centroid" in b)
    module = types.ModuleType("genrebench_tiny")
    exec(compile(code, str(WRITING), "exec"), module.__dict__)
    registry = load_plugins(extra=[module])
    assert registry.plugin_of("experiments", "tiny/centroid") == "genrebench_tiny"
    options = RunOptions(experiments=["tiny/centroid"], datasets=["example-tones"], out=tmp_path)
    jobs, _ = plan(registry, options)
    [result] = Runner(registry, options).run(jobs)
    assert result["status"] == "ok", result.get("error")
    assert result["metrics"]["accuracy"] > 0.5


def test_docs_torch_classifier_example_runs_as_written(tmp_path):
    import types

    from genrebench.run.runner import Runner, RunOptions, plan

    blocks = [b.split("```", 1)[0] for b in WRITING.read_text().split("```python\n")[1:]]
    code = next(b for b in blocks if "TorchClassifier(" in b)
    module = types.ModuleType("genrebench_tinycnn")
    exec(compile(code, str(WRITING), "exec"), module.__dict__)
    registry = load_plugins(extra=[module])
    assert not registry.broken["experiments"]
    options = RunOptions(experiments=["tinycnn/cnn"], datasets=["example-tones"], out=tmp_path)
    jobs, _ = plan(registry, options)
    [result] = Runner(registry, options).run(jobs)
    assert result["status"] == "ok", result.get("error")
    assert result["cost"]["n_parameters"] == 8 * 9 + 8 + 8 * 16 * 3 + 3  # conv + linear
    assert result["metrics"]["accuracy"] > 0.5  # three classes: chance is 1/3


def test_docs_list_every_name_genrebench_exports():
    import genrebench

    text = WRITING.read_text().split("**What `genrebench` exports**", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"`(\w+)`", text.split("Plugins may also use", 1)[0]))
    assert listed == set(genrebench.__all__)


# --------------------------------------------------------------------------- loading failures
BROKEN = "raise RuntimeError('boom at import')\n"


def test_plugin_import_failure_is_reported_once(install_plugin, caplog, capsys, monkeypatch):
    monkeypatch.delenv(ENV_STRICT, raising=False)
    install_plugin("broken", BROKEN)
    with caplog.at_level(logging.WARNING):
        assert main(["list"]) == 0
    said = [r.getMessage() for r in caplog.records if "boom at import" in r.getMessage()]
    assert len(said) == 1 and "'broken' failed to load" in said[0]
    assert "boom" not in capsys.readouterr().err  # no second wording printed beside it


def test_verbose_shows_the_traceback_of_a_plugin_that_failed_to_load(install_plugin):
    install_plugin("broken", BROKEN)
    command = [sys.executable, "-m", "genrebench.cli"]
    env = {**os.environ, ENV_STRICT: "0"}
    quiet = subprocess.run([*command, "list"], capture_output=True, text=True, env=env)
    loud = subprocess.run([*command, "-v", "list"], capture_output=True, text=True, env=env)
    assert quiet.returncode == loud.returncode == 0
    assert quiet.stderr.count("failed to load") == loud.stderr.count("failed to load") == 1
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr and "genrebench_broken/__init__.py" in loud.stderr


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--strict-plugins", "list"], None),
        (["list", "--strict-plugins"], None),
        (["list"], "1"),
    ],
)
def test_strict_plugin_loading_exits_2_on_any_load_failure(
    args, env, install_plugin, capsys, monkeypatch
):
    monkeypatch.delenv(ENV_STRICT, raising=False)
    if env:
        monkeypatch.setenv(ENV_STRICT, env)
    install_plugin("broken", BROKEN)
    assert main(args) == 2
    assert "'broken' failed to load: RuntimeError: boom at import" in capsys.readouterr().err


def test_strict_plugin_loading_is_on_in_every_tox_environment():
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(Path(__file__).parents[1] / "tox.ini")
    assert f"{ENV_STRICT} = 1" in tox["testenv"]["set_env"]


def test_running_an_experiment_of_a_plugin_that_failed_to_load_says_so(
    tmp_path, install_plugin, capsys, monkeypatch
):
    monkeypatch.delenv(ENV_STRICT, raising=False)
    install_plugin("chroma", BROKEN)
    args = ["run", "chroma/forest", "--dataset", "example-tones", "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "'chroma/forest' cannot be used: its plugin 'chroma' failed to load" in err
    assert "Did you mean" not in err
    # A name without such a prefix still gets the nearest match, and hears of the failure.
    assert main(["run", "reference/logrgr"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'reference/logreg'" in err and "failed to load: chroma" in err


def test_plugin_raising_in_a_register_hook_registers_nothing(registry):
    class HalfBroken:
        @hookimpl
        def genrebench_register_datasets(self):
            return [DatasetSpec("half/tones", "single-label", lambda root, opts: None)]

        @hookimpl
        def genrebench_register_models(self):
            raise ValueError("no models today")

    loaded = load_plugins(extra=[HalfBroken()])
    assert "no models today" in loaded.failed["HalfBroken"]
    assert "half/tones" not in loaded.names("datasets")


def test_a_clash_with_a_builtin_is_resolved_as_the_error_advises(install_plugin, monkeypatch):
    monkeypatch.delenv(ENV_ONLY, raising=False)
    code = (
        "from genrebench import ExperimentSpec, hookimpl\n"
        "@hookimpl\n"
        "def genrebench_register_experiments():\n"
        "    return [ExperimentSpec('reference/logreg', 'reference/mfcc-stats',\n"
        "                           'reference/logreg')]\n"
    )
    install_plugin("clasher", code)
    with pytest.raises(PluginError) as info:
        load_plugins()
    assert "'genrebench.builtin.reference'" in str(info.value) and "'clasher'" in str(info.value)
    advice = re.search(rf"{ENV_ONLY}=(\S+)", str(info.value))
    assert advice, str(info.value)
    monkeypatch.setenv(ENV_ONLY, advice.group(1))
    registry = load_plugins()
    assert registry.plugin_of("experiments", "reference/logreg") == "genrebench.builtin.reference"
    assert "example/centroid" in registry.names("experiments")  # the other plugins still load


def test_plugins_setting_can_exclude_and_warns_of_unknown_names(caplog):
    names = ["a", "b", "c"]
    assert selected_entry_points(names, "") == names
    assert selected_entry_points(names, "a, c") == ["a", "c"]
    assert selected_entry_points(names, "-b") == ["a", "c"]
    with caplog.at_level(logging.WARNING):
        assert selected_entry_points(names, "a,zzz") == ["a"]
    assert "'zzz'" in caplog.text and "a, b, c" in caplog.text


def test_help_shows_whole_sentences(capsys):
    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "1 some experiment failed or a data check found problems; 2 invalid input" in text


# --------------------------------------------------------------------------- references
class Broken:
    """Experiments and an ensemble whose references do not resolve."""

    @hookimpl
    def genrebench_register_experiments(self):
        feature, model = "example/band-energies", "example/nearest-centroid"
        return [
            ExperimentSpec("broken/feature", "example/band-energie", model),
            ExperimentSpec("broken/model", feature, "example/nearest-centriod"),
            ExperimentSpec("broken/task", feature, model, tasks=("multi-label",)),
            ExperimentSpec("broken/task-name", feature, model, tasks=("single_label",)),
            ExperimentSpec("broken/aggregation", feature, model, aggregation="median"),
            ExperimentSpec("broken/extra", feature, model, extra_aggregations=("votes",)),
            ExperimentSpec("broken/calibrator", feature, model, calibration="platt"),
            ExperimentSpec("broken/temperature", feature, model, calibration="temperature=hot"),
            ExperimentSpec("fine/temperature", feature, model, calibration="temperature=1.5"),
        ]

    @hookimpl
    def genrebench_register_ensembles(self):
        return [EnsembleSpec("broken/ensemble", ("example/centroid", "broken/nope"))]

    @hookimpl
    def genrebench_register_metrics(self):
        return [MetricSpec("broken/metric", "multilabel", lambda y, p, t: 0.0)]


def test_every_cross_reference_is_checked_when_the_registry_is_built():
    registry = load_plugins(extra=[Broken()])
    broken = registry.broken["experiments"]
    assert "Did you mean 'example/band-energies'" in broken["broken/feature"]
    assert "Did you mean 'example/nearest-centroid'" in broken["broken/model"]
    assert "does not support" in broken["broken/task"]
    assert "'single_label'" in broken["broken/task-name"]
    assert "unknown aggregation 'median'" in broken["broken/aggregation"]
    assert "unknown aggregation 'votes'" in broken["broken/extra"]
    assert "unknown calibrator 'platt'" in broken["broken/calibrator"]
    assert "temperature=<T> needs a positive number" in broken["broken/temperature"]
    assert "fine/temperature" not in broken
    assert "unknown experiment 'broken/nope'" in registry.broken["ensembles"]["broken/ensemble"]
    assert "'multilabel'" in registry.broken["metrics"]["broken/metric"]
    assert "example/centroid" not in broken and "reference/logreg" not in broken
    assert registry.broken_reason("experiments", "broken/model").startswith(
        "experiment 'broken/model' of plugin 'Broken' is broken: unknown model"
    )


TYPO = (
    "from genrebench import ExperimentSpec, hookimpl\n"
    "@hookimpl\n"
    "def genrebench_register_experiments():\n"
    "    return [ExperimentSpec('typo/centroid', 'example/band-energie',\n"
    "                           'example/nearest-centroid')]\n"
)


def test_list_reports_a_broken_experiment_and_its_plugin(install_plugin, capsys, monkeypatch):
    monkeypatch.delenv(ENV_STRICT, raising=False)
    install_plugin("typo", TYPO)
    assert main(["list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "typo/centroid" in x)
    assert " typo " in line and "BROKEN: unknown feature 'example/band-energie'" in line
    assert main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    item = next(i for i in listing["experiments"] if i["name"] == "typo/centroid")
    assert item["plugin"] == "typo" and "Did you mean" in item["broken"]
    assert main(["--strict-plugins", "list"]) == 2
    assert "experiment 'typo/centroid' of plugin 'typo' is broken" in capsys.readouterr().err


# --------------------------------------------------------------------------- metric columns
def top2(y_true, probs, threshold):
    return float(np.mean([y in row.argsort()[-2:] for y, row in zip(y_true, probs, strict=True)]))


class Top2:
    @hookimpl
    def genrebench_register_metrics(self):
        return [MetricSpec("tinym/top2", "single-label", top2)]


def test_a_metric_column_is_its_name_after_the_last_slash(registry):
    assert MetricSpec("tinym/top2", "single-label", top2).column_names() == ("top2",)
    assert MetricSpec("plain", "single-label", top2).column_names() == ("plain",)
    roc = registry.get("metrics", "single-label/roc_auc")
    assert roc.column_names() == ("roc_auc", "roc_auc_skipped_classes")


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (MetricSpec("clash/accuracy", "single-label", top2), "'genrebench.builtin.metrics'"),
        (MetricSpec("clash/raw", "single-label", top2, columns=("accuracy_raw",)), "core fills"),
        (MetricSpec("clash/x", "single-label", top2, columns=("x_std",)), "end in '_std'"),
        (MetricSpec("clash/x_calibrated", "multi-label", top2), "'_calibrated'"),
        (MetricSpec("clash/x", "single-label", top2, columns=("a/b",)), "hold '/'"),
    ],
)
def test_a_metric_column_that_clashes_is_rejected_at_registration(metric, message):
    class Clash:
        @hookimpl
        def genrebench_register_metrics(self):
            return [metric]

    with pytest.raises(PluginError) as info:
        load_plugins(extra=[Clash()])
    assert message in str(info.value) and "'Clash'" in str(info.value)


def test_two_plugins_filling_one_column_are_named(monkeypatch):
    class Other:
        @hookimpl
        def genrebench_register_metrics(self):
            return [MetricSpec("other/top2", "single-label", top2)]

    with pytest.raises(PluginError) as info:
        load_plugins(extra=[Top2(), Other()])
    assert "'Top2'" in str(info.value) and "'Other'" in str(info.value)
    assert "column 'top2'" in str(info.value)

    # The same column for the other task type is no clash.
    class MultiTop2:
        @hookimpl
        def genrebench_register_metrics(self):
            return [MetricSpec("multi/top2", "multi-label", top2)]

    load_plugins(extra=[Top2(), MultiTop2()])


def test_a_metric_must_fill_the_columns_it_declares():
    from genrebench.run.stages import compute_metrics

    y, probs = np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]])
    undeclared = MetricSpec("x/pair", "single-label", lambda y, p, t: {"a": 1.0, "b": 2.0})
    with pytest.raises(
        ValueError, match=r"returned \['a', 'b'\]; it declares the columns \['pair'\]"
    ):
        compute_metrics([undeclared], "single-label", y, probs, 0.5)
    declared = MetricSpec("x/pair", "single-label", undeclared.compute, columns=("a", "b"))
    assert compute_metrics([declared], "single-label", y, probs, 0.5) == {"a": 1.0, "b": 2.0}


def test_plugin_metrics_reach_every_leaderboard_file(tmp_path):
    from genrebench.reporting import leaderboard
    from genrebench.run.runner import Runner, RunOptions, plan

    registry = load_plugins(extra=[Top2()])
    options = RunOptions(experiments=["example/centroid"], datasets=["example-tones"], out=tmp_path)
    jobs, _ = plan(registry, options)
    [result] = Runner(registry, options).run(jobs)
    assert "top2" in result["metrics"] and "tinym/top2" not in result["metrics"]
    board = leaderboard.build(leaderboard.find_results([tmp_path / "runs"]))
    paths = leaderboard.write(board, tmp_path / "board")
    header = next(x for x in paths[0].read_text().splitlines() if x.startswith("| experiment"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert {"top2", "mean_confidence"} <= set(columns)  # the example plugin's metric too
    assert columns.index("accuracy") < columns.index("top2")  # after the builtin columns
    row = next(x for x in paths[0].read_text().splitlines() if "`example/centroid`" in x)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[columns.index("top2")] == f"{result['metrics']['top2']:.3f}"
    assert "top2" in pd.read_csv(paths[1]).columns
