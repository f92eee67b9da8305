"""The LF report as one self-contained HTML file: inline CSS, inline SVG charts, one small inline
script (sortable tables), and a Content-Security-Policy that forbids every network request.

The page shows, from :mod:`weaksup.report.frames` and :mod:`weaksup.report.buckets` only: the
run's headline figures, the per-LF table, the charts (:mod:`weaksup.report.charts`), the
example buckets, suspicious labels (with the ``cleanlab`` extra), the changes since the
previous run, and the run history.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

import polars as pl

from weaksup.report.buckets import buckets
from weaksup.report.charts import run_charts
from weaksup.report.end_model import end_model_tables, recorded_scores
from weaksup.report.frames import LLM_COLUMNS, RunChanges, history, lf_agreement, lf_table, run_changes
from weaksup.report.style import CSS, SCRIPT
from weaksup.report.suspicious import suspicious_labels, why_not_checked
from weaksup import batches
from weaksup.report.view import RunView, load_run
from weaksup.store import VoteStore

ERROR_CHARS = 140
"""How much of an LF's first error message its table cell shows (the tooltip holds more)."""
PERCENT = {"coverage", "overlaps", "conflicts", "emp_acc", "learned_acc", "train_coverage"}
BUCKET_TITLES = {
    "uncovered": ("Uncovered examples", "No LF voted on these (a random sample): ideas for new LFs."),
    "most_conflict": ("Most conflict", "The examples whose votes disagree most."),
    "confident_wrong": ("Confident and wrong", "Labels that contradict gold, most confident first."),
    "lf_disagreements": ("Per-LF disagreements", "For each LF (the 60 with the most votes, when there are more), "
                         "a sample of its votes against the final label."),
}


@dataclass
class Report:
    """Everything a report shows, as frames (built by :func:`build_report`)."""

    view: RunView
    lfs: pl.DataFrame
    agreement: pl.DataFrame
    history: pl.DataFrame
    changes: RunChanges
    buckets: dict[str, pl.DataFrame]
    suspicious: pl.DataFrame | None
    suspicious_note: str | None = None
    """Why suspicious labels were not checked, when they were asked for and could not be."""
    end_model: dict[str, Any] | None = None
    """The end model's recorded scores per split (:mod:`.end_model`), when the run saved them."""


def build_report(store: VoteStore, run_id: int | None = None, run_dir: Path | None = None,
                 suspicious: bool = True, seed: int = 0, export_root: Path | None = None) -> Report:  # fmt: skip
    """Compute every frame of the report of run ``run_id`` (default: the newest succeeded run).
    ``suspicious`` runs the cleanlab check when the extra is installed.  The report reads ``store``
    through its read-only view (:meth:`~weaksup.store.VoteStore.report_reader`)."""
    reader = store.report_reader()
    view = load_run(reader, run_id, run_dir, export_root, with_data=False, batch_rows=batches.REPORT_PART_ROWS)  # read in parts
    rid = int(view.run["run_id"])
    note = why_not_checked(view) if suspicious and view.report_type.suspicious else None
    flagged = suspicious_labels(view, seed=seed) if suspicious and note is None else None
    if suspicious and view.report_type.suspicious and note is None and flagged is None:
        note = "the examples have no text field for the check's end model to read"
    return Report(
        view,
        lf_table(reader, view),
        lf_agreement(view),
        history(reader, rid),
        run_changes(reader, rid, view.classes),
        buckets(view, seed=seed),
        flagged,
        note,
        recorded_scores(view.reader.gold_dir if view.reader else None),
    )


def write_report(store: VoteStore, path: str | Path, run_id: int | None = None, run_dir: Path | None = None,
                 suspicious: bool = True, seed: int = 0, export_root: Path | None = None,
                 say: Callable[[str], None] | None = None) -> Path:  # fmt: skip
    """Write the report of run ``run_id`` to ``path`` (one HTML file); with flagged suspicious
    labels, also ``suspicious_labels.csv`` beside it.  Returns ``path``.  ``say`` is told why
    suspicious labels were not checked, when they were asked for and could not be."""
    report = build_report(store, run_id, run_dir, suspicious, seed, export_root)
    if report.suspicious_note and say is not None:
        say(f"suspicious labels not checked: {report.suspicious_note}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")
    if report.suspicious is not None and report.suspicious.height:
        report.suspicious.write_csv(path.with_name("suspicious_labels.csv"))
    return path


