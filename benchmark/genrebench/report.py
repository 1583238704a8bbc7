"""The HTML report of a set of runs: one self-contained file (every picture inline as a
base64 PNG) with the leaderboard and its intervals and significance marks, accuracy
against cost, per-class F1, confusion matrices, reliability diagrams (from each job's
``reliability.json``, raw and calibrated), the critical-difference diagram where several
data sets allow one, a *paper vs ours* table for every experiment that declares what its
paper reports (``ExperimentSpec.reported``), and the provenance of the runs.

Plots are drawn with matplotlib (Agg backend) and the page with a jinja2 template
(``templates/report.html.j2``); both are imported only when a report is written.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrebench import __version__, leaderboard, stats
from genrebench.errors import GenrebenchError

KEY = ["experiment", "dataset", "profile"]
#: Bins of the reliability diagrams (paper 000 draws 10; reliability.json has 10 and 15).
RELIABILITY_BINS = "10"
COLORS = {"best": "#1b7837", "tied": "#5aae61", "worse": "#999999", "": "#4d4d4d"}


class NothingToReport(GenrebenchError):
    """No finished job in the runs the report was asked for."""


# --------------------------------------------------------------------------- entry point
def write(
    out: Path,
    board: pd.DataFrame,
    results: Sequence[Mapping[str, Any]],
    registry=None,
    title: str = "genrebench report",
    description: str = "",
    headline: Path | None = None,
) -> Path:
    """Render the report of ``results`` (with their ``job_dir``) and the annotated
    ``board`` to ``out``; also save the headline picture to ``headline`` when given."""
    finished = [r for r in results if r.get("status") == "ok"]
    if not finished:
        raise NothingToReport(
            f"no finished job among the {len(results)} run(s) found: nothing to report"
        )
    _matplotlib()
    sections = [_section(table, board, finished) for table in leaderboard.section_tables(board)]
    headline_png = _headline_figure(board)
    context = {
        "title": title,
        "description": description,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "n_jobs": len(finished),
        "n_failed": len(results) - len(finished),
        "legend": leaderboard.legend(board),
        "headline": _data_uri(headline_png),
        "sections": sections,
        "friedman": [_friedman(f) for f in stats.friedman(board)],
        "papers": _paper_tables(board, registry),
        "provenance": _provenance(finished),
        "genrebench_version": __version__,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(context), encoding="utf-8", errors="backslashreplace")
    if headline is not None:
        headline.parent.mkdir(parents=True, exist_ok=True)
        headline.write_bytes(headline_png)
    return out


def render(context: Mapping[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("genrebench", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["inline_code"] = _inline_code
    return env.get_template("report.html.j2").render(**context)


def _inline_code(text: str):
    """Backticks of the legend as <code> (the text is escaped first)."""
    import markupsafe

    parts = str(markupsafe.escape(text)).split("`")
    html = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    html = html.replace("**", "")
    return markupsafe.Markup(html)


# --------------------------------------------------------------------------- sections
def _section(table: leaderboard.SectionTable, board: pd.DataFrame, results) -> dict[str, Any]:
    part = board[(board["dataset"] == table.dataset) & (board["profile"] == table.profile)]
    ok = part[part["status"] != "failed"]
    jobs = _jobs_by_row(results, table.dataset, table.profile)
    names = [n for n in ok["experiment"] if n in jobs]
    figures = []
    if len(ok):
        figures.append(("Accuracy against cost", _cost_figure(ok, table.task)))
    per_class = _per_class_figure(names, jobs, table.task)
    if per_class:
        figures.append(("Per-class F1 (mean over seeds)", per_class))
    confusion = _confusion_figure(names, jobs, table.task)
    if confusion:
        figures.append((_confusion_title(table.task), confusion))
    reliability, missing = _reliability_figure(names, jobs, table.task)
    notes = []
    if reliability:
        figures.append((_reliability_title(table.task), reliability))
    if missing:
        notes.append("No reliability data (reliability.json) for: " + ", ".join(missing) + ".")
    return {
        "title": f"{table.dataset} ({table.task}, profile {table.profile})",
        "anchor": f"{table.dataset}-{table.profile}".replace("/", "-"),
        "table": table,
        "figures": [(caption, _data_uri(png)) for caption, png in figures],
        "notes": notes,
    }


def _jobs_by_row(results, dataset: str, profile: str) -> dict[str, list[Path]]:
    jobs: dict[str, list[Path]] = {}
    for r in results:
        if r["dataset"] == dataset and r["profile"] == profile and r.get("job_dir"):
            jobs.setdefault(r["experiment"], []).append(Path(r["job_dir"]))
    return jobs


# --------------------------------------------------------------------------- figures
def _matplotlib():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    plt = _matplotlib()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _interval(row: pd.Series, column: str) -> tuple[float, float, float]:
    value = float(row.get(column, math.nan))
    low = float(row.get(f"{column}_ci_low", math.nan))
    high = float(row.get(f"{column}_ci_high", math.nan))
    return value, low, high


def _headline_figure(board: pd.DataFrame) -> bytes:
    """Accuracy of every row with its 95 % interval, one panel per data set and profile;
    the best row of each comparison and the rows not significantly different from it in
    green: the report's headline picture (also the README's)."""
    plt = _matplotlib()
    ok = board[board["status"] != "failed"]
    parts = [(key, part) for key, part in ok.groupby(["dataset", "profile"], sort=True)]
    if not parts:
        fig, ax = plt.subplots(figsize=(7, 1.5))
        ax.text(0.5, 0.5, "every job failed", ha="center", va="center")
        ax.axis("off")
        return _png(fig)
    heights = [0.9 + 0.32 * len(part) for _, part in parts]
    fig, axes = plt.subplots(
        len(parts),
        1,
        figsize=(7.5, sum(heights) + 0.4),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, ((dataset, profile), part) in zip(axes[:, 0], parts, strict=True):
        part = part.iloc[::-1]
        task = part["task"].iloc[0]
        for y, (_, row) in enumerate(part.iterrows()):
            value, low, high = _interval(row, "accuracy")
            color = COLORS.get(row.get("significance") or "", COLORS[""])
            if np.isfinite(low):
                ax.plot([low, high], [y, y], color=color, lw=2.2, solid_capstyle="butt")
            ax.plot([value], [y], "o", color=color, ms=6)
            ax.text(value, y + 0.22, f"{value:.3f}", ha="center", va="bottom", fontsize=7)
        ax.set_yticks(range(len(part)), list(part["experiment"]), fontsize=8)
        ax.set_ylim(-0.6, len(part) - 0.4)
        ax.set_xlim(0, 1)
        ax.grid(axis="x", alpha=0.3)
        metric = "subset accuracy" if task == "multi-label" else "accuracy"
        ax.set_title(f"{dataset} ({profile}): {metric}, 95 % interval", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel(
        "green: best row and rows not significantly different from it (Holm-corrected "
        "paired bootstrap)",
        fontsize=7,
    )
    fig.tight_layout()
    return _png(fig)


def _cost_figure(part: pd.DataFrame, task: str) -> bytes:
    plt = _matplotlib()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, column, label in (
        (axes[0], "train_seconds", "training seconds (log scale)"),
        (axes[1], "n_parameters", "parameters (log scale)"),
    ):
        for _, row in part.iterrows():
            x = float(row.get(column, math.nan))
            value, low, high = _interval(row, "accuracy")
            if not np.isfinite(x) or x <= 0 or not np.isfinite(value):
                continue
            color = COLORS.get(row.get("significance") or "", COLORS[""])
            if np.isfinite(low):
                ax.errorbar(x, value, yerr=[[value - low], [high - value]], fmt="o", color=color)
            else:
                ax.plot(x, value, "o", color=color)
            ax.annotate(
                row["experiment"], (x, value), fontsize=7, xytext=(4, 3), textcoords="offset points"
            )
        ax.set_xscale("log")
        ax.set_xlabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("subset accuracy" if task == "multi-label" else "accuracy", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _mean_csv(paths: Iterable[Path], name: str) -> pd.DataFrame | None:
    frames = []
    for folder in paths:
        try:
            frames.append(pd.read_csv(folder / name, keep_default_na=False))
        except (OSError, ValueError):
            continue
    if not frames:
        return None
    first = frames[0].columns[0]
    return pd.concat(frames).groupby(first, sort=False).mean(numeric_only=True)


def _per_class_figure(names: Sequence[str], jobs, task: str) -> bytes | None:
    rows = {}
    for name in names:
        table = _mean_csv(jobs[name], "per_class.csv")
        if table is not None and "f1" in table:
            rows[name] = table["f1"]
    if not rows:
        return None
    plt = _matplotlib()
    matrix = pd.DataFrame(rows).T
    fig, ax = plt.subplots(
        figsize=(max(5, 0.55 * matrix.shape[1] + 3), 0.42 * matrix.shape[0] + 1.4)
    )
    image = ax.imshow(matrix.to_numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), list(matrix.columns), rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(matrix.shape[0]), list(matrix.index), fontsize=8)
    for (i, j), value in np.ndenumerate(matrix.to_numpy()):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                color="white" if value < 0.6 else "black")  # fmt: skip
    fig.colorbar(image, ax=ax, fraction=0.03)
    ax.set_title(f"F1 per {'label' if task == 'multi-label' else 'class'}", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _confusion_title(task: str) -> str:
    if task == "multi-label":
        return "Per-label outcomes (summed over seeds, as a share of the tracks)"
    return "Confusion matrices (summed over seeds; rows: true class, normalised per row)"


def _confusion_figure(names: Sequence[str], jobs, task: str) -> bytes | None:
    matrices = {}
    for name in names:
        frames = []
        for folder in jobs[name]:
            try:
                frames.append(pd.read_csv(folder / "confusion_matrix.csv", index_col=0))
            except (OSError, ValueError):
                continue
        if frames:
            matrices[name] = sum(f.to_numpy(dtype=float) for f in frames), frames[0]
    if not matrices:
        return None
    plt = _matplotlib()
    n = len(matrices)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    size = 3.2 if task == "single-label" else 2.6
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols + 0.4, size * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, (name, (total, frame)) in zip(axes.ravel(), matrices.items(), strict=False):
        labels = list(frame.index)
        if task == "single-label":
            shown = total / np.maximum(total.sum(axis=1, keepdims=True), 1)
            ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
            ax.set_xlabel("predicted", fontsize=7)
        else:
            shown = total / np.maximum(total.sum(axis=1, keepdims=True), 1)
            ax.set_xticks(range(shown.shape[1]), list(frame.columns), fontsize=7)
        ax.imshow(shown, vmin=0, vmax=1, cmap="Blues", aspect="auto")
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
        ax.set_title(name, fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _reliability_title(task: str) -> str:
    what = "every label probability (pooled)" if task == "multi-label" else "top-label"
    return (
        f"Reliability diagrams, {RELIABILITY_BINS} equal-width bins, {what}, pooled over "
        "seeds: accuracy per bin against mean confidence, raw (blue) and calibrated (orange); "
        "the diagonal is perfect calibration"
    )


def _pooled_bins(folders: Sequence[Path], kind: str, task: str) -> dict[str, np.ndarray] | None:
    """``count``, ``confidence`` and ``accuracy`` per bin, pooled over the seeds' files."""
    key = "pooled" if task == "multi-label" else "top_label"
    count = conf = acc = None
    for folder in folders:
        try:
            data = json.loads((folder / "reliability.json").read_text())
        except (OSError, ValueError):
            return None
        table = (data.get(kind) or {}).get(RELIABILITY_BINS, {}).get(key)
        if table is None:
            return None
        c = np.asarray(table["count"], dtype=float)
        cf = np.array([v if v is not None else 0.0 for v in table["confidence"]]) * c
        ac = np.array([v if v is not None else 0.0 for v in table["accuracy"]]) * c
        count, conf, acc = (c, cf, ac) if count is None else (count + c, conf + cf, acc + ac)
    if count is None:
        return None
    with np.errstate(all="ignore"):
        return {"count": count, "confidence": conf / count, "accuracy": acc / count}


