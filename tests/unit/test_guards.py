"""The named conditions of the transitions, each on its own; who may take each action; and
what the state machine offers a person on an issue now."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from engine.domain import guards
from engine.domain.calendar import WorkingCalendar
from engine.domain.guards import Decision, check_due, guards_of, may_act
from engine.domain.issue import Issue, Move
from engine.domain.org import Group, Org
from engine.domain.workflow import Deadline, Workflow
from engine.errors import (
    BadOption,
    DeadlineRefused,
    MissingField,
    NotPermitted,
    SeparationOfDuties,
)
from engine.statemachine import Asked, WorkflowMachine, machine_for
from tests.unit.support import ISSUE_ID, MakeIssue, town

NOW = town(2020, 10, 9, 10)  # Friday after the holiday; the 15th working day after is Oct 29


def _decision(workflow: Workflow, calendar: WorkingCalendar, issue: Issue, transition: str,
              move: Move | None, actor: str = "x", roles: frozenset[str] = frozenset(),
              prior: Mapping[str, frozenset[str]] | None = None,
              now: datetime = NOW) -> Decision:
    t = workflow.transition(transition)
    assert t is not None
    return Decision(t, issue, move, actor, roles, calendar, now, prior or {})


# --- which guards ------------------------------------------------------------------------------
@pytest.mark.parametrize(("transition", "names"), [
    ("fix", ("permitted", "complete")),
    ("report", ("permitted", "complete")),
    ("study", ("permitted", "complete", "within_cap")),
    ("rectify", ("permitted", "complete")),
    ("verify", ("permitted", "complete", "separate")),
    ("reject", ("permitted", "complete", "within_cap")),
    ("clear", ("permitted", "complete")),
    ("reopen", ("permitted", "complete")),
])
def test_guards_of_each_transition(workflow: Workflow, transition: str,
                                   names: tuple[str, ...]) -> None:
    t = workflow.transition(transition)
    assert t is not None
    assert guards_of(t, workflow) == names


def test_the_guards_asked_and_the_guards_checked_when_firing() -> None:
    assert guards.WHO == ("permitted", "separate")
    assert guards.WHAT == ("complete", "within_cap")


# --- permitted ---------------------------------------------------------------------------------
def test_permitted_passes_with_one_of_the_roles(workflow: Workflow, calendar: WorkingCalendar,
                                                make_issue: MakeIssue) -> None:
    issue = make_issue("found")
    for role in ("self_assessment", "rectification", "information_verification"):
        guards.permitted(_decision(workflow, calendar, issue, "report", None, "p",
                                   frozenset({role, "liaison"})))


def test_permitted_refuses_naming_the_roles(workflow: Workflow, calendar: WorkingCalendar,
                                            make_issue: MakeIssue) -> None:
    d = _decision(workflow, calendar, make_issue("verified"), "clear", None, "qs1",
                  frozenset({"quality_supervision"}))
    with pytest.raises(NotPermitted) as err:
        guards.permitted(d)
    assert str(err.value) == (f"qs1 may not clear issue {ISSUE_ID}: needs one of the roles"
                              " quality_supervision_leader, party_secretary")


# --- complete ----------------------------------------------------------------------------------
def test_complete_passes_when_only_asking(workflow: Workflow, calendar: WorkingCalendar,
                                          make_issue: MakeIssue) -> None:
    guards.complete(_decision(workflow, calendar, make_issue("reported"), "study", None))


def test_complete_passes_with_required_and_optional_fields(
        workflow: Workflow, calendar: WorkingCalendar, make_issue: MakeIssue) -> None:
    move = Move(ISSUE_ID, "study", note="n", plan="p", assignee="zhang", due=date(2020, 10, 16))
    guards.complete(_decision(workflow, calendar, make_issue("reported"), "study", move))


@pytest.mark.parametrize(("move", "message"), [
    (Move(ISSUE_ID, "study", assignee="zhang"), "study needs --plan, --due"),
    (Move(ISSUE_ID, "study", plan="   ", assignee="zhang", due=date(2020, 10, 16)),
     "study needs --plan"),  # spaces only count as missing
    (Move(ISSUE_ID, "study", plan="p", assignee="\t\n", due=date(2020, 10, 16)),
     "study needs --assignee"),
])
def test_complete_refuses_a_missing_field(workflow: Workflow, calendar: WorkingCalendar,
                                          make_issue: MakeIssue, move: Move,
                                          message: str) -> None:
    with pytest.raises(MissingField) as err:
        guards.complete(_decision(workflow, calendar, make_issue("reported"), "study", move))
    assert str(err.value) == message


def test_complete_refuses_a_field_not_taken(workflow: Workflow, calendar: WorkingCalendar,
                                            make_issue: MakeIssue) -> None:
    move = Move(ISSUE_ID, "study", plan="p", assignee="zhang", due=date(2020, 10, 16),
                reason="r", evidence=())
    with pytest.raises(BadOption) as err:
        guards.complete(_decision(workflow, calendar, make_issue("reported"), "study", move))
    assert str(err.value) == "study does not take --reason"


# --- separate ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("prior", "fired"), [
    ({"rectify": frozenset({"qs1"})}, "rectify"),
    ({"fix": frozenset({"qs1", "sa1"})}, "fix"),
])
def test_separate_refuses_whoever_rectified(workflow: Workflow, calendar: WorkingCalendar,
                                            make_issue: MakeIssue,
                                            prior: dict[str, frozenset[str]],
                                            fired: str) -> None:
    d = _decision(workflow, calendar, make_issue("rectified"), "verify", None, "qs1",
                  prior=prior)
    with pytest.raises(SeparationOfDuties) as err:
        guards.separate(d)
    assert str(err.value) == f"qs1 may not verify issue {ISSUE_ID}: they fired {fired} on it"


@pytest.mark.parametrize("prior", [
    {},
    {"rectify": frozenset({"qs2", "zhang"})},
    {"report": frozenset({"qs1"}), "reject": frozenset({"qs1"})},  # other transitions
])
def test_separate_passes_everyone_else(workflow: Workflow, calendar: WorkingCalendar,
                                       make_issue: MakeIssue,
                                       prior: dict[str, frozenset[str]]) -> None:
    guards.separate(_decision(workflow, calendar, make_issue("rectified"), "verify", None,
                              "qs1", prior=prior))


# --- within_cap --------------------------------------------------------------------------------
@pytest.mark.parametrize("due", [date(2020, 10, 9), date(2020, 10, 16), date(2020, 10, 29)])
def test_within_cap_passes_from_today_to_the_15th_working_day(
        workflow: Workflow, calendar: WorkingCalendar, make_issue: MakeIssue,
        due: date) -> None:
    move = Move(ISSUE_ID, "study", plan="p", assignee="zhang", due=due)
    guards.within_cap(_decision(workflow, calendar, make_issue("reported"), "study", move),
                      workflow)


@pytest.mark.parametrize(("due", "message"), [
    (date(2020, 10, 8), "due date 2020-10-08 is in the past (today is 2020-10-09)"),
    (date(2020, 10, 30),
     "due date 2020-10-30 is more than 15 working days out (latest 2020-10-29)"),
])
def test_within_cap_refuses(workflow: Workflow, calendar: WorkingCalendar,
                            make_issue: MakeIssue, due: date, message: str) -> None:
    move = Move(ISSUE_ID, "study", plan="p", assignee="zhang", due=due)
    with pytest.raises(DeadlineRefused) as err:
        guards.within_cap(_decision(workflow, calendar, make_issue("reported"), "study", move),
                          workflow)
    assert str(err.value) == message


@pytest.mark.parametrize(("due", "before"), [
    (date(2020, 10, 11), date(2020, 10, 10)),   # a Sunday; the Saturday before is a make-up day
    (date(2020, 10, 17), date(2020, 10, 16)),   # a Saturday
    (date(2020, 10, 18), date(2020, 10, 16)),   # a Sunday
])
def test_within_cap_refuses_a_day_off_naming_the_working_day_before(
        workflow: Workflow, calendar: WorkingCalendar, make_issue: MakeIssue, due: date,
        before: date) -> None:
    for transition, issue in (("study", make_issue("reported")),
                              ("reject", make_issue("rectified"))):
        move = Move(ISSUE_ID, transition, plan="p", assignee="zhang", reason="r", due=due)
        with pytest.raises(DeadlineRefused) as err:
            guards.within_cap(_decision(workflow, calendar, issue, transition, move), workflow)
        assert str(err.value) == (f"due date {due} is not a working day (the working day"
                                  f" before it is {before})")


def test_check_due_without_the_working_day_rule(calendar: WorkingCalendar) -> None:
    """The audit's rule check of events written before the working-day rule."""
    deadline = Deadline(from_field="due", max_working_days=15)
    check_due(calendar, deadline, NOW, date(2020, 10, 17), working_day=False)
    with pytest.raises(DeadlineRefused, match="not a working day"):
        check_due(calendar, deadline, NOW, date(2020, 10, 17))


