"""What a finished job (or ensemble) saves beside its ``metrics.json``: per-track and
per-segment predictions, the calibrated predictions, the reliability-diagram data and the
per-class report (the files and their formats: :mod:`genrebench.results.outputs`); and the entries
of ``metrics.json`` that say which test tracks a row was evaluated on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genrebench.evaluation import reliability
from genrebench.results import outputs
from genrebench.run.stages import split_checksum

if TYPE_CHECKING:  # pragma: no cover
    from genrebench.evaluation import calibration
    from genrebench.run import stages


def save_job_files(
    folder: Path, predictions: stages.Predictions, calibrated: calibration.Calibrated
) -> list[str]:
    """The job's per-track predictions (test, validation, calibrated test, test and
    validation segments) and its per-class report, in the formats of
    :mod:`genrebench.results.outputs`; the names of the files written."""
    p = predictions
    written = ["predictions.csv", "per_class.csv", "confusion_matrix.csv"]
    outputs.save_predictions(
        folder / "predictions.csv", p.test_ids, p.y_test, p.test_probs, p.classes, p.task
    )
    if calibrated.ok:
        written.append("predictions_calibrated.csv")
        outputs.save_predictions(
            folder / "predictions_calibrated.csv",
            p.test_ids,
            p.y_test,
            calibrated.test_probs,
            p.classes,
            p.task,
        )
    written.append("reliability.json")
    outputs.write_json(
        folder / "reliability.json",
        reliability.report(
            p.y_test, p.test_probs, calibrated.test_probs, p.classes, p.task, calibrated.report()
        ),
    )
    if p.valid_probs is not None:
        written.append("valid_predictions.csv")
        outputs.save_predictions(
            folder / "valid_predictions.csv",
            p.valid_ids,
            p.y_valid,
            p.valid_probs,
            p.classes,
            p.task,
        )
    valid_owner = p.owner_valid
    if (
        p.valid_segment_probs is not None
        and valid_owner is not None
        and len(valid_owner) > len(p.valid_ids)
    ):
        written.append("valid_segment_predictions.csv")
        outputs.save_predictions(
            folder / "valid_segment_predictions.csv",
            [p.valid_ids[i] for i in valid_owner],
            p.y_valid[valid_owner],
            p.valid_segment_probs,
            p.classes,
            p.task,
        )
    if len(p.owner_test) > len(p.test_ids):
        written.append("segment_predictions.csv")
        outputs.save_predictions(
            folder / "segment_predictions.csv",
            [p.test_ids[i] for i in p.owner_test],
            p.y_test[p.owner_test],
            p.test_segment_probs,
            p.classes,
            p.task,
        )
    outputs.save_class_report(folder, p.y_test, p.test_probs, p.classes, p.task, p.threshold)
    return written


#: How many lost test track ids ``metrics.json`` lists (``test_tracks_lost``).
LOST_SHOWN = 20


def evaluation_set(test_ids: Sequence[str]) -> dict[str, Any]:
    """A row's planned test tracks, as ``metrics.json`` records them (``evaluation_set``:
    the key of its leaderboard section)."""
    return {"sha256": split_checksum(test_ids), "n_tracks": len(test_ids)}


def lost_tracks(planned: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """The planned test tracks missing from the predictions (unreadable, feature failed)."""
    have = set(predicted)
    lost = sorted(t for t in planned if t not in have)
    return {"n_test_tracks_lost": len(lost), "test_tracks_lost": lost[:LOST_SHOWN]}
