"""The only importer of `transitions`: one Machine per workflow version, with the workflow's
rules attached as named conditions, fired on a light model (a state name and a decision).

Each transition of the definition becomes a machine transition whose conditions are the
guards `engine.domain.guards.guards_of` names (`permitted`, `complete`, `separate`,
`within_cap`); each action a person may take on an issue without moving it
(`request_extension`, `decide_extension`, `record_interview`, `decide_accountability`) is an
internal transition (no change of state) from every open state, guarded by `may_act`. A guard
raises the domain error that says why not when the machine fires; when the machine is only
asked what a person may fire (`permitted`), the guards about who acts answer yes or no and
the ones about what was given are left to the form that collects it.

No callbacks and no side effects: the handlers write what the decision says. So a move is
fired on the machine's table as `transitions` compiled it (each event's transitions by source:
destination and named conditions, read once per machine), its conditions evaluated on the
model in order, without the library's event queue, callback lookups and logging, which cost
about five times the guards themselves on a move's hot path; `fire_by_events` fires the same
through the library's own events, and the two agree (tests/unit/test_machine.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from transitions import EventData, Machine, MachineError

from engine.domain import guards
from engine.domain.calendar import WorkingCalendar
from engine.domain.guards import Decision
from engine.domain.issue import Issue
from engine.domain.org import Org
from engine.domain.workflow import ACTIONS, Workflow
from engine.errors import InvalidTransition, Refused

ISSUE_ACTIONS = tuple(a for a in ACTIONS if a != "list_village")
"""The actions taken on one issue (listing a village is town-wide), offered by `permitted`;
the corrections (reassign, edit) are fired by their handlers, not through the machine."""


@dataclass(frozen=True, slots=True)
class Asked:
    """Who asks what they may do on an issue now, with what they hold."""

    issue: Issue
    actor: str
    roles: frozenset[str]
    org: Org
    calendar: WorkingCalendar
    prior_actors: Mapping[str, frozenset[str]]
    now: datetime
    """When asked: an action tied to a moment (asking for more time before the due moment) is
    offered only while it can be taken."""


_Step = tuple[str | None, tuple[tuple[str, bool], ...]]
"""One compiled transition: its destination and its (condition, answer wanted) pairs."""


class _Model:
    """What the machine fires on: a state name and the decision being checked, never a row.

    Its methods are the machine's named conditions."""

    __slots__ = ("asked", "decision", "state", "wf")

    def __init__(self, state: str, wf: Workflow, decision: Decision | None,
                 asked: Asked | None = None) -> None:
        self.state = state
        self.wf = wf
        self.decision = decision
        self.asked = asked

    def _check(self, name: str, guard: Callable[[Decision], None]) -> bool:
        """Fire: the guard raises its reason. Ask: a guard about what is given (guards.WHAT)
        is the form's to collect; every other one (about the person) answers yes or no."""
        d = self.decision
        assert d is not None
        if self.asked is None:
            guard(d)
            return True
        if name in guards.WHAT:
            return True
        try:
            guard(d)
        except Refused:
            return False
        return True

    def permitted(self, _e: EventData | None) -> bool:
        return self._check("permitted", guards.permitted)

    def complete(self, _e: EventData | None) -> bool:
        return self._check("complete", guards.complete)

    def separate(self, _e: EventData | None) -> bool:
        return self._check("separate", guards.separate)

    def within_cap(self, _e: EventData | None) -> bool:
        wf = self.wf
        return self._check("within_cap", lambda d: guards.within_cap(d, wf))

    def may_act(self, e: EventData | None) -> bool:
        asked = self.asked
        if asked is None or e is None:
            return False
        try:
            guards.may_act(asked.org, self.wf, e.event.name, asked.actor, asked.issue.village,
                           asked.issue.assignee)
            guards.action_open(e.event.name, asked.issue, asked.now, asked.calendar.tz)
        except Refused:
            return False
        return True


def _action_states(action: str, open_states: list[str]) -> list[str]:
    """Where an action may be taken: a reassign in the stages with an assignee at work, any
    other in every open stage."""
    if action == "reassign":
        return [x for x in open_states if x in guards.REASSIGN_STATES]
    return open_states


_Fired = tuple[str | None, tuple[Callable[[Decision], None], ...], bool]
"""One compiled transition as a move fires it: its destination, the guards called in order
(each raises its reason) and whether it passes once they all have."""
_GUARDS: dict[str, Callable[[Decision], None]] = {
    "permitted": guards.permitted, "complete": guards.complete, "separate": guards.separate}


