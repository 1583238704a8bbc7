"""Post-hoc calibrators (genrebench.evaluation.calibration) and the job's calibrate stage:
temperature fitting on synthetic data with a known temperature, agreement with scikit-learn's
temperature scaling, bad inputs, names, and what a run writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, softmax

from genrebench import Calibration, CalibratorSpec, ExperimentSpec, hookimpl
from genrebench.cli import main
from genrebench.errors import ConfigError, UnknownNameError
from genrebench.evaluation import metrics as m
from genrebench.evaluation.calibration import (
    SegmentProbabilities,
    calibrate,
    fit_per_label_temperature,
    fit_segment_temperature,
    fit_shared_temperature,
    resolve,
    tempered,
)
from genrebench.registry.loading import load_plugins
from genrebench.run.runner import Runner, RunOptions, calibrators, plan

EXAMPLE = ["example/centroid", "--dataset", "example-tones", "--no-progress"]
WITH_VALID = ["--split", "stratified", "--split-ratios", "train=0.5,valid=0.25,test=0.25"]


def single_label_draw(n: int, n_classes: int, sharpen: float, seed: int):
    """Labels drawn from softmax(z), and the probabilities of a model that is ``sharpen``
    times too sure: softmax(sharpen * z).  The temperature that undoes it is ``sharpen``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, n_classes)) * 1.5
    y = np.array([rng.choice(n_classes, p=p) for p in softmax(z, axis=1)])
    return softmax(sharpen * z, axis=1), y


def multi_label_draw(n: int, sharpen: np.ndarray, seed: int):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, len(sharpen))) * 2.0
    y = (rng.random(z.shape) < expit(z)).astype(np.int64)
    return expit(np.asarray(sharpen) * z), y


# --------------------------------------------------------------------------- fitting
def test_temperature_recovers_a_known_temperature_single_label():
    probs, y = single_label_draw(6000, 5, sharpen=2.0, seed=0)
    fitted = fit_shared_temperature(probs, y, "single-label")
    assert fitted.params["temperature"] == pytest.approx(2.0, rel=0.05)
    under, y = single_label_draw(6000, 5, sharpen=0.5, seed=1)
    assert fit_shared_temperature(under, y, "single-label").params["temperature"] == pytest.approx(
        0.5, rel=0.05
    )


def test_temperature_recovers_a_known_temperature_multi_label():
    probs, y = multi_label_draw(4000, np.full(6, 1.8), seed=2)
    fitted = fit_shared_temperature(probs, y, "multi-label")
    assert fitted.params["temperature"] == pytest.approx(1.8, rel=0.05)


def test_temperature_per_label_recovers_each_labels_temperature():
    sharpen = np.array([0.5, 1.0, 2.5])
    probs, y = multi_label_draw(6000, sharpen, seed=3)
    fitted = fit_per_label_temperature(probs, y, "multi-label")
    assert fitted.params["temperatures"] == pytest.approx(sharpen.tolist(), rel=0.08)
    assert fitted.params["unfitted_labels"] == []
    calibrated = fitted.transform(probs)
    np.testing.assert_allclose(
        calibrated[:, 2],
        expit(np.log(probs[:, 2] / (1 - probs[:, 2])) / fitted.params["temperatures"][2]),
        atol=1e-12,
    )


def test_temperature_scaling_lowers_ece_of_an_overconfident_model():
    valid, y_valid = single_label_draw(800, 10, sharpen=3.0, seed=4)
    test, y_test = single_label_draw(800, 10, sharpen=3.0, seed=5)
    result = calibrate(
        "temperature",
        {"temperature": _builtin("temperature")},
        "single-label",
        valid,
        y_valid,
        test,
    )
    assert result.ok and result.params["temperature"] > 2.0
    before, after = m.ece(y_test, test), m.ece(y_test, result.test_probs)
    assert after < before / 2
    assert m.nll(y_test, result.test_probs) < m.nll(y_test, test)
    # Temperature scaling never changes the predicted class.
    np.testing.assert_array_equal(result.test_probs.argmax(1), test.argmax(1))


