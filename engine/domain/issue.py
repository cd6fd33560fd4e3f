"""An issue's life: `decide` turns a command into an event, `evolve` folds events into state.

Both are pure. The service loads the issue, calls `decide`, appends the event and writes the
row that `evolve` gives, in one transaction. Replaying the history with `evolve` yields the
stored row: the history is the truth, the row a cache of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from engine.domain.calendar import WorkingCalendar
from engine.domain.workflow import Deadline, TransitionDef, Workflow
from engine.errors import (
    BadOption,
    DeadlineRefused,
    InvalidTransition,
    MissingField,
    NotPermitted,
    SeparationOfDuties,
    VersionConflict,
)

CATEGORIES = (
    "food",
    "clothing",
    "compulsory_education",
    "basic_medical",
    "housing_safety",
    "drinking_water",
    "industry",
    "employment",
    "data_quality",
    "other",
)
SEVERITIES = ("low", "medium", "high")

Fire = Callable[[str, str], str]
"""fire(state, transition) -> the new state, or raise InvalidTransition (the state machine)."""


@dataclass(frozen=True, slots=True)
class Issue:
    id: int
    title: str
    category: str
    village: str
    state: str
    version: int
    created_at: datetime
    created_by: str
    stage_entered_at: datetime
    description: str | None = None
    group: str | None = None
    household: str | None = None
    severity: str = "medium"
    listed: bool = False
    assignee: str | None = None
    plan: str | None = None
    due_at: datetime | None = None
    workflow: str = ""
    stage_version: int = 1
    """The version of the event that entered the current stage: names this stage visit."""
    next_escalation_at: datetime | None = None
    """When the sweep next has something to raise for this issue (None: nothing)."""
    listed_by_village: bool = False
    """Its village is listed (挂牌督战): the listed ladder applies even if the issue is not."""

    def is_overdue(self, now: datetime) -> bool:
        return self.due_at is not None and now >= self.due_at

    @property
    def supervised(self) -> bool:
        """Whether the stricter ladder applies: the issue or its village is listed."""
        return self.listed or self.listed_by_village


@dataclass(frozen=True, slots=True)
class Evidence:
    sha256: str
    name: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "name": self.name, "size": self.size}


@dataclass(frozen=True, slots=True)
class NewIssue:
    title: str
    category: str
    village: str
    description: str | None = None
    group: str | None = None
    household: str | None = None
    severity: str = "medium"
    listed: bool = False


@dataclass(frozen=True, slots=True)
class Move:
    issue_id: int
    transition: str
    note: str | None = None
    plan: str | None = None
    assignee: str | None = None
    due: date | None = None
    evidence: tuple[Evidence, ...] = ()
    reason: str | None = None
    expect_version: int | None = None

    def given(self, name: str) -> bool:
        """Whether a field was given: text made only of spaces is not a note."""
        value = getattr(self, name)
        if name == "evidence":
            return bool(value)
        if isinstance(value, str):
            return value.strip() != ""
        return value is not None


@dataclass(frozen=True, slots=True)
class Event:
    issue_id: int
    version: int
    type: str
    """created | imported | transition"""
    actor: str
    at: datetime
    payload: Mapping[str, Any]
    workflow: str
    transition: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    recorded_at: datetime | None = None
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None
    """The chain's links, once stored (engine.domain.chain)."""


@dataclass(frozen=True)
class Context:
    """What a decision needs besides the issue and the command."""

    workflow: Workflow
    fire: Fire
    calendar: WorkingCalendar
    now: datetime
    actor: str
    roles: frozenset[str]
    village_listed: bool = False
    """Whether the issue's village is listed now (a reopened issue follows it again)."""
    prior_actors: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """For separation of duties: everyone who ever fired each transition on this issue."""


# --- creating ------------------------------------------------------------------------------
_CONTROL = frozenset(chr(c) for c in range(32)) - {"\t", "\n", "\r"} | {"\x7f"}


def check_text(name: str, value: str | None) -> None:
    """Text is refused with control characters (a NUL cannot even be stored by PostgreSQL)."""
    if value is not None and not _CONTROL.isdisjoint(value):
        raise BadOption(f"{name} contains a control character")


def check_new_issue(new: NewIssue) -> None:
    for name in ("title", "village", "category", "description", "group", "household",
                 "severity"):
        check_text(name, getattr(new, name))
    if not new.title.strip():
        raise BadOption("title must not be empty")
    if new.category not in CATEGORIES:
        raise BadOption(f"unknown category {new.category!r} (one of {', '.join(CATEGORIES)})")
    if new.severity not in SEVERITIES:
        raise BadOption(f"unknown severity {new.severity!r} (one of {', '.join(SEVERITIES)})")


