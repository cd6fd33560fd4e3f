"""A study or reject `--due` that is not a working day is refused (exit 1, DeadlineRefused),
naming the working day before it; a ledger's due on a day off is refused the same way.

Every test runs on SQLite and on PostgreSQL (the `svc` fixture)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from engine.domain.issue import Move, NewIssue
from tests.support import Ran, Scenario, run_cli

T_STUDY = "2020-10-09T10:00"


def cli(svc: Scenario, db_url: str, *args: str, who: str = "rc1", now: str = T_STUDY) -> Ran:
    return run_cli("--db", db_url, "--data-dir", str(svc.data_dir), "--as", who, "--now", now,
                   *args)


def reported(svc: Scenario) -> int:
    svc.actor = "sa1"
    i = svc.add_issue(NewIssue(title="房屋漏雨", category="housing_safety",
                               village="v-shiban")).id
    svc.set_now(datetime(2020, 9, 30, 10, 0))
    svc.move(Move(issue_id=i, transition="report"))
    return i


def test_a_study_due_on_a_day_off_is_refused(svc: Scenario, db_url: str) -> None:
    i = reported(svc)
    base = ("issue", "move", str(i), "study", "--plan", "p", "--assignee", "rc2")
    for due, before in (("2020-10-17", "2020-10-16"), ("2020-10-11", "2020-10-10")):
        ran = cli(svc, db_url, *base, "--due", due)
        assert (ran.code, ran.out) == (1, "")
        assert ran.err == (f"error: due date {due} is not a working day (the working day"
                           f" before it is {before})\n")
    assert svc.show(i).state == "reported"
    assert cli(svc, db_url, *base, "--due", "2020-10-10").code == 0   # a make-up Saturday


def test_a_reject_due_on_a_day_off_is_refused(svc: Scenario, db_url: str) -> None:
    i = reported(svc)
    svc.set_now(datetime(2020, 10, 9, 10, 0))
    svc.actor = "rc1"
    svc.move(Move(issue_id=i, transition="study", plan="p", assignee="rc2",
                  due=date(2020, 10, 16)))
    svc.actor = "rc2"
    svc.move(Move(issue_id=i, transition="rectify", note="n", evidence=()),
             [svc_file(svc, "a.jpg")])
    ran = cli(svc, db_url, "issue", "move", str(i), "reject", "--reason", "r", "--due",
              "2020-10-24", who="qs1", now="2020-10-12T10:00")
    assert ran.code == 1
    assert ran.err == ("error: due date 2020-10-24 is not a working day (the working day"
                       " before it is 2020-10-23)\n")
    assert svc.show(i).state == "rectified"
    assert svc.verify().ok


def svc_file(svc: Scenario, name: str) -> Path:
    path = svc.data_dir.parent / name
    path.write_bytes(b"photo")
    return path


def test_an_imported_due_on_a_day_off_is_refused(svc: Scenario, db_url: str) -> None:
    ledger = svc.data_dir.parent / "ledger.csv"
    ledger.write_text(
        "title,category,village,state,entered_at,assignee,due,plan\n"
        "A,housing_safety,v-shiban,studied,2020-10-09T10:00,rc2,2020-10-18,修缮\n"
        "B,housing_safety,v-shiban,rectified,2020-10-09T10:00,rc2,2020-10-11,\n"
        "C,housing_safety,v-shiban,studied,2020-10-09T10:00,rc2,2020-10-19,修缮\n",
        encoding="utf-8")
    ran = cli(svc, db_url, "issue", "import", str(ledger), now="2020-10-12T10:00")
    assert ran.code == 1
    assert "row 2: due date 2020-10-18 is not a working day (the working day before it is" \
           " 2020-10-16)" in ran.err
    assert "row 3: due date 2020-10-11 is not a working day (the working day before it is" \
           " 2020-10-10)" in ran.err
    assert "row 4" not in ran.err
    svc.actor = "wang"
    assert svc.list() == []
