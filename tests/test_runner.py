"""End-to-end behaviour of ``genrebench run`` on the example plugin's small data set:
saved files, recomputable metrics, resume, skipped corrupt audio, failing experiments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genrebench import ExperimentSpec, ModelSpec, hookimpl
from genrebench.cli import main
from genrebench.registry import ENV_STRICT
from genrebench.registry.loading import load_plugins
from genrebench.run.runner import Runner, RunOptions, plan

EXAMPLE = ["example/centroid", "--dataset", "example-tones", "--no-progress"]


def run_dirs(out: Path) -> list[Path]:
    return sorted(p.parent for p in (out / "runs").rglob("metrics.json"))


def assert_board_row_matches_seeds(row: pd.Series, dirs: list[Path]) -> None:
    """Every metric of the leaderboard row is the mean (and sample standard deviation) of
    that metric in the seeds' metrics.json."""
    dirs = [d for d in dirs if d.name != "seed-ensemble"]  # the seed ensemble has its own row
    seeds = [json.loads((d / "metrics.json").read_text())["metrics"] for d in dirs]
    assert len(seeds) >= 2 and row["n_seeds"] == len(seeds)
    for name in seeds[0]:
        values = np.array([s[name] for s in seeds], dtype=float)
        if np.isnan(values).all():
            assert np.isnan(row[name]), name
            continue
        assert row[name] == pytest.approx(np.nanmean(values), abs=1e-5), name
        assert row[f"{name}_std"] == pytest.approx(np.nanstd(values, ddof=1), abs=1e-5), name
    assert np.isfinite(row["accuracy"]) and np.isfinite(row["accuracy_std"])


def test_run_writes_predictions_metrics_provenance_and_leaderboard(tmp_path):
    assert main(["run", *EXAMPLE, "--out", str(tmp_path), "--seeds", "2"]) == 0
    dirs = run_dirs(tmp_path)
    assert [d.name for d in dirs] == ["seed-0", "seed-1", "seed-ensemble"]
    metrics = json.loads((dirs[0] / "metrics.json").read_text())
    assert (metrics["experiment"], metrics["dataset"], metrics["seed"]) == (
        "example/centroid",
        "example-tones",
        0,
    )
    assert metrics["status"] == "ok"
    predictions = pd.read_csv(dirs[0] / "predictions.csv")
    assert list(predictions.columns) == ["track_id", "label", "p_low", "p_mid", "p_high"]
    assert len(predictions) == metrics["n_test_tracks"]
    provenance = json.loads((dirs[0] / "provenance.json").read_text())
    for key in ("config", "environment", "plugins", "memory", "split", "skipped_tracks"):
        assert key in provenance
    assert provenance["environment"]["packages"]["numpy"] == np.__version__
    assert provenance["config"]["seed"] == 0
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    assert board.loc[0, "experiment"] == "example/centroid"
    assert board.loc[0, "n_seeds"] == 2
    for column in ("accuracy", "f1_macro", "roc_auc", "hamming_loss", "ece", "mean_confidence"):
        assert column in board.columns
    assert_board_row_matches_seeds(board.loc[0], dirs)
    assert "example/centroid" in (tmp_path / "leaderboard.md").read_text()


def test_metrics_can_be_recomputed_from_saved_predictions(tmp_path, registry):
    assert main(["run", *EXAMPLE, "--out", str(tmp_path)]) == 0
    folder = run_dirs(tmp_path)[0]
    saved = json.loads((folder / "metrics.json").read_text())
    predictions = pd.read_csv(folder / "predictions.csv")
    classes = saved["classes"]
    probs = predictions[[f"p_{c}" for c in classes]].to_numpy()
    y = predictions["label"].map(classes.index).to_numpy()
    for name in registry.names("metrics"):
        spec = registry.get("metrics", name)
        if spec.task != "single-label":
            continue
        value = spec.compute(y, probs, 0.5)
        columns = value if isinstance(value, dict) else {spec.column_names()[0]: value}
        for column, v in columns.items():
            assert saved["metrics"][column] == pytest.approx(v, abs=1e-6, nan_ok=True), column


