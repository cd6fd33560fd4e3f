"""Fixtures of the unit tests of the pure domain: the small town, the 2020 National Day
calendar, the packaged workflow and its state machine, and an issue in a given stage."""

from __future__ import annotations

import pytest

from engine.config.workflow import load
from engine.domain.calendar import WorkingCalendar
from engine.domain.org import Group, Org, Person, Town, Unit
from engine.domain.workflow import Workflow
from engine.statemachine import WorkflowMachine, machine_for
from tests.unit.support import MakeIssue, issue_in, national_day_calendar
from workflows import default_path


def small_org() -> Org:
    """Town huangjia: two units, each with its liaison leader and secretary, and four groups
    (a leader is one of the members, as the org file loader makes it). `zhang` is a villager
    without a group (an assignee); `wu` holds nothing at all."""
    town_id = "huangjia"
    people = [
        Person("wang", "王书记", town_id), Person("liu", "刘包村", town_id),
        Person("chen", "陈支书", "v-shiban"), Person("zhou", "周支书", "c-jiezi"),
        Person("zhang", "张村干", "v-shiban"), Person("wu", "吴路人", "v-shiban"),
        Person("sa1", "自查一", town_id), Person("sa2", "自查二", town_id),
        Person("rc1", "整改一", town_id), Person("rc2", "整改二", town_id),
        Person("qs1", "质监一", town_id), Person("qs2", "质监二", town_id),
        Person("iv1", "核查一", town_id),
    ]
    groups = [
        Group("sa-01", "self_assessment", "sa1", ("sa1", "sa2")),
        Group("rect", "rectification", "rc1", ("rc1", "rc2")),
        Group("qs", "quality_supervision", "wang", ("wang", "qs1", "qs2")),
        Group("iv", "information_verification", None, ("iv1",)),
    ]
    return Org(
        town=Town(town_id, "黄家镇", "Asia/Shanghai", "wang"),
        units={
            "v-shiban": Unit("v-shiban", "石板村", "village", liaison="liu", secretary="chen"),
            "c-jiezi": Unit("c-jiezi", "街子社区", "community", liaison="liu", secretary="zhou"),
        },
        people={p.id: p for p in people},
        groups={g.id: g for g in groups},
    )


@pytest.fixture
def org() -> Org:
    return small_org()


@pytest.fixture
def calendar() -> WorkingCalendar:
    """A fresh calendar each test (its fallback years and memo start empty)."""
    return national_day_calendar()


@pytest.fixture(scope="session")
def workflow() -> Workflow:
    return load(default_path())


@pytest.fixture(scope="session")
def machine(workflow: Workflow) -> WorkflowMachine:
    return machine_for(workflow)


@pytest.fixture
def make_issue() -> MakeIssue:
    """`make_issue(state, **fields)`: see tests.unit.support.issue_in."""
    return issue_in