def _reliability_figure(names: Sequence[str], jobs, task: str) -> tuple[bytes | None, list]:
    curves, missing = {}, []
    for name in names:
        raw = _pooled_bins(jobs[name], "raw", task)
        if raw is None:
            missing.append(name)
            continue
        curves[name] = raw, _pooled_bins(jobs[name], "calibrated", task)
    if not curves:
        return None, missing
    plt = _matplotlib()
    n = len(curves)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, (name, (raw, calibrated)) in zip(axes.ravel(), curves.items(), strict=False):
        ax.plot([0, 1], [0, 1], color="#bbbbbb", lw=1)
        for data, color, label in ((raw, "#2166ac", "raw"), (calibrated, "#e08214", "calibrated")):
            if data is None:
                continue
            used = data["count"] > 0
            ax.plot(data["confidence"][used], data["accuracy"][used], "o-", color=color,
                    ms=3, lw=1.2, label=label)  # fmt: skip
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    return _png(fig), missing


# --------------------------------------------------------------------------- across data sets
def _friedman(result: stats.Friedman) -> dict[str, Any]:
    import scikit_posthocs as sp

    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.3 * len(result.experiments)))
    sp.critical_difference_diagram(result.mean_ranks, result.nemenyi, ax=ax)
    ax.set_title(
        f"Mean rank of {result.metric} over {len(result.datasets)} data sets "
        f"(profile {result.profile}); bars join experiments the Nemenyi test does not separate",
        fontsize=8,
    )
    return {
        "profile": result.profile,
        "datasets": result.datasets,
        "statistic": result.statistic,
        "p_value": result.p_value,
        "ranks": [(name, float(rank)) for name, rank in result.mean_ranks.items()],
        "figure": _data_uri(_png(fig)),
    }


