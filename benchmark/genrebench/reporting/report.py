"""The HTML report of a set of runs: one self-contained file (every picture inline as a
base64 PNG) with, per leaderboard section (one set of test tracks: data set, task,
profile and evaluation set), the leaderboard with its intervals and significance marks,
accuracy against cost, per-class F1, confusion matrices and reliability diagrams (from
each job's ``reliability.json``, raw and calibrated); the critical-difference diagram
where the analysis across data sets can say something (else why it is left out); a
*paper vs ours* table for every experiment that declares what its paper reports
(``ExperimentSpec.reported``), each number beside ours on the same part of the split; and
the provenance of the runs with every split, its caps and the test tracks each row lost.

Sections follow the leaderboard's ``section`` column where the board has one, else the
same key derived from the jobs' files (``evaluation_set`` in ``metrics.json``, else the
checksum of the tracks in ``predictions.csv``).  Rows of different sections were tested
on different tracks: they are never ranked together, in the tables or in the pictures.

Plots are drawn with matplotlib (Agg backend) and the page with a jinja2 template
(``templates/report.html.j2``); both are imported only when a report is written.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrebench import __version__
from genrebench.errors import GenrebenchError
from genrebench.evaluation import metrics
from genrebench.reporting import leaderboard, stats
from genrebench.results import outputs

KEY = ["experiment", "dataset", "profile"]
#: Bins of the reliability diagrams (paper 000 draws 10; reliability.json has 10 and 15).
RELIABILITY_BINS = "10"
COLORS = {"best": "#1b7837", "tied": "#5aae61", "worse": "#999999", "": "#4d4d4d"}
#: The leaderboard columns (by their table title) the main HTML table of a section shows;
#: every other column is in the section's "more columns" tables.
SCORE_COLUMNS = {
    "single-label": ["accuracy", "f1_macro", "roc_auc", "ece", "ece_calibrated"],
    "multi-label": ["subset accuracy", "label_accuracy", "f1_macro", "roc_auc", "ece"],
}
#: Metric columns per "more columns" table (each fits the page's 1,100 px column).
DETAIL_COLUMNS = 7
PROTOCOL_ORDER = {"benchmark": 0, "paper": 1}


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
    ``board`` to ``out``; also save the headline picture to ``headline`` when given.  Both
    files are written atomically (a reader never sees half a file)."""
    finished = [r for r in results if r.get("status") == "ok"]
    if not finished:
        raise NothingToReport(
            f"no finished job among the {len(results)} run(s) found: nothing to report"
        )
    _matplotlib()
    board = board.reset_index(drop=True)
    infos = row_infos(board, results)
    sections = sections_of(board, infos)
    labels = {p: n for s in sections for p, n in _row_labels(board, s, infos).items()}
    headline_png = _png(_headline_figure(board, sections, labels))
    context = {
        "title": title,
        "description": description,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "n_jobs": len(finished),
        "n_failed": len(results) - len(finished),
        "legend": leaderboard.legend(board),
        "left_out": list(board.attrs.get("left_out", ())),
        "headline": _data_uri(headline_png),
        "sections": [_section(s, board, infos) for s in sections],
        "across": _across(board),
        "papers": _paper_tables(board, infos, registry),
        "provenance": _provenance(finished, board, infos),
        "genrebench_version": __version__,
    }
    html = render(context)
    out.parent.mkdir(parents=True, exist_ok=True)
    outputs.write_atomic(
        out, lambda tmp: tmp.write_text(html, encoding="utf-8", errors="backslashreplace")
    )
    if headline is not None:
        headline.parent.mkdir(parents=True, exist_ok=True)
        outputs.write_atomic(headline, lambda tmp: tmp.write_bytes(headline_png))
    return out


