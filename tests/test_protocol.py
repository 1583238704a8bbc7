"""The benchmark and paper protocols (genrebench.datasets.protocols): one split per data set and
uncapped test parts by default, each experiment's own split and caps under the paper
protocol, every cap recorded, lost test tracks reported per row, the job-folder paths, and
a split that leaves no test tracks found before any work."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from genrebench import ExperimentSpec, SplitRequest, hookimpl
from genrebench.cli import main
from genrebench.datasets.protocols import split_request, track_caps
from genrebench.errors import ConfigError
from genrebench.registry.loading import load_plugins
from genrebench.results.outputs import job_folder
from genrebench.run.runner import Runner, RunOptions, plan
from genrebench.run.session import summarise_splits
from genrebench.run.stages import split_checksum

FEATURE, MODEL = "example/band-energies", "example/nearest-centroid"
HALVES = SplitRequest("stratified", {"train": 0.5, "test": 0.5})
CAPS = {"max_train_tracks": 6, "max_valid_tracks": 2, "max_test_tracks": 3}


class PaperPlugin:
    """Experiments with their papers' own splits and caps, as paper plugins declare them."""

    @hookimpl
    def genrebench_register_experiments(self):
        return [
            ExperimentSpec("test/halves", FEATURE, MODEL, split=HALVES),
            ExperimentSpec(
                "test/capped",
                FEATURE,
                MODEL,
                split=SplitRequest("stratified", {"train": 0.6, "valid": 0.2, "test": 0.2}),
                profiles={"quick": CAPS},
            ),
            ExperimentSpec(
                "test/holdout",
                FEATURE,
                MODEL,
                profiles={"quick": {"calibration_holdout": 0.25}},
            ),
            ExperimentSpec(
                "test/no-test",
                FEATURE,
                MODEL,
                split=SplitRequest("stratified", {"train": 0.99, "test": 0.01}),
            ),
        ]


def run(out: Path, experiments, **options):
    registry = load_plugins(extra=[PaperPlugin()])
    options = RunOptions(
        experiments=experiments,
        datasets=["example-tones"],
        dataset_options={"per_class": 10},
        out=out,
        **options,
    )
    jobs, _ = plan(registry, options)
    runner = Runner(registry, options)
    runner.load_datasets(jobs)
    return {r["experiment"]: r for r in runner.run(jobs)}


def saved(folder: Path) -> tuple[dict, dict]:
    return (
        json.loads((folder / "metrics.json").read_text()),
        json.loads((folder / "provenance.json").read_text()),
    )


def test_the_benchmark_protocol_gives_every_experiment_the_data_sets_one_split(tmp_path):
    results = run(tmp_path, ["test/halves", "example/centroid", "test/capped"])
    sets = {r["evaluation_set"]["sha256"] for r in results.values()}
    assert len(sets) == 1  # one test-track set for every row, whatever the papers' splits
    for name, r in results.items():
        assert r["protocol"] == "benchmark" and r["fold"] is None and r["folds"] is None
        # example-tones' default split: seeded stratified 0.7/0.1/0.2 (6 of 30 test tracks)
        assert r["split"] == "stratified(train=0.7,valid=0.1,test=0.2)", name
        assert r["evaluation_set"]["n_tracks"] == r["n_test_tracks"] == 6
        folder = job_folder(tmp_path, name, "example-tones", "quick", "benchmark", 0)
        metrics, provenance = saved(folder)
        assert metrics["split_sha256"] == provenance["split"]["sha256"]
        assert metrics["evaluation_set"]["sha256"] == provenance["split"]["sha256"]["test"]
        assert provenance["split"]["protocol"] == "benchmark"
        assert provenance["config"]["protocol"] == "benchmark"


def test_the_paper_protocol_uses_each_experiments_own_split_in_its_own_folder(tmp_path):
    results = run(tmp_path, ["test/halves", "example/centroid"], protocol="paper")
    halves, centroid = results["test/halves"], results["example/centroid"]
    assert halves["protocol"] == centroid["protocol"] == "paper"
    assert halves["split"] == "stratified(train=0.5,test=0.5)"
    assert halves["evaluation_set"]["n_tracks"] == 15
    assert halves["evaluation_set"] != centroid["evaluation_set"]
    folder = tmp_path / "runs" / "test/halves" / "example-tones" / "quick" / "paper-protocol"
    assert (folder / "seed-0" / "metrics.json").exists()
    assert not (tmp_path / "runs" / "test/halves" / "example-tones" / "quick" / "seed-0").exists()