# --------------------------------------------------------------------------- paper vs ours
def _paper_tables(board: pd.DataFrame, registry) -> list[dict[str, Any]]:
    """For every experiment on the board whose spec declares ``reported`` numbers: each
    reported number beside this report's value of the same column on every data set and
    profile the experiment ran on (with the interval where there is one)."""
    if registry is None:
        return []
    tables = []
    for name in dict.fromkeys(board["experiment"]):
        spec = _spec(registry, name)
        reported = getattr(spec, "reported", ()) if spec is not None else ()
        if not reported:
            continue
        ours = board[(board["experiment"] == name) & (board["status"] != "failed")]
        runs = [(r["dataset"], r["profile"]) for _, r in ours.iterrows()]
        rows = []
        for number in reported:
            cells = []
            for _, row in ours.iterrows():
                value, low, high = _interval(row, number.metric) if number.metric in row else (
                    math.nan, math.nan, math.nan
                )  # fmt: skip
                text = "–" if not np.isfinite(value) else f"{value:.3f}"
                if np.isfinite(low):
                    text += f" {leaderboard.interval_text(low, high)}"
                cells.append(text)
            rows.append({"reported": number, "ours": cells})
        tables.append(
            {
                "experiment": name,
                "paper": getattr(spec, "paper", ""),
                "runs": runs,
                "rows": rows,
                "same_data": {ds for ds, _ in runs} & {n.dataset for n in reported},
            }
        )
    return tables


