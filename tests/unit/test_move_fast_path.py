"""A move's shortcuts give what the reference paths give: the transition folded into the
issue's values (`evolve`) equals `replace` with `changes`; the fields a transition does not
take, worked out once, are those the set arithmetic names; a Context, an Event and an Issue made
slot by slot (by a twin class) equal the ones their `__init__` makes; the machine's fire table
is compiled for every transition of the workflow (none left to the model)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.domain.calendar import WorkingCalendar
from engine.domain.decide import Context, context_of, decide_move
from engine.domain.events import Event, EventType
from engine.domain.guards import not_taken
from engine.domain.issue import Issue, Move, changes, evolve, replace
from engine.domain.records import slotted
from engine.domain.workflow import FIELDS, Workflow
from engine.statemachine import WorkflowMachine
from tests.unit.support import STAGES, MakeIssue, town

AT = datetime(2020, 10, 9, 2, 0, tzinfo=UTC)
PAYLOADS: list[dict[str, Any]] = [
    {"due_at": "2020-10-13T16:00:00+00:00", "listed_by_village": False,
     "next_escalation_at": "2020-10-12T16:00:00+00:00"},
    {"due_at": None, "listed_by_village": True, "next_escalation_at": None, "note": "好"},
    {"due_at": "2020-10-20T16:00:00+00:00", "listed_by_village": False,
     "next_escalation_at": None, "assignee": "zhang", "plan": "方案", "due": "2020-10-20"},
    {"due_at": "2020-10-20T16:00:00+00:00", "assignee": None, "plan": None},
    {},
]


@pytest.mark.parametrize("state", STAGES)
@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("to_state", ["verified", None])
def test_a_transition_folds_as_replace_with_changes(make_issue: MakeIssue, state: str,
                                                    payload: dict[str, Any],
                                                    to_state: str | None) -> None:
    issue = make_issue(state)
    event = Event(issue_id=issue.id, version=issue.version + 1, type=EventType.TRANSITION,
                  actor="qs1", at=AT, payload=payload, workflow="rectification@9",
                  transition="verify", from_state=state, to_state=to_state)
    want = replace(issue, **changes(event.type, event.version, event.at, event.payload,
                                    event.workflow, event.to_state))
    got = evolve(issue, event)
    assert got == want and repr(got) == repr(want)
    assert all(getattr(got, f.name) is getattr(want, f.name)
               or getattr(got, f.name) == getattr(want, f.name) for f in fields(got))


def test_the_fields_a_transition_does_not_take(workflow: Workflow) -> None:
    for t in workflow.transitions:
        allowed = set(t.requires) | set(t.optional)
        assert not_taken(t) == tuple(f for f in FIELDS if f not in allowed)
        assert not_taken(t) is not_taken(t)  # worked out once


def test_a_context_made_slot_by_slot_is_the_one_init_makes(
        workflow: Workflow, machine: WorkflowMachine, calendar: WorkingCalendar) -> None:
    values = (workflow, machine, calendar, AT, "qs1", frozenset({"assignee"}), True,
              {"rectify": frozenset({"rc2"})})
    made = context_of(values)
    want = Context(*values)
    assert made == want and repr(made) == repr(want)


def test_a_decided_event_is_the_one_init_makes(
        workflow: Workflow, machine: WorkflowMachine, calendar: WorkingCalendar,
        make_issue: MakeIssue) -> None:
    issue = make_issue("found")
    ctx = Context(workflow, machine, calendar, town(2020, 10, 9, 10), "sa1",
                  frozenset({"self_assessment"}))
    got = decide_move(issue, Move(issue.id, "report", note="已核实"), ctx)
    want = Event(issue_id=got.issue_id, version=got.version, type=got.type, actor=got.actor,
                 at=got.at, payload=got.payload, workflow=got.workflow,
                 transition=got.transition, from_state=got.from_state, to_state=got.to_state)
    assert got == want and repr(got) == repr(want)
    assert got.type is EventType.TRANSITION and got.payload["note"] == "已核实"


def test_every_transition_fires_from_the_compiled_table(workflow: Workflow) -> None:
    machine = WorkflowMachine(workflow)
    for t in workflow.transitions:
        for source in t.sources:
            assert machine.compiled(t.name, source), (t.name, source)


def test_a_record_made_by_its_twin_is_the_one_init_makes(make_issue: MakeIssue) -> None:
    """records.slotted: the record its twin class makes is of the class itself, equal, the
    same repr and hash, still frozen; the wrong number of values is refused."""
    issue = make_issue("studied")
    values = [getattr(issue, f.name) for f in fields(issue)]
    made = slotted(Issue)(values)
    assert type(made) is Issue and made == issue
    assert (repr(made), hash(made)) == (repr(issue), hash(issue))
    with pytest.raises(FrozenInstanceError):
        made.title = "x"  # type: ignore[misc]
    for wrong in (values[:-1], [*values, None]):
        with pytest.raises(ValueError):
            slotted(Issue)(wrong)
    assert evolve(made, Event(issue_id=made.id, version=made.version + 1, type="escalated",
                              actor="sys", at=AT, payload={}, workflow=made.workflow)
                  ).version == made.version + 1