def stage_due(
    calendar: WorkingCalendar,
    deadline: Deadline | None,
    entered_at: datetime,
    given: date | None = None,
) -> datetime | None:
    """The due moment of a stage entered at `entered_at`."""
    if deadline is None:
        return None
    if deadline.from_field is not None and given is not None:
        today = calendar.local_date(entered_at)
        if given < today:
            raise DeadlineRefused(f"due date {given} is in the past (today is {today})")
        limit = deadline.max_working_days
        if limit is not None and given > calendar.nth_working_day_after(today, limit):
            latest = calendar.nth_working_day_after(today, limit)
            raise DeadlineRefused(
                f"due date {given} is more than {limit} working days out (latest {latest})"
            )
        return calendar.end_of(given)
    days = deadline.working_days or deadline.default_working_days
    if days is None:
        return None
    return calendar.due_after(entered_at, days)


def next_escalation(
    ctx: Context, due: datetime | None, listed: bool, raised: Iterable[str] = ()
) -> str | None:
    """The first moment of the ladder not yet raised, as stored in an event's payload."""
    if due is None:
        return None
    done = frozenset(raised)

    def compute() -> str | None:
        steps = [(r.level, ctx.calendar.moment_from_due(due, r.offset))
                 for r in ctx.workflow.ladder.rungs(listed)]
        pending = [m for level, m in steps if level not in done]
        return min(pending).isoformat() if pending else None

    # a workflow version's ladder never changes: the answer depends on these alone
    answer: str | None = ctx.calendar.remember(
        ("next", ctx.workflow.key, due, listed, done), compute)
    return answer


def created_event(
    issue_id: int,
    new: NewIssue,
    ctx: Context,
    imported: Mapping[str, Any] | None = None,
    village_listed: bool = False,
) -> Event:
    """The first event of an issue; `imported` carries state, entered_at, assignee, due."""
    payload: dict[str, Any] = {
        "title": new.title,
        "category": new.category,
        "village": new.village,
        "description": new.description,
        "group": new.group,
        "household": new.household,
        "severity": new.severity,
        "listed": new.listed,
    }
    if village_listed:
        payload["listed_by_village"] = True
    wf = ctx.workflow
    state, entered_at = wf.initial, ctx.now
    due_given: date | None = None
    if imported:
        state = imported.get("state") or wf.initial
        entered_at = imported.get("entered_at") or ctx.now
        payload["entered_at"] = entered_at.isoformat()
        payload["assignee"] = imported.get("assignee")
        due_given = imported.get("due")
    deadline = wf.state(state).deadline
    due: datetime | None
    if imported and due_given is not None:
        due = ctx.calendar.end_of(due_given)
    else:
        due = stage_due(ctx.calendar, deadline, entered_at)
    payload["due_at"] = due.isoformat() if due else None
    payload["next_escalation_at"] = next_escalation(ctx, due, new.listed or village_listed)
    return Event(
        issue_id=issue_id,
        version=1,
        type="imported" if imported else "created",
        actor=ctx.actor,
        at=ctx.now,
        payload=payload,
        workflow=wf.key,
        to_state=state,
    )


# --- moving --------------------------------------------------------------------------------
def decide_move(issue: Issue, move: Move, ctx: Context) -> Event:
    """Check a move against the workflow and the rules; return the event it produces."""
    if move.expect_version is not None and move.expect_version != issue.version:
        raise VersionConflict(
            f"issue {issue.id} is at version {issue.version}, not {move.expect_version}"
        )
    for name in ("note", "plan", "assignee", "reason"):
        check_text(f"--{name}", getattr(move, name))
    wf = ctx.workflow
    t = wf.transition(move.transition)
    if t is None:
        allowed = ", ".join(wf.transitions_from(issue.state)) or "none: the issue is closed"
        raise InvalidTransition(
            f"unknown transition {move.transition!r} for an issue in state {issue.state!r};"
            f" allowed: {allowed}"
        )
    to_state = ctx.fire(issue.state, t.name)
    _check_roles(t, issue, ctx)
    _check_fields(t, move)
    _check_duties(t, issue, ctx)
    assignee = move.assignee
    payload: dict[str, Any] = {}
    for name in ("note", "plan", "assignee", "reason"):
        if move.given(name):
            payload[name] = getattr(move, name)
    if move.evidence:
        payload["evidence"] = [e.to_dict() for e in move.evidence]
    if move.due is not None:
        payload["due"] = move.due.isoformat()
    deadline = wf.state(to_state).deadline
    due = stage_due(ctx.calendar, deadline, ctx.now, move.due)
    payload["due_at"] = due.isoformat() if due else None
    payload["listed_by_village"] = ctx.village_listed
    payload["next_escalation_at"] = next_escalation(ctx, due, issue.listed or ctx.village_listed)
    if assignee is not None:
        payload["assignee"] = assignee
    return Event(
        issue_id=issue.id,
        version=issue.version + 1,
        type="transition",
        actor=ctx.actor,
        at=ctx.now,
        payload=payload,
        workflow=wf.key,
        transition=t.name,
        from_state=issue.state,
        to_state=to_state,
    )


def _check_roles(t: TransitionDef, issue: Issue, ctx: Context) -> None:
    if ctx.roles.isdisjoint(t.roles):
        raise NotPermitted(
            f"{ctx.actor} may not {t.name} issue {issue.id}: needs one of the roles "
            f"{', '.join(t.roles)}"
        )


