"""Leaderboard rows of random models with known labels, for the statistics tests and
benchmarks: as :class:`genrebench.reporting.resampling.RowData`, or saved as job folders."""

from __future__ import annotations

import numpy as np

from genrebench.registry.loading import load_plugins
from genrebench.reporting import resampling


def make_row(
    task="single-label", n_seeds=2, n_tracks=40, n_classes=5, seed=0, skill=1.5, key=None, y=None
):
    """A row of ``n_seeds`` random models; ``skill`` raises the true class's logit.  The
    labels are drawn from ``seed`` unless given, so rows made with different seeds and the
    same ``y`` are paired on the same tracks."""
    rng = np.random.default_rng(seed)
    classes = [f"c{k}" for k in range(n_classes)]
    if task == "single-label":
        y = rng.integers(0, n_classes, n_tracks) if y is None else y
        logits = rng.normal(size=(n_seeds, n_tracks, n_classes))
        logits[:, np.arange(n_tracks), y] += skill
        # Quantise so that ties between tracks occur (ROC-AUC and AP must handle them).
        probs = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
        probs = np.round(probs, 2)
        probs = probs / probs.sum(axis=2, keepdims=True)
    else:
        if y is None:
            y = (rng.random((n_tracks, n_classes)) < 0.3).astype(np.int64)
        logits = rng.normal(size=(n_seeds, n_tracks, n_classes)) + skill * (2 * y - 1)
        probs = np.round(1 / (1 + np.exp(-logits)), 2)
    return resampling.RowData(
        key=key or ("exp", "data", "quick"),
        task=task,
        classes=classes,
        seeds=list(range(n_seeds)),
        track_ids=[f"t{i:03d}" for i in range(n_tracks)],
        y=y,
        probs=probs,
        thresholds=np.full(n_seeds, 0.5),
    )


def save_job(folder, row, s, config=None, **fields):
    """Seed index ``s`` of ``row`` as a finished job in ``folder``: predictions.csv, a
    metrics.json with the metrics computed from them (and ``fields``), and, given
    ``config`` (the job's configuration without its seed), a provenance.json holding it."""
    from genrebench.results import outputs
    from genrebench.run.stages import compute_metrics

    specs = load_plugins(autoload=False).specs("metrics")
    folder.mkdir(parents=True, exist_ok=True)
    seed = row.seeds[s]
    outputs.save_predictions(
        folder / "predictions.csv", row.track_ids, row.y, row.probs[s], row.classes, row.task
    )
    scores = compute_metrics(specs, row.task, row.y, row.probs[s], 0.5)
    result = {
        "experiment": row.key[0],
        "dataset": row.key[1],
        "profile": row.key[2],
        "seed": seed,
        "status": "ok",
        "task": row.task,
        "classes": row.classes,
        "threshold": 0.5,
        "n_test_tracks": len(row.track_ids),
        "metrics": scores,
        "cost": {},
        **fields,
    }
    if config is not None:
        outputs.write_json(folder / "provenance.json", {"config": {**config, "seed": seed}})
    outputs.write_json(folder / "metrics.json", result)
    return result


def save_rows(tmp_path, rows, **fields):
    """Write rows as job folders and return (board, results) as the leaderboard sees them."""
    from genrebench.reporting import leaderboard

    for row in rows:
        for s, seed in enumerate(row.seeds):
            folder = tmp_path / row.key[0] / row.key[1] / f"seed-{seed}"
            save_job(folder, row, s, **fields)
    results = leaderboard.find_results([tmp_path])
    return leaderboard.build(results), results
