"""Deciding: a command and the facts it rests on in, an event (or a refusal) out.

Pure. The rules a transition is guarded by live in `engine.domain.guards`; the workflow's
state machine (`Context.machine`) fires the transition and checks them. The due moment and the
ladder's next moment of the stage entered are computed here and carried in the event's
payload, so that folding the history reproduces them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from engine.domain.calendar import WorkingCalendar
from engine.domain.events import Created, Event, EventType, Imported, Moved, Payload
from engine.domain.guards import Decision
from engine.domain.issue import Issue, Move, NewIssue, check_text, given_text
from engine.domain.records import slotted
from engine.domain.workflow import Deadline, Workflow
from engine.errors import InvalidTransition, VersionConflict

_CREATED, _IMPORTED = EventType.CREATED, EventType.IMPORTED
_TRANSITION = EventType.TRANSITION


class Machine(Protocol):
    """The workflow's state machine (engine.statemachine)."""

    def fire(self, decision: Decision) -> str:
        """The new state; InvalidTransition, or the error of the first guard that fails."""
        ...


@dataclass(frozen=True, slots=True)
class Context:
    """What a decision needs besides the issue and the command."""

    workflow: Workflow
    machine: Machine
    calendar: WorkingCalendar
    now: datetime
    actor: str
    roles: frozenset[str]
    village_listed: bool = False
    """Whether the issue's village is listed now (a reopened issue follows it again)."""
    prior_actors: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """For separation of duties: everyone who ever fired each transition on this issue."""


context_of = slotted(Context)
"""`Context(*values)`, every field in its order, made slot by slot (a move makes one)."""
_event_of = slotted(Event)
_NOTHING: frozenset[str] = frozenset()


@dataclass(slots=True)
class Entry:
    """How an imported issue enters the workflow: its stage, since when, who is responsible
    and the stage's due date as the ledger gives them."""

    state: str
    entered_at: datetime
    assignee: str | None = None
    due: date | None = None
    plan: str | None = None
    verified_by: str | None = None
    verified_at: datetime | None = None


def stage_due(calendar: WorkingCalendar, deadline: Deadline | None, entered_at: datetime,
              given: date | None = None) -> datetime | None:
    """The due moment of a stage entered at `entered_at` (a date given for it: its end)."""
    if deadline is None:
        return None
    if deadline.from_field is not None and given is not None:
        return calendar.end_of(given)
    days = deadline.working_days or deadline.default_working_days
    if days is None:
        return None
    return calendar.due_after(entered_at, days)


def next_escalation(ctx: Context, due: datetime | None, listed: bool,
                    raised: Iterable[str] = ()) -> datetime | None:
    """The first moment of the ladder not yet raised in this stage visit."""
    if due is None:
        return None
    done = frozenset(raised) if raised else _NOTHING

    def compute() -> datetime | None:
        pending = [ctx.calendar.moment_from_due(due, r.offset)
                   for r in ctx.workflow.ladder.rungs(listed) if r.level not in done]
        return min(pending) if pending else None

    # a workflow version's ladder never changes: the answer depends on these alone
    answer: datetime | None = ctx.calendar.remember(
        ("next", ctx.workflow.key, due, listed, done), compute)
    return answer


def created_event(issue_id: int, new: NewIssue, ctx: Context, entry: Entry | None = None,
                  village_listed: bool = False) -> Event:
    """The first event of an issue: `created`, or `imported` when the ledger gives `entry`."""
    wf = ctx.workflow
    state = entry.state if entry else wf.initial
    entered_at = entry.entered_at if entry else ctx.now
    deadline = wf.state(state).deadline
    due: datetime | None
    if entry is not None and entry.due is not None and deadline is not None:
        due = ctx.calendar.end_of(entry.due)  # a stage without a deadline ignores the cell
    else:
        due = stage_due(ctx.calendar, deadline, entered_at)
    created = Created(
        title=new.title, category=new.category, village=new.village,
        description=new.description, group=new.group, household=new.household,
        severity=new.severity, listed=new.listed, listed_by_village=village_listed, due_at=due,
        next_escalation_at=next_escalation(ctx, due, new.listed or village_listed))
    payload = (Imported(created, entered_at, entry.assignee, entry.plan, entry.verified_by,
                        entry.verified_at).to_payload() if entry
               else created.to_payload())
    return Event(issue_id=issue_id, version=1, type=_IMPORTED if entry else _CREATED,
                 actor=ctx.actor,
                 at=ctx.now, payload=payload, workflow=wf.key, to_state=state)


def decide_move(issue: Issue, move: Move, ctx: Context,
                superseded: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())) -> Event:
    """Check a move against the workflow and the rules; the event it produces.

    `superseded`: the escalations and extension requests of the stage visit the move ends
    (recorded in the event, so that the audit can replay their closing)."""
    if move.expect_version is not None and move.expect_version != issue.version:
        raise VersionConflict(
            f"issue {issue.id} is at version {issue.version}, not {move.expect_version}")
    note, plan, assignee, reason = move.note, move.plan, move.assignee, move.reason
    # nothing given passes (the rule's own first test): only what was given is checked
    if note is not None:
        check_text("--note", note)
    if plan is not None:
        check_text("--plan", plan)
    if assignee is not None:
        check_text("--assignee", assignee)
    if reason is not None:
        check_text("--reason", reason)
    for ev in move.evidence:
        check_text("evidence name", ev.name)
    wf = ctx.workflow
    t = wf.transition(move.transition)
    if t is None:
        allowed = ", ".join(wf.transitions_from(issue.state)) or "none: the issue is closed"
        raise InvalidTransition(f"unknown transition {move.transition!r} for an issue in state"
                                f" {issue.state!r}; allowed: {allowed}")
    now = ctx.now
    to_state = ctx.machine.fire(Decision(t, issue, move, ctx.actor, ctx.roles, ctx.calendar,
                                         now, ctx.prior_actors))
    due = stage_due(ctx.calendar, wf.state(to_state).deadline, now, move.due)
    listed = ctx.village_listed
    moved = Moved(
        due, listed, next_escalation(ctx, due, issue.listed or listed),
        given_text(note), given_text(plan), given_text(assignee), given_text(reason),
        move.due, move.evidence, superseded[0], superseded[1], move.duplicate_of)
    return _event_of((  # Event's fields in their order
        issue.id, issue.version + 1, _TRANSITION, ctx.actor, now, moved.to_payload(), wf.key,
        t.name, issue.state, to_state, None, None, None, None))


def fact_event(issue: Issue, type: EventType, actor: str, at: datetime,
               payload: Payload) -> Event:
    """An event that records a fact about the issue without moving it (an escalation raised,
    an extension asked or decided, an interview recorded, the village listed)."""
    return Event(issue_id=issue.id, version=issue.version + 1, type=type, actor=actor, at=at,
                 payload=payload.to_payload(), workflow=issue.workflow)