def test_within_cap_passes_without_a_date(workflow: Workflow, calendar: WorkingCalendar,
                                          make_issue: MakeIssue) -> None:
    rectified = make_issue("rectified")
    guards.within_cap(_decision(workflow, calendar, rectified, "reject", None), workflow)
    guards.within_cap(_decision(workflow, calendar, rectified, "reject",
                                Move(ISSUE_ID, "reject", reason="r")), workflow)


def test_within_cap_counts_today_in_town_time(workflow: Workflow, calendar: WorkingCalendar,
                                              make_issue: MakeIssue) -> None:
    # 2020-10-08 17:00 UTC is already Oct 9 in town: Oct 8 is in the past
    late_utc = datetime.fromisoformat("2020-10-08T17:00:00+00:00")
    move = Move(ISSUE_ID, "reject", reason="r", due=date(2020, 10, 8))
    with pytest.raises(DeadlineRefused, match="in the past"):
        guards.within_cap(_decision(workflow, calendar, make_issue("rectified"), "reject",
                                    move, now=late_utc), workflow)


def test_check_due_without_a_date_field_or_a_cap(calendar: WorkingCalendar) -> None:
    long_ago = date(2000, 1, 1)
    check_due(calendar, None, NOW, long_ago)
    check_due(calendar, Deadline(working_days=3), NOW, long_ago)
    check_due(calendar, Deadline(from_field="due"), NOW, date(2030, 1, 1))  # no cap
    with pytest.raises(DeadlineRefused, match="in the past"):
        check_due(calendar, Deadline(from_field="due"), NOW, long_ago)
    with pytest.raises(DeadlineRefused, match="more than 1 working days out"):
        check_due(calendar, Deadline(from_field="due", max_working_days=1), NOW,
                  date(2020, 10, 12))


