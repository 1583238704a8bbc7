"""Print a genrebench session as MLflow holds it, read back with ``MlflowClient``: the
parent run, then every job nested under it with its status and headline metrics.

    python -m genrebench_mlflow.tree --uri sqlite:///mlflow.db --experiment main
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

SESSION = "tags.`genrebench.kind` = 'session'"
COLUMNS = ("accuracy", "f1_macro", "ece", "ece_calibrated")


def tree(uri: str, experiment: str, parent_id: str | None = None) -> list[str]:
    """The lines: the latest session of ``experiment`` (or the run ``parent_id``) and its
    jobs, sorted by experiment, data set and seed."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise SystemExit(f"no MLflow experiment {experiment!r} at {uri}")
    ids = [found.experiment_id]
    if parent_id is None:
        sessions = client.search_runs(ids, SESSION, order_by=["start_time DESC"], max_results=1)
        if not sessions:
            raise SystemExit(f"no genrebench session in experiment {experiment!r}")
        parent = sessions[0]
    else:
        parent = client.get_run(parent_id)
    jobs = client.search_runs(
        ids, f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'", max_results=10000
    )
    artifacts = ", ".join(f.path for f in client.list_artifacts(parent.info.run_id))
    lines = [
        f"experiment {experiment!r} ({found.experiment_id}) at {uri}",
        f"parent {parent.info.run_id} {parent.info.run_name!r} {parent.info.status}: "
        f"{len(jobs)} nested runs; artifacts: {artifacts}",
    ]

    def key(run):
        tags = run.data.tags
        return (
            tags.get("genrebench.experiment", ""),
            tags.get("genrebench.dataset", ""),
            tags.get("genrebench.seed", ""),
        )

    for run in sorted(jobs, key=key):
        tags, metrics = run.data.tags, run.data.metrics
        scores = " ".join(f"{c} {metrics[c]:.3f}" for c in COLUMNS if c in metrics)
        history = " +history" if any(k.startswith("history/") for k in metrics) else ""
        files = len(client.list_artifacts(run.info.run_id))
        lines.append(
            f"  └─ {run.info.run_id[:8]} {tags.get('genrebench.kind', '?'):<13} "
            f"{' · '.join(key(run))} [{run.info.status}] {scores}{history} ({files} files)"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genrebench_mlflow.tree", description=__doc__)
    parser.add_argument("--uri", default=os.environ.get("MLFLOW_TRACKING_URI"), required=False)
    parser.add_argument("--experiment", default="genrebench", help="MLflow experiment name")
    parser.add_argument("--parent", default=None, help="a session's run id (default: latest)")
    args = parser.parse_args(argv)
    if not args.uri:
        parser.error("give --uri or set MLFLOW_TRACKING_URI")
    print("\n".join(tree(args.uri, args.experiment, args.parent)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
