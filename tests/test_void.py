"""Voiding an issue (作废): found in error or twice, from *found* or *reported*, by information
verification or the rectification group leader; a terminal state that leaves every count,
ladder and open list (`issue list --state voided` shows them); whoever added it is told.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from engine.app import corrections
from engine.domain.issue import Issue, NewIssue
from engine.errors import BadOption, NotFound, Refused
from notifications.render import Renderer
from tests.support import Scenario, run_cli
from tests.test_escalations import move, sweep


def url(svc: Scenario) -> str:
    return svc.store.engine.url.render_as_string(hide_password=False)


def added(svc: Scenario, title: str = "房屋漏雨", at: datetime = datetime(2020, 9, 30, 10)
          ) -> Issue:
    svc.actor, svc.now = "sa1", at
    return svc.add_issue(NewIssue(title=title, category="housing_safety", village="v-shiban",
                                  group="sa-01", household="王某某户"))


def void(svc: Scenario, actor: str, issue_id: int, reason: str,
         duplicate_of: int | None = None) -> Issue:
    svc.actor = actor
    return corrections.void(svc.session(), issue_id, reason, duplicate_of)


def test_a_duplicate_is_voided_and_leaves_the_ledger(svc: Scenario) -> None:
    first = added(svc)
    twice = added(svc, at=datetime(2020, 9, 30, 11))
    move(svc, "sa1", twice.id, "report")
    done = void(svc, "iv1", twice.id, "同一户同一问题", duplicate_of=first.id)
    assert (done.state, done.due_at, done.next_escalation_at) == ("voided", None, None)
    [event] = svc.history(twice.id)[-1:]
    assert (event.transition, event.from_state, event.to_state, event.actor) == (
        "void", "reported", "voided", "iv1")
    assert (event.payload["reason"], event.payload["duplicate_of"]) == (
        "同一户同一问题", first.id)
    # it leaves the ledger, its counts and its ladder; asked for by state it is there
    assert [i.id for i in svc.list()] == [first.id]
    assert [i.id for i in svc.list(state="voided")] == [twice.id]
    assert ("v-shiban", "voided", 1) not in svc.summary()
    assert svc.lights([done]) == {twice.id: None}
    assert [e.issue_id for e in sweep(svc, datetime(2020, 11, 30))] == [first.id] * 3
    # whoever added it is told, with what it repeats
    [told] = [m for m in svc.outbox(issue_id=twice.id) if m.kind == "voided"]
    assert told.person == "sa1"
    text = Renderer("zh_CN").render("voided", told.context).text
    assert f"已作废，与 #{first.id} 重复。" in text and "同一户同一问题" in text
    assert svc.verify().ok  # the rule check knows `void` from either stage


def test_only_its_deciders_void_and_only_before_the_study(svc: Scenario) -> None:
    issue = added(svc)
    for who in ("sa1", "rc2", "chen", "qs1"):
        with pytest.raises(Refused, match="may not void"):
            void(svc, who, issue.id, "不是问题")
    assert void(svc, "rc1", issue.id, "不是问题").state == "voided"  # the group leader
    studied_one = added(svc, "饮水不稳定")
    move(svc, "sa1", studied_one.id, "report")
    svc.set_now(datetime(2020, 10, 9, 10))
    move(svc, "rc1", studied_one.id, "study", plan="换泵", assignee="rc2", due=date(2020, 10, 16))
    with pytest.raises(Refused):
        void(svc, "iv1", studied_one.id, "晚了")
    assert svc.show(studied_one.id).state == "studied"
    with pytest.raises(Refused):  # voided is terminal
        void(svc, "iv1", issue.id, "再来一次")


def test_a_duplicate_of_itself_or_of_nothing_is_refused(svc: Scenario) -> None:
    issue = added(svc)
    with pytest.raises(BadOption, match="itself"):
        void(svc, "iv1", issue.id, "重复", duplicate_of=issue.id)
    with pytest.raises(NotFound):
        void(svc, "iv1", issue.id, "重复", duplicate_of=999)
    assert svc.show(issue.id).state == "found"


def test_the_command_line(svc: Scenario, tmp_path: Path) -> None:
    first, twice = added(svc), added(svc, at=datetime(2020, 9, 30, 11))
    base = ("--db", url(svc), "--data-dir", str(svc.data_dir), "--now", "2020-09-30T12:00")
    r = run_cli(*base, "--as", "iv1", "--json", "issue", "void", str(twice.id),
                "--reason", "重复登记", "--duplicate-of", str(first.id))
    assert r.code == 0, r.err
    assert json.loads(r.out)["state"] == "voided"
    refused = run_cli(*base, "--as", "sa1", "issue", "void", str(first.id), "--reason", "x")
    assert refused.code == 1 and refused.err.startswith("error: ") and refused.out == ""
    malformed = run_cli(*base, "--as", "iv1", "issue", "void", str(first.id))
    assert malformed.code == 2 and "--reason" in malformed.err
    listed = run_cli(*base, "--json", "issue", "list", "--state", "voided")
    assert [i["id"] for i in json.loads(listed.out)] == [twice.id]
    shown = run_cli(*base, "workflow", "show")
    assert "void     found|reported → voided" in shown.out


def test_the_verifier_may_attach_the_inspectors_photos(svc: Scenario, tmp_path: Path) -> None:
    """`verify` takes --evidence (optional) from rectification@3 on."""
    issue = added(svc)
    move(svc, "sa1", issue.id, "report")
    svc.set_now(datetime(2020, 10, 9, 10))
    move(svc, "rc1", issue.id, "study", plan="换瓦", assignee="rc2", due=date(2020, 10, 16))
    before, after = tmp_path / "整改前.jpg", tmp_path / "验收现场.jpg"
    before.write_bytes(b"\xff\xd8before")
    after.write_bytes(b"\xff\xd8checked on site")
    move(svc, "rc2", issue.id, "rectify", note="修好了", files=[before])
    checked = move(svc, "qs1", issue.id, "verify", note="现场验收合格", files=[after])
    assert checked.state == "verified"
    [event] = svc.history(issue.id)[-1:]
    assert [e["name"] for e in event.payload["evidence"]] == ["验收现场.jpg"]
    assert svc.verify().ok
