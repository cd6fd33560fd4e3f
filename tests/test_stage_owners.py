"""Who answers for a stage (docs/domain.md, "Who answers for a stage"): reminders reach the
stage's owners, an interview is conducted by the village's liaison leader with the owners
summoned (and the village secretary when an owner is a village cadre), an accountability case
names the owners and those interviewed and its decision tells them; every message reads as its
recipient stands to it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.app import supervision
from engine.domain.escalation import Escalation
from engine.domain.issue import Issue, NewIssue
from engine.errors import BadOption, NotFound
from engine.store.escalations import EscalationFilter
from notifications.render import Renderer
from tests.support import Scenario, run_cli, scenario, small_org_led, write_org
from tests.test_escalations import move, reported, studied, sweep

NAMES = {"wang": "王书记", "liu": "刘镇长", "chen": "陈支书", "rc1": "整改一", "rc2": "整改二",
         "sa1": "自查一", "sa2": "自查二"}


def url(svc: Scenario) -> str:
    return svc.store.engine.url.render_as_string(hide_password=False)


def add_as(svc: Scenario, actor: str, at: datetime, group: str | None = "sa-01") -> Issue:
    svc.actor, svc.now = actor, at
    return svc.add_issue(NewIssue(title="房屋漏雨", category="housing_safety",
                                  village="v-shiban", group=group))


def decide(svc: Scenario, case: int, note: str, outcome: str,
           subjects: list[str] | None = None) -> Escalation:
    return supervision.decide_accountability(svc.session(), case, note, outcome, subjects)


def raised_at(svc: Scenario, issue_id: int, when: datetime) -> dict[str, Escalation]:
    return {e.level: e for e in sweep(svc, when) if e.issue_id == issue_id}


def told(svc: Scenario, e: Escalation, key: str = "escalation") -> dict[str, dict[str, Any]]:
    """Each person's message about `e` (its context), by person id."""
    out = {}
    for m in svc.outbox(issue_id=e.issue_id):
        if m.escalation_id == e.id and m.key.startswith(f"{key}:"):
            out[m.person] = m.context
    return out


def text_of(kind: str, context: dict[str, Any]) -> str:
    return Renderer("zh_CN").render(kind, context).text


def test_each_stage_reminds_its_owners(svc: Scenario) -> None:
    # found: the group that found it (sa-01: sa1 and sa2)
    found = add_as(svc, "sa1", datetime(2020, 9, 30, 10))
    assert found.next_escalation_at is not None
    assert raised_at(svc, found.id, found.next_escalation_at)["reminder"].recipients == (
        "sa1", "sa2")
    # reported: the rectification group leader; studied: the assignee
    issue = reported(svc)
    assert raised_at(svc, issue.id, datetime(2020, 10, 12))["reminder"].recipients == ("rc1",)
    done = studied(svc)
    assert done.next_escalation_at is not None
    assert raised_at(svc, done.id, done.next_escalation_at)["reminder"].recipients == ("rc2",)
    # rectified: the quality-supervision leader (wang in the small org); never the village
    # secretary, who can neither verify nor clear
    svc.set_now(datetime(2020, 10, 16, 10))
    evidence = svc.data_dir.parent / "roof.jpg"
    evidence.write_bytes(b"\xff\xd8roof")
    fixed = move(svc, "rc2", done.id, "rectify", note="修好了", files=[evidence])
    assert fixed.next_escalation_at is not None
    rung = raised_at(svc, done.id, fixed.next_escalation_at)["reminder"]
    assert (rung.stage, rung.recipients, rung.subjects) == ("rectified", ("wang",), ("wang",))
    assert "chen" not in {p for e in svc.escalations(EscalationFilter(level="reminder"))
                          for p in e.recipients}


def test_a_reminder_offers_an_extension_only_to_who_may_ask_for_one(svc: Scenario) -> None:
    """`request_extension` is the assignee's, else the village secretary's: the finders of an
    issue in *found* are not told to ask for more time; the assignee in *studied* is."""
    found = add_as(svc, "sa1", datetime(2020, 9, 30, 10))
    assert found.next_escalation_at is not None
    reminder = raised_at(svc, found.id, found.next_escalation_at)["reminder"]
    to_finders = {p: text_of("reminder", c) for p, c in told(svc, reminder).items()}
    assert set(to_finders) == {"sa1", "sa2"}
    for text in to_finders.values():
        assert "下一步：请在截止前完成本阶段工作。\n" in text and "延期" not in text
    done = studied(svc)
    assert done.next_escalation_at is not None
    reminder = raised_at(svc, done.id, done.next_escalation_at)["reminder"]
    assert "确有困难的，请在截止前提出延期申请" in text_of("reminder", told(svc, reminder)["rc2"])


