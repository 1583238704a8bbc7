"""The progress line and ``genrebench_run_finished`` call of every finished result (a job,
a pooled k-fold seed, an ensemble) come from one helper, ``genrebench.run.progress``."""

from __future__ import annotations

import types
from pathlib import Path

from genrebench.run import ensembles, kfold, runner
from genrebench.run.progress import announce, headline


class Hooks:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def genrebench_run_finished(self, **kwargs) -> None:
        self.calls.append(kwargs)


def registry():
    return types.SimpleNamespace(pm=types.SimpleNamespace(hook=Hooks()))


def test_a_finished_result_gets_its_line_and_the_hook(capsys):
    reg = registry()
    result = {"status": "ok", "task": "single-label", "metrics": {"accuracy": 0.5}}
    announce(reg, "[pooled] x on y seed 0", result, Path("f"), done=", 5 folds", after=" (r)")
    assert capsys.readouterr().err == "[pooled] x on y seed 0, 5 folds: accuracy 0.500 (r)\n"
    assert reg.pm.hook.calls == [{"result": result, "job_folder": Path("f")}]
    assert headline(result) == "accuracy 0.500"


def test_a_failed_result_says_so_without_the_details_of_a_finished_one(capsys):
    reg = registry()
    result = {"status": "failed", "error": "boom"}
    announce(reg, "[ensemble] e on d", result, Path("g"), done=", 5 folds", after=" (r)")
    assert capsys.readouterr().err == "[ensemble] e on d: FAILED: boom\n"
    assert reg.pm.hook.calls == [{"result": result, "job_folder": Path("g")}]


def test_jobs_pooled_seeds_and_ensembles_all_announce_through_the_helper():
    for module in (runner, kfold, ensembles):
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert "announce(" in source, module.__name__
        assert "genrebench_run_finished(" not in source, module.__name__
