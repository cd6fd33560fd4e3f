"""The conditions a transition or an action is guarded by, as named pure functions.

The state machine (`engine.statemachine`) attaches them to its transitions by name and
evaluates them when it fires; `guards_of` says which apply to a transition. Each guard either
passes or raises the domain error that says why not (a guard that only answered False would
hide the reason). When the machine is only *asked* what a person may fire, the guards about
who acts (`permitted`, `separate`) are asked, not the ones about what was given (`complete`,
`within_cap`), which the form that fires the transition collects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING

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
    allowed = set(t.requires) | set(t.optional)
    extra = [f for f in FIELDS if f not in allowed and move.given(f)]
    if extra:
        raise BadOption(f"{t.name} does not take {', '.join(f'--{f}' for f in extra)}")


def separate(d: Decision) -> None:
    """Separation of duties: nobody who ever fired one of `forbid_actors_of` on the issue."""
    t = d.transition
    for other in t.forbid_actors_of:
        if d.actor in d.prior_actors.get(other, frozenset()):
            raise SeparationOfDuties(
                f"{d.actor} may not {t.name} issue {d.issue.id}: they fired {other} on it")


def within_cap(d: Decision, wf: Workflow) -> None:
    """A due date given for the new stage is neither past nor beyond the stage's limit."""
    if d.move is None or d.move.due is None:
        return
    check_due(d.calendar, wf.state(d.transition.dest).deadline, d.now, d.move.due)


def check_due(calendar: WorkingCalendar, deadline: Deadline | None, entered_at: datetime,
              given: date) -> None:
    """A date given for a stage entered at `entered_at`: not in the past, within the cap."""
    if deadline is None or deadline.from_field is None:
        return
    today = calendar.local_date(entered_at)
    if given < today:
        raise DeadlineRefused(f"due date {given} is in the past (today is {today})")
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
