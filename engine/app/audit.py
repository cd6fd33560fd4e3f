"""The auditor's handlers: verify the chain and the tables against the history, anchor it,
replay the ledger as it stood at any moment, export it, and report on one person's work.

Everything here reads; nothing writes. Each command is one read transaction (one snapshot),
streaming the history so that memory stays flat however long it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any

from engine.app.cycles import no_cycle_collection
from engine.app.session import Session
from engine.app.verify import (
    ISSUE_ID,
    UNREADABLE,
    Verdict,
    stored_copies,
    verify,
    verify_reads,
)
from engine.domain import audit as a
from engine.domain.calendar import CalendarData, WorkingCalendar
from engine.domain.clock_rules import DRILL
from engine.domain.escalation import Escalation, issue_light
from engine.domain.events import TOWN, Event, EventType
from engine.domain.issue import Issue
from engine.domain.workflow import Workflow
from engine.errors import NotFound, Refused
from engine.store.audit_reads import Reads
from engine.store.unit_of_work import Tx

__all__ = ["PersonReport", "Replayed", "Verdict", "anchor", "calendar_at", "events", "person",
           "replay", "timelines", "verify"]


@dataclass
class Replayed:
    """An issue as it stood at a moment, rebuilt from its history."""

    issue: Issue
    light: str | None
    open_escalations: list[Escalation]
    backdated: int
    events: int


@dataclass
class PersonReport:
    person: str
    name: str
    start: datetime | None
    end: datetime | None
    did: dict[str, dict[str, int]] = field(default_factory=dict)
    """transition -> {"count", "on_time", "late", "no_deadline"}"""
    received: list[Escalation] = field(default_factory=list)
    recorded: list[dict[str, Any]] = field(default_factory=list)
    """Interviews recorded and accountability decided by the person."""
    events: list[Event] = field(default_factory=list)
    """The person's own events in the period."""
    answered: list[Escalation] = field(default_factory=list)
    """Accountability cases decided in the period that named the person a subject."""


def anchor(s: Session) -> tuple[int, str]:
    """The chain's head: (seq, hash) of the last event."""
    with s.transaction(write=False) as tx:
        head = Reads(tx).head()
    if head is None:
        raise NotFound("the history is empty: nothing to anchor yet")
    return head


# --- replay -------------------------------------------------------------------------------
def replay(s: Session, as_of: datetime, issue_id: int | None = None,
           village: str | None = None) -> list[Replayed]:
    """The issues as they stood at `as_of`, from the history alone. An issue's events count
    up to the first one after `as_of` (a back-dated event does not reorder the past)."""
    out: list[Replayed] = []
    with s.transaction(write=False) as tx, no_cycle_collection():
        r = Reads(tx)
        calendar = calendar_at(s, tx, as_of)
        fold = r.fold
        workflows: dict[str, Workflow] = {}
        lights: dict[tuple[Any, ...], str | None] = {}
        for found, group in groupby(r.events(issue_id=issue_id, until=as_of), key=_ISSUE_ID):
            if found == TOWN:
                continue
            replay = a.Replay()
            try:
                fold(replay, group)  # up to a gap: a later event back-dated before as_of
                issue = replay.issue
                if issue is None or (village is not None and issue.village != village):
                    continue
                still_open = replay.open_escalations()  # made now, and only these
            except _UNREADABLE as e:
                raise Refused(f"the history cannot be replayed ({e}):"
                              " run `rectify audit verify`") from None
            wf = workflows.get(issue.workflow)
            if wf is None:
                wf = workflows[issue.workflow] = s.workflow(tx, issue.workflow)
            final = wf.is_final(issue.state)
            # the light depends on nothing else of the issue (the calendar and as_of fixed)
            key = (issue.workflow, issue.supervised, issue.due_at, issue.next_escalation_at,
                   final)
            if key in lights:
                light = lights[key]
            else:
                if len(lights) >= _LIGHTS_MAX:
                    lights.clear()
                light = lights[key] = issue_light(calendar, wf.ladder, issue, as_of, final)
            out.append(Replayed(issue, light, still_open, replay.backdated, replay.events))
    if issue_id is not None and not out:
        raise NotFound(f"issue {issue_id} did not exist at {as_of.isoformat()}")
    return out


def calendar_at(s: Session, tx: Tx, moment: datetime) -> WorkingCalendar:
    """The working calendar in force at `moment` (the first one before it was recorded)."""
    versions = tx.definitions.calendar_versions()
    if not versions:
        return s.calendar(tx)
    body = versions[0][1]
    for registered_at, text in versions:
        if registered_at <= moment:
            body = text
    return WorkingCalendar(CalendarData.from_json(body), s.timezone(tx))


