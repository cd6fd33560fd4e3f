"""The machine fires a move from its compiled table as the library's own events would: the
same new state, or the same refusal, for every transition from every state, with moves that
pass the guards and moves that each guard refuses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from engine.domain.calendar import WorkingCalendar
from engine.domain.events import Evidence
from engine.domain.guards import Decision
from engine.domain.issue import Move
from engine.domain.workflow import Workflow
from engine.errors import RectifyError
from engine.statemachine import WorkflowMachine
from tests.unit.support import ISSUE_ID, STAGES, MakeIssue, town

NOW = town(2020, 10, 9, 10)
ROLES = frozenset({"self_assessment", "rectification", "rectification_leader",
                   "quality_supervision", "quality_supervision_leader", "party_secretary",
                   "information_verification", "assignee"})


def _outcome(fire: Callable[[Decision], str], decision: Decision) -> tuple[str, str]:
    try:
        return "moved", fire(decision)
    except RectifyError as e:
        return type(e).__name__, str(e)


@pytest.mark.parametrize("state", [*STAGES, "voided"])
@pytest.mark.parametrize("given", ["all", "nothing", "stranger", "rectifier"])
def test_table_fires_as_the_events_do(workflow: Workflow, machine: WorkflowMachine,
                                      calendar: WorkingCalendar, make_issue: MakeIssue,
                                      state: str, given: str) -> None:
    issue = make_issue(state)
    for t in workflow.transitions:
        move = Move(issue_id=ISSUE_ID, transition=t.name)
        if given != "nothing":
            move = _with_fields(Move(issue_id=ISSUE_ID, transition=t.name, note="好",
                                     plan="方案", assignee="zhang", due=date(2020, 10, 20),
                                     reason="因为"), t.requires + t.optional)
        roles = frozenset() if given == "stranger" else ROLES
        prior = {"rectify": frozenset({"qs1"})} if given == "rectifier" else {}
        decision = Decision(t, issue, move, "qs1", roles, calendar, NOW, prior)
        assert _outcome(machine.fire, decision) == _outcome(machine.fire_by_events, decision), (
            t.name, state, given)


def _with_fields(move: Move, fields: tuple[str, ...]) -> Move:
    """The move with only the fields the transition takes (evidence: one file)."""
    keep = {f: getattr(move, f) for f in ("note", "plan", "assignee", "due", "reason")
            if f in fields}
    evidence = (Evidence(sha256="0" * 64, name="a.jpg", size=1),) if "evidence" in fields else ()
    return replace(Move(issue_id=move.issue_id, transition=move.transition), **keep,
                   evidence=evidence)