def test_single_label_fit_matches_scikit_learn_temperature_scaling():
    # CalibratedClassifierCV(method="temperature") is new in scikit-learn 1.8; genrebench
    # itself needs only 1.4 (tox -e oldest)
    pytest.importorskip("sklearn", minversion="1.8", reason="scikit-learn's temperature scaling")
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    class GivenProbabilities(ClassifierMixin, BaseEstimator):
        """A 'classifier' whose input rows are already its probabilities."""

        def fit(self, x, y):
            self.classes_ = np.arange(x.shape[1])
            return self

        def predict_proba(self, x):
            return np.asarray(x)

        def predict(self, x):
            return np.asarray(x).argmax(axis=1)

    probs, y = single_label_draw(500, 4, sharpen=1.7, seed=6)
    frozen = FrozenEstimator(GivenProbabilities().fit(probs, y))
    reference = CalibratedClassifierCV(frozen, method="temperature", cv=2).fit(probs, y)
    beta = reference.calibrated_classifiers_[0].calibrators[0].beta_
    ours = fit_shared_temperature(probs, y, "single-label")
    assert ours.params["temperature"] == pytest.approx(1 / beta, rel=1e-6)
    np.testing.assert_allclose(
        ours.transform(probs[:50]), reference.predict_proba(probs[:50]), atol=1e-6
    )


def _builtin(name: str) -> CalibratorSpec:
    return calibrators(load_plugins(autoload=False))[name]


# --------------------------------------------------------------------------- names
def test_fixed_temperature_is_resolved_by_name_and_needs_no_validation_part():
    spec = resolve("temperature=1.5", {})
    assert spec.needs_validation is False
    probs, _ = single_label_draw(20, 3, sharpen=1.0, seed=7)
    result = calibrate("temperature=1.5", {}, "single-label", None, None, probs)
    assert result.ok and result.params == {"temperature": 1.5}
    np.testing.assert_allclose(result.test_probs, softmax(np.log(probs) / 1.5, axis=1))
    np.testing.assert_allclose(result.test_probs, tempered(probs, 1.5, "single-label"))


@pytest.mark.parametrize("name", ["temperature=0", "temperature=-1", "temperature=abc"])
def test_malformed_fixed_temperature_says_what_is_expected(name):
    with pytest.raises(ConfigError, match="positive number"):
        resolve(name, {})


def test_unknown_calibrator_lists_the_known_names_and_the_nearest_one():
    with pytest.raises(UnknownNameError) as info:
        resolve("temprature", calibrators(load_plugins(autoload=False)))
    message = str(info.value)
    assert "Did you mean 'temperature'" in message
    for known in ("none", "temperature-per-label", "temperature=<T>", "segment-temperature=<T>"):
        assert known in message


def test_unknown_calibrator_on_the_command_line_exits_2(tmp_path, capsys):
    assert main(["run", *EXAMPLE, "--out", str(tmp_path), "--calibration", "temperatur"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'temperature'" in err and "Known calibrators" in err
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("probs", "y", "reason"),
    [
        (np.array([[0.7, 0.3]]), np.array([0]), "at least 2 validation tracks"),
        (np.array([[0.7, 0.3], [0.6, 0.4], [0.9, 0.1]]), np.array([0, 0, 0]), "one class"),
        (np.array([[np.nan, 0.5], [0.5, 0.5]]), np.array([0, 1]), "NaN"),
        (np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 1]), "every validation prediction"),
        (np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([0, 1]), "T -> infinity"),
        (None, None, "no validation tracks"),
    ],
)
def test_calibrator_that_cannot_fit_reports_why_and_never_raises(probs, y, reason):
    spec = _builtin("temperature")
    test = np.array([[0.6, 0.4], [0.3, 0.7]])
    registered = {"temperature": spec}
    if probs is None:  # as a job without a validation part sees it
        result = calibrate("temperature", registered, "single-label", None, None, test)
        assert result.status == "skipped" and "no validation part" in result.reason
        with pytest.raises(ValueError, match=reason):
            spec.fit(None, None, "single-label")
        return
    result = calibrate("temperature", registered, "single-label", probs, y, test)
    assert result.status == "failed" and reason in result.reason
    assert result.test_probs is None and result.columns() == {}


