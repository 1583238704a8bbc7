"""k-fold cross-validation: the folds of one seed pooled into that seed's result.

With ``--split kfold --folds K`` (suite: ``split = "kfold"``, ``folds = K``) every
experiment x data set x seed runs as K jobs, fold ``k`` in ``<seed folder>/fold-<k>/``
(:func:`genrebench.results.outputs.job_folder`), each with the full files of a job.  Fold ``k``
tests on fold ``k`` of a stratified, seeded (``--split-seed``) assignment of every track to
one of K folds, validates on fold ``k + 1 (mod K)`` and trains on the other K - 2
(:func:`genrebench.dataset.kfold_split`), so over the folds of a seed every track is tested
exactly once and validated exactly once.

Once every fold of a seed finished, :func:`pool_folds` writes the seed's **pooled result**
in the seed folder itself, the files of a job:

* ``predictions.csv``, ``valid_predictions.csv``, ``segment_predictions.csv``: the folds'
  files concatenated (fold 0 first);
* ``predictions_calibrated.csv``: each fold's calibrator applied to its own fold's test
  tracks, concatenated (only when every fold's calibrator was fitted);
* ``metrics.json`` with ``"fold": null, "folds": K``: every registered metric recomputed on
  the concatenated predictions (not an average of the folds), ``<metric>_calibrated`` on
  the concatenated calibrated ones, ``temperature`` (and any numeric calibrator parameter)
  the mean of the folds' fitted values, and ``fold_metrics``: per fold ``{"fold",
  "config_hash", "n_train_tracks", "n_valid_tracks", "n_test_tracks", "n_test_tracks_lost",
  "metrics"}``; ``evaluation_set`` and ``split_sha256`` are those of the union of the folds'
  planned parts; costs are the folds' sums (inference per track: the folds' total over
  their tracks);
* ``provenance.json``, ``per_class.csv``, ``confusion_matrix.csv``, ``reliability.json`` of
  the pooled predictions.

The leaderboard and the seed ensembles (:mod:`genrebench.run.ensembles`) use the pooled result
as the seed's result; fold results are never counted as seeds.  A seed with a failed fold
gets a failed pooled result naming the fold.  On resume, finished folds are reused, and the
pooled result too when every fold was.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genrebench.evaluation.calibration import Calibrated
from genrebench.results import outputs
from genrebench.results.provenance import config_hash, environment, jsonable
from genrebench.run import stages
from genrebench.run.ensembles import MemberError, load
from genrebench.run.jobfiles import evaluation_set, lost_tracks, save_job_files
from genrebench.run.planning import Job
from genrebench.run.progress import announce

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.run.runner import Runner

#: Cost columns that add up over folds.
SUMMED_COSTS = ("feature_seconds", "train_seconds")


def pool_folds(
    runner: Runner, jobs: Sequence[Job], results: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``results`` (one per job) with the results of each seed's folds replaced by that
    seed's pooled result (saved in the seed folder), in the place of its first fold."""
    groups: dict[tuple[str, str, int], list[tuple[Job, dict[str, Any]]]] = {}
    order: list[Any] = []
    for job, result in zip(jobs, results, strict=True):
        if job.fold is None:
            order.append(result)
            continue
        key = (job.experiment.name, job.dataset, job.seed)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((job, result))
    out = []
    for item in order:
        if isinstance(item, dict):
            out.append(item)
            continue
        result = pool_seed(runner, groups[item])
        reused = " (finished earlier, reused)" if result.get("reused") else ""
        first = groups[item][0][0]
        label = f"[pooled] {type(first)(first.experiment, first.dataset, first.seed).label()}"
        folds = f", {result['folds']} folds" if result["status"] == "ok" else ""
        # After its folds' calls: the seed's pooled result, from the seed folder.
        folder = outputs.result_folder(runner.options.out, result)
        announce(runner.registry, label, result, folder, done=folds, after=reused)
        out.append(result)
    return out


def pool_seed(runner: Runner, folds: Sequence[tuple[Job, dict[str, Any]]]) -> dict[str, Any]:
    """The pooled result of one seed's fold jobs and results (saved in the seed folder)."""
    first = folds[0][0]
    seed_job = Job(first.experiment, first.dataset, first.seed)
    folder = runner.job_dir(seed_job)
    config = runner.job_config(seed_job)
    digest = config_hash(config)
    fold_hashes = [r.get("config_hash") for _, r in folds]
    with outputs.job_lock(folder):
        earlier = outputs.read_json(folder / "metrics.json")
        if (
            all(r.get("reused") for _, r in folds)
            and earlier
            and earlier.get("status") == "ok"
            and earlier.get("config_hash") == digest
            and earlier.get("fold_config_hashes") == fold_hashes
        ):
            return {**earlier, "reused": True}
        started = time.perf_counter()
        base = runner._result_base(seed_job, digest)
        provenance: dict[str, Any] = {"config": jsonable(config), "config_hash": digest}
        failed = [(job, r) for job, r in folds if r.get("status") != "ok"]
        if failed:
            reasons = "; ".join(f"fold {job.fold} failed: {r.get('error')}" for job, r in failed)
            result = {**base, "status": "failed", "error": reasons}
        else:
            try:
                body, provenance_body = _pool(runner, folds, folder)
                result = {**base, "status": "ok", **body, "fold_config_hashes": fold_hashes}
                provenance.update(provenance_body)
            except Exception as exc:  # a damaged fold folder fails the seed, not the run
                error = f"pooling the folds failed: {type(exc).__name__}: {exc}"
                result = {**base, "status": "failed", "error": error}
        provenance["wall_seconds"] = round(time.perf_counter() - started, 3)
        provenance["environment"] = environment()
        result.setdefault("cost", {})["total_seconds"] = round(
            sum(r.get("cost", {}).get("total_seconds") or 0.0 for _, r in folds)
            + provenance["wall_seconds"],
            3,
        )
        return runner._save(folder, result, provenance)


