"""Escalations: which levels of the ladder have come due, who receives them, the issue's light.

Pure: the sweep (engine.sweep) reads the due issues, asks these functions, and writes what
they say in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from engine.domain.calendar import WorkingCalendar
from engine.domain.issue import Issue
from engine.domain.ladder import Ladder, Rung
from engine.domain.org import Org

STATUSES = ("done", "open", "recorded", "decided", "superseded")
"""A reminder is done when raised; an interview is open until recorded; accountability is open
until the party secretary records a decision; leaving the stage supersedes what is open."""

LIGHTS = ("green", "yellow", "red")


@dataclass(frozen=True)
class Due:
    """A level of the ladder that has come due for one stage visit."""

    level: str
    moment: datetime
    recipients: tuple[str, ...]


def initial_status(level: str) -> str:
    return "done" if level == "reminder" else "open"


def plan(
    calendar: WorkingCalendar, ladder: Ladder, due: datetime | None, listed: bool
) -> list[tuple[Rung, datetime]]:
    """Every rung of the issue's ladder with its moment, in ladder order."""
    if due is None:
        return []
    return [(r, calendar.moment_from_due(due, r.offset)) for r in ladder.rungs(listed)]


def come_due(
    steps: Iterable[tuple[Rung, datetime]], now: datetime, raised: Collection[str]
) -> list[tuple[Rung, datetime]]:
    """The rungs whose moment has passed and that were not raised in this stage visit."""
    return [(r, m) for r, m in steps if m <= now and r.level not in raised]


def next_moment(
    steps: Iterable[tuple[Rung, datetime]], raised: Collection[str]
) -> datetime | None:
    """When the next sweep has something to do for this issue (None: nothing more)."""
    pending = [m for r, m in steps if r.level not in raised]
    return min(pending) if pending else None


def recipients(org: Org, rung: Rung, village: str, assignee: str | None) -> tuple[str, ...]:
    """The people a rung reaches: each spec is a role or `a|b` (a if there is one, else b).

    Each person appears once, in the order of the specs.
    """
    out: list[str] = []
    for spec in rung.recipients:
        for role in spec.split("|"):
            people = holders(org, role, village, assignee)
            if people:
                out.extend(p for p in people if p not in out)
                break
    return tuple(out)


def holders(org: Org, role: str, village: str, assignee: str | None) -> list[str]:
    """Who holds a role for an issue of `village` with `assignee`."""
    unit = org.units.get(village)
    if role == "assignee":
        return [assignee] if assignee else []
    if role == "village_secretary":
        return [unit.secretary] if unit is not None and unit.secretary else []
    if role == "liaison":
        return [unit.liaison] if unit is not None and unit.liaison else []
    if role == "party_secretary":
        return [org.town.party_secretary] if org.town.party_secretary else []
    if role.endswith("_leader"):
        kind = role[: -len("_leader")]
        return sorted({g.leader for g in org.groups.values() if g.kind == kind and g.leader})
    return sorted({m for g in org.groups.values() if g.kind == role for m in g.members})


def issue_light(
    calendar: WorkingCalendar, ladder: Ladder, issue: Issue, now: datetime, final: bool
) -> str | None:
    """The light of an issue: its reminder is out once the ladder's pointer has passed it."""
    reminder = next((r for r in ladder.rungs(issue.supervised) if r.level == "reminder"), None)
    reminder_out = False
    if reminder is not None and issue.due_at is not None:
        at = calendar.moment_from_due(issue.due_at, reminder.offset)
        reminder_out = issue.next_escalation_at is None or issue.next_escalation_at > at
    return light(calendar, issue.due_at, now, reminder_out, final)


def light(
    calendar: WorkingCalendar,
    due: datetime | None,
    now: datetime,
    reminder_out: bool,
    final: bool,
) -> str | None:
    """green on time; yellow when a reminder is out or due within one working day; red when
    overdue. None for a closed issue."""
    if final:
        return None
    if due is None:
        return "green"
    if now >= due:
        return "red"
    if reminder_out or now >= calendar.moment_from_due(due, -1):
        return "yellow"
    return "green"


@dataclass(frozen=True)
class Escalation:
    id: int
    issue_id: int
    stage: str
    stage_version: int
    level: str
    due_at: datetime
    moment: datetime
    raised_at: datetime
    recipients: tuple[str, ...]
    status: str
    closed_at: datetime | None = None
    closed_by: str | None = None
    note: str | None = None
    attendees: tuple[str, ...] = ()


@dataclass(frozen=True)
class Extension:
    id: int
    issue_id: int
    stage: str
    stage_version: int
    requested_by: str
    requested_at: datetime
    old_due_at: datetime
    to_date: str
    reason: str
    status: str
    """pending | approved | denied | superseded"""
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