# -- rendering ----------------------------------------------------------------------------------


def _cell(column: str, value: Any) -> tuple[str, str]:
    """(display text, sort key) of one table cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—", ""
    if isinstance(value, bool):
        return ("yes" if value else "no"), str(int(value))
    if isinstance(value, float):
        text = f"{value:.1%}" if column in PERCENT else f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
        return text, repr(value)
    if isinstance(value, int):
        return f"{value:,}", str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M"), value.isoformat()
    if isinstance(value, list):
        return ", ".join(map(str, value)), ", ".join(map(str, value))
    return str(value), str(value)


def table(frame: pl.DataFrame, key: str, sortable: bool = True, votes_column: str | None = None) -> str:
    """A frame as an HTML table (``data-table=key``); click a header to sort when ``sortable``."""
    head = "".join(f'<th scope="col">{escape(c.replace("_", " "))}</th>' for c in frame.columns)
    body = []
    for row in frame.iter_rows(named=True):
        cells = []
        for col, value in row.items():
            if col == votes_column:
                chips = "".join(f'<span class="chip" title="{escape(v)}"><b>{escape(v.split("=", 1)[0])}</b>'
                                f'{escape(v.split("=", 1)[-1])}</span>' for v in value or [])  # fmt: skip
                cells.append(f'<td class="votes">{chips or "<span class=muted>no votes</span>"}</td>')
                continue
            text, sort = _cell(col, value)
            num = isinstance(value, (int, float)) and not isinstance(value, bool)
            if col == "first_error":  # a long message would widen the table: its start here, more in the tooltip
                shown = text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"
                cells.append(f'<td class="text err" title="{escape(text[:2000])}" data-sort="{escape(sort[:200])}">'
                             f"{escape(shown)}</td>")  # fmt: skip
                continue
            cls = ' class="num"' if num else ' class="text"' if col == "text" else ""
            shown = escape(text).replace("_", "_<wbr>") if col in ("lf", "lf_a", "lf_b") else escape(text)
            cells.append(f'<td{cls} data-sort="{escape(sort)}">{shown}</td>')  # a long LF name may break after a _
        body.append("<tr>" + "".join(cells) + "</tr>")
    sort = " sortable" if sortable else ""
    return (f'<div class="table-wrap"><table class="data{sort}" data-table="{escape(key)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')  # fmt: skip


def _headline(report: Report) -> str:
    run, view = report.view.run, report.view
    metrics = run["metrics"] or {}
    covered = view.covered() / view.n if view.n else 0.0
    cards = [("examples", f"{view.n:,}"), ("LFs", str(len(view.versions))), ("coverage", f"{covered:.1%}")]
    for key in sorted(metrics):
        value = metrics[key]
        if key.startswith(("label_model_", "end_model_")) and key.endswith("_test") and isinstance(value, float):
            label = key.removesuffix("_test").replace("_", " ")
            cards.append((label + " (test)", f"{value:.1%}" if "accuracy" in key else f"{value:.3f}"))
    return "".join(f'<div class="card"><div class="value">{escape(v)}</div><div class="label">{escape(k)}</div></div>'
                   for k, v in cards)  # fmt: skip


def _section(anchor: str, title: str, intro: str, body: str) -> str:
    return (f'<section id="{anchor}"><h2>{escape(title)}</h2>'
            + (f'<p class="intro">{escape(intro)}</p>' if intro else "") + body + "</section>")  # fmt: skip


def render(report: Report) -> str:
    """The report as one HTML document."""
    view, run = report.view, report.view.run
    charts = run_charts(view, report.lfs, report.agreement, report.history)
    figures = "".join(f'<figure class="card-chart" id="chart-{escape(k)}"><figcaption><h3>{escape(t)}</h3>'
                      f'<p>{escape(c)}</p></figcaption>{s}</figure>' for k, t, c, s in charts)  # fmt: skip
    bucket_html = ""
    for key, frame in report.buckets.items():
        title, intro = BUCKET_TITLES[key]
        inner = table(frame, f"bucket-{key}", votes_column="votes") if frame.height else '<p class="muted">None.</p>'
        bucket_html += (f'<details class="bucket" open><summary>{escape(title)} <span class="count">{frame.height}'
                        f'</span></summary><p class="intro">{escape(intro)}</p>{inner}</details>')  # fmt: skip
    idle = [c for c in LLM_COLUMNS if c in report.lfs.columns and report.lfs[c].null_count() == report.lfs.height]
    sections = [
        _section("lfs", "Labeling functions", "Click a column header to sort. Accuracy on gold leaves the test split "
                 "out; learned accuracy is the label model's estimate." + (" No LF is prompted: the LLM columns are left "
                 "out." if idle else ""), table(report.lfs.drop(idle), "lfs")),
        _section("charts", "Charts", "", f'<div class="grid">{figures}</div>'),
        _section("buckets", "Example buckets", f"Each example with the votes it got (LF → vote). Examples of the "
                 f"{view.test_split!r} split are never shown, nor their gold: it stays unseen while you write LFs.",
                 bucket_html),
    ]  # fmt: skip
    tables = end_model_tables(report.end_model or {})
    if tables:
        body = "".join(f"<h3>{escape(split)} (accuracy {report.end_model[split]['accuracy']:.3f}, macro-F1 "  # type: ignore[index]
                       f"{report.end_model[split]['macro_f1']:.3f}, log-loss {report.end_model[split]['log_loss']:.3f})</h3>"  # type: ignore[index]
                       + table(t, f"end-model-{split}") for split, t in tables.items())  # fmt: skip
        sections.append(_section("end-model", "End model", "Per split with gold: each class's precision, recall and "
                                 "F1, and the confusion matrix (rows: gold class; columns: predicted).", body))  # fmt: skip
    if report.suspicious is not None:
        body = table(report.suspicious, "suspicious") if report.suspicious.height else '<p class="muted">None flagged.</p>'
        sections.append(_section("suspicious", "Suspicious labels", "cleanlab's find_label_issues on out-of-sample "
                                 "end-model probabilities (cross-validated): weak labels and gold, outside the test "
                                 "split. Also written to suspicious_labels.csv.", body))  # fmt: skip
    elif report.suspicious_note:
        sections.append(_section("suspicious", "Suspicious labels", "", f'<p class="muted" id="suspicious-note">Not '
                                 f"checked: {escape(report.suspicious_note)}.</p>"))  # fmt: skip
    ch = report.changes
    if ch.previous is not None:
        changed = int(ch.labels["examples"].sum()) if ch.labels.height else 0
        body = (f'<p class="intro">{changed:,} labels changed since run {ch.previous}.</p><div class="two">'
                + (table(ch.labels, "changes-labels") if ch.labels.height else '<p class="muted">No label changed.</p>')
                + table(ch.lfs, "changes-lfs") + "</div>")  # fmt: skip
        sections.append(_section("changes", f"Changes since run {ch.previous}", "", body))
    sections.append(_section("history", "Run history", "", table(report.history, "history")))
    nav = "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t in (("lfs", "LFs"), ("charts", "Charts"), ("buckets", "Buckets"),
                  ("end-model", "End model"), ("suspicious", "Suspicious"), ("changes", "Changes"), ("history", "History")) if f'id="{a}"' in "".join(sections))  # fmt: skip
    started = run["started_at"].strftime("%Y-%m-%d %H:%M %Z") if isinstance(run["started_at"], datetime) else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(run["pipeline"])} · run {run["run_id"]} · weaksup report</title>
<style>{CSS}</style></head>
<body><header><div class="wrap"><div class="kicker">weaksup LF report · {escape(view.label_type)}</div>
<h1>{escape(run["pipeline"])} <span class="run">run {run["run_id"]}</span></h1>
<div class="sub">{escape(started)}{" · classes: " + escape(", ".join(view.classes)) if view.classes else ""}
{" · no gold saved for this run" if not view.has_gold else ""}</div>
<div class="cards">{_headline(report)}</div><nav>{nav}</nav></div></header>
<main class="wrap">{"".join(sections)}</main>
<footer class="wrap">Written by weaksup. One self-contained file: it loads nothing from the network.</footer>
<script>{SCRIPT}</script></body></html>"""
