"""The HTML report: its content on a small run of the example plugin, the refusal of an
empty report, and a real headless Chromium rendering it (every image loads, nothing is
wider than the page)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import types
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from genrebench import ExperimentSpec, Reported, hookimpl
from genrebench.cli import main
from genrebench.errors import ConfigError

EXAMPLE = ["example/centroid", "--dataset", "example-tones", "--no-progress"]


def reported_plugin() -> types.ModuleType:
    """A plugin whose experiments declare what their (imaginary) papers report."""
    module = types.ModuleType("paper_plugin")

    @hookimpl
    def genrebench_register_experiments():
        return [
            ExperimentSpec(
                "paper/centroid",
                feature="example/band-energies",
                model="example/nearest-centroid",
                paper="Doe 2020, Centroids for tones",
                reported=(Reported("accuracy", 0.912, "example-tones", "Table 2", "3 seeds"),),
            ),
            ExperimentSpec(
                "roe2023/resnet-temperature-1.75",
                feature="example/band-energies",
                model="example/nearest-centroid",
                paper="Roe 2023, Calibrated tones",
                reported=(
                    Reported("accuracy", 0.49, "tones-10", "Table 1", "test set"),
                    Reported("valid_accuracy", 0.705, "tones-10", "Table 4", "development"),
                    Reported("train_accuracy", 0.597, "tones-10", "Table 2", "training set"),
                    Reported(
                        "accuracy_raw",
                        0.667,
                        "gtzan",
                        "Sec. 6",
                        "clips",
                        part="valid",
                        split="random 70/10/20 by song",
                    ),
                ),
            ),
        ]

    module.genrebench_register_experiments = genrebench_register_experiments
    return module


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    """A report over two experiments of the example plugin, two seeds each."""
    from genrebench.registry.loading import load_plugins
    from genrebench.reporting import leaderboard, report, stats
    from genrebench.run.runner import Runner, RunOptions, plan

    tmp = tmp_path_factory.mktemp("report")
    registry = load_plugins(extra=[reported_plugin()])
    options = RunOptions(
        experiments=["example/centroid", "paper/centroid"],
        datasets=["example-tones"],
        seeds=2,
        out=tmp,
    )
    jobs, _ = plan(registry, options)
    runner = Runner(registry, options)
    runner.load_datasets(jobs)
    assert all(r["status"] == "ok" for r in runner.run(jobs))
    results = leaderboard.find_results([tmp / "runs"])
    board = stats.annotate(leaderboard.build(results), results)
    out = tmp / "report.html"
    report.write(out, board, results, registry, title="test report", headline=tmp / "head.png")
    return out


# --------------------------------------------------------------------------- a fabricated run
GENRES = [
    "blues",
    "classical",
    "country",
    "disco",
    "electronic",
    "hiphop",
    "jazz",
    "metal",
    "reggae",
    "rock",
]
TAGS = ["ambient", "chill", "dance", "dark", "energetic", "happy", "rock-ish", "vocal"]
#: The main suite's row names (the long ones are what wrapped mid-word).
SINGLE = [
    ("reference/mlp", 0.875, 13_194, 0.6),
    ("reference/logreg", 0.775, 930, 0.02),
    ("schindler2016/shallow", 0.61, 2_060_642, 5.6),
    ("schindler2016/deep", 0.55, 1_280_002, 8.1),
    ("lukashevich2023/musicnn-mlp", 0.55, 85_642, 0.1),
    ("roe2023/resnet-temperature-1.75", 0.35, 430_000, 6.0),
    ("pocelli2024/unet-augment", 0.25, 3_446_170, 7.7),
    ("yan2023/baseline", 0.125, 215_000, 1.5),
    ("yan2023/cnn", 0.1, 480_000, 4.9),
]
MULTI = [
    ("johnson2024/dense", 0.3, 120_000, 2.0),
    ("johnson2024/xgboost", 0.2, 0, 0.8),
    ("reference/mlp", 0.18, 12_000, 0.5),
]


def _single_probs(rng, y: np.ndarray, n_classes: int, accuracy: float) -> np.ndarray:
    """Probabilities whose argmax is right on about ``accuracy`` of the tracks."""
    logits = rng.normal(0, 1, (len(y), n_classes))
    right = rng.random(len(y)) < accuracy
    wrong = (y + rng.integers(1, n_classes, len(y))) % n_classes
    target = np.where(right, y, wrong)
    logits[np.arange(len(y)), target] += 2.5 + rng.random(len(y)) * 2
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def _multi_probs(rng, y: np.ndarray, quality: float) -> np.ndarray:
    logits = (2 * y - 1) * 8 * quality + rng.normal(0, 1.5, y.shape)
    return 1 / (1 + np.exp(-logits))


def write_job(
    folder: Path,
    *,
    experiment,
    dataset,
    profile,
    seed,
    task,
    classes,
    test_ids,
    y_test,
    probs,
    valid,
    fields,
    cost,
    history=None,
    provenance=True,
    specs=(),
):
    """Every file of a finished job, written with the functions the runner uses."""
    from genrebench.evaluation import reliability
    from genrebench.results import outputs
    from genrebench.run.stages import compute_metrics

    folder.mkdir(parents=True, exist_ok=True)
    outputs.save_predictions(folder / "predictions.csv", test_ids, y_test, probs, classes, task)
    outputs.save_class_report(folder, y_test, probs, classes, task, 0.5)
    if valid is not None:
        ids, y, p = valid
        outputs.save_predictions(folder / "valid_predictions.csv", ids, y, p, classes, task)
    calibrated = (
        probs**0.8 / (probs**0.8).sum(axis=1, keepdims=True) if task == "single-label" else probs
    )
    outputs.save_predictions(
        folder / "predictions_calibrated.csv", test_ids, y_test, calibrated, classes, task
    )
    outputs.write_json(
        folder / "reliability.json",
        reliability.report(y_test, probs, calibrated, classes, task),
    )
    metrics = compute_metrics(specs, task, y_test, probs, 0.5)
    metrics["ece_calibrated"] = compute_metrics(specs, task, y_test, calibrated, 0.5)["ece"]
    if provenance:
        outputs.write_json(
            folder / "provenance.json",
            {
                "environment": {
                    "platform": "Linux-test",
                    "cpu_count": 2,
                    "compute": {"cpu": {"model": "Test CPU"}},
                },
                "split": {"scheme": fields["split"], "sha256": fields["split_sha256"]},
                **({"training_history": history} if history is not None else {}),
            },
        )
    outputs.write_json(
        folder / "metrics.json",
        {
            "experiment": experiment,
            "dataset": dataset,
            "profile": profile,
            "seed": seed,
            "status": "ok",
            "task": task,
            "classes": classes,
            "threshold": 0.5,
            "n_test_tracks": len(test_ids),
            "metrics": metrics,
            "cost": cost,
            **fields,
        },
    )


def fabricate(root: Path, specs) -> None:
    """A run like the main suite's, with INTERFACES.md's fields: a single-label set of 10
    classes whose 9 experiments (2 seeds and a seed ensemble each) share 40 test tracks
    under the benchmark protocol, one of them having lost 2 of its planned tracks; one
    experiment again under the paper protocol on its own 20 test tracks, another on the
    benchmark's tracks; a multi-label set; and a failed row."""
    from genrebench.run.stages import split_checksum

    rng = np.random.default_rng(0)
    runs = root / "runs"

    def layout(dataset, classes, n_test, n_valid, task, protocol, split, caps, salt):
        test_ids = [f"{dataset}-{salt}-t{i:03d}" for i in range(n_test)]
        valid_ids = [f"{dataset}-{salt}-v{i:03d}" for i in range(n_valid)]
        if task == "single-label":
            y_test = np.arange(n_test) % len(classes)
            y_valid = np.arange(n_valid) % len(classes)
        else:
            y_test = (rng.random((n_test, len(classes))) < 0.3).astype(int)
            y_valid = (rng.random((n_valid, len(classes))) < 0.3).astype(int)
        fields = {
            "protocol": protocol,
            "split": split,
            "split_seed": 0,
            "fold": None,
            "folds": None,
            "split_sha256": {
                "train": split_checksum([f"{salt}-train"]),
                "valid": split_checksum(valid_ids),
                "test": split_checksum(test_ids),
            },
            "evaluation_set": {"sha256": split_checksum(test_ids), "n_tracks": n_test},
            "n_test_tracks_lost": 0,
            "test_tracks_lost": [],
            "caps": caps,
            "n_train_tracks": 140,
            "n_valid_tracks": n_valid,
        }
        return test_ids, y_test, valid_ids, y_valid, fields

    def experiment_rows(dataset, classes, task, rows, protocol, split, caps, n_test, salt):
        test_ids, y_test, valid_ids, y_valid, base = layout(
            dataset, classes, n_test, 20, task, protocol, split, caps, salt
        )
        for name, quality, params, seconds in rows:
            folder = runs / name / dataset / "quick"
            if protocol == "paper":
                folder = folder / "paper-protocol"
            member_probs = []
            for seed in (0, 1):
                fields = dict(base)
                ids, y = test_ids, y_test
                if name == "yan2023/baseline":  # lost 2 of its 40 planned test tracks
                    ids, y = test_ids[2:], y_test[2:]
                    fields |= {"n_test_tracks_lost": 2, "test_tracks_lost": test_ids[:2]}
                if task == "single-label":
                    probs = _single_probs(rng, y, len(classes), quality)
                    valid_probs = _single_probs(rng, y_valid, len(classes), quality + 0.1)
                else:
                    probs = _multi_probs(rng, y, quality)
                    valid_probs = _multi_probs(rng, y_valid, quality)
                member_probs.append(probs)
                history = None
                if name.startswith("roe2023") or name == "reference/mlp":
                    history = [
                        {"epoch": e, "train_loss": 1.0 / e, "valid_loss": 1.2 / e, "lr": 1e-3}
                        for e in (1, 2, 3)
                    ]
                    if seed == 1 and name == "reference/mlp":
                        history[-1]["train_accuracy"] = 0.95
                write_job(
                    folder / f"seed-{seed}",
                    experiment=name,
                    dataset=dataset,
                    profile="quick",
                    seed=seed,
                    task=task,
                    classes=classes,
                    test_ids=ids,
                    y_test=y,
                    probs=probs,
                    valid=(valid_ids, y_valid, valid_probs),
                    fields=fields,
                    cost={
                        "train_seconds": seconds * (1 + seed / 10),
                        "n_parameters": params,
                        "inference_seconds_per_track": 1e-4 * (1 + params / 1e5),
                        "feature_seconds": 0.5,
                    },
                    history=history,
                    specs=specs,
                )
            ensemble = f"{name} (seed ensemble)"
            write_job(
                folder / "seed-ensemble",
                experiment=ensemble,
                dataset=dataset,
                profile="quick",
                seed="ensemble",
                task=task,
                classes=classes,
                test_ids=ids,
                y_test=y,
                probs=np.mean(member_probs, axis=0),
                valid=None,
                fields={**fields, "ensemble": {"kind": "seeds", "seeds": [0, 1]}},
                cost={"train_seconds": 2 * seconds, "n_parameters": 2 * params},
                provenance=False,
                specs=specs,
            )

    benchmark_split = "stratified(train=0.7,valid=0.1,test=0.2)"
    caps = {"applied": {"max_train_tracks": 140}, "ignored": {"max_test_tracks": 20}}
    experiment_rows(
        "tones-10", GENRES, "single-label", SINGLE, "benchmark", benchmark_split, caps, 40, "a"
    )
    experiment_rows(
        "tones-10",
        GENRES,
        "single-label",
        [("yan2023/cnn", 0.1, 480_000, 4.0)],
        "paper",
        "stratified(train=0.7,test=0.2,valid=0.1)",
        {"applied": {"max_test_tracks": 20}, "ignored": {}},
        20,
        "b",
    )
    # The paper protocol on the benchmark's split: the same test tracks, the same section.
    experiment_rows(
        "tones-10", GENRES, "single-label", [("reference/logreg", 0.775, 930, 0.02)], "paper",
        benchmark_split, {"applied": {"max_train_tracks": 140}, "ignored": {}}, 40, "a",
    )  # fmt: skip
    experiment_rows("tags-8", TAGS, "multi-label", MULTI, "benchmark", "split-0", {}, 40, "c")
    failed = runs / "pocelli2024/unet" / "tones-10" / "quick" / "seed-0"
    failed.mkdir(parents=True)
    (failed / "metrics.json").write_text(
        json.dumps(
            {
                "experiment": "pocelli2024/unet",
                "dataset": "tones-10",
                "profile": "quick",
                "seed": 0,
                "status": "failed",
                "error": "MemoryError: the U-Net did not fit",
                "protocol": "benchmark",
            }
        )
    )