def test_a_run_split_applies_to_every_experiment_under_the_benchmark_protocol(tmp_path):
    results = run(
        tmp_path, ["test/halves", "example/centroid"], split_ratios={"train": 0.6, "test": 0.4}
    )
    assert {r["split"] for r in results.values()} == {"stratified(train=0.6,test=0.4)"}
    assert len({r["evaluation_set"]["sha256"] for r in results.values()}) == 1


def test_caps_never_touch_the_test_part_under_the_benchmark_protocol(tmp_path, capsys):
    result = run(tmp_path / "b", ["test/capped"])["test/capped"]
    capsys.readouterr()
    summarise_splits(RunOptions(), [result])
    assert (
        "note: test/capped: max_test_tracks=3 ignored: the benchmark protocol never caps the "
        "test tracks" in capsys.readouterr().err
    )
    assert result["n_train_tracks"] == 6 and result["n_valid_tracks"] == 2
    assert result["n_test_tracks"] == result["evaluation_set"]["n_tracks"] == 6
    assert result["caps"]["applied"] == {"max_train_tracks": 6, "max_valid_tracks": 2}
    assert result["caps"]["ignored"] == {"max_test_tracks": 3}
    assert result["caps"]["tracks_removed"] == {"train": 21 - 6, "valid": 3 - 2}
    folder = job_folder(tmp_path / "b", "test/capped", "example-tones", "quick", "benchmark", 0)
    assert saved(folder)[1]["caps"] == result["caps"]
    # The paper protocol applies every cap of the profile, the test cap included.
    paper = run(tmp_path / "p", ["test/capped"], protocol="paper")["test/capped"]
    assert paper["n_test_tracks"] == paper["evaluation_set"]["n_tracks"] == 3
    assert paper["caps"]["applied"] == CAPS and paper["caps"]["ignored"] == {}


def test_a_calibration_holdout_comes_out_of_the_training_part(tmp_path):
    ratios = {"train": 0.8, "test": 0.2}
    result = run(tmp_path, ["test/holdout", "example/centroid"], split_ratios=ratios)
    holdout, plain = result["test/holdout"], result["example/centroid"]
    assert holdout["evaluation_set"] == plain["evaluation_set"]
    assert plain["n_valid_tracks"] == 0 and holdout["n_valid_tracks"] == 6
    assert holdout["n_train_tracks"] == plain["n_train_tracks"] - 6
    # The calibrator was given the held-out tracks (a perfect centroid may still not fit).
    assert holdout["calibration"]["status"] != "skipped", holdout["calibration"]
    assert plain["calibration"]["status"] == "skipped"


