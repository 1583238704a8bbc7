"""The files a job leaves in its folder, written atomically (a unique temporary file in the
same folder, then ``os.replace``), so a reader never sees half a file and two writers never
share a temporary name.

``predictions.csv`` / ``valid_predictions.csv`` / ``segment_predictions.csv``: ``track_id``,
``label`` (several joined by ``|``) and ``p_<class>`` per row.  ``per_class.csv``: precision,
recall, F1 and support per class (per label for multi-label tasks).
``confusion_matrix.csv``: true classes down, predicted classes across (single-label), or
``tn, fp, fn, tp`` per label (multi-label).

CSV files are UTF-8.  A track id or class name made from a file name that is not valid UTF-8
(Python holds its undecodable bytes as surrogate escapes) is written with those bytes as
``\\xNN`` escapes (``caf\\xe9.wav``, see :func:`utf8_text`), so every output can be written
and read as UTF-8.  JSON files escape them as ``\\udcNN``, which reads back exactly.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrebench.provenance import jsonable


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a fresh temporary file beside ``path``, then move it into
    place; the temporary file is removed if ``write`` fails."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: Every file a finished job may leave besides ``metrics.json`` and ``provenance.json``;
#: those a new result does not write again are removed, so none is left from an older
#: configuration.
RESULT_FILES = (
    "predictions.csv",
    "predictions_calibrated.csv",
    "valid_predictions.csv",
    "segment_predictions.csv",
    "per_class.csv",
    "confusion_matrix.csv",
    "reliability.json",
)
#: A failed attempt that did not replace an earlier successful result of another
#: configuration (its result and provenance).
FAILED_ATTEMPT = "failed.json"


@contextlib.contextmanager
def job_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the job folder (``flock`` on ``folder/.lock``) while a job
    runs and writes there, so that two processes given the same ``--out`` take turns; the
    second then finds the job finished and reuses it.  The lock goes with the process, so
    a killed run never leaves it held."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process running the job in {folder}", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale(folder: Path, written: Sequence[str]) -> None:
    """Remove the :data:`RESULT_FILES` (and a failed attempt) that are not in ``written``."""
    for name in (*RESULT_FILES, FAILED_ATTEMPT):
        if name not in written:
            (folder / name).unlink(missing_ok=True)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    text = json.dumps(jsonable(payload), indent=2) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def utf8_text(value: Any) -> Any:
    """``value`` with what UTF-8 cannot encode escaped: a surrogate-escaped byte of a file
    name as ``\\xNN`` (the byte itself), any other lone surrogate as ``\\udNNN``.  Other
    values are returned unchanged."""
    if not isinstance(value, str):
        return value
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def write_csv(path: Path, frame: pd.DataFrame, float_format: str | None = "%.8g") -> None:
    """``frame`` as UTF-8 CSV (names escaped by :func:`utf8_text`); ``float_format=None``
    writes the shortest exact (round-trip) form of every float."""
    frame = frame.rename(columns=utf8_text)
    for column in frame.select_dtypes(exclude="number").columns:
        frame[column] = frame[column].map(utf8_text)
    write_atomic(
        path,
        lambda tmp: frame.to_csv(tmp, index=False, float_format=float_format, encoding="utf-8"),
    )


def label_strings(classes: Sequence[str], y: np.ndarray, task: str) -> list[str]:
    """Class names of class indices, or ``|``-joined names of multi-hot rows."""
    if task == "single-label":
        return [classes[i] for i in y]
    return ["|".join(c for c, on in zip(classes, row, strict=True) if on) for row in y]


def save_predictions(
    path: Path,
    track_ids: Sequence[str],
    y: np.ndarray,
    probs: np.ndarray,
    classes: Sequence[str],
    task: str,
) -> None:
    """One row per track (or segment): id, true label(s), one probability per class."""
    # Names escaped before they enter pandas: with pyarrow installed, pandas 3 stores
    # strings as Arrow UTF-8, which refuses the surrogate escapes of undecodable file names.
    classes = [utf8_text(c) for c in classes]
    track_ids = [utf8_text(t) for t in track_ids]
    frame = pd.DataFrame({"track_id": track_ids, "label": label_strings(classes, y, task)})
    frame = pd.concat([frame, pd.DataFrame(probs, columns=[f"p_{c}" for c in classes])], axis=1)
    # Exact floats, not 8 digits: a confidence of 1 - 1e-9 written as 1 would move to
    # another calibration bin, and every metric must recompute from the file.
    write_csv(path, frame, float_format=None)


def read_predictions(
    path: Path, classes: Sequence[str], task: str
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The inverse of :func:`save_predictions`: track ids, labels (class indices, or a 0/1
    matrix for multi-label tasks) and probabilities, in the file's row order.  Names are as
    written (escaped by :func:`utf8_text`)."""
    frame = pd.read_csv(path, dtype={"track_id": str, "label": str}, keep_default_na=False)
    classes = [utf8_text(c) for c in classes]
    index = {c: i for i, c in enumerate(classes)}
    if task == "single-label":
        y = np.array([index[label] for label in frame["label"]], dtype=np.int64)
    else:
        y = np.zeros((len(frame), len(classes)), dtype=np.int64)
        for row, labels in enumerate(frame["label"]):
            for label in filter(None, labels.split("|")):
                y[row, index[label]] = 1
    probs = frame[[f"p_{c}" for c in classes]].to_numpy(dtype=np.float64)
    return list(frame["track_id"]), y, probs


def save_class_report(
    folder: Path,
    y: np.ndarray,
    probs: np.ndarray,
    classes: Sequence[str],
    task: str,
    threshold: float,
) -> None:
    """``per_class.csv`` and ``confusion_matrix.csv`` of the test tracks' predictions
    (argmax for single-label tasks, ``probs >= threshold`` for multi-label tasks)."""
    from sklearn.metrics import (
        confusion_matrix,
        multilabel_confusion_matrix,
        precision_recall_fscore_support,
    )

    labels = np.arange(len(classes))
    classes = [utf8_text(c) for c in classes]  # before pandas sees them (save_predictions)
    if task == "single-label":
        predicted = probs.argmax(axis=1)
        matrix = confusion_matrix(y, predicted, labels=labels)
        confusion = pd.DataFrame(matrix, columns=list(classes))
        confusion.insert(0, "true", list(classes))
    else:
        predicted = (probs >= threshold).astype(int)
        matrices = multilabel_confusion_matrix(y, predicted, labels=labels)
        confusion = pd.DataFrame(
            matrices.reshape(len(classes), 4), columns=["tn", "fp", "fn", "tp"]
        )
        confusion.insert(0, "label", list(classes))
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=labels, zero_division=0
    )
    per_class = pd.DataFrame(
        {
            "class": list(classes),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
    )
    write_csv(folder / "per_class.csv", per_class)
    write_csv(folder / "confusion_matrix.csv", confusion)
