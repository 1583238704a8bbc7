"""The run loop (``genrebench.run.session.run_planned``) that ``genrebench run`` calls: every
data set loaded before any job runs, the session hook before the first job, each run's
jobs then its ensembles, their results and folders."""

from __future__ import annotations

import pytest

from genrebench import hookimpl
from genrebench.errors import GenrebenchError
from genrebench.registry.loading import load_plugins
from genrebench.run.ensembles import plan_ensembles
from genrebench.run.planning import RunOptions, plan
from genrebench.run.session import run_planned


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def genrebench_session_started(self, suite, options):
        self.calls.append(("started", len(options)))

    @hookimpl
    def genrebench_run_finished(self, result, job_folder):
        self.calls.append(("finished", result["experiment"], result["seed"], job_folder))


def planned_run(registry, out, **options):
    opts = RunOptions(datasets=["example-tones"], out=out, **options)
    jobs, _ = plan(registry, opts)
    ensemble_jobs, _ = plan_ensembles(registry, opts)
    return opts, jobs, ensemble_jobs


def test_the_loop_runs_jobs_then_seed_ensembles_and_returns_their_folders(tmp_path, capsys):
    recorder = Recorder()
    registry = load_plugins(extra=[recorder])
    run = planned_run(registry, tmp_path / "out", experiments=["example/centroid"], seeds=2)
    results, folders = run_planned(registry, [run], tmp_path / "board")
    assert [(r["experiment"], r["seed"]) for r in results] == [
        ("example/centroid", 0),
        ("example/centroid", 1),
        ("example/centroid (seed ensemble)", "ensemble"),
    ]
    assert all((f / "metrics.json").is_file() for f in folders)
    assert recorder.calls[0] == ("started", 1)
    assert [c[3] for c in recorder.calls[1:]] == folders
    assert "split: example-tones" in capsys.readouterr().err


def test_a_bad_data_set_of_a_later_run_stops_the_loop_before_any_job(tmp_path):
    recorder = Recorder()
    registry = load_plugins(extra=[recorder])
    good = planned_run(registry, tmp_path / "a", experiments=["example/centroid"])
    bad = planned_run(
        registry,
        tmp_path / "b",
        experiments=["example/centroid"],
        dataset_options={"per_class": 0},  # no track: no class to tell apart
    )
    with pytest.raises(GenrebenchError, match="has 0 class"):
        run_planned(registry, [good, bad], tmp_path / "board")
    assert recorder.calls == []
    assert not (tmp_path / "a" / "runs").exists()
