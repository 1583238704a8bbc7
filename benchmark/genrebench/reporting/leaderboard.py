"""The unified leaderboard: one row per experiment x data set x profile, mean and standard
deviation over seeds, built from the ``metrics.json`` files of any set of runs."""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrebench.errors import ConfigError
from genrebench.results.outputs import AtomicFiles, read_json, utf8_text
from genrebench.results.provenance import config_hash

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
    "segment_temperature",
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
    "segment_temperature",
    "label_accuracy",
    "pr_auc",
    "accuracy_raw",
    "accuracy_vote",
]
#: Short Markdown titles of some columns.
#: ``temperature`` divides the per-track log-probabilities, ``segment_temperature`` each
#: segment's before the aggregation (genrebench.evaluation.calibration): never one column.
MARKDOWN_TITLES = {"temperature": "T", "segment_temperature": "T (segment)"}


def find_results(paths: Iterable[Path]) -> Results:
    """Every ``metrics.json`` under ``paths`` (folders searched recursively; a path may
    also name one ``metrics.json``), each with ``job_dir``: the folder holding it and the
    job's predictions; then :func:`select`-ed: one configuration per row, k-fold folds
    apart from seeds, and every job folder without a ``metrics.json`` reported."""
    results, missing = [], []
    for root in paths:
        root = Path(root)
        if root.name == "metrics.json" and not root.exists() and root.parent.is_dir():
            missing.append(root.parent)  # a planned job that left no result
            continue
        if not root.exists():
            raise ConfigError(f"run folder {root} does not exist")
        files = [root] if root.is_file() else sorted(root.rglob("metrics.json"))
        for file in files:
            try:
                result = json.loads(file.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{file} is not valid JSON: {exc}") from exc
            problem = result_problem(result)
            if problem is not None:
                raise ConfigError(f"{file} is not a job's metrics.json: {problem}")
            results.append({**result, "job_dir": str(file.parent)})
        if root.is_dir():
            missing += [
                folder
                for folder in sorted(root.rglob("seed-*"))
                if JOB_FOLDER.fullmatch(folder.name)
                and folder.is_dir()
                and not (folder / "metrics.json").exists()
            ]
    return select(results, missing_folders=missing)


#: The name of a seed's job folder (a seed ensemble's is ``seed-ensemble``).
JOB_FOLDER = re.compile(r"seed-\d+")
#: ``protocol`` of a result that does not record one (written before protocols existed).
UNRECORDED = ""


class Results(list):
    """The results a leaderboard is built from (each a ``metrics.json`` with ``job_dir``),
    as :func:`select` chose them, and what it found along the way:

    * ``folds``: per row key and seed, the k-fold fold results (``fold`` set) of that
      seed's pooled result; never rows or seeds themselves;
    * ``left_out``: one sentence per set of results of another configuration than the one
      a row shows (stale seeds of an earlier run, a folder copied from elsewhere);
    * ``problems``: per row key, why the row is incomplete (a seed whose ``metrics.json``
      is missing, folds that did not finish, test tracks lost), seed by seed.
    """

    def __init__(self, kept=(), folds=None, left_out=(), problems=None):
        super().__init__(kept)
        self.folds: dict[tuple, list[dict[str, Any]]] = dict(folds or {})
        self.left_out: list[str] = list(left_out)
        self.problems: dict[tuple, dict[Any, str]] = dict(problems or {})

    def note(self, key: tuple, seed: Any, reason: str) -> None:
        """Record why ``seed`` of row ``key`` is incomplete (the first reason per seed)."""
        self.problems.setdefault(key, {}).setdefault(seed, reason)


def row_key(result: dict[str, Any]) -> tuple[str, str, str, str]:
    """The leaderboard row a result belongs to: experiment, data set, profile, protocol."""
    protocol = result.get("protocol")
    return (
        result["experiment"],
        result["dataset"],
        result["profile"],
        protocol if isinstance(protocol, str) else UNRECORDED,
    )


def provenance_of(result: dict[str, Any]) -> dict[str, Any]:
    """The ``provenance.json`` beside a result (empty when there is none)."""
    if not result.get("job_dir"):
        return {}
    return read_json(Path(result["job_dir"]) / "provenance.json") or {}


def evaluation_set(
    result: dict[str, Any], provenance: dict[str, Any] | None = None, from_predictions=True
):
    """``(sha256, n_tracks)`` of the test tracks a result was planned to be evaluated on:
    its ``evaluation_set``; for results written before that field, the checksum of the
    split's test part in its provenance (a seed ensemble: its first member's); else the
    checksum of the track ids in its ``predictions.csv`` (unless ``from_predictions`` is
    false: what the job recorded only); ``None`` when none is known."""
    recorded = result.get("evaluation_set")
    if isinstance(recorded, dict) and isinstance(recorded.get("sha256"), str):
        return recorded["sha256"], _int(recorded.get("n_tracks"))
    split = (provenance if provenance is not None else provenance_of(result)).get("split", {})
    if not split and result.get("seed") == "ensemble" and result.get("job_dir"):
        seeds = (result.get("ensemble") or {}).get("seeds") or []
        if seeds:
            folder = Path(result["job_dir"]).parent / f"seed-{seeds[0]}"
            split = (read_json(folder / "provenance.json") or {}).get("split", {})
    test = (split.get("sha256") or {}).get("test") if isinstance(split, dict) else None
    if isinstance(test, str):
        return test, _int(split.get("test"))
    if from_predictions and result.get("status") == "ok" and result.get("job_dir"):
        try:
            frame = pd.read_csv(
                Path(result["job_dir"]) / "predictions.csv",
                usecols=["track_id"],
                dtype=str,
                keep_default_na=False,
            )
        except (OSError, ValueError):
            return None
        # lazy: loads scipy, sklearn, soundfile, soxr, not needed at import time
        from genrebench.run.stages import split_checksum

        ids = list(frame["track_id"])
        return split_checksum(ids), len(ids)
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def configuration(result: dict[str, Any], provenance: dict[str, Any] | None = None) -> str:
    """A hash of everything that defines a result's row except its seed (and fold): two
    seeds belong to one row only if these agree.  From the job's configuration in its
    provenance; for ensembles and results without provenance, from what ``metrics.json``
    records (ensemble members and rule, split, task, classes, version)."""
    config = (provenance if provenance is not None else provenance_of(result)).get("config")
    if isinstance(config, dict) and config:
        return config_hash({k: v for k, v in config.items() if k not in ("seed", "fold")})
    ensemble = dict(result.get("ensemble") or {})
    ensemble.pop("seeds", None)
    recorded = {
        k: result.get(k)
        for k in ("split", "split_seed", "folds", "task", "classes", "genrebench_version")
    }
    return config_hash({"ensemble": ensemble, **recorded})


def select(results: Iterable[dict[str, Any]], missing_folders: Iterable[Path] = ()) -> Results:
    """The results a leaderboard shows, as :class:`Results`.

    A row is experiment x data set x profile x protocol, and it shows ONE configuration
    (:func:`configuration` and the evaluation set's checksum): where results of several
    are found (seeds of an earlier run left in the same ``--out``, a job folder copied
    from another data set or split, two run folders of different runs), the rows keep the
    configuration of the most recently written result and the others are left out and
    reported.  Two results of one configuration and seed in two folders are refused
    (:class:`~genrebench.errors.ConfigError` naming both), as are two in memory never
    (the later one wins: a rerun).  Results with ``fold`` set are a k-fold seed's folds,
    kept apart.  ``missing_folders`` (seed folders without ``metrics.json``) make their
    row incomplete."""
    if isinstance(results, Results):
        return results
    out = Results()
    missing = [(Path(f), "") for f in missing_folders]
    results, found = [], list(results)
    for r in found:
        wrong = _misplaced(r)
        if wrong:
            out.left_out.append(wrong)
            missing.append((Path(r["job_dir"]), wrong))
        else:
            results.append(r)
    by_row: dict[tuple, list[tuple[int, dict[str, Any]]]] = {}
    for order, r in enumerate(results):
        if r.get("fold") is not None:
            continue
        by_row.setdefault(row_key(r), []).append((order, r))
    kept_by_row: dict[tuple, list[dict[str, Any]]] = {}
    for key, found in by_row.items():
        groups: dict[tuple, list[tuple[int, dict[str, Any]]]] = {}
        for order, r in found:
            provenance = provenance_of(r)
            recorded = evaluation_set(r, provenance, from_predictions=False)
            r["_evaluation_set"] = recorded or evaluation_set(r, provenance)
            r["_configuration"] = configuration(r, provenance)
            identity = (r["_configuration"], (recorded or (None,))[0])
            groups.setdefault(identity, []).append((order, r))
        finished = [g for g in groups.values() if any(r["status"] == "ok" for _, r in g)]
        ranked = sorted(finished or groups.values(), key=_newest, reverse=True)
        head, others = list(ranked[0]), [list(g) for g in ranked[1:]]
        if finished:
            # A failed attempt that recorded no configuration of a finished one (a broken
            # plugin, an in-memory result) belongs to the row unless its seed has a result.
            seeds = {r["seed"] for _, r in head}
            for group in groups.values():
                if any(group is g for g in finished):
                    continue
                rest = [(o, r) for o, r in group if r["seed"] in seeds]
                head += [(o, r) for o, r in group if r["seed"] not in seeds]
                seeds |= {r["seed"] for _, r in group}
                others += [rest] if rest else []
        else:
            head += [x for g in others for x in g]
            others = []
        chosen = _one_per_seed(sorted(head, key=lambda x: x[0]))
        kept_by_row[key] = chosen
        out.extend(chosen)
        for other in others:
            out.left_out.append(_left_out_text(key, [r for _, r in other], chosen))
    position = {id(r): order for order, r in enumerate(results)}
    out.sort(key=lambda r: position[id(r)])
    # k-fold folds: kept apart, per row and seed (the pooled result is the seed's result)
    orphans: dict[tuple, list[dict[str, Any]]] = {}
    for r in results:
        if r.get("fold") is None:
            continue
        key = row_key(r)
        if any(x.get("seed") == r.get("seed") for x in kept_by_row.get(key, ())):
            out.folds.setdefault((key, r.get("seed")), []).append(r)
        else:
            orphans.setdefault((key, r.get("seed")), []).append(r)
    for (key, seed), folds in orphans.items():
        text = (
            f"seed {seed} has {len(folds)} fold result(s) but no pooled result (in "
            f"{Path(folds[0].get('job_dir') or '.').parent}): its folds did not all finish"
        )
        if key in kept_by_row:
            out.note(key, seed, text)
        else:
            out.left_out.append(f"left out: {key[0]} on {key[1]} (profile {key[2]}): {text}")
    for key, rows in kept_by_row.items():
        _check_completeness(out, key, rows)
    for folder, wrong in missing:
        siblings = [
            (k, r)
            for k, rows in kept_by_row.items()
            for r in rows
            if r.get("job_dir") and Path(r["job_dir"]).parent == folder.parent
        ]
        seed = folder.name.removeprefix("seed-")
        seed = int(seed) if seed.isdigit() else seed
        what = (
            "holds another row's result (a copied folder?)"
            if wrong
            else "has no metrics.json (an interrupted or lost job: run it again to resume)"
        )
        if siblings:
            out.note(siblings[0][0], seed, f"seed {seed}'s folder {folder} {what}")
        elif not wrong:
            out.left_out.append(f"{folder} {what}; no other seed of its row was found")
    return out


def _misplaced(result: dict[str, Any]) -> str:
    """Why a result is not in a folder of its own row (a job folder copied from another
    data set or seed), or ""."""
    if not result.get("job_dir"):
        return ""
    folder = Path(result["job_dir"])
    fold, seed = result.get("fold"), result["seed"]
    if fold is not None:
        expected, where = f"fold-{fold}", folder.parent
    else:
        expected, where = ("seed-ensemble" if seed == "ensemble" else f"seed-{seed}"), folder
    job_like = re.fullmatch(r"seed-(\d+|ensemble)|fold-\d+", folder.name)
    if not job_like:
        return ""
    if folder.name == expected and result["dataset"] in where.parts:
        return ""
    return (
        f"left out: {folder} holds the result of {result['experiment']} on "
        f"{result['dataset']} (profile {result['profile']}) seed {seed}"
        + (f" fold {fold}" if fold is not None else "")
        + ", which belongs to another folder (a copied folder?)"
    )


def _newest(group: list[tuple[int, dict[str, Any]]]) -> tuple:
    """Sort key of a configuration's results: the newest ``metrics.json``, then the most
    recently read (in memory: the later one), then the most seeds."""
    times = []
    for _, r in group:
        try:
            times.append(os.stat(Path(r["job_dir"]) / "metrics.json").st_mtime_ns)
        except (KeyError, TypeError, OSError):
            times.append(0)
    return (max(times), max(order for order, _ in group), len(group))


def _one_per_seed(group: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The results of one configuration, one per seed (the later one; in memory: a rerun);
    two finished results of one seed found in two folders are refused, naming both."""
    by_seed: dict[Any, dict[str, Any]] = {}
    for _, r in group:
        seed = r["seed"]
        earlier = by_seed.get(seed)
        if (
            earlier is not None
            and earlier["status"] == r["status"] == "ok"
            and earlier.get("job_dir")
            and r.get("job_dir")
            and Path(earlier["job_dir"]).resolve() != Path(r["job_dir"]).resolve()
        ):
            raise ConfigError(
                f"two results of {r['experiment']} on {r['dataset']} (profile "
                f"{r['profile']}) seed {seed} with the same configuration: "
                f"{earlier['job_dir']} and {r['job_dir']}; pass only one of the run "
                "folders (or remove one copy)"
            )
        by_seed[seed] = r
    return list(by_seed.values())


def _describe_configuration(results: list[dict[str, Any]]) -> str:
    first = results[0]
    seeds = ", ".join(str(r["seed"]) for r in results)
    where = sorted({str(Path(r["job_dir"])) for r in results if r.get("job_dir")})
    tracks = first.get("_evaluation_set")
    tested = f", {tracks[1]} test tracks" if tracks and tracks[1] is not None else ""
    text = f"seed{'s' if len(results) > 1 else ''} {seeds} (split {first.get('split', '?')}"
    text += f"{tested})"
    if where:
        text += (
            " in "
            + ", ".join(where[:3])
            + (f" and {len(where) - 3} more" if len(where) > 3 else "")
        )
    return text


def _left_out_text(key: tuple, other: list[dict[str, Any]], kept: list[dict[str, Any]]) -> str:
    exp, ds, prof, protocol = key
    return (
        f"left out: {exp} on {ds} (profile {prof}{_protocol_words(protocol, ', ')}): "
        f"{_describe_configuration(other)} ran with another configuration than the row's "
        f"{_describe_configuration(kept)}; its results are not averaged with them"
    )


def _protocol_words(protocol: str, before: str = "") -> str:
    return f"{before}{protocol} protocol" if protocol else ""


def _check_completeness(out: Results, key: tuple, rows: list[dict[str, Any]]) -> None:
    """Note what a row lost: seeds its seed ensemble lists but that were not found, a
    k-fold seed without all its folds, test tracks lost."""
    for r in rows:
        seed = r["seed"]
        lost = r.get("n_test_tracks_lost")
        if isinstance(lost, int) and lost > 0:
            ids = ", ".join(str(t) for t in (r.get("test_tracks_lost") or [])[:5])
            out.note(
                key,
                seed,
                f"seed {seed} lost {lost} of its planned test tracks"
                + (f" ({ids})" if ids else ""),
            )
        folds = r.get("folds")
        if r.get("status") == "ok" and isinstance(folds, int) and folds > 1:
            scores = fold_scores(r, out.folds.get((key, seed), []))
            if len(scores) < folds:
                out.note(key, seed, f"seed {seed} pooled {len(scores)} of {folds} folds")
    for r in rows:
        ensemble = r.get("ensemble") or {}
        if ensemble.get("kind") != "seeds" or r.get("status") != "ok":
            continue
        member = (ensemble.get("of") or "", *key[1:])
        have = {x["seed"] for x in out if row_key(x) == member and x.get("status") == "ok"}
        for seed in ensemble.get("seeds") or []:
            if seed not in have:
                out.note(
                    member,
                    seed,
                    f"seed {seed} is in the seed ensemble but its result was not found",
                )


def fold_scores(result: dict[str, Any], folds: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Per fold, the metrics of a k-fold seed's pooled ``result``: from its
    ``fold_metrics`` (each entry a fold's metrics, or ``{"fold": k, "metrics": {...}}``),
    else from the fold results found beside it, in fold order."""
    recorded = result.get("fold_metrics")
    entries = []
    if isinstance(recorded, list) and recorded:
        for position, entry in enumerate(recorded):
            if not isinstance(entry, dict):
                continue
            metrics = entry.get("metrics") if isinstance(entry.get("metrics"), dict) else entry
            fold = entry.get("fold", position)
            entries.append((fold if isinstance(fold, int) else position, metrics))
    else:
        entries = [(f["fold"], f.get("metrics") or {}) for f in folds if f.get("status") == "ok"]
    scores = []
    for _, metrics in sorted(entries, key=lambda e: e[0]):
        scores.append(
            {
                k: float(v)
                for k, v in metrics.items()
                if isinstance(v, int | float) and not isinstance(v, bool) and k != "fold"
            }
        )
    return scores


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
        if (
            key == "seed" and result[key] == "ensemble"
        ):  # a seed ensemble (genrebench.run.ensembles)
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


#: The columns that say which rows may be compared: rows of one ``section`` were planned to
#: be evaluated on the same test tracks (data set, task, profile and ``evaluation_set``,
#: the checksum of those tracks' sorted ids).
SECTION_COLUMNS = ["section", "protocol", "split", "n_test_tracks", "evaluation_set"]
#: The key of a row: one configuration of an experiment on a data set, profile, protocol.
ROW_KEY = ["experiment", "dataset", "profile", "protocol"]
#: Per-fold scores (``<metric>_folds``) are given for these metrics and plugins' metrics.
FOLD_METRICS = MARKDOWN_METRICS


def build(results: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Aggregate per-seed results into leaderboard rows, one per :func:`row_key` with the
    configuration :func:`select` keeps.

    Columns: ``<metric>`` = mean over seeds, ``<metric>_std`` = sample standard deviation,
    ``n_seeds``, ``n_failed``, ``status``; :data:`SECTION_COLUMNS`; ``incomplete`` (what
    the row lost, seed by seed; "" when nothing); for k-fold rows ``n_folds`` and
    ``<metric>_folds`` (the per-fold scores, each the mean over seeds of that fold, as a
    list); ``configuration`` (the hash of the row's configuration without the seed)."""
    chosen = select(results)
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in chosen:
        groups.setdefault(row_key(r), []).append(r)
    plugin_metrics = {c for r in chosen for c in r.get("plugin_metrics", ())}
    rows = []
    for key, runs in sorted(groups.items()):
        runs = sorted(runs, key=lambda r: str(r["seed"]))
        exp, ds, prof, protocol = key
        ok = [r for r in runs if r["status"] == "ok"]
        failed = [r for r in runs if r["status"] != "ok"]
        sets = Counter(tuple(r["_evaluation_set"]) for r in ok + failed if r.get("_evaluation_set"))
        found = sets.most_common(1)[0][0] if sets else None
        row: dict[str, Any] = {
            "experiment": exp,
            "dataset": ds,
            "profile": prof,
            "protocol": protocol,
            "split": next((str(r["split"]) for r in ok + failed if r.get("split")), ""),
            "n_test_tracks": found[1] if found and found[1] is not None else math.nan,
            "evaluation_set": found[0] if found else "",
            "task": ok[0]["task"] if ok else "",
            "n_seeds": len(ok),
            "n_failed": len(failed),
        }
        row["status"] = "ok" if not failed else ("failed" if not ok else "partly failed")
        # Escaped here already: pandas 3 with pyarrow refuses surrogates (file names).
        row["error"] = utf8_text(failed[0].get("error", "")) if failed else ""
        row["ensemble_of"] = _ensemble_of(runs)
        row["configuration"] = runs[0].get("_configuration", "")
        problems = chosen.problems.get(key, {})
        row["incomplete"] = "; ".join(problems[s] for s in sorted(problems, key=str))
        # Why cells of a metric that raised are empty (naming the metric and its plugin).
        row["metric_errors"] = "; ".join(
            sorted({why for r in ok for why in r.get("metric_errors", {}).values()})
        )
        columns: dict[str, list[float]] = {}
        for r in ok:
            for name, value in {**r["metrics"], **_costs(r)}.items():
                if value is not None:
                    columns.setdefault(name, []).append(float(value))
        for name, values in columns.items():
            arr = np.asarray(values, dtype=float)
            row[name] = float(np.nanmean(arr)) if np.isfinite(arr).any() else math.nan
            row[f"{name}_std"] = float(np.nanstd(arr, ddof=1)) if len(arr) > 1 else math.nan
        row.update(
            _fold_columns(ok, [chosen.folds.get((key, r["seed"]), []) for r in ok], plugin_metrics)
        )
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(
            columns=[*KEY, *SECTION_COLUMNS[1:], "task", "status", *MAIN_METRICS[:5]]
        )
        frame.insert(0, "section", pd.Series(dtype=str))
        frame.attrs.update(plugin_metrics=[], left_out=list(chosen.left_out))
        return frame
    for name in MAIN_METRICS[:5]:
        if name not in frame:
            frame[name] = math.nan
    frame = _assign_sections(frame)
    bookkeeping = {
        "task", "status", "error", "n_seeds", "n_failed", "ensemble_of", "incomplete",
        "configuration", "n_folds", "_order", "metric_errors", *SECTION_COLUMNS,
    }  # fmt: skip
    metric_cols = [c for c in MAIN_METRICS if c in frame]
    others = sorted(
        c
        for c in frame
        if c not in KEY
        and c not in bookkeeping
        and not c.endswith(("_std", "_folds"))
        and c not in metric_cols
        and c not in COSTS
    )
    ordered = [*KEY, *SECTION_COLUMNS, "task", "status", "incomplete", "n_seeds", "n_failed"]
    for c in metric_cols + others + [c for c in COSTS if c in frame]:
        ordered += [c] + ([f"{c}_std"] if f"{c}_std" in frame else [])
    folds = [c for c in frame if c.endswith("_folds") and c != "n_folds"]
    ordered += (["n_folds"] if "n_folds" in frame else []) + folds
    frame = _sorted(
        frame[[*ordered, "ensemble_of", "configuration", "error", "metric_errors", "_order"]]
    )
    # Columns that plugins' metrics filled: the Markdown table shows them after the builtins.
    frame.attrs["plugin_metrics"] = sorted(c for c in plugin_metrics if c in frame)
    frame.attrs["left_out"] = list(chosen.left_out)
    return frame


def _fold_columns(
    ok: list[dict[str, Any]], folds: list[list[dict[str, Any]]], plugin_metrics: set[str]
) -> dict[str, Any]:
    """``n_folds`` and ``<metric>_folds`` of a k-fold row: per fold, the mean over seeds."""
    per_seed = [fold_scores(r, f) for r, f in zip(ok, folds, strict=True) if r.get("folds")]
    per_seed = [s for s in per_seed if s]
    if not per_seed:
        return {}
    n_folds = max(len(s) for s in per_seed)
    out: dict[str, Any] = {"n_folds": n_folds}
    names = [
        m
        for m in [*FOLD_METRICS, *sorted(plugin_metrics)]
        if any(m in f for s in per_seed for f in s)
    ]
    for name in dict.fromkeys(names):
        values = []
        for k in range(n_folds):
            scores = [s[k][name] for s in per_seed if k < len(s) and name in s[k]]
            values.append(round(float(np.nanmean(scores)), 6) if scores else None)
        out[f"{name}_folds"] = values
    return out


PROTOCOL_ORDER = {"benchmark": 0, "paper": 1}


def _assign_sections(frame: pd.DataFrame) -> pd.DataFrame:
    """``section``: one label per data set, task, profile and evaluation set, naming the
    protocol(s), split(s) and number of test tracks (and the set's checksum where two
    sections would otherwise read the same).  A failed row without an evaluation set joins
    the one section of its data set, profile and protocol, or else gets its own."""
    frame = frame.copy()
    tasks = frame[frame["task"] != ""].groupby("dataset")["task"].first().to_dict()
    frame["_task"] = [
        t or tasks.get(d, "") for t, d in zip(frame["task"], frame["dataset"], strict=True)
    ]
    known = frame[frame["evaluation_set"] != ""]
    for i in frame.index[frame["evaluation_set"] == ""]:
        same = known[
            (known["dataset"] == frame.at[i, "dataset"])
            & (known["profile"] == frame.at[i, "profile"])
            & (known["protocol"] == frame.at[i, "protocol"])
        ]
        if same["evaluation_set"].nunique() == 1:
            frame.at[i, "evaluation_set"] = same["evaluation_set"].iloc[0]
            frame.at[i, "n_test_tracks"] = same["n_test_tracks"].iloc[0]
    keys = ["dataset", "_task", "profile", "evaluation_set"]
    labels, order = {}, {}
    for key, part in frame.groupby(keys, sort=False, dropna=False):
        protocols = sorted(set(part["protocol"]), key=lambda p: (PROTOCOL_ORDER.get(p, 2), p))
        splits = sorted({s for s in part["split"] if s})
        n = part["n_test_tracks"].dropna()
        words = [
            str(key[0]),
            f"profile {key[2]}",
            " + ".join(f"{p} protocol" if p else "protocol not recorded" for p in protocols),
            " + ".join(splits) or "split not recorded",
            f"{int(n.iloc[0])} test tracks" if len(n) and key[3] else "test tracks unknown",
        ]
        labels[key] = words
        order[key] = (
            str(key[0]),
            str(key[2]),
            min(PROTOCOL_ORDER.get(p, 2) for p in protocols),
            0 if key[3] else 1,
            -(int(n.iloc[0]) if len(n) else 0),
            str(key[3]),
        )
    plain = {k: " · ".join(w) for k, w in labels.items()}
    texts = {
        k: " · ".join([*words, f"test set {str(k[3])[:8]}"])
        if k[3] and list(plain.values()).count(plain[k]) > 1
        else plain[k]
        for k, words in labels.items()
    }
    section_keys = list(zip(*(frame[c] for c in keys), strict=True))
    frame["section"] = [texts[k] for k in section_keys]
    frame["_order"] = [order[k] for k in section_keys]
    return frame.drop(columns="_task")


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Sections in order (data set, profile, benchmark protocol first, most test tracks
    first), rows by accuracy within each, then by name."""
    rank = {k: i for i, k in enumerate(sorted(set(frame["_order"])))}
    frame = frame.assign(
        _rank=frame["_order"].map(rank),
        _accuracy=-frame["accuracy"].astype(float).fillna(-math.inf),
    )
    frame = frame.sort_values(["_rank", "_accuracy", "experiment"], kind="stable")
    return frame.drop(columns=["_order", "_rank", "_accuracy"]).reset_index(drop=True)


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
    """One table cell: its text, shown strong (bold) or as code (names), and a plain
    ``suffix`` after it (`` (incomplete)`` after a name)."""

    text: str
    strong: bool = False
    code: bool = False
    suffix: str = ""


@dataclass
class SectionTable:
    """The leaderboard rows of one section (one data set, profile and set of test tracks),
    formatted for reading."""

    dataset: str
    profile: str
    task: str
    header: list[str]
    rows: list[list[Cell]]
    #: Per row: the error of a failed row ("" otherwise); its other cells are empty.
    errors: list[str]
    #: The section's label (:func:`build`'s ``section`` column): data set, profile,
    #: protocol, split and number of test tracks.
    section: str = ""
    #: Sentences to print under the table: what incomplete rows lost, why rows are not
    #: ranked, which intervals rest on too few tracks.
    notes: list[str] = field(default_factory=list)


def section_tables(frame: pd.DataFrame) -> list[SectionTable]:
    """One table per section (rows on one set of test tracks), in the frame's order; each
    metric cell the mean over seeds with its 95 % interval ``0.775 [0.70, 0.84]`` where
    :mod:`genrebench.reporting.stats` gave one, else ``mean ± std`` over seeds; a ``vs best`` column
    where rows were compared."""
    with_marks = "significance" in frame.columns
    tables = []
    if "section" not in frame:  # a frame from before sections: one per data set and profile
        frame = frame.assign(section=frame["dataset"] + " · profile " + frame["profile"])
    for label, part in frame.groupby("section", sort=False):
        ds, prof = str(part["dataset"].iloc[0]), str(part["profile"].iloc[0])
        shown = [c for c in MARKDOWN_METRICS if c in part and part[c].notna().any()]
        shown += [
            c
            for c in frame.attrs.get("plugin_metrics", ())
            if c not in shown and part[c].notna().any()
        ]
        tasks = [t for t in part["task"].dropna() if t]
        task = tasks[0] if tasks else ""
        titles = [
            "subset accuracy"
            if c == "accuracy" and task == "multi-label"
            else MARKDOWN_TITLES.get(c, c)
            for c in shown
        ]
        marks = ["vs best"] if with_marks else []
        header = ["experiment", *marks, *titles, "train s", "infer ms/track", "params", "seeds"]
        rows, errors = [], []
        for _, row in part.iterrows():
            incomplete = bool(_text(row.get("incomplete")))
            name = Cell(
                str(row["experiment"]), code=True, suffix=" (incomplete)" if incomplete else ""
            )
            if row["status"] == "failed":
                rows.append([name] + [Cell("")] * (len(header) - 1))
                errors.append(str(row["error"]))
                continue
            bold = with_marks and row.get("significance") in ("best", "tied")
            cells = [name]
            cells += [Cell(_versus_best(row))] if with_marks else []
            cells += [Cell(_mean_std(row, c), strong=bold and c == "accuracy") for c in shown]
            cells += [
                Cell(_num(row.get("train_seconds"), "{:.1f}")),
                Cell(_num(row.get("inference_seconds_per_track", math.nan) * 1000, "{:.2f}")),
                Cell(_num(row.get("n_parameters"), "{:,.0f}")),
                Cell(_seeds_cell(row)),
            ]
            rows.append(cells)
            errors.append("")
        tables.append(
            SectionTable(ds, prof, str(task), header, rows, errors, str(label), _notes(part))
        )
    return tables


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _notes(part: pd.DataFrame) -> list[str]:
    """The sentences under a section's table: each incomplete row's losses, then the
    reasons rows were not ranked and the intervals' caveats, each said once."""
    notes = [
        f"`{row['experiment']}` is incomplete: {_text(row.get('incomplete'))}."
        for _, row in part.iterrows()
        if _text(row.get("incomplete"))
    ]
    for column in ("ranking_note", "interval_note"):
        if column not in part:
            continue
        said: dict[str, list[str]] = {}
        for _, row in part.iterrows():
            if _text(row.get(column)):
                said.setdefault(_text(row.get(column)), []).append(str(row["experiment"]))
        for text, names in said.items():
            who = "" if len(names) == len(part) else " (" + ", ".join(f"`{n}`" for n in names) + ")"
            notes.append(f"{text[0].upper()}{text[1:]}{who}.")
    return notes


def legend(frame: pd.DataFrame) -> list[str]:
    """The paragraphs that explain the tables' notation."""
    with_ci = any(c.endswith("_ci_low") for c in frame.columns)
    lines = [
        "Each section holds the rows evaluated on one set of test tracks (its heading names "
        "the data set, profile, protocol, split and number of test tracks); rows of "
        "different sections are never ranked or compared. Per-track metrics (see the "
        "README for their exact definitions), mean over seeds. "
        + (
            "`0.775 [0.70, 0.84]`: the mean and its 95 % bootstrap interval over test tracks "
            "and seeds (bounds rounded outwards, clipped to the metric's range); `±`: the "
            "standard deviation over seeds where there is no interval. "
            if with_ci
            else "`±`: the standard deviation over seeds. "
        )
        + "Rows are sorted by accuracy; *(incomplete)*: the row lost a seed's result or "
        "predictions, folds or test tracks (said under its table)."
    ]
    if "significance" in frame.columns:
        lines.append(
            "**vs best**: the rows of a section are compared with its most accurate one "
            "(paired bootstrap of the accuracy difference, Holm-corrected); **bold** "
            "accuracy: the best row and every row not significantly different from it "
            "(p >= 0.05); `p=` the corrected p-value; `–`: not ranked (the reason is under "
            "the table: seed ensembles, a section with an incomplete row or too few test "
            "tracks). McNemar's test is in the CSV/JSON; `genrebench compare A B` prints "
            "both in full."
        )
    return lines


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-readable page: the legend, then one table per section, then the results
    left out (another configuration)."""
    if frame.empty:
        return "# genrebench leaderboard\n\nNo results.\n"
    lines = ["# genrebench leaderboard", ""]
    for paragraph in legend(frame):
        lines += [paragraph, ""]
    for table in section_tables(frame):
        lines += [
            f"## {table.section} ({table.task})",
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
        lines += [f"- {note}" for note in table.notes] + ([""] if table.notes else [])
    failed_metrics = sorted({str(text) for text in frame.get("metric_errors", ()) if text})
    if failed_metrics:
        lines += ["Empty cells of metrics that failed:", ""]
        lines += [f"- {why}" for why in failed_metrics] + [""]
    left_out = frame.attrs.get("left_out") or []
    if left_out:
        lines += ["## Left out", ""] + [f"- {text}" for text in left_out] + [""]
    return "\n".join(lines)


def _seeds_cell(row: pd.Series) -> str:
    of = str(row.get("ensemble_of") or "")
    if of.startswith("seeds "):  # one seed ensemble, of several seeds
        return f"ensemble of {len(of.removeprefix('seeds ').split(','))}"
    return f"{row['n_seeds']}" + (f" ({row['n_failed']} failed)" if row["n_failed"] else "")


def _markdown(cell: Cell) -> str:
    text = f"`{cell.text}`" if cell.code else cell.text
    return (f"**{text}**" if cell.strong and text else text) + cell.suffix


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


def _versus_best(row: pd.Series) -> str:
    mark = row.get("significance") or ""
    p = _p_value(row.get("p_vs_best_holm"))
    return {"best": "best", "tied": f"≈ ({p})", "worse": p}.get(mark, "–")


def _p_value(value: Any) -> str:
    if _num(value, "{}") == "–":
        return "–"
    return "p<0.001" if float(value) < 0.001 else f"p={float(value):.3f}"


def write(frame: pd.DataFrame, out: Path, files: AtomicFiles | None = None) -> list[Path]:
    """``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.json`` in ``out`` (UTF-8;
    the undecodable bytes of a non-UTF-8 file name in an error message become ``\\xNN``),
    written as one set (:class:`genrebench.results.outputs.AtomicFiles`): all three new, or, when
    anything fails (a full disk), all three as they were.  Given ``files``, they are staged
    there, to be moved into place with the caller's other files (a report, a suite copy)."""
    if files is None:
        with AtomicFiles() as own:
            return write(frame, out, own)
    paths = [out / "leaderboard.md", out / "leaderboard.csv", out / "leaderboard.json"]
    frame = frame.map(utf8_text)  # a small frame
    files.write_text(paths[0], to_markdown(frame))
    files.write_with(
        paths[1],
        lambda tmp: frame.to_csv(tmp, index=False, float_format="%.6g", encoding="utf-8"),
    )
    records = json.loads(frame.to_json(orient="records", double_precision=6))
    files.write_text(paths[2], json.dumps(records, indent=2) + "\n")
    return paths