def _check_fields(t: TransitionDef, move: Move) -> None:
    missing = [f for f in t.requires if not move.given(f)]
    if missing:
        flags = ", ".join(f"--{f}" for f in missing)
        raise MissingField(f"{t.name} needs {flags}")
    allowed = set(t.requires) | set(t.optional)
    extra = [
        f for f in ("note", "plan", "assignee", "due", "evidence", "reason")
        if f not in allowed and move.given(f)
    ]
    if extra:
        flags = ", ".join(f"--{f}" for f in extra)
        raise BadOption(f"{t.name} does not take {flags}")


def _check_duties(t: TransitionDef, issue: Issue, ctx: Context) -> None:
    for other in t.forbid_actors_of:
        if ctx.actor in ctx.prior_actors.get(other, frozenset()):
            raise SeparationOfDuties(
                f"{ctx.actor} may not {t.name} issue {issue.id}: they fired {other} on it"
            )


# --- folding -------------------------------------------------------------------------------
def payload_moment(value: Any) -> datetime | None:
    """A moment as payloads carry it (ISO 8601 with offset), or None."""
    return datetime.fromisoformat(value) if value else None


_ISSUE_FIELDS: tuple[str, ...] = ()


def replace(issue: Issue, **changes: Any) -> Issue:
    """dataclasses.replace for an Issue, without looking up its fields each time (hot path)."""
    global _ISSUE_FIELDS
    if not _ISSUE_FIELDS:
        _ISSUE_FIELDS = tuple(f.name for f in fields(Issue))
    for name in _ISSUE_FIELDS:
        if name not in changes:
            changes[name] = getattr(issue, name)
    return Issue(**changes)


def evolve(issue: Issue | None, event: Event) -> Issue:
    """The issue after `event`."""
    if event.type in ("created", "imported"):
        return Issue(**created_fields(event.issue_id, event.version, event.actor, event.at,
                                      event.payload, event.workflow, event.to_state))
    if issue is None:
        raise ValueError(f"event {event.type} before the issue was created")
    return replace(issue, **changes(event.type, event.version, event.at, event.payload,
                                    event.workflow, event.to_state))


def created_fields(issue_id: int, version: int, actor: str, at: datetime,
                   p: Mapping[str, Any], workflow: str, to_state: str | None
                   ) -> dict[str, Any]:
    """Every field of an issue from its first event (created or imported)."""
    return {
        "id": issue_id,
        "title": p["title"],
        "category": p["category"],
        "village": p["village"],
        "description": p.get("description"),
        "group": p.get("group"),
        "household": p.get("household"),
        "severity": p.get("severity") or "medium",
        "listed": bool(p.get("listed")),
        "state": to_state or "",
        "version": version,
        "created_at": at,
        "created_by": actor,
        "stage_entered_at": payload_moment(p.get("entered_at")) or at,
        "assignee": p.get("assignee"),
        "plan": None,
        "due_at": payload_moment(p.get("due_at")),
        "workflow": workflow,
        "stage_version": version,
        "next_escalation_at": payload_moment(p.get("next_escalation_at")),
        "listed_by_village": bool(p.get("listed_by_village")),
    }


def changes(kind: str, version: int, at: datetime, p: Mapping[str, Any], workflow: str,
            to_state: str | None) -> dict[str, Any]:
    """The fields a later event sets: the one rule that `evolve` and the audit's replay share
    (a field the payload leaves out keeps its value)."""
    if kind == "transition":
        out = {
            "version": version,
            "stage_entered_at": at,
            "due_at": payload_moment(p.get("due_at")),
            "workflow": workflow,
            "stage_version": version,
            "next_escalation_at": payload_moment(p.get("next_escalation_at")),
        }
        if to_state:
            out["state"] = to_state
        for name in ("assignee", "plan"):
            if name in p:
                out[name] = p[name]
        if "listed_by_village" in p:
            out["listed_by_village"] = bool(p["listed_by_village"])
        return out
    if kind in ("escalated", "rescheduled"):
        return {"version": version,
                "next_escalation_at": payload_moment(p.get("next_escalation_at"))}
    if kind == "extension_approved":
        return {"version": version, "due_at": payload_moment(p.get("due_at")),
                "next_escalation_at": payload_moment(p.get("next_escalation_at"))}
    if kind in ("village_listed", "village_unlisted"):
        return {"version": version, "listed_by_village": kind == "village_listed",
                "next_escalation_at": payload_moment(p.get("next_escalation_at"))}
    return {"version": version}


def fold(events: Iterable[Event]) -> Issue | None:
    issue: Issue | None = None
    for e in events:
        issue = evolve(issue, e)
    return issue


def fact_event(
    issue: Issue, type: str, actor: str, at: datetime, payload: Mapping[str, Any]
) -> Event:
    """An event that records a fact about the issue without moving it (an escalation raised,
    an extension asked or decided, an interview recorded, the village listed)."""
    return Event(
        issue_id=issue.id,
        version=issue.version + 1,
        type=type,
        actor=actor,
        at=at,
        payload=dict(payload),
        workflow=issue.workflow,
    )
