"""How issues and events look: JSON objects (the contract) and tables for people."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

from engine.domain.issue import Event, Issue


def when(value: datetime | None, tz: tzinfo) -> str | None:
    """ISO 8601 with offset, in town time; None stays None."""
    return None if value is None else value.astimezone(tz).isoformat()


def issue_json(i: Issue, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": i.id,
        "title": i.title,
        "state": i.state,
        "version": i.version,
        "village": i.village,
        "category": i.category,
        "assignee": i.assignee,
        "listed": i.listed,
        "due_at": when(i.due_at, tz),
        "group": i.group,
        "household": i.household,
        "severity": i.severity,
        "description": i.description,
        "plan": i.plan,
        "stage_entered_at": when(i.stage_entered_at, tz),
        "created_at": when(i.created_at, tz),
        "created_by": i.created_by,
        "workflow": i.workflow,
    }


def event_json(e: Event, tz: tzinfo) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "issue_id": e.issue_id,
        "version": e.version,
        "type": e.type,
        "transition": e.transition,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "actor": e.actor,
        "at": when(e.at, tz),
        "recorded_at": when(e.recorded_at, tz),
        "payload": dict(e.payload),
        "workflow": e.workflow,
    }


def _short(value: datetime | None, tz: tzinfo) -> str:
    return "" if value is None else value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _due(value: datetime | None, tz: tzinfo) -> str:
    """A due moment as a cadre reads it: `by 2020-10-12` for 2020-10-13 00:00."""
    if value is None:
        return ""
    local = value.astimezone(tz)
    if local.hour == local.minute == local.second == 0:
        return f"by {(local - timedelta(days=1)):%Y-%m-%d}"
    return local.strftime("%Y-%m-%d %H:%M")


def issue_text(i: Issue, tz: tzinfo) -> str:
    rows: list[tuple[str, Any]] = [
        ("issue", f"#{i.id} {i.title}"),
        ("state", f"{i.state} (version {i.version})"),
        ("village", i.village),
        ("category", i.category),
        ("severity", i.severity),
        ("listed", "yes (挂牌督战)" if i.listed else "no"),
        ("group", i.group),
        ("household", i.household),
        ("assignee", i.assignee),
        ("plan", i.plan),
        ("due", _due(i.due_at, tz)),
        ("in stage since", _short(i.stage_entered_at, tz)),
        ("found", f"{_short(i.created_at, tz)} by {i.created_by}"),
        ("description", i.description),
    ]
    return "\n".join(f"{k:>15}: {v}" for k, v in rows if v not in (None, ""))


def issues_table(issues: Sequence[Issue], tz: tzinfo, title: str = "") -> Any:
    from rich.table import Table

    table = Table(title=title or None, show_lines=False)
    for name in ("id", "state", "village", "category", "assignee", "due", "title"):
        table.add_column(name, overflow="fold")
    for i in issues:
        flag = " ★" if i.listed else ""
        table.add_row(
            str(i.id), i.state, i.village, i.category, i.assignee or "",
            _due(i.due_at, tz), i.title + flag,
        )
    return table


def history_table(events: Iterable[Event], tz: tzinfo) -> Any:
    from rich.table import Table

    table = Table()
    for name in ("v", "at", "actor", "what", "details"):
        table.add_column(name, overflow="fold")
    for e in events:
        what = e.type
        if e.type == "transition":
            what = f"{e.transition}: {e.from_state} → {e.to_state}"
        if e.type in ("created", "imported"):
            what = f"{e.type}: {e.to_state}"
        details = []
        p = e.payload
        for key in ("note", "plan", "assignee", "reason", "due"):
            if p.get(key):
                details.append(f"{key}: {p[key]}")
        for ev in p.get("evidence") or []:
            details.append(f"evidence: {ev['name']} sha256:{ev['sha256'][:12]}…")
        if e.recorded_at is not None and abs((e.recorded_at - e.at).total_seconds()) > 60:
            details.append(f"recorded {_short(e.recorded_at, tz)}")
        table.add_row(str(e.version), _short(e.at, tz), e.actor, what, "\n".join(details))
    return table


def summary_table(counts: Iterable[tuple[str, str, int]], states: Sequence[str]) -> Any:
    from rich.table import Table

    by_village: dict[str, dict[str, int]] = {}
    for village, state, n in counts:
        by_village.setdefault(village, {})[state] = n
    table = Table(title="where the issues stand (village × stage)")
    table.add_column("village")
    for s in states:
        table.add_column(s, justify="right")
    table.add_column("total", justify="right")
    totals = dict.fromkeys(states, 0)
    for village in sorted(by_village):
        row = by_village[village]
        for s in states:
            totals[s] += row.get(s, 0)
        table.add_row(village, *(str(row.get(s, 0)) for s in states), str(sum(row.values())))
    table.add_row("all", *(str(totals[s]) for s in states), str(sum(totals.values())))
    return table