# --- actions -----------------------------------------------------------------------------------
def test_the_actions_of_the_packaged_workflow(workflow: Workflow) -> None:
    assert dict(workflow.actions) == {
        "request_extension": ("assignee|village_secretary",),
        "decide_extension": ("liaison", "party_secretary"),
        "record_interview": ("liaison", "party_secretary"),
        "decide_accountability": ("party_secretary",),
        "list_village": ("party_secretary", "quality_supervision_leader"),
        "reassign": ("rectification_leader", "party_secretary"),
        "edit": ("rectification_leader", "information_verification", "party_secretary"),
    }


@pytest.mark.parametrize(("action", "person", "village", "assignee", "allowed"), [
    # request_extension: the assignee, else the village secretary
    ("request_extension", "zhang", "v-shiban", "zhang", True),
    ("request_extension", "chen", "v-shiban", "zhang", False),
    ("request_extension", "chen", "v-shiban", None, True),
    ("request_extension", "zhou", "v-shiban", None, False),  # another unit's secretary
    ("request_extension", "zhou", "c-jiezi", None, True),
    ("request_extension", "wang", "v-shiban", None, False),
    ("request_extension", "rc1", "v-shiban", "zhang", False),
    # decide_extension and record_interview: the liaison or the party secretary
    ("decide_extension", "liu", "v-shiban", "zhang", True),
    ("decide_extension", "liu", "c-jiezi", None, True),
    ("decide_extension", "wang", "c-jiezi", None, True),
    ("decide_extension", "chen", "v-shiban", None, False),
    ("decide_extension", "zhang", "v-shiban", "zhang", False),
    ("record_interview", "liu", "v-shiban", None, True),
    ("record_interview", "wang", "v-shiban", None, True),
    ("record_interview", "qs1", "v-shiban", None, False),
    ("record_interview", "chen", "v-shiban", None, False),
    # decide_accountability: the party secretary only
    ("decide_accountability", "wang", "v-shiban", None, True),
    ("decide_accountability", "liu", "v-shiban", None, False),
    ("decide_accountability", "qs1", "v-shiban", None, False),
])
def test_may_act_on_an_issue(org: Org, workflow: Workflow, action: str, person: str,
                             village: str, assignee: str | None, allowed: bool) -> None:
    if allowed:
        may_act(org, workflow, action, person, village, assignee)
    else:
        with pytest.raises(NotPermitted, match=f"^{person} may not {action.replace('_', ' ')}:"):
            may_act(org, workflow, action, person, village, assignee)


