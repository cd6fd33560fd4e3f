"""The take-away reports: the history exported (JSON lines, CSV, one self-contained HTML file)
and a person's record (专项述职), rendered with the Jinja2 templates in engine/templates."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from importlib.resources import files
from typing import Any

from engine.app.audit import PersonReport, Verdict
from engine.domain.events import Event
from engine.domain.issue import Issue
from engine.present import (
    LEVEL_LABELS,
    escalation_json,
    event_details,
    event_json,
    event_what,
    is_backdated,
    when,
)

CSV_COLUMNS = ("seq", "issue_id", "version", "type", "transition", "from_state", "to_state",
               "actor", "at", "recorded_at", "backdated", "workflow", "payload", "prev_hash",
               "hash")


def jsonl(events: Iterable[Event], tz: tzinfo) -> Iterator[str]:
    """One event per line, as `issue history --json` gives them, with the chain's links."""
    for e in events:
        yield json.dumps(event_json(e, tz), ensure_ascii=False, sort_keys=True) + "\n"


def csv_lines(events: Iterable[Event], tz: tzinfo) -> Iterator[str]:
    """A header and one row per event; the payload as JSON text (UTF-8, with a BOM-less
    header so that tools that read CSV as UTF-8 take it as is)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for e in events:
        d = event_json(e, tz)
        d["payload"] = json.dumps(d["payload"], ensure_ascii=False, sort_keys=True,
                                  separators=(",", ":"))
        d["backdated"] = "yes" if d["backdated"] else ""
        w.writerow([d[c] if d[c] is not None else "" for c in CSV_COLUMNS])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    if buf.getvalue():
        yield buf.getvalue()


def _env(autoescape: bool) -> Any:
    from jinja2 import Environment, StrictUndefined

    env = Environment(autoescape=autoescape, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["what"] = event_what
    env.filters["details"] = event_details
    env.filters["backdated"] = is_backdated
    return env


def _template(name: str, autoescape: bool) -> Any:
    text = files("engine").joinpath("templates", name).read_text(encoding="utf-8")
    return _env(autoescape).from_string(text)


def html(timelines: list[tuple[Issue, list[Event]]], total: int, verdict: Verdict,
         tz: tzinfo, town: str, generated_at: datetime, start: datetime | None,
         end: datetime | None, village: str | None) -> str:
    """One file, no network: each issue's timeline with hashes, evidence and marks."""

    def local(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    backdated = sum(1 for _, events in timelines for e in events if is_backdated(e))
    return str(_template("export.html.j2", autoescape=True).render(
        town=town, timelines=timelines, total=total, verdict=verdict, local=local,
        generated_at=generated_at, start=start, end=end, village=village,
        backdated=backdated, levels=LEVEL_LABELS))


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
        "recorded": [{**r, "at": when(r["at"], tz)} for r in report.recorded],
        "events": len(report.events),
        "backdated": sum(1 for e in report.events if is_backdated(e)),
    }


def person_text(report: PersonReport, tz: tzinfo) -> str:
    data = person_json(report, tz)
    return str(_template("person.txt.j2", autoescape=False).render(
        r=data, levels=LEVEL_LABELS, order=("fix", "report", "study", "rectify", "verify",
                                            "reject", "clear", "reopen")))
