"""The HTML report: its content on a small run of the example plugin, the refusal of an
empty report, and a real headless Chromium rendering it (every image loads, nothing is
wider than the page)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import types
from pathlib import Path

import pytest

from genrebench import ExperimentSpec, Reported, hookimpl
from genrebench.cli import main

EXAMPLE = ["example/centroid", "--dataset", "example-tones", "--no-progress"]


def reported_plugin() -> types.ModuleType:
    """A plugin whose experiment declares what its (imaginary) paper reports."""
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
            )
        ]

    module.genrebench_register_experiments = genrebench_register_experiments
    return module


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    """A report over two experiments of the example plugin, two seeds each."""
    from genrebench import leaderboard, report, stats
    from genrebench.plugins import load_plugins
    from genrebench.runner import Runner, RunOptions, plan

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


def test_report_is_one_file_with_every_part(report_file):
    html = report_file.read_text()
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(src|href)="(https?:|file:|/)', html)  # nothing outside the file
    for part in ("example-tones", "vs best", "Per-class F1", "Confusion matrices",
                 "Accuracy against cost", "Provenance", "Splits", "Packages"):  # fmt: skip
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
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var page = document.documentElement.clientWidth;
  var wide = Array.prototype.slice.call(document.querySelectorAll("body *")).filter(
    function (e) { return !e.closest(".scroll") && e.getBoundingClientRect().right > page + 1; });
  var out = document.createElement("pre");
  out.id = "genrebench-check";
  out.textContent = JSON.stringify({
    images: images.length,
    broken: broken.map(function (i) { return i.alt; }),
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: page,
    wide: wide.slice(0, 10).map(function (e) { return e.tagName + "." + e.className; })
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
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def needs_chromium() -> str:
    binary = chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (.ci/run installs it: apt-get install -y chromium)")
    return binary


def test_the_browser_check_sees_a_broken_image_and_a_too_wide_element(tmp_path):
    binary = needs_chromium()
    html = (
        '<!DOCTYPE html><html><body><img alt="gone" src="data:image/png;base64,AAAA">'
        '<div class="wide" style="width: 3000px">x</div></body></html>'
    )
    result = browser_check(binary, html, tmp_path, 800)
    assert result["broken"] == ["gone"]
    assert result["scrollWidth"] > result["clientWidth"]
    assert "DIV.wide" in result["wide"]


@pytest.mark.parametrize("width", [1280, 800])
def test_report_renders_in_headless_chromium(report_file, tmp_path, width):
    binary = needs_chromium()
    result = browser_check(binary, report_file.read_text(), tmp_path, width)
    assert result["images"] >= 4
    assert result["broken"] == []
    assert result["scrollWidth"] <= result["clientWidth"], result
    assert result["wide"] == []
    # And a screenshot of the unmodified page: a real picture, not a blank one.
    shot = tmp_path / "shot.png"
    run_chromium(
        binary,
        tmp_path / "profile-shot",
        f"--window-size={width},2000",
        f"--screenshot={shot}",
        report_file.as_uri(),
    )
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (width, 2000)
        colours = image.convert("L").getextrema()
    assert colours[1] - colours[0] > 100


def test_critical_difference_diagram_over_several_data_sets():
    import pandas as pd

    from genrebench import report, stats

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