def test_an_interview_is_held_by_the_liaison_leader_with_the_owners_summoned(
        svc: Scenario) -> None:
    issue = studied(svc)  # the assignee rc2 owns *studied*
    interview = raised_at(svc, issue.id, datetime(2020, 10, 20))["interview"]
    assert (interview.recipients, interview.subjects) == (("liu", "rc2"), ("rc2",))
    messages = told(svc, interview)
    assert set(messages) == {"liu", "rc2"}
    conductor, subject = messages["liu"], messages["rc2"]
    assert (conductor["role"], subject["role"]) == ("conductor", "subject")
    to_liu, to_rc2 = text_of("interview", conductor), text_of("interview", subject)
    # the conductor is told whom to summon, not summoned himself
    assert "约谈主持：刘镇长（包村领导）\n请您约谈：整改二\n约谈事由：" in to_liu
    assert "请按时参加约谈" not in to_liu
    assert "下一步：请约谈上述责任人，" in to_liu  # named above it, not below
    # the subject is told who summons them and why
    assert "约谈人：刘镇长（包村领导）\n约谈对象：整改二（含您本人）\n约谈事由：" in to_rc2
    assert "请按时参加约谈" in to_rc2 and "超期" in to_rc2
    # `escalation list --to` finds it for either
    for person in ("liu", "rc2"):
        found = svc.escalations(EscalationFilter(to=person, level="interview"))
        assert [e.id for e in found] == [interview.id]


def test_the_interview_record_names_who_held_it_who_was_interviewed_and_who_attended(
        svc: Scenario) -> None:
    issue = studied(svc)
    interview = raised_at(svc, issue.id, datetime(2020, 10, 20))["interview"]
    svc.actor = "liu"
    svc.record_escalation(interview.id, "已约谈", attendees=["rc2", "rc1"])
    messages = told(svc, interview, key="recorded")
    assert set(messages) == {"rc2", "wang"}  # not liu, who recorded it
    for context in messages.values():
        assert context["attendees"] == ["整改二", "整改一"]
        assert ("约谈人：刘镇长（包村领导）\n约谈对象：整改二\n参加约谈：整改二、整改一\n"
                "约谈情况：已约谈\n") in text_of("interview_recorded", context)


def test_a_village_cadre_owner_brings_the_village_secretary_to_the_interview(
        svc: Scenario) -> None:
    found = add_as(svc, "sa2", datetime(2020, 9, 30, 10), group=None)  # sa2 is of 石板村
    interview = raised_at(svc, found.id, datetime(2020, 10, 15))["interview"]
    assert interview.subjects == ("sa2", "chen")
    assert interview.recipients == ("liu", "sa2", "chen")


def test_accountability_names_the_owners_and_those_interviewed_and_its_decision_tells_them(
        svc: Scenario) -> None:
    issue = reported(svc)
    late = raised_at(svc, issue.id, datetime(2020, 10, 21))
    case = late["accountability"]
    assert case.subjects == ("rc1",)  # the owner, also the one interviewed
    assert case.recipients == ("wang",)  # party secretary and QS leader (both wang here)
    assert "rc1" not in told(svc, case), "the subjects learn of the decision, not the raise"
    raised_text = text_of("accountability", told(svc, case)["wang"])
    assert "提请对象：王书记\n问责对象（拟）：整改一\n整改责任人：" in raised_text
    svc.actor = "wang"
    decided = decide(svc, case.id, "超期两周, 诫勉谈话", "admonish", ["rc1", "chen"])
    assert (decided.status, decided.outcome, decided.subjects) == (
        "decided", "admonish", ("rc1", "chen"))
    messages = told(svc, decided, key="decided")
    assert set(messages) == {"rc1", "chen"}  # not wang, who decided it
    text = text_of("accountability", messages["rc1"])
    assert "诫勉谈话" in text and "问责对象：整改一、陈支书（含您本人）" in text
    assert "超期两周" in text
    # the history keeps the outcome and the subjects; the audit folds them back
    [event] = [e for e in svc.history(issue.id) if e.type == "accountability_decided"]
    assert (event.payload["outcome"], event.payload["subjects"]) == ("admonish", ["rc1", "chen"])
    assert svc.verify().ok
    # `report person` counts the cases a person answered for, by outcome
    for person, cases in (("rc1", 1), ("chen", 1), ("wang", 0)):
        r = run_cli("--db", url(svc), "--json", "report", "person", person)
        got = json.loads(r.out)
        assert got["accountability_answered"]["admonish"] == cases, person
        assert [x["id"] for x in got["accountability_cases"]] == [case.id] * cases
    text = run_cli("--db", url(svc), "report", "person", "rc1").out
    assert "作为问责对象：1 件；诫勉谈话 1" in text


