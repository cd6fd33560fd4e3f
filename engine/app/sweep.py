"""The sweep that raises escalations, streaming: due issues claimed in batches, each batch one
transaction, written in a few statements, handed back batch by batch.

A batch claims the next due issues by (ladder moment, id) after the last one of the batch
before (a keyset: an issue the sweep could not raise on is never read again by the same
sweep), reads what it needs of them in a few statements (the levels raised in their stage
visits, when their last events are dated), works out every escalation, event and message in
memory, and writes them at once: the escalations in multi-row INSERTs (their ids back with
RETURNING), the events chained in one executemany at commit, the outbox rows in one
executemany, the issues' pointers in one executemany. Several processes may sweep at once
(PostgreSQL: FOR UPDATE SKIP LOCKED; the unique key on (issue, stage visit, level) makes each
escalation exactly once whatever the interleaving). Nothing outlives a batch but what the
caller keeps of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from engine.app import notify
from engine.app.session import Session
from engine.domain import ladder, owners
from engine.domain.decide import fact_event
from engine.domain.escalation import Escalation
from engine.domain.events import Escalated, Event, EventType, Rescheduled
from engine.domain.issue import Issue, evolve
from engine.domain.workflow import Workflow
from engine.store.outbox import Message
from engine.store.unit_of_work import Tx

SYSTEM = "system"
"""The actor of what the sweep writes."""
BATCH = 1000
"""Issues per transaction unless told otherwise: about 4 MB of work in memory at a time, and
a write held for well under a second; a commit writes each index page it touched once, so
fewer, larger batches write less (at 10,000 due: 1,000 a batch writes 9 % fewer bytes and
takes 15 % less CPU than 200 a batch)."""


@dataclass(frozen=True)
class Batch:
    """What one committed transaction of a sweep raised, in the order raised."""

    raised: tuple[Escalation, ...]
    villages: Mapping[int, str]
    """The village of each issue raised on (issue id → unit id)."""


def sweep(s: Session, batch: int = BATCH) -> Iterator[Batch]:
    """One sweep at the session's time: raise every level that has come due, once; each
    batch handed back after its transaction has committed (a batch that raised nothing is
    not handed back)."""
    after: tuple[datetime, int] | None = None
    while True:
        with s.transaction(write=True, fast=True) as tx:
            now = s.now(tx)
            claimed = tx.issues.claim_due(now, batch, after)
            raised = _raise(s, tx, claimed, now) if claimed else None
            s.warn_calendar()
        if claimed:
            last = claimed[-1]
            assert last.next_escalation_at is not None
            after = (last.next_escalation_at, last.id)
        if raised is not None and raised.raised:
            yield raised
        if len(claimed) < batch:
            return


@dataclass(frozen=True)
class _Planned:
    """An escalation worked out for an issue, before its row is written."""

    made: Escalation
    next_at: datetime | None
    """The ladder's next moment once this level (and those before it) are raised."""