def render(context: Mapping[str, Any]) -> str:
    # lazy: loads jinja2, not needed at import time
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("genrebench.reporting", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["inline_code"] = _inline_code
    env.filters["name"] = _name_html
    env.filters["breakable"] = _breakable
    return env.get_template("report.html.j2").render(**context)


def _inline_code(text: str):
    """The leaderboard's Markdown sentences as HTML: backticks as <code>, ``**strong**``
    and ``*emphasis*`` outside them (the text is escaped first)."""
    # lazy: loads markupsafe, not needed at import time
    import markupsafe

    def emphasis(part: str) -> str:
        part = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", part)
        return re.sub(r"\*([^*\s][^*]*)\*", r"<em>\1</em>", part)

    parts = str(markupsafe.escape(text)).split("`")
    html = "".join(f"<code>{p}</code>" if i % 2 else emphasis(p) for i, p in enumerate(parts))
    return markupsafe.Markup(html)


def name_segments(name: str) -> list[str]:
    """The pieces a row name may wrap between: after a ``/`` and at spaces (kept as
    ``" "`` pieces), never inside a word (``lukashevich2023/``, ``musicnn-mlp``, ``(seed``,
    ``ensemble)``)."""
    return [" " if p.isspace() else p for p in re.findall(r"[^/\s]+/?|/|\s+", name)]


def _name_html(name: str):
    """A row name as code whose lines break only between :func:`name_segments`."""
    # lazy: loads markupsafe, not needed at import time
    import markupsafe

    html, after_word = [], False
    for piece in name_segments(str(name)):
        if piece == " ":
            html.append(" ")
            after_word = False
            continue
        if after_word:
            html.append("<wbr>")
        html.append(f'<span class="seg">{markupsafe.escape(piece)}</span>')
        after_word = True
    return markupsafe.Markup(f'<code class="name">{"".join(html)}</code>')


def _breakable(title: str):
    """A column title or split name that may wrap after an underscore or a comma
    (``ece_<wbr>calibrated``, ``stratified(train=0.7,<wbr>valid=0.1,<wbr>test=0.2)``)."""
    # lazy: loads markupsafe, not needed at import time
    import markupsafe

    text = str(markupsafe.escape(str(title)))
    return markupsafe.Markup(re.sub(r"([_,])", r"\1<wbr>", text))


# --------------------------------------------------------------------------- rows
@dataclass
class RowInfo:
    """What the jobs of one board row say about where it was evaluated."""

    #: The row's seed-level results (``status`` ok; k-fold fold results left out: the
    #: pooled seed result stands for its folds).
    jobs: list[Mapping[str, Any]]
    protocol: str
    split: str
    #: SHA-256 of the planned test tracks ("" when nothing says).
    evaluation_set: str
    n_test_tracks: int | None
    #: Per seed that lost planned test tracks: (seed, number lost, up to 20 ids).
    lost: list[tuple[Any, int, list[str]]] = field(default_factory=list)
    incomplete: str = ""

    @property
    def lost_text(self) -> str:
        """``lost 2 of 40 planned test tracks in seed 0 (a, b) and 2 in seed 1 (a, b)``."""
        if not self.lost:
            return ""
        of = f" of {self.n_test_tracks}" if self.n_test_tracks else ""
        parts = []
        for i, (seed, n, ids) in enumerate(self.lost):
            shown = f" ({', '.join(ids[:5])}{', …' if n > 5 else ''})" if ids else ""
            where = "in the seed ensemble" if seed == "ensemble" else f"in seed {seed}"
            parts.append(f"{n}{of if i == 0 else ''} planned test tracks {where}{shown}")
        return "lost " + " and ".join(parts)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _joined(values: Iterable[Any]) -> str:
    return ", ".join(sorted({_text(v) for v in values} - {""}))


def _evaluation_set_of(value: Any) -> tuple[str, int | None]:
    """``(sha256, n_tracks)`` of an ``evaluation_set`` field: a dict (metrics.json) or a
    bare checksum (a board column)."""
    if isinstance(value, Mapping):
        n = value.get("n_tracks")
        return _text(value.get("sha256")), int(n) if isinstance(n, int | float) else None
    return _text(value), None


def row_infos(board: pd.DataFrame, results: Sequence[Mapping[str, Any]]) -> list[RowInfo]:
    """Per board row (in board order): its jobs, protocol, split, evaluation set and lost
    test tracks, from the board's columns where it has them, else from the jobs' files.
    The jobs are those :func:`genrebench.reporting.leaderboard.select` keeps for the row (one
    configuration; k-fold folds apart: the pooled seed result stands for its folds)."""
    by_key: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in leaderboard.select(results):
        if r.get("job_dir"):
            by_key.setdefault(leaderboard.row_key(r), []).append(r)
    infos = []
    for _, record in board.iterrows():
        key = tuple(record[k] for k in KEY)
        if "protocol" in board.columns:
            runs = by_key.get((*key, _text(record.get("protocol"))), [])
        else:  # a board without protocols: every protocol's results of the row
            runs = [r for k, rs in by_key.items() if k[:3] == key for r in rs]
        ok = [r for r in runs if r.get("status") == "ok"]
        sha, n = _evaluation_set_of(record.get("evaluation_set"))
        for r in ok if not sha else ():  # recorded, else from the provenance or predictions
            sha, n = r.get("_evaluation_set") or leaderboard.evaluation_set(r) or ("", None)
            if sha:
                break
        board_n = record.get("n_test_tracks")
        if isinstance(board_n, int | float) and not math.isnan(board_n):
            n = int(board_n)
        lost = [
            (r["seed"], int(r["n_test_tracks_lost"]), list(r.get("test_tracks_lost") or []))
            for r in ok
            if isinstance(r.get("n_test_tracks_lost"), int) and r["n_test_tracks_lost"] > 0
        ]
        infos.append(
            RowInfo(
                jobs=ok,
                protocol=_text(record.get("protocol")) or _joined(r.get("protocol") for r in runs),
                split=_text(record.get("split")) or _joined(r.get("split") for r in ok),
                evaluation_set=sha,
                n_test_tracks=n,
                lost=lost,
                incomplete=_text(record.get("incomplete")),
            )
        )
    return infos


# --------------------------------------------------------------------------- sections
@dataclass
class Section:
    """The rows of one leaderboard section: one set of test tracks."""

    key: str
    dataset: str
    task: str
    profile: str
    positions: list[int]
    protocols: list[str]
    splits: list[str]
    n_test_tracks: int | None
    evaluation_set: str
    #: Set when two sections would read alike (same protocol, split and size).
    suffix: str = ""

    @property
    def title(self) -> str:
        return f"{self.dataset} ({self.task or 'task unknown'}, profile {self.profile})"

    @property
    def where(self) -> str:
        """Protocol, split and test-track count: what makes the section one set of tracks."""
        protocol = (
            f"{self.protocols[0]} protocol"
            if len(self.protocols) == 1
            else (f"protocols {', '.join(self.protocols)}" if self.protocols else
                  "protocol not recorded")
        )  # fmt: skip
        split = f"split {', '.join(self.splits)}" if self.splits else "split not recorded"
        tracks = (
            f"{self.n_test_tracks} test tracks" if self.n_test_tracks else "test tracks unknown"
        )
        return f"{protocol} · {split} · {tracks}{self.suffix}"

    @property
    def heading(self) -> str:
        return f"{self.title} — {self.where}"

    @property
    def anchor(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", self.key).strip("-").lower()


def sections_of(board: pd.DataFrame, infos: Sequence[RowInfo]) -> list[Section]:
    """The board's rows grouped by section (the board's ``section`` column where it has
    one, else data set, task, profile and evaluation set), in a stable order: by data set
    and profile, the benchmark protocol first, larger test sets first."""
    keys: list[str] = []
    has_column = "section" in board.columns
    for position, record in board.iterrows():
        info = infos[position]
        label = _text(record.get("section")) if has_column else ""
        if not label and info.evaluation_set:
            label = " · ".join(
                [str(record["dataset"]), _text(record.get("task")), str(record["profile"]),
                 info.evaluation_set]
            )  # fmt: skip
        keys.append(label)
    # A row without an evaluation set (a failed row) joins the one section of its data
    # set, profile and protocol, or one of its own.
    for position, record in board.iterrows():
        if keys[position]:
            continue
        same = {
            keys[i]
            for i, other in board.iterrows()
            if keys[i]
            and other["dataset"] == record["dataset"]
            and other["profile"] == record["profile"]
            and infos[i].protocol == infos[position].protocol
        }
        keys[position] = (
            same.pop()
            if len(same) == 1
            else " · ".join([str(record["dataset"]), str(record["profile"]),
                             infos[position].protocol, "no test tracks"])
        )  # fmt: skip
    groups: dict[str, list[int]] = {}
    for position, key in enumerate(keys):
        groups.setdefault(key, []).append(position)
    sections = []
    for key, positions in groups.items():
        part = board.loc[positions]
        tasks = [t for t in part["task"].map(_text) if t]
        live = [p for p in positions if infos[p].jobs] or positions
        sizes = [infos[p].n_test_tracks for p in live if infos[p].n_test_tracks]
        sections.append(
            Section(
                key=key,
                dataset=str(part["dataset"].iloc[0]),
                task=tasks[0] if tasks else "",
                profile=str(part["profile"].iloc[0]),
                positions=positions,
                protocols=sorted({infos[p].protocol for p in live} - {""}),
                splits=sorted({s for p in live for s in infos[p].split.split(", ")} - {""}),
                n_test_tracks=max(sizes) if sizes else None,
                evaluation_set=next((infos[p].evaluation_set for p in live), ""),
            )
        )
    sections.sort(
        key=lambda s: (
            s.dataset,
            s.profile,
            min((PROTOCOL_ORDER.get(p, 2) for p in s.protocols), default=3),
            -(s.n_test_tracks or 0),
            s.key,
        )
    )
    seen: dict[str, int] = {}
    for s in sections:
        seen[s.heading] = seen.get(s.heading, 0) + 1
    for s in sections:
        if seen[s.heading] > 1:
            s.suffix = f" · test set {s.evaluation_set[:8] or 'unknown'}"
    return sections


def _row_labels(board: pd.DataFrame, section: Section, infos) -> dict[int, str]:
    """Row names of a section for its pictures: the experiment, with its protocol where
    two rows of the section share a name."""
    names = [str(board.loc[p, "experiment"]) for p in section.positions]
    return {
        p: name if names.count(name) == 1 else f"{name} ({infos[p].protocol or '?'} protocol)"
        for p, name in zip(section.positions, names, strict=True)
    }


def _section(section: Section, board: pd.DataFrame, infos: Sequence[RowInfo]) -> dict[str, Any]:
    part = board.loc[section.positions]
    part.attrs = dict(board.attrs)
    [table] = leaderboard.section_tables(part)
    scores, details = _html_tables(table, section, board, infos)
    labels = _row_labels(board, section, infos)
    ok = [p for p in section.positions if board.loc[p, "status"] != "failed"]
    with_jobs = [(labels[p], [Path(r["job_dir"]) for r in infos[p].jobs]) for p in ok]
    with_jobs = [(label, jobs) for label, jobs in with_jobs if jobs]
    figures, notes = [], []
    cost_key: list[tuple[int, str]] = []
    if ok:
        fig, cost_key = _cost_figure(board, ok, labels, section.task)
        if fig is not None:
            figures.append(("cost", "Accuracy against cost", _png(fig)))
        else:
            notes.append(
                "Accuracy against cost: not drawn, no row recorded training seconds or "
                "parameters above zero."
            )
    per_class = _per_class_figure(with_jobs, section.task)
    if per_class is not None:
        figures.append(("per-class", "Per-class F1 (mean over seeds)", _png(per_class)))
    confusion = _confusion_figure(with_jobs, section.task)
    if confusion is not None:
        figures.append(("confusion", _confusion_title(section.task), _png(confusion)))
    reliability, missing = _reliability_figure(with_jobs, section.task)
    if reliability is not None:
        figures.append(("reliability", _reliability_title(section.task), _png(reliability)))
    if missing:
        notes.append("No reliability data (reliability.json) for: " + ", ".join(missing) + ".")
    note = artist_note(section.dataset, section.splits)
    if note:
        notes.append(note)
    # Under the table: the leaderboard's notes (what incomplete rows lost, why rows are not
    # ranked); from a board without an "incomplete" column, what the jobs say they lost.
    table_notes = list(table.notes)
    if "incomplete" not in board.columns:
        table_notes += [
            f"`{labels[p]}` is incomplete: {infos[p].lost_text}."
            for p in section.positions
            if infos[p].lost
        ]
    return {
        "heading": section.heading,
        "title": section.title,
        "where": section.where,
        "anchor": section.anchor,
        "scores": scores,
        "details": details,
        "table_notes": table_notes,
        "figures": [(kind, caption, _data_uri(png)) for kind, caption, png in figures],
        "cost_key": cost_key,
        "notes": notes,
    }


_SPLIT_CELL = re.compile(r"(.+?) (\[[^\]]*\]|± \S+|\([^)]*\))")


def _cell(cell: leaderboard.Cell) -> dict[str, Any]:
    """A table cell as a value and, on a second line, its interval, spread or p-value."""
    found = _SPLIT_CELL.fullmatch(cell.text)
    main, sub = (found.group(1), found.group(2)) if found else (cell.text, "")
    return {"main": main, "sub": sub, "strong": cell.strong}


def _html_tables(table: leaderboard.SectionTable, section: Section, board, infos):
    """The section's leaderboard as HTML tables that fit the page: the main one
    (experiment, protocol, the comparison with the best row, the main scores and seeds),
    then tables of the remaining columns, :data:`DETAIL_COLUMNS` at a time."""
    wanted = set(SCORE_COLUMNS.get(section.task, SCORE_COLUMNS["single-label"]))
    main = [i for i, h in enumerate(table.header) if i and (h in wanted or h in
            ("vs best", "seeds"))]  # fmt: skip
    rest = [i for i, h in enumerate(table.header) if i and i not in main]
    positions = section.positions

    def rows(columns: list[int], protocol: bool) -> list[dict[str, Any]]:
        out = []
        for position, cells, error in zip(positions, table.rows, table.errors, strict=True):
            info = infos[position]
            out.append(
                {
                    "name": cells[0].text,
                    "protocol": (info.protocol or "not recorded") if protocol else None,
                    "flag": "incomplete"
                    if (cells[0].suffix or info.incomplete or info.lost)
                    else "",
                    "error": error,
                    "cells": [_cell(cells[i]) for i in columns],
                }
            )
        return out

    scores = {
        "header": ["protocol", *(table.header[i] for i in main)],
        "rows": rows(main, protocol=True),
        "width": 2 + len(main),
    }
    details = []
    for start in range(0, len(rest), DETAIL_COLUMNS):
        chunk = rest[start : start + DETAIL_COLUMNS]
        details.append(
            {
                "header": [table.header[i] for i in chunk],
                "rows": rows(chunk, protocol=False),
                "width": 1 + len(chunk),
            }
        )
    return scores, details


# --------------------------------------------------------------------------- figures
def _matplotlib():
    # lazy: loads matplotlib, not needed at import time
    import matplotlib

    matplotlib.use("Agg", force=True)
    # lazy: loads matplotlib, not needed at import time
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


#: Width of the report's figures in inches at 96 dpi: the page's 1,100 px column.
PAGE_INCHES = 11.2


def _headline_figure(
    board: pd.DataFrame, sections: Sequence[Section], labels: Mapping[int, str] | None = None
):
    """Accuracy of every row with its 95 % interval, one panel per leaderboard section
    (rows of different panels were tested on different tracks and are not ranked against
    each other), each row named by ``labels`` (with its protocol where a section has a
    name twice); in green the best row of the section and the rows not significantly
    different from it: the report's headline picture (also the README's)."""
    plt = _matplotlib()
    parts = []
    for s in sections:
        rows = board.loc[[p for p in s.positions if board.loc[p, "status"] != "failed"]]
        if len(rows):
            parts.append((s, rows.sort_values("accuracy", ascending=False, na_position="last")))
    if not parts:
        fig, ax = plt.subplots(figsize=(7, 1.5))
        ax.text(0.5, 0.5, "every job failed", ha="center", va="center")
        ax.axis("off")
        return fig
    heights = [1.1 + 0.3 * len(rows) for _, rows in parts]
    fig, axes = plt.subplots(
        len(parts),
        1,
        figsize=(8.5, sum(heights) + 0.5),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
        layout="constrained",
    )
    for ax, (section, rows) in zip(axes[:, 0], parts, strict=True):
        rows = rows.iloc[::-1]
        for y, (_, row) in enumerate(rows.iterrows()):
            value, low, high = _interval(row, "accuracy")
            color = COLORS.get(row.get("significance") or "", COLORS[""])
            if np.isfinite(low):
                ax.plot([low, high], [y, y], color=color, lw=2.2, solid_capstyle="butt")
            if np.isfinite(value):
                ax.plot([value], [y], "o", color=color, ms=6)
                ax.text(value, y + 0.22, f"{value:.3f}", ha="center", va="bottom", fontsize=7,
                        in_layout=False)  # fmt: skip
        names = [(labels or {}).get(p, board.loc[p, "experiment"]) for p in rows.index]
        ax.set_yticks(range(len(rows)), names, fontsize=8)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_xlim(0, 1)
        ax.grid(axis="x", alpha=0.3)
        metric = "subset accuracy" if section.task == "multi-label" else "accuracy"
        ax.set_title(
            f"{section.title}: {metric}, 95 % interval\n{section.where}", fontsize=8.5, loc="left"
        )
    axes[-1, 0].set_xlabel(
        "one panel per set of test tracks; green: the panel's best row and the rows not "
        "significantly different from it (Holm-corrected paired bootstrap); light grey: "
        "significantly worse; dark grey: not ranked (see the section)",
        fontsize=7,
    )
    return fig


def _place_labels(fig, ax, points: Sequence[tuple[float, float, str]], fontsize: float = 7):
    """Write each label near its point where it overlaps no other label and stays inside
    the axes: the nearest free spot on rings of growing radius around the point (with a
    thin line back to the point when it is not next to it).  Returns the annotations."""
    # lazy: loads matplotlib, not needed at import time
    from matplotlib.transforms import Bbox

    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    # The markers themselves are taken: no number is written over a point.
    placed: list[Any] = [
        Bbox.from_extents(px - 3, py - 3, px + 3, py + 3)
        for px, py in ax.transData.transform([(x, y) for x, y, _ in points])
    ]
    texts = []
    angles = np.deg2rad([30, 330, 150, 210, 90, 270, 0, 180, 60, 300, 120, 240])
    for x, y, label in points:
        chosen = None
        for radius in (6, 10, 15, 21, 28, 36, 46, 58):
            for angle in angles:
                dx, dy = radius * math.cos(angle), radius * math.sin(angle)
                text = ax.annotate(
                    label,
                    (x, y),
                    xytext=(dx, dy),
                    textcoords="offset points",
                    fontsize=fontsize,
                    ha="left" if dx > 1 else ("right" if dx < -1 else "center"),
                    va="bottom" if dy > 1 else ("top" if dy < -1 else "center"),
                    arrowprops={"arrowstyle": "-", "color": "#888888", "lw": 0.5}
                    if radius > 10
                    else None,
                    in_layout=False,
                )
                box = text.get_window_extent(renderer)
                fits = (
                    box.x0 >= inside.x0 and box.x1 <= inside.x1
                    and box.y0 >= inside.y0 and box.y1 <= inside.y1
                )  # fmt: skip
                if fits and not any(box.overlaps(other) for other in placed):
                    chosen = text
                    placed.append(box.expanded(1.15, 1.3))
                    break
                text.remove()
            if chosen is not None:
                break
        if chosen is None:  # nowhere free (not seen with 20 rows): on the point, in red
            chosen = ax.annotate(label, (x, y), fontsize=fontsize, ha="center", va="center",
                                 color="#a50026", in_layout=False)  # fmt: skip
            placed.append(chosen.get_window_extent(renderer))
        texts.append(chosen)
    return texts


def _cost_figure(board: pd.DataFrame, positions: Sequence[int], labels, task: str):
    """Accuracy against training seconds and against parameters, the two panels side by
    side over the page's width; each point numbered (the key below the picture names
    it), numbers placed where they overlap nothing.  Returns the figure (None when no row
    has a cost) and the key: ``(number, row name)``."""
    plt = _matplotlib()
    numbered = list(enumerate(positions, 1))
    height = min(4.4, 2.4 + 0.12 * len(positions))
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_INCHES, height), sharey=True, layout="constrained")
    drawn = False
    placements = []
    for ax, column, label in (
        (axes[0], "train_seconds", "training seconds (log scale)"),
        (axes[1], "n_parameters", "parameters (log scale)"),
    ):
        points = []
        for number, position in numbered:
            row = board.loc[position]
            x = float(row.get(column, math.nan))
            value, low, high = _interval(row, "accuracy")
            if not np.isfinite(x) or x <= 0 or not np.isfinite(value):
                continue
            color = COLORS.get(row.get("significance") or "", COLORS[""])
            if np.isfinite(low):
                ax.errorbar(x, value, yerr=[[value - low], [high - value]], fmt="o", ms=4,
                            color=color, elinewidth=1, alpha=0.9)  # fmt: skip
            else:
                ax.plot(x, value, "o", ms=4, color=color)
            points.append((x, value, str(number)))
        drawn |= bool(points)
        if points:
            # lazy: loads matplotlib, not needed at import time
            from matplotlib.ticker import NullFormatter

            xs = [p[0] for p in points]
            ax.set_xscale("log")
            # Whole decades around the points: labelled major ticks on every panel.
            ax.set_xlim(
                10 ** math.floor(math.log10(min(xs) / 2)), 10 ** math.ceil(math.log10(max(xs) * 2))
            )
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(label, fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        placements.append((ax, points))
    if not drawn:
        plt.close(fig)
        return None, []
    axes[0].set_ylabel("subset accuracy" if task == "multi-label" else "accuracy", fontsize=8)
    axes[0].set_ylim(-0.05, 1.08)
    fig.canvas.draw()  # the final layout, so that label boxes are measured where they end
    fig.set_layout_engine("none")
    for ax, points in placements:
        _place_labels(fig, ax, points)
    return fig, [(number, labels[position]) for number, position in numbered]


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


def _per_class_figure(rows: Sequence[tuple[str, Sequence[Path]]], task: str):
    found = {}
    for name, jobs in rows:
        table = _mean_csv(jobs, "per_class.csv")
        if table is not None and "f1" in table:
            found[name] = table["f1"]
    if not found:
        return None
    plt = _matplotlib()
    matrix = pd.DataFrame(found).T
    fig, ax = plt.subplots(
        figsize=(max(5, 0.55 * matrix.shape[1] + 3), 0.42 * matrix.shape[0] + 1.4),
        layout="constrained",
    )
    image = ax.imshow(matrix.to_numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), list(matrix.columns), rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(matrix.shape[0]), list(matrix.index), fontsize=8)
    for (i, j), value in np.ndenumerate(matrix.to_numpy()):
        # Inside the axes: left out of the layout, which would measure every one of them.
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, in_layout=False,
                color="white" if value < 0.6 else "black")  # fmt: skip
    fig.colorbar(image, ax=ax, fraction=0.03, label="F1")
    ax.set_title(f"F1 per {'label' if task == 'multi-label' else 'class'}", fontsize=9)
    return fig