def test_an_accountability_case_asks_its_decider_to_decide_and_is_copied_to_the_other(
        sqlite_url: str, tmp_path: Path) -> None:
    """Raised to the party secretary and the quality-supervision leader: only the party
    secretary may decide (`decide_accountability`); the leader reads it as a copy."""
    org = write_org(tmp_path / "org.yaml", small_org_led("quality_supervision", "qs1"))
    svc = scenario(sqlite_url, tmp_path / "data", actor="wang", now=datetime(2020, 9, 28, 9))
    svc.init(org)
    issue = reported(svc)
    case = raised_at(svc, issue.id, datetime(2020, 10, 21))["accountability"]
    assert case.recipients == ("wang", "qs1")
    messages = told(svc, case)
    assert (messages["wang"]["role"], messages["qs1"]["role"]) == ("", "copy")
    to_wang, to_qs1 = text_of("accountability", messages["wang"]), text_of(
        "accountability", messages["qs1"])
    for text in (to_wang, to_qs1):
        assert "提请对象：王书记\n抄送：督查一\n问责对象（拟）：整改一\n" in text
    assert "作出问责决定并在整改系统中记录" in to_wang
    assert "作出问责决定" not in to_qs1 and "本通知抄送您知悉" in to_qs1
    assert "下一步：请知悉，并督促责任人立即整改到位。" in to_qs1
    svc.close()


def test_a_decision_is_refused_without_a_known_outcome_or_subject(svc: Scenario) -> None:
    issue = reported(svc)
    case = raised_at(svc, issue.id, datetime(2020, 10, 21))["accountability"]
    svc.actor = "wang"
    with pytest.raises(BadOption, match="unknown outcome 'fine'"):
        decide(svc, case.id, "x", "fine")
    with pytest.raises(NotFound, match="ghost"):
        decide(svc, case.id, "x", "talk", ["ghost"])
    assert svc.escalation(case.id).status == "open"
    r = run_cli("--db", url(svc), "--as", "wang", "escalation", "decide", str(case.id),
                "--note", "x")
    assert r.code == 2 and "--outcome" in r.err and r.err.count("\n") == 1


def test_the_command_line_decides_and_shows_subjects(svc: Scenario) -> None:
    issue = reported(svc)
    case = raised_at(svc, issue.id, datetime(2020, 10, 21))["accountability"]
    r = run_cli("--db", url(svc), "--data-dir", str(svc.data_dir), "--as", "wang",
                "--now", "2020-10-21T10:00", "--json", "escalation", "decide", str(case.id),
                "--note", "提醒谈话", "--outcome", "talk", "--subject", "rc1")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert (got["outcome"], got["subjects"], got["status"]) == ("talk", ["rc1"], "decided")


def test_init_refuses_a_village_without_a_liaison_leader_or_secretary(tmp_path: Path) -> None:
    org = yaml.safe_load((Path(__file__).parent / "data" / "small-org.yaml").read_text())
    del org["units"][1]["liaison"]
    path = write_org(tmp_path / "org.yaml", org)
    r = run_cli("--db", f"sqlite:///{tmp_path / 'r.db'}", "init", "--org", str(path))
    assert r.code == 1 and r.out == ""
    assert "c-jiezi" in r.err and "liaison leader" in r.err and r.err.count("\n") == 1
    assert not (tmp_path / "r.db").exists() or scenario(
        f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "d").list() == []



def test_the_audit_refuses_a_decision_with_an_outcome_nobody_may_give(
        sqlite_url: str, org_file: Path, tmp_path: Path) -> None:
    """A decision written past the handler (the last event rewritten and rehashed, the row to
    match) is not sound: the rule check knows the outcomes."""
    from tests import audit_support as a

    svc = scenario(sqlite_url, tmp_path / "data", actor="wang", now=datetime(2020, 9, 28, 9))
    svc.init(org_file)
    issue = reported(svc)
    case = raised_at(svc, issue.id, datetime(2020, 10, 21))["accountability"]
    svc.actor = "wang"
    decide(svc, case.id, "罚款", "talk")
    assert svc.verify().ok
    svc.close()
    conn = a.open_raw(Path(sqlite_url.removeprefix("sqlite:///")))
    top = a.row(conn, a.last_seq(conn))
    payload = json.loads(top["payload"])
    payload["outcome"] = "fine"
    top["payload"] = json.dumps(payload, ensure_ascii=False, sort_keys=True,
                                separators=(",", ":"))
    conn.execute("UPDATE history SET payload = ?, hash = ? WHERE seq = ?",
                 (top["payload"], a.rehash(top), top["seq"]))
    conn.execute("UPDATE escalations SET outcome = 'fine' WHERE id = ?", (case.id,))
    conn.close()
    verdict = scenario(sqlite_url, tmp_path / "data").verify()
    assert (verdict.ok, verdict.kind, verdict.first_bad) == (False, "rule", top["seq"])
    assert "unknown accountability outcome 'fine'" in (verdict.reason or "")