def _pool(
    runner: Runner, folds: Sequence[tuple[Job, dict[str, Any]]], folder: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body of the pooled ``metrics.json`` and ``provenance.json``; writes the pooled
    prediction files into ``folder``."""
    first_job, first = folds[0]
    task, classes = first["task"], list(first["classes"])
    thresholds = {float(r.get("threshold", 0.5)) for _, r in folds}
    threshold = thresholds.pop() if len(thresholds) == 1 else 0.5
    parts = [_read_fold(runner.job_dir(job), r, task, classes) for job, r in folds]
    test_ids = [t for p in parts for t in p["test_ids"]]
    if len(set(test_ids)) != len(test_ids):
        raise ValueError("a track was tested in two folds: the fold folders do not match")
    y_test = np.concatenate([p["y_test"] for p in parts])
    test_probs = np.concatenate([p["test_probs"] for p in parts])
    valid_ids, y_valid, valid_probs = [], None, None
    if all(p["valid_probs"] is not None for p in parts):
        valid_ids = [t for p in parts for t in p["valid_ids"]]
        y_valid = np.concatenate([p["y_valid"] for p in parts])
        valid_probs = np.concatenate([p["valid_probs"] for p in parts])
    position = {t: i for i, t in enumerate(test_ids)}
    owner = np.concatenate([[position[t] for t in p["segment_ids"]] for p in parts]).astype(int)
    segment_probs = np.concatenate([p["segment_probs"] for p in parts])
    predictions = stages.Predictions(
        classes=classes,
        task=task,
        test_ids=test_ids,
        y_test=y_test,
        test_probs=test_probs,
        test_segment_probs=segment_probs,
        owner_test=owner,
        valid_ids=valid_ids,
        y_valid=y_valid,
        valid_probs=valid_probs,
        threshold=threshold,
        inference_seconds=0.0,
    )
    calibrated = _pooled_calibration(folds, parts, test_probs)
    specs = runner.registry.specs("metrics")
    metrics = stages.compute_metrics(specs, task, y_test, test_probs, threshold)
    metrics |= stages.extra_accuracies(first_job.experiment, task, segment_probs, owner, y_test)
    metrics |= stages.calibrated_columns(specs, task, predictions, calibrated)
    (folder / "metrics.json").unlink(missing_ok=True)
    outputs.remove_stale(folder, save_job_files(folder, predictions, calibrated))

    # The planned parts of every fold (deterministic: the folds' own configuration).
    dataset = runner.dataset(first_job)
    planned = [
        stages.plan_split(
            dataset,
            runner.split_request(job.experiment),
            runner.options.split_seed,
            runner.budget(job.experiment),
            runner.options.protocol,
            job.fold,
        )
        for job, _ in folds
    ]
    union = {
        part: sorted({t for split, _ in planned for t in split.part(part)})
        for part in ("train", "valid", "test")
    }
    caps = dict(planned[0][1])
    caps["tracks_removed"] = {
        part: sum(c["tracks_removed"].get(part, 0) for _, c in planned)
        for part in caps["tracks_removed"]
    }
    costs = [r.get("cost", {}) for _, r in folds]
    n_test = [r.get("n_test_tracks", 0) for _, r in folds]
    per_track = [c.get("inference_seconds_per_track") for c in costs]
    fold_provenance = [p["provenance"] for p in parts]
    skipped = {}
    for prov in fold_provenance:
        skipped.update({s["track_id"]: s for s in prov.get("skipped_tracks", [])})
    sha = {part: stages.split_checksum(ids) for part, ids in union.items()}
    body = {
        "task": task,
        "classes": classes,
        "aggregation": first.get("aggregation"),
        "threshold": threshold,
        "split": first.get("split"),
        "split_sha256": sha,
        "evaluation_set": evaluation_set(union["test"]),
        # Ids read back from the CSV files are escaped as outputs.utf8_text writes them.
        **lost_tracks([outputs.utf8_text(t) for t in union["test"]], test_ids),
        "caps": caps,
        "n_train_tracks": round(float(np.mean([r.get("n_train_tracks", 0) for _, r in folds]))),
        "n_valid_tracks": len(valid_ids),
        "n_test_tracks": len(test_ids),
        "n_skipped_tracks": len(skipped),
        "metrics": metrics,
        "cost": {
            **{k: round(sum(c.get(k) or 0.0 for c in costs), 3) for k in SUMMED_COSTS},
            "inference_seconds_per_track": None
            if any(v is None for v in per_track)
            else float(np.dot(per_track, n_test) / max(sum(n_test), 1)),
            "n_parameters": costs[0].get("n_parameters"),
        },
        "calibration": {
            **calibrated.report(),
            "folds": [r.get("calibration", {}) for _, r in folds],
        },
        "plugin_metrics": first.get("plugin_metrics", []),
        "fold_metrics": [
            {
                "fold": job.fold,
                "config_hash": r.get("config_hash"),
                **{
                    key: r.get(key)
                    for key in (
                        "n_train_tracks",
                        "n_valid_tracks",
                        "n_test_tracks",
                        "n_test_tracks_lost",
                    )
                },
                "metrics": r.get("metrics", {}),
            }
            for job, r in folds
        ],
    }
    provenance = {
        "split": {
            "protocol": runner.options.protocol,
            "scheme": first.get("split"),
            "split_seed": runner.options.split_seed,
            "fold": None,
            "folds": len(folds),
            "note": fold_provenance[0].get("split", {}).get("note", ""),
            "holdout_valid": False,
            **{part: len(ids) for part, ids in union.items()},
            "sha256": sha,
            "pooled": "the union of the folds' parts; per fold in fold-<k>/provenance.json",
        },
        "caps": caps,
        "skipped_tracks": list(skipped.values()),
        "dataset_notes": fold_provenance[0].get("dataset_notes", []),
        "plugins": fold_provenance[0].get("plugins", {}),
        "folds": [str(runner.job_dir(job)) for job, _ in folds],
    }
    return body, provenance


def _read_fold(folder: Path, result: dict[str, Any], task: str, classes: list[str]) -> dict:
    """One fold's saved predictions (test, validation, calibrated test, segments) and
    provenance."""
    try:
        saved = load(f"fold {result.get('fold')}", folder, result.get("config_hash"))
    except MemberError as exc:
        raise ValueError(str(exc)) from None
    calibrated = None
    if (folder / "predictions_calibrated.csv").exists():
        ids, _, calibrated = outputs.read_predictions(
            folder / "predictions_calibrated.csv", classes, task
        )
        if ids != saved.test_ids:
            raise ValueError(f"{folder / 'predictions_calibrated.csv'} lists other tracks")
    segment_ids, segment_probs = saved.test_ids, saved.test_probs
    if (folder / "segment_predictions.csv").exists():
        segment_ids, _, segment_probs = outputs.read_predictions(
            folder / "segment_predictions.csv", classes, task, per_segment=True
        )
    return {
        "test_ids": saved.test_ids,
        "y_test": saved.y_test,
        "test_probs": saved.test_probs,
        "valid_ids": saved.valid_ids,
        "y_valid": saved.y_valid,
        "valid_probs": saved.valid_probs,
        "calibrated": calibrated,
        "segment_ids": segment_ids,
        "segment_probs": segment_probs,
        "provenance": outputs.read_json(folder / "provenance.json") or {},
    }


def _pooled_calibration(
    folds: Sequence[tuple[Job, dict[str, Any]]], parts: Sequence[dict], test_probs: np.ndarray
) -> Calibrated:
    """The folds' calibrated test probabilities concatenated, as one :class:`Calibrated`
    whose numeric parameters are the folds' means; skipped or failed (with the first
    fold's reason) unless every fold's calibrator was fitted."""
    reports = [r.get("calibration", {}) for _, r in folds]
    name = reports[0].get("calibrator", "temperature")
    for (job, _), report, part in zip(folds, reports, parts, strict=True):
        if report.get("status") != "ok" or part["calibrated"] is None:
            status = report.get("status") if report.get("status") != "ok" else "failed"
            reason = report.get("reason") or "its calibrated predictions are missing"
            return Calibrated(name, status or "skipped", f"fold {job.fold}: {reason}")
    numeric: dict[str, list[float]] = {}
    for report in reports:
        for key, value in report.get("params", {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                numeric.setdefault(key, []).append(float(value))
    params = {k: float(np.mean(v)) for k, v in numeric.items() if len(v) == len(reports)}
    probs = np.concatenate([p["calibrated"] for p in parts])
    if probs.shape != test_probs.shape:
        raise ValueError(
            f"calibrated predictions of shape {probs.shape}, expected {test_probs.shape}"
        )
    n_valid = sum(int(r.get("n_valid_tracks", 0)) for r in reports)
    return Calibrated(name, "ok", "", params, probs, n_valid)