@pytest.mark.parametrize(("action", "who"), [
    ("request_extension", "assignee (else village_secretary) may"),
    ("decide_extension", "liaison or party_secretary may"),
    ("decide_accountability", "party_secretary may"),
])
def test_may_act_says_who_may(org: Org, workflow: Workflow, action: str, who: str) -> None:
    with pytest.raises(NotPermitted) as err:
        may_act(org, workflow, action, "wu", "v-shiban", "zhang")
    assert str(err.value) == f"wu may not {action.replace('_', ' ')}: {who}"


@pytest.mark.parametrize(("person", "allowed"), [
    ("wang", True),   # party secretary (and the quality-supervision leader)
    ("qs1", False),   # a member, not the leader
    ("liu", False),   # a liaison leader is no town-wide role
    ("sa1", False),   # another group's leader
    ("wu", False),
])
def test_list_village_is_town_wide(org: Org, workflow: Workflow, person: str,
                                   allowed: bool) -> None:
    if allowed:
        may_act(org, workflow, "list_village", person, None, None)
    else:
        with pytest.raises(NotPermitted) as err:
            may_act(org, workflow, "list_village", person, None, None)
        assert str(err.value) == (f"{person} may not list village: party_secretary or"
                                  " quality_supervision_leader may")


def test_a_quality_supervision_leader_who_is_not_party_secretary_may_list(
        org: Org, workflow: Workflow) -> None:
    groups = {**org.groups, "qs": Group("qs", "quality_supervision", "qs1", ("qs1", "qs2"))}
    may_act(replace(org, groups=groups), workflow, "list_village", "qs1", None, None)


def test_an_action_the_workflow_does_not_name_nobody_may(org: Org, workflow: Workflow) -> None:
    bare = replace(workflow, actions={})
    with pytest.raises(NotPermitted) as err:
        may_act(org, bare, "decide_accountability", "wang", "v-shiban", None)
    assert str(err.value) == "wang may not decide accountability: nobody may"


# --- what the machine offers ---------------------------------------------------------------------
ASKED_AT = town(2020, 10, 9, 10)
"""When the person asks (before the open stages' due moment, DUE)."""
DUE = town(2020, 10, 13)


def _offered(machine: WorkflowMachine, org: Org, calendar: WorkingCalendar, issue: Issue,
             actor: str, prior: Mapping[str, frozenset[str]] | None = None,
             now: datetime = ASKED_AT) -> list[str]:
    if issue.due_at is None and issue.state != "cleared":
        issue = replace(issue, due_at=DUE)  # an open stage has a due moment
    roles = org.roles_for_issue(actor, issue.village, issue.assignee)
    return machine.permitted(Asked(issue, actor, roles, org, calendar, prior or {}, now))


