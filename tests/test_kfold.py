"""k-fold cross-validation (genrebench.run.kfold, Dataset's ``kfold`` scheme): stratified,
seeded folds in which every track is tested once per seed, one job per fold, the pooled
seed result recomputed from the concatenated predictions, seed ensembles and the leaderboard
on the pooled results, resume, and a seed whose fold cannot be pooled."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from genrebench import ExperimentSpec, ModelSpec, hookimpl
from genrebench.cli import main
from genrebench.dataset import Dataset, Track, kfold_assignment, kfold_split
from genrebench.errors import ConfigError
from genrebench.evaluation import metrics as m
from genrebench.registry.loading import load_plugins
from genrebench.reporting import leaderboard
from genrebench.results.outputs import job_folder
from genrebench.run.ensembles import run_all
from genrebench.run.runner import Runner, RunOptions, plan
from genrebench.run.stages import split_checksum

RUN = ["run", "example/centroid", "--dataset", "example-tones", "--no-progress"]
RUN += ["--dataset-option", "per_class=7", "--split", "kfold", "--folds", "3"]


def tracks(per_class: dict[str, int]) -> list[Track]:
    return [
        Track(f"{label}-{i:02d}", Path(f"{label}-{i}.wav"), (label,))
        for label, n in per_class.items()
        for i in range(n)
    ]


def test_folds_hold_every_track_once_stratified_and_seeded():
    data = tracks({"a": 10, "b": 7, "c": 5})
    folds = kfold_assignment(data, 5, seed=0)
    ids = [t for fold in folds for t in fold]
    assert sorted(ids) == sorted(t.track_id for t in data)  # every track exactly once
    for label, n in {"a": 10, "b": 7, "c": 5}.items():
        counts = [sum(t.startswith(label) for t in fold) for fold in folds]
        assert sum(counts) == n and max(counts) - min(counts) <= 1, (label, counts)
    assert kfold_assignment(data, 5, seed=0) == folds
    assert kfold_assignment(data, 5, seed=1) != folds


def test_multi_label_folds_use_the_iterative_stratification():
    rng = np.random.default_rng(0)
    labels = list("abcdefghij")  # 1-3 tags per track, as the embedded multi-label set
    data = [
        Track(f"t{i:03d}", Path(f"{i}.wav"), tuple(sorted(rng.choice(labels, k, replace=False))))
        for i, k in enumerate(rng.choice([1, 2, 3], size=200, p=[0.5, 0.35, 0.15]))
    ]
    folds = kfold_assignment(data, 5, seed=0)
    assert sorted(t for f in folds for t in f) == sorted(t.track_id for t in data)
    assert all(36 <= len(f) <= 44 for f in folds), [len(f) for f in folds]  # 40 +- 10 %
    by_id = {t.track_id: t for t in data}
    for label in labels:
        counts = [sum(label in by_id[t].labels for t in fold) for fold in folds]
        assert max(counts) - min(counts) <= 1, (label, counts)


def test_each_fold_tests_one_fold_validates_the_next_and_trains_on_the_rest():
    dataset = Dataset("d", "single-label", ["a", "b"], tracks({"a": 9, "b": 6}))
    folds = kfold_assignment(dataset.tracks, 3, seed=0)
    tested = Counter()
    for k in range(3):
        parts = kfold_split(dataset, 3, k, 0)
        assert parts["test"] == folds[k] and parts["valid"] == folds[(k + 1) % 3]
        assert set(parts["train"]) == set(folds[(k + 2) % 3])
        tested.update(parts["test"])
    assert set(tested.values()) == {1} and len(tested) == 15
    with pytest.raises(ConfigError, match="at least 3 folds"):
        kfold_assignment(dataset.tracks, 2, 0)
    with pytest.raises(ConfigError, match="fold must be between 0 and 2"):
        kfold_split(dataset, 3, 3, 0)


def read(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def probs_and_labels(path: Path, classes: list[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    frame = pd.read_csv(path)
    return (
        frame,
        frame["label"].map(classes.index).to_numpy(),
        frame[[f"p_{c}" for c in classes]].to_numpy(),
    )


class Blurred:
    """Nearest centroid with seeded noise on its logits: never perfect on the validation
    tracks, so a temperature always fits."""

    def __init__(self, setup):
        self.n_classes, self.seed = len(setup.classes), setup.seed

    def fit(self, x, y, x_valid=None, y_valid=None):
        self.centroids = np.stack([x[y == k].mean(axis=0) for k in range(self.n_classes)])

    def predict_proba(self, x):
        d = np.sqrt(((x[:, None, :] - self.centroids[None]) ** 2).sum(axis=2))
        noise = np.random.default_rng(self.seed + len(x)).normal(size=d.shape)
        return softmax(-d / d.mean() * 3 + 2.0 * noise, axis=1)


class BlurredPlugin:
    @hookimpl
    def genrebench_register_models(self):
        return [ModelSpec("test/blurred", Blurred)]

    @hookimpl
    def genrebench_register_experiments(self):
        return [ExperimentSpec("test/blurred", "example/band-energies", "test/blurred")]


def test_kfold_run_tests_every_track_once_and_pools_the_folds(tmp_path):
    registry = load_plugins(extra=[BlurredPlugin()])
    options = RunOptions(
        experiments=["test/blurred"],
        datasets=["example-tones"],
        dataset_options={"per_class": 7},
        split="kfold",
        folds=3,
        seeds=2,
        out=tmp_path,
    )
    jobs, _ = plan(registry, options)
    assert [(j.seed, j.fold) for j in jobs] == [(s, k) for s in (0, 1) for k in (0, 1, 2)]
    runner = Runner(registry, options)
    runner.load_datasets(jobs)
    results = runner.run(jobs)
    assert [(r["seed"], r["fold"], r["folds"]) for r in results] == [(0, None, 3), (1, None, 3)]
    results += run_all(runner, [], results)
    name, ds = "test/blurred", "example-tones"
    for seed in (0, 1):
        seed_dir = job_folder(tmp_path, name, ds, "quick", "benchmark", seed)
        pooled = read(seed_dir)
        assert (pooled["fold"], pooled["folds"], pooled["split"]) == (None, 3, "kfold(k=3)")
        classes = pooled["classes"]
        frame, y, probs = probs_and_labels(seed_dir / "predictions.csv", classes)
        # Every one of the 21 tracks tested exactly once in this seed.
        assert len(frame) == 21 and frame["track_id"].is_unique
        assert pooled["evaluation_set"] == {
            "sha256": split_checksum(list(frame["track_id"])),
            "n_tracks": 21,
        }
        assert pooled["n_test_tracks"] == 21 and pooled["n_test_tracks_lost"] == 0
        # Metrics recomputed on the concatenated predictions, not averaged over folds.
        assert pooled["metrics"]["accuracy"] == pytest.approx(m.accuracy(y, probs))
        assert pooled["metrics"]["ece"] == pytest.approx(m.ece(y, probs))
        folds = [
            read(job_folder(tmp_path, name, ds, "quick", "benchmark", seed, k)) for k in range(3)
        ]
        assert [f["fold"] for f in folds] == [0, 1, 2] and {f["folds"] for f in folds} == {3}
        assert [f["fold"] for f in pooled["fold_metrics"]] == [0, 1, 2]
        assert [f["metrics"] for f in pooled["fold_metrics"]] == [f["metrics"] for f in folds]
        assert sum(f["n_test_tracks"] for f in folds) == 21
        # Calibrated: each fold's calibrator on its own fold's test tracks, concatenated.
        fold_files = [
            pd.read_csv(job_folder(tmp_path, name, ds, "quick", "benchmark", seed, k) / file)
            for k in range(3)
            for file in ["predictions_calibrated.csv"]
        ]
        pd.testing.assert_frame_equal(
            pd.read_csv(seed_dir / "predictions_calibrated.csv"),
            pd.concat(fold_files, ignore_index=True),
        )
        _, y_cal, calibrated = probs_and_labels(seed_dir / "predictions_calibrated.csv", classes)
        assert pooled["metrics"]["ece_calibrated"] == pytest.approx(m.ece(y_cal, calibrated))
        temperatures = [f["calibration"]["params"]["temperature"] for f in folds]
        assert pooled["metrics"]["temperature"] == pytest.approx(np.mean(temperatures))
        valid = pd.read_csv(seed_dir / "valid_predictions.csv")
        assert len(valid) == 21 and valid["track_id"].is_unique  # each validated once too
    # The leaderboard counts the pooled results as the seeds, never the folds; the seed
    # ensemble averages the pooled predictions.
    board = leaderboard.build(leaderboard.find_results([tmp_path / "runs"])).set_index("experiment")
    assert board.loc[name, "n_seeds"] == 2
    ensemble = read(job_folder(tmp_path, name, ds, "quick", "benchmark", "ensemble"))
    assert ensemble["status"] == "ok" and ensemble["n_test_tracks"] == 21
    assert ensemble["evaluation_set"]["n_tracks"] == 21 and ensemble["folds"] == 3
    assert sum(r["experiment"] == f"{name} (seed ensemble)" for r in results) == 1


def test_a_resumed_kfold_run_reuses_finished_folds_and_rebuilds_the_pooled_result(tmp_path, capsys):
    assert main([*RUN, "--seeds", "2", "--out", str(tmp_path)]) == 0
    name, ds = "example/centroid", "example-tones"
    redo = job_folder(tmp_path, name, ds, "quick", "benchmark", 1, 2)
    (redo / "metrics.json").unlink()
    kept = job_folder(tmp_path, name, ds, "quick", "benchmark", 0)
    stamp = (kept / "metrics.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main([*RUN, "--seeds", "2", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert err.count("(finished earlier, reused)") == 5 + 1  # 5 folds and seed 0's pooled
    assert "[pooled] example/centroid on example-tones seed 1, 3 folds" in err
    assert (kept / "metrics.json").stat().st_mtime_ns == stamp
    pooled = read(job_folder(tmp_path, name, ds, "quick", "benchmark", 1))
    assert pooled["status"] == "ok"
    # A fold whose calibrator could not be fitted (a perfect centroid on its validation
    # fold) leaves the seed without pooled calibrated predictions, and says which fold.
    assert pooled["calibration"]["status"] == "failed"
    assert pooled["calibration"]["reason"].startswith("fold 0: ValueError: every validation")
    assert not (kept / "predictions_calibrated.csv").exists()


def test_a_seed_whose_fold_cannot_be_pooled_fails_naming_the_problem(tmp_path, capsys):
    assert main([*RUN, "--out", str(tmp_path)]) == 0
    name, ds = "example/centroid", "example-tones"
    seed_dir = job_folder(tmp_path, name, ds, "quick", "benchmark", 0)
    (seed_dir / "metrics.json").unlink()
    (seed_dir / "fold-1" / "predictions.csv").unlink()
    assert main([*RUN, "--out", str(tmp_path)]) == 1
    pooled = read(seed_dir)
    assert pooled["status"] == "failed" and "pooling the folds failed" in pooled["error"]
    assert "predictions.csv" in pooled["error"]


def test_folds_on_the_command_line_need_the_kfold_split(tmp_path, capsys):
    base = ["run", "example/centroid", "--dataset", "example-tones", "--out", str(tmp_path)]
    assert main([*base, "--folds", "4"]) == 2
    assert "--folds applies to --split kfold" in capsys.readouterr().err
    assert main([*base, "--split", "kfold", "--folds", "2"]) == 2
    assert "expected a whole number >= 3" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
