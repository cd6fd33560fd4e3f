"""The conditions a transition or an action is guarded by, as named pure functions.

The state machine (`engine.statemachine`) attaches them to its transitions by name and
evaluates them when it fires; `guards_of` says which apply to a transition. Each guard either
passes or raises the domain error that says why not (a guard that only answered False would
hide the reason). When the machine is only *asked* what a person may fire, the guards about
who acts (`permitted`, `separate`) are asked, not the ones about what was given (`complete`,
`within_cap`), which the form that fires the transition collects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from engine.domain.calendar import WorkingCalendar
from engine.domain.org import Org
from engine.domain.workflow import FIELDS, Deadline, TransitionDef, Workflow
from engine.errors import (
    BadOption,
    DeadlineRefused,
    MissingField,
    NotPermitted,
    Refused,
    SeparationOfDuties,
)

if TYPE_CHECKING:
    from engine.domain.issue import Issue, Move

WHO = ("permitted", "separate")
"""Guards about the person: asked when listing what a person may fire."""
WHAT = ("complete", "within_cap")
"""Guards about what the mover gave: checked when firing."""


@dataclass(slots=True)
class Decision:
    """The facts one decision rests on: the transition, the issue, the command (None when
    only asking), who acts with which roles, when, and who fired what before. Made per
    decision on the hot path, so slotted and not frozen (nothing changes it)."""

    transition: TransitionDef
    issue: Issue
    move: Move | None
    actor: str
    roles: frozenset[str]
    calendar: WorkingCalendar
    now: datetime
    prior_actors: Mapping[str, frozenset[str]] = field(default_factory=dict)


def guards_of(t: TransitionDef, wf: Workflow) -> tuple[str, ...]:
    """The named conditions of a transition, in the order they are checked."""
    names = ["permitted", "complete"]
    if t.forbid_actors_of:
        names.append("separate")
    deadline = wf.state(t.dest).deadline
    if deadline is not None and deadline.from_field is not None and (
            deadline.from_field in t.requires or deadline.from_field in t.optional):
        names.append("within_cap")
    return tuple(names)


def permitted(d: Decision) -> None:
    """The person holds one of the transition's roles (for this issue)."""
    t = d.transition
    if d.roles.isdisjoint(t.roles):
        raise NotPermitted(f"{d.actor} may not {t.name} issue {d.issue.id}: needs one of the"
                           f" roles {', '.join(t.roles)}")


def complete(d: Decision) -> None:
    """Every field the transition requires is given, and none it does not take."""
    t, move = d.transition, d.move
    if move is None:
        return
    missing = [f for f in t.requires if not move.given(f)]
    if missing:
        raise MissingField(f"{t.name} needs {', '.join(f'--{f}' for f in missing)}")
    extra = [f for f in not_taken(t)  # None is never given: asked only of the rest
             if getattr(move, f) is not None and move.given(f)]
    if extra:
        raise BadOption(f"{t.name} does not take {', '.join(f'--{f}' for f in extra)}")


_NOT_TAKEN: dict[int, tuple[TransitionDef, tuple[str, ...]]] = {}
"""`not_taken` of each transition, by its id (the transition kept with it, so that the id
names it while it is remembered)."""


def not_taken(t: TransitionDef) -> tuple[str, ...]:
    """The fields (in the order of FIELDS) a transition neither requires nor takes: worked
    out once per transition (a definition never changes)."""
    found = _NOT_TAKEN.get(id(t))
    if found is None or found[0] is not t:
        allowed = set(t.requires) | set(t.optional)
        if len(_NOT_TAKEN) > 4096:
            _NOT_TAKEN.clear()
        found = _NOT_TAKEN[id(t)] = (t, tuple(f for f in FIELDS if f not in allowed))
    return found[1]


def separate(d: Decision) -> None:
    """Separation of duties: nobody who ever fired one of `forbid_actors_of` on the issue,
    nor, for an entry `assignee@T`, anyone who was the assignee of record when T was fired."""
    t = d.transition
    for other in t.forbid_actors_of:
        if d.actor in d.prior_actors.get(other, frozenset()):
            if is_assignee_token(other):
                raise SeparationOfDuties(
                    f"{d.actor} may not {t.name} issue {d.issue.id}: they were its assignee"
                    f" when {other.split('@', 1)[1]} was fired")
            raise SeparationOfDuties(
                f"{d.actor} may not {t.name} issue {d.issue.id}: they fired {other} on it")


ASSIGNEE_AT = "assignee@"
"""`forbid_actors_of` entries of the form `assignee@T`: the assignee of record when T fired."""
ANY_ASSIGNEE = ASSIGNEE_AT + "*"
"""The assignee a ledger gave an imported issue: of record for whatever came before."""


def is_assignee_token(entry: str) -> bool:
    return entry.startswith(ASSIGNEE_AT)


