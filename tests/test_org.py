"""The org file: roles come from it, and a bad one is refused whole, each problem at its line."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.config.org import load
from engine.domain.org import Group, Org, Person, Town, Unit
from engine.errors import OrgError
from tests.support import SMALL_ORG, Scenario, one_line_refusal, scenario, write_org


def org(**changes: Any) -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o.update(changes)
    return o


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    """The line of the last occurrence of `needle` (a repeated entry comes last)."""
    return text[: text.rindex(needle)].count("\n") + 1


def refused(path: Path) -> str:
    return one_line_refusal(OrgError, lambda: load(path))


def test_roles_come_from_groups_units_and_the_town(tmp_path: Path) -> None:
    o = load(write_org(tmp_path / "org.yaml"))
    assert o.roles_of("sa1") == {"self_assessment", "self_assessment_leader"}
    assert o.roles_of("sa2") == {"self_assessment"}
    assert o.roles_of("wang") == {
        "quality_supervision", "quality_supervision_leader", "party_secretary"}
    assert o.roles_for_issue("liu", "v-shiban", None) == {"liaison"}
    assert o.roles_for_issue("chen", "v-shiban", "chen") == {"village_secretary", "assignee"}
    assert o.roles_for_issue("chen", "c-jiezi", None) == set()
    assert o.may_add_issues("sa2") and not o.may_add_issues("nobody")


def test_a_good_file_loads_to_the_org_it_describes(tmp_path: Path) -> None:
    t = SMALL_ORG["town"]
    expected = Org(
        town=Town(id=t["id"], name=t["name"], timezone=t["timezone"],
                  party_secretary=t["party_secretary"]),
        units={u["id"]: Unit(id=u["id"], name=u["name"], kind=u["kind"],
                             liaison=u.get("liaison"), secretary=u.get("secretary"))
               for u in SMALL_ORG["units"]},
        people={p["id"]: Person(id=p["id"], name=p["name"], unit=p["unit"],
                                email=p.get("email"), mobile=p.get("mobile"))
                for p in SMALL_ORG["people"]},
        groups={g["id"]: Group(id=g["id"], kind=g["kind"], leader=g["leader"],
                               members=tuple(g["members"]))
                for g in SMALL_ORG["groups"]},
    )
    assert load(write_org(tmp_path / "org.yaml")) == expected


def test_the_demo_org_loads(tmp_path: Path) -> None:
    from engine.demo import write_org as write_demo_org

    path = tmp_path / "demo-org.yaml"
    cast = write_demo_org(path)
    o = load(path)
    assert o.town.id == "huangjia" and o.town.timezone == "Asia/Shanghai"
    assert list(o.units) == [u["id"] for u in cast.org["units"]]
    assert list(o.people) == [p["id"] for p in cast.org["people"]]
    assert list(o.groups) == [g["id"] for g in cast.org["groups"]]
    assert (len(o.units), len(o.people), len(o.groups)) == (10, 101, 42)


def test_a_group_leader_is_a_member(tmp_path: Path) -> None:
    o = org()
    o["groups"][0] = {"id": "sa-01", "kind": "self_assessment", "leader": "sa1",
                      "members": ["sa2"]}
    assert load(write_org(tmp_path / "org.yaml", o)).groups["sa-01"].members == ("sa1", "sa2")


def test_numbers_are_text_and_the_timezone_has_a_default(tmp_path: Path) -> None:
    path = write(tmp_path / "org.yaml", """\
town: {id: huangjia, name: 黄家镇, party_secretary: 7}
units:
people:
  - {id: 7, name: 王书记, unit: huangjia, mobile: 13800000001}
groups:
""")
    o = load(path)
    assert o.town.timezone == "Asia/Shanghai"
    assert o.town.party_secretary == "7" and set(o.people) == {"7"}
    assert o.people["7"].mobile == "13800000001"
    assert (o.units, o.groups) == ({}, {})


Mutation = Callable[[dict[str, Any]], Any]


@pytest.mark.parametrize(
    ("mutate", "marker", "needle"),
    [
        (lambda o: o["groups"][0]["members"].append("ghost"), "- ghost",
         "group 'sa-01' member names unknown person 'ghost'"),
        (lambda o: o["units"][0].update(liaison="ghost"), "liaison: ghost",
         "unit 'v-shiban' liaison names unknown person 'ghost'"),
        (lambda o: o["people"][0].update(unit="v-nowhere"), "unit: v-nowhere",
         "person 'wang' names unknown unit 'v-nowhere'"),
        (lambda o: o["groups"][0].update(kind="fan_club"), "kind: fan_club",
         "group 'sa-01' has unknown kind 'fan_club'"),
        (lambda o: o["units"][0].update(kind="city"), "kind: city",
         "unit 'v-shiban' has unknown kind 'city' (one of village, community)"),
        (lambda o: o["town"].update(party_secretary="ghost"), "party_secretary: ghost",
         "town.party_secretary names unknown person 'ghost'"),
        (lambda o: o["town"].update(timezone="Mars/Olympus"), "timezone: Mars/Olympus",
         "town.timezone: unknown timezone 'Mars/Olympus'"),
        (lambda o: o["people"].append(dict(o["people"][0])), "id: wang",
         "people[12]: duplicate id 'wang' (first at line"),
        (lambda o: o["units"].append(dict(o["units"][0], id="huangjia")), "id: huangjia",
         "units[2]: duplicate id 'huangjia'"),
        (lambda o: o["groups"][0]["members"].append("sa2"), "- sa2",
         "group 'sa-01': member 'sa2' is listed twice"),
        (lambda o: o.pop("groups"), "people:", "missing 'groups'"),
        (lambda o: o["town"].update(mayor="liu"), "mayor: liu", "town: unknown key 'mayor'"),
        (lambda o: o["people"][1].update(mobile=1.5), "mobile: 1.5",
         "people[1].mobile: must be text, not the number 1.5"),
        (lambda o: o["groups"][1].update(members="rc1"), "members: rc1",
         "groups[1].members: expected a list, not 'rc1'"),
        (lambda o: o["units"][1].pop("kind"), "id: c-jiezi",
         "units[1]: missing 'kind'"),
    ],
)
def test_a_bad_org_is_refused_at_the_line_of_its_problem(
    tmp_path: Path, mutate: Mutation, marker: str, needle: str
) -> None:
    o = org()
    mutate(o)
    path = write_org(tmp_path / "org.yaml", o)
    text = path.read_text(encoding="utf-8")
    message = refused(path)
    assert message.startswith(f"{path}:{line_of(text, marker)}: "), (message, text)
    assert needle in message
    assert "more:" not in message  # exactly one problem


def test_every_problem_is_reported_in_one_message(tmp_path: Path) -> None:
    path = write(tmp_path / "org.yaml", """\
