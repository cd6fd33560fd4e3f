"""Whether an issue's history kept the rules in force when each event happened: the audit's
rule check. Pure: the configuration comes from the chain (`configuration.InForce`), the events
as the audit reads them.

For every event after the chain first recorded an org: its time does not go back before the
issue's previous event; in a live database it was neither ahead of its writing nor back-dated
without a reason; a transition is one of its workflow's, fired by someone holding one of its
roles (for this issue, then), with the fields it requires, by nobody separation of duties
excludes, and with a due date within the stage's cap; an action was taken by someone the
workflow allows; an imported issue entered its state with what the path there needs, from
someone who could have put it there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from engine.domain import spotcheck
from engine.domain.calendar import WorkingCalendar
from engine.domain.clock_rules import LIVE, SLACK
from engine.domain.configuration import InForce
from engine.domain.escalation import OUTCOMES
from engine.domain.events import EventType
from engine.domain.guards import ANY_ASSIGNEE, ASSIGNEE_AT, Entered, check_due, entry_problems
from engine.domain.org import Org
from engine.domain.workflow import Deadline, TransitionDef, Workflow
from engine.errors import DeadlineRefused

_CREATED = EventType.CREATED.value
_IMPORTED = EventType.IMPORTED.value
_TRANSITION = EventType.TRANSITION.value
_UNKNOWN = object()
_INSTANT = timedelta(microseconds=1)
_RULED_EXTRA = frozenset({_CREATED, _IMPORTED, _TRANSITION})
_ACTIONS = {
    EventType.EXTENSION_REQUESTED.value: "request_extension",
    EventType.EXTENSION_APPROVED.value: "decide_extension",
    EventType.EXTENSION_DENIED.value: "decide_extension",
    EventType.INTERVIEW_RECORDED.value: "record_interview",
    EventType.ACCOUNTABILITY_DECIDED.value: "decide_accountability",
    EventType.REASSIGNED.value: "reassign",
    EventType.EDITED.value: "edit",
}
_REASSIGNED = EventType.REASSIGNED.value
_SPOTCHECK = EventType.SPOTCHECK_RECORDED.value
_RULED = _RULED_EXTRA | frozenset(_ACTIONS) | {_SPOTCHECK}
"""The kinds whose actor the rules in force must allow."""


class Rules:
    """The rules in force, read from the chain's town events, with what repeated checks
    share (each calendar made once, each person's roles per org and issue once)."""

    def __init__(self, in_force: InForce, tz: tzinfo,
                 decode: Callable[[Any], datetime]) -> None:
        self.in_force = in_force
        self.tz = tz
        self.decode = decode
        """A stored write time to an aware moment (the store's decoder)."""
        self.live_from = in_force.first_live_seq()
        last = in_force.orgs[-1] if in_force.orgs else None
        self.last_org = last[1] if last else None
        self.last_org_seq = last[0] if last else 1 << 62
        """The org in force for every event after the last org event (most of them)."""
        cal = in_force.calendars[-1] if in_force.calendars else None
        self._last_cal_seq = cal[0] if cal else 1 << 62
        self._calendars: dict[int, WorkingCalendar] = {}
        self._roles: dict[tuple[int, str, str, str | None], frozenset[str]] = {}
        self._steps: dict[tuple[str, str], Step | None] = {}
        self.moves: dict[tuple[str, str | None, str | None, str | None], Any] = {}
        """(workflow, transition, from, to) as events name them -> its step (None: not one
        of the workflow's)."""
        self.allowed: dict[tuple[int, str, str, str | None, str], bool] = {}
        """(org, person, village, assignee, workflow transition) -> may fire it."""
        self._dues: dict[tuple[int, str, date, str], str | None] = {}

    @property
    def active(self) -> bool:
        return bool(self.in_force.orgs)

    def org_at(self, seq: int) -> Org | None:
        """The org in force at `seq` (the last one for every event after it, most of them)."""
        orgs = self.in_force.orgs
        if orgs and seq > orgs[-1][0]:
            return orgs[-1][1]
        return self.in_force.org_at(seq)

    def calendar_at(self, seq: int) -> WorkingCalendar | None:
        data = (self.in_force.calendars[-1][1] if seq > self._last_cal_seq
                else self.in_force.calendar_at(seq))
        if data is None:
            return None
        key = id(data)
        cal = self._calendars.get(key)
        if cal is None:
            cal = self._calendars[key] = WorkingCalendar(data, self.tz)
        return cal

    def roles(self, org: Org, person: str, village: str, assignee: str | None
              ) -> frozenset[str]:
        key = (id(org), person, village, assignee)
        found = self._roles.get(key)
        if found is None:
            found = self._roles[key] = org.roles_for_issue(person, village, assignee)
        return found

    def issue(self) -> IssueRules:
        return IssueRules(self)

    def step(self, workflow: str, name: str) -> Step | None:
        """What checking a transition of a workflow version needs, made once."""
        key = (workflow, name)
        if key in self._steps:
            return self._steps[key]
        found = self.in_force.workflows.get(workflow)
        t = None if found is None else found[1].transition(name)
        step = None
        if t is not None and found is not None:
            deadline = found[1].state(t.dest).deadline
            named = {o for x in found[1].transitions for o in x.forbid_actors_of}
            step = Step(t, f"{workflow}/{name}", ASSIGNEE_AT + t.name,
                        tuple((o, o.startswith(ASSIGNEE_AT)) for o in t.forbid_actors_of
                              if o != t.name),
                        deadline if deadline is not None and deadline.from_field else None,
                        t.name in named, ASSIGNEE_AT + t.name in named)
        self._steps[key] = step
        return step

    def due_problem(self, seq: int, step: Step, at: datetime, due: str) -> str | None:
        """Whether a due date given at `at` was within the stage's cap (the calendar in
        force); remembered per calendar, stage, day and date."""
        cal = self.calendar_at(seq)
        if cal is None:
            return None
        day = cal.local_date(at)
        key = (id(cal), step.key, day, due)
        if key not in self._dues:
            try:
                check_due(cal, step.deadline, at, date.fromisoformat(due), working_day=False)
                self._dues[key] = None
            except (DeadlineRefused, ValueError) as e:
                self._dues[key] = str(e)
        return self._dues[key]


@dataclass(frozen=True, slots=True)
class Step:
    """A transition of a workflow version as the rule check uses it."""

    t: TransitionDef
    key: str
    assignee_key: str
    forbid: tuple[tuple[str, bool], ...]
    """(entry, whether it names an assignee) of forbid_actors_of, its own name left out."""
    deadline: Deadline | None
    """The destination's deadline when the mover gives its date (checked against the cap)."""
    remember_actor: bool
    """Whether separation of duties ever asks who fired it."""
    remember_assignee: bool
    """Whether it asks who was the assignee when it was fired."""


class IssueRules:
    """The rule check of one issue, fed its events in version order with the issue's fields
    as they stood before each (None before the first)."""

    RULED = _RULED
    """The kinds `check` is asked about (the others only have their time ruled)."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.fired: dict[str, set[str]] = {}
        """For separation of duties: who fired each transition, and `assignee@T` keys."""
        self.held: set[str] = set()
        """Assignees a reassign replaced since the last transition: still of record."""
        self.checked: set[int] = set()
        """The spot-check draws this issue's result was recorded for."""

    def timing(self, seq: int, at: datetime, previous: datetime | None, late: bool,
               recorded_at: Any, p: Mapping[str, Any]) -> str | None:
        """Why this event's time broke the rules (None: it kept them): dated before the
        issue's previous event, or, in a live database, ahead of its writing or back-dated
        without a reason. Asked only when the event is back-dated or out of order (the fold
        knows both cheaply)."""
        r = self.rules
        if previous is not None and at < previous:
            return (f"event {seq} is dated {_t(at, r.tz)}, before the issue's previous event"
                    f" ({_t(previous, r.tz)})")
        if late and r.live_from is not None and seq > r.live_from:
            written = r.decode(recorded_at)
            if at > written + SLACK:
                return (f"event {seq} is dated {_t(at, r.tz)}, ahead of when it was written"
                        f" ({_t(written, r.tz)}) in a live database")
            if at < written - SLACK and not (p.get("via") or {}).get("backfill"):
                return (f"event {seq} is back-dated to {_t(at, r.tz)} (written"
                        f" {_t(written, r.tz)}) in a live database without a reason")
        return None

    def check(self, seq: int, kind: str, transition: str | None, from_state: str | None,
              to_state: str | None, actor: str, at: datetime, p: Mapping[str, Any],
              workflow: str, before: Mapping[str, Any] | None) -> str | None:
        """Why this event (of a kind in RULED) broke a rule in force (None: it kept them)."""
        r = self.rules
        if kind == _REASSIGNED and before and before.get("assignee"):
            self.held.add(str(before["assignee"]))
        org = r.last_org if seq > r.last_org_seq else r.org_at(seq)
        if org is None:
            if kind == _TRANSITION:
                self.held.clear()
            return None  # before the chain recorded any org: the rules are not known
        if kind == _TRANSITION:
            problem = self._transition(seq, transition, from_state, to_state, actor, at, p,
                                       workflow, before or {}, org)
            self.held.clear()
            return problem
        if kind == _CREATED:
            if not org.may_add_issues(actor):
                return f"event {seq}: {actor} may not add issues (not in any group)"
            return None
        if kind == _IMPORTED:
            return self._imported(seq, actor, to_state or "", p, workflow, org)
        if kind == _SPOTCHECK:
            return self._spotcheck(seq, actor, p, before or {}, org)
        action = _ACTIONS.get(kind)
        if action is not None and before:
            wf = self._workflow(workflow)
            if wf is None:
                return f"event {seq}: workflow {workflow} is not recorded in the chain"
            specs = wf.action_roles(action)
            if actor not in org.reach(specs, before["village"], before.get("assignee")):
                return f"event {seq}: {actor} may not {action.replace('_', ' ')}"
            if action == "decide_accountability":
                outcome = p.get("outcome")
                if outcome is not None and outcome not in OUTCOMES:
                    return f"event {seq}: unknown accountability outcome {outcome!r}"
                strangers = [x for x in p.get("subjects") or () if x not in org.people]
                if strangers:
                    return f"event {seq}: {strangers[0]!r} is no person of the org"
        return None

    def _spotcheck(self, seq: int, actor: str, p: Mapping[str, Any],
                   before: Mapping[str, Any], org: Org) -> str | None:
        """A spot check's result: by the quality-supervision group, of an issue a draw before
        it sampled, once per draw, while the issue was cleared."""
        if spotcheck.ROLE not in org.roles_of(actor):
            return f"event {seq}: {actor} may not record spot checks"
        number = int(p.get("draw") or 0)
        drawn = self.rules.in_force.draws.get(number)
        if drawn is None or drawn[0] > seq or before.get("id") not in drawn[1]:
            return f"event {seq}: the issue was not drawn in spot check {number}"
        if number in self.checked:
            return f"event {seq}: spot check {number} of the issue recorded twice"
        self.checked.add(number)
        if p.get("result") not in spotcheck.RESULTS:
            return f"event {seq}: unknown spot-check result {p.get('result')!r}"
        if before.get("state") != spotcheck.CLEARED:
            return f"event {seq}: a spot check of an issue that was not cleared"
        return None

    def _workflow(self, key: str) -> Workflow | None:
        found = self.rules.in_force.workflows.get(key)
        return None if found is None else found[1]

    def _transition(self, seq: int, name: str | None, from_state: str | None,
                    to_state: str | None, actor: str, at: datetime, p: Mapping[str, Any],
                    workflow: str, before: Mapping[str, Any], org: Org) -> str | None:
        r = self.rules
        step = r.moves.get((workflow, name, from_state, to_state), _UNKNOWN)
        if step is _UNKNOWN:
            step = r.step(workflow, name or "")
            if step is not None and (from_state not in step.t.sources
                                     or step.t.dest != to_state):
                step = None
            r.moves[(workflow, name, from_state, to_state)] = step
        if step is None:
            if self._workflow(workflow) is None:
                return f"event {seq}: workflow {workflow} is not recorded in the chain"
            return (f"event {seq}: {name} from {from_state} to {to_state} is not a transition"
                    f" of {workflow}")
        t = step.t
        assignee = before.get("assignee")
        fired = self.fired
        if step.remember_actor:
            who = fired.get(t.name)
            if who is None:
                fired[t.name] = {actor}
            else:
                who.add(actor)
        if (assignee or self.held) and step.remember_assignee:
            held = fired.setdefault(step.assignee_key, set())
            held.update(self.held)
            if assignee:
                held.add(assignee)
        village = before.get("village", "")
        key = (id(org), actor, village, assignee, step.key)
        allowed = r.allowed.get(key)
        if allowed is None:
            allowed = r.allowed[key] = not r.roles(org, actor, village, assignee).isdisjoint(
                t.roles)
        if not allowed:
            return (f"event {seq}: {actor} may not {t.name}: needs one of the roles"
                    f" {', '.join(t.roles)}")
        for f in t.requires:
            value = p.get(f)
            if not value or (value.__class__ is str and not value.strip()):
                return f"event {seq}: {t.name} without {f}"
        for other, by_assignee in step.forbid:
            if actor in fired.get(other, ()) or (
                    by_assignee and actor in fired.get(ANY_ASSIGNEE, ())):
                return f"event {seq}: {actor} may not {t.name}: separation of duties ({other})"
        if step.deadline is not None:
            due = p.get("due")
            if due:
                problem = r.due_problem(seq, step, at, str(due))
                if problem is not None:
                    return f"event {seq}: {problem}"
        return None

    def _imported(self, seq: int, actor: str, state: str, p: Mapping[str, Any],
                  workflow: str, org: Org) -> str | None:
        wf = self._workflow(workflow)
        cal = self.rules.calendar_at(seq)
        if wf is None or cal is None:
            return f"event {seq}: workflow {workflow} or the calendar is not recorded"
        due_at, entered = p.get("due_at"), p.get("entered_at")
        verified = p.get("verified_at")
        problems = entry_problems(wf, org, cal, actor, Entered(
            state=state, village=str(p.get("village")),
            entered_at=datetime.fromisoformat(entered) if entered else datetime.min,
            assignee=p.get("assignee"), plan=p.get("plan"),
            due=(cal.local_date(datetime.fromisoformat(due_at) - _INSTANT)  # its last day
                 if due_at and wf.state(state).deadline is not None else None),
            verified_by=p.get("verified_by"),
            verified_at=datetime.fromisoformat(verified) if verified else None),
            working_day=False)
        assignee = p.get("assignee")
        if assignee:  # the ledger's assignee is the assignee of record of what came before
            self.fired.setdefault(ANY_ASSIGNEE, set()).add(str(assignee))
        return f"event {seq}: {'; '.join(problems)}" if problems else None


def _t(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


__all__ = ["LIVE", "IssueRules", "Rules"]