def test_a_fit_whose_loss_falls_towards_an_edge_says_which_and_fits_nothing():
    probs, y = np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([0, 1])  # both wrong
    with pytest.raises(ValueError) as raised:
        fit_shared_temperature(probs, y, "single-label")
    assert str(raised.value) == (
        "the validation NLL keeps falling as T -> infinity: no finite temperature fits"
    )


def test_per_label_temperature_keeps_t_1_for_labels_it_cannot_fit():
    probs, y = multi_label_draw(400, np.array([2.0, 2.0]), seed=8)
    y[:, 1] = 0  # no positive for label 1 among the validation tracks
    fitted = fit_per_label_temperature(probs, y, "multi-label")
    assert fitted.params["unfitted_labels"] == [1]
    assert fitted.params["temperatures"][1] == 1.0
    result = calibrate(
        "temperature-per-label",
        {"temperature-per-label": _builtin("temperature-per-label")},
        "single-label",
        probs,
        y[:, 0],
        probs,
    )
    assert result.status == "skipped" and "multi-label" in result.reason


def test_per_label_temperature_that_can_fit_no_label_fails_with_the_first_labels_reason():
    probs, y = multi_label_draw(40, np.array([2.0, 2.0]), seed=8)
    y[:, 0], y[:, 1] = 1, 0  # each label has one outcome only
    with pytest.raises(ValueError, match=r"^no label could be fitted: one outcome only among"):
        fit_per_label_temperature(probs, y, "multi-label")


def test_a_calibrator_object_without_a_level_acts_on_tracks_and_an_unknown_level_fails():
    import types

    def spec(**level):
        return types.SimpleNamespace(
            name="test/same",
            tasks=("single-label",),
            needs_validation=False,
            fit=lambda probs, y, task: Calibration(lambda q: q, {"scale": 1.0}),
            **level,
        )

    test = np.array([[0.6, 0.4], [0.3, 0.7]])
    result = calibrate("test/same", {"test/same": spec()}, "single-label", None, None, test)
    assert (result.status, result.level, result.columns()) == ("ok", "track", {"scale": 1.0})
    assert result.reason == ""  # nothing to explain
    bogus = {"test/same": spec(level="album")}
    result = calibrate("test/same", bogus, "single-label", None, None, test)
    assert (result.status, result.reason) == (
        "failed",
        "calibrator 'test/same' has an unknown level 'album'",
    )


def test_calibrator_returning_bad_probabilities_fails_with_the_reason():
    broken = CalibratorSpec("test/broken", lambda p, y, task: Calibration(lambda q: q * np.nan))
    probs, y = single_label_draw(30, 3, sharpen=1.0, seed=9)
    result = calibrate("test/broken", {"test/broken": broken}, "single-label", probs, y, probs)
    assert result.status == "failed" and "NaN" in result.reason


# --------------------------------------------------------------------------- segment level
#: Two tracks of two segments each, three classes: the network's logits per segment.
SEGMENT_LOGITS = np.array([[4.0, 0.0, 0.0], [0.0, 2.0, 0.0], [1.0, 0.0, 3.0], [0.0, 0.0, 2.0]])
OWNER = np.array([0, 0, 1, 1])


def segments_of(logits: np.ndarray, owner: np.ndarray, aggregation="mean") -> SegmentProbabilities:
    return SegmentProbabilities(
        softmax(logits, axis=1), owner, int(owner.max()) + 1, aggregation, "single-label"
    )