def assignees_at(events: Iterable[tuple[str, str | None, Mapping[str, Any]]]
                 ) -> dict[str, frozenset[str]]:
    """From an issue's events in order, as (type, transition, payload): for each
    `assignee@T` entry (keyed so), who was the assignee of record whenever T was fired. A
    reassign keeps the assignee it replaced of record: whoever held the stage since the last
    transition counts when the next one is fired."""
    assignee: str | None = None
    held: set[str] = set()
    """Assignees a reassign replaced since the last transition."""
    found: dict[str, set[str]] = {}
    for kind, transition, p in events:
        if kind in ("created", "imported"):
            assignee = p.get("assignee")
            if kind == "imported" and assignee:
                found.setdefault(ANY_ASSIGNEE, set()).add(assignee)
            continue
        if kind == "reassigned":
            if assignee:
                held.add(assignee)
            assignee = p.get("to")
            continue
        if kind == "transition" and transition is not None:
            if assignee or held:
                record = found.setdefault(ASSIGNEE_AT + transition, set())
                record.update(held)
                if assignee:
                    record.add(assignee)
            held.clear()
            if "assignee" in p:
                assignee = p["assignee"]
    return {k: frozenset(v) for k, v in found.items()}


REASSIGN_STATES = ("studied", "rectified")
"""Where a reassign may happen: while the assignee rectifies, and while the rectification
waits to be verified (held in code, as the corrections' roles are by default)."""


def reassign_open(issue: Issue) -> None:
    """A reassign needs an issue being rectified or waiting to be verified."""
    if issue.state not in REASSIGN_STATES:
        raise Refused(f"issue {issue.id} is {issue.state}: only a studied or rectified issue"
                      " can be reassigned")


def edit_open(issue: Issue, final: Iterable[str]) -> None:
    """An edit needs an issue not in a final state."""
    if issue.state in final:
        raise Refused(f"issue {issue.id} is {issue.state}: a closed issue cannot be edited")


def within_cap(d: Decision, wf: Workflow) -> None:
    """A due date given for the new stage is neither past nor beyond the stage's limit."""
    if d.move is None or d.move.due is None:
        return
    check_due(d.calendar, wf.state(d.transition.dest).deadline, d.now, d.move.due)


def check_due(calendar: WorkingCalendar, deadline: Deadline | None, entered_at: datetime,
              given: date, working_day: bool = True) -> None:
    """A date given for a stage entered at `entered_at`: not in the past, a working day (the
    refusal names the working day before it), within the cap. The audit's rule check asks
    without `working_day`: events written before that rule kept the others only."""
    if deadline is None or deadline.from_field is None:
        return
    today = calendar.local_date(entered_at)
    if given < today:
        raise DeadlineRefused(f"due date {given} is in the past (today is {today})")
    if working_day and not calendar.is_working_day(given):
        before = calendar.nth_working_day_before(given, 1)
        raise DeadlineRefused(f"due date {given} is not a working day (the working day"
                              f" before it is {before})")
    limit = deadline.max_working_days
    if limit is not None:
        latest = calendar.nth_working_day_after(today, limit)
        if given > latest:
            raise DeadlineRefused(
                f"due date {given} is more than {limit} working days out (latest {latest})")


def may_act(org: Org, wf: Workflow, action: str, person: str, village: str | None,
            assignee: str | None) -> None:
    """An action the workflow allows to some roles (see workflow.ACTIONS); NotPermitted when
    the person holds none of them (town-wide when `village` is None)."""
    specs = wf.action_roles(action)
    if village is None:
        town_wide = org.roles_of(person)
        ok = any(role in town_wide for spec in specs for role in spec.split("|"))
    else:
        ok = person in org.reach(specs, village, assignee)
    if not ok:
        who = " or ".join(spec.replace("|", " (else ") + (")" if "|" in spec else "")
                          for spec in specs) or "nobody"
        raise NotPermitted(f"{person} may not {action.replace('_', ' ')}: {who} may")


def extension_open(issue: Issue, now: datetime, tz: tzinfo) -> None:
    """An extension may be asked only in a stage with a due moment, before that moment."""
    if issue.due_at is None:
        raise Refused(f"issue {issue.id} has no deadline in state {issue.state!r}")
    if now >= issue.due_at:
        due = issue.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        raise DeadlineRefused(f"issue {issue.id} was due {due}: an extension must be asked"
                              " before the due moment")


def action_open(action: str, issue: Issue, now: datetime, tz: tzinfo) -> None:
    """What an action needs of the issue's moment, besides who takes it: asking for more time
    is open only before the due moment (the others, whenever their record is open)."""
    if action == "request_extension":
        extension_open(issue, now, tz)


# --- entering the workflow from a ledger (import) ---------------------------------------------
@dataclass(slots=True)
class Entered:
    """What a ledger row says of an issue that enters the workflow in `state`."""

    state: str
    village: str
    entered_at: datetime
    assignee: str | None = None
    plan: str | None = None
    due: date | None = None
    verified_by: str | None = None
    verified_at: datetime | None = None