def _fired(steps: tuple[_Step, ...], wf: Workflow) -> tuple[_Fired, ...] | None:
    """What firing does with a model (`_Model`, no `asked`), written out once: each named
    condition evaluated in order until one gives another answer than its transition wants
    (`all` stops there). A guard answers True once it has not raised; `may_act` answers
    False when a transition is fired. None when a condition is none of these."""
    out = []
    for dest, conditions in steps:
        checks: list[Callable[[Decision], None]] = []
        passes = True
        for func, target in conditions:
            guard = _GUARDS.get(func)
            if guard is None and func == "within_cap":
                guard = partial(_within_cap, wf)
            if guard is not None:
                checks.append(guard)
                answer = True
            elif func == "may_act":
                answer = False
            else:
                return None
            if answer != target:
                passes = False
                break
        out.append((dest, tuple(checks), passes))
    return tuple(out)


def _within_cap(wf: Workflow, d: Decision) -> None:
    guards.within_cap(d, wf)


class WorkflowMachine:
    """One workflow version's machine: fires transitions with their guards, answers what a
    person may fire."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        open_states = [s.name for s in workflow.states if not workflow.is_final(s.name)]
        specs: list[dict[str, object]] = [
            {"trigger": t.name, "source": list(t.sources), "dest": t.dest,
             "conditions": list(guards.guards_of(t, workflow))}
            for t in workflow.transitions
        ]
        specs += [{"trigger": a, "source": _action_states(a, open_states), "dest": None,
                   "conditions": ["may_act"]}
                  for a in ISSUE_ACTIONS if workflow.action_roles(a)]
        self._machine = Machine(
            model=None, states=[s.name for s in workflow.states], transitions=specs,
            initial=workflow.initial, auto_transitions=False, ignore_invalid_triggers=False,
            send_event=True)
        self._table: dict[tuple[str, str], tuple[_Step, ...]] = {
            (name, source): tuple((tr.dest, tuple((str(c.func), bool(c.target))
                                                  for c in tr.conditions))
                                  for tr in found)
            for name, event in self._machine.events.items()
            for source, found in event.transitions.items()
        }
        """The machine's transitions as compiled: (trigger, source) -> each transition's
        destination (None: internal) and named conditions with the answer each must give."""
        self._fired: dict[tuple[str, str], tuple[_Fired, ...] | None] = {
            key: _fired(steps, workflow) for key, steps in self._table.items()}
        """The same table as a move fires it (`_fired`); None where a condition is not one
        of the guards (fired on the model)."""

    def fire(self, decision: Decision) -> str:
        """The state after the decision's transition; InvalidTransition naming the allowed
        ones, or the error of the first guard that fails (read from the machine's table)."""
        state = decision.issue.state
        key = (decision.transition.name, state)
        fired = self._fired.get(key, ())
        if fired is None:
            model = _Model(state, self.workflow, decision)
            for dest, conditions in self._table[key]:
                if all(getattr(model, func)(None) == target for func, target in conditions):
                    return state if dest is None else dest
            raise self._invalid(decision)
        for dest, checks, passes in fired:
            for check in checks:
                check(decision)
            if passes:
                return state if dest is None else dest
        raise self._invalid(decision)

    def compiled(self, trigger: str, source: str) -> bool:
        """Whether a fire of `trigger` from `source` goes by the compiled table (the guards
        called directly), not by the model."""
        return self._fired.get((trigger, source)) is not None

    def fire_by_events(self, decision: Decision) -> str:
        """`fire` through the library's own event (its queue, callbacks and state change)."""
        model = _Model(decision.issue.state, self.workflow, decision)
        event = self._machine.events.get(decision.transition.name)
        try:
            if event is None or not event.trigger(model):
                raise MachineError(decision.transition.name)
        except MachineError:
            raise self._invalid(decision) from None
        return model.state

    def _invalid(self, decision: Decision) -> InvalidTransition:
        allowed = [t for t in self._machine.get_triggers(decision.issue.state)
                   if self.workflow.transition(t) is not None]
        names = ", ".join(allowed) if allowed else "none: the issue is closed"
        return InvalidTransition(f"cannot {decision.transition.name} an issue in state"
                                 f" {decision.issue.state!r}; allowed: {names}")

    def permitted(self, asked: Asked) -> list[str]:
        """The transitions and actions this person may fire on this issue now, in the
        definition's order (the fields a transition needs are not asked)."""
        state = asked.issue.state
        out = []
        for name in self._machine.get_triggers(state):
            t = self.workflow.transition(name)
            decision = None if t is None else Decision(
                t, asked.issue, None, asked.actor, asked.roles, asked.calendar, asked.now,
                asked.prior_actors)
            model = _Model(state, self.workflow, decision, asked)
            if self._machine.events[name].trigger(model):
                out.append(name)
        return out

_machines: dict[str, WorkflowMachine] = {}


def machine_for(workflow: Workflow) -> WorkflowMachine:
    """The machine of one workflow version, built once per process."""
    m = _machines.get(workflow.key)
    if m is None or m.workflow is not workflow:
        m = _machines[workflow.key] = WorkflowMachine(workflow)
    return m
