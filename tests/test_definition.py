"""Workflow definitions are checked whole, each problem naming the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.workflow import load, parse
from engine.errors import DefinitionError
from engine.statemachine import machine_for
from workflows import default_path

DEFAULT = default_path().read_text(encoding="utf-8")


def broken(old: str, new: str) -> str:
    assert old in DEFAULT, old
    return DEFAULT.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_the_default_workflow_loads() -> None:
    wf = load(default_path())
    assert wf.key == "rectification@3"
    assert {s.name: s.owners for s in wf.states} == {
        "found": ("finders|added_by",), "reported": ("rectification_leader",),
        "studied": ("assignee",), "rectified": ("quality_supervision_leader",),
        "verified": ("quality_supervision_leader", "party_secretary"), "cleared": (),
        "voided": ()}
    assert [(r.level, r.recipients, r.subjects) for r in wf.ladder.default] == [
        ("reminder", (), ("owners",)),
        ("interview", ("liaison",), ("owners", "owners_secretary")),
        ("accountability", ("party_secretary", "quality_supervision_leader"),
         ("owners", "interviewed"))]
    assert [s.name for s in wf.states] == [
        "found", "reported", "studied", "rectified", "verified", "cleared", "voided"]
    assert {t.name for t in wf.transitions} == {
        "fix", "report", "study", "rectify", "verify", "reject", "clear", "reopen", "void"}
    void = wf.transition("void")
    assert void is not None and void.sources == ("found", "reported") and wf.final == (
        "cleared", "voided")
    deadline = wf.state("reported").deadline
    assert deadline is not None and deadline.working_days == 3
    assert wf.transition("verify") is not None
    assert wf.transition("verify").forbid_actors_of == (  # type: ignore[union-attr]
        "rectify", "fix", "assignee@rectify")


def test_round_trip_through_json_gives_the_same_workflow() -> None:
    from engine.domain.workflow import Workflow

    wf = load(default_path())
    assert Workflow.from_dict(wf.to_dict()) == wf


def test_unknown_state_names_its_line() -> None:
    text = broken("    to: reported\n", "    to: reportd\n")
    with pytest.raises(DefinitionError) as e:
        parse(text, "wf.yaml")
    assert f"wf.yaml:{line_of(text, 'to: reportd')}:" in str(e.value)
    assert "reportd" in str(e.value)


def test_unknown_role_names_its_line() -> None:
    text = broken("roles: [quality_supervision_leader, party_secretary]",
                  "roles: [quality_supervision_leader, mayor]")
    with pytest.raises(DefinitionError) as e:
        parse(text, "wf.yaml")
    assert f"wf.yaml:{line_of(text, 'mayor')}:" in str(e.value)
    assert "mayor" in str(e.value)


def test_unreachable_state() -> None:
    extra = "  - name: archived\n    deadline: {working_days: 1}\n  - name: cleared\n"
    text = broken("  - name: cleared\n", extra)
    with pytest.raises(DefinitionError) as e:
        parse(text, "wf.yaml")
    assert "unreachable" in str(e.value)
    assert f"wf.yaml:{line_of(text, 'name: archived')}:" in str(e.value)


def test_dead_end() -> None:
    # without reject and verify, `rectified` leads nowhere
    text = broken("  - name: verify\n", "  - name: verify_x\n").replace(
        "    from: rectified\n    to: verified\n", "    from: rectified\n    to: rectified\n"
    )
    text = text.replace("  - name: reject\n    label: 退回整改\n    from: rectified\n",
                        "  - name: reject\n    label: 退回整改\n    from: verified\n")
    with pytest.raises(DefinitionError) as e:
        parse(text, "wf.yaml")
    message = str(e.value)
    assert "wf.yaml:" in message
    assert "dead end" in message or "unreachable" in message


def test_bad_deadline() -> None:
    text = broken("deadline: {working_days: 3}", "deadline: {working_days: -2}")
    with pytest.raises(DefinitionError) as e:
        parse(text, "wf.yaml")
    assert f"wf.yaml:{line_of(text, 'working_days: -2')}:" in str(e.value)


def test_unknown_key_and_bad_yaml() -> None:
    with pytest.raises(DefinitionError) as e:
        parse(broken("initial: found", "initial: found\ncolour: red"), "wf.yaml")
    assert "colour" in str(e.value)
    with pytest.raises(DefinitionError) as e:
        parse("states: [", "wf.yaml")
    assert "wf.yaml" in str(e.value)


def test_several_problems_are_counted() -> None:
    text = broken("    to: reported\n", "    to: reportd\n").replace(
        "deadline: {working_days: 5}", "deadline: {working_days: 0}")
    with pytest.raises(DefinitionError) as e:
        parse(text, "wf.yaml")
    message = str(e.value)
    assert "(and 1 more:" in message
    assert "reportd" in message and "not 0" in message
    assert "\n" not in message


def test_missing_file_is_malformed_input(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as e:
        load(tmp_path / "nope.yaml")
    assert e.value.exit_code == 2


def test_one_machine_fires_on_plain_state_names() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from engine.domain.calendar import CalendarData, WorkingCalendar
    from engine.domain.guards import Decision
    from engine.domain.issue import Issue, Move
    from engine.domain.workflow import ROLES
    from engine.errors import InvalidTransition

    wf = load(default_path())
    machine = machine_for(wf)
    assert machine_for(wf) is machine, "one machine per workflow version"
    at = datetime(2020, 9, 30, 2, tzinfo=UTC)
    calendar = WorkingCalendar(CalendarData(), ZoneInfo("Asia/Shanghai"))

    def fire(state: str, transition: str) -> str:
        issue = Issue(id=1, title="t", category="food", village="v", state=state, version=1,
                      created_at=at, created_by="sa1", stage_entered_at=at)
        t = wf.transition(transition)
        assert t is not None
        given = Move(1, transition, reason="r" if "reason" in t.requires else None)
        return machine.fire(Decision(t, issue, given, "x", frozenset(ROLES), calendar, at))

    assert fire("found", "report") == "reported"
    assert fire("rectified", "reject") == "studied"
    with pytest.raises(InvalidTransition) as e:
        fire("found", "verify")
    assert "allowed: fix, report" in str(e.value)
    with pytest.raises(InvalidTransition) as e:
        fire("cleared", "clear")
    assert "allowed: reopen" in str(e.value)


def test_the_packaged_workflow_says_who_is_told_and_who_may_act() -> None:
    wf = load(default_path())
    study, reject = wf.transition("study"), wf.transition("reject")
    assert study is not None and reject is not None
    assert [(n.kind, n.to, n.if_given) for n in study.notify] == [
        ("assignment", ("assignee",), None)]
    assert [(n.kind, n.to, n.if_given) for n in reject.notify] == [
        ("rejection", ("assignee|village_secretary",), None),
        ("assignment", ("assignee",), "assignee")]
    assert wf.action_roles("decide_accountability") == ("party_secretary",)
    assert wf.action_roles("request_extension") == ("assignee|village_secretary",)
    assert wf.action_roles("unheard_of") == ()


@pytest.mark.parametrize(("old", "new", "needle", "says"), [
    ("      - {kind: assignment, to: [assignee]}\n",
     "      - {kind: praise, to: [assignee]}\n", "kind: praise", "unknown notice kind 'praise'"),
    ("      - {kind: assignment, to: [assignee]}\n",
     "      - {kind: assignment, to: [assignee|mayor]}\n", "assignee|mayor",
     "unknown role 'mayor'"),
    ("      - {kind: assignment, to: [assignee], if_given: assignee}\n",
     "      - {kind: assignment, to: [assignee], if_given: colour}\n", "if_given: colour",
     "unknown field 'colour'"),
    ("  decide_accountability: [party_secretary]\n",
     "  decide_fate: [party_secretary]\n", "decide_fate", "unknown action 'decide_fate'"),
    ("  list_village: [party_secretary, quality_supervision_leader]\n",
     "  list_village: [party_secretary, emperor]\n", "emperor", "unknown role 'emperor'"),
])
def test_notices_and_actions_are_checked_with_their_line(old: str, new: str, needle: str,
                                                         says: str) -> None:
    text = broken(old, new)
    with pytest.raises(DefinitionError) as e:
        parse(text, "wf.yaml")
    assert str(e.value).startswith(f"wf.yaml:{line_of(text, needle)}:"), str(e.value)
    assert says in str(e.value)


@pytest.mark.parametrize(("source", "problem"), [
    ("[found, nowhere]", "unknown state 'nowhere'"),
    ("[found, found]", "names each state once"),
    ("[]", "names each state once"),
])
def test_a_transition_from_several_states_names_each_known_state_once(
        source: str, problem: str) -> None:
    text = default_path().read_text(encoding="utf-8").replace(
        "    from: [found, reported]\n    to: voided", f"    from: {source}\n    to: voided")
    with pytest.raises(DefinitionError, match=problem):
        parse(text, "wf.yaml")
