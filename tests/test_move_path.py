"""A move's hot path (issues.move): the row it writes is the fold of the history, whichever
columns changed, and the order rule finds the issue's last event whether the row tells it (the
issue still at its stage's entry) or the history must (an event since), on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.domain.issue import Move, NewIssue, fold
from engine.errors import ClockRefused
from engine.store import rows
from tests.support import Scenario


def _row(svc: Scenario, issue_id: int) -> tuple[object, ...]:
    """The issue's stored row, as the database holds it (text, numbers)."""
    engine = create_engine(svc.store.engine.url)
    try:
        with engine.connect() as conn:
            got = conn.execute(text(f"SELECT {rows.select_list(rows.ISSUE_COLUMNS)} FROM issues"
                                    " WHERE id = :id"), {"id": issue_id}).one()
    finally:
        engine.dispose()
    return tuple(got)


def _folds(svc: Scenario, issue_id: int) -> None:
    assert svc.show(issue_id) == fold(svc.history(issue_id))


def test_each_move_writes_the_row_its_history_folds_to(svc: Scenario, tmp_path: Path
                                                       ) -> None:
    svc.set_now(datetime(2020, 9, 28, 9, 0))
    svc.actor = "sa1"
    issue_id = svc.add_issue(NewIssue(title="房屋漏雨", category="housing_safety",
                                      village="v-shiban", group="sa-01")).id
    svc.move(Move(issue_id, "report"))
    _folds(svc, issue_id)
    reported = _row(svc, issue_id)
    svc.set_now(datetime(2020, 9, 29, 10, 0))
    svc.actor = "rc1"
    svc.move(Move(issue_id, "study", plan="维修", assignee="rc2", due=date(2020, 10, 16)))
    _folds(svc, issue_id)
    studied = _row(svc, issue_id)
    # what a move does not change stays as it was: title … created_by, the workflow
    unchanged = [k for k, c in enumerate(rows.ISSUE_COLUMNS)
                 if c not in ("state", "version", "assignee", "plan", "due_at",
                              "stage_entered_at", "stage_version", "next_escalation_at")]
    assert [studied[k] for k in unchanged] == [reported[k] for k in unchanged]
    assert studied[rows.ISSUE_COLUMNS.index("assignee")] == "rc2"
    svc.set_now(datetime(2020, 9, 30, 11, 0))
    svc.actor = "rc2"
    photo = tmp_path / "move-path-roof.png"
    photo.write_bytes(b"\x89PNG mended roof")
    svc.move(Move(issue_id, "rectify", note="修好"), [photo])  # the assignee and plan stay
    _folds(svc, issue_id)
    rectified = _row(svc, issue_id)
    for column in ("assignee", "plan"):
        k = rows.ISSUE_COLUMNS.index(column)
        assert rectified[k] == studied[k]
    assert svc.verify().ok


def test_a_move_follows_an_event_raised_in_its_stage(svc: Scenario) -> None:
    """The issue is past its stage's entry (a reminder was raised): its last event is read
    from the history, and a move dated before it is refused."""
    svc.set_now(datetime(2020, 10, 12, 9, 0))
    svc.actor = "sa1"
    issue_id = svc.add_issue(NewIssue(title="屋顶漏雨", category="housing_safety",
                                      village="v-shiban")).id
    svc.actor = None
    svc.set_now(datetime(2020, 10, 19, 9, 0))
    assert {e.issue_id for e in svc.escalate()} == {issue_id}
    svc.actor = "sa1"
    svc.set_now(datetime(2020, 10, 15, 9, 0))
    with pytest.raises(ClockRefused) as e:
        svc.move(Move(issue_id, "report"))
    assert "2020-10-15 09:00" in str(e.value) and "2020-10-19 09:00" in str(e.value)
    svc.set_now(datetime(2020, 10, 20, 9, 0))
    after = svc.move(Move(issue_id, "report"))
    assert after.state == "reported"
    assert [e.type for e in svc.history(issue_id)][after.version - 1] == "transition"
    _folds(svc, issue_id)
    assert svc.verify().ok


def test_an_imported_issue_is_not_moved_before_its_import(svc: Scenario, tmp_path: Path
                                                          ) -> None:
    """An imported issue entered its stage before it was imported: the last event is the
    import, dated when it was imported, not when the ledger says the stage began."""
    sheet = tmp_path / "move-path-ledger.csv"
    with sheet.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["title", "category", "village", "group", "state", "entered_at"])
        w.writerow(["饮水管道破损", "drinking_water", "v-shiban", "sa-01", "found",
                    "2020-09-30 10:00"])
    svc.actor = "sa1"
    svc.set_now(datetime(2020, 10, 12, 9, 0))
    [issue_id] = svc.import_csv(sheet)
    svc.set_now(datetime(2020, 10, 9, 9, 0))  # after the stage began, before the import
    with pytest.raises(ClockRefused) as e:
        svc.move(Move(issue_id, "report"))
    assert "2020-10-12 09:00" in str(e.value)
    assert len(svc.history(issue_id)) == 1
    svc.set_now(datetime(2020, 10, 13, 9, 0))
    svc.move(Move(issue_id, "report"))
    _folds(svc, issue_id)
    assert svc.verify().ok