def test_segment_temperature_divides_each_segments_logits_before_the_mean():
    segments = segments_of(SEGMENT_LOGITS, OWNER)
    result = calibrate(
        "segment-temperature=2", {}, "single-label", None, None, segments.tracks(),
        test_segments=segments,
    )  # fmt: skip
    assert result.ok and result.level == "segment" and result.params == {"temperature": 2.0}
    # By hand: softmax(z / 2) of each segment, then the mean of each track's two.
    tempered_segments = softmax(SEGMENT_LOGITS / 2.0, axis=1)
    expected = np.stack([tempered_segments[:2].mean(axis=0), tempered_segments[2:].mean(axis=0)])
    np.testing.assert_allclose(result.test_probs, expected, atol=1e-12)
    np.testing.assert_allclose(  # track 0: (0.7870, 0.1065, 0.1065) and (0.2119, 0.5761, 0.2119)
        result.test_probs[0], [0.49946, 0.34131, 0.15922], atol=1e-5
    )
    # Not the track-level temperature on the mean of the raw segment probabilities.
    track_level = tempered(segments.tracks(), 2.0, "single-label")
    assert np.abs(track_level - result.test_probs).max() > 0.05
    # log p is a logit: the segment probabilities give the network's logits / T exactly.
    np.testing.assert_allclose(
        tempered(segments.probs, 2.0, "single-label"), tempered_segments, atol=1e-12
    )


def test_segment_temperature_fit_minimises_the_validation_tracks_nll():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(40 * 5, 4)) * 3
    owner = np.repeat(np.arange(40), 5)
    y = rng.integers(0, 4, size=40)
    logits[np.arange(200), y[owner]] += 1.5  # better than chance, overconfident
    valid = segments_of(logits, owner)
    fitted = fit_segment_temperature(valid, y, "single-label")
    t = fitted.params["temperature"]

    def track_nll(temperature):  # written out: temper, mean per track, -log p[label]
        p = softmax(logits / temperature, axis=1).reshape(40, 5, 4).mean(axis=1)
        return -np.log(p[np.arange(40), y]).mean()

    grid = np.exp(np.linspace(np.log(0.1), np.log(10), 4001))
    best = grid[np.argmin([track_nll(g) for g in grid])]
    assert t == pytest.approx(best, rel=2e-3) and t > 1.2  # it softens
    assert track_nll(t) <= min(track_nll(t * 0.99), track_nll(t * 1.01))
    np.testing.assert_allclose(fitted.transform(valid), valid.tracks(softmax(logits / t, 1)))


def test_one_segment_per_track_makes_both_levels_the_same():
    probs, y = single_label_draw(300, 4, sharpen=2.0, seed=11)
    one_each = SegmentProbabilities(probs, np.arange(300), 300, "mean", "single-label")
    segment_t = fit_segment_temperature(one_each, y, "single-label").params["temperature"]
    track_t = fit_shared_temperature(probs, y, "single-label").params["temperature"]
    assert segment_t == pytest.approx(track_t, rel=1e-5)


def test_every_output_names_the_level():
    segments = segments_of(SEGMENT_LOGITS, OWNER)
    y = np.array([1, 2, 1])  # tracks 0 and 2 are wrong, so a finite T fits
    valid = segments_of(np.vstack([SEGMENT_LOGITS, [[2.0, 1.0, 0.0]]]), np.array([0, 0, 1, 1, 2]))
    seg = calibrate(
        "segment-temperature",
        {"segment-temperature": _builtin("segment-temperature")},
        "single-label",
        valid.tracks(),
        y,
        segments.tracks(),
        valid_segments=valid,
        test_segments=segments,
    )
    assert seg.ok, seg.reason
    assert seg.report()["level"] == "segment" and seg.report()["calibrator"] == (
        "segment-temperature"
    )
    assert list(seg.columns()) == ["segment_temperature"]
    track = calibrate("temperature=1.5", {}, "single-label", None, None, segments.tracks())
    assert track.report()["level"] == "track" and track.columns() == {"temperature": 1.5}
    assert _builtin("segment-temperature").level == "segment"
    assert resolve("segment-temperature=1.25", {}).level == "segment"
    assert resolve("temperature=1.25", {}).level == "track"


