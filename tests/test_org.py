"""The org file: roles come from it, and a bad one is refused whole."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from engine.errors import BadFile, OrgError
from engine.orgfile import load, parse
from engine.service import Rectify
from tests.support import SMALL_ORG, service, write_org


def org(**changes: Any) -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o.update(changes)
    return o


def test_roles_come_from_groups_units_and_the_town() -> None:
    o = parse(SMALL_ORG)
    assert o.roles_of("sa1") == {"self_assessment", "self_assessment_leader"}
    assert o.roles_of("sa2") == {"self_assessment"}
    assert o.roles_of("wang") == {
        "quality_supervision", "quality_supervision_leader", "party_secretary"}
    assert o.roles_for_issue("liu", "v-shiban", None) == {"liaison"}
    assert o.roles_for_issue("chen", "v-shiban", "chen") == {"village_secretary", "assignee"}
    assert o.roles_for_issue("chen", "c-jiezi", None) == set()
    assert o.may_add_issues("sa2") and not o.may_add_issues("nobody")


def test_a_group_leader_is_a_member() -> None:
    o = org()
    o["groups"][0] = {"id": "sa-01", "kind": "self_assessment", "leader": "sa1",
                      "members": ["sa2"]}
    assert "sa1" in parse(o).groups["sa-01"].members


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda o: o["groups"][0]["members"].append("ghost"), "ghost"),
        (lambda o: o["units"][0].update(liaison="ghost"), "ghost"),
        (lambda o: o["people"][0].update(unit="v-nowhere"), "v-nowhere"),
        (lambda o: o["groups"][0].update(kind="fan_club"), "fan_club"),
        (lambda o: o["units"][0].update(kind="city"), "city"),
        (lambda o: o["town"].update(party_secretary="ghost"), "ghost"),
        (lambda o: o["town"].update(timezone="Mars/Olympus"), "Mars/Olympus"),
        (lambda o: o["people"].append(dict(o["people"][0])), "duplicate"),
        (lambda o: o.pop("groups"), "groups"),
    ],
)
def test_a_bad_org_is_refused_whole(mutate: Any, needle: str) -> None:
    o = org()
    mutate(o)
    with pytest.raises(OrgError) as e:
        parse(o, "org.yaml")
    assert needle in str(e.value) and "org.yaml" in str(e.value)
    assert e.value.exit_code == 2


def test_unreadable_or_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(BadFile):
        load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("town: [", encoding="utf-8")
    with pytest.raises(BadFile):
        load(bad)


def test_a_refused_org_loads_nothing(tmp_path: Path, sqlite_url: str) -> None:
    o = org()
    o["groups"][0]["members"].append("ghost")
    svc: Rectify = service(sqlite_url, tmp_path / "data", actor="wang")
    with pytest.raises(OrgError):
        svc.init(write_org(tmp_path / "bad.yaml", o))
    assert not (tmp_path / "rectify.db").exists()
    svc.init(write_org(tmp_path / "good.yaml"))
    with pytest.raises(OrgError):
        svc.init(write_org(tmp_path / "bad.yaml", o))
    svc2 = service(sqlite_url, tmp_path / "data")
    with svc2.store.transaction(write=False) as tx:
        assert "ghost" not in tx.load_org().people
        assert set(tx.load_org().people) == {p["id"] for p in SMALL_ORG["people"]}
    svc.store.close()
    svc2.store.close()
