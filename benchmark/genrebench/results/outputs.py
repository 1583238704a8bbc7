"""The files a job leaves in its folder, written atomically (a unique temporary file in the
same folder, then ``os.replace``), so a reader never sees half a file and two writers never
share a temporary name.

``predictions.csv`` / ``valid_predictions.csv`` / ``segment_predictions.csv`` /
``valid_segment_predictions.csv``: ``track_id``,
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
import errno
import fcntl
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrebench.datasets.protocols import check_protocol
from genrebench.errors import ConfigError
from genrebench.results.provenance import jsonable

#: ``errno`` values of writes that fail because of the folder, not the data: read-only,
#: not permitted, full, over quota.
STORAGE_ERRNOS = frozenset(
    {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
)


def storage_reason(exc: BaseException) -> str | None:
    """What is wrong with the folder when ``exc`` is a write that failed because of it
    (:data:`STORAGE_ERRNOS`): ``"is on a read-only file system"``, ``"is full (no space
    left on device)"``, ...; None for any other error."""
    if not isinstance(exc, OSError) or exc.errno not in STORAGE_ERRNOS:
        return None
    if exc.errno == errno.EROFS:
        return "is on a read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "is not writable (permission denied)"
    if exc.errno == errno.EDQUOT:
        return "is over its disk quota"
    return "is full (no space left on device)"


def storage_problem(exc: BaseException) -> str | None:
    """``"<folder> <storage_reason>: <what to do>"`` for a write that failed because of
    its folder (the folder of the file it wrote); None for any other error."""
    reason = storage_reason(exc)
    if reason is None:
        return None
    path = Path(os.fsdecode(exc.filename)) if getattr(exc, "filename", None) else None
    folder = path.parent if path is not None and not path.is_dir() else path
    advice = "free space" if "full" in reason or "quota" in reason else "make it writable"
    where = f"{folder}" if folder is not None else "a folder being written"
    return f"{where} {reason}: {advice} or choose another folder"


def writable_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be written (after creating it with its parents if needed and
    a file in it), or None when it can."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".genrebench-write-check.", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return storage_reason(exc) or f"cannot be written ({exc.strerror or exc})"
    return None


def check_writable(folder: Path, what: str) -> None:
    """A :class:`ConfigError` naming ``folder``, what it is for (``what``: ``"--out"``,
    ...) and what to do when it cannot be written: checked before any work, so that no
    run computes for hours and then cannot save."""
    problem = writable_problem(folder)
    if problem is not None:
        raise ConfigError(
            f"cannot write {what} {folder}: it {problem}; choose another folder with {what} "
            "or make this one writable (nothing was run)"
        )


def _temporary_beside(path: Path) -> Path:
    """A fresh empty file beside ``path`` with the permissions a new file gets (mkstemp
    makes it 0600, which would leave every result unreadable to the user's group)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
    finally:
        os.close(fd)
    return Path(name)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a fresh temporary file beside ``path``, then move it into
    place; the temporary file is removed if ``write`` fails."""
    tmp = _temporary_beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # a failed write() names no file: say which
        raise


class AtomicFiles:
    """Write several files as a set: all new or all old.

    ``write_text`` / ``write_bytes`` / ``write_with`` stage each file as a fresh temporary
    file beside its target (so a full disk, a missing permission or an exception while
    rendering shows up here, before any target is touched); leaving the ``with`` block
    without an error moves every staged file into place (``os.replace``, which writes no
    data and so cannot run out of space), leaving it with an error removes them all and
    keeps every old file::

        with AtomicFiles() as files:
            files.write_text(out / "leaderboard.md", markdown)
            files.write_with(out / "leaderboard.csv", lambda tmp: frame.to_csv(tmp))

    Readers see each file either old or new; only between two consecutive renames of the
    final step (microseconds, no data written) could one see a mix."""

    def __init__(self) -> None:
        self._staged: dict[Path, Path] = {}

    def __enter__(self) -> AtomicFiles:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    @property
    def paths(self) -> list[Path]:
        """The target paths staged so far, in order."""
        return list(self._staged)

    def write_with(self, path: Path, write: Callable[[Path], None]) -> Path:
        """Stage ``path``: ``write(tmp)`` fills a temporary file beside it (a file staged
        twice keeps the later content)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temporary_beside(path)
        try:
            write(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            self.discard()
            raise
        earlier = self._staged.pop(path, None)
        if earlier is not None:
            earlier.unlink(missing_ok=True)
        self._staged[path] = tmp
        return path

    def write_text(self, path: Path, text: str, errors: str = "strict") -> Path:
        return self.write_with(path, lambda tmp: tmp.write_text(text, "utf-8", errors))

    def write_bytes(self, path: Path, data: bytes) -> Path:
        return self.write_with(path, lambda tmp: tmp.write_bytes(data))

    def commit(self) -> None:
        """Move every staged file into place."""
        staged, self._staged = self._staged, {}
        try:
            for path, tmp in staged.items():
                os.replace(tmp, path)
        finally:
            for tmp in staged.values():
                tmp.unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove every staged file; the targets stay as they were."""
        for tmp in self._staged.values():
            tmp.unlink(missing_ok=True)
        self._staged = {}


