"""The unified leaderboard: one row per experiment x data set x profile, mean and standard
deviation over seeds, built from the ``metrics.json`` files of any set of runs."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrebench.errors import ConfigError
from genrebench.outputs import utf8_text

KEY = ["experiment", "dataset", "profile"]
#: Shown first, in this order, when present; other metric columns follow alphabetically.
MAIN_METRICS = [
    "accuracy",
    "f1_macro",
    "roc_auc",
    "hamming_loss",
    "ece",
    "ece_calibrated",
    "temperature",
    "f1_micro",
    "nll",
    "nll_calibrated",
    "brier",
    "brier_calibrated",
    "label_accuracy",
    "pr_auc",
    "accuracy_raw",
    "accuracy_vote",
    "classwise_ece",
    "mce",
    "ece_adaptive",
    "overconfidence",
    "entropy",
]
COSTS = ["train_seconds", "inference_seconds_per_track", "n_parameters", "feature_seconds"]
#: Columns shown in the Markdown table (the CSV and JSON hold every column).
MARKDOWN_METRICS = [
    "accuracy",
    "f1_macro",
    "roc_auc",
    "hamming_loss",
    "ece",
    "ece_calibrated",
    "temperature",
    "label_accuracy",
    "pr_auc",
    "accuracy_raw",
    "accuracy_vote",
]
#: Short Markdown titles of some columns.
MARKDOWN_TITLES = {"temperature": "T"}


def find_results(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every ``metrics.json`` under ``paths`` (folders searched recursively), each with
    ``job_dir``: the folder holding it and the job's predictions."""
    results = []
    for root in paths:
        root = Path(root)
        if not root.exists():
            raise ConfigError(f"run folder {root} does not exist")
        files = [root] if root.is_file() else sorted(root.rglob("metrics.json"))
        for file in files:
            try:
                result = json.loads(file.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ConfigError(f"{file} is not valid JSON: {exc}") from exc
            problem = result_problem(result)
            if problem is not None:
                raise ConfigError(f"{file} is not a job's metrics.json: {problem}")
            results.append({**result, "job_dir": str(file.parent)})
    return results


#: Keys of every job's ``metrics.json`` and their types (a seed ensemble's ``seed`` is the
#: string ``"ensemble"``); an ``ok`` one also has ``task``, ``metrics`` ({name: number or
#: null}) and optionally ``cost`` (the same).
RESULT_KEYS = {"experiment": str, "dataset": str, "profile": str, "seed": int, "status": str}


def result_problem(result: Any) -> str | None:
    """What keeps ``result`` from being a job's result (for :func:`build`), or None."""
    if not isinstance(result, dict):
        return f"expected a JSON object, found {type(result).__name__}"
    for key, kind in RESULT_KEYS.items():
        if key not in result:
            return f"no {key!r}"
        if key == "seed" and result[key] == "ensemble":  # a seed ensemble (genrebench.ensembles)
            continue
        if not isinstance(result[key], kind) or isinstance(result[key], bool):
            return f"{key!r} is {result[key]!r}, expected {kind.__name__}"
    if result["status"] != "ok":
        return None
    if not isinstance(result.get("task"), str):
        return "status 'ok' without a 'task'"
    for key in ("metrics", "cost"):
        values = result.get(key, {})
        if not isinstance(values, dict):
            return f"{key!r} is {values!r}, expected an object of numbers"
        for name, value in values.items():
            if value is not None and (
                not isinstance(value, int | float) or isinstance(value, bool)
            ):
                return f"{key} {name!r} is {value!r}, expected a number or null"
    if "metrics" not in result:
        return "status 'ok' without 'metrics'"
    return None


def build(results: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Aggregate per-seed results into leaderboard rows (columns ``<metric>`` = mean,
    ``<metric>_std`` = sample standard deviation, ``n_seeds``, ``n_failed``, ``status``)."""
    latest: dict[tuple, dict[str, Any]] = {}
    for r in results:  # one result per experiment x dataset x profile x seed (latest wins)
        latest[(r["experiment"], r["dataset"], r["profile"], r["seed"])] = r
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for (exp, ds, prof, _), r in sorted(latest.items()):
        groups.setdefault((exp, ds, prof), []).append(r)
    rows = []
    for (exp, ds, prof), runs in groups.items():
        ok = [r for r in runs if r["status"] == "ok"]
        failed = [r for r in runs if r["status"] != "ok"]
        row: dict[str, Any] = {
            "experiment": exp,
            "dataset": ds,
            "profile": prof,
            "task": ok[0]["task"] if ok else "",
            "n_seeds": len(ok),
            "n_failed": len(failed),
        }
        row["status"] = "ok" if not failed else ("failed" if not ok else "partly failed")
        # Escaped here already: pandas 3 with pyarrow refuses surrogates (file names).
        row["error"] = utf8_text(failed[0].get("error", "")) if failed else ""
        row["ensemble_of"] = _ensemble_of(runs)
        columns: dict[str, list[float]] = {}
        for r in ok:
            for name, value in {**r["metrics"], **_costs(r)}.items():
                if value is not None:
                    columns.setdefault(name, []).append(float(value))
        for name, values in columns.items():
            arr = np.asarray(values, dtype=float)
            row[name] = float(np.nanmean(arr)) if np.isfinite(arr).any() else math.nan
            row[f"{name}_std"] = float(np.nanstd(arr, ddof=1)) if len(arr) > 1 else math.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=[*KEY, "task", "status", *MAIN_METRICS[:5]])
    for name in MAIN_METRICS[:5]:
        if name not in frame:
            frame[name] = math.nan
    metric_cols = [c for c in MAIN_METRICS if c in frame]
    others = sorted(
        c
        for c in frame
        if c not in KEY
        and not c.endswith("_std")
        and c not in metric_cols
        and c not in COSTS
        and c not in ("task", "status", "error", "n_seeds", "n_failed", "ensemble_of")
    )
    ordered = [*KEY, "task", "status", "n_seeds", "n_failed"]
    for c in metric_cols + others + [c for c in COSTS if c in frame]:
        ordered += [c] + ([f"{c}_std"] if f"{c}_std" in frame else [])
    frame = frame[[*ordered, "ensemble_of", "error"]]
    frame = frame.sort_values(
        ["dataset", "profile", "accuracy", "experiment"],
        ascending=[True, True, False, True],
        na_position="last",
    ).reset_index(drop=True)
    # Columns that plugins' metrics filled: the Markdown table shows them after the builtins.
    plugin_metrics = {c for r in latest.values() for c in r.get("plugin_metrics", ())}
    frame.attrs["plugin_metrics"] = sorted(c for c in plugin_metrics if c in frame)
    return frame


def _ensemble_of(runs: list[dict[str, Any]]) -> str:
    """What an ensemble row combines (``seeds 0,1,2`` or ``a + b (mean)``); empty for an
    experiment."""
    ensemble = next((r["ensemble"] for r in runs if "ensemble" in r), None)
    if not ensemble:
        return ""
    if ensemble.get("kind") == "seeds":
        return "seeds " + ",".join(str(s) for s in ensemble.get("seeds", []))
    return " + ".join(ensemble.get("members", [])) + f" ({ensemble.get('rule', '?')})"


def _costs(result: dict[str, Any]) -> dict[str, Any]:
    cost = result.get("cost", {})
    return {k: cost.get(k) for k in COSTS}


@dataclass
class Cell:
    """One table cell: its text, shown strong (bold) or as code (names)."""

    text: str
    strong: bool = False
    code: bool = False


@dataclass
class SectionTable:
    """The leaderboard rows of one data set and profile, formatted for reading."""

    dataset: str
    profile: str
    task: str
    header: list[str]
    rows: list[list[Cell]]
    #: Per row: the error of a failed row ("" otherwise); its other cells are empty.
    errors: list[str]


def section_tables(frame: pd.DataFrame) -> list[SectionTable]:
    """One table per data set and profile; each metric cell the mean over seeds with its
    95 % interval ``0.775 [0.70, 0.84]`` where :mod:`genrebench.stats` gave one, else
    ``mean ± std`` over seeds; a ``vs best`` column where rows were compared."""
    with_marks = "significance" in frame.columns
    tables = []
    for (ds, prof), part in frame.groupby(["dataset", "profile"], sort=True):
        shown = [c for c in MARKDOWN_METRICS if c in part and part[c].notna().any()]
        shown += [
            c
            for c in frame.attrs.get("plugin_metrics", ())
            if c not in shown and part[c].notna().any()
        ]
        task = part["task"].dropna().iloc[0] if part["task"].notna().any() else ""
        titles = [
            "subset accuracy"
            if c == "accuracy" and task == "multi-label"
            else MARKDOWN_TITLES.get(c, c)
            for c in shown
        ]
        marks = ["vs best"] if with_marks else []
        header = ["experiment", *marks, *titles, "train s", "infer ms/track", "params", "seeds"]
        groups = _group_letters(part) if with_marks else {}
        rows, errors = [], []
        for _, row in part.iterrows():
            name = Cell(str(row["experiment"]), code=True)
            if row["status"] == "failed":
                rows.append([name] + [Cell("")] * (len(header) - 1))
                errors.append(str(row["error"]))
                continue
            bold = with_marks and row.get("significance") in ("best", "tied")
            cells = [name]
            cells += [Cell(_versus_best(row, groups))] if with_marks else []
            cells += [Cell(_mean_std(row, c), strong=bold and c == "accuracy") for c in shown]
            cells += [
                Cell(_num(row.get("train_seconds"), "{:.1f}")),
                Cell(_num(row.get("inference_seconds_per_track", math.nan) * 1000, "{:.2f}")),
                Cell(_num(row.get("n_parameters"), "{:,.0f}")),
                Cell(_seeds_cell(row)),
            ]
            rows.append(cells)
            errors.append("")
        tables.append(SectionTable(str(ds), str(prof), str(task), header, rows, errors))
    return tables


def legend(frame: pd.DataFrame) -> list[str]:
    """The paragraphs that explain the tables' notation."""
    with_ci = any(c.endswith("_ci_low") for c in frame.columns)
    lines = [
        "Per-track metrics (see the README for their exact definitions), mean over seeds. "
        + (
            "`0.775 [0.70, 0.84]`: the mean and its 95 % bootstrap interval over test tracks "
            "and seeds (bounds rounded outwards); `±`: the standard deviation over seeds "
            "where there is no interval. "
            if with_ci
            else "`±`: the standard deviation over seeds. "
        )
        + "Rows are sorted by accuracy."
    ]
    if "significance" in frame.columns:
        lines.append(
            "**vs best**: rows on the same test tracks are compared with the most accurate "
            "one (paired bootstrap of the accuracy difference, Holm-corrected); **bold** "
            "accuracy: the best row and every row not significantly different from it "
            "(p >= 0.05); `p=` the corrected p-value. Where a section holds rows on different "
            "test tracks (another split), each set is compared on its own (letters A, B). "
            "McNemar's test is in the CSV/JSON; `genrebench compare A B` prints both in full."
        )
    return lines


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-readable page: the legend, then one table per data set and profile."""
    if frame.empty:
        return "# genrebench leaderboard\n\nNo results.\n"
    lines = ["# genrebench leaderboard", ""]
    for paragraph in legend(frame):
        lines += [paragraph, ""]
    for table in section_tables(frame):
        lines += [
            f"## {table.dataset} ({table.task}, profile `{table.profile}`)",
            "",
            "| " + " | ".join(table.header) + " |",
            "|" + "---|" * len(table.header),
        ]
        for cells, error in zip(table.rows, table.errors, strict=True):
            texts = [_markdown(c) for c in cells]
            if error:
                texts[1] = "**failed**: " + error.replace("|", "/")[:120]
            lines.append("| " + " | ".join(texts) + " |")
        lines.append("")
    return "\n".join(lines)


def _seeds_cell(row: pd.Series) -> str:
    of = str(row.get("ensemble_of") or "")
    if of.startswith("seeds "):  # one seed ensemble, of several seeds
        return f"ensemble of {len(of.removeprefix('seeds ').split(','))}"
    return f"{row['n_seeds']}" + (f" ({row['n_failed']} failed)" if row["n_failed"] else "")


def _markdown(cell: Cell) -> str:
    text = f"`{cell.text}`" if cell.code else cell.text
    return f"**{text}**" if cell.strong and text else text


def _num(value: Any, fmt: str) -> str:
    try:
        return "–" if value is None or math.isnan(float(value)) else fmt.format(float(value))
    except (TypeError, ValueError):
        return "–"


def interval_text(low: float, high: float) -> str:
    """``[low, high]`` to two decimals, rounded outwards: the printed interval always holds
    the computed one (and so any estimate inside it, which is shown to three decimals)."""
    return f"[{math.floor(low * 100 + 1e-9) / 100:.2f}, {math.ceil(high * 100 - 1e-9) / 100:.2f}]"


def _mean_std(row: pd.Series, column: str) -> str:
    mean, std = row.get(column), row.get(f"{column}_std")
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    text = _num(mean, "{:.3f}")
    if text == "–":
        return text
    if _num(low, "{}") != "–" and _num(high, "{}") != "–":
        return f"{text} {interval_text(float(low), float(high))}"
    if std is not None and not math.isnan(float(std)):
        text += f" ± {float(std):.3f}"
    return text


def _group_letters(part: pd.DataFrame) -> dict[float, str]:
    """A letter per comparison group when a section has several (rows on other test
    tracks are compared among themselves), else nothing."""
    numbers = [g for g in dict.fromkeys(part.get("comparison_group", [])) if g == g]
    return {g: f" {chr(65 + i)}" for i, g in enumerate(numbers)} if len(numbers) > 1 else {}


def _versus_best(row: pd.Series, groups: dict[float, str]) -> str:
    mark = row.get("significance") or ""
    p = _p_value(row.get("p_vs_best_holm"))
    letter = groups.get(row.get("comparison_group"), "")
    return {"best": f"best{letter}", "tied": f"≈{letter} ({p})", "worse": f"{p}{letter}"}.get(
        mark, "–"
    )


def _p_value(value: Any) -> str:
    if _num(value, "{}") == "–":
        return "–"
    return "p<0.001" if float(value) < 0.001 else f"p={float(value):.3f}"


def write(frame: pd.DataFrame, out: Path) -> list[Path]:
    """``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.json`` in ``out`` (UTF-8;
    the undecodable bytes of a non-UTF-8 file name in an error message become ``\\xNN``)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "leaderboard.md", out / "leaderboard.csv", out / "leaderboard.json"]
    frame = frame.map(utf8_text)  # a small frame
    paths[0].write_text(to_markdown(frame), encoding="utf-8")
    frame.to_csv(paths[1], index=False, float_format="%.6g", encoding="utf-8")
    records = json.loads(frame.to_json(orient="records", double_precision=6))
    paths[2].write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    return paths