def _confusion_title(task: str) -> str:
    if task == "multi-label":
        return (
            "Per-label outcomes, summed over seeds: colour the share of the tracks, numbers "
            "the tracks (true/false negatives and positives at the row's threshold)"
        )
    return (
        "Confusion matrices, summed over seeds: rows the true class, colour the share of "
        "the class's tracks (normalised per row), numbers the tracks"
    )


def _confusion_figure(rows: Sequence[tuple[str, Sequence[Path]]], task: str):
    matrices = {}
    for name, jobs in rows:
        frames = []
        for folder in jobs:
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
    n_rows = math.ceil(n / cols)
    height = 3.4 if task == "single-label" else 0.22 * max(len(f.index) for _, f in
                                                           matrices.values()) + 1.2  # fmt: skip
    fig, axes = plt.subplots(
        n_rows, cols, figsize=(PAGE_INCHES * cols / 3, height * n_rows), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    image = None
    for ax, (name, (total, frame)) in zip(axes.ravel(), matrices.items(), strict=False):
        labels = list(frame.index)
        shown = total / np.maximum(total.sum(axis=1, keepdims=True), 1)
        if task == "single-label":
            ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
            ax.set_xlabel("predicted", fontsize=7)
            ax.set_ylabel("true", fontsize=7)
        else:
            ax.set_xticks(range(shown.shape[1]), list(frame.columns), fontsize=7)
        image = ax.imshow(shown, vmin=0, vmax=1, cmap="Blues", aspect="auto")
        for (i, j), count in np.ndenumerate(total):
            if count:
                ax.text(j, i, f"{count:.0f}", ha="center", va="center", fontsize=5.5,
                        in_layout=False,
                        color="white" if shown[i, j] > 0.6 else "#222222")  # fmt: skip
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
        ax.set_title(name, fontsize=8)
    fig.colorbar(
        image,
        ax=axes.ravel().tolist(),
        shrink=min(1.0, 6 / (n_rows * height)) if n_rows > 1 else 0.9,
        aspect=30,
        label="share of the row's tracks",
    )
    return fig


def _reliability_title(task: str) -> str:
    what = "every label probability (pooled)" if task == "multi-label" else "top-label"
    count = "label probabilities" if task == "multi-label" else "tracks"
    return (
        f"Reliability diagrams, {RELIABILITY_BINS} equal-width bins, {what}, pooled over "
        "seeds: accuracy per bin against mean confidence, raw (blue) and calibrated "
        f"(orange); the diagonal is perfect calibration; bars: {count} per bin (right axis)"
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


RAW_COLOR, CALIBRATED_COLOR = "#2166ac", "#e08214"


def _binned_counts(count: np.ndarray, n_bins: int) -> np.ndarray:
    """Counts per equal-width bin; reliability.json's extra last bin (confidences of
    exactly 1) joins the top bin."""
    out = np.asarray(count[:n_bins], dtype=float).copy()
    out[-1] += float(np.sum(count[n_bins:]))
    return out


def _reliability_figure(rows: Sequence[tuple[str, Sequence[Path]]], task: str):
    """One panel per row: accuracy per bin against the bin's mean confidence, raw and
    calibrated, over bars of each bin's count (right axis); axis labels on every panel and
    one legend above the panels, where it covers no data."""
    curves, missing = {}, []
    for name, jobs in rows:
        raw = _pooled_bins(jobs, "raw", task)
        if raw is None:
            missing.append(name)
            continue
        curves[name] = raw, _pooled_bins(jobs, "calibrated", task)
    if not curves:
        return None, missing
    plt = _matplotlib()
    n = len(curves)
    cols = min(n, 4)
    n_rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        n_rows, cols, figsize=(PAGE_INCHES * cols / 4, 2.9 * n_rows + 0.4), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    width = 1 / int(RELIABILITY_BINS)
    centres = (np.arange(int(RELIABILITY_BINS)) + 0.5) * width
    outcome = "observed frequency" if task == "multi-label" else "accuracy"
    counted = "label probabilities" if task == "multi-label" else "tracks"
    handles = {}
    for ax, (name, (raw, calibrated)) in zip(axes.ravel(), curves.items(), strict=False):
        counts = ax.twinx()
        series = [(raw, RAW_COLOR, "raw", -1)]
        if calibrated is not None:
            series.append((calibrated, CALIBRATED_COLOR, "calibrated", 1))
        top = (
            max(float(np.max(_binned_counts(data["count"], len(centres)))) for data, *_ in series)
            or 1.0
        )
        for data, color, label, side in series:
            per_bin = _binned_counts(data["count"], len(centres))
            bars = counts.bar(centres + side * width / 4, per_bin, width=width / 2,
                              color=color, alpha=0.22, lw=0)  # fmt: skip
            handles.setdefault(f"{label}: {counted} per bin", bars)
        counts.set_ylim(0, top * 3.2)  # the bars stay in the panel's lower third
        counts.set_yticks([0, top], [0, f"{top:.0f}"])
        counts.tick_params(labelsize=6, colors="#777777")
        counts.set_ylabel(counted, fontsize=6, color="#777777", labelpad=-2)
        ax.set_zorder(counts.get_zorder() + 1)
        ax.patch.set_visible(False)
        (diagonal,) = ax.plot([0, 1], [0, 1], color="#bbbbbb", lw=1)
        handles.setdefault("perfect calibration", diagonal)
        for data, color, label, _ in series:
            used = data["count"] > 0
            (line,) = ax.plot(data["confidence"][used], data["accuracy"][used], "o-",
                              color=color, ms=3, lw=1.2)  # fmt: skip
            handles.setdefault(label, line)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("mean confidence", fontsize=7, labelpad=1)
        ax.set_ylabel(outcome, fontsize=7, labelpad=1)
    order = ["raw", "calibrated", "perfect calibration"]
    names = [k for k in order if k in handles] + [k for k in handles if k not in order]
    fig.legend([handles[k] for k in names], names, loc="outside upper center", ncols=len(names),
               fontsize=7, frameon=False)  # fmt: skip
    return fig, missing


#: The splits of a data set that keep each artist on one side; any other split of it (a
#: random, stratified or k-fold one) puts an artist's tracks on both sides.
ARTIST_FILTERED_SPLITS = {"gtzan": ("fault-filtered",)}


def artist_note(dataset: str, splits: Sequence[str]) -> str:
    """The note a section needs when its split of ``dataset`` is not artist-filtered
    (issue 20 item 12: yan2023's and pocelli2024's random GTZAN splits), else ""."""
    filtered = ARTIST_FILTERED_SPLITS.get(dataset)
    if filtered is None or not splits or all(s in filtered for s in splits):
        return ""
    return (
        f"Split {', '.join(splits)} of {dataset} is not artist-filtered: one artist's tracks "
        "fall on both sides, which inflates accuracy (Sturm 2013); the "
        f"{' / '.join(filtered)} split keeps each artist on one side."
    )


# --------------------------------------------------------------------------- across data sets
def _across(board: pd.DataFrame) -> list[dict[str, Any]]:
    """The critical-difference diagram of each profile and task type where the analysis
    can say something, else the sentence saying why it was left out (both decided by
    :func:`genrebench.reporting.stats.across_datasets`)."""
    done, left_out = stats.across_datasets(board)
    out = [
        {
            "profile": r.profile,
            "protocol": r.protocol,
            "task": r.task,
            "drawn": _friedman(r),
            "reason": "",
        }
        for r in done
    ]
    out += [
        {"profile": r.profile, "protocol": r.protocol, "task": r.task, "drawn": None,
         "reason": r.reason}
        for r in left_out
    ]  # fmt: skip
    return sorted(out, key=lambda e: (e["profile"], e["protocol"], e["task"]))


def _friedman(result: stats.Friedman) -> dict[str, Any]:
    # lazy: loads scikit_posthocs, not needed at import time
    import scikit_posthocs as sp

    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.3 * len(result.experiments)))
    sp.critical_difference_diagram(result.mean_ranks, result.nemenyi, ax=ax)
    metric = "subset accuracy" if result.task == "multi-label" else result.metric
    ax.set_title(
        f"Mean rank of {metric} over {len(result.datasets)} data sets "
        f"(profile {result.profile}, {result.protocol} protocol); bars join experiments the "
        "Nemenyi test does not separate",
        fontsize=8,
    )
    return {
        "profile": result.profile,
        "task": result.task,
        "datasets": result.datasets,
        "experiments": result.experiments,
        "statistic": result.statistic,
        "p_value": result.p_value,
        "critical_difference": result.critical_difference,
        "notes": list(result.notes),
        "ranks": [(name, float(rank)) for name, rank in result.mean_ranks.items()],
        "figure": _data_uri(_png(fig)),
    }


