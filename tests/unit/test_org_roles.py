"""The town's roles: town-wide, for one issue, who holds a role, whom role specs reach."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.domain.org import Group, Org, Person, Unit


@pytest.mark.parametrize(("person", "roles"), [
    ("sa1", {"self_assessment", "self_assessment_leader"}),
    ("sa2", {"self_assessment"}),
    ("rc1", {"rectification", "rectification_leader"}),
    ("rc2", {"rectification"}),
    ("wang", {"quality_supervision", "quality_supervision_leader", "party_secretary"}),
    ("qs1", {"quality_supervision"}),
    ("iv1", {"information_verification"}),  # a group without a leader
    ("liu", set()),     # liaison and secretary are roles for an issue only
    ("chen", set()),
    ("nobody", set()),  # not in the org
])
def test_roles_of(org: Org, person: str, roles: set[str]) -> None:
    assert org.roles_of(person) == frozenset(roles)


def test_a_member_of_two_groups_holds_both_kinds(org: Org) -> None:
    groups = {**org.groups, "rv": Group("rv", "roving_guidance", "qs1", ("qs1", "rc2"))}
    both = replace(org, groups=groups)
    assert both.roles_of("qs1") == {"quality_supervision", "roving_guidance",
                                    "roving_guidance_leader"}
    assert both.roles_of("rc2") == {"rectification", "roving_guidance"}


@pytest.mark.parametrize(("person", "village", "assignee", "roles"), [
    ("liu", "v-shiban", None, {"liaison"}),
    ("liu", "c-jiezi", None, {"liaison"}),
    ("chen", "v-shiban", None, {"village_secretary"}),
    ("chen", "c-jiezi", None, set()),  # another unit's secretary
    ("zhou", "c-jiezi", None, {"village_secretary"}),
    ("rc2", "v-shiban", "rc2", {"rectification", "assignee"}),
    ("rc2", "v-shiban", "zhang", {"rectification"}),
    ("chen", "v-shiban", "chen", {"village_secretary", "assignee"}),
    ("wang", "v-shiban", None, {"quality_supervision", "quality_supervision_leader",
                                "party_secretary"}),
    ("liu", "no-such-unit", None, set()),
    ("zhang", "v-shiban", "zhang", {"assignee"}),
])
def test_roles_for_issue(org: Org, person: str, village: str, assignee: str | None,
                         roles: set[str]) -> None:
    assert org.roles_for_issue(person, village, assignee) == frozenset(roles)


@pytest.mark.parametrize(("role", "village", "assignee", "people"), [
    ("assignee", "v-shiban", "zhang", ["zhang"]),
    ("assignee", "v-shiban", None, []),
    ("village_secretary", "v-shiban", None, ["chen"]),
    ("village_secretary", "c-jiezi", "zhang", ["zhou"]),
    ("village_secretary", "no-such-unit", None, []),
    ("liaison", "c-jiezi", None, ["liu"]),
    ("party_secretary", "v-shiban", None, ["wang"]),
    ("quality_supervision_leader", "v-shiban", None, ["wang"]),
    ("quality_supervision", "v-shiban", None, ["qs1", "qs2", "wang"]),
    ("self_assessment", "v-shiban", None, ["sa1", "sa2"]),
    ("information_verification_leader", "v-shiban", None, []),
    ("roving_guidance", "v-shiban", None, []),
])
def test_holders(org: Org, role: str, village: str, assignee: str | None,
                 people: list[str]) -> None:
    assert org.holders(role, village, assignee) == people


def test_holders_of_a_unit_without_a_secretary(org: Org) -> None:
    units = {**org.units, "v-new": Unit("v-new", "新村", "village")}
    bare = replace(org, units=units)
    assert bare.holders("village_secretary", "v-new", None) == []
    assert bare.holders("liaison", "v-new", None) == []


@pytest.mark.parametrize(("specs", "assignee", "people"), [
    (["assignee|village_secretary"], "zhang", ("zhang",)),
    (["assignee|village_secretary"], None, ("chen",)),
    (["liaison", "village_secretary"], None, ("liu", "chen")),
    (["village_secretary", "liaison"], None, ("chen", "liu")),  # the order of the specs
    (["party_secretary", "quality_supervision_leader"], None, ("wang",)),  # each person once
    (["quality_supervision", "party_secretary"], None, ("qs1", "qs2", "wang")),
    (["party_secretary", "quality_supervision"], None, ("wang", "qs1", "qs2")),
    (["information_verification_leader|roving_guidance"], None, ()),  # nobody holds either
    (["roving_guidance|information_verification_leader|party_secretary"], None, ("wang",)),
    (["assignee", "village_secretary"], "chen", ("chen",)),
    ([], "zhang", ()),
])
def test_reach(org: Org, specs: list[str], assignee: str | None,
               people: tuple[str, ...]) -> None:
    assert org.reach(specs, "v-shiban", assignee) == people


def test_reach_in_another_unit(org: Org) -> None:
    assert org.reach(["assignee|village_secretary", "liaison"], "c-jiezi", None) == ("zhou", "liu")


@pytest.mark.parametrize(("person", "may"), [
    ("sa2", True), ("rc2", True), ("qs1", True), ("iv1", True),
    ("wang", True),   # party secretary (and a group member)
    ("liu", False),   # a liaison leader in no group
    ("chen", False),  # a village secretary
    ("zhang", False),
    ("nobody", False),
])
def test_may_add_issues(org: Org, person: str, may: bool) -> None:
    assert org.may_add_issues(person) is may


def test_a_party_secretary_in_no_group_may_add_issues(org: Org) -> None:
    town = replace(org.town, party_secretary="liu")
    assert replace(org, town=town).may_add_issues("liu") is True


def test_a_sound_org_has_no_problems(org: Org) -> None:
    assert org.problems() == []


def test_problems_name_everything_unknown(org: Org) -> None:
    broken = Org(
        town=replace(org.town, party_secretary="ghost"),
        units={"v-x": Unit("v-x", "X", "hamlet", liaison="liu", secretary="nobody")},
        people={"liu": Person("liu", "刘", "huangjia"), "li": Person("li", "李", "v-gone")},
        groups={"g": Group("g", "choir", "lead", ("liu", "m2"))},
    )
    assert broken.problems() == [
        "town.party_secretary names unknown person 'ghost'",
        "unit 'v-x' has unknown kind 'hamlet' (one of ('village', 'community'))",
        "unit 'v-x' secretary names unknown person 'nobody'",
        "person 'li' names unknown unit 'v-gone'",
        "group 'g' has unknown kind 'choir' (one of ('self_assessment', 'rectification',"
        " 'information_verification', 'roving_guidance', 'quality_supervision'))",
        "group 'g' leader names unknown person 'lead'",
        "group 'g' member names unknown person 'm2'",
    ]


def test_a_leader_left_out_of_the_members_still_counts_as_one(org: Org) -> None:
    groups = {**org.groups, "rv": Group("rv", "roving_guidance", "qs1", ("rc2",))}
    led = replace(org, groups=groups)
    assert led.holders("roving_guidance_leader", "v-shiban", None) == ["qs1"]
    assert "roving_guidance_leader" in led.roles_of("qs1")
    assert "roving_guidance" in led.roles_of("qs1")
    assert led.holders("roving_guidance", "v-shiban", None) == ["qs1", "rc2"]
