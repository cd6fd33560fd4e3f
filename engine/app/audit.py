"""The auditor's handlers: verify the chain and the tables against the history, anchor it,
replay the ledger as it stood at any moment, export it, and report on one person's work.

Everything here reads; nothing writes. Each command is one read transaction (one snapshot),
streaming the history so that memory stays flat however long it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from engine.app.session import Session
from engine.domain import audit as a
from engine.domain.calendar import CalendarData, WorkingCalendar
from engine.domain.chain import GENESIS
from engine.domain.escalation import Escalation, issue_light
from engine.domain.events import Event, EventType
from engine.domain.issue import Issue
from engine.errors import NotFound, Refused
from engine.store.audit_reads import Reads
from engine.store.unit_of_work import Tx


@dataclass
class Verdict:
    ok: bool
    events: int
    first_bad: int | None
    reason: str | None
    kind: str | None = None
    head: str | None = None
    issues: int = 0
    backdated: int = 0
    issue: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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


# --- verify -------------------------------------------------------------------------------------
def verify(s: Session, anchor: tuple[int, str] | None = None) -> Verdict:
    """Recompute the chain and replay every issue against its rows."""
    with s.transaction(write=False) as tx:
        r = Reads(tx)  # first: on PostgreSQL it sets the snapshot
        s.timezone(tx)
        return _verify(r, anchor)


def _verify(r: Reads, anchor: tuple[int, str] | None) -> Verdict:
    total, last, link_break, anchored = _links(r, anchor)
    content_bad, issues, backdated, fold = _fold_all(r)
    chain = None
    if link_break is not None:
        before, bad, after = link_break
        chain = a.diagnose(before, bad, after, r.content_ok, r.seq_of_hash, r.renumbered_by)
    found = a.chain_finding(chain, content_bad)
    if found is None and anchor is not None:
        found = a.anchor_finding(anchor[0], anchor[1], anchored, last[0])
    issue_id = None
    if found is None and fold is not None:
        issue_id, found = fold
    head = f"{last[0]}:{last[1]}" if last[0] else None
    if found is None:
        return Verdict(True, total, None, None, head=head, issues=issues,
                       backdated=backdated)
    return Verdict(False, total, found.first_bad, f"{found.kind}: {found.reason}",
                   kind=found.kind, head=head, issues=issues, backdated=backdated,
                   issue=issue_id)


def _links(r: Reads, anchor: tuple[int, str] | None) -> tuple[
        int, tuple[int, str], tuple[list[a.Link], a.Link, a.Link | None] | None,
        dict[int, str]]:
    """Pass 1, in the database: each event follows the one before (a join on seq - 1)."""
    total = r.count_events()
    head = r.head() or (0, GENESIS)
    anchored: dict[int, str] = {}
    if anchor is not None:
        found = r.hash_at(anchor[0])
        if found is not None:
            anchored[anchor[0]] = found
    broken = r.first_broken_link()
    if broken is None:
        return total, head, None, anchored
    before, bad, after = r.links_around(broken)
    return total, head, ([a.Link(*x) for x in before], a.Link(*bad),
                         a.Link(*after) if after else None), anchored


def _fold_all(r: Reads) -> tuple[int | None, int, int, tuple[int, a.Finding] | None]:
    """Pass 2, issue by issue: every event matches its hash, and folding the events gives
    the issue row, its escalations and its extension requests."""
    row_hash = r.row_hash
    content_bad: int | None = None
    backdated = 0
    issues = 0
    finding: tuple[int, a.Finding] | None = None
    rows = _Merge(r.issues(), lambda i: i.id)
    escalations = _Merge(r.escalations(), lambda e: e.issue_id)
    extensions = _Merge(r.extensions(), lambda x: x.issue_id)
    fold = r.fold
    for issue_id, group in groupby(r.events(), key=_ISSUE_ID):
        replay = a.Replay()
        events = list(group)
        for row in events:
            if row_hash(row) != row[13] and (content_bad is None or row[0] < content_bad):
                content_bad = row[0]
        try:
            problem = fold(replay, events)
        except _UNREADABLE as e:
            problem = f"issue {issue_id}'s history cannot be replayed: {e}"
        issues += 1
        backdated += replay.backdated
        stored = rows.take(issue_id)
        if finding is not None:
            escalations.take_all(issue_id)
            extensions.take_all(issue_id)
            continue
        if problem is None:
            problem = _compare(issue_id, stored, replay, escalations.take_all(issue_id),
                               extensions.take_all(issue_id))
        if problem is not None:
            finding = (issue_id, a.Finding(replay.last_seq, "disagrees", problem))
    if finding is None:
        extra = rows.rest() or escalations.rest() or extensions.rest()
        if extra is not None:
            finding = (extra, a.Finding(None, "disagrees",
                                        f"issue {extra} has rows but no history"))
    return content_bad, issues, backdated, finding


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
    with s.transaction(write=False) as tx:
        r = Reads(tx)
        calendar = _calendar_at(s, tx, as_of)
        fold = r.fold
        for _, group in groupby(r.events(issue_id=issue_id, until=as_of), key=_ISSUE_ID):
            replay = a.Replay()
            try:
                fold(replay, group)  # up to a gap: a later event back-dated before as_of
            except _UNREADABLE as e:
                raise Refused(f"the history cannot be replayed ({e}):"
                              " run `rectify audit verify`") from None
            issue = replay.issue
            if issue is None or (village is not None and issue.village != village):
                continue
            wf = s.workflow(tx, issue.workflow)
            light = issue_light(calendar, wf.ladder, issue, as_of, wf.is_final(issue.state))
            out.append(Replayed(issue, light, replay.open_escalations(), replay.backdated,
                                replay.events))
    if issue_id is not None and not out:
        raise NotFound(f"issue {issue_id} did not exist at {as_of.isoformat()}")
    return out


def _calendar_at(s: Session, tx: Tx, moment: datetime) -> WorkingCalendar:
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
        for _, group in groupby(r.events(), key=_ISSUE_ID):
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
        verdict = _verify(r, None)
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

        for _, group in groupby(r.events(), key=_ISSUE_ID):
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


_ISSUE_ID = itemgetter(1)
"""A history row's issue id (rows are grouped by it)."""
_UNREADABLE = (KeyError, ValueError, TypeError, AttributeError, StopIteration)
"""What folding a tampered or garbled event can raise (verify names it; others refuse)."""


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    """In the period [start, end], either end open."""
    return (start is None or moment >= start) and (end is None or moment <= end)


