"""``genrebench.testing``, the plugin authors' test kit: isolated loading, registration
checks, runs on tiny generated audio and what they leave."""

from __future__ import annotations

import importlib.metadata
import os

import numpy as np
import pytest

from genrebench import ExperimentSpec, FeatureSpec, Segments, hookimpl, testing
from genrebench.registry import ENV_DISABLE, ENV_ONLY

TINY = ["--dataset-option", "tracks_per_class=5", "--dataset-option", "duration=2.0"]
INSTALLED = {ep.name for ep in importlib.metadata.entry_points(group="genrebench")}


class Fine:
    @hookimpl
    def genrebench_register_experiments(self):
        return [ExperimentSpec("fine/logreg", "reference/mfcc-stats", "reference/logreg")]


class Broken:
    @hookimpl
    def genrebench_register_experiments(self):
        return [ExperimentSpec("broken/typo", "reference/mfcc-stats", "reference/logreg-typo")]


def test_an_extra_plugin_loads_alone_and_the_environment_is_restored(monkeypatch):
    monkeypatch.setenv(ENV_ONLY, "something-else")
    monkeypatch.delenv(ENV_DISABLE, raising=False)
    registry = testing.load_registry(extra=[Fine()])
    assert "fine/logreg" in registry.names("experiments")
    entry_points = [n for n, v in registry.versions.items() if v not in ("builtin", "extra")]
    assert entry_points == [] and registry.versions["Fine"] == "extra"
    assert os.environ[ENV_ONLY] == "something-else" and ENV_DISABLE not in os.environ
    assert testing.check_registrations(registry, "Fine") == {"experiments": ["fine/logreg"]}


@pytest.mark.skipif(not {"schindler2016", "yan2023"} <= INSTALLED, reason="plugins missing")
def test_a_named_entry_point_plugin_loads_without_the_others():
    registry = testing.load_registry("schindler2016")
    assert "schindler2016/shallow" in registry.names("experiments")
    assert not [n for n in registry.names("experiments") if n.startswith("yan2023/")]
    assert "yan2023" not in registry.versions


def test_check_registrations_names_every_problem():
    registry = testing.load_registry(extra=[Broken()])
    with pytest.raises(AssertionError, match="reference/logreg-typo"):
        testing.check_registrations(registry, "Broken")
    with pytest.raises(AssertionError, match="'nobody' is not loaded"):
        testing.check_registrations(registry, "nobody")


def test_a_run_on_tiny_generated_audio_and_what_it_left(tmp_path):
    result = testing.run(
        tmp_path, "reference/logreg", dataset="synthetic-genres", options=TINY, plugins=[]
    )
    assert result.exit_code == 0
    row = result.row("reference/logreg", "synthetic-genres")
    assert 0 <= float(row["accuracy"]) <= 1
    metrics = result.metrics("reference/logreg", "synthetic-genres")
    folder = result.job_folder("reference/logreg", "synthetic-genres")
    assert folder == tmp_path / "out" / "runs" / "reference/logreg" / "synthetic-genres" / (
        "quick/seed-0"
    )
    assert (
        len(result.predictions("reference/logreg", "synthetic-genres"))
        == (metrics["n_test_tracks"])
    )
    assert metrics["seed"] == 0
    provenance = result.provenance("reference/logreg", "synthetic-genres")
    assert provenance["split"]["test"] == metrics["n_test_tracks"]
    with pytest.raises(AssertionError, match="0 rows of reference/mlp"):
        result.row("reference/mlp", "synthetic-genres")


def test_a_suite_runs_and_its_rows_are_read(tmp_path):
    suite = tmp_path / "tiny.toml"
    suite.write_text(
        'name = "tiny"\n[[runs]]\nexperiments = ["reference/logreg"]\n'
        'datasets = ["synthetic-genres"]\nseeds = 1\nprofile = "quick"\n'
        "dataset_options = { tracks_per_class = 5, duration = 2.0 }\n"
    )
    result = testing.run_suite(tmp_path, suite, plugins=[])
    assert result.exit_code == 0
    assert result.row("reference/logreg", "synthetic-genres")["status"] == "ok"
    assert result.job_folder("reference/logreg", "synthetic-genres").is_dir()


def test_segments_are_cut_as_a_job_cuts_them():
    feature = FeatureSpec("t/frames", extract=lambda y, sr: y, sample_rate=10)
    segments = Segments(length_frames=4, hop_frames=2, placement="start")
    assert testing.segment_lengths(segments, feature) == (4, 2)
    x, owner = testing.cut_segments([np.arange(8.0)], ["a"], segments, feature)
    assert x.tolist() == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7]]
    assert owner.tolist() == [0, 0, 0]