# --- export -------------------------------------------------------------------------------
def events(s: Session, start: datetime | None = None, end: datetime | None = None,
           village: str | None = None) -> Iterator[Event]:
    """The history in chain order, by clock time and village (from the created events)."""
    with s.transaction(write=False) as tx:
        r = Reads(tx)  # first: on PostgreSQL it sets the snapshot
        s.timezone(tx)
        villages = r.villages() if village is not None else {}
        for row in r.events(by_issue=False):
            e = r.event(row)
            if _within(e.at, start, end) and (village is None
                                              or villages.get(e.issue_id) == village):
                yield e


def timelines(s: Session, start: datetime | None = None, end: datetime | None = None,
              village: str | None = None
              ) -> tuple[list[tuple[Issue, list[Event]]], int, Verdict, str]:
    """Each issue (as its history leaves it) with its events in the period, the number of
    those events, the verdict of verify and the town's name: one snapshot, so that the
    chain head printed is the one of the events shown."""
    out: list[tuple[Issue, list[Event]]] = []
    total = 0
    with s.transaction(write=False) as tx:
        r = Reads(tx)
        s.timezone(tx)
        for issue_id, group in groupby(r.events(), key=_ISSUE_ID):
            if issue_id == TOWN:
                continue  # the configuration: `rectify org history`
            replay = a.Replay()
            shown: list[Event] = []
            broken = False
            for row in group:
                e = r.event(row)
                if not broken:
                    try:
                        replay.apply(e)
                    except _UNREADABLE:
                        broken = True  # shown as stored; the verdict says what is wrong
                if _within(e.at, start, end):
                    shown.append(e)
            issue = replay.issue
            if not shown or (village is not None and (issue is None
                                                      or issue.village != village)):
                continue
            if issue is None:  # its first event is unreadable: show it under its id
                issue = Issue(id=shown[0].issue_id, title="(unreadable history)",
                              category="other", village="?", state="?", version=0,
                              created_at=shown[0].at, created_by=shown[0].actor,
                              stage_entered_at=shown[0].at)
            out.append((issue, shown))
            total += len(shown)
        verdict = verify_reads(r, None, s.timezone(tx), lambda: stored_copies(tx))
        verdict.drill = s.mode(tx) == DRILL
        town = s.org(tx).town.name
    return out, total, verdict, town


# --- a person's record (专项述职) -----------------------------------------------------------
def person(s: Session, person: str, start: datetime | None = None,
           end: datetime | None = None) -> PersonReport:
    with s.transaction(write=False) as tx:
        r = Reads(tx)
        org = s.org(tx)
        s.timezone(tx)
        who = org.people.get(person)
        if who is None:
            raise NotFound(f"unknown person {person!r}")
        report = PersonReport(person, who.name, start, end)

        for issue_id, group in groupby(r.events(), key=_ISSUE_ID):
            if issue_id == TOWN:
                continue
            replay = a.Replay()
            received: list[int] = []
            for row in group:
                e = r.event(row)
                due_before = replay.fields.get("due_at")
                try:
                    replay.apply(e)
                except _UNREADABLE:
                    break
                if not _within(e.at, start, end):
                    continue
                if e.type == EventType.ACCOUNTABILITY_DECIDED:
                    case = replay.escalations.get(int(e.payload.get("escalation") or 0))
                    if case is not None and person in case.subjects:
                        report.answered.append(case)
                if e.actor == person:
                    report.events.append(e)
                    if e.type == EventType.TRANSITION and e.transition:
                        tally = report.did.setdefault(e.transition, {
                            "count": 0, "on_time": 0, "late": 0, "no_deadline": 0})
                        tally["count"] += 1
                        if due_before is None:
                            tally["no_deadline"] += 1
                        elif e.at <= due_before:
                            tally["on_time"] += 1
                        else:
                            tally["late"] += 1
                    if e.type in (EventType.INTERVIEW_RECORDED,
                                  EventType.ACCOUNTABILITY_DECIDED):
                        report.recorded.append({
                            "escalation": e.payload.get("escalation"),
                            "issue": e.issue_id, "type": e.type, "at": e.at,
                            "note": e.payload.get("note"),
                            "with": list(e.payload.get("with") or ())})
                if (e.type == EventType.ESCALATED
                        and person in (e.payload.get("recipients") or ())):
                    received.append(int(e.payload["escalation"]))
            # each received escalation as the history leaves it (recorded, superseded…)
            report.received += [replay.escalations[x] for x in received]
    return report


_ISSUE_ID = ISSUE_ID
_UNREADABLE = UNREADABLE
_LIGHTS_MAX = 4096
"""The lights a replay remembers (by what an issue's light depends on), at most."""


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    """In the period [start, end], either end open."""
    return (start is None or moment >= start) and (end is None or moment <= end)


