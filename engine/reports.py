"""The take-away reports: the history exported (JSON lines, CSV, one self-contained HTML file)
and a person's record (专项述职), rendered with the Jinja2 templates in engine/templates.

What people open is safe with whatever old rows hold:

- CSV is UTF-8 with a byte order mark (so that Excel reads it as UTF-8), and every text cell
  that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`, so
  that a spreadsheet takes it as text, never as a formula (OWASP, CSV injection): `csv_cell`.
  All text cells are treated so, the payload's JSON and the times included; the numbers the
  program writes itself (seq, issue_id, version) are written as numbers and never negative.
- HTML is autoescaped, and every value goes through the text rule's `visible` first: a control
  or bidirectional character that slipped in (U+202E) shows as an escape (`\\u202e`), inert.
- The person report (plain text) shows every value as engine.present.shown does.
JSON lines carry the text exactly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from importlib.resources import files
from typing import Any

from engine.app.audit import PersonReport, Verdict
from engine.domain.escalation import OUTCOMES
from engine.domain.events import Event
from engine.domain.issue import Issue
from engine.domain.text import visible
from engine.present import (
    display_width,
    escalation_json,
    event_details,
    event_json,
    event_what,
    is_backdated,
    shown,
    town_time,
    when,
)
from engine.words import Words

CSV_COLUMNS = ("seq", "issue_id", "version", "type", "transition", "from_state", "to_state",
               "actor", "at", "recorded_at", "backdated", "workflow", "payload", "prev_hash",
               "hash")


def jsonl(events: Iterable[Event], tz: tzinfo) -> Iterator[str]:
    """One event per line, as `issue history --json` gives them, with the chain's links."""
    for e in events:
        yield json.dumps(event_json(e, tz), ensure_ascii=False, sort_keys=True) + "\n"


BOM = "\ufeff"
"""The byte order mark a CSV export starts with (Excel then reads it as UTF-8)."""
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A cell as a CSV export writes it: a text that a spreadsheet would take for a formula
    (it begins with = + - @, a tab or a carriage return) gets a leading `'`; None is empty;
    anything else (a number the program wrote) as it is."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def csv_row(cells: Iterable[object]) -> list[object]:
    """A row's cells made safe (csv_cell): the one treatment of every CSV the program writes."""
    return [csv_cell(c) for c in cells]


def csv_lines(events: Iterable[Event], tz: tzinfo) -> Iterator[str]:
    """The BOM and a header, then one row per event; the payload as JSON text; every cell made
    safe for a spreadsheet (csv_cell)."""
    buf = io.StringIO()
    buf.write(BOM)
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(csv_row(CSV_COLUMNS))
    for e in events:
        d = event_json(e, tz)
        d["payload"] = json.dumps(d["payload"], ensure_ascii=False, sort_keys=True,
                                  separators=(",", ":"))
        d["backdated"] = "yes" if d["backdated"] else ""
        w.writerow(csv_row(d[c] for c in CSV_COLUMNS))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    if buf.getvalue():
        yield buf.getvalue()


class _Lines(str):
    """Free text already shown with its lines (the `lines` filter): not escaped again."""


def _lines(value: object, indent: int = 0) -> _Lines:
    return _Lines(shown(value, multiline=True, indent=indent))


def _env(autoescape: bool) -> Any:
    from jinja2 import Environment, StrictUndefined
    from markupsafe import Markup

    def finalize(value: Any) -> Any:
        """Every `{{ … }}`: text shown by the text rule (HTML: lines kept, the page lays them
        out; plain text: one line, unless the template asked for `|lines`)."""
        if not isinstance(value, str) or isinstance(value, _Lines | Markup):
            return value
        return visible(value, multiline=autoescape)

    env = Environment(autoescape=autoescape, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True, finalize=finalize)
    env.filters["backdated"] = is_backdated
    env.filters["lines"] = _lines
    return env


def _template(name: str, autoescape: bool) -> Any:
    text = files("engine").joinpath("templates", name).read_text(encoding="utf-8")
    return _env(autoescape).from_string(text)


def html(timelines: list[tuple[Issue, list[Event]]], total: int, verdict: Verdict,
         tz: tzinfo, town: str, generated_at: datetime, start: datetime | None,
         end: datetime | None, village: str | None, w: Words, drill: bool = False) -> str:
    """One file, no network: each issue's timeline with hashes, evidence and marks, in the
    reader's words. In a drill every time is simulated: the page says so once instead of
    marking every event back-dated."""

    def local(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    backdated = sum(1 for _, events in timelines for e in events if is_backdated(e))
    return str(_template("export.html.j2", autoescape=True).render(
        town=town, timelines=timelines, total=total, verdict=verdict, local=local,
        generated_at=generated_at, start=start, end=end, village=village,
        backdated=backdated, w=w, drill=drill or verdict.drill,
        what=lambda e: event_what(e, w), details=lambda e: event_details(e, w)))


def person_json(report: PersonReport, tz: tzinfo) -> dict[str, Any]:
    did = report.did
    return {
        "person": report.person,
        "name": report.name,
        "from": when(report.start, tz),
        "to": when(report.end, tz),
        "did": did,
        "totals": {k: sum(d[k] for d in did.values())
                   for k in ("count", "on_time", "late", "no_deadline")},
        "escalations_received": {
            level: sum(1 for x in report.received if x.level == level)
            for level in ("reminder", "interview", "accountability")
        },
        "escalations": [escalation_json(x, tz) for x in report.received],
        "accountability_answered": {
            outcome: sum(1 for x in report.answered if x.outcome == outcome)
            for outcome in OUTCOMES},
        "accountability_cases": [escalation_json(x, tz) for x in report.answered],
        "recorded": [{**r, "at": when(r["at"], tz)} for r in report.recorded],
        "events": len(report.events),
        "backdated": sum(1 for e in report.events if is_backdated(e)),
    }


def person_text(report: PersonReport, tz: tzinfo, w: Words, drill: bool = False) -> str:
    """The person report for people: person_json's data in the reader's words, every time as
    town_time; in a drill (every time simulated) without the count of back-dated events."""
    data = person_json(report, tz)
    if drill:
        data["backdated"] = 0
    data["from"], data["to"] = town_time(report.start, tz), town_time(report.end, tz)
    for shown_x, x in zip(data["escalations"], report.received, strict=True):
        shown_x["raised_at"] = town_time(x.raised_at, tz)
    for shown_x, x in zip(data["accountability_cases"], report.answered, strict=True):
        shown_x["closed_at"] = town_time(x.closed_at, tz)
    for shown_r, r in zip(data["recorded"], report.recorded, strict=True):
        shown_r["at"] = town_time(r["at"], tz)
    return str(_template("person.txt.j2", autoescape=False).render(
        r=data, w=w, pad=lambda text, width: text + " " * max(0, width - display_width(text)),
        order=("fix", "report", "study", "rectify", "verify", "reject", "clear", "reopen")))