@pytest.fixture(scope="module")
def fabricated(tmp_path_factory):
    """The report of :func:`fabricate`'s run: (html path, board, results, registry)."""
    from genrebench.registry.loading import load_plugins
    from genrebench.reporting import leaderboard, report, stats

    tmp = tmp_path_factory.mktemp("fabricated")
    registry = load_plugins(extra=[reported_plugin()])
    fabricate(tmp, registry.specs("metrics"))
    results = leaderboard.find_results([tmp / "runs"])
    board = stats.annotate(leaderboard.build(results), results, n_resamples=300)
    out = tmp / "report.html"
    report.write(out, board, results, registry, title="fabricated", headline=tmp / "report.png")
    return out, board, results, registry


def test_report_is_one_file_with_every_part(report_file):
    html = report_file.read_text()
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(src|href)="(https?:|file:|/)', html)  # nothing outside the file
    for part in (
        "example-tones",
        "vs best",
        "Per-class F1",
        "Confusion matrices",
        "Accuracy against cost",
        "Provenance",
        "Splits",
        "Packages",
    ):
        assert part in html, part
    # Paper vs ours: the declared number beside ours, with the paper's source and note.
    assert "Paper vs ours" in html and "0.912" in html and "Table 2" in html
    assert "Doe 2020" in html and "same data" in html
    # Provenance: split checksums and the CPU.
    assert re.search(r"[0-9a-f]{64}", html)
    assert "CPU" in html
    assert (report_file.parent / "head.png").read_bytes()[:4] == b"\x89PNG"


