"""The only importer of `transitions`: one Machine per workflow version, fired on a light holder.

The machine knows states and transitions only. Roles, fields and deadlines are the domain's
(`engine.domain.issue.decide_move`), and side effects belong to the service: no callbacks here.
"""

from __future__ import annotations

from transitions import Machine, MachineError

from engine.domain.issue import Fire
from engine.domain.workflow import Workflow
from engine.errors import InvalidTransition


class _Holder:
    """What the machine fires on: just a state name, never an ORM row."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


class WorkflowMachine:
    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self._machine = Machine(
            model=None,
            states=[s.name for s in workflow.states],
            transitions=[
                {"trigger": t.name, "source": t.source, "dest": t.dest}
                for t in workflow.transitions
            ],
            initial=workflow.initial,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        self._fired: dict[tuple[str, str], str] = {}

    def fire(self, state: str, transition: str) -> str:
        """The state after `transition` from `state`; InvalidTransition names the allowed.

        The machine has no conditions or callbacks, so its answer for (state, transition) never
        changes: it is asked once and remembered (a dict lookup instead of ~17 µs per move).
        """
        key = (state, transition)
        dest = self._fired.get(key)
        if dest is None:
            dest = self._fired[key] = self._fire(state, transition)
        return dest

    def _fire(self, state: str, transition: str) -> str:
        event = self._machine.events.get(transition)
        holder = _Holder(state)
        try:
            if event is None or not event.trigger(holder):
                raise MachineError(transition)
        except MachineError:
            allowed = self._machine.get_triggers(state)
            names = ", ".join(allowed) if allowed else "none: the issue is closed"
            raise InvalidTransition(
                f"cannot {transition} an issue in state {state!r}; allowed: {names}"
            ) from None
        return holder.state


_machines: dict[str, WorkflowMachine] = {}


def machine_for(workflow: Workflow) -> Fire:
    """The machine of one workflow version, built once per process."""
    m = _machines.get(workflow.key)
    if m is None or m.workflow is not workflow:
        m = _machines[workflow.key] = WorkflowMachine(workflow)
    return m.fire
