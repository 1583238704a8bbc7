"""Seed ensembles and cross-experiment ensembles (genrebench.run.ensembles): built from saved
predictions without retraining, recomputable from their own files, selected with their
members, and refused with the member's name when a member is missing, failed or ran on
other test tracks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from genrebench import EnsembleSpec, ExperimentSpec, ModelSpec, SplitRequest, hookimpl
from genrebench.aggregation import majority_vote
from genrebench.errors import UnknownNameError
from genrebench.evaluation import metrics as m
from genrebench.registry.loading import load_plugins
from genrebench.reporting import leaderboard
from genrebench.run.ensembles import plan_ensembles, run_all
from genrebench.run.runner import Runner, RunOptions, plan, select_experiments

SPLIT = {"train": 0.34, "valid": 0.33, "test": 0.33}
OTHER_SPLIT = SplitRequest("stratified", {"train": 0.4, "valid": 0.1, "test": 0.5})


class Noisy:
    """Nearest centroid with seeded noise on its logits (so seeds and members differ)."""

    def __init__(self, setup):
        self.n_classes, self.seed = len(setup.classes), setup.seed
        self.noise = float(setup.params.get("noise", 2.0))

    def fit(self, x, y, x_valid=None, y_valid=None):
        self.centroids = np.stack([x[y == k].mean(axis=0) for k in range(self.n_classes)])

    def predict_proba(self, x):
        d = np.sqrt(((x[:, None, :] - self.centroids[None]) ** 2).sum(axis=2))
        noise = np.random.default_rng(self.seed + len(x)).normal(size=d.shape)
        return softmax(-d / d.mean() * 3 + self.noise * noise, axis=1)


def best_on_validation(members, y_valid, task):
    """A function rule: the member most accurate on the validation tracks decides."""
    scores = [np.mean(member.valid.argmax(axis=1) == y_valid) for member in members]
    return members[int(np.argmax(scores))].test


class Failing:
    def __init__(self, setup):
        raise RuntimeError("this member always fails")


class EnsemblePlugin:
    @hookimpl
    def genrebench_register_models(self):
        return [ModelSpec("test/noisy", Noisy), ModelSpec("test/failing", Failing)]

    @hookimpl
    def genrebench_register_experiments(self):
        feature = "example/band-energies"
        return [
            ExperimentSpec("test/a", feature, "test/noisy"),
            ExperimentSpec("test/b", feature, "test/noisy", model_params={"noise": 1.0}),
            ExperimentSpec("test/c", feature, "test/noisy", model_params={"noise": 3.0}),
            ExperimentSpec("test/fails", feature, "test/failing"),
            ExperimentSpec("test/other-split", feature, "test/noisy", split=OTHER_SPLIT),
            ExperimentSpec("test/paper-only", feature, "test/noisy", profiles={"paper": {}}),
        ]

    @hookimpl
    def genrebench_register_ensembles(self):
        return [
            EnsembleSpec("test/mean", ("test/a", "test/b", "test/c")),
            EnsembleSpec("test/vote", ("test/a", "test/b", "test/c"), rule="vote"),
            EnsembleSpec("test/best", ("test/a", "test/b", "test/c"), rule=best_on_validation),
            EnsembleSpec("test/unknown-member", ("test/a", "test/nowhere")),
            EnsembleSpec("test/failed-member", ("test/a", "test/fails")),
            EnsembleSpec("test/mismatch", ("test/a", "test/other-split")),
            EnsembleSpec("test/paper-ensemble", ("test/a", "test/paper-only")),
        ]


def run(out: Path, patterns, seeds=1, split=SPLIT, protocol="benchmark"):
    registry = load_plugins(extra=[EnsemblePlugin()])
    options = RunOptions(
        experiments=patterns,
        datasets=["example-tones"],
        dataset_options={"per_class": 12},
        out=out,
        seeds=seeds,
        split="stratified" if split else None,
        split_ratios=split,
        protocol=protocol,
    )
    jobs, _ = plan(registry, options)
    ensemble_jobs, _ = plan_ensembles(registry, options)
    runner = Runner(registry, options)
    results = runner.run(jobs)
    results += run_all(runner, ensemble_jobs, results)
    return {(r["experiment"], r["seed"]): r for r in results}


def folder(out: Path, name: str, seed, protocol="benchmark") -> Path:
    leaf = "seed-ensemble" if seed == "ensemble" else f"seed-{seed}"
    middle = ["paper-protocol"] if protocol == "paper" else []
    return out.joinpath("runs", name, "example-tones", "quick", *middle, leaf)


def probs_of(path: Path, classes) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_csv(path)
    return frame, frame[[f"p_{c}" for c in classes]].to_numpy()


def assert_metrics_recompute(result: dict, where: Path):
    classes = result["classes"]
    frame, probs = probs_of(where / "predictions.csv", classes)
    y = frame["label"].map(classes.index).to_numpy()
    metrics = result["metrics"]
    for name, fn in (("accuracy", m.accuracy), ("ece", m.ece), ("nll", m.nll), ("mce", m.mce)):
        assert metrics[name] == pytest.approx(fn(y, probs), abs=1e-6), name
    if result["calibration"]["status"] == "ok":
        _, calibrated = probs_of(where / "predictions_calibrated.csv", classes)
        assert metrics["ece_calibrated"] == pytest.approx(m.ece(y, calibrated), abs=1e-6)
    assert json.loads((where / "metrics.json").read_text()) == json.loads(json.dumps(result))


# --------------------------------------------------------------------------- seed ensembles
def test_seed_ensemble_is_the_mean_of_the_seeds_and_recomputes_from_files(tmp_path):
    results = run(tmp_path, ["test/a"], seeds=3)
    ensemble = results[("test/a (seed ensemble)", "ensemble")]
    assert ensemble["status"] == "ok"
    assert ensemble["ensemble"] == {
        "kind": "seeds",
        "of": "test/a",
        "seeds": [0, 1, 2],
        "rule": "mean",
    }
    classes = ensemble["classes"]
    where = folder(tmp_path, "test/a", "ensemble")
    frame, probs = probs_of(where / "predictions.csv", classes)
    seeds = []
    for s in range(3):
        seed_frame, seed_probs = probs_of(
            folder(tmp_path, "test/a", s) / "predictions.csv", classes
        )
        order = seed_frame.set_index("track_id").index.get_indexer(frame["track_id"])
        seeds.append(seed_probs[order])
    np.testing.assert_allclose(probs, np.mean(seeds, axis=0), atol=1e-7)
    assert not np.allclose(seeds[0], seeds[1])  # the seeds really differ
    assert_metrics_recompute(ensemble, where)
    assert (where / "valid_predictions.csv").exists() and (where / "reliability.json").exists()
    assert ensemble["calibration"]["status"] == "ok"
    assert ensemble["cost"]["n_parameters"] is None or ensemble["cost"]["train_seconds"] >= 0
    board = leaderboard.build(leaderboard.find_results([tmp_path]))
    row = board.set_index("experiment").loc["test/a (seed ensemble)"]
    assert (
        row["ensemble_of"] == "seeds 0,1,2" and row["accuracy"] == ensemble["metrics"]["accuracy"]
    )
    assert "ensemble of 3" in leaderboard.to_markdown(board)


def test_one_seed_makes_no_seed_ensemble(tmp_path):
    results = run(tmp_path, ["test/a"], seeds=1)
    assert list(results) == [("test/a", 0)]
    assert not folder(tmp_path, "test/a", "ensemble").exists()


# --------------------------------------------------------------------------- cross-experiment
def test_selecting_an_ensemble_selects_its_members(registry):
    registry = load_plugins(extra=[EnsemblePlugin()])
    chosen = [e.name for e in select_experiments(registry, ["test/mean"])]
    assert chosen == ["test/a", "test/b", "test/c"]
    chosen = [e.name for e in select_experiments(registry, ["test/m*"])]
    assert chosen == ["test/a", "test/b", "test/c", "test/other-split"]
    with pytest.raises(UnknownNameError, match="Did you mean 'test/mean'"):
        select_experiments(registry, ["test/maen"])


def test_mean_vote_and_function_rules_from_saved_predictions(tmp_path):
    results = run(tmp_path, ["test/mean", "test/vote", "test/best"], seeds=2)
    classes = results[("test/a", 0)]["classes"]
    for seed in (0, 1):
        frame, a = probs_of(folder(tmp_path, "test/a", seed) / "predictions.csv", classes)
        members = [a]
        for name in ("test/b", "test/c"):
            other, probs = probs_of(folder(tmp_path, name, seed) / "predictions.csv", classes)
            assert list(other["track_id"]) == list(frame["track_id"])
            members.append(probs)
        stacked = np.stack(members)
        _, mean = probs_of(folder(tmp_path, "test/mean", seed) / "predictions.csv", classes)
        np.testing.assert_allclose(mean, stacked.mean(axis=0), atol=1e-7)
        _, vote = probs_of(folder(tmp_path, "test/vote", seed) / "predictions.csv", classes)
        expected = np.array([majority_vote(stacked[:, i]) for i in range(len(frame))])
        np.testing.assert_allclose(vote, expected / expected.sum(axis=1, keepdims=True), atol=1e-7)
        # The function rule picked the member best on the validation tracks.
        valid, _ = probs_of(folder(tmp_path, "test/a", seed) / "valid_predictions.csv", classes)
        y_valid = valid["label"].map(classes.index).to_numpy()
        scores = [
            np.mean(
                probs_of(folder(tmp_path, n, seed) / "valid_predictions.csv", classes)[1].argmax(
                    axis=1
                )
                == y_valid
            )
            for n in ("test/a", "test/b", "test/c")
        ]
        _, best = probs_of(folder(tmp_path, "test/best", seed) / "predictions.csv", classes)
        np.testing.assert_allclose(best, stacked[int(np.argmax(scores))], atol=1e-7)
        for name in ("test/mean", "test/vote", "test/best"):
            result = results[(name, seed)]
            assert result["status"] == "ok", result.get("error")
            assert_metrics_recompute(result, folder(tmp_path, name, seed))
    assert results[("test/mean", 0)]["calibration"]["status"] == "ok"
    assert results[("test/mean", 0)]["ensemble"]["members"] == ["test/a", "test/b", "test/c"]
    best = results[("test/best", 0)]
    assert best["calibration"]["status"] == "skipped"  # a function rule gives no valid probs
    assert "best_on_validation" in best["ensemble"]["rule"]
    # Ensembles of two seeds get their own seed ensemble too.
    assert results[("test/mean (seed ensemble)", "ensemble")]["status"] == "ok"
    board = leaderboard.build(leaderboard.find_results([tmp_path])).set_index("experiment")
    assert board.loc["test/mean", "n_seeds"] == 2
    assert board.loc["test/vote", "ensemble_of"] == "test/a + test/b + test/c (vote)"


@pytest.mark.parametrize(
    ("ensemble", "message"),
    [
        ("test/unknown-member", "member 'test/nowhere' is not a registered experiment"),
        ("test/failed-member", "member 'test/fails' failed: RuntimeError: this member always"),
        ("test/mismatch", "member 'test/other-split' ran on different test tracks"),
    ],
)
def test_ensemble_with_a_missing_failed_or_mismatched_member_is_refused(
    tmp_path, ensemble, message
):
    # The paper protocol: test/other-split's own split then applies.
    results = run(tmp_path, [ensemble], split=None, protocol="paper")
    result = results[(ensemble, 0)]
    assert result["status"] == "failed" and message in result["error"], result["error"]
    where = folder(tmp_path, ensemble, 0, "paper")
    saved = json.loads((where / "metrics.json").read_text())
    assert saved["status"] == "failed" and message in saved["error"]
    assert not (where / "predictions.csv").exists()
    row = leaderboard.build(leaderboard.find_results([tmp_path])).set_index("experiment")
    assert row.loc[ensemble, "status"] == "failed"


def test_member_results_from_another_configuration_are_refused(tmp_path):
    run(tmp_path, ["test/mean"])
    # test/b's results now come from another configuration than the next run's.
    path = folder(tmp_path, "test/b", 0) / "metrics.json"
    saved = json.loads(path.read_text())
    saved["config_hash"] = "0" * 16
    path.write_text(json.dumps(saved))
    registry = load_plugins(extra=[EnsemblePlugin()])
    options = RunOptions(
        experiments=["test/mean"],
        datasets=["example-tones"],
        dataset_options={"per_class": 12},
        out=tmp_path,
        split="stratified",
        split_ratios=SPLIT,
    )
    ensemble_jobs, _ = plan_ensembles(registry, options)
    [result] = run_all(Runner(registry, options), ensemble_jobs, [])
    assert result["status"] == "failed"
    assert "member 'test/b' did not run with this run's configuration" in result["error"]


def test_ensemble_with_a_member_lacking_the_profile_is_skipped_with_a_note():
    registry = load_plugins(extra=[EnsemblePlugin()])
    options = RunOptions(experiments=["test/*"], datasets=["example-tones"])
    jobs, notes = plan_ensembles(registry, options)
    assert "test/paper-ensemble" not in {j.ensemble.name for j in jobs}
    assert {j.ensemble.name for j in jobs} >= {"test/mean", "test/vote", "test/mismatch"}
    assert any("test/paper-ensemble skipped" in n and "test/paper-only" in n for n in notes)


def test_saved_predictions_read_back_exactly_even_with_undecodable_names(tmp_path):
    from genrebench.results.outputs import read_predictions, save_predictions

    classes = ["m\udcfasica", "rock"]  # a Latin-1 byte of a file name, surrogate-escaped
    probs = np.array([[1 - 1e-12, 1e-12], [0.1 + 1e-17, 0.9], [1 / 3, 2 / 3]])
    y = np.array([0, 1, 1])
    save_predictions(tmp_path / "p.csv", ["caf\udce9", "b", "c"], y, probs, classes, "single-label")
    ids, y_back, probs_back = read_predictions(tmp_path / "p.csv", classes, "single-label")
    assert ids == ["caf\\xe9", "b", "c"]
    np.testing.assert_array_equal(y_back, y)
    np.testing.assert_array_equal(probs_back, probs)  # exact, not 8 digits
    multi = np.array([[1, 0], [0, 0], [1, 1]])
    save_predictions(tmp_path / "m.csv", ["a", "b", "c"], multi, probs, classes, "multi-label")
    _, y_back, _ = read_predictions(tmp_path / "m.csv", classes, "multi-label")
    np.testing.assert_array_equal(y_back, multi)


def test_ensembles_reach_the_run_finished_hook_with_their_folders(tmp_path):
    seen = {}

    class Tracker:
        @hookimpl
        def genrebench_run_finished(self, result, job_folder):
            seen[(result["experiment"], result["seed"])] = job_folder

    registry = load_plugins(extra=[EnsemblePlugin(), Tracker()])
    options = RunOptions(
        experiments=["test/mean"],
        datasets=["example-tones"],
        dataset_options={"per_class": 12},
        out=tmp_path,
        seeds=2,
        split="stratified",
        split_ratios=SPLIT,
    )
    jobs, _ = plan(registry, options)
    ensemble_jobs, _ = plan_ensembles(registry, options)
    runner = Runner(registry, options)
    results = runner.run(jobs)
    results += run_all(runner, ensemble_jobs, results)
    assert set(seen) == {(r["experiment"], r["seed"]) for r in results}
    for (name, _seed), where in seen.items():
        assert json.loads((where / "metrics.json").read_text())["experiment"] == name
    assert seen[("test/mean", 1)] == folder(tmp_path, "test/mean", 1)
    assert seen[("test/mean (seed ensemble)", "ensemble")] == folder(
        tmp_path, "test/mean", "ensemble"
    )


def test_ensembles_save_under_the_job_lock_with_their_provenance(tmp_path, monkeypatch):
    from genrebench.results import outputs

    real_lock, real_write, locked, unlocked_writes = outputs.job_lock, outputs.write_json, [], []

    def recording_lock(where):
        lock = real_lock(where)

        class Held:
            def __enter__(self):
                locked.append(where)
                return lock.__enter__()

            def __exit__(self, *exc):
                locked.remove(where)
                return lock.__exit__(*exc)

        return Held()

    def checked_write(path, data):
        if path.parent not in locked and path.name in ("metrics.json", "provenance.json"):
            unlocked_writes.append(path)
        return real_write(path, data)

    monkeypatch.setattr(outputs, "job_lock", recording_lock)
    monkeypatch.setattr(outputs, "write_json", checked_write)
    results = run(tmp_path, ["test/mean"], seeds=2)
    assert unlocked_writes == []
    for name, seed in (("test/mean", 0), ("test/mean", "ensemble")):
        where = folder(tmp_path, name, seed)
        provenance = json.loads((where / "provenance.json").read_text())
        key = ("test/mean (seed ensemble)", "ensemble") if seed == "ensemble" else (name, seed)
        assert provenance["config_hash"] == results[key]["config_hash"]
        assert provenance["ensemble"] == results[key]["ensemble"]
        assert provenance["environment"]["packages"]
        members = [(m["experiment"], m["seed"]) for m in provenance["members"]]
        if seed == "ensemble":
            assert members == [("test/mean", 0), ("test/mean", 1)]
        else:
            assert members == [("test/a", 0), ("test/b", 0), ("test/c", 0)]