def test_a_test_track_a_feature_cannot_compute_is_reported_on_its_row(tmp_path, capsys):
    data = tmp_path / "data"
    args = ["run", "example/centroid", "--dataset", "example-tones", "--data-root", str(data)]
    args += ["--no-cache", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    folder = job_folder(
        tmp_path / "a", "example/centroid", "example-tones", "quick", "benchmark", 0
    )
    before, _ = saved(folder)
    assert before["n_test_tracks_lost"] == 0 and before["test_tracks_lost"] == []
    # The first test track becomes unreadable.
    victim = sorted(
        line.split(",")[0] for line in (folder / "predictions.csv").read_text().splitlines()[1:]
    )[0]
    (data / "example-tones" / f"{victim}.wav").write_bytes(b"RIFF\x00\x00garbage")
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    lost, _ = saved(
        job_folder(tmp_path / "b", "example/centroid", "example-tones", "quick", "benchmark", 0)
    )
    assert lost["n_test_tracks_lost"] == 1 and lost["test_tracks_lost"] == [victim]
    # The planned test set (the section key) is the same: the row stays in its section.
    assert lost["evaluation_set"] == before["evaluation_set"]
    assert lost["n_test_tracks"] == before["n_test_tracks"] - 1
    assert f"lost 1 of its {before['n_test_tracks']} planned test tracks ({victim})" in err


def test_an_experiments_own_split_without_test_tracks_is_found_before_any_work(tmp_path):
    registry = load_plugins(extra=[PaperPlugin()])
    options = RunOptions(
        experiments=["test/no-test", "example/centroid"],
        datasets=["example-tones"],
        out=tmp_path,
        protocol="paper",
    )
    jobs, _ = plan(registry, options)
    with pytest.raises(ConfigError, match=r"test/no-test on example-tones \(paper protocol"):
        Runner(registry, options).load_datasets(jobs)
    assert not (tmp_path / "runs").exists()
    # Under the benchmark protocol its split is not used, and it runs.
    assert run(tmp_path, ["test/no-test"])["test/no-test"]["status"] == "ok"


def test_job_folders_name_protocol_seed_and_fold():
    out = Path("o")
    base = Path("o/runs/a/ds/quick")
    assert job_folder(out, "a", "ds", "quick", "benchmark", 0) == base / "seed-0"
    assert job_folder(out, "a", "ds", "quick", "paper", 1) == base / "paper-protocol/seed-1"
    assert job_folder(out, "a", "ds", "quick", "benchmark", 2, 3) == base / "seed-2/fold-3"
    assert job_folder(out, "a", "ds", "quick", "paper", "ensemble") == (
        base / "paper-protocol/seed-ensemble"
    )
    with pytest.raises(ConfigError, match="unknown protocol 'papers'"):
        job_folder(out, "a", "ds", "quick", "papers", 0)


def test_split_requests_and_caps_per_protocol():
    own = SplitRequest("stratified", {"train": 0.75, "test": 0.25})
    assert split_request("benchmark", own) == SplitRequest("default")
    assert split_request("paper", own) == own
    assert split_request("paper", own, "official") == SplitRequest("official", own.ratios)
    ratios = {"train": 0.5, "test": 0.5}
    assert split_request("benchmark", own, None, ratios) == SplitRequest("stratified", ratios)
    assert split_request("benchmark", own, "kfold", None, 4) == SplitRequest("kfold", None, 4)
    assert split_request("paper", own, "kfold").folds == 5
    assert track_caps("benchmark", CAPS) == (
        {"max_train_tracks": 6, "max_valid_tracks": 2},
        {"max_test_tracks": 3},
    )
    assert track_caps("paper", CAPS) == (CAPS, {})
    with pytest.raises(ConfigError, match="max_test_tracks must be"):
        track_caps("paper", {"max_test_tracks": 0})


def test_protocol_on_the_command_line(tmp_path, capsys):
    args = ["run", "example/centroid", "--dataset", "example-tones", "--no-progress"]
    assert main([*args, "--protocol", "nonsense", "--out", str(tmp_path)]) == 2
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err
    assert main([*args, "--protocol", "paper", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "seed 0 (paper protocol):" in err
    assert "split: example-tones, paper protocol: stratified(train=0.7,valid=0.1,test=0.2)" in err
    [folder] = [p.parent for p in (tmp_path / "runs").rglob("metrics.json")]
    assert folder.parent.name == "paper-protocol"
    ids = sorted(
        line.split(",")[0] for line in (folder / "predictions.csv").read_text().splitlines()[1:]
    )
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["evaluation_set"] == {"sha256": split_checksum(ids), "n_tracks": len(ids)}


def test_compare_names_each_rows_protocol_split_and_test_tracks(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib
    from stats_fixtures import make_row, save_rows

    a = make_row(n_seeds=1, skill=3.0, key=("a", "d", "q"))
    b = make_row(n_seeds=1, skill=1.0, seed=3, key=("b", "d", "q"), y=a.y)
    save_rows(tmp_path, [a, b])
    for file in tmp_path.rglob("metrics.json"):
        result = json.loads(file.read_text())
        result |= {
            "protocol": "benchmark",
            "split": "official",
            "evaluation_set": {"sha256": "0" * 64, "n_tracks": 41},
            "n_test_tracks_lost": int(result["experiment"] == "b"),
        }
        file.write_text(json.dumps(result))
    assert main(["compare", "a", "b", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "a on d (q): benchmark protocol, split official, 41 planned test tracks"
    assert out[1] == (
        "b on d (q): benchmark protocol, split official, 41 planned test tracks (1 lost)"
    )
