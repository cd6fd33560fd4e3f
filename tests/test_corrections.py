"""Corrections as events: `issue reassign` and `issue edit`. Each an event with who, when, why,
the old and new values; refused (exit 1) for the wrong person or state; `--json` the issue;
folded by the audit as by the row (`audit verify` sound), checked by its rule check.

Every test runs on SQLite and on PostgreSQL (the `svc` fixture)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from engine.domain.events import EventType
from engine.domain.issue import Move, NewIssue
from engine.present import event_details, event_what
from engine.words import ENGLISH
from tests.support import Ran, Scenario, run_cli

T_REASSIGN = "2020-10-12T10:00"   # Monday; the studied stage is due 2020-10-16 24:00


def cli(svc: Scenario, db_url: str, *args: str, who: str = "rc1",
        now: str = T_REASSIGN) -> Ran:
    return run_cli("--db", db_url, "--data-dir", str(svc.data_dir), "--as", who, "--now", now,
                   "--json", *args)


def added(svc: Scenario, village: str = "v-shiban") -> int:
    svc.actor = "sa1"
    svc.set_now(datetime(2020, 9, 30, 9, 0))
    return svc.add_issue(NewIssue(title="房屋漏雨", category="housing_safety", village=village,
                                  household="张三户", group="sa-01")).id


def studied(svc: Scenario, assignee: str = "rc2") -> int:
    i = added(svc)
    svc.set_now(datetime(2020, 9, 30, 10, 0))
    svc.move(Move(issue_id=i, transition="report"))
    svc.actor = "rc1"
    svc.set_now(datetime(2020, 10, 9, 10, 0))
    svc.move(Move(issue_id=i, transition="study", plan="维修屋面", assignee=assignee,
                  due=date(2020, 10, 16)))
    return i


def rectify(svc: Scenario, i: int, who: str, when: datetime) -> None:
    photo = svc.data_dir.parent / "roof.jpg"
    photo.write_bytes(b"roof")
    svc.actor = who
    svc.set_now(when)
    svc.move(Move(issue_id=i, transition="rectify", note="修好"), [photo])


def refused(ran: Ran, code: int = 1) -> str:
    assert (ran.code, ran.out) == (code, ""), ran
    assert ran.err.startswith("error: ") and len(ran.err.splitlines()) == 1
    return ran.err.removeprefix("error: ").strip()


# --- reassign ---------------------------------------------------------------------------------
def test_reassign_keeps_the_due_and_tells_the_new_assignee(svc: Scenario, db_url: str) -> None:
    i = studied(svc)
    before = svc.show(i)
    ran = cli(svc, db_url, "issue", "reassign", str(i), "--to", "chen", "--reason", "调岗")
    assert ran.code == 0, ran.err
    shown = ran.json()
    assert (shown["id"], shown["assignee"], shown["state"]) == (i, "chen", "studied")
    assert shown["due_at"] == "2020-10-17T00:00:00+08:00"
    after = svc.show(i)
    assert (after.due_at, after.stage_version, after.stage_entered_at) == (
        before.due_at, before.stage_version, before.stage_entered_at)
    assert after.next_escalation_at == before.next_escalation_at
    last = svc.history(i)[-1]
    assert (last.type, last.actor, last.at) == (
        EventType.REASSIGNED, "rc1", datetime.fromisoformat("2020-10-12T10:00+08:00"))
    assert {k: last.payload[k] for k in ("from", "to", "reason")} == {
        "from": "rc2", "to": "chen", "reason": "调岗"}
    assert "due" not in last.payload
    told = [(m.kind, m.person) for m in svc.outbox() if m.issue_id == i]
    assert ("assignment", "chen") in told and ("reassignment", "rc2") in told
    old = next(m for m in svc.outbox() if m.issue_id == i and m.kind == "reassignment")
    assert old.key == f"reassignment:{i}:{after.version}:rc2"
    assert (old.context["issue"]["assignee_name"], old.context["reason"]) == ("陈支书", "调岗")
    assert svc.verify().ok


def test_reassign_with_a_due_date_moves_the_ladder(svc: Scenario, db_url: str) -> None:
    i = studied(svc)
    ran = cli(svc, db_url, "issue", "reassign", str(i), "--to", "chen", "--reason", "r",
              "--due", "2020-10-23")
    assert ran.code == 0, ran.err
    assert ran.json()["due_at"] == "2020-10-24T00:00:00+08:00"
    issue = svc.show(i)
    assert issue.next_escalation_at == datetime.fromisoformat("2020-10-23T00:00+08:00")
    assert svc.history(i)[-1].payload["due"] == "2020-10-23"
    assert svc.verify().ok


@pytest.mark.parametrize(("due", "needle"), [
    ("2020-10-09", "in the past"),
    ("2020-10-17", "not a working day (the working day before it is 2020-10-16)"),
    ("2020-11-03", "more than 15 working days out"),
])
def test_reassign_due_keeps_the_cap_from_now(svc: Scenario, db_url: str, due: str,
                                             needle: str) -> None:
    i = studied(svc)
    assert needle in refused(cli(svc, db_url, "issue", "reassign", str(i), "--to", "chen",
                                 "--reason", "r", "--due", due))
    assert svc.show(i).assignee == "rc2"


def test_reassign_a_rectified_issue_caps_the_due_at_its_working_days(
        svc: Scenario, db_url: str) -> None:
    i = studied(svc)
    rectify(svc, i, "rc2", datetime(2020, 10, 12, 9, 0))
    line = refused(cli(svc, db_url, "issue", "reassign", str(i), "--to", "chen", "--reason",
                       "r", "--due", "2020-10-20"))
    assert line == "due date 2020-10-20 is more than 5 working days out (latest 2020-10-19)"
    ran = cli(svc, db_url, "issue", "reassign", str(i), "--to", "chen", "--reason", "r",
              "--due", "2020-10-19", who="wang")
    assert ran.code == 0, ran.err
    assert ran.json()["assignee"] == "chen"
    assert svc.verify().ok


@pytest.mark.parametrize(("who", "to", "needle"), [
    ("rc2", "chen", "rc2 may not reassign: rectification_leader or party_secretary may"),
    ("sa1", "chen", "sa1 may not reassign"),
    ("rc1", "ghost", "unknown person 'ghost' for --to"),
    ("rc1", "rc2", "rc2 is already the assignee"),
])
def test_reassign_refused_for_the_wrong_person(svc: Scenario, db_url: str, who: str, to: str,
                                               needle: str) -> None:
    i = studied(svc)
    versions = svc.show(i).version
    assert needle in refused(cli(svc, db_url, "issue", "reassign", str(i), "--to", to,
                                 "--reason", "r", who=who))
    assert svc.show(i).version == versions


def test_reassign_refused_outside_studied_and_rectified(svc: Scenario, db_url: str) -> None:
    i = added(svc)
    line = refused(cli(svc, db_url, "issue", "reassign", str(i), "--to", "chen", "--reason",
                       "r"))
    assert line == f"issue {i} is found: only a studied or rectified issue can be reassigned"
    assert refused(cli(svc, db_url, "issue", "reassign", "999", "--to", "chen", "--reason",
                       "r")) == "no issue 999"
    j = studied(svc)
    assert "--reason" in refused(cli(svc, db_url, "issue", "reassign", str(j), "--to", "chen",
                                     "--reason", "  "))


def test_the_assignee_replaced_stays_of_record_for_separation(svc: Scenario,
                                                               db_url: str) -> None:
    i = studied(svc, assignee="qs1")
    assert cli(svc, db_url, "issue", "reassign", str(i), "--to", "rc2", "--reason",
               "r").code == 0
    rectify(svc, i, "rc2", datetime(2020, 10, 13, 9, 0))
    line = refused(cli(svc, db_url, "issue", "move", str(i), "verify", "--note", "ok",
                       who="qs1", now="2020-10-14T10:00"))
    assert "qs1 may not verify" in line and "assignee when rectify was fired" in line
    assert cli(svc, db_url, "issue", "move", str(i), "verify", "--note", "ok", who="qs2",
               now="2020-10-14T10:00").code == 0
    assert svc.verify().ok


def test_history_shows_a_reassign(svc: Scenario, db_url: str) -> None:
    i = studied(svc)
    cli(svc, db_url, "issue", "reassign", str(i), "--to", "chen", "--reason", "调岗")
    ran = run_cli("--db", db_url, "issue", "history", str(i))
    assert ran.code == 0
    assert "改派：整改二 → 陈支书" in ran.out
    assert "理由：调岗" in ran.out and "rc2" not in ran.out


# --- edit --------------------------------------------------------------------------------------
def test_edit_changes_fields_and_keeps_old_and_new(svc: Scenario, db_url: str) -> None:
    i = added(svc)
    ran = cli(svc, db_url, "issue", "edit", str(i), "--title", "屋面漏雨", "--household", "",
              "--severity", "high", "--category", "housing_safety", "--reason", "录错",
              who="iv1")
    assert ran.code == 0, ran.err
    shown = ran.json()
    assert (shown["title"], shown["household"], shown["severity"]) == ("屋面漏雨", None, "high")
    last = svc.history(i)[-1]
    assert (last.type, last.actor) == (EventType.EDITED, "iv1")
    assert last.payload["reason"] == "录错"
    assert last.payload["changes"] == {          # category was already so: not a change
        "title": {"old": "房屋漏雨", "new": "屋面漏雨"},
        "household": {"old": "张三户", "new": None},
        "severity": {"old": "medium", "new": "high"}}
    assert event_what(last, ENGLISH) == "edited: title, household, severity"
    assert event_details(last, ENGLISH) == ["reason: 录错", "title: 房屋漏雨 → 屋面漏雨",
                                   "household: 张三户 → —", "severity: medium → high"]
    assert run_cli("--db", db_url, "issue", "history", str(i)).code == 0
    assert svc.verify().ok


def test_edit_to_a_listed_village_follows_its_ladder(svc: Scenario, db_url: str) -> None:
    i = added(svc)
    svc.actor = "wang"
    svc.list_village("c-jiezi", True)
    before = svc.show(i)
    ran = cli(svc, db_url, "issue", "edit", str(i), "--village", "c-jiezi", "--group", "",
              "--reason", "录错村", who="wang", now="2020-09-30T09:30")
    assert ran.code == 0, ran.err
    after = svc.show(i)
    assert (after.village, after.group, after.listed_by_village) == ("c-jiezi", None, True)
    assert after.due_at == before.due_at
    assert svc.verify().ok


@pytest.mark.parametrize(("args", "who", "code", "needle"), [
    (("--title", "x"), "sa1", 1, "sa1 may not edit"),
    (("--title", "x"), "rc2", 1, "rc2 may not edit"),
    (("--village", "nowhere"), "rc1", 1, "unknown village 'nowhere'"),
    (("--group", "nogroup"), "rc1", 1, "unknown group 'nogroup'"),
    (("--title", "房屋漏雨"), "rc1", 1, "nothing to change"),
    (("--title", "a\x1bb"), "rc1", 1, "--title contains a control character"),
    (("--title", "  "), "rc1", 2, "--title must not be empty"),
    (("--category", "roof"), "rc1", 2, "unknown category 'roof'"),
    ((), "rc1", 2, "issue edit needs a field to change"),
])
def test_edit_refused(svc: Scenario, db_url: str, args: tuple[str, ...], who: str, code: int,
                      needle: str) -> None:
    i = added(svc)
    line = refused(cli(svc, db_url, "issue", "edit", str(i), *args, "--reason", "r",
                       who=who, now="2020-09-30T09:30"), code)
    assert needle in line
    assert svc.show(i).version == 1


def test_edit_refused_on_a_closed_issue(svc: Scenario, db_url: str, tmp_path: Path) -> None:
    i = added(svc)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"a")
    svc.set_now(datetime(2020, 9, 30, 10, 0))
    svc.move(Move(issue_id=i, transition="fix", note="n"), [photo])
    svc.actor = "qs1"
    svc.move(Move(issue_id=i, transition="verify", note="ok"))
    svc.actor = "wang"
    svc.move(Move(issue_id=i, transition="clear"))
    line = refused(cli(svc, db_url, "issue", "edit", str(i), "--title", "x", "--reason", "r",
                       who="wang"))
    assert line == f"issue {i} is cleared: a closed issue cannot be edited"


# --- the audit's rule check ----------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "actor", "action"), [
    ("reassign", "sa1", "reassign"),
    ("edit", "rc2", "edit"),
])
def test_verify_names_a_correction_by_someone_not_allowed(svc: Scenario, kind: str, actor: str,
                                                          action: str) -> None:
    from engine.domain.decide import fact_event
    from engine.domain.events import Edited, Reassigned
    from engine.domain.issue import evolve

    i = studied(svc)
    issue = svc.show(i)
    at = datetime.fromisoformat("2020-10-12T10:00+08:00")
    event = (fact_event(issue, EventType.REASSIGNED, actor, at, Reassigned(
                 "rc2", "chen", "r", issue.due_at, issue.next_escalation_at))
             if kind == "reassign" else
             fact_event(issue, EventType.EDITED, actor, at, Edited(
                 {"title": (issue.title, "x")}, "r", False, issue.next_escalation_at)))
    with svc.store.transaction() as tx:  # the store alone: no handler's check
        tx.issues.update_all(evolve(issue, event), issue.version)
        tx.append(event, at)
    verdict = svc.verify()
    assert (verdict.ok, verdict.kind, verdict.issue) == (False, "rule", i)
    assert f"{actor} may not {action}" in (verdict.reason or "")


def test_verify_keeps_the_replaced_assignee_of_record(svc: Scenario, db_url: str) -> None:
    """A verify by the assignee a reassign replaced, written around the handler, is named."""
    from engine.domain.decide import fact_event
    from engine.domain.events import Moved
    from engine.domain.issue import evolve

    i = studied(svc, assignee="qs1")
    assert cli(svc, db_url, "issue", "reassign", str(i), "--to", "rc2", "--reason",
               "r").code == 0
    rectify(svc, i, "rc2", datetime(2020, 10, 13, 9, 0))
    issue = svc.show(i)
    at = datetime.fromisoformat("2020-10-14T10:00+08:00")
    event = fact_event(issue, EventType.TRANSITION, "qs1", at, Moved(
        due_at=None, listed_by_village=False, next_escalation_at=None, note="ok"))
    event = type(event)(**{**{f: getattr(event, f) for f in event.__slots__},
                           "transition": "verify", "from_state": "rectified",
                           "to_state": "verified"})
    with svc.store.transaction() as tx:
        tx.issues.update_all(evolve(issue, event), issue.version)
        tx.append(event, at)
    verdict = svc.verify()
    assert (verdict.ok, verdict.kind) == (False, "rule")
    assert "qs1 may not verify: separation of duties" in (verdict.reason or "")