@pytest.mark.parametrize(("state", "actor", "offered"), [
    ("found", "sa1", ["fix", "report"]),
    ("found", "rc2", ["report"]),
    ("found", "iv1", ["report", "void", "edit"]),  # information verification may void, edit
    ("found", "chen", ["request_extension"]),  # no assignee yet: the village secretary
    ("found", "liu", ["decide_extension", "record_interview"]),
    ("reported", "rc1", ["study", "void", "edit"]),  # as may the rectification group leader
    ("reported", "sa1", []),
    ("studied", "zhang", ["rectify", "request_extension"]),  # the assignee
    ("studied", "rc2", ["rectify"]),
    ("studied", "chen", []),  # the assignee asks for extensions, not the secretary
    ("rectified", "qs2", ["verify", "reject"]),
    ("rectified", "wang", ["verify", "reject", "decide_extension", "record_interview",
                           "decide_accountability", "reassign", "edit"]),
    ("verified", "wang", ["clear", "decide_extension", "record_interview",
                          "decide_accountability", "edit"]),  # no reassign once verified
    ("verified", "qs1", []),
    ("cleared", "qs1", ["reopen"]),
    ("cleared", "iv1", ["reopen"]),
    ("cleared", "wang", ["reopen"]),  # no actions on a closed issue
    ("cleared", "liu", []),
])
def test_permitted_offers(machine: WorkflowMachine, org: Org, calendar: WorkingCalendar,
                          make_issue: MakeIssue, state: str, actor: str,
                          offered: list[str]) -> None:
    assert _offered(machine, org, calendar, make_issue(state), actor) == offered


@pytest.mark.parametrize("state", ["found", "reported", "studied", "rectified", "verified",
                                   "cleared"])
def test_a_stranger_is_offered_nothing(machine: WorkflowMachine, org: Org,
                                       calendar: WorkingCalendar, make_issue: MakeIssue,
                                       state: str) -> None:
    assert _offered(machine, org, calendar, make_issue(state), "wu") == []
    assert _offered(machine, org, calendar, make_issue(state), "nobody") == []


def test_whoever_rectified_is_not_offered_verify(machine: WorkflowMachine, org: Org,
                                                 calendar: WorkingCalendar,
                                                 make_issue: MakeIssue) -> None:
    rectified = make_issue("rectified")
    assert _offered(machine, org, calendar, rectified, "qs1",
                    {"rectify": frozenset({"qs1"})}) == ["reject"]
    assert _offered(machine, org, calendar, rectified, "qs1",
                    {"fix": frozenset({"qs1"})}) == ["reject"]
    assert _offered(machine, org, calendar, rectified, "qs2",
                    {"rectify": frozenset({"qs1"})}) == ["verify", "reject"]


def test_the_secretary_asks_for_extensions_when_there_is_no_assignee(
        machine: WorkflowMachine, org: Org, calendar: WorkingCalendar,
        make_issue: MakeIssue) -> None:
    unassigned = make_issue("studied", assignee=None)
    assert _offered(machine, org, calendar, unassigned, "chen") == ["request_extension"]
    assert _offered(machine, org, calendar, unassigned, "zhang") == []


def test_machine_for_builds_one_machine_per_workflow(workflow: Workflow) -> None:
    assert machine_for(workflow) is machine_for(workflow)
    assert machine_for(workflow).workflow is workflow


def test_more_time_is_offered_only_before_the_due_moment(
        machine: WorkflowMachine, org: Org, calendar: WorkingCalendar,
        make_issue: MakeIssue) -> None:
    studied = make_issue("studied")
    assert "request_extension" in _offered(machine, org, calendar, studied, "zhang")
    assert _offered(machine, org, calendar, studied, "zhang", now=DUE) == ["rectify"]
    assert _offered(machine, org, calendar, studied, "zhang",
                    now=DUE - timedelta(microseconds=1)) == ["rectify", "request_extension"]