# --------------------------------------------------------------------------- paper vs ours
PART_NAMES = {"test": "test", "valid": "validation", "train": "training"}


def _paper_tables(board: pd.DataFrame, infos, registry) -> list[dict[str, Any]]:
    """For every experiment on the board whose spec declares ``reported`` numbers: each
    reported number beside ours on the same part of the split (test: the leaderboard's
    column with its interval; validation: computed from ``valid_predictions.csv``;
    training: from the training history in ``provenance.json``), on every data set,
    profile and protocol the experiment ran on, or why there is no such number of ours.
    Both sides name their data, split and protocol."""
    if registry is None:
        return []
    specs = _metric_specs(registry)
    tables = []
    for name in dict.fromkeys(board["experiment"]):
        spec = _spec(registry, name)
        reported = getattr(spec, "reported", ()) if spec is not None else ()
        if not reported:
            continue
        positions = [
            p for p in board.index[(board["experiment"] == name) & (board["status"] != "failed")]
        ]
        runs = [_run_description(board.loc[p], infos[p]) for p in positions]
        rows = []
        for number in reported:
            part, metric = _measured_on(number)
            ours = [_ours(board.loc[p], infos[p], part, metric, specs) for p in positions]
            rows.append(
                {
                    "reported": number,
                    "part": PART_NAMES.get(part, part),
                    "metric": metric,
                    "paper_split": getattr(number, "split", "") or "",
                    "ours": [
                        {**run, **value, "same_data": run["dataset"] == number.dataset}
                        for run, value in zip(runs, ours, strict=True)
                    ],
                }
            )
        tables.append({"experiment": name, "paper": getattr(spec, "paper", ""), "rows": rows})
    return tables


