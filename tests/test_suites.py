"""Benchmark suites: parsing, errors with file and line, the shipped suites, discovery
through the hook, and ``genrebench run --suite`` end to end on the example plugin."""

from __future__ import annotations

import json
import os
import types
from pathlib import Path

import pandas as pd
import pytest

from genrebench import hookimpl
from genrebench.cli import main
from genrebench.registry.loading import load_plugins
from genrebench.run import suites

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SUITE = """\
# a suite over the example plugin
name = "example"
description = "the example plugin on its tones"

[[runs]]
experiments = ["example/*"]
datasets = ["example-tones"]
seeds = 2
"""


def write(tmp_path: Path, text: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            'name = "x"\ndescripton = "y"\n[[runs]]\nexperiments = ["a"]\n',
            2,
            "did you mean 'description'",
        ),
        ('name = "x"\n\n[[runs]]\nexperiments = ["a"]\nseed = 2\n', 5, "did you mean 'seeds'"),
        (
            'name = "x"\n[[runs]]\nexperiments = ["a"]\n[[runs]]\nexperiments = ["b"]\n'
            'profle = "q"\n',
            6,
            "'profile'",
        ),
        ('name = "x"\n[[runs]]\nexperiments = ["a"]\nseeds = "two"\n', 4, "expected a int"),
        (
            'name = "x"\n[[runs]]\nexperiments = ["a"]\nseeds = 0\n',
            4,
            "expected a whole number >= 1",
        ),
        (
            'name = "x"\n[[runs]]\nexperiments = ["a"]\n'
            "split_ratios = { train = 0.7, tset = 0.3 }\n",
            4,
            "did you mean 'test'",
        ),
        ('name = "x"\n[[runs]]\nexperiments = ["a",\n', 3, "invalid TOML"),
        ('name = "x"\n[[runs]]\nexperiments = ["a"]\nseeds = = 2\n', 4, "invalid TOML"),
        (
            'name = "x"\n[[runs]]\nexperiments = [1]\n',
            3,
            "[[runs]] #1: experiments: expected a list of names, got [1]",
        ),
        (
            'name = "x"\n[[runs]]\nexperiments = ["a"]\nsplit_seed = -1\n',
            4,
            "[[runs]] #1: split_seed: expected a whole number >= 0, got -1",
        ),
        (
            'name = "x"\n[[runs]]\nexperiments = ["a"]\n\n'
            "split_ratios = { train = 0.7, test = -0.1 }\n",
            5,
            "[[runs]] #1: split_ratios: expected a share >= 0 for 'test', got -0.1",
        ),
        ('name = "x"\n[[runs]]\ndatasets = ["a"]\n', 2, "has no 'experiments'"),
        ('description = "x"\n[[runs]]\nexperiments = ["a"]\n', 1, "has no 'name'"),
    ],
)
def test_malformed_suite_files_are_rejected_with_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(suites.SuiteError) as info:
        suites.load(path)
    assert str(info.value).startswith(f"{path}:{line}:"), str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("replace", "by", "line", "message"),
    [
        (
            '"example/*"',
            '"example/centroid", "exampel/centroid"',
            6,
            "did you mean 'example/centroid'",
        ),
        ('"example/*"', '"nothing/*"', 6, "glob matches no experiment"),
        ('"example-tones"', '"example-tone"', 7, "did you mean 'example-tones'"),
        ("seeds = 2", 'seeds = 2\nprofile = "papr"', 9, "did you mean 'paper'"),
        ("seeds = 2", 'seeds = 2\ncalibration = "temprature"', 9, "Did you mean 'temperature'"),
    ],
)
def test_unknown_names_are_rejected_before_any_work(tmp_path, replace, by, line, message, capsys):
    path = write(tmp_path, EXAMPLE_SUITE.replace(replace, by))
    out = tmp_path / "runs"
    assert main(["run", "--suite", str(path), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}:" in err and message in err, err
    assert not out.exists()


def test_a_data_root_placeholder_needs_data_root(tmp_path, capsys):
    text = EXAMPLE_SUITE + 'data_root = "{data_root}/tones"\n'
    path = write(tmp_path, text)
    assert main(["run", "--suite", str(path), "--out", str(tmp_path / "r")]) == 2
    assert f"{path}:9:" in capsys.readouterr().err
    [options] = suites.run_options(suites.load(path), load_plugins(), Path("/data"))
    assert options.data_root == Path("/data/tones")


def test_options_a_suite_fixes_are_refused_on_the_command_line(tmp_path, capsys):
    path = write(tmp_path, EXAMPLE_SUITE)
    assert main(["run", "--suite", str(path), "--seeds", "3", "--out", str(tmp_path)]) == 2
    assert "fixes --seeds" in capsys.readouterr().err


def test_two_runs_of_one_experiment_on_one_data_set_and_profile_are_refused(tmp_path):
    path = write(
        tmp_path,
        EXAMPLE_SUITE
        + '\n[[runs]]\nexperiments = ["example/centroid"]\ndatasets = ["example-tones"]\n',
    )
    with pytest.raises(suites.SuiteError, match="again"):
        suites.check(suites.load(path), load_plugins())


def test_run_suite_writes_the_leaderboard_with_intervals_beside_the_suite_file(
    tmp_path, monkeypatch
):
    path = write(tmp_path, EXAMPLE_SUITE)
    board_dir = tmp_path / "board"
    args = ["run", "--suite", str(path), "--out", str(tmp_path / "runs"), "--no-progress"]
    assert main([*args, "--leaderboard-out", str(board_dir)]) == 0
    assert (board_dir / "suite.toml").read_text() == EXAMPLE_SUITE
    board = pd.read_csv(board_dir / "leaderboard.csv").set_index("experiment")
    # The suite's experiment and the seed ensemble of its two seeds, saved in another folder.
    assert sorted(board.index) == ["example/centroid", "example/centroid (seed ensemble)"]
    row = board.loc["example/centroid"]
    assert row["n_seeds"] == 2
    assert row["accuracy_ci_low"] <= row["accuracy"] <= row["accuracy_ci_high"]
    # One experiment and its own seed ensemble: nothing to rank (a seed ensemble is no
    # experiment of its own), and each row says why.
    assert board["significance"].isna().all()
    assert row["ranking_note"] == "not ranked: no other row on these test tracks"
    assert board.loc["example/centroid (seed ensemble)", "ranking_note"].startswith(
        "seed ensembles are not ranked"
    )
    markdown = (board_dir / "leaderboard.md").read_text()
    assert "example/centroid" in markdown and " [" in markdown
    # A stale job of another experiment in the same runs folder is not on the suite's board.
    stale = tmp_path / "runs" / "runs" / "other" / "example-tones" / "quick" / "seed-0"
    stale.mkdir(parents=True)
    (stale / "metrics.json").write_text(
        json.dumps(
            {
                "experiment": "other",
                "dataset": "example-tones",
                "profile": "quick",
                "seed": 0,
                "status": "failed",
                "error": "x",
            }
        )
    )
    assert main([*args, "--leaderboard-out", str(board_dir)]) == 0
    assert "other" not in set(pd.read_csv(board_dir / "leaderboard.csv")["experiment"])
    # The suite copy, the leaderboard and the report are one set: a full disk while the
    # report is written leaves every one of them as it was.
    names = ["suite.toml", "leaderboard.md", "leaderboard.csv", "leaderboard.json"]
    names += ["report.html", "report.png"]
    for name in names:
        (board_dir / name).write_text(f"old {name}")
    from genrebench.reporting import report

    def full_disk(out, *args, **kwargs):
        out.write_text("<html>half a rep")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write", full_disk)
    try:  # (how the command reports a full disk is another matter: it must not succeed)
        status = main([*args, "--leaderboard-out", str(board_dir)])
    except OSError:
        status = None
    assert status != 0
    assert {n: (board_dir / n).read_text() for n in names} == {n: f"old {n}" for n in names}
    assert sorted(p.name for p in board_dir.iterdir()) == sorted(names)  # no temporary file


def test_plugins_ship_suites_through_the_hook(tmp_path, capsys):
    path = write(tmp_path, EXAMPLE_SUITE)
    plugin = types.ModuleType("suite_plugin")

    @hookimpl
    def genrebench_register_suites():
        return [path]

    plugin.genrebench_register_suites = genrebench_register_suites
    registry = load_plugins(extra=[plugin])
    found, broken = suites.known(registry)
    assert found["example"].path == path and found["example"].plugin == "suite_plugin"
    assert suites.resolve(registry, "example").name == "example"
    assert not broken
    clash = write(tmp_path, EXAMPLE_SUITE.replace("a suite", "another suite"), "other.toml")
    plugin.genrebench_register_suites = hookimpl(lambda: [path, clash])
    with pytest.raises(Exception, match="defined twice"):
        suites.known(load_plugins(extra=[plugin]))


def test_suites_command_lists_the_core_suites(capsys):
    assert main(["suites", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    names = {s["name"] for s in listing["suites"]}
    assert {"main", "full", "gtzan", "mtg-jamendo", "fma-small"} <= names
    assert not listing["broken"]


@pytest.mark.parametrize(
    "folder", sorted((ROOT / "leaderboards").glob("*/suite.toml")), ids=lambda p: p.parent.name
)
def test_shipped_suites_parse_and_name_registered_things(folder, monkeypatch):
    # gtzan-mini reads its data root from the environment: any folder checks the names.
    monkeypatch.setenv("GENREBENCH_SHARED_DATA", os.environ.get("GENREBENCH_SHARED_DATA", "/data"))
    suite = suites.load(folder)
    assert suite.name == folder.parent.name
    assert suite.description
    registry = load_plugins()
    missing = [p for run in suite.runs for p in run.experiments if not suites.expand(registry, p)]
    if missing:
        pytest.skip(f"plugins not installed for {', '.join(missing)}")
    suites.check(suite, registry, data_root=Path("/data"))


def test_the_gtzan_suite_compares_every_paper_on_one_split_and_reproduces_each_on_its_own():
    suite = suites.load(ROOT / "leaderboards" / "gtzan" / "suite.toml")
    benchmark = [r for r in suite.runs if r.protocol == "benchmark"]
    assert len(benchmark) == 1 and benchmark[0].split == "fault-filtered"
    assert {"schindler2016/*", "yan2023/*", "pocelli2024/*"} <= set(benchmark[0].experiments)
    paper = {tuple(r.experiments): r.split for r in suite.runs if r.protocol == "paper"}
    # yan2023 is reproduced on its authors' split list; one paper run per paper.
    assert paper == {
        ("schindler2016/*",): None,
        ("yan2023/*",): "yan2023-authors",
        ("pocelli2024/*",): None,
    }


def test_the_main_suite_runs_a_headline_experiment_of_every_installed_plugin():
    # The README's main job must grow with the plugins: a paper plugin of this repository
    # that is installed but has no experiment in the main suite is missing from the
    # headline leaderboard.
    suite = suites.load(ROOT / "leaderboards" / "main" / "suite.toml")
    registry = load_plugins()
    in_main = {
        name for run in suite.runs for p in run.experiments for name in suites.expand(registry, p)
    }
    papers = {p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists()}
    # The integrations are no paper reproductions: hear's rows are in the `full` suite.
    papers -= {"hear", "mlflow"}
    owners = {registry.plugin_of("experiments", n) for n in registry.names("experiments")}
    owners &= papers | {"genrebench.builtin.reference"}
    covered = {registry.plugin_of("experiments", n) for n in in_main}
    assert owners - covered == set()


@pytest.mark.parametrize("name", ["../../escaped", "a/b", "", ".", "..", "a\\\\b", "-x", "a b"])
def test_a_suite_name_that_is_not_a_plain_name_is_refused(tmp_path, monkeypatch, name, capsys):
    path = write(tmp_path, EXAMPLE_SUITE.replace('name = "example"', f'name = "{name}"'))
    with pytest.raises(suites.SuiteError, match="is not a suite name") as info:
        suites.load(path)
    assert str(info.value).startswith(f"{path}:2:")
    work = tmp_path / "deep" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    assert main(["run", "--suite", str(path), "--no-progress"]) == 2
    assert "is not a suite name" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "suite.toml"]
    assert list(work.iterdir()) == []


def test_protocol_and_folds_keys_of_a_run(tmp_path):
    text = EXAMPLE_SUITE + 'protocol = "paper"\nsplit = "kfold"\nfolds = 4\n'
    suite = suites.load(write(tmp_path, text))
    [run] = suite.runs
    assert (run.protocol, run.split, run.folds) == ("paper", "kfold", 4)
    [options] = suites.run_options(suite, load_plugins(), None)
    assert (options.protocol, options.split, options.folds) == ("paper", "kfold", 4)
    assert suites.describe(suite) == [
        "example/* on example-tones: quick, seeds 0..1, paper protocol, split kfold (4 folds)"
    ]
    default = suites.load(write(tmp_path, EXAMPLE_SUITE, "default.toml"))
    assert default.runs[0].protocol == "benchmark"
    assert suites.describe(default) == [
        "example/* on example-tones: quick, seeds 0..1, benchmark protocol, the data set's "
        "default split"
    ]


def test_a_key_is_looked_up_in_its_own_runs_section():
    lines = suites._Lines(
        'name = "x"\n[[runs]]\nexperiments = ["a"]\n[[runs]]\nexperiments = ["b"]\nseeds = 2\n'
    )
    assert lines.run(1)("experiments") == 3 and lines.run(2)("experiments") == 5
    assert lines.run(1)("seeds") == 2  # not in run #1: its [[runs]] header
    assert lines.run(2)("seeds") == 6


def test_globs_leave_out_experiments_that_need_weights_and_exact_names_keep_them():
    class Registry:
        def names(self, kind):
            return {"experiments": ["p/a", "p/b", "q/c"], "ensembles": ["p/mean"]}[kind]

        def get(self, kind, name):
            return types.SimpleNamespace(requires_weights="b.pt" if name == "p/b" else "")

    assert suites.expand(Registry(), "p/*") == ["p/a", "p/mean"]
    assert suites.expand(Registry(), "p/b") == ["p/b"]
    assert suites.expand(Registry(), "p/x") == []


def test_run_options_and_describe_carry_every_key_of_each_run(tmp_path, monkeypatch):
    monkeypatch.setenv("GB_TEST_ROOT", str(tmp_path / "env"))
    text = EXAMPLE_SUITE + (
        'profile = "full"\nseed_start = 3\nsplit = "stratified"\nsplit_seed = 7\n'
        "split_ratios = { train = 0.6, valid = 0.2, test = 0.2 }\n"
        'dataset_options = { tracks_per_class = 4 }\ncalibration = "temperature"\n'
        'data_root = "{data_root}/x"\n'
        '\n[[runs]]\nexperiments = ["example/centroid"]\nprotocol = "paper"\n'
        'data_root = "{env:GB_TEST_ROOT}/y"\n'
    )
    suite = suites.load(write(tmp_path, text))
    first, second = suites.run_options(suite, load_plugins(), tmp_path / "root", jobs=2)
    assert (first.experiments, first.datasets, first.profile) == (
        ["example/*"],
        ("example-tones",),
        "full",
    )
    assert (first.seeds, first.seed_start, first.split, first.split_seed) == (2, 3, "stratified", 7)
    assert first.split_ratios == {"train": 0.6, "valid": 0.2, "test": 0.2}
    assert first.dataset_options == {"tracks_per_class": 4}
    assert (first.calibration, first.protocol, first.jobs) == ("temperature", "benchmark", 2)
    assert first.data_root == tmp_path / "root" / "x"
    assert (second.calibration, second.protocol, second.split, second.jobs) == (
        None,
        "paper",
        None,
        2,
    )
    assert second.data_root == tmp_path / "env" / "y"
    assert suites.describe(suite) == [
        "example/* on example-tones: full, seeds 3..4, benchmark protocol, split stratified",
        "example/centroid on embedded data sets: quick, seeds 0..0, paper protocol, each "
        "experiment's own split",
    ]


@pytest.mark.parametrize(
    ("extra", "line", "message"),
    [
        ('protocol = "papr"', 9, "unknown protocol 'papr' (did you mean 'paper'?)"),
        ("folds = 5", 9, "folds applies to split = 'kfold' only"),
        ('split = "kfold"\nfolds = 2', 10, "expected a whole number >= 3"),
    ],
)
def test_bad_protocol_and_folds_keys_are_refused_with_the_line(tmp_path, extra, line, message):
    path = write(tmp_path, EXAMPLE_SUITE + extra + "\n")
    with pytest.raises(suites.SuiteError) as info:
        suites.load(path)
    assert str(info.value).startswith(f"{path}:{line}:") and message in str(info.value)


def test_an_ensemble_member_run_again_by_another_run_is_refused():
    # Run #2's reference/ensemble runs its member reference/logreg with another split than
    # run #1's reference/logreg: both would write reference/logreg's folder.
    text = (
        'name = "clash"\n[[runs]]\nexperiments = ["reference/logreg"]\n'
        'datasets = ["synthetic-genres"]\n'
        '[[runs]]\nexperiments = ["reference/ensemble"]\ndatasets = ["synthetic-genres"]\n'
        'split = "stratified"\n'
    )
    suite = suites.parse(text, Path("clash.toml"))
    with pytest.raises(suites.SuiteError) as info:
        suites.check(suite, load_plugins())
    message = str(info.value)
    assert message.startswith("clash.toml:5: [[runs]] #2 runs reference/logreg (a member of ")
    assert "ensemble reference/ensemble) on synthetic-genres" in message and "run #1" in message
    # Under another protocol the results go to another folder: allowed.
    suites.check(suites.parse(text + 'protocol = "paper"\n', Path("ok.toml")), load_plugins())


def test_run_suite_with_out_writes_the_leaderboard_there(tmp_path, monkeypatch):
    path = write(tmp_path, EXAMPLE_SUITE)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    out = tmp_path / "out"
    assert main(["run", "--suite", str(path), "--out", str(out), "--no-progress"]) == 0
    assert (out / "leaderboard.md").exists() and (out / "suite.toml").read_text() == EXAMPLE_SUITE
    assert (out / "report.html").exists() and (out / "runs").is_dir()
    assert not (work / "leaderboards").exists()
    # --leaderboard-out still wins.
    board = tmp_path / "board"
    args = ["run", "--suite", str(path), "--out", str(out), "--leaderboard-out", str(board)]
    assert main([*args, "--no-progress"]) == 0
    assert (board / "leaderboard.md").exists()


def test_session_hooks_see_the_suite_and_its_leaderboard_folder(tmp_path, monkeypatch):
    calls = []

    class Tracker:
        @hookimpl
        def genrebench_session_started(self, suite, options):
            calls.append(("started", suite.name, len(options)))

        @hookimpl
        def genrebench_run_finished(self, result):
            calls.append(("job", result["experiment"]))

        @hookimpl
        def genrebench_session_finished(self, suite, results, leaderboard_folder, exitstatus):
            written = sorted(p.name for p in leaderboard_folder.iterdir())
            calls.append(("finished", suite.name, len(results), written, exitstatus))

    registry = load_plugins(extra=[Tracker()])
    monkeypatch.setattr("genrebench.cli.load_plugins", lambda: registry)
    path = write(tmp_path, EXAMPLE_SUITE)
    args = ["run", "--suite", str(path), "--out", str(tmp_path / "runs"), "--no-progress"]
    assert main([*args, "--leaderboard-out", str(tmp_path / "board")]) == 0
    files = ["leaderboard.csv", "leaderboard.json", "leaderboard.md", "report.html"]
    assert calls[0] == ("started", "example", 1)
    assert calls[-1][:3] == ("finished", "example", 3) and calls[-1][4] == 0
    assert set(files) <= set(calls[-1][3]) and "suite.toml" in calls[-1][3]
    assert [c for c in calls if c[0] == "job"] == [("job", "example/centroid")] * 2 + [
        ("job", "example/centroid (seed ensemble)")
    ]


def test_a_data_root_may_name_an_environment_variable(tmp_path, monkeypatch):
    text = EXAMPLE_SUITE + 'data_root = "{env:GB_TEST_ROOT}/mini"\n'
    suite = suites.load(write(tmp_path, text))
    monkeypatch.delenv("GB_TEST_ROOT", raising=False)
    with pytest.raises(suites.SuiteError, match="set the environment variable GB_TEST_ROOT"):
        suites.check(suite, load_plugins())
    monkeypatch.setenv("GB_TEST_ROOT", str(tmp_path))
    suites.check(suite, load_plugins())
    [options] = suites.run_options(suite, load_plugins(), None)
    assert options.data_root == tmp_path / "mini"