def test_report_over_zero_finished_jobs_says_so_and_exits_2(tmp_path, capsys):
    folder = tmp_path / "runs" / "x" / "d" / "quick" / "seed-0"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(
        json.dumps(
            {
                "experiment": "x",
                "dataset": "d",
                "profile": "quick",
                "seed": 0,
                "status": "failed",
                "error": "boom",
            }
        )
    )
    out = tmp_path / "report.html"
    assert main(["report", str(tmp_path / "runs"), "--out", str(out)]) == 2
    assert "no finished job" in capsys.readouterr().err
    assert not out.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty), "--out", str(out)]) == 2


def test_report_command_writes_the_file(tmp_path, capsys):
    assert main(["run", *EXAMPLE, "--out", str(tmp_path)]) == 0
    out = tmp_path / "r" / "report.html"
    assert main(["report", str(tmp_path / "runs"), "--out", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")


CHECK = """<script>
window.addEventListener("load", function () {
  var all = function (selector) {
    return Array.prototype.slice.call(document.querySelectorAll(selector)); };
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var page = document.documentElement.clientWidth;
  var body = document.body.getBoundingClientRect();
  var column = document.body.clientWidth - parseFloat(getComputedStyle(document.body).paddingLeft)
    - parseFloat(getComputedStyle(document.body).paddingRight);
  var wide = all("body *").filter(function (e) {
    return !e.closest(".scroll") && e.getBoundingClientRect().right > page + 1; });
  // Every table (open the closed <details> first) against the column it stands in.
  all("details").forEach(function (d) { d.open = true; });
  var tables = all("table").map(function (t) {
    var box = t.parentElement.getBoundingClientRect();
    return {width: Math.round(t.getBoundingClientRect().width), column: Math.round(box.width),
            rows: t.rows.length, header: t.rows[0].cells[0].textContent.trim()}; });
  // Words of row names (between "/" and spaces) that a line break cut in two.
  var cut = [];
  all("table tr").forEach(function (tr) {
    var cell = tr.cells[0];
    var table = tr.closest("table");
    if (!cell || cell.tagName !== "TD") return;
    if (table.rows[0].cells[0].textContent.trim() !== "experiment") return;
    var walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      var re = /[^\\/\\s]+/g, m;
      while ((m = re.exec(node.data)) !== null) {
        var range = document.createRange();
        range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        var tops = {};
        Array.prototype.slice.call(range.getClientRects()).forEach(
          function (r) { tops[Math.round(r.top)] = 1; });
        if (Object.keys(tops).length > 1) cut.push(m[0]);
      }
    }
  });
  var out = document.createElement("pre");
  out.id = "genrebench-check";
  out.textContent = JSON.stringify({
    images: images.length,
    broken: broken.map(function (i) { return i.alt; }),
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: page,
    column: Math.round(column),
    wide: wide.slice(0, 10).map(function (e) { return e.tagName + "." + e.className; }),
    tables: tables,
    figures: images.map(function (i) {
      return [i.alt.slice(0, 40), Math.round(i.getBoundingClientRect().width)]; }),
    cut: cut
  });
  document.body.appendChild(out);
});
</script>
"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if found := shutil.which(name):
            return found
    return None


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


def browser_check(binary: str, html: str, folder: Path, width: int) -> dict:
    """Load ``html`` with :data:`CHECK` added in Chromium and return what the script found."""
    checked = folder / "checked.html"
    checked.write_text(html.replace("</body>", CHECK + "</body>"))
    dom = run_chromium(
        binary,
        folder / "profile-dom",
        f"--window-size={width},900",
        "--virtual-time-budget=10000",
        "--dump-dom",
        checked.as_uri(),
    )
    found = re.search(r'<pre id="genrebench-check">(.*?)</pre>', dom.stdout, re.S)
    assert found, f"no check output; chromium said: {dom.stderr[-2000:]}"
    text = found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    return json.loads(text.replace("&amp;", "&"))


def needs_chromium() -> str:
    binary = chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (.ci/run installs it: apt-get install -y chromium)")
    return binary


def test_the_browser_check_sees_a_broken_image_a_too_wide_element_and_a_cut_name(tmp_path):
    binary = needs_chromium()
    html = (
        '<!DOCTYPE html><html><body><img alt="gone" src="data:image/png;base64,AAAA">'
        '<div class="wide" style="width: 3000px">x</div><div class="scroll" style="width: 300px">'
        '<table style="width: 600px"><tr><th>x</th></tr></table></div>'
        '<table style="table-layout: fixed; width: 60px"><tr><th>experiment</th></tr><tr><td>'
        "<code style='overflow-wrap: anywhere'>lukashevich2023/musicnn</code></td></tr></table>"
        "</body></html>"
    )
    result = browser_check(binary, html, tmp_path, 800)
    assert result["broken"] == ["gone"]
    assert result["scrollWidth"] > result["clientWidth"]
    assert "DIV.wide" in result["wide"]
    assert result["tables"][0]["width"] > result["tables"][0]["column"]
    assert result["cut"]


def assert_fits(result: dict, strict: bool) -> None:
    """Nothing wider than the page; ``strict``: every table fits its column too (no
    scrolling inside the page) and no row name is cut inside a word."""
    assert result["images"] >= 4
    assert result["broken"] == []
    assert result["scrollWidth"] <= result["clientWidth"], result
    assert result["wide"] == []
    assert result["cut"] == [], result["cut"]
    if strict:
        too_wide = [t for t in result["tables"] if t["width"] > t["column"]]
        assert too_wide == [], (result["column"], too_wide)
        assert all(width <= result["column"] for _, width in result["figures"])


def screenshot(binary: str, page: Path, folder: Path, width: int) -> Path:
    shot = folder / f"shot-{width}.png"
    run_chromium(
        binary,
        folder / "profile-shot",
        f"--window-size={width},2000",
        f"--screenshot={shot}",
        page.as_uri(),
    )
    return shot


@pytest.mark.parametrize("width", [1400, 1280, 800])
def test_report_renders_in_headless_chromium(report_file, tmp_path, width):
    binary = needs_chromium()
    result = browser_check(binary, report_file.read_text(), tmp_path, width)
    assert_fits(result, strict=width >= 1280)
    # And a screenshot of the unmodified page: a real picture, not a blank one.
    from PIL import Image

    with Image.open(screenshot(binary, report_file, tmp_path, width)) as image:
        assert image.size == (width, 2000)
        colours = image.convert("L").getextrema()
    assert colours[1] - colours[0] > 100


@pytest.mark.parametrize("width", [1400, 800])
def test_a_main_suite_sized_report_fits_the_page_in_chromium(fabricated, tmp_path, width):
    """18 rows with the main suite's long names, a multi-label section, intervals in every
    cell: at 1,400 px every table fits the 1,100 px column (no scrollbar) and no name is
    cut inside a word; at 800 px nothing is wider than the page."""
    binary = needs_chromium()
    out, *_ = fabricated
    result = browser_check(binary, out.read_text(), tmp_path, width)
    print(width, result["column"], result["tables"], result["figures"])
    assert_fits(result, strict=width >= 1280)
    assert max(t["rows"] for t in result["tables"]) >= 19


def test_critical_difference_diagram_over_several_data_sets():
    from genrebench.reporting import report, stats

    rows = [
        {"experiment": e, "dataset": d, "profile": "quick", "status": "ok", "accuracy": a + i / 100}
        for i, d in enumerate("abcd")
        for e, a in (("x", 0.9), ("y", 0.7), ("z", 0.5))
    ]
    [result] = stats.friedman(pd.DataFrame(rows))
    drawn = report._friedman(result)
    assert drawn["figure"].startswith("data:image/png;base64,")
    assert [name for name, _ in drawn["ranks"]] == ["x", "y", "z"]
    assert drawn["p_value"] == pytest.approx(result.p_value)


# --------------------------------------------------------------------------- reading the page
class _Page(HTMLParser):
    """The page's ``<h2>`` headings and tables (cell texts), in order."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[tuple[str, Any]] = []  # ("h2", text) or ("table", rows)
        self._text: list[str] | None = None
        self._rows: list[list[str]] | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        if tag == "h2":
            self._text = []
        elif tag == "table":
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._text = []

    def handle_endtag(self, tag):
        if tag == "h2" and self._text is not None:
            self.blocks.append(("h2", " ".join("".join(self._text).split())))
            self._text = None
        elif tag in ("td", "th") and self._rows is not None and self._text is not None:
            self._rows[-1].append(" ".join("".join(self._text).split()))
            self._text = None
        elif tag == "table" and self._rows is not None:
            self.blocks.append(("table", self._rows))
            self._rows = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def page(html: str) -> list[tuple[str, Any]]:
    parser = _Page()
    parser.feed(html)
    return parser.blocks


def section_tables(html: str) -> dict[str, list[list[str]]]:
    """Each section's heading and its main leaderboard table (the first after it)."""
    found, heading = {}, None
    for kind, value in page(html):
        if kind == "h2":
            heading = value
        elif kind == "table" and heading and heading not in found and value[0][0] == "experiment":
            found[heading] = value
    return found


# --------------------------------------------------------------------------- sections (item 3)
def test_one_section_per_set_of_test_tracks_named_by_protocol_split_and_size(fabricated):
    out, *_ = fabricated
    tables = section_tables(out.read_text())
    headings = list(tables)
    assert len(headings) == 3, headings
    # The benchmark's 40 tracks, also used by one paper-protocol row; the paper split's 20.
    benchmark = next(h for h in headings if "tones-10" in h and "40 test tracks" in h)
    paper = next(h for h in headings if "tones-10" in h and "20 test tracks" in h)
    assert "protocols benchmark, paper · split stratified(train=0.7,valid=0.1,test=0.2)" in (
        benchmark
    )
    assert "paper protocol · split stratified(train=0.7,test=0.2,valid=0.1)" in paper
    assert any("tags-8" in h and "benchmark protocol · split split-0 · 40 test tracks" in h
               for h in headings)  # fmt: skip
    names = {h: [row[0] for row in rows[1:]] for h, rows in tables.items()}
    assert sorted(names[paper]) == ["yan2023/cnn", "yan2023/cnn (seed ensemble)"]
    protocols = {(row[0], row[1]) for row in tables[benchmark][1:]}
    assert {("reference/logreg", "benchmark"), ("reference/logreg", "paper")} <= protocols
    assert ("yan2023/cnn", "benchmark") in protocols
    # The row that lost 2 planned tracks stays in its section, marked.
    assert "yan2023/baseline incomplete" in names[benchmark]
    # A failed row joins the section of its data set, profile and protocol.
    failed = next(r for r in tables[benchmark] if r[0] == "pocelli2024/unet")
    assert failed[1] == "benchmark" and failed[2].startswith("failed: MemoryError")


def test_sections_follow_the_boards_section_column_where_it_has_one(fabricated):
    from genrebench.reporting import report

    _, board, results, _ = fabricated
    board = board.copy()
    board["section"] = board["dataset"] + " · " + board["profile"]
    sections = report.sections_of(board, report.row_infos(board, results))
    assert len(sections) == 2  # what the board says, even where the files differ


def test_the_headline_picture_has_one_panel_per_section(fabricated):
    from genrebench.reporting import report

    _, board, results, _ = fabricated
    sections = report.sections_of(board, report.row_infos(board, results))
    infos = report.row_infos(board, results)
    sections = report.sections_of(board, infos)
    labels = {p: n for s in sections for p, n in report._row_labels(board, s, infos).items()}
    fig = report._headline_figure(board, sections, labels)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert len(titles) == 3
    assert sum("tones-10" in t for t in titles) == 2
    # Rows are ranked within their panel only: the 20-track rows are in theirs.
    ticks = {ax.get_title(loc="left"): [x.get_text() for x in ax.get_yticklabels()]
             for ax in fig.axes}  # fmt: skip
    paper = next(t for t in titles if "paper protocol" in t and "20 test tracks" in t)
    assert sorted(ticks[paper]) == ["yan2023/cnn", "yan2023/cnn (seed ensemble)"]
    # A name twice in one panel says which protocol each is.
    benchmark = next(t for t in titles if "40 test tracks" in t and "tones-10" in t)
    assert "reference/logreg (benchmark protocol)" in ticks[benchmark]
    assert "reference/logreg (paper protocol)" in ticks[benchmark]


# --------------------------------------------------------------------------- items 1-2
def test_every_row_names_its_protocol_and_the_splits_table_states_caps_and_losses(fabricated):
    out, *_ = fabricated
    html = out.read_text()
    for heading, rows in section_tables(html).items():
        assert rows[0][:2] == ["experiment", "protocol"], heading
        said = {row[1] for row in rows[1:]}
        assert said == ({"benchmark", "paper"} if "protocols benchmark, paper" in heading
                        else {heading.split(" protocol")[0].split()[-1]}), heading  # fmt: skip
    splits = next(v for k, v in page(html) if k == "table" and v[0][0] == "data set")
    lines = [" | ".join(row) for row in splits]
    benchmark = next(i for i, line in enumerate(lines) if line.startswith("tones-10 | benchmark"))
    assert "max_train_tracks = 140 | max_test_tracks = 20" in lines[benchmark]
    paper = next(i for i, line in enumerate(lines) if line.startswith("tones-10 | paper") and
                 "test=0.2,valid=0.1" in line)  # fmt: skip
    assert "max_test_tracks = 20 | none" in lines[paper]
    rows = lines[benchmark + 1]
    assert "18 row(s)" in rows
    assert (
        "yan2023/baseline (quick): 2 test track(s) lost in seed 0, 2 test track(s) lost in "
        "seed 1" in rows
    )
    assert "Test tracks lost: none" in lines[paper + 1]


def test_an_incomplete_row_says_what_it_lost(fabricated):
    out, board, results, _ = fabricated
    text = " ".join(out.read_text().split())
    # The leaderboard's sentence, under the section's table.
    assert (
        "<code>yan2023/baseline</code> is incomplete: seed 0 lost 2 of its planned test tracks "
        "(tones-10-a-t000, tones-10-a-t001)" in text
    )
    # From a board that does not say it, what the jobs' metrics.json say.
    from genrebench.reporting import report

    infos = report.row_infos(board, results)
    [position] = board.index[board["experiment"] == "yan2023/baseline"]
    assert infos[position].lost_text == (
        "lost 2 of 40 planned test tracks in seed 0 (tones-10-a-t000, tones-10-a-t001) and 2 "
        "planned test tracks in seed 1 (tones-10-a-t000, tones-10-a-t001)"
    )
    section = next(s for s in report.sections_of(board, infos) if position in s.positions)
    found = report._section(section, board.drop(columns="incomplete"), infos)
    assert any(n.startswith("`yan2023/baseline` is incomplete: lost 2 of 40") for n in
               found["table_notes"])  # fmt: skip


def test_seed_ensembles_are_not_counted_as_missing_provenance(fabricated):
    out, *_ = fabricated
    html = out.read_text()
    fields = next(v for k, v in page(html) if k == "table" and v[0][0] == "what")
    assert not any(row[0] == "provenance.json" for row in fields), fields
    assert "14 ensemble result(s)" in html


def test_a_job_that_lost_its_provenance_is_still_counted_missing(fabricated, tmp_path):
    import shutil

    from genrebench.reporting import leaderboard, report

    out, *_ = fabricated
    shutil.copytree(out.parent / "runs", tmp_path / "runs")
    (tmp_path / "runs/reference/mlp/tones-10/quick/seed-0/provenance.json").unlink()
    results = leaderboard.find_results([tmp_path / "runs"])
    board = leaderboard.build(results)
    ok = [r for r in results if r["status"] == "ok"]
    found = report._provenance(ok, board, report.row_infos(board, results))
    [missing] = [f for f in found["fields"] if f["field"] == "provenance.json"]
    assert missing["entries"] == [("missing", 1)]
    assert found["ensembles"] == 14


# --------------------------------------------------------------------------- item 7
def test_the_report_says_why_the_critical_difference_diagram_is_left_out(fabricated):
    """The decision and its sentence are stats.across_datasets' (tested in test_stats)."""
    out, *_ = fabricated
    text = " ".join(out.read_text().split())
    assert "Across data sets" in text and "Critical-difference diagram" not in text
    said = re.findall(r"No critical-difference diagram\. ([^<]*)</p>", text)
    # One group per profile, protocol and task; the failed row (no task) is none.
    assert len(said) == 3, said
    assert "single-label accuracy (profile quick): 8 experiments on 1 data set(s)" in said[1]
    assert "3 experiments on 1 data set(s)" in said[0] and "multi-label" in said[0]
    assert "single-label accuracy (profile quick, paper protocol): 1 experiment(s)" in said[2]


def test_the_critical_difference_diagram_is_drawn_where_it_can_say_something():
    import pandas as pd

    from genrebench.reporting import report

    rows = [
        {"experiment": e, "dataset": d, "profile": "quick", "status": "ok", "task": "single-label",
         "accuracy": a + i / 100}
        for i, d in enumerate("abcd")
        for e, a in (("x", 0.9), ("y", 0.7), ("z", 0.5))
    ]  # fmt: skip
    [drawn] = report._across(pd.DataFrame(rows))
    assert drawn["drawn"]["figure"].startswith("data:image/png;base64,")
    assert drawn["drawn"]["critical_difference"] < 2


# --------------------------------------------------------------------------- item 8, figures
def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_cost_panels_are_page_wide_and_their_labels_overlap_nothing(fabricated):
    from genrebench.reporting import report

    _, board, results, _ = fabricated
    infos = report.row_infos(board, results)
    section = max(report.sections_of(board, infos), key=lambda s: len(s.positions))
    ok = [p for p in section.positions if board.loc[p, "status"] != "failed"]
    labels = report._row_labels(board, section, infos)
    fig, key = report._cost_figure(board, ok, labels, section.task)
    assert fig.get_size_inches()[0] * 96 >= 1000  # about the page's 1,100 px column
    assert [n for n, _ in key] == list(range(1, len(ok) + 1))
    assert key[0][1] == board.loc[ok[0], "experiment"]
    renderer = fig.canvas.get_renderer()
    panels = [ax for ax in fig.axes if ax.texts]
    assert len(panels) == 2
    for ax in panels:
        inside = ax.get_window_extent(renderer)
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        assert len(boxes) >= 17
        for i, box in enumerate(boxes):
            assert inside.x0 <= box.x0 and box.x1 <= inside.x1, ax.texts[i].get_text()
            assert inside.y0 <= box.y0 and box.y1 <= inside.y1, ax.texts[i].get_text()
            others = [ax.texts[j].get_text() for j in range(i) if _boxes_overlap(box, boxes[j])]
            assert not others, (ax.texts[i].get_text(), others)


def _section_rows(fabricated, task: str):
    from genrebench.reporting import report

    _, board, results, _ = fabricated
    infos = report.row_infos(board, results)
    section = next(s for s in report.sections_of(board, infos) if s.task == task)
    labels = report._row_labels(board, section, infos)
    return [
        (labels[p], [Path(r["job_dir"]) for r in infos[p].jobs])
        for p in section.positions
        if infos[p].jobs
    ]


@pytest.mark.parametrize("task", ["single-label", "multi-label"])
def test_confusion_matrices_have_a_colour_bar_and_numbers(fabricated, task):
    from genrebench.reporting import report

    rows = _section_rows(fabricated, task)
    fig = report._confusion_figure(rows, task)
    bars = [ax for ax in fig.axes if ax.get_ylabel() == "share of the row's tracks"]
    assert len(bars) == 1
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == len(rows)
    for ax in panels:
        numbers = [int(t.get_text()) for t in ax.texts]
        assert numbers and all(n > 0 for n in numbers)
    # The numbers are the tracks summed over seeds: every test track once per seed.
    first = panels[-1]
    n_jobs = len(rows[-1][1])
    if task == "single-label":
        assert sum(int(t.get_text()) for t in first.texts) == 40 * n_jobs
    else:
        assert sum(int(t.get_text()) for t in first.texts) == 40 * n_jobs * len(TAGS)


@pytest.mark.parametrize("task", ["single-label", "multi-label"])
def test_reliability_panels_have_axis_labels_bin_counts_and_a_legend_off_the_data(fabricated, task):
    from genrebench.reporting import report

    rows = _section_rows(fabricated, task)
    fig, missing = report._reliability_figure(rows, task)
    assert missing == []
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == len(rows)
    outcome = "observed frequency" if task == "multi-label" else "accuracy"
    for ax in panels:
        assert ax.get_xlabel() == "mean confidence" and ax.get_ylabel() == outcome
        assert ax.get_legend() is None
    counted = "label probabilities" if task == "multi-label" else "tracks"
    count_axes = [ax for ax in fig.axes if ax.get_ylabel() == counted]
    assert len(count_axes) == len(rows)
    heights = [sum(p.get_height() for p in ax.patches) for ax in count_axes]
    labels = len(TAGS) if task == "multi-label" else 1
    for (_, jobs), total in zip(
        rows, heights, strict=True
    ):  # raw and calibrated bars: every track twice
        tracks = sum(len(pd.read_csv(job / "predictions.csv")) for job in jobs)
        assert total == pytest.approx(2 * tracks * labels)
    [legend] = fig.legends
    box = legend.get_window_extent(renderer)
    assert not any(_boxes_overlap(box, ax.get_window_extent(renderer)) for ax in fig.axes)
    assert {t.get_text() for t in legend.get_texts()} >= {"raw", "calibrated"}


def test_row_names_wrap_only_between_words():
    from genrebench.reporting import report

    assert report.name_segments("lukashevich2023/musicnn-mlp (seed ensemble)") == [
        "lukashevich2023/", "musicnn-mlp", " ", "(seed", " ", "ensemble)"
    ]  # fmt: skip
    html = str(report._name_html("a/b-c (seed ensemble)"))
    assert html == (
        '<code class="name"><span class="seg">a/</span><wbr><span class="seg">b-c</span> '
        '<span class="seg">(seed</span> <span class="seg">ensemble)</span></code>'
    )


# --------------------------------------------------------------------------- issue 20 item 11
def test_paper_numbers_stand_beside_ours_on_the_same_part(fabricated):
    from genrebench.evaluation import metrics
    from genrebench.results import outputs

    out, board, results, _ = fabricated
    tables = [v for k, v in page(out.read_text()) if k == "table" and v[0][0] == "number"]
    name = "roe2023/resnet-temperature-1.75"
    rows = next(t for t in tables if any("0.705" in r for r in t))
    by_number = {r[1]: r for r in rows[1:]}
    # Test number against test accuracy, with its interval.
    test = by_number["0.490"]
    assert test[0] == "accuracy, test"
    [row] = board[(board["experiment"] == name)].to_dict("records")
    assert test[3].startswith(f"{row['accuracy']:.3f} [")
    # Development number against our validation accuracy, from valid_predictions.csv.
    valid = by_number["0.705"]
    assert valid[0] == "accuracy, validation"
    jobs = [r for r in results if r["experiment"] == name]
    expected = np.mean(
        [
            metrics.accuracy(*outputs.read_predictions(
                Path(r["job_dir"]) / "valid_predictions.csv", GENRES, "single-label")[1:])
            for r in jobs
        ]
    )  # fmt: skip
    assert valid[3] == f"{expected:.3f}"
    assert "validation tracks (20), mean over 2 seed(s)" in valid[4]
    # Training number: the history records no accuracy, and the table says so.
    train = by_number["0.597"]
    assert train[0] == "accuracy, training" and train[3] == "not available"
    assert (
        "the training history records lr, train_loss, valid_loss per epoch, no training "
        "accuracy" in train[4]
    )
    # Per-segment validation number: said why there is none.
    segment = by_number["0.667"]
    assert segment[0] == "accuracy_raw, validation" and segment[3] == "not available"
    assert "per-segment validation predictions are not saved" in segment[4]
    # Both sides name their data, split and protocol.
    assert segment[2].startswith("gtzan, split random 70/10/20 by song; the paper's own protocol")
    assert valid[4].startswith(
        "tones-10 (same data), split stratified(train=0.7,valid=0.1,test=0.2), benchmark "
        "protocol, profile quick, 40 test tracks"
    )


def test_training_numbers_come_from_the_training_history(fabricated):
    from genrebench.reporting import report

    _, board, results, _ = fabricated
    infos = report.row_infos(board, results)
    position = board.index[
        (board["experiment"] == "reference/mlp") & (board["dataset"] == "tones-10")
    ][0]
    found = report._train_value(infos[position], "accuracy")
    assert found["value"] == "0.950"  # seed 1 recorded one, seed 0 did not
    assert "last epoch of the training history, mean over 1 seed(s)" in found["why"]
    schindler = board.index[board["experiment"] == "schindler2016/deep"][0]
    assert "no training history" in report._train_value(infos[schindler], "accuracy")["why"]


def test_reported_numbers_name_the_part_they_were_measured_on():
    assert Reported("accuracy", 0.5).measured_on == ("test", "accuracy")
    assert Reported("valid_accuracy", 0.5).measured_on == ("valid", "accuracy")
    assert Reported("train_accuracy", 0.5).measured_on == ("train", "accuracy")
    assert Reported("accuracy_raw", 0.5, part="valid").measured_on == ("valid", "accuracy_raw")
    with pytest.raises(ConfigError, match=r"part is 'dev'; expected one of '', 'test'"):
        Reported("accuracy", 0.5, part="dev")


def test_report_and_headline_are_written_atomically(fabricated, tmp_path, monkeypatch):
    from genrebench.reporting import report
    from genrebench.results import outputs

    _, board, results, registry = fabricated
    written = []
    real = outputs.write_atomic
    monkeypatch.setattr(outputs, "write_atomic", lambda p, w: (written.append(p), real(p, w)))
    report.write(tmp_path / "r.html", board, results, registry, headline=tmp_path / "r.png")
    assert written == [tmp_path / "r.html", tmp_path / "r.png"]


def test_a_random_split_of_gtzan_carries_the_artist_note():
    from genrebench.reporting import report

    assert report.artist_note("gtzan", ["fault-filtered"]) == ""
    assert report.artist_note("synthetic-genres", ["stratified(train=0.7)"]) == ""
    note = report.artist_note("gtzan", ["yan2023-authors"])
    assert "not artist-filtered" in note and "fault-filtered split keeps each artist" in note
    assert "inflates accuracy" in report.artist_note("gtzan", ["kfold(5)"])