def test_interrupted_run_resumes_without_redoing_finished_jobs(tmp_path, capsys):
    assert main(["run", *EXAMPLE, "--out", str(tmp_path), "--seeds", "2"]) == 0
    first, second, _ = run_dirs(tmp_path)  # seed-0, seed-1 and their seed ensemble
    # Simulate an interruption during seed 1: its metrics.json was never written.
    (second / "metrics.json").unlink()
    stamp = (first / "metrics.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["run", *EXAMPLE, "--out", str(tmp_path), "--seeds", "2"]) == 0
    err = capsys.readouterr().err
    assert "seed 0" in err and "reused" in err.split("seed 0")[1].splitlines()[0]
    assert (first / "metrics.json").stat().st_mtime_ns == stamp
    assert (second / "metrics.json").exists()


def test_changed_configuration_is_not_reused(tmp_path, capsys):
    assert main(["run", *EXAMPLE, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    args = ["run", *EXAMPLE, "--out", str(tmp_path), "--dataset-option", "per_class=5"]
    assert main(args) == 0
    assert "reused" not in capsys.readouterr().err


def test_corrupt_audio_is_reported_and_skipped(tmp_path, capsys):
    data = tmp_path / "data"
    assert (
        main(
            ["run", *EXAMPLE, "--data-root", str(data), "--out", str(tmp_path / "a"), "--no-cache"]
        )
        == 0
    )
    # Corrupt one file and empty another after the data set was generated.
    (data / "example-tones" / "low-0.wav").write_bytes(b"RIFF\x00\x00garbage")
    (data / "example-tones" / "mid-1.wav").write_bytes(b"")
    capsys.readouterr()
    args = ["run", *EXAMPLE, "--data-root", str(data), "--out", str(tmp_path / "b"), "--no-cache"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "skipped 2 unreadable track(s)" in err and "low-0" in err and "mid-1" in err
    provenance = json.loads((run_dirs(tmp_path / "b")[0] / "provenance.json").read_text())
    skipped = {p["track_id"]: p["reason"] for p in provenance["skipped_tracks"]}
    assert set(skipped) == {"low-0", "mid-1"}
    assert "empty" in skipped["mid-1"]
    # Started again, the finished job is reused and its skipped tracks are still reported.
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "reused" in err and "skipped 2 unreadable track(s)" in err


class FailingPlugin:
    """A model that raises, and an experiment using it."""

    @staticmethod
    def create(setup):
        raise RuntimeError("this model always fails")

    @hookimpl
    def genrebench_register_models(self):
        return [ModelSpec("test/failing", self.create)]

    @hookimpl
    def genrebench_register_experiments(self):
        return [ExperimentSpec("test/failing", "example/band-energies", "test/failing")]


def test_failing_experiment_is_marked_and_others_finish(tmp_path):
    from genrebench.reporting import leaderboard

    registry = load_plugins(extra=[FailingPlugin()])
    options = RunOptions(
        experiments=["test/failing", "example/centroid"],
        datasets=["example-tones"],
        out=tmp_path,
        cache_dir=None,
    )
    jobs, _ = plan(registry, options)
    results = Runner(registry, options).run(jobs)
    status = {r["experiment"]: r["status"] for r in results}
    assert status == {"test/failing": "failed", "example/centroid": "ok"}
    failed = next(r for r in results if r["status"] == "failed")
    assert "this model always fails" in failed["error"]
    board = leaderboard.build(leaderboard.find_results([tmp_path])).set_index("experiment")
    row = board.loc["test/failing"]
    assert row["status"] == "failed" and "always fails" in row["error"]
    assert row["n_seeds"] == 0 and row["n_failed"] == 1 and np.isnan(row["accuracy"])
    ok = board.loc["example/centroid"]
    finished = next(r for r in results if r["status"] == "ok")
    assert ok["status"] == "ok" and ok["error"] == "" and ok["n_failed"] == 0
    assert ok["accuracy"] == pytest.approx(finished["metrics"]["accuracy"])
    lines = leaderboard.to_markdown(board.reset_index()).splitlines()
    failed_line = next(line for line in lines if line.startswith("| `test/failing`"))
    ok_line = next(line for line in lines if line.startswith("| `example/centroid`"))
    assert "**failed**: RuntimeError: this model always fails" in failed_line
    assert "**failed**" not in ok_line
    assert f"| {finished['metrics']['accuracy']:.3f} |" in ok_line


def test_feature_cache_is_reused_and_survives_a_corrupt_entry(tmp_path):
    cache = tmp_path / "cache"
    args = ["run", *EXAMPLE, "--cache-dir", str(cache)]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    entries = sorted(cache.rglob("*.npy"))
    assert len(entries) == 18
    entries[0].write_bytes(b"not an npy file")
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    provenance = json.loads((run_dirs(tmp_path / "b")[0] / "provenance.json").read_text())
    assert provenance["features"] == pytest.approx(
        {"seconds": provenance["features"]["seconds"], "cache_hits": 17, "computed": 1}
    )
    assert np.load(entries[0]).shape == (16,)


def test_parallel_feature_extraction_matches_serial(tmp_path):
    base = ["run", *EXAMPLE, "--no-cache"]
    assert main([*base, "--out", str(tmp_path / "serial")]) == 0
    assert main([*base, "--out", str(tmp_path / "parallel"), "--jobs", "2"]) == 0
    serial = pd.read_csv(run_dirs(tmp_path / "serial")[0] / "predictions.csv")
    parallel = pd.read_csv(run_dirs(tmp_path / "parallel")[0] / "predictions.csv")
    pd.testing.assert_frame_equal(serial, parallel)


def test_leaderboard_command_rebuilds_from_runs(tmp_path, capsys):
    assert main(["run", *EXAMPLE, "--out", str(tmp_path / "runs"), "--seeds", "2"]) == 0
    assert main(["leaderboard", str(tmp_path / "runs"), "--out", str(tmp_path / "board")]) == 0
    assert "example/centroid" in capsys.readouterr().out
    board = pd.read_csv(tmp_path / "board" / "leaderboard.csv")
    assert board.loc[0, "n_seeds"] == 2
    assert_board_row_matches_seeds(board.loc[0], run_dirs(tmp_path / "runs"))
    records = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert records[0]["accuracy"] == pytest.approx(board.loc[0, "accuracy"], abs=1e-6)


class Tracker:
    """Records the lifecycle hooks, as an experiment tracker would see them."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def genrebench_session_started(self, suite, options):
        self.calls.append(("started", suite, [o.out for o in options]))

    @hookimpl
    def genrebench_run_finished(self, result, job_folder):
        saved = json.loads((job_folder / "metrics.json").read_text())
        self.calls.append(("job", result["experiment"], result["seed"], result["status"]))
        self.calls.append(("reused",) if result.get("reused") else ("fresh",))
        assert {k: v for k, v in result.items() if k != "reused"} == saved, job_folder

    @hookimpl
    def genrebench_session_finished(self, suite, results, leaderboard_folder, exitstatus):
        assert (leaderboard_folder / "leaderboard.csv").is_file()
        self.calls.append(("finished", suite, len(results), leaderboard_folder, exitstatus))


def test_run_finished_hook_sees_every_result(tmp_path):
    seen = []

    class OldTracker:  # an implementation taking only ``result`` keeps working
        @hookimpl
        def genrebench_run_finished(self, result):
            seen.append((result["experiment"], result["seed"], result["status"]))

    registry = load_plugins(extra=[OldTracker()])
    options = RunOptions(
        experiments=["example/centroid"], datasets=["example-tones"], out=tmp_path, seeds=2
    )
    jobs, _ = plan(registry, options)
    Runner(registry, options).run(jobs)
    assert seen == [("example/centroid", 0, "ok"), ("example/centroid", 1, "ok")]


def test_lifecycle_hooks_get_the_session_every_job_with_its_folder_and_the_leaderboard(
    tmp_path, monkeypatch
):
    tracker = Tracker()
    registry = load_plugins(extra=[tracker])
    monkeypatch.setattr("genrebench.cli.load_plugins", lambda: registry)
    args = ["run", *EXAMPLE, "--out", str(tmp_path), "--seeds", "2"]
    assert main(args) == 0
    job = ("job", "example/centroid")
    ensemble = ("job", "example/centroid (seed ensemble)", "ensemble", "ok")
    assert tracker.calls == [
        ("started", None, [tmp_path]),
        (*job, 0, "ok"),
        ("fresh",),
        (*job, 1, "ok"),
        ("fresh",),
        ensemble,
        ("fresh",),
        ("finished", None, 3, tmp_path, 0),
    ]
    # Run again: the jobs are reused, and the hook still sees each of them, so that a
    # tracker can log what it has not seen yet.
    tracker.calls.clear()
    assert main(args) == 0
    assert tracker.calls[1:5] == [(*job, 0, "ok"), ("reused",), (*job, 1, "ok"), ("reused",)]


def test_experiment_naming_an_unknown_model_fails_with_the_nearest_name(tmp_path):
    class Typo:
        @hookimpl
        def genrebench_register_experiments(self):
            return [
                ExperimentSpec("test/typo", "example/band-energies", "example/nearest-centriod")
            ]

    registry = load_plugins(extra=[Typo()])
    options = RunOptions(
        experiments=["test/typo", "example/centroid"], datasets=["example-tones"], out=tmp_path
    )
    jobs, _ = plan(registry, options)
    results = {r["experiment"]: r for r in Runner(registry, options).run(jobs)}
    assert results["example/centroid"]["status"] == "ok"
    assert "Did you mean 'example/nearest-centroid'" in results["test/typo"]["error"]


def test_job_saves_validation_predictions_and_a_class_report_that_match_the_test_predictions(
    tmp_path,
):
    args = [*EXAMPLE, "--split", "stratified", "--split-ratios", "train=0.5,valid=0.25,test=0.25"]
    assert main(["run", *args, "--out", str(tmp_path)]) == 0
    folder = run_dirs(tmp_path)[0]
    saved = json.loads((folder / "metrics.json").read_text())
    classes = saved["classes"]
    valid = pd.read_csv(folder / "valid_predictions.csv")
    assert len(valid) == saved["n_valid_tracks"] > 0
    assert list(valid.columns) == ["track_id", "label", *[f"p_{c}" for c in classes]]
    test = pd.read_csv(folder / "predictions.csv")
    assert not set(valid["track_id"]) & set(test["track_id"])

    predicted = test[[f"p_{c}" for c in classes]].to_numpy().argmax(axis=1)
    true = test["label"].map(classes.index).to_numpy()
    confusion = pd.read_csv(folder / "confusion_matrix.csv").set_index("true")
    assert list(confusion.index) == list(confusion.columns) == classes
    for i, t in enumerate(classes):
        for j, p in enumerate(classes):
            assert confusion.loc[t, p] == np.sum((true == i) & (predicted == j))
    per_class = pd.read_csv(folder / "per_class.csv").set_index("class")
    for i, c in enumerate(classes):
        tp = np.sum((true == i) & (predicted == i))
        assert per_class.loc[c, "support"] == np.sum(true == i)
        recall = tp / max(np.sum(true == i), 1)
        assert per_class.loc[c, "recall"] == pytest.approx(recall)
    assert np.mean(per_class["f1"]) == pytest.approx(saved["metrics"]["f1_macro"])


class NeedsWeights:
    """An experiment that needs pretrained weights the user must provide."""

    @hookimpl
    def genrebench_register_experiments(self):
        return [
            ExperimentSpec(
                "test/needs-weights",
                "example/band-energies",
                "example/nearest-centroid",
                requires_weights="the weights folder: set $TEST_WEIGHTS",
            )
        ]


class NeedsWeightsPlugin:
    """A feature that cannot run without a weight file, and an experiment using it."""

    MESSAGE = "put weights.pth in /nowhere or set EXAMPLE_WEIGHTS"

    @classmethod
    def extract(cls, audio, sample_rate):
        from genrebench.errors import ConfigError

        raise ConfigError(cls.MESSAGE)

    @hookimpl
    def genrebench_register_features(self):
        from genrebench import FeatureSpec

        return [FeatureSpec("test/needs-weights", self.extract, sample_rate=8000)]

    @hookimpl
    def genrebench_register_experiments(self):
        return [
            ExperimentSpec(
                "test/needs-weights",
                "test/needs-weights",
                "example/nearest-centroid",
                requires_weights=self.MESSAGE,
            )
        ]


def test_experiments_needing_weights_run_only_when_named(monkeypatch, capsys):
    registry = load_plugins(extra=[NeedsWeights()])
    everything, notes = plan(registry, RunOptions(datasets=["example-tones"]))
    assert "test/needs-weights" not in {j.experiment.name for j in everything}
    assert "example/centroid" in {j.experiment.name for j in everything}
    assert (
        "test/needs-weights left out: it needs the weights folder: set $TEST_WEIGHTS; "
        "name it to run it"
    ) in notes
    globbed, notes = plan(registry, RunOptions(["test/*"], ["example-tones"]))
    assert globbed == [] and any("test/needs-weights left out" in n for n in notes)
    named, notes = plan(registry, RunOptions(["test/needs-weights"], ["example-tones"]))
    assert [j.experiment.name for j in named] == ["test/needs-weights"] and notes == []
    # genrebench list says what they need.
    monkeypatch.setattr("genrebench.cli.load_plugins", lambda: registry)
    assert main(["list"]) == 0
    assert "needs the weights folder: set $TEST_WEIGHTS" in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)["experiments"]
    needs = {i["name"]: i["requires_weights"] for i in listing}
    assert needs["test/needs-weights"] == "the weights folder: set $TEST_WEIGHTS"
    assert needs["example/centroid"] == ""
    # Only such experiments selected: nothing to run, exit 2 with the note.
    assert main(["run", "test/*", "--dataset", "example-tones"]) == 2
    err = capsys.readouterr().err
    assert "test/needs-weights left out" in err and "nothing to run" in err


# --------------------------------------------------------------------------- broken experiments
TYPO = (
    "from genrebench import ExperimentSpec, hookimpl\n"
    "@hookimpl\n"
    "def genrebench_register_experiments():\n"
    "    return [ExperimentSpec('typo/centroid', 'example/band-energie',\n"
    "                           'example/nearest-centroid')]\n"
)


def test_run_leaves_out_a_broken_experiment_with_a_failed_row_and_runs_the_rest(
    tmp_path, install_plugin, monkeypatch
):
    monkeypatch.delenv(ENV_STRICT, raising=False)
    install_plugin("typo", TYPO)
    args = ["run", "typo/centroid", *EXAMPLE, "--out", str(tmp_path), "--seeds", "2"]
    assert main(args) == 1
    board = pd.read_csv(tmp_path / "leaderboard.csv").set_index("experiment")
    assert board.loc["typo/centroid", "status"] == "failed"
    assert board.loc["typo/centroid", "n_failed"] == 2
    error = board.loc["typo/centroid", "error"]
    assert "experiment 'typo/centroid' of plugin 'typo' is broken" in error
    assert "Did you mean 'example/band-energies'" in error
    assert board.loc["example/centroid", "status"] == "ok"
    assert board.loc["example/centroid", "n_seeds"] == 2


# --------------------------------------------------------------------------- earlier results
def test_a_failure_never_replaces_a_successful_result_of_another_configuration(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "out"
    args = ["run", *EXAMPLE, "--data-root", str(data), "--out", str(out), "--no-cache"]
    assert main(args) == 0
    [folder] = run_dirs(out)
    good = (folder / "metrics.json").read_text()
    predictions = (folder / "predictions.csv").read_text()
    for wav in (data / "example-tones").glob("*.wav"):
        wav.write_bytes(b"")  # every track unreadable: the next job fails inside
    capsys.readouterr()
    assert main([*args, "--dataset-option", "per_class=6"]) == 1  # another configuration
    assert "was kept" in capsys.readouterr().err
    assert (folder / "metrics.json").read_text() == good
    assert (folder / "predictions.csv").read_text() == predictions
    attempt = json.loads((folder / "failed.json").read_text())
    assert attempt["status"] == "failed" and "no usable training tracks" in attempt["error"]
    assert attempt["config_hash"] != json.loads(good)["config_hash"]


def test_a_new_result_leaves_no_file_of_the_earlier_configuration(tmp_path):
    args = [*EXAMPLE, "--out", str(tmp_path), "--split", "stratified"]
    assert main(["run", *args, "--split-ratios", "train=0.5,valid=0.25,test=0.25"]) == 0
    [folder] = run_dirs(tmp_path)
    assert (folder / "valid_predictions.csv").exists()
    assert main(["run", *args, "--split-ratios", "train=0.5,test=0.5"]) == 0
    assert not (folder / "valid_predictions.csv").exists()
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["n_valid_tracks"] == 0
    assert len(pd.read_csv(folder / "predictions.csv")) == saved["n_test_tracks"]


# --------------------------------------------------------------------------- concurrent writers
def test_a_job_waits_for_another_process_holding_its_folder(tmp_path, capsys):
    import threading

    from genrebench.results import outputs

    registry = load_plugins()
    options = RunOptions(experiments=["example/centroid"], datasets=["example-tones"], out=tmp_path)
    [job] = plan(registry, options)[0]
    runner = Runner(registry, options)
    folder = runner.job_dir(job)
    results = []
    with outputs.job_lock(folder):
        thread = threading.Thread(target=lambda: results.append(runner.run_job(job)))
        thread.start()
        waited = ""
        for _ in range(600):
            waited += capsys.readouterr().err
            if "waiting for another process" in waited:
                break
            thread.join(0.1)
        assert "waiting for another process" in waited
        assert not (folder / "metrics.json").exists()
    thread.join()
    assert results[0]["status"] == "ok" and (folder / "metrics.json").exists()


WRITER = """
import sys
from pathlib import Path
from genrebench.registry.loading import load_plugins
from genrebench.run.runner import Runner, RunOptions, plan

registry = load_plugins()
for i in range(int(sys.argv[2])):
    options = RunOptions(
        experiments=["example/centroid"], datasets=["example-tones"], out=Path(sys.argv[1]),
        seeds=2, dataset_options={"per_class": 5 + (i + int(sys.argv[3])) % 2}, cache_dir=None,
    )
    jobs, _ = plan(registry, options)
    runner = Runner(registry, options)
    for job in jobs:
        assert runner.run_job(job)["status"] == "ok"
"""


def test_two_processes_writing_the_same_jobs_leave_consistent_files(tmp_path):
    import subprocess
    import sys

    # Two writers alternate between two configurations of the same jobs, so each keeps
    # replacing the other's results; every folder must end whole and consistent.
    load_plugins().get("datasets", "example-tones").load(None, {"per_class": 6})
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), "6", str(n)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (0, 1)
    ]
    for writer in writers:
        assert writer.wait(timeout=600) == 0, writer.stderr.read()
    folders = run_dirs(tmp_path)
    assert len(folders) == 2
    for folder in folders:
        metrics = json.loads((folder / "metrics.json").read_text())
        provenance = json.loads((folder / "provenance.json").read_text())
        assert metrics["status"] == "ok"
        assert provenance["config_hash"] == metrics["config_hash"]
        predictions = pd.read_csv(folder / "predictions.csv")
        assert len(predictions) == metrics["n_test_tracks"]
        assert not list(folder.glob("*.tmp"))


def test_feature_without_its_weights_fails_the_job_with_its_message(tmp_path):
    registry = load_plugins(extra=[NeedsWeightsPlugin()])
    options = RunOptions(
        experiments=["test/needs-weights"], datasets=["example-tones"], out=tmp_path
    )
    jobs, _ = plan(registry, options)
    (result,) = Runner(registry, options).run(jobs)
    assert result["status"] == "failed"
    # the feature's own message, not "no usable training tracks left after skipping ..."
    assert result["error"] == f"ConfigError: {NeedsWeightsPlugin.MESSAGE}"


def test_concurrent_atomic_writes_of_one_file_never_collide(tmp_path):
    # Without the job lock: each write has its own temporary file, so writers never
    # truncate or move each other's, and a reader only ever sees one whole version.
    import threading

    from genrebench.results.outputs import write_atomic

    path = tmp_path / "metrics.json"
    size = 200_000
    errors: list[BaseException] = []
    seen: set[str] = set()
    done = threading.Event()

    def writer(mark: str) -> None:
        try:
            for _ in range(150):
                write_atomic(path, lambda tmp: tmp.write_text(mark * size))
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    def reader() -> None:
        while not done.is_set():
            if path.exists():
                text = path.read_text()
                seen.add(text[:1])
                if len(text) != size or len(set(text)) != 1:
                    errors.append(AssertionError(f"read a mixed or short file ({len(text)})"))
                    return

    threads = [threading.Thread(target=writer, args=(m,)) for m in "abcd"]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    assert errors == []
    assert path.read_text() in {m * size for m in "abcd"}
    assert len(seen) >= 2  # the reader did see the writers take turns
    assert list(tmp_path.glob("*.tmp")) == []