def _measured_on(number) -> tuple[str, str]:
    """``(part, metric)`` of a reported number (``Reported.measured_on``; a plain object
    with ``metric`` alone: its ``valid_``/``train_`` prefix, else the test part)."""
    found = getattr(number, "measured_on", None)
    if found is not None:
        return found
    for part in ("valid", "train"):
        if number.metric.startswith(f"{part}_"):
            return part, number.metric.removeprefix(f"{part}_")
    return "test", number.metric


def _run_description(row: pd.Series, info: RowInfo) -> dict[str, Any]:
    return {
        "dataset": str(row["dataset"]),
        "profile": str(row["profile"]),
        "protocol": f"{info.protocol} protocol" if info.protocol else "protocol not recorded",
        "split": info.split or "not recorded",
        "n_test": info.n_test_tracks,
    }


def _ours(row: pd.Series, info: RowInfo, part: str, metric: str, specs) -> dict[str, str]:
    """Our value of ``metric`` on ``part`` for one board row: ``{"value", "why"}`` (why
    there is none, or how it was obtained)."""
    if part == "test":
        if metric not in row.index or not np.isfinite(float(row.get(metric, math.nan))):
            why = f"this row has no {metric} column"
            if metric == "accuracy_raw":
                why = "one segment per track: no per-segment accuracy (accuracy_raw)"
            return {"value": "", "why": why}
        value, low, high = _interval(row, metric)
        text = f"{value:.3f}"
        if np.isfinite(low):
            text += f" {leaderboard.interval_text(low, high)}"
        return {"value": text, "why": f"test tracks, mean over {row.get('n_seeds', '?')} seed(s)"}
    if part == "valid":
        return _valid_value(info, metric, specs)
    return _train_value(info, metric)