#: Every file a finished job may leave besides ``metrics.json`` and ``provenance.json``;
#: those a new result does not write again are removed, so none is left from an older
#: configuration.
RESULT_FILES = (
    "predictions.csv",
    "predictions_calibrated.csv",
    "valid_predictions.csv",
    "segment_predictions.csv",
    "valid_segment_predictions.csv",
    "per_class.csv",
    "confusion_matrix.csv",
    "reliability.json",
)
#: A failed attempt that did not replace an earlier successful result of another
#: configuration (its result and provenance).
FAILED_ATTEMPT = "failed.json"


#: The folder between ``<profile>`` and ``seed-<n>`` of a paper-protocol result.
PAPER_PROTOCOL_FOLDER = "paper-protocol"


def job_folder(
    out: Path,
    experiment: str,
    dataset: str,
    profile: str,
    protocol: str,
    seed: int | str,
    fold: int | None = None,
) -> Path:
    """Where a job (or an ensemble) writes its files:
    ``<out>/runs/<experiment>/<dataset>/<profile>/seed-<n>`` under the benchmark protocol,
    ``.../<profile>/paper-protocol/seed-<n>`` under the paper protocol, and
    ``.../seed-<n>/fold-<k>`` for fold ``k`` of a k-fold split.  ``seed`` may be the string
    ``"ensemble"`` (a seed ensemble: ``seed-ensemble``).  The one place these paths are
    made: the runner, the ensembles and the command line all call it."""

    folder = Path(out) / "runs" / experiment / dataset / profile
    if check_protocol(protocol) == "paper":
        folder = folder / PAPER_PROTOCOL_FOLDER
    folder = folder / f"seed-{seed}"
    return folder if fold is None else folder / f"fold-{fold}"


def result_folder(out: Path, result: dict) -> Path:
    """Where a run saved ``result`` (a ``metrics.json``'s content): a job's folder (of a
    k-fold split, its seed's pooled result), a cross-experiment ensemble's or a seed
    ensemble's (``out`` is the run's ``--out``)."""
    name = result["experiment"]
    if result["seed"] == "ensemble":
        name = result.get("ensemble", {}).get("of") or name.removesuffix(" (seed ensemble)")
    return job_folder(
        out,
        name,
        result["dataset"],
        result["profile"],
        result.get("protocol") or "benchmark",
        result["seed"],
        result.get("fold"),
    )