def _raise(s: Session, tx: Tx, claimed: list[Issue], now: datetime) -> Batch:
    org, calendar = s.org(tx), s.calendar(tx)
    ids = [i.id for i in claimed]
    raised_before = tx.escalations.raised_in(ids)
    last_at = tx.history.last_at_of(ids)
    workflows: dict[str, Workflow] = {}
    reach: dict[tuple[object, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
    plans_of: dict[tuple[object, ...], list[ladder.Step]] = {}
    plans: list[tuple[Issue, Workflow, list[ladder.Step], list[_Planned], set[str]]] = []
    rows: list[Escalation] = []
    for issue in claimed:
        wf = workflows.get(issue.workflow)
        if wf is None:
            wf = workflows[issue.workflow] = s.workflow(tx, issue.workflow)
        plan_key = (wf.key, issue.due_at, issue.supervised)
        steps = plans_of.get(plan_key)
        if steps is None:  # issues due alike share their rungs' moments (the batch's memo)
            steps = plans_of[plan_key] = ladder.plan(calendar, wf.ladder, issue.due_at,
                                                     issue.supervised)
        before = raised_before.get((issue.id, issue.stage_version), [])
        done = {level for level, _ in before}
        last = last_at.get(issue.id)
        if last is not None and now < last:
            continue  # a sweep dated before the issue's last event has nothing to raise on it
        interviewed: tuple[str, ...] | None = None
        planned: list[_Planned] = []
        for rung, moment in ladder.come_due(steps, now, done):
            assert issue.due_at is not None
            if interviewed is None and any("interviewed" in spec for spec in rung.subjects):
                interviewed = tuple(p for level, subjects in before if level == "interview"
                                    for p in subjects)
            key = (wf.key, issue.state, issue.village, issue.assignee, issue.group,
                   issue.created_by, rung, interviewed)
            found = reach.get(key)
            if found is None:  # the same for every issue alike in these (the batch's memo)
                found = reach[key] = owners.reached(org, wf, issue, rung, interviewed or ())
            everyone, subjects = found
            made = Escalation(
                id=0, issue_id=issue.id, stage=issue.state, stage_version=issue.stage_version,
                level=rung.level, due_at=issue.due_at, moment=moment, raised_at=now,
                recipients=everyone, status=ladder.initial_status(rung.level),
                subjects=subjects)
            done.add(rung.level)
            if rung.level == "interview":
                interviewed = subjects
            planned.append(_Planned(made, ladder.next_moment(steps, done)))
            rows.append(made)
        plans.append((issue, wf, steps, planned, done))

    new_ids = tx.escalations.insert_many(rows) if rows else {}
    told = notify.Notifier(s, tx)
    recorded_at = s.recorded_at()
    out: list[Escalation] = []
    messages: list[Message] = []
    moved: list[tuple[Issue, int]] = []
    villages: dict[int, str] = {}
    for issue, wf, steps, planned, done in plans:
        version = issue.version
        escalated: Event | None = None
        context = told.issue_context(issue, wf, now) if planned else None
        for p in planned:
            new_id = new_ids.get((issue.id, p.made.level))
            if new_id is None:  # raised by another worker meanwhile
                continue
            made = p.made.with_id(new_id)
            version += 1
            escalated = Event(
                issue_id=issue.id, version=version, type=EventType.ESCALATED, actor=SYSTEM,
                at=now, workflow=issue.workflow, payload=Escalated(
                    escalation=new_id, level=made.level, stage=issue.state,
                    recipients=made.recipients, moment=made.moment, due_at=made.due_at,
                    next_escalation_at=p.next_at, subjects=made.subjects).to_payload())
            tx.append(escalated, recorded_at)
            out.append(made)
            villages[issue.id] = issue.village
            messages += told.escalation(issue, wf, made, now, context)
        # an escalated event sets the version and the ladder's pointer only (issue.changes),
        # so the issue after several is the issue after the last
        current = issue if escalated is None else evolve(issue, escalated)
        nxt = ladder.next_moment(steps, done)
        if current.next_escalation_at != nxt:
            # the ladder moved under the pointer (e.g. the calendar was updated): say so in
            # the history, so that folding it still gives the row
            event = fact_event(current, EventType.RESCHEDULED, SYSTEM, now,
                               Rescheduled(issue.due_at, nxt))
            current = evolve(current, event)
            tx.append(event, recorded_at)
        if current != issue:
            moved.append((current, issue.version))
    tx.outbox.add(messages, now)
    tx.issues.advance_many(moved)
    return Batch(tuple(out), villages)


LEVELS = ("reminder", "interview", "accountability")
"""The ladder's levels in order (a summary's columns; another level follows them)."""


@dataclass
class Tally:
    """What a sweep raised, summed as its batches come: counts by level and by village and
    level, and the first `limit` escalations (all of them with None) — so that a sweep of
    any size is told in bounded memory."""

    limit: int | None
    total: int = 0
    by_level: dict[str, int] = field(default_factory=dict)
    by_village: dict[str, dict[str, int]] = field(default_factory=dict)
    """village → level → how many."""
    shown: list[Escalation] = field(default_factory=list)

    def add(self, batch: Batch) -> None:
        for e in batch.raised:
            self.total += 1
            self.by_level[e.level] = self.by_level.get(e.level, 0) + 1
            village = self.by_village.setdefault(batch.villages.get(e.issue_id, ""), {})
            village[e.level] = village.get(e.level, 0) + 1
            if self.limit is None or len(self.shown) < self.limit:
                self.shown.append(e)

    def levels(self) -> list[str]:
        """The levels raised, in ladder order."""
        return [*(x for x in LEVELS if x in self.by_level),
                *sorted(x for x in self.by_level if x not in LEVELS)]

    @property
    def more(self) -> int:
        """How many were raised beyond those kept to show."""
        return self.total - len(self.shown)