def _valid_value(info: RowInfo, metric: str, specs) -> dict[str, str]:
    if metric == "accuracy_raw":
        return {
            "value": "",
            "why": "per-segment validation predictions are not saved (valid_predictions.csv "
            "has one row per track): no per-segment validation accuracy",
        }
    values, sizes, missing = [], set(), 0
    for r in info.jobs:
        path = Path(r["job_dir"]) / "valid_predictions.csv"
        if not path.exists():
            missing += 1
            continue
        try:
            _, y, probs = outputs.read_predictions(path, r["classes"], r["task"])
            found = _compute(specs, r["task"], y, probs, float(r.get("threshold", 0.5)))
        except (OSError, ValueError, KeyError) as exc:
            return {"value": "", "why": f"{path} could not be scored: {exc}"}
        if metric not in found:
            return {"value": "", "why": f"no metric {metric!r} to compute on validation tracks"}
        values.append(found[metric])
        sizes.add(len(y))
    if not values:
        why = "no validation predictions (valid_predictions.csv)"
        if info.jobs:
            why += ": the split has no validation part" if missing else ""
        return {"value": "", "why": why}
    tracks = ", ".join(str(s) for s in sorted(sizes))
    note = f"validation tracks ({tracks}), mean over {len(values)} seed(s)"
    if missing:
        note += f"; {missing} seed(s) without valid_predictions.csv"
    return {"value": f"{np.mean(values):.3f}", "why": note}


