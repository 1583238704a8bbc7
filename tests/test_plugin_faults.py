"""Plugins that misbehave (issue 21, items 6-10): metric columns that clash with the
leaderboard's own, metrics that raise, probabilities that are not probabilities, names of
plugins that are not installed, and temperature scaling of probabilities with exact zeros."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genrebench import MetricSpec, hookimpl
from genrebench.cli import main
from genrebench.errors import PluginError, UnknownNameError
from genrebench.registry.loading import load_plugins
from genrebench.run.stages import check_probabilities


def constant(y, probs, threshold):
    return 0.8


# --------------------------------------------------------------------------- item 6
@pytest.mark.parametrize(
    "column",
    [
        "experiment",
        "status",
        "temperature",
        "train_seconds",
        "n_seeds",
        "ensemble_of",
        "significance",
        "p_vs_best_holm",
        "accuracy_ci_low",
        "top2_ci_high",
        "section",
        "evaluation_set",
    ],
)
def test_a_plugin_metric_filling_a_core_column_stops_loading_naming_plugin_and_column(column):
    class Clash:
        @hookimpl
        def genrebench_register_metrics(self):
            return [MetricSpec(f"clash/{column}", "single-label", constant)]

    with pytest.raises(PluginError) as info:
        load_plugins(extra=[Clash()])
    message = str(info.value)
    assert f"metric 'clash/{column}' of plugin 'Clash'" in message
    assert f"column {column!r}" in message


def test_an_installed_plugin_metric_named_like_a_core_column_exits_2(install_plugin, capsys):
    install_plugin(
        "clashing",
        "from genrebench import MetricSpec, hookimpl\n"
        "@hookimpl\n"
        "def genrebench_register_metrics():\n"
        "    return [MetricSpec('clashing/experiment', 'single-label', lambda y, p, t: 0.8)]\n",
    )
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert "metric 'clashing/experiment' of plugin 'clashing'" in err
    assert "column 'experiment'" in err and "fills 'experiment' itself" in err


COLUMNS_PLUGIN = """
import numpy as np
from genrebench import EnsembleSpec, ExperimentSpec, ModelSpec, Segments, hookimpl

class Flat:
    def __init__(self, setup):
        self.n = len(setup.classes)
    def fit(self, x, y, xv=None, yv=None):
        x = np.asarray(x).reshape(len(x), -1)
        self.c = np.stack([x[y == k].mean(axis=0) for k in range(self.n)])
    def predict_proba(self, x):
        x = np.asarray(x).reshape(len(x), -1)
        d = ((x[:, None] - self.c[None]) ** 2).sum(axis=2)
        p = np.exp(-(d - d.min(axis=1, keepdims=True)) / d.std())
        return p / p.sum(axis=1, keepdims=True)

class Broken:
    def __init__(self, setup): pass
    def fit(self, *args): raise RuntimeError("broken on purpose")

@hookimpl
def genrebench_register_models():
    return [ModelSpec("cols/flat", Flat), ModelSpec("cols/broken", Broken)]

@hookimpl
def genrebench_register_experiments():
    segments = Segments(length_frames=8, train_count=2, test_count=3)
    return [
        ExperimentSpec("cols/segments", "example/logmel", "cols/flat", segments=segments,
                       extra_aggregations=("vote",)),
        ExperimentSpec("cols/broken", "example/band-energies", "cols/broken"),
    ]

@hookimpl
def genrebench_register_ensembles():
    return [EnsembleSpec("cols/pair", ("example/centroid", "cols/segments"))]