@contextlib.contextmanager
def job_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the job folder (``flock`` on ``folder/.lock``) while a job
    runs and writes there, so that two processes given the same ``--out`` take turns; the
    second then finds the job finished and reuses it.  The lock goes with the process, so
    a killed run never leaves it held."""

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


#: How far a saved probability may lie outside [0, 1], and a single-label row's sum from 1,
#: before reading it refuses the file (the tolerances models' outputs are checked with).
PROBABILITY_TOLERANCE = 1e-6
SUM_TOLERANCE = 1e-4


class PredictionsError(ValueError):
    """A predictions file that cannot be used, with the file and (1-based, header = 1) line."""

    def __init__(self, path: Path, reason: str, line: int | None = None):
        self.path, self.reason, self.line = Path(path), reason, line
        where = f"{path} line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


def read_predictions(
    path: Path, classes: Sequence[str], task: str, *, per_segment: bool = False
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The inverse of :func:`save_predictions`: track ids, labels (class indices, or a 0/1
    matrix for multi-label tasks) and probabilities, in the file's row order.  Names are as
    written (escaped by :func:`utf8_text`).

    The file is checked as it is read; :class:`PredictionsError` names the file, the line
    and what is wrong: a file that ends mid-line (truncated), a missing column, an unknown
    label, a repeated track id (unless ``per_segment``: ``segment_predictions.csv`` holds
    one row per segment, so a track's id repeats), a probability that is NaN or outside
    [0, 1] (by more than :data:`PROBABILITY_TOLERANCE`), or a single-label row whose
    probabilities do not sum to 1 (within :data:`SUM_TOLERANCE`).  A missing file raises
    ``FileNotFoundError``."""
    path = Path(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise PredictionsError(path, "the file is empty")
    if not raw.endswith(b"\n"):
        line = raw.count(b"\n") + 1
        raise PredictionsError(path, "the file ends mid-line (truncated)", line)
    try:
        # round_trip: the probabilities read back exactly as written (pandas 2.1's default
        # parser is off by one ulp on some values; newer pandas parse exactly either way)
        frame = pd.read_csv(
            io.BytesIO(raw),
            dtype={"track_id": str, "label": str},
            keep_default_na=False,
            float_precision="round_trip",
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise PredictionsError(path, f"not a predictions table ({exc})") from exc
    classes = [utf8_text(c) for c in classes]
    columns = ["track_id", "label", *(f"p_{c}" for c in classes)]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PredictionsError(path, f"no column {', '.join(missing)} (expected {columns})")
    line = lambda row: int(row) + 2  # noqa: E731  (the header is line 1)
    repeated = frame["track_id"].duplicated()
    if not per_segment and repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        raise PredictionsError(
            path, f"track {frame['track_id'].iloc[row]!r} appears twice", line(row)
        )
    index = {c: i for i, c in enumerate(classes)}
    labels = list(frame["label"])
    if task == "single-label":
        unknown = [r for r, label in enumerate(labels) if label not in index]
        y = np.array([index.get(label, -1) for label in labels], dtype=np.int64)
    else:
        y = np.zeros((len(frame), len(classes)), dtype=np.int64)
        unknown = []
        for row, text in enumerate(labels):
            for label in filter(None, text.split("|")):
                if label not in index:
                    unknown.append(row)
                    break
                y[row, index[label]] = 1
    if unknown:
        row = unknown[0]
        raise PredictionsError(
            path, f"label {labels[row]!r} is not one of the classes {classes}", line(row)
        )
    try:
        probs = frame[[f"p_{c}" for c in classes]].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PredictionsError(path, f"a probability is not a number ({exc})") from exc
    check_probability_rows(path, list(frame["track_id"]), probs, task)
    return list(frame["track_id"]), y, probs


def read_predictions_ids(path: Path) -> list[str]:
    """The track ids of a predictions file, in its row order (line = index + 2)."""
    frame = pd.read_csv(path, usecols=["track_id"], dtype=str, keep_default_na=False)
    return list(frame["track_id"])


def check_probability_rows(path: Path, ids: Sequence[str], probs: np.ndarray, task: str) -> None:
    """:class:`PredictionsError` at the first row of ``probs`` that is NaN, outside
    [0, 1], or (single-label) does not sum to 1, with its track, line and value."""
    with np.errstate(invalid="ignore"):
        bad_value = ~np.isfinite(probs) | (probs < -PROBABILITY_TOLERANCE)
        bad_value |= probs > 1 + PROBABILITY_TOLERANCE
    sums = probs.sum(axis=1) if probs.size else np.zeros(len(probs))
    bad_sum = np.zeros(len(probs), dtype=bool)
    if task == "single-label":
        with np.errstate(invalid="ignore"):
            bad_sum = ~(np.abs(sums - 1.0) <= SUM_TOLERANCE)
    bad = bad_value.any(axis=1) | bad_sum
    if not bad.any():
        return
    row = int(np.flatnonzero(bad)[0])
    where = f"track {ids[row]!r}"
    if bad_value[row].any():
        value = float(probs[row][bad_value[row]][0])
        column = f"column {int(np.flatnonzero(bad_value[row])[0]) + 3}"
        reason = f"{where}: probability {value} ({column}) is " + (
            "not a number" if not np.isfinite(value) else "outside [0, 1]"
        )
    else:
        reason = (
            f"{where}: probabilities sum to {sums[row]:.6g}, expected 1 (within {SUM_TOLERANCE:g})"
        )
    raise PredictionsError(path, reason, row + 2)


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
    # lazy: loads sklearn, not needed at import time
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