def _compute(specs, task: str, y: np.ndarray, probs: np.ndarray, threshold: float):
    if specs:
        # lazy: loads soundfile, soxr, not needed at import time
        from genrebench.run.stages import compute_metrics

        return compute_metrics(specs, task, y, probs, threshold)

    if task == "single-label":
        return {"accuracy": metrics.accuracy(y, probs)}
    return {"accuracy": metrics.multilabel_accuracy(y, probs, threshold)}


def _metric_specs(registry) -> list[Any]:
    try:
        return list(registry.specs("metrics"))
    except (AttributeError, KeyError, GenrebenchError):
        return []


def _train_value(info: RowInfo, metric: str) -> dict[str, str]:
    """The last epoch's training ``metric`` from each seed's ``training_history``."""
    values, recorded = [], set()
    histories = 0
    for r in info.jobs:
        prov = outputs.read_json(Path(r["job_dir"]) / "provenance.json")
        history = (prov or {}).get("training_history")
        if not history:
            continue
        histories += 1
        last = history[-1] if isinstance(history, list) and history else {}
        recorded |= set(last) if isinstance(last, Mapping) else set()
        for key in (f"train_{metric}", metric):
            if isinstance(last, Mapping) and isinstance(last.get(key), int | float):
                values.append(float(last[key]))
                break
    if values:
        return {
            "value": f"{np.mean(values):.3f}",
            "why": f"training tracks, last epoch of the training history, mean over "
            f"{len(values)} seed(s)",
        }
    if histories:
        fields = ", ".join(sorted(recorded - {"epoch"})) or "nothing"
        return {
            "value": "",
            "why": f"the training history records {fields} per epoch, no training {metric}",
        }
    return {
        "value": "",
        "why": "no training history in provenance.json (the model records none)",
    }


