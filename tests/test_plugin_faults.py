"""Plugins that misbehave (issue 21, items 6-10): metric columns that clash with the
leaderboard's own, metrics that raise, probabilities that are not probabilities, names of
plugins that are not installed, and temperature scaling of probabilities with exact zeros."""

from __future__ import annotations

import numpy as np
import pytest

from genrebench.cli import main
from genrebench.errors import UnknownNameError
from genrebench.stages import check_probabilities


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