def test_segment_level_calibration_without_segments_is_skipped_saying_why():
    probs, y = single_label_draw(30, 3, sharpen=1.0, seed=9)
    result = calibrate("segment-temperature=1.5", {}, "single-label", probs, y, probs)
    assert result.status == "skipped" and "segment probabilities" in result.reason
    assert result.report()["level"] == "segment"
    assert "level" not in calibrate("none", {}, "single-label", probs, y, probs).report()


@pytest.mark.parametrize("name", ["segment-temperature=0", "segment-temperature=x"])
def test_malformed_fixed_segment_temperature_says_what_is_expected(name):
    with pytest.raises(ConfigError, match="segment-temperature=<T> needs a positive number"):
        resolve(name, {})


# --------------------------------------------------------------------------- in a run
def run_dirs(out: Path) -> list[Path]:
    return sorted(p.parent for p in (out / "runs").rglob("metrics.json"))


class NoisyPlugin:
    """A nearest-centroid model with seeded noise on its logits, so that it makes mistakes
    on the tones (temperature scaling needs some), and an experiment using it."""

    class Model:
        def __init__(self, setup):
            self.n_classes, self.seed = len(setup.classes), setup.seed

        def fit(self, x, y, x_valid=None, y_valid=None):
            self.centroids = np.stack([x[y == k].mean(axis=0) for k in range(self.n_classes)])

        def predict_proba(self, x):
            d = np.sqrt(((x[:, None, :] - self.centroids[None]) ** 2).sum(axis=2))
            noise = np.random.default_rng(self.seed + len(x)).normal(size=d.shape)
            return softmax(-d / d.mean() * 3 + 2 * noise, axis=1)

    @hookimpl
    def genrebench_register_models(self):
        from genrebench import ModelSpec

        return [ModelSpec("test/noisy-centroid", self.Model)]

    @hookimpl
    def genrebench_register_experiments(self):
        return [ExperimentSpec("test/noisy", "example/band-energies", "test/noisy-centroid")]


def run_noisy(out: Path, extra=(), **options) -> list[dict]:
    from genrebench.reporting import leaderboard

    registry = load_plugins(extra=[NoisyPlugin(), *extra])
    options = RunOptions(
        experiments=["test/noisy"],
        datasets=["example-tones"],
        dataset_options={"per_class": 12},
        out=out,
        split="stratified",
        split_ratios={"train": 0.34, "valid": 0.33, "test": 0.33},
        **options,
    )
    jobs, _ = plan(registry, options)
    results = Runner(registry, options).run(jobs)
    leaderboard.write(leaderboard.build(leaderboard.find_results([out / "runs"])), out)
    return results