"""


def test_every_column_a_leaderboard_writes_is_reserved_or_a_metrics(tmp_path, install_plugin):
    """The reserved set (genrebench.evaluation.columns) covers every column of a leaderboard with
    every kind of row: a column the leaderboard gains without reserving it fails here."""
    from genrebench.aggregation import AGGREGATIONS
    from genrebench.evaluation.columns import CORE_COLUMNS, CORE_SUFFIXES

    install_plugin("cols", COLUMNS_PLUGIN)
    out = tmp_path / "o"
    args = ["run", "example/centroid", "cols/*", "--dataset", "example-tones", "--seeds", "2"]
    options = ["--calibration", "temperature=1.5", "--no-progress", "--no-cache"]
    assert main([*args, *options, "--out", str(out)]) == 1  # cols/broken fails
    written = set(pd.read_csv(out / "leaderboard.csv").columns)
    written |= {key for row in json.loads((out / "leaderboard.json").read_text()) for key in row}
    # The board holds what the check is about.
    assert {"error", "ensemble_of", "temperature", "significance", "p_vs_best_holm"} <= written
    assert {"accuracy_ci_low", "accuracy_raw", "accuracy_vote", "mean_confidence"} <= written
    assert {"ece_calibrated_std", "train_seconds_std", "mean_confidence_calibrated"} <= written
    metrics = {c for spec in load_plugins().specs("metrics") for c in spec.column_names()}
    metrics |= {"accuracy_raw", *(f"accuracy_{a}" for a in AGGREGATIONS)}

    def accounted_for(column: str) -> bool:
        if column in CORE_COLUMNS or column in metrics:
            return True
        return any(
            column.endswith(s) and accounted_for(column.removesuffix(s)) for s in CORE_SUFFIXES
        )

    assert sorted(c for c in written if not accounted_for(c)) == []
    # ... and none of the builtin metrics' columns is reserved.
    assert not metrics & CORE_COLUMNS


# --------------------------------------------------------------------------- item 8
def test_a_value_outside_zero_one_names_the_first_row_its_value_and_the_tolerance():
    probs = np.full((5, 3), 1 / 3)
    probs[3] = [0.5, 0.6, -0.1]
    probs[4] = [np.nan, 0.5, 0.5]
    with pytest.raises(ValueError) as info:
        check_probabilities(probs, 5, 3, "single-label", "m", row_names=lambda r: f"track t{r}")
    message = str(info.value)
    assert "model 'm'" in message and "tolerance 1e-06" in message
    assert "in 2 of 5 rows" in message
    assert "first: row 3 (track t3), class 2: -0.1" in message


def test_a_row_that_does_not_sum_to_one_names_the_first_row_its_sum_and_the_tolerance():
    probs = np.full((4, 2), 0.5)
    probs[2] = [0.9, 0.9]
    with pytest.raises(ValueError) as info:
        check_probabilities(probs, 4, 2, "single-label", "m")
    message = str(info.value)
    assert "do not sum to 1 (tolerance 0.0001) in 1 of 4 rows" in message
    assert "first: row 2 sums to 1.8" in message
    # Multi-label rows need not sum to 1; within the tolerance is fine.
    check_probabilities(probs, 4, 2, "multi-label", "m")
    close = np.full((4, 2), 0.5) + np.array([1e-4, -1e-5])
    check_probabilities(close, 4, 2, "single-label", "m")


def test_a_job_whose_model_returns_bad_rows_fails_naming_the_segments_track(
    tmp_path, install_plugin
):
    install_plugin(
        "badprobs",
        "import numpy as np\n"
        "from genrebench import ExperimentSpec, ModelSpec, hookimpl\n"
        "class Bad:\n"
        "    def fit(self, x, y, xv=None, yv=None): self.n = int(y.max()) + 1\n"
        "    def predict_proba(self, x):\n"
        "        p = np.full((len(x), self.n), 1 / self.n)\n"
        "        p[len(x) // 2] *= 2\n"
        "        return p\n"
        "@hookimpl\n"
        "def genrebench_register_models():\n"
        "    return [ModelSpec('badprobs/model', lambda setup: Bad())]\n"
        "@hookimpl\n"
        "def genrebench_register_experiments():\n"
        "    return [ExperimentSpec('badprobs/exp', 'example/band-energies', 'badprobs/model')]\n",
    )
    args = ["run", "badprobs/exp", "--dataset", "example-tones", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "o"), "--no-cache"]) == 1
    import json

    [metrics] = (tmp_path / "o" / "runs").rglob("metrics.json")
    error = json.loads(metrics.read_text())["error"]
    assert "do not sum to 1 (tolerance 0.0001)" in error
    assert "(a segment of track " in error and "sums to 2.0" in error


# --------------------------------------------------------------------------- item 9
def test_an_unrelated_name_gets_no_suggestion_and_an_unknown_prefix_is_named():
    known = ["johnson2024/dense", "reference/logreg", "example/centroid"]
    error = UnknownNameError("experiment", "chromaknn/knn", known)
    assert error.suggestion is None and "Did you mean" not in str(error)
    assert "No installed plugin provides experiments named chromaknn/..." in str(error)
    assert "known prefixes: example/, johnson2024/, reference/" in str(error)
    typo = UnknownNameError("experiment", "reference/logrgr", known)
    assert typo.suggestion == "reference/logreg" and "No installed plugin" not in str(typo)
    # A typo in the prefix is still suggested, and said to be unknown.
    prefix = UnknownNameError("experiment", "johnson2042/dense", known)
    assert prefix.suggestion == "johnson2024/dense" and "named johnson2042/" in str(prefix)


def test_running_an_experiment_of_an_uninstalled_plugin_says_so(capsys):
    assert main(["run", "chromaknn/knn"]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'chromaknn/knn'" in err and "Did you mean" not in err
    assert "No installed plugin provides experiments named chromaknn/..." in err


# --------------------------------------------------------------------------- item 7
BOOM = (
    "from genrebench import MetricSpec, hookimpl\n"
    "def boom(y, probs, threshold):\n"
    "    raise RuntimeError('boom')\n"
    "@hookimpl\n"
    "def genrebench_register_metrics():\n"
    "    return [MetricSpec('boom/top2', 'single-label', boom)]\n"
)


def test_a_metric_that_raises_costs_no_job_its_predictions_or_other_metrics(
    tmp_path, install_plugin, caplog
):
    install_plugin("boom", BOOM)
    out = tmp_path / "o"
    args = ["run", "example/centroid", "--dataset", "example-tones", "--seeds", "3"]
    options = ["--calibration", "temperature=1.5", "--no-progress", "--no-cache"]
    with caplog.at_level("WARNING"):
        assert main([*args, *options, "--out", str(out)]) == 0
    reason = (
        "metric 'boom/top2' of plugin 'boom' failed (RuntimeError: boom); its leaderboard "
        "cells are left empty"
    )
    # Every job (another plugin's, and the seed ensemble) finished, with its predictions.
    files = sorted((out / "runs").rglob("metrics.json"))
    assert len(files) == 4
    for file in files:
        result = json.loads(file.read_text())
        assert result["status"] == "ok", result.get("error")
        assert (file.parent / "predictions.csv").is_file()
        assert result["metrics"]["top2"] is None and result["metrics"]["top2_calibrated"] is None
        assert result["metrics"]["accuracy"] is not None
        assert result["metrics"]["mean_confidence"] is not None  # the example plugin's
        assert result["metric_errors"] == {"boom/top2": reason}
    # One warning for the whole run.
    warned = [r for r in caplog.records if "metric 'boom/top2'" in r.getMessage()]
    assert len(warned) == 1 and reason in warned[0].getMessage()
    board = pd.read_csv(out / "leaderboard.csv", keep_default_na=False)
    assert set(board["metric_errors"]) == {reason}
    assert (board["accuracy"] != "").all()
    assert "top2" not in board.columns or (board["top2"] == "").all()
    assert reason in (out / "leaderboard.md").read_text()


def test_compute_metrics_records_a_failing_metric_instead_of_raising():
    from genrebench.run.stages import compute_metrics

    y, probs = np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]])
    good = MetricSpec("x/good", "single-label", constant)
    wrong = MetricSpec("x/pair", "single-label", lambda y, p, t: {"a": 1.0}, columns=("b",))
    failures: dict[str, str] = {}
    values = compute_metrics([wrong, good], "single-label", y, probs, 0.5, failures)
    assert values == {"b": None, "good": 0.8}
    assert "returned ['a']; it declares the columns ['b']" in failures["x/pair"]


# --------------------------------------------------------------------------- item 10
def knn_probabilities(k: int, sep: float, seed: int):
    """Vote fractions of a k-nearest-neighbour classifier (exact zeros for classes without
    a neighbour) on 10 Gaussian classes: validation and test probabilities and labels."""
    from sklearn.neighbors import KNeighborsClassifier

    centres = np.random.default_rng(0).normal(size=(10, 8)) * sep

    def draw(n, draw_seed):
        rng = np.random.default_rng(draw_seed)
        y = rng.integers(0, 10, n)
        return centres[y] + rng.normal(size=(n, 8)), y

    (x, y), (xv, yv), (xt, yt) = draw(400, seed), draw(60, seed + 100), draw(300, seed + 200)
    knn = KNeighborsClassifier(k).fit(x, y)
    return knn.predict_proba(xv), yv, knn.predict_proba(xt), yt


@pytest.mark.parametrize(
    ("k", "sep", "seed"), [(3, 0.8, 1), (5, 0.8, 1), (10, 0.8, 1), (5, 1.2, 1), (10, 1.2, 1)]
)
def test_temperature_scaling_of_knn_probabilities_with_zeros_does_not_worsen_ece(k, sep, seed):
    """The issue: T = 10.13 on kNN probabilities, ECE 0.092 -> 0.345 (+0.253).  Clipped at
    1e-15, these cases went +0.07 to +0.21 (T 5 to 15); now within 0.05 of the raw ECE."""
    from genrebench.evaluation.calibration import BUILTIN, calibrate
    from genrebench.evaluation.metrics import ece

    pv, yv, pt, yt = knn_probabilities(k, sep, seed)
    assert (pv == 0).any() and (pv[np.arange(len(yv)), yv] == 0).any()  # zeros, also on truths
    result = calibrate("temperature", {c.name: c for c in BUILTIN}, "single-label", pv, yv, pt)
    assert result.ok, result.reason
    assert ece(yt, result.test_probs) <= ece(yt, pt) + 0.05
    assert result.params["temperature"] < 2.0
    assert result.params["clip"]["floor"] == pytest.approx(pv[pv > 0].min() / 2)


def test_probabilities_without_exact_zeros_are_clipped_at_1e_15_as_before():
    from genrebench.evaluation.calibration import EPS, probability_floor

    softmax_like = np.array([[0.7, 0.2, 0.1], [1e-20, 0.5, 0.5]])
    assert probability_floor(softmax_like, "single-label") == EPS
    votes = np.array([[0.6, 0.4, 0.0], [0.2, 0.8, 0.0]])
    assert probability_floor(votes, "single-label") == 0.1
    # Multi-label: exact ones count too; the floor is half the smallest of p and 1 - p.
    ones = np.array([[1.0, 0.3], [0.9, 0.5]])
    assert probability_floor(ones, "multi-label") == pytest.approx(0.05)
    assert probability_floor(np.array([[0.99, 0.3], [0.9, 0.5]]), "multi-label") == EPS