class _Merge:
    """Walks a stream sorted by issue id alongside the history's issues."""

    def __init__(self, items: Iterable[Any], key: Callable[[Any], int]) -> None:
        self.it = iter(items)
        self.key = key
        self.head: Any = next(self.it, None)
        self.orphan: int | None = None

    def _skip_below(self, issue_id: int) -> None:
        while self.head is not None and self.key(self.head) < issue_id:
            if self.orphan is None:
                self.orphan = self.key(self.head)
            self.head = next(self.it, None)

    def take(self, issue_id: int) -> Any:
        self._skip_below(issue_id)
        if self.head is not None and self.key(self.head) == issue_id:
            found, self.head = self.head, next(self.it, None)
            return found
        return None

    def take_all(self, issue_id: int) -> list[Any]:
        self._skip_below(issue_id)
        out = []
        while self.head is not None and self.key(self.head) == issue_id:
            out.append(self.head)
            self.head = next(self.it, None)
        return out

    def rest(self) -> int | None:
        """The first id that had rows but no history, if any."""
        if self.orphan is not None:
            return self.orphan
        return None if self.head is None else int(self.key(self.head))


def _compare(issue_id: int, stored: Issue | None, replay: a.Replay,
             escalations: list[Escalation], extensions: list[Any]) -> str | None:
    if replay.issue is None:
        return f"issue {issue_id} has events but no created event"
    if stored is None:
        return f"issue {issue_id} has a history but no row in the issues table"
    diff = a.differences(stored, replay.issue)
    if diff:
        return f"issue {issue_id}'s row disagrees with its history: {diff[0]}"
    for kind, rows, folded in (("escalation", escalations, replay.escalations),
                               ("extension request", extensions, replay.extensions)):
        seen = set()
        for x in rows:
            seen.add(x.id)
            other = folded.get(x.id)
            if other is None:
                return f"{kind} {x.id} of issue {issue_id} is not in its history"
            diff = a.differences(x, other)
            if diff:
                return f"{kind} {x.id} of issue {issue_id} disagrees with its history: {diff[0]}"
        missing = sorted(set(folded) - seen)
        if missing:
            return f"{kind} {missing[0]} of issue {issue_id} is in its history but not stored"
    return None