def _spec(registry, name: str):
    for kind in ("experiments", "ensembles"):
        try:
            return registry.get(kind, name)
        except (KeyError, GenrebenchError):
            continue
    return None


# --------------------------------------------------------------------------- provenance
def _provenance(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the jobs recorded about where and how they ran, each distinct value once."""
    seen: dict[str, dict[str, list[str]]] = {}
    splits: dict[tuple, dict[str, Any]] = {}

    def note(field: str, value: Any, job: str) -> None:
        text = "not recorded" if value is None else str(value)
        seen.setdefault(field, {}).setdefault(text, []).append(job)

    packages: dict[str, set[str]] = {}
    for r in results:
        job = f"{r['experiment']} / {r['dataset']} / {r['profile']} / seed {r['seed']}"
        try:
            prov = json.loads((Path(r["job_dir"]) / "provenance.json").read_text())
        except (OSError, ValueError, KeyError):
            note("provenance.json", "missing", job)
            continue
        env = prov.get("environment", {})
        git = env.get("genrebench_source_git") or env.get("git") or {}
        note(
            "git revision",
            f"{git.get('commit', '?')}{' (dirty)' if git.get('dirty') else ''}" if git else None,
            job,
        )
        note("genrebench", r.get("genrebench_version"), job)
        note("platform", env.get("platform"), job)
        compute = env.get("compute", {})
        note("CPU", compute.get("cpu", {}).get("model"), job)
        note("CPU cores", env.get("cpu_count"), job)
        torch = compute.get("torch")
        note(
            "torch threads",
            None if not torch else f"{torch['threads']} (inter-op {torch['interop_threads']})",
            job,
        )
        note(
            "torch deterministic",
            None
            if not torch
            else (
                f"algorithms {torch['deterministic_algorithms']}, cudnn deterministic "
                f"{torch['cudnn_deterministic']}, cudnn benchmark {torch['cudnn_benchmark']}"
            ),
            job,
        )
        for name, version in env.get("packages", {}).items():
            packages.setdefault(name, set()).add(str(version))
        split = prov.get("split", {})
        checksums = split.get("sha256") or {}
        key = (
            r["dataset"],
            split.get("scheme"),
            *(checksums.get(p, "") for p in ("train", "valid", "test")),
        )
        entry = splits.setdefault(
            key,
            {
                "dataset": r["dataset"],
                "scheme": split.get("scheme", "?"),
                "sizes": "/".join(str(split.get(p, "?")) for p in ("train", "valid", "test")),
                "sha256": {p: checksums.get(p, "not recorded") for p in ("train", "valid", "test")},
                "experiments": set(),
            },
        )
        entry["experiments"].add(r["experiment"])
    fields = [
        {"field": field, "entries": [(value, len(jobs)) for value, jobs in values.items()]}
        for field, values in seen.items()
    ]
    return {
        "fields": fields,
        "packages": sorted((name, ", ".join(sorted(v))) for name, v in packages.items()),
        "splits": [
            {**s, "experiments": ", ".join(sorted(s["experiments"]))} for s in splits.values()
        ],
    }
