"""Deciding through the real state machine: the first event of an issue, each move and each
refusal, the payload written, and folding (`evolve`, `changes`, `created_fields`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import pytest

from engine.domain.audit import Replay
from engine.domain.calendar import WorkingCalendar
from engine.domain.decide import Context, Entry, created_event, decide_move, fact_event
from engine.domain.events import (
    Escalated,
    Event,
    EventType,
    Evidence,
    ExtensionDecided,
    VillageListing,
)
from engine.domain.issue import (
    Issue,
    Move,
    NewIssue,
    changes,
    check_new_issue,
    created_fields,
    evolve,
    fold,
)
from engine.domain.ladder import Ladder, Rung
from engine.domain.org import Org
from engine.domain.workflow import Workflow
from engine.errors import (
    BadOption,
    DeadlineRefused,
    InvalidTransition,
    MissingField,
    NotPermitted,
    Refused,
    SeparationOfDuties,
    VersionConflict,
)
from engine.statemachine import WorkflowMachine
from tests.unit.support import ISSUE_ID, WORKFLOW_KEY, MakeIssue, context, town, utc

NOW = town(2020, 10, 9, 10)  # Friday after the holiday; the 15th working day after is Oct 29
PHOTO = Evidence(sha256="cd" * 32, name="修好了.jpg", size=1024)
NEW = NewIssue(title="自来水管漏水", category="drinking_water", village="v-shiban",
               household="张三")


@dataclass
class Decider:
    """Decides as `actor` at `now`, with the roles the org gives them for the issue."""

    workflow: Workflow
    machine: WorkflowMachine
    calendar: WorkingCalendar
    org: Org

    def ctx(self, issue: Issue, actor: str, now: datetime = NOW,
            prior: Mapping[str, frozenset[str]] | None = None,
            village_listed: bool = False) -> Context:
        return context(self.workflow, self.machine, self.calendar, self.org, issue, actor, now,
                       prior, village_listed)

    def move(self, issue: Issue, actor: str, transition: str, now: datetime = NOW,
             prior: Mapping[str, frozenset[str]] | None = None, village_listed: bool = False,
             superseded: tuple[tuple[int, ...], tuple[int, ...]] = ((), ()),
             **given: Any) -> Event:
        return decide_move(issue, Move(issue.id, transition, **given),
                           self.ctx(issue, actor, now, prior, village_listed), superseded)

    def create(self, actor: str, now: datetime, new: NewIssue = NEW, entry: Entry | None = None,
               village_listed: bool = False) -> Event:
        ctx = Context(self.workflow, self.machine, self.calendar, now, actor,
                      self.org.roles_of(actor))
        return created_event(ISSUE_ID, new, ctx, entry, village_listed)


@pytest.fixture
def decider(workflow: Workflow, machine: WorkflowMachine, calendar: WorkingCalendar,
            org: Org) -> Decider:
    return Decider(workflow, machine, calendar, org)


# --- the first event -----------------------------------------------------------------------------
def test_created_event(decider: Decider) -> None:
    event = decider.create("sa1", town(2020, 9, 30, 10))
    assert (event.issue_id, event.version, event.type, event.actor, event.at) == (
        ISSUE_ID, 1, "created", "sa1", town(2020, 9, 30, 10))
    assert (event.transition, event.from_state, event.to_state) == (None, None, "found")
    assert event.workflow == WORKFLOW_KEY
    # found: 1 working day after Sep 30 is Oct 9 → due at its end; the reminder at its start
    assert event.payload == {
        "title": "自来水管漏水", "category": "drinking_water", "village": "v-shiban",
        "description": None, "group": None, "household": "张三", "severity": "medium",
        "listed": False, "due_at": "2020-10-09T16:00:00+00:00",
        "next_escalation_at": "2020-10-08T16:00:00+00:00"}


def test_created_in_a_listed_village(decider: Decider) -> None:
    event = decider.create("sa1", NOW, new=replace(NEW, listed=True), village_listed=True)
    assert event.payload["listed"] is True
    assert event.payload["listed_by_village"] is True
    issue = evolve(None, event)
    assert issue.listed and issue.listed_by_village and issue.supervised


def test_created_folds_into_the_issue(decider: Decider) -> None:
    issue = evolve(None, decider.create("sa1", town(2020, 9, 30, 10)))
    assert issue == Issue(
        id=ISSUE_ID, title="自来水管漏水", category="drinking_water", village="v-shiban",
        state="found", version=1, created_at=town(2020, 9, 30, 10), created_by="sa1",
        stage_entered_at=town(2020, 9, 30, 10), household="张三", severity="medium",
        due_at=town(2020, 10, 10), workflow=WORKFLOW_KEY, stage_version=1,
        next_escalation_at=town(2020, 10, 9))


def test_imported_event_enters_the_ledgers_stage(decider: Decider) -> None:
    entry = Entry(state="studied", entered_at=utc(2020, 9, 30, 2), assignee="zhang")
    event = decider.create("sa1", NOW, entry=entry)
    assert (event.type, event.to_state, event.version, event.at) == (
        "imported", "studied", 1, NOW)
    # studied without a due date: 5 working days from entry (Oct 9, 10, 12, 13, 14)
    assert event.payload == {
        "title": "自来水管漏水", "category": "drinking_water", "village": "v-shiban",
        "description": None, "group": None, "household": "张三", "severity": "medium",
        "listed": False, "due_at": "2020-10-14T16:00:00+00:00",
        "next_escalation_at": "2020-10-13T16:00:00+00:00",
        "entered_at": "2020-09-30T02:00:00+00:00", "assignee": "zhang"}
    issue = evolve(None, event)
    assert (issue.state, issue.assignee, issue.plan) == ("studied", "zhang", None)
    assert issue.stage_entered_at == utc(2020, 9, 30, 2)
    assert issue.created_at == NOW
    assert issue.due_at == town(2020, 10, 15)


@pytest.mark.parametrize("due", [date(2020, 12, 31), date(2020, 9, 1)])
def test_an_imported_due_date_is_taken_without_limits(decider: Decider, due: date) -> None:
    entry = Entry(state="reported", entered_at=utc(2020, 9, 30, 2), due=due)
    event = decider.create("sa1", NOW, entry=entry)
    assert event.payload["due_at"] == decider.calendar.end_of(due).isoformat()


def test_an_imported_cleared_issue_has_no_deadline(decider: Decider) -> None:
    entry = Entry(state="cleared", entered_at=utc(2020, 9, 30, 2))
    event = decider.create("sa1", NOW, entry=entry)
    assert event.payload["due_at"] is None
    assert event.payload["next_escalation_at"] is None


def test_an_imported_cleared_issue_with_a_due_cell_has_no_deadline(decider: Decider) -> None:
    entry = Entry(state="cleared", entered_at=utc(2020, 9, 30, 2), due=date(2020, 10, 20))
    event = decider.create("sa1", NOW, entry=entry)
    assert event.payload["due_at"] is None
    assert event.payload["next_escalation_at"] is None


# --- moves ---------------------------------------------------------------------------------------
def test_report(decider: Decider, make_issue: MakeIssue) -> None:
    found = make_issue("found", version=1)
    event = decider.move(found, "sa1", "report", now=town(2020, 9, 30, 10), note="   ")
    assert (event.issue_id, event.version, event.type, event.actor, event.at) == (
        ISSUE_ID, 2, "transition", "sa1", town(2020, 9, 30, 10))
    assert (event.transition, event.from_state, event.to_state) == ("report", "found",
                                                                    "reported")
    assert event.workflow == WORKFLOW_KEY
    # the worked example: due at 2020-10-13 00:00 town time; the reminder at 10-12 00:00;
    # a note of spaces only is not written
    assert event.payload == {"due_at": "2020-10-12T16:00:00+00:00", "listed_by_village": False,
                             "next_escalation_at": "2020-10-11T16:00:00+00:00"}


def test_study_writes_exactly_what_was_given(decider: Decider, make_issue: MakeIssue) -> None:
    reported = make_issue("reported")
    event = decider.move(reported, "rc1", "study", note="会商", plan="更换水管",
                         assignee="zhang", due=date(2020, 10, 16))
    assert event.payload == {
        "note": "会商", "plan": "更换水管", "assignee": "zhang", "due": "2020-10-16",
        "due_at": "2020-10-16T16:00:00+00:00", "listed_by_village": False,
        "next_escalation_at": "2020-10-15T16:00:00+00:00"}
    assert evolve(reported, event) == replace(
        reported, state="studied", version=3, stage_version=3, stage_entered_at=NOW,
        assignee="zhang", plan="更换水管", due_at=town(2020, 10, 17),
        next_escalation_at=town(2020, 10, 16))


def test_reject_without_a_date_gives_five_working_days(decider: Decider,
                                                       make_issue: MakeIssue) -> None:
    rectified = make_issue("rectified")
    event = decider.move(rectified, "qs1", "reject", reason="未修好")
    # Oct 10 (make-up), 12, 13, 14, 15 → the end of Oct 15
    assert event.payload == {"reason": "未修好", "due_at": "2020-10-15T16:00:00+00:00",
                             "listed_by_village": False,
                             "next_escalation_at": "2020-10-14T16:00:00+00:00"}
    after = evolve(rectified, event)
    assert (after.state, after.assignee, after.plan) == ("studied", "zhang", "更换水管")


def test_reject_with_a_new_assignee_and_date(decider: Decider, make_issue: MakeIssue) -> None:
    rectified = make_issue("rectified")
    event = decider.move(rectified, "qs1", "reject", reason="未修好", assignee="rc2",
                         due=date(2020, 10, 20))
    assert event.payload == {"reason": "未修好", "assignee": "rc2", "due": "2020-10-20",
                             "due_at": "2020-10-20T16:00:00+00:00",
                             "listed_by_village": False,
                             "next_escalation_at": "2020-10-19T16:00:00+00:00"}
    after = evolve(rectified, event)
    assert (after.assignee, after.plan, after.due_at) == ("rc2", "更换水管", town(2020, 10, 21))


def test_clear_ends_the_deadline_and_the_ladder(decider: Decider, make_issue: MakeIssue) -> None:
    verified = make_issue("verified", due_at=town(2020, 10, 13),
                          next_escalation_at=town(2020, 10, 12))
    event = decider.move(verified, "wang", "clear")
    assert event.payload == {"due_at": None, "listed_by_village": False,
                             "next_escalation_at": None}
    after = evolve(verified, event)
    assert (after.state, after.due_at, after.next_escalation_at) == ("cleared", None, None)


def test_a_move_follows_the_villages_listing(decider: Decider, make_issue: MakeIssue) -> None:
    listed = make_issue("rectified", listed_by_village=True)
    event = decider.move(listed, "qs1", "reject", reason="r", village_listed=False)
    assert event.payload["listed_by_village"] is False
    assert evolve(listed, event).listed_by_village is False
    event = decider.move(make_issue("cleared"), "iv1", "reopen", reason="回头看",
                         village_listed=True)
    assert event.payload["listed_by_village"] is True
    assert evolve(make_issue("cleared"), event).supervised is True


@pytest.mark.parametrize(("listed", "village_listed", "pointer"), [
    (False, False, town(2020, 10, 12)),  # the default ladder: reminder −1
    (True, False, town(2020, 10, 9)),    # the issue listed: reminder −3
    (False, True, town(2020, 10, 9)),    # its village listed
])
def test_the_pointer_follows_the_ladder_that_applies(
        decider: Decider, make_issue: MakeIssue, listed: bool, village_listed: bool,
        pointer: datetime) -> None:
    ladder = Ladder(default=(Rung("reminder", -1, ("assignee",)),),
                    listed=(Rung("reminder", -3, ("assignee",)),))
    wf = replace(decider.workflow, ladder=ladder)
    found = make_issue("found", version=1, listed=listed)
    ctx = replace(decider.ctx(found, "sa1", town(2020, 9, 30, 10),
                              village_listed=village_listed), workflow=wf)
    event = decide_move(found, Move(ISSUE_ID, "report"), ctx)
    assert datetime.fromisoformat(event.payload["due_at"]) == town(2020, 10, 13)
    assert datetime.fromisoformat(event.payload["next_escalation_at"]) == pointer


def test_superseded_escalations_and_extensions_are_recorded(decider: Decider,
                                                            make_issue: MakeIssue) -> None:
    rectified = make_issue("rectified", version=9, stage_version=4)
    event = decider.move(rectified, "qs2", "verify", note="合格",
                         superseded=((11, 12), (4,)))
    assert event.payload["superseded_escalations"] == [11, 12]
    assert event.payload["superseded_extensions"] == [4]
    event = decider.move(rectified, "qs2", "verify", note="合格", superseded=((), (4,)))
    assert event.payload["superseded_escalations"] == []
    event = decider.move(rectified, "qs2", "verify", note="合格")
    assert "superseded_escalations" not in event.payload
    assert "superseded_extensions" not in event.payload


def test_evidence_is_written_by_name_size_and_hash(decider: Decider,
                                                   make_issue: MakeIssue) -> None:
    event = decider.move(make_issue("studied"), "zhang", "rectify", note="已更换",
                         evidence=(PHOTO,))
    assert event.payload["evidence"] == [{"sha256": "cd" * 32, "name": "修好了.jpg",
                                          "size": 1024}]
    assert event.payload["note"] == "已更换"


def test_a_whole_life_folds_into_the_issue_the_events_say(decider: Decider) -> None:
    created = decider.create("sa1", town(2020, 9, 30, 10))
    events = [created]
    issue = evolve(None, created)

    def step(actor: str, transition: str, at: datetime,
             prior: Mapping[str, frozenset[str]] | None = None, **given: Any) -> None:
        nonlocal issue
        event = decider.move(issue, actor, transition, now=at, prior=prior, **given)
        events.append(event)
        issue = evolve(issue, event)

    step("sa1", "report", town(2020, 9, 30, 11))
    assert (issue.state, issue.version, issue.due_at) == ("reported", 2, town(2020, 10, 13))
    step("rc1", "study", NOW, plan="更换水管", assignee="zhang", due=date(2020, 10, 16))
    step("zhang", "rectify", town(2020, 10, 12, 9), note="已更换", evidence=(PHOTO,))
    assert (issue.state, issue.due_at) == ("rectified", town(2020, 10, 20))  # 13,14,15,16,19
    step("qs1", "verify", town(2020, 10, 13, 9), prior={"rectify": frozenset({"zhang"})},
         note="合格")
    assert (issue.state, issue.due_at) == ("verified", town(2020, 10, 16))  # 14, 15
    step("wang", "clear", town(2020, 10, 14, 9))
    assert fold(events) == issue == Issue(
        id=ISSUE_ID, title="自来水管漏水", category="drinking_water", village="v-shiban",
        state="cleared", version=6, created_at=town(2020, 9, 30, 10), created_by="sa1",
        stage_entered_at=town(2020, 10, 14, 9), household="张三", assignee="zhang",
        plan="更换水管", due_at=None, workflow=WORKFLOW_KEY, stage_version=6,
        next_escalation_at=None)
    assert [e.version for e in events] == [1, 2, 3, 4, 5, 6]

    # the audit's replay folds the same history through the same rule
    replay = Replay()
    for e in events:
        replay.apply(e)
    assert replay.issue == issue


def test_evolve_needs_a_first_event(decider: Decider, make_issue: MakeIssue) -> None:
    event = decider.move(make_issue("found", version=1), "sa1", "report")
    with pytest.raises(ValueError, match="event transition before the issue was created"):
        evolve(None, event)


# --- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("state", "transition", "actor", "message"), [
    ("found", "verify", "qs1",
     "cannot verify an issue in state 'found'; allowed: fix, report, void"),
    ("studied", "study", "rc1", "cannot study an issue in state 'studied'; allowed: rectify"),
    ("cleared", "clear", "wang", "cannot clear an issue in state 'cleared'; allowed: reopen"),
    ("found", "approve", "sa1",
     "unknown transition 'approve' for an issue in state 'found'; allowed: fix, report, void"),
    ("studied", "request_extension", "zhang",  # an action is not a transition
     "unknown transition 'request_extension' for an issue in state 'studied'; allowed: rectify"),
])
def test_invalid_transition_names_the_allowed_ones(decider: Decider, make_issue: MakeIssue,
                                                   state: str, transition: str, actor: str,
                                                   message: str) -> None:
    with pytest.raises(InvalidTransition) as err:
        decider.move(make_issue(state), actor, transition, note="n")
    assert str(err.value) == message


def test_not_permitted(decider: Decider, make_issue: MakeIssue) -> None:
    with pytest.raises(NotPermitted) as err:
        decider.move(make_issue("found"), "rc1", "fix", note="n", evidence=(PHOTO,))
    assert str(err.value) == (f"rc1 may not fix issue {ISSUE_ID}: needs one of the roles"
                              " self_assessment")


def test_the_role_is_checked_before_the_fields(decider: Decider, make_issue: MakeIssue) -> None:
    with pytest.raises(NotPermitted):
        decider.move(make_issue("found"), "wu", "fix")


def test_roles_are_those_for_the_issue(decider: Decider, make_issue: MakeIssue) -> None:
    studied = make_issue("studied")
    event = decider.move(studied, "zhang", "rectify", note="n", evidence=(PHOTO,))
    assert event.to_state == "rectified"
    with pytest.raises(NotPermitted, match="needs one of the roles assignee, rectification"):
        decider.move(replace(studied, assignee="chen"), "zhang", "rectify", note="n",
                     evidence=(PHOTO,))


@pytest.mark.parametrize(("transition", "state", "actor", "given", "message"), [
    ("fix", "found", "sa1", {"note": "n"}, "fix needs --evidence"),
    ("fix", "found", "sa1", {"note": "  ", "evidence": (PHOTO,)}, "fix needs --note"),
    ("study", "reported", "rc1", {"assignee": "zhang"}, "study needs --plan, --due"),
    ("verify", "rectified", "qs1", {}, "verify needs --note"),
    ("reject", "rectified", "qs1", {"reason": "\n"}, "reject needs --reason"),
    ("reopen", "cleared", "iv1", {"note": "n"}, "reopen needs --reason"),
])
def test_missing_field(decider: Decider, make_issue: MakeIssue, transition: str, state: str,
                       actor: str, given: dict[str, Any], message: str) -> None:
    with pytest.raises(MissingField) as err:
        decider.move(make_issue(state), actor, transition, **given)
    assert str(err.value) == message


@pytest.mark.parametrize(("transition", "state", "actor", "given", "message"), [
    ("report", "found", "sa1", {"plan": "p"}, "report does not take --plan"),
    ("rectify", "studied", "zhang", {"note": "n", "evidence": (PHOTO,),
                                     "due": date(2020, 10, 16)}, "rectify does not take --due"),
    ("verify", "rectified", "qs1", {"note": "n", "assignee": "rc2", "reason": "r"},
     "verify does not take --assignee, --reason"),
    ("clear", "verified", "wang", {"evidence": (PHOTO,)}, "clear does not take --evidence"),
])
def test_a_field_not_taken_is_refused(decider: Decider, make_issue: MakeIssue,
                                      transition: str, state: str, actor: str,
                                      given: dict[str, Any], message: str) -> None:
    with pytest.raises(BadOption) as err:
        decider.move(make_issue(state), actor, transition, **given)
    assert str(err.value) == message


def test_a_blank_assignee_is_not_written(decider: Decider, make_issue: MakeIssue) -> None:
    rectified = make_issue("rectified")
    event = decider.move(rectified, "qs2", "verify", note="合格", assignee="  ")
    assert "assignee" not in event.payload
    assert evolve(rectified, event).assignee == "zhang"


@pytest.mark.parametrize(("prior", "fired"), [
    ({"rectify": frozenset({"qs1"})}, "rectify"),
    ({"fix": frozenset({"qs1"}), "rectify": frozenset({"zhang"})}, "fix"),
])
def test_separation_of_duties(decider: Decider, make_issue: MakeIssue,
                              prior: dict[str, frozenset[str]], fired: str) -> None:
    rectified = make_issue("rectified")
    with pytest.raises(SeparationOfDuties) as err:
        decider.move(rectified, "qs1", "verify", prior=prior, note="合格")
    assert str(err.value) == f"qs1 may not verify issue {ISSUE_ID}: they fired {fired} on it"
    # the fields are checked first; someone else may verify; rejecting is not forbidden
    with pytest.raises(MissingField):
        decider.move(rectified, "qs1", "verify", prior=prior)
    assert decider.move(rectified, "qs2", "verify", prior=prior, note="合格").to_state == (
        "verified")
    assert decider.move(rectified, "qs1", "reject", prior=prior, reason="r").to_state == (
        "studied")


@pytest.mark.parametrize(("transition", "state", "actor", "given", "message"), [
    ("study", "reported", "rc1", {"plan": "p", "assignee": "zhang", "due": date(2020, 10, 8)},
     "due date 2020-10-08 is in the past (today is 2020-10-09)"),
    ("study", "reported", "rc1", {"plan": "p", "assignee": "zhang", "due": date(2020, 10, 30)},
     "due date 2020-10-30 is more than 15 working days out (latest 2020-10-29)"),
    ("reject", "rectified", "qs1", {"reason": "r", "due": date(2020, 9, 30)},
     "due date 2020-09-30 is in the past (today is 2020-10-09)"),
    ("reject", "rectified", "qs1", {"reason": "r", "due": date(2020, 11, 2)},
     "due date 2020-11-02 is more than 15 working days out (latest 2020-10-29)"),
])
def test_deadline_refused(decider: Decider, make_issue: MakeIssue, transition: str, state: str,
                          actor: str, given: dict[str, Any], message: str) -> None:
    with pytest.raises(DeadlineRefused) as err:
        decider.move(make_issue(state), actor, transition, **given)
    assert str(err.value) == message


@pytest.mark.parametrize("due", [date(2020, 10, 9), date(2020, 10, 29)])
def test_a_due_date_from_today_to_the_cap_is_taken(decider: Decider, make_issue: MakeIssue,
                                                   due: date) -> None:
    event = decider.move(make_issue("reported"), "rc1", "study", plan="p", assignee="zhang",
                         due=due)
    assert event.payload["due_at"] == decider.calendar.end_of(due).isoformat()


def test_version_conflict(decider: Decider, make_issue: MakeIssue) -> None:
    reported = make_issue("reported")
    with pytest.raises(VersionConflict) as err:
        decider.move(reported, "rc1", "study", expect_version=1)
    assert str(err.value) == f"issue {ISSUE_ID} is at version 2, not 1"
    # checked before anything else, even an unknown transition
    with pytest.raises(VersionConflict):
        decider.move(reported, "wu", "nonsense", expect_version=3, note="\x00")
    event = decider.move(reported, "rc1", "study", expect_version=2, plan="p",
                         assignee="zhang", due=date(2020, 10, 16))
    assert event.version == 3


@pytest.mark.parametrize(("field", "text", "code"), [
    ("note", "a\x00b", "0000"), ("note", "\x1b[31m红", "001B"), ("plan", "第一步\x0c", "000C"),
    ("assignee", "zh\x7fang", "007F"), ("reason", "\x01", "0001"), ("reason", "\x1f", "001F"),
    ("note", "第一行\r\n第二行", "000D"), ("assignee", "zhang\n", "000A"),
])
def test_control_characters_are_refused(decider: Decider, make_issue: MakeIssue, field: str,
                                        text: str, code: str) -> None:
    given: dict[str, Any] = {"reason": "r", field: text}
    with pytest.raises(Refused) as err:
        decider.move(make_issue("rectified"), "qs1", "reject", **given)
    assert str(err.value) == f"--{field} contains a control character (U+{code})"
    assert err.value.exit_code == 1


def test_control_characters_are_checked_before_the_transition(decider: Decider,
                                                              make_issue: MakeIssue) -> None:
    with pytest.raises(Refused, match="--note contains a control character"):
        decider.move(make_issue("found"), "wu", "nonsense", note="\x00")


def test_tab_and_newline_are_text(decider: Decider, make_issue: MakeIssue) -> None:
    note = "第一行\n第二行\t完"
    event = decider.move(make_issue("rectified"), "qs2", "verify", note=note)
    assert event.payload["note"] == note


@pytest.mark.parametrize(("new", "error", "message"), [
    (replace(NEW, title="漏\x00水"), Refused, "title contains a control character (U+0000)"),
    (replace(NEW, household="\x7f"), Refused,
     "household contains a control character (U+007F)"),
    (replace(NEW, title="   "), BadOption, "title must not be empty"),
    (replace(NEW, category="water"), BadOption, "unknown category 'water'"),
    (replace(NEW, severity="urgent"), BadOption,
     "unknown severity 'urgent' (one of low, medium, high)"),
])
def test_a_new_issue_is_checked(new: NewIssue, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}"):
        check_new_issue(new)


def test_a_sound_new_issue_passes() -> None:
    check_new_issue(NEW)
    check_new_issue(replace(NEW, description="第一行\n第二行", severity="high"))


# --- facts ---------------------------------------------------------------------------------------
def test_fact_event_raises_the_version_and_keeps_the_issues_workflow(
        make_issue: MakeIssue) -> None:
    issue = make_issue("studied", version=5, stage_version=3, workflow="rectification@0")
    payload = VillageListing("v-shiban", town(2020, 10, 12))
    event = fact_event(issue, EventType.VILLAGE_LISTED, "wang", NOW, payload)
    assert (event.issue_id, event.version, event.type, event.actor, event.at) == (
        ISSUE_ID, 6, "village_listed", "wang", NOW)
    assert (event.transition, event.from_state, event.to_state) == (None, None, None)
    assert event.workflow == "rectification@0"
    assert event.payload == payload.to_payload()
    after = evolve(issue, event)
    assert after == replace(issue, version=6, listed_by_village=True,
                            next_escalation_at=town(2020, 10, 12))
    assert after.stage_version == 3  # a fact is not a new stage visit


def test_an_escalation_moves_only_the_pointer(make_issue: MakeIssue) -> None:
    issue = make_issue("studied", due_at=town(2020, 10, 17),
                       next_escalation_at=town(2020, 10, 16))
    event = fact_event(issue, EventType.ESCALATED, "system", town(2020, 10, 16), Escalated(
        1, "reminder", "studied", ("zhang",), town(2020, 10, 16), town(2020, 10, 17),
        town(2020, 10, 20)))
    assert evolve(issue, event) == replace(issue, version=4,
                                           next_escalation_at=town(2020, 10, 20))


def test_an_approved_extension_moves_the_due_moment(make_issue: MakeIssue) -> None:
    issue = make_issue("studied", due_at=town(2020, 10, 17),
                       next_escalation_at=town(2020, 10, 16))
    approved = ExtensionDecided(1, "同意", True, town(2020, 10, 24), town(2020, 10, 23))
    event = fact_event(issue, approved.type, "liu", NOW, approved)
    assert event.type == "extension_approved"
    assert evolve(issue, event) == replace(issue, version=4, due_at=town(2020, 10, 24),
                                           next_escalation_at=town(2020, 10, 23))
    denied = ExtensionDecided(1, "不同意", False)
    event = fact_event(issue, denied.type, "liu", NOW, denied)
    assert event.type == "extension_denied"
    assert evolve(issue, event) == replace(issue, version=4)


# --- the rule evolve and the audit share ---------------------------------------------------------
AT = utc(2020, 10, 9, 2)


def test_changes_of_a_transition() -> None:
    payload = {"note": "n", "due_at": "2020-10-12T16:00:00+00:00",
               "next_escalation_at": "2020-10-11T16:00:00+00:00", "listed_by_village": True}
    assert changes("transition", 3, AT, payload, "rectification@2", "reported") == {
        "version": 3, "stage_entered_at": AT, "due_at": town(2020, 10, 13),
        "workflow": "rectification@2", "stage_version": 3,
        "next_escalation_at": town(2020, 10, 12), "state": "reported",
        "listed_by_village": True}


def test_changes_of_a_transition_set_assignee_and_plan_only_when_written() -> None:
    bare = changes("transition", 4, AT, {"due_at": None, "next_escalation_at": None}, "w@1",
                   "verified")
    assert set(bare) == {"version", "stage_entered_at", "due_at", "workflow", "stage_version",
                         "next_escalation_at", "state"}
    assert bare["due_at"] is None and bare["next_escalation_at"] is None
    given = changes("transition", 4, AT, {"assignee": "rc2", "plan": "p"}, "w@1", "studied")
    assert (given["assignee"], given["plan"]) == ("rc2", "p")
    assert "state" not in changes("transition", 4, AT, {}, "w@1", None)


@pytest.mark.parametrize(("kind", "expected"), [
    ("escalated", {"version": 5, "next_escalation_at": town(2020, 10, 12)}),
    ("rescheduled", {"version": 5, "next_escalation_at": town(2020, 10, 12)}),
    ("extension_approved", {"version": 5, "due_at": town(2020, 10, 13),
                            "next_escalation_at": town(2020, 10, 12)}),
    ("village_listed", {"version": 5, "listed_by_village": True,
                        "next_escalation_at": town(2020, 10, 12)}),
    ("village_unlisted", {"version": 5, "listed_by_village": False,
                          "next_escalation_at": town(2020, 10, 12)}),
    ("extension_requested", {"version": 5}),
    ("extension_denied", {"version": 5}),
    ("interview_recorded", {"version": 5}),
    ("accountability_decided", {"version": 5}),
])
def test_changes_of_the_other_events(kind: str, expected: dict[str, Any]) -> None:
    payload = {"due_at": "2020-10-12T16:00:00+00:00",
               "next_escalation_at": "2020-10-11T16:00:00+00:00", "escalation": 1,
               "extension": 1, "village": "v-shiban", "note": "n"}
    assert changes(kind, 5, AT, payload, "w@1", None) == expected


def test_created_fields() -> None:
    payload = {"title": "t", "category": "food", "village": "c-jiezi", "severity": None,
               "listed": 1, "due_at": "2020-10-12T16:00:00+00:00"}
    assert created_fields(9, 1, "sa2", AT, payload, "w@1", "found") == {
        "id": 9, "title": "t", "category": "food", "village": "c-jiezi", "description": None,
        "group": None, "household": None, "severity": "medium", "listed": True,
        "state": "found", "version": 1, "created_at": AT, "created_by": "sa2",
        "stage_entered_at": AT, "assignee": None, "plan": None,
        "due_at": town(2020, 10, 13), "workflow": "w@1", "stage_version": 1,
        "next_escalation_at": None, "listed_by_village": False}


def test_created_fields_of_an_import() -> None:
    payload = {"title": "t", "category": "food", "village": "c-jiezi",
               "entered_at": "2020-09-30T02:00:00+00:00", "assignee": "zhou",
               "listed_by_village": True}
    fields = created_fields(9, 1, "sa2", AT, payload, "w@1", "studied")
    assert fields["stage_entered_at"] == utc(2020, 9, 30, 2)
    assert fields["created_at"] == AT
    assert (fields["assignee"], fields["state"], fields["listed_by_village"]) == (
        "zhou", "studied", True)