def _spec(registry, name: str):
    for kind in ("experiments", "ensembles"):
        try:
            return registry.get(kind, name)
        except (KeyError, GenrebenchError):
            continue
    return None


# --------------------------------------------------------------------------- provenance
def _is_ensemble(result: Mapping[str, Any]) -> bool:
    return "ensemble" in result or result.get("seed") == "ensemble"


def _caps_text(caps: Any) -> tuple[str, str]:
    if not isinstance(caps, Mapping):
        return "not recorded", "not recorded"

    def text(part: Any) -> str:
        if not isinstance(part, Mapping) or not part:
            return "none"
        return ", ".join(f"{k} = {v}" for k, v in sorted(part.items()))

    return text(caps.get("applied")), text(caps.get("ignored"))


def _provenance(results: Sequence[Mapping[str, Any]], board, infos) -> dict[str, Any]:
    """What the jobs recorded about where and how they ran, each distinct value once;
    every split with its protocol, caps and the rows on it (with the test tracks each
    lost).  Ensembles write no ``provenance.json`` of their own (their members' is
    counted): they are counted apart, not as missing."""
    seen: dict[str, dict[str, list[str]]] = {}

    def note(field_name: str, value: Any, job: str) -> None:
        text = "not recorded" if value is None else str(value)
        seen.setdefault(field_name, {}).setdefault(text, []).append(job)

    packages: dict[str, set[str]] = {}
    ensembles = 0
    provenances: dict[str, dict[str, Any]] = {}
    for r in results:
        job = f"{r['experiment']} / {r['dataset']} / {r['profile']} / seed {r['seed']}"
        prov = outputs.read_json(Path(r["job_dir"]) / "provenance.json")
        if prov is None:
            if _is_ensemble(r):
                ensembles += 1
            else:
                note("provenance.json", "missing", job)
            continue
        provenances[r["job_dir"]] = prov
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
    fields = [
        {"field": name, "entries": [(value, len(jobs)) for value, jobs in values.items()]}
        for name, values in seen.items()
    ]
    return {
        "fields": fields,
        "ensembles": ensembles,
        "packages": sorted((name, ", ".join(sorted(v))) for name, v in packages.items()),
        "splits": _splits(board, infos, provenances),
    }


def _splits(board: pd.DataFrame, infos: Sequence[RowInfo], provenances) -> list[dict[str, Any]]:
    """One entry per split a row was evaluated on: data set, protocol, scheme, part sizes,
    the caps applied and ignored, the parts' checksums, and the rows on it with the planned
    test tracks each lost."""
    splits: dict[tuple, dict[str, Any]] = {}
    for position, record in board.iterrows():
        info = infos[position]
        for r in info.jobs:
            prov = provenances.get(r["job_dir"], {})
            split = prov.get("split", {}) if isinstance(prov.get("split"), Mapping) else {}
            checksums = r.get("split_sha256") or split.get("sha256") or {}
            caps = r.get("caps", prov.get("caps"))
            if not checksums and _is_ensemble(r):
                continue  # its members' split is listed
            applied, ignored = _caps_text(caps)
            sizes = "/".join(
                str(r.get(f"n_{p}_tracks", split.get(p, "?"))) for p in ("train", "valid", "test")
            )
            scheme = r.get("split") or split.get("scheme") or "?"
            if r.get("folds"):
                scheme = f"{scheme}, {r['folds']} folds pooled"
            key = (
                r["dataset"],
                info.protocol,
                scheme,
                applied,
                ignored,
                *(checksums.get(p, "") for p in ("train", "valid", "test")),
            )
            entry = splits.setdefault(
                key,
                {
                    "dataset": r["dataset"],
                    "protocol": info.protocol or "not recorded",
                    "scheme": scheme,
                    "seed": r.get("split_seed", split.get("seed")),
                    "sizes": sizes,
                    "applied": applied,
                    "ignored": ignored,
                    "sha256": {
                        p: checksums.get(p, "not recorded") for p in ("train", "valid", "test")
                    },
                    "rows": {},
                },
            )
            name = f"{record['experiment']} ({record['profile']})"
            lost = entry["rows"].setdefault(name, [])
            seed = "the seed ensemble" if r.get("seed") == "ensemble" else f"seed {r.get('seed')}"
            if isinstance(r.get("n_test_tracks_lost"), int):
                lost.append((seed, int(r["n_test_tracks_lost"]), "test track(s) lost"))
            elif isinstance(r.get("n_skipped_tracks"), int):
                # Older results: tracks skipped by a failed feature, part not recorded.
                skipped = int(r["n_skipped_tracks"])
                lost.append((seed, skipped, "track(s) skipped, part not recorded"))
            else:
                lost.append((seed, None, ""))
    out = []
    for entry in splits.values():
        losses, unrecorded = [], []
        for name, per_seed in entry["rows"].items():
            found = [f"{n} {what} in {seed}" for seed, n, what in per_seed if n]
            if found:
                losses.append((name, ", ".join(found)))
            elif any(n is None for _, n, _ in per_seed):
                unrecorded.append(name)
        out.append(
            {**entry, "rows": list(entry["rows"]), "losses": losses, "unrecorded": unrecorded}
        )
    return out