def test_run_writes_calibrated_predictions_that_recompute_the_calibrated_metrics(tmp_path):
    [result] = run_noisy(tmp_path)
    folder = run_dirs(tmp_path)[0]
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert saved["calibration"]["status"] == "ok", saved["calibration"]
    assert saved["calibration"]["calibrator"] == "temperature"
    assert saved["calibration"]["n_valid_tracks"] == saved["n_valid_tracks"] == 12
    classes = saved["classes"]
    calibrated = pd.read_csv(folder / "predictions_calibrated.csv")
    raw = pd.read_csv(folder / "predictions.csv")
    assert list(calibrated.columns) == list(raw.columns)
    assert list(calibrated["track_id"]) == list(raw["track_id"])
    probs = calibrated[[f"p_{c}" for c in classes]].to_numpy()
    y = calibrated["label"].map(classes.index).to_numpy()
    metrics = saved["metrics"]
    assert metrics["ece_calibrated"] == pytest.approx(m.ece(y, probs), abs=1e-6)
    assert metrics["nll_calibrated"] == pytest.approx(m.nll(y, probs), abs=1e-6)
    assert metrics["brier_calibrated"] == pytest.approx(m.brier(y, probs), abs=1e-6)
    # The calibrated file is the raw one tempered by the reported temperature, which is the
    # one fitted on the saved validation predictions.
    t = metrics["temperature"]
    raw_probs = raw[[f"p_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(probs, tempered(raw_probs, t, "single-label"), atol=1e-6)
    valid = pd.read_csv(folder / "valid_predictions.csv")
    refit = fit_shared_temperature(
        valid[[f"p_{c}" for c in classes]].to_numpy(),
        valid["label"].map(classes.index).to_numpy(),
        "single-label",
    )
    assert refit.params["temperature"] == pytest.approx(t, rel=1e-5)
    curves = json.loads((folder / "reliability.json").read_text())
    assert curves["calibration"]["status"] == "ok"
    assert curves["raw"]["15"]["top_label"]["ece"] == pytest.approx(metrics["ece"], abs=1e-9)
    assert curves["calibrated"]["15"]["top_label"]["ece"] == pytest.approx(
        metrics["ece_calibrated"], abs=1e-9
    )
    assert curves["calibrated"]["15"]["top_label"]["mce"] == pytest.approx(
        metrics["mce_calibrated"], abs=1e-9
    )
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    for column in ("ece", "ece_calibrated", "temperature", "nll_calibrated", "brier_calibrated"):
        assert np.isfinite(board.loc[0, column]), column
    markdown = (tmp_path / "leaderboard.md").read_text()
    assert "| ece | ece_calibrated | T |" in markdown


class SegmentedNoisyPlugin(NoisyPlugin):
    """The noisy model on log-mel segments (flattened), calibrated per segment."""

    class FlatModel(NoisyPlugin.Model):
        def fit(self, x, y, x_valid=None, y_valid=None):
            super().fit(np.asarray(x).reshape(len(x), -1), y)

        def predict_proba(self, x):
            return super().predict_proba(np.asarray(x).reshape(len(x), -1))

    @hookimpl
    def genrebench_register_models(self):
        from genrebench import ModelSpec

        return [ModelSpec("test/noisy-flat", self.FlatModel)]

    @hookimpl
    def genrebench_register_experiments(self):
        from genrebench import Segments

        return [
            ExperimentSpec(
                "test/noisy",
                "example/logmel",
                "test/noisy-flat",
                segments=Segments(length_frames=8, hop_frames=8, train_count=None, test_count=None),
                calibration="segment-temperature",
            )
        ]


def test_segment_level_calibration_in_a_run_is_recomputable_from_the_saved_segments(tmp_path):
    from genrebench.reporting import leaderboard

    registry = load_plugins(extra=[SegmentedNoisyPlugin()])
    options = RunOptions(
        experiments=["test/noisy"],
        datasets=["example-tones"],
        dataset_options={"per_class": 12},
        out=tmp_path,
        split="stratified",
        split_ratios={"train": 0.34, "valid": 0.33, "test": 0.33},
    )
    jobs, _ = plan(registry, options)
    [result] = Runner(registry, options).run(jobs)
    assert result["calibration"]["status"] == "ok", result["calibration"]
    assert result["calibration"]["level"] == "segment"
    metrics = result["metrics"]
    t = metrics["segment_temperature"]
    assert "temperature" not in metrics
    folder = run_dirs(tmp_path)[0]
    classes = result["classes"]

    def read(name):
        frame = pd.read_csv(folder / name)
        ids = frame["track_id"].tolist()
        return (
            ids,
            frame["label"].map(classes.index).to_numpy(),
            frame[[f"p_{c}" for c in classes]].to_numpy(),
        )

    seg_ids, _, seg_probs = read("segment_predictions.csv")
    test_ids, _, _ = read("predictions.csv")
    owner = np.array([test_ids.index(i) for i in seg_ids])
    _, _, calibrated = read("predictions_calibrated.csv")
    test = SegmentProbabilities(seg_probs, owner, len(test_ids), "mean", "single-label")
    np.testing.assert_allclose(calibrated, test.tracks(tempered(seg_probs, t, "single-label")))
    # The fit is reproduced from the saved validation segments, which also give the
    # validation accuracies.
    v_seg_ids, v_seg_y, v_seg_probs = read("valid_segment_predictions.csv")
    valid_ids, valid_y, valid_probs = read("valid_predictions.csv")
    v_owner = np.array([valid_ids.index(i) for i in v_seg_ids])
    valid = SegmentProbabilities(v_seg_probs, v_owner, len(valid_ids), "mean", "single-label")
    refit = fit_segment_temperature(valid, valid_y, "single-label").params["temperature"]
    assert refit == pytest.approx(t, rel=1e-5)
    assert metrics["valid_accuracy"] == pytest.approx(np.mean(valid_probs.argmax(1) == valid_y))
    assert metrics["valid_accuracy_raw"] == pytest.approx(np.mean(v_seg_probs.argmax(1) == v_seg_y))
    leaderboard.write(leaderboard.build(leaderboard.find_results([tmp_path / "runs"])), tmp_path)
    assert "| T (segment) |" in (tmp_path / "leaderboard.md").read_text()
    curves = json.loads((folder / "reliability.json").read_text())
    assert curves["calibration"]["level"] == "segment"


def test_job_without_validation_part_leaves_calibrated_columns_empty_and_says_why(tmp_path):
    args = [*EXAMPLE, "--split", "stratified", "--split-ratios", "train=0.75,test=0.25"]
    assert main(["run", *args, "--out", str(tmp_path)]) == 0
    folder = run_dirs(tmp_path)[0]
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["calibration"]["status"] == "skipped"
    assert "no validation part" in saved["calibration"]["reason"]
    assert not any(k.endswith("_calibrated") for k in saved["metrics"])
    assert not (folder / "predictions_calibrated.csv").exists()
    curves = json.loads((folder / "reliability.json").read_text())
    assert curves["calibrated"] is None and curves["calibration"]["status"] == "skipped"
    assert curves["raw"]["10"]["top_label"]["ece"] is not None
    # A fixed temperature needs no validation part.
    assert main(["run", *args, "--out", str(tmp_path), "--calibration", "temperature=1.5"]) == 0
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["calibration"]["status"] == "ok"
    assert saved["metrics"]["temperature"] == 1.5
    assert (folder / "predictions_calibrated.csv").exists()


def test_calibration_none_turns_it_off_and_is_part_of_the_resume_key(tmp_path, capsys):
    fixed = ["--calibration", "temperature=2"]
    assert main(["run", *EXAMPLE, *WITH_VALID, "--out", str(tmp_path), *fixed]) == 0
    folder = run_dirs(tmp_path)[0]
    assert (folder / "predictions_calibrated.csv").exists()
    capsys.readouterr()
    assert (
        main(["run", *EXAMPLE, *WITH_VALID, "--out", str(tmp_path), "--calibration", "none"]) == 0
    )
    assert "reused" not in capsys.readouterr().err
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["calibration"] == {
        "calibrator": "none",
        "status": "skipped",
        "reason": "calibration is 'none'",
    }
    assert "ece_calibrated" not in saved["metrics"]
    assert not (folder / "predictions_calibrated.csv").exists()


class RaisingCalibratorPlugin:
    """A calibrator that always raises, and the example experiment using it."""

    @staticmethod
    def fit(probs, y, task):
        raise RuntimeError("this calibrator always fails")

    @hookimpl
    def genrebench_register_calibrators(self):
        return [CalibratorSpec("test/raising", self.fit)]


def test_calibrator_that_raises_does_not_fail_the_job(tmp_path):
    registry = load_plugins(extra=[RaisingCalibratorPlugin()])
    options = RunOptions(
        experiments=["example/centroid"],
        datasets=["example-tones"],
        out=tmp_path,
        split="stratified",
        split_ratios={"train": 0.5, "valid": 0.25, "test": 0.25},
        calibration="test/raising",
    )
    jobs, _ = plan(registry, options)
    [result] = Runner(registry, options).run(jobs)
    assert result["status"] == "ok"
    assert result["calibration"]["status"] == "failed"
    assert "this calibrator always fails" in result["calibration"]["reason"]
    assert "accuracy" in result["metrics"] and "ece_calibrated" not in result["metrics"]


class HoldoutPlugin:
    """An experiment with a calibration holdout, and a model (the noisy centroid) that
    records whether it was shown validation data."""

    seen: ClassVar[list] = []

    class Model(NoisyPlugin.Model):
        def fit(self, x, y, x_valid=None, y_valid=None):
            HoldoutPlugin.seen.append(x_valid)
            super().fit(x, y)

    @hookimpl
    def genrebench_register_models(self):
        from genrebench import ModelSpec

        return [ModelSpec("test/recording", self.Model)]

    @hookimpl
    def genrebench_register_experiments(self):
        return [
            ExperimentSpec(
                "test/holdout",
                "example/band-energies",
                "test/recording",
                profiles={"quick": {"calibration_holdout": 0.25}},
            )
        ]


def test_calibration_holdout_gives_a_split_without_validation_one_the_model_never_sees(tmp_path):
    registry = load_plugins(extra=[HoldoutPlugin()])
    options = RunOptions(
        experiments=["test/holdout"],
        datasets=["example-tones"],
        dataset_options={"per_class": 12},
        out=tmp_path,
        split="stratified",
        split_ratios={"train": 0.75, "test": 0.25},
        calibration="temperature",
    )
    HoldoutPlugin.seen.clear()
    jobs, _ = plan(registry, options)
    [result] = Runner(registry, options).run(jobs)
    assert HoldoutPlugin.seen == [None]
    # 36 tones: 9 training tracks per class, a quarter of those (2) held out.
    assert (result["n_train_tracks"], result["n_valid_tracks"], result["n_test_tracks"]) == (
        21,
        6,
        9,
    )
    provenance = json.loads((run_dirs(tmp_path)[0] / "provenance.json").read_text())
    assert provenance["split"]["holdout_valid"] is True
    assert result["calibration"]["n_valid_tracks"] == 6
    valid = pd.read_csv(run_dirs(tmp_path)[0] / "valid_predictions.csv")
    test = pd.read_csv(run_dirs(tmp_path)[0] / "predictions.csv")
    assert not set(valid["track_id"]) & set(test["track_id"])
    assert sorted(valid["label"]) == ["high", "high", "low", "low", "mid", "mid"]


def test_docs_calibrator_example_runs_as_written(tmp_path):
    import types

    page = Path(__file__).parents[1] / "docs" / "plugins" / "writing.md"
    block = page.read_text().split("A calibrator in one file", 1)[1].split("```python\n", 1)[1]
    code = "\n".join(line.removeprefix("  ") for line in block.split("```", 1)[0].splitlines())
    module = types.ModuleType("genrebench_tiny_calibrator")
    exec(compile(code, str(page), "exec"), module.__dict__)
    [result] = run_noisy(tmp_path, calibration="tiny/shrinkage", extra=[module])
    assert result["calibration"]["status"] == "ok", result["calibration"]
    assert 0 <= result["metrics"]["shrinkage"] < 1
    assert "ece_calibrated" in result["metrics"]
