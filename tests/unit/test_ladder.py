"""The escalation ladder (reminder, interview, accountability) and the light of an issue,
measured from a due moment of 2020-10-13 00:00 town time (the domain page's example)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.domain import ladder
from engine.domain.calendar import WorkingCalendar
from engine.domain.escalation import issue_light, light
from engine.domain.ladder import LEVELS, Ladder, Rung
from engine.domain.workflow import Workflow
from tests.unit.support import MakeIssue, town

DUE = town(2020, 10, 13)
SECOND = timedelta(seconds=1)

DEFAULT_MOMENTS = [("reminder", town(2020, 10, 12)), ("interview", town(2020, 10, 14)),
                   ("accountability", town(2020, 10, 20))]
LISTED_MOMENTS = [("reminder", town(2020, 10, 12)), ("interview", town(2020, 10, 13)),
                  ("accountability", town(2020, 10, 16))]


@pytest.fixture
def rungs(workflow: Workflow) -> Ladder:
    return workflow.ladder


def test_the_packaged_ladders(rungs: Ladder) -> None:
    assert rungs.default == (
        Rung("reminder", -1, (), ("owners",)),
        Rung("interview", 1, ("liaison",), ("owners", "owners_secretary")),
        Rung("accountability", 5, ("party_secretary", "quality_supervision_leader"),
             ("owners", "interviewed")),
    )
    assert [(r.level, r.offset) for r in rungs.listed] == [
        ("reminder", -1), ("interview", 0), ("accountability", 3)]
    assert rungs.rungs(False) == rungs.default
    assert rungs.rungs(True) == rungs.listed
    assert LEVELS == ("reminder", "interview", "accountability")


def test_moments_default_and_listed(calendar: WorkingCalendar, rungs: Ladder) -> None:
    assert ladder.moments(calendar, rungs, DUE, listed=False) == DEFAULT_MOMENTS
    assert ladder.moments(calendar, rungs, DUE, listed=True) == LISTED_MOMENTS


def test_plan_pairs_each_rung_with_its_moment(calendar: WorkingCalendar, rungs: Ladder) -> None:
    steps = ladder.plan(calendar, rungs, DUE, listed=True)
    assert [r for r, _ in steps] == list(rungs.listed)
    assert [m for _, m in steps] == [m for _, m in LISTED_MOMENTS]


def test_no_due_moment_no_plan(calendar: WorkingCalendar, rungs: Ladder) -> None:
    assert ladder.plan(calendar, rungs, None, listed=False) == []
    assert ladder.plan(calendar, rungs, None, listed=True) == []


def test_a_hand_made_ladder(calendar: WorkingCalendar) -> None:
    short = Ladder(default=(Rung("reminder", -3, ("assignee",)),),
                   listed=(Rung("reminder", -1, ("assignee",)),
                           Rung("accountability", 1, ("party_secretary",))))
    assert ladder.moments(calendar, short, DUE, listed=False) == [("reminder", town(2020, 10, 9))]
    assert ladder.moments(calendar, short, DUE, listed=True) == [
        ("reminder", town(2020, 10, 12)), ("accountability", town(2020, 10, 14))]


def _levels(steps: list[ladder.Step]) -> list[str]:
    return [r.level for r, _ in steps]


def test_come_due_at_and_after_a_moment(calendar: WorkingCalendar, rungs: Ladder) -> None:
    steps = ladder.plan(calendar, rungs, DUE, listed=False)
    assert ladder.come_due(steps, town(2020, 10, 12) - SECOND, ()) == []
    assert _levels(ladder.come_due(steps, town(2020, 10, 12), ())) == ["reminder"]
    assert _levels(ladder.come_due(steps, town(2020, 10, 14), ())) == ["reminder", "interview"]


def test_a_late_sweep_raises_every_level_at_once_in_ladder_order(
        calendar: WorkingCalendar, rungs: Ladder) -> None:
    steps = ladder.plan(calendar, rungs, DUE, listed=False)
    late = ladder.come_due(steps, town(2020, 11, 30), ())
    assert [(r.level, m) for r, m in late] == DEFAULT_MOMENTS


def test_levels_already_raised_are_left_out(calendar: WorkingCalendar, rungs: Ladder) -> None:
    steps = ladder.plan(calendar, rungs, DUE, listed=False)
    late = town(2020, 11, 30)
    assert _levels(ladder.come_due(steps, late, {"reminder"})) == ["interview", "accountability"]
    assert _levels(ladder.come_due(steps, late, {"interview"})) == ["reminder", "accountability"]
    assert ladder.come_due(steps, late, set(LEVELS)) == []


def test_next_moment_is_the_first_level_not_raised(calendar: WorkingCalendar,
                                                    rungs: Ladder) -> None:
    steps = ladder.plan(calendar, rungs, DUE, listed=False)
    assert ladder.next_moment(steps, ()) == town(2020, 10, 12)
    assert ladder.next_moment(steps, {"reminder"}) == town(2020, 10, 14)
    assert ladder.next_moment(steps, {"reminder", "interview"}) == town(2020, 10, 20)
    assert ladder.next_moment(steps, {"interview"}) == town(2020, 10, 12)
    assert ladder.next_moment(steps, set(LEVELS)) is None
    listed = ladder.plan(calendar, rungs, DUE, listed=True)
    assert ladder.next_moment(listed, {"reminder"}) == town(2020, 10, 13)
    assert ladder.next_moment([], ()) is None


@pytest.mark.parametrize(("level", "status"), [
    ("reminder", "done"), ("interview", "open"), ("accountability", "open")])
def test_initial_status(level: str, status: str) -> None:
    assert ladder.initial_status(level) == status


# --- the light -------------------------------------------------------------------------------
def test_light_is_none_in_a_final_stage(calendar: WorkingCalendar) -> None:
    assert light(calendar, DUE, town(2020, 11, 1), True, final=True) is None
    assert light(calendar, None, town(2020, 11, 1), False, final=True) is None


def test_light_is_green_without_a_deadline(calendar: WorkingCalendar) -> None:
    assert light(calendar, None, town(2020, 11, 1), True, final=False) == "green"


@pytest.mark.parametrize(("now", "reminder_out", "colour"), [
    (town(2020, 10, 9, 10), False, "green"),
    (town(2020, 10, 11, 23, 59), False, "green"),     # Sunday: the last working day not begun
    (town(2020, 10, 12) - SECOND, False, "green"),
    (town(2020, 10, 12), False, "yellow"),            # the start of the last working day
    (town(2020, 10, 9, 10), True, "yellow"),          # the reminder is out
    (DUE - SECOND, False, "yellow"),
    (DUE, False, "red"),                              # at the due moment
    (DUE, True, "red"),
    (town(2020, 12, 1), False, "red"),
])
def test_light(calendar: WorkingCalendar, now: datetime, reminder_out: bool,
               colour: str) -> None:
    assert light(calendar, DUE, now, reminder_out, final=False) == colour


@pytest.mark.parametrize(("pointer", "colour"), [
    (town(2020, 10, 12), "green"),   # the reminder not raised yet
    (town(2020, 10, 14), "yellow"),  # the pointer passed it: the reminder is out
    (None, "yellow"),                # every level raised
])
def test_issue_light_follows_the_ladder_pointer(calendar: WorkingCalendar, workflow: Workflow,
                                                make_issue: MakeIssue,
                                                pointer: datetime | None, colour: str) -> None:
    issue = make_issue("reported", due_at=DUE, next_escalation_at=pointer)
    assert issue_light(calendar, workflow.ladder, issue, town(2020, 10, 9, 10),
                       final=False) == colour


def test_issue_light_of_a_listed_issue_uses_the_listed_ladder(
        calendar: WorkingCalendar, workflow: Workflow, make_issue: MakeIssue) -> None:
    # the listed interview (offset 0) is at the due moment: a pointer there is past the reminder
    listed = make_issue("reported", due_at=DUE, next_escalation_at=DUE, listed_by_village=True)
    assert issue_light(calendar, workflow.ladder, listed, town(2020, 10, 9, 10),
                       final=False) == "yellow"


def test_issue_light_red_none_and_green(calendar: WorkingCalendar, workflow: Workflow,
                                        make_issue: MakeIssue) -> None:
    overdue = make_issue("studied", due_at=DUE, next_escalation_at=town(2020, 10, 14))
    assert issue_light(calendar, workflow.ladder, overdue, DUE, final=False) == "red"
    cleared = make_issue("cleared")
    assert issue_light(calendar, workflow.ladder, cleared, DUE, final=True) is None
    no_deadline = make_issue("studied", due_at=None)
    assert issue_light(calendar, workflow.ladder, no_deadline, DUE, final=False) == "green"


def test_with_id_keeps_every_other_field() -> None:
    """`Escalation.with_id` (the sweep's fast copy) equals dataclasses.replace for an
    escalation whose every field differs from its default (a field added to Escalation and
    not to with_id fails here)."""
    from dataclasses import fields, replace

    from engine.domain.escalation import Escalation

    at = datetime(2020, 10, 21, 1, 0)
    e = Escalation(id=0, issue_id=7, stage="studied", stage_version=3, level="interview",
                   due_at=at, moment=at + timedelta(hours=1), raised_at=at + timedelta(hours=2),
                   recipients=("a", "b"), status="open", closed_at=at + timedelta(days=1),
                   closed_by="wang", note="谈过", attendees=("a",), subjects=("b",),
                   outcome="talk")
    never = datetime(2000, 1, 1)
    defaults = Escalation(0, 0, "", 0, "", never, never, never, (), "")
    assert all(getattr(e, f.name) != getattr(defaults, f.name)
               for f in fields(Escalation) if f.name not in ("id",))
    assert e.with_id(41) == replace(e, id=41)