def entry_needs(wf: Workflow, state: str) -> tuple[bool, bool, bool]:
    """What a state needs of a row that enters it, from the workflow's shape: (the fields of
    the stage whose due date is given: plan, assignee, due; an assignee, for every state
    after that stage; who verified and when, for the dest of a transition with separation
    of duties and every state after it)."""
    names = [x.name for x in wf.states]
    where = names.index(state)
    planned = next((i for i, x in enumerate(wf.states)
                    if x.deadline is not None and x.deadline.from_field is not None), None)
    checked = [names.index(t.dest) for t in wf.transitions if t.forbid_actors_of]
    checked_from = min(checked) if checked else None
    return (planned is not None and where == planned,
            planned is not None and where > planned,
            checked_from is not None and where >= checked_from)


def entry_roles(wf: Workflow, state: str) -> frozenset[str]:
    """The roles that could have put an issue in `state`: those of the transitions into it;
    past a check by someone else (separation of duties), only those who may close issues."""
    _, _, checked = entry_needs(wf, state)
    if state == wf.initial:
        return frozenset()
    if checked:
        return frozenset(r for t in wf.transitions if t.dest in wf.final for r in t.roles)
    return frozenset(r for t in wf.transitions if t.dest == state for r in t.roles)


def entry_problems(wf: Workflow, org: Org, calendar: WorkingCalendar, actor: str,
                   e: Entered, working_day: bool = True) -> list[str]:
    """Why a ledger row may not enter the workflow as it says (empty: it may): what the path
    to its state needs, and whether the importer could have put it there (`working_day`:
    as for check_due)."""
    out: list[str] = []
    if not wf.has_state(e.state):
        return [f"unknown state {e.state!r}"]
    planned, assigned, checked = entry_needs(wf, e.state)
    roles = org.roles_for_issue(actor, e.village, e.assignee)
    if e.state == wf.initial:
        if not org.may_add_issues(actor):
            out.append(f"{actor} may not add issues: not a member of any group")
    elif "party_secretary" not in roles:
        allowed = entry_roles(wf, e.state)
        if roles.isdisjoint(allowed):
            out.append(f"{actor} may not import an issue in state {e.state!r}: needs one of"
                       f" the roles {', '.join(sorted(allowed))}")
    deadline = wf.state(e.state).deadline
    if planned:
        missing = [name for name, value in (("plan", e.plan), ("assignee", e.assignee),
                                            ("due", e.due)) if not value]
        if missing:
            out.append(f"state {e.state!r} needs {', '.join(missing)}")
        elif e.due is not None:
            try:
                check_due(calendar, deadline, e.entered_at, e.due, working_day)
            except DeadlineRefused as err:
                out.append(str(err))
    elif e.due is not None and deadline is not None:
        days = deadline.working_days or deadline.default_working_days
        if days is not None:
            # the stage's own due moment falls at the end of its last working day
            latest = calendar.local_date(
                calendar.due_after(e.entered_at, days) - timedelta(microseconds=1))
            if working_day and not calendar.is_working_day(e.due):
                before = calendar.nth_working_day_before(e.due, 1)
                out.append(f"due date {e.due} is not a working day (the working day before"
                           f" it is {before})")
            elif e.due > latest:
                out.append(f"due date {e.due} is beyond the stage's {days} working days"
                           f" (latest {latest})")
    if (assigned or checked) and not e.assignee:
        out.append(f"state {e.state!r} needs an assignee")
    if checked:
        if not e.verified_by or e.verified_at is None:
            out.append(f"state {e.state!r} needs who verified it and when"
                       " (verified_by, verified_at)")
        elif e.verified_by == e.assignee:
            out.append(f"{e.verified_by} may not have verified it: they are its assignee"
                       " (separation of duties)")
        elif e.verified_at > e.entered_at:
            out.append("verified_at is after entered_at")
        else:
            verify = [t for t in wf.transitions if t.forbid_actors_of]
            vroles = org.roles_for_issue(e.verified_by, e.village, e.assignee)
            if verify and all(vroles.isdisjoint(t.roles) for t in verify):
                out.append(f"{e.verified_by} may not have verified it: needs one of the"
                           f" roles {', '.join(verify[0].roles)}")
    return out


def check_new_due(calendar: WorkingCalendar, deadline: Deadline | None, now: datetime,
                  given: date) -> None:
    """A due date a reassign gives the stage the issue is in, counted from `now`: as a mover's
    date when the stage takes one (check_due), else not past, a working day, and not after
    the stage's own working days."""
    if deadline is None:
        raise DeadlineRefused("the issue's stage has no deadline: --due does not apply")
    if deadline.from_field is not None:
        check_due(calendar, deadline, now, given)
        return
    check_due(calendar, Deadline(from_field="due"), now, given)  # past, a working day
    days = deadline.working_days or deadline.default_working_days
    if days is not None:
        latest = calendar.nth_working_day_after(calendar.local_date(now), days)
        if given > latest:
            raise DeadlineRefused(f"due date {given} is more than {days} working days out"
                                  f" (latest {latest})")