town: {id: huangjia, name: 黄家镇, party_secretary: wang}
units:
  - {id: v-shiban, name: 石板村, kind: village, liaison: ghost}
  - {id: v-shiban, name: 石板村二, kind: village}
people:
  - {id: wang, name: 王书记, unit: huangjia}
  - {id: chen, name: 陈支书, unit: v-nowhere}
groups:
  - {id: sa-01, kind: self_assessment, leader: wang, members: [wang, chen, wang]}
""")
    assert refused(path) == (
        f"{path}:3: unit 'v-shiban' liaison names unknown person 'ghost' (and 3 more: "
        f"{path}:4: units[1]: duplicate id 'v-shiban' (first at line 3); "
        f"{path}:7: person 'chen' names unknown unit 'v-nowhere'; "
        f"{path}:9: group 'sa-01': member 'wang' is listed twice)"
    )


def test_shape_problems_name_their_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "org.yaml", """\
town:
  id: huangjia
  name: 黄家镇
  party_secretary: wang
  mayor: liu
units:
  - id: v-shiban
    name: 石板村
    kind: village
    secretary: [chen]
people:
  - {id: wang, name: 王书记, unit: huangjia, email: 2020-10-01}
  - {name: 刘镇长, unit: huangjia}
groups: {}
""")
    assert refused(path) == (
        f"{path}:5: town: unknown key 'mayor' (and 4 more: "
        f"{path}:10: units[0].secretary: must be text, not a list; "
        f"{path}:12: people[0].email: must be text, not the date 2020-10-01; "
        f"{path}:13: people[1]: missing 'id'; "
        f"{path}:14: groups: expected a list, not a mapping)"
    )


def test_not_a_mapping(tmp_path: Path) -> None:
    for text in ("", "# nothing yet\n", "- town\n"):
        path = write(tmp_path / "org.yaml", text)
        assert refused(path) == f"{path}:1: expected a mapping with town, units, people, groups"


def test_unreadable_not_utf8_or_not_yaml(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert refused(missing).startswith(f"{missing}: cannot read: ")
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("town: {id: huangjia, name: 黄家镇}\n".encode("gbk"))
    assert refused(gbk).startswith(f"{gbk}: not UTF-8 text")
    bad = write(tmp_path / "bad.yaml", "town: {id: huangjia\nunits: []\n")
    assert refused(bad).startswith(f"{bad}:2: not valid YAML: ")
    twice = write(tmp_path / "twice.yaml", "town: {}\nunits: []\ntown: {}\n")
    assert refused(twice) == (
        f"{twice}:3: not valid YAML: key 'town' is given twice (first at line 1)")
    control = write(tmp_path / "control.yaml", "town:\n  id: \x07\n")
    assert refused(control).startswith(f"{control}:2: not valid YAML: ")


def test_a_refused_org_loads_nothing(tmp_path: Path, sqlite_url: str) -> None:
    o = org()
    o["groups"][0]["members"].append("ghost")
    svc: Scenario = scenario(sqlite_url, tmp_path / "data", actor="wang")
    with pytest.raises(OrgError):
        svc.init(write_org(tmp_path / "bad.yaml", o))
    assert not (tmp_path / "rectify.db").exists()
    svc.init(write_org(tmp_path / "good.yaml"))
    with pytest.raises(OrgError):
        svc.init(write_org(tmp_path / "bad.yaml", o))
    svc2 = scenario(sqlite_url, tmp_path / "data")
    with svc2.store.transaction(write=False) as tx:
        assert "ghost" not in tx.org.load().people
        assert set(tx.org.load().people) == {p["id"] for p in SMALL_ORG["people"]}
    svc.store.close()
    svc2.store.close()


def test_yaml_tags_that_build_objects_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "org.yaml", "town: !!python/object/apply:os.system [echo hi]\n")
    assert refused(path).startswith(f"{path}:1: not valid YAML: ")
