"""Trust: each way a record could be bent, closed. The clock of a live database, the order of
an issue's events, imports that skipped the rules, the configuration outside the chain,
separation of duties through the assignee, and the door every event came through.

Each test failed before the change it names and passes after; storage-bound ones run on
SQLite and PostgreSQL (`db_url`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.app import verify as verifying
from engine.domain.decide import fact_event
from engine.domain.events import EventType, Rescheduled
from engine.domain.issue import Move, NewIssue
from engine.errors import (
    ClockRefused,
    DeadlineRefused,
    NotPermitted,
    Refused,
    SeparationOfDuties,
)
from engine.store.history import CHAIN_HEAD
from tests.support import Scenario, run_cli, scenario, write_org

EVIDENCE_BYTES = b"\x89PNG mended roof"


def _real() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def live(db_url: str, tmp_path: Path, org_file: Path) -> Iterator[Scenario]:
    """A live database, on the real clock."""
    s = scenario(db_url, tmp_path / "data", actor="wang", now=None)
    s.init(org_file, drill=False)
    yield s
    s.store.close()


def _add(s: Scenario, actor: str = "sa1") -> int:
    s.actor = actor
    return s.add_issue(NewIssue(title="屋顶漏雨", category="housing_safety",
                                village="v-shiban")).id


def _events(s: Scenario) -> int:
    with s.store.transaction(write=False) as tx:
        row = tx.history.run(CHAIN_HEAD).fetchone()
    return int(row[0]) if row else 0


# --- 1. the clock ---------------------------------------------------------------------------
def test_a_live_database_does_not_run_ahead_and_writes_nothing(live: Scenario) -> None:
    _add(live)
    before, outbox = _events(live), len(live.outbox())
    live.actor = None
    live.set_now(_real() + timedelta(days=3 * 365))
    with pytest.raises(ClockRefused) as e:
        live.escalate()
    assert "later than the real time" in str(e.value)
    live.set_now(None)
    assert (_events(live), len(live.outbox())) == (before, outbox)


def test_a_live_database_enters_the_past_only_with_a_reason(live: Scenario) -> None:
    live.set_now(_real() - timedelta(days=10))
    with pytest.raises(ClockRefused) as e:
        _add(live)
    assert "--backfill" in str(e.value)
    live.backfill = "从入户走访的纸质台账补录"
    issue_id = _add(live)
    [created] = live.history(issue_id)
    assert created.payload["via"]["backfill"] == "从入户走访的纸质台账补录"
    assert created.payload["via"]["channel"] == "cli"
    # the due moment has passed at the real time: asking for more time is refused then …
    live.backfill, live.actor = None, "chen"
    live.set_now(None)
    with pytest.raises(DeadlineRefused):
        live.extend(issue_id, date.today() + timedelta(days=20), "需要更多时间")
    # … and an earlier --now does not get around it without saying so
    live.set_now(_real() - timedelta(days=10) + timedelta(hours=1))
    with pytest.raises(ClockRefused):
        live.extend(issue_id, date.today() + timedelta(days=20), "需要更多时间")
    assert live.verify().ok


def test_no_event_is_dated_before_the_issues_previous_one(svc: Scenario) -> None:
    svc.set_now(datetime(2020, 10, 12, 9, 0))
    issue_id = _add(svc)
    svc.set_now(datetime(2020, 10, 9, 9, 0))
    svc.actor = "sa1"
    with pytest.raises(ClockRefused) as e:
        svc.move(Move(issue_id, "report"))
    assert "2020-10-09 09:00" in str(e.value) and "2020-10-12 09:00" in str(e.value)
    assert len(svc.history(issue_id)) == 1


def test_a_sweep_dated_before_an_issues_last_event_raises_nothing_on_it(svc: Scenario) -> None:
    svc.set_now(datetime(2020, 10, 12, 9, 0))
    issue_id = _add(svc)
    svc.set_now(datetime(2020, 10, 20, 9, 0))
    svc.actor = "sa1"
    svc.move(Move(issue_id, "report"))
    svc.actor = None
    svc.set_now(datetime(2020, 10, 19, 9, 0))  # the found stage was overdue then
    assert svc.escalate() == []
    assert svc.verify().ok


def test_verify_names_an_event_written_around_the_rules_of_time(svc: Scenario) -> None:
    svc.set_now(datetime(2020, 10, 12, 9, 0))
    issue_id = _add(svc)
    issue = svc.show(issue_id)
    early = datetime(2020, 10, 1, 9, 0, tzinfo=UTC)
    event = fact_event(issue, EventType.RESCHEDULED, "system", early,
                       Rescheduled(issue.due_at, issue.next_escalation_at))
    with svc.store.transaction() as tx:  # the store alone: no session, no admission
        tx.issues.advance(replace(issue, version=2), 1)
        tx.append(event, early)
    verdict = svc.verify()
    assert (verdict.ok, verdict.kind, verdict.issue) == (False, "rule", issue_id)
    assert verdict.first_bad == _events(svc)
    assert "before the issue's previous event" in (verdict.reason or "")


# --- 2. import obeys the workflow -------------------------------------------------------------
HEADER = "title,category,village,state,entered_at,assignee,plan,due,verified_by,verified_at\n"


def _ledger(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "ledger.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _refused_import(s: Scenario, tmp_path: Path, row: str) -> str:
    """Import one row that must be refused (nothing imported): the refusal's text."""
    before = len(s.list())
    with pytest.raises(Refused) as e:
        s.import_csv(_ledger(tmp_path, row))
    assert len(s.list()) == before
    return str(e.value)


def test_import_into_verified_needs_the_leaders_and_who_verified(svc: Scenario,
                                                                 tmp_path: Path) -> None:
    svc.set_now(datetime(2020, 10, 12, 9, 0))
    row = "漏雨,housing_safety,v-shiban,verified,2020-10-10T10:00,rc2,,,qs1,2020-10-10T10:00"
    svc.actor = "sa1"
    told = _refused_import(svc, tmp_path, row)
    assert "row 2" in told and "may not import an issue in state 'verified'" in told
    svc.actor = "qs1"  # a member of the quality-supervision group, not its leader
    assert "may not import an issue in state 'verified'" in _refused_import(svc, tmp_path, row)
    svc.actor = "wang"  # the group's leader (and the party secretary)
    bare = "漏雨,housing_safety,v-shiban,verified,2020-10-10T10:00,rc2,,,,"
    assert "who verified it and when" in _refused_import(svc, tmp_path, bare)
    own = "漏雨,housing_safety,v-shiban,verified,2020-10-10T10:00,qs2,,,qs2,2020-10-10T10:00"
    assert "separation of duties" in _refused_import(svc, tmp_path, own)
    [issue_id] = svc.import_csv(_ledger(tmp_path, row))
    assert svc.show(issue_id).state == "verified"
    assert svc.verify().ok


def test_import_into_studied_needs_a_plan_and_a_due_within_the_cap(svc: Scenario,
                                                                   tmp_path: Path) -> None:
    svc.set_now(datetime(2020, 10, 12, 9, 0))
    svc.actor = "rc1"
    far = "漏雨,housing_safety,v-shiban,studied,2020-10-09T10:00,rc2,修缮,2030-01-01,,"
    assert "more than 15 working days out" in _refused_import(svc, tmp_path, far)
    planless = "漏雨,housing_safety,v-shiban,studied,2020-10-09T10:00,rc2,,2020-10-20,,"
    assert "needs plan" in _refused_import(svc, tmp_path, planless)
    assert svc.list() == []


def test_every_bad_row_is_named_at_once_and_nothing_is_imported(svc: Scenario,
                                                                tmp_path: Path) -> None:
    svc.set_now(datetime(2020, 10, 12, 9, 0))
    svc.actor = "sa1"
    path = _ledger(tmp_path,
                   "好的,food,v-shiban,,,,,,,",
                   "坏的,food,v-nowhere,,,,,,,",
                   "越权,food,v-shiban,cleared,2020-10-10T10:00,rc2,,,qs1,2020-10-09T10:00",
                   "好的,food,c-jiezi,,,,,,,",
                   "无人,food,v-shiban,rectified,2020-10-10T10:00,,,,,")
    with pytest.raises(Refused) as e:
        svc.import_csv(path)
    message = str(e.value)
    assert message.startswith("3 problems in ledger.csv, nothing imported: ")
    assert all(where in message for where in ("ledger.csv!C3 (village) 'v-nowhere'",
                                               "ledger.csv row 4:", "ledger.csv row 6:"))
    assert not any(f"{k} (" in message or f"row {k}:" in message for k in (2, 5))
    assert svc.list() == []


def test_an_imported_assignee_may_not_verify_what_they_were_given(svc: Scenario,
                                                                   tmp_path: Path) -> None:
    svc.set_now(datetime(2020, 10, 12, 9, 0))
    svc.actor = "rc1"
    [issue_id] = svc.import_csv(_ledger(
        tmp_path, "漏雨,housing_safety,v-shiban,rectified,2020-10-10T10:00,qs2,,,,"))
    svc.actor = "qs2"
    with pytest.raises(SeparationOfDuties):
        svc.move(Move(issue_id, "verify", note="验收"))
    svc.actor = "qs1"
    assert svc.move(Move(issue_id, "verify", note="验收")).state == "verified"


# --- 8. separation of duties through the assignee ---------------------------------------------
def _studied(s: Scenario, assignee: str) -> int:
    s.set_now(datetime(2020, 10, 12, 9, 0))
    issue_id = _add(s)
    s.actor = "sa1"
    s.move(Move(issue_id, "report"))
    s.actor = "rc1"
    s.move(Move(issue_id, "study", plan="修缮", assignee=assignee, due=date(2020, 10, 20)))
    return issue_id


def test_the_assignee_may_not_verify_when_a_colleague_rectified(svc: Scenario,
                                                                tmp_path: Path) -> None:
    issue_id = _studied(svc, "qs2")
    photo = tmp_path / "roof.png"
    photo.write_bytes(EVIDENCE_BYTES)
    svc.actor = "rc1"  # a colleague of the rectification group fires it for the assignee
    svc.move(Move(issue_id, "rectify", note="已修"), [photo])
    svc.actor = "qs2"
    with pytest.raises(SeparationOfDuties) as e:
        svc.move(Move(issue_id, "verify", note="验收"))
    assert "assignee when rectify was fired" in str(e.value)
    assert "verify" not in svc.permitted(issue_id)


def test_the_first_assignee_may_not_verify_after_a_reject_reassigned_it(svc: Scenario,
                                                                       tmp_path: Path) -> None:
    issue_id = _studied(svc, "qs2")
    photo = tmp_path / "roof.png"
    photo.write_bytes(EVIDENCE_BYTES)
    svc.actor = "rc1"
    svc.move(Move(issue_id, "rectify", note="已修"), [photo])
    svc.actor = "qs1"
    svc.move(Move(issue_id, "reject", reason="照片不清", assignee="rc2"))
    svc.actor = "rc2"
    svc.move(Move(issue_id, "rectify", note="补拍"), [photo])
    svc.actor = "qs2"
    with pytest.raises(SeparationOfDuties):
        svc.move(Move(issue_id, "verify", note="验收"))
    assert svc.verify().ok


# --- 3. the configuration under the chain -----------------------------------------------------
def test_an_org_update_is_an_event_and_org_history_shows_it(svc: Scenario, tmp_path: Path,
                                                            org_file: Path) -> None:
    import yaml

    org = yaml.safe_load(org_file.read_text(encoding="utf-8"))
    org["town"]["party_secretary"] = "sa1"
    changed = write_org(tmp_path / "changed.yaml", org)
    svc.set_now(datetime(2020, 10, 12, 9, 0))
    svc.actor = None
    svc.init(changed)
    from engine.app.configuration import org_history

    history = org_history(svc.session())
    assert len(history) == 2
    assert any(c.startswith("party secretary:") and "(wang)" in c and "(sa1)" in c
               for c in history[-1].changes)
    assert history[-1].seq is not None and history[-1].seq > history[0].seq  # type: ignore
    assert svc.verify().ok


def _sql(s: Scenario, *statements: str) -> None:
    with s.store.transaction() as tx:
        for statement in statements:
            tx.conn.execute(text(statement))


def test_an_org_changed_behind_the_chains_back_is_named(svc: Scenario) -> None:
    _sql(svc, "UPDATE town SET party_secretary = 'sa1'")
    verdict = svc.verify()
    assert (verdict.ok, verdict.kind) == (False, "disagrees")
    assert "party secretary" in (verdict.reason or "")


def _edit_workflow(s: Scenario, body: str) -> None:
    if s.store.dialect.sqlite:
        _sql(s, "DROP TRIGGER workflows_no_update")
    else:
        _sql(s, "ALTER TABLE workflows DISABLE TRIGGER USER")
    with s.store.transaction() as tx:
        tx.conn.execute(text("UPDATE workflows SET body = :b"), {"b": body})


def test_a_workflow_edited_in_the_database_is_named(svc: Scenario) -> None:
    with svc.store.transaction(write=False) as tx:
        [(key, _, body)] = tx.definitions.workflow_rows()
    wf = json.loads(body)
    for t in wf["transitions"]:
        t["forbid_actors_of"] = []  # separation of duties dropped
    _edit_workflow(svc, json.dumps(wf, ensure_ascii=False, sort_keys=True))
    verdict = svc.verify()
    assert (verdict.ok, verdict.kind) == (False, "disagrees")
    assert f"stored workflow {key}" in (verdict.reason or "")


def test_a_flipped_byte_in_a_workflow_is_a_clean_refusal(svc: Scenario) -> None:
    issue_id = _add(svc)
    with svc.store.transaction(write=False) as tx:
        [(_key, _, body)] = tx.definitions.workflow_rows()
    _edit_workflow(svc, "#" + body[1:])
    svc.app.workflows.clear()
    svc.actor = "sa1"
    with pytest.raises(Refused) as e:
        svc.move(Move(issue_id, "report"))
    assert "damaged" in str(e.value) and "audit verify" in str(e.value)
    verdict = svc.verify()
    assert (verdict.ok, verdict.kind) == (False, "disagrees")


# --- 10. the door ----------------------------------------------------------------------------
def test_every_event_records_its_door(svc: Scenario) -> None:
    issue_id = _add(svc)
    [event] = svc.history(issue_id)
    assert event.payload["via"]["channel"] == "cli" and event.payload["via"]["user"]
    sweep = svc.app.session(channel="scheduler", at=datetime(2020, 10, 30, 9, 0))
    from engine.app import supervision

    supervision.escalate(sweep)
    last = svc.history(issue_id)[-1]
    assert last.type == "escalated" and last.payload["via"]["channel"] == "scheduler"


def test_history_shows_the_channel(tmp_path: Path, org_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert run_cli("--db", db, "--now", "2020-10-12T09:00", "init", "--drill", "--org",
                   str(org_file)).code == 0
    assert run_cli("--db", db, "--as", "sa1", "--now", "2020-10-12T09:00", "issue", "add",
                   "--title", "漏雨", "--category", "food", "--village", "v-shiban").code == 0
    shown = run_cli("--db", db, "issue", "history", "1")
    assert "渠道" in shown.out and "命令行（" in shown.out
    assert shown.drill and shown.err == ""
    as_json = run_cli("--db", db, "--json", "issue", "history", "1").json()
    assert as_json[0]["channel"] == "cli"
    verdict = run_cli("--db", db, "--json", "audit", "verify").json()
    assert verdict["drill"] is True and verdict["ok"] is True


def test_a_live_database_may_not_become_a_drill(tmp_path: Path, org_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert run_cli("--db", db, "init", "--org", str(org_file)).code == 0
    again = run_cli("--db", db, "init", "--drill", "--org", str(org_file))
    assert again.code == 1 and "live" in again.err
    conn = sqlite3.connect(tmp_path / "r.db")
    assert conn.execute("SELECT value FROM meta WHERE key = 'mode'").fetchone() == ("live",)
    conn.close()


def test_permission_still_comes_first(svc: Scenario) -> None:
    issue_id = _add(svc)
    svc.actor = "nobody"
    with pytest.raises(NotPermitted):
        svc.move(Move(issue_id, "report"))
    assert verifying.verify(svc.session()).ok


def test_an_imported_due_may_reach_the_stages_last_working_day_and_no_further(
        svc: Scenario, tmp_path: Path) -> None:
    svc.set_now(datetime(2020, 10, 12, 9, 0))
    svc.actor = "rc1"
    # rectified (5 working days) entered Fri 2020-10-09 10:00: Sat Oct 10 (a make-up day), 12,
    # 13, 14, 15 → due 2020-10-16 00:00, the 15th its last day; the 16th is beyond it
    late = "漏雨,housing_safety,v-shiban,rectified,2020-10-09T10:00,rc2,,2020-10-16,,"
    told = _refused_import(svc, tmp_path, late)
    assert "beyond the stage's 5 working days (latest 2020-10-15)" in told
    ok = "漏雨,housing_safety,v-shiban,rectified,2020-10-09T10:00,rc2,,2020-10-15,,"
    [issue_id] = svc.import_csv(_ledger(tmp_path, ok))
    assert svc.show(issue_id).due_at == datetime(2020, 10, 15, 16, 0, tzinfo=UTC)


def test_the_html_export_says_drill_only_for_a_drill(tmp_path: Path, org_file: Path) -> None:
    for drill in (True, False):
        db = f"sqlite:///{tmp_path / f'{drill}.db'}"
        init = ["init", "--org", str(org_file)] + (["--drill"] if drill else [])
        assert run_cli("--db", db, *(["--now", "2020-10-12T09:00"] if drill else []),
                       *init).code == 0
        out = tmp_path / f"{drill}.html"
        assert run_cli("--db", db, "audit", "export", "--format", "html", "--out",
                       str(out)).code == 0
        page = out.read_text(encoding="utf-8")
        assert ('id="drill"' in page) is drill


def test_a_backfill_reason_is_text_and_kept_only_with_a_time_in_the_past(
        tmp_path: Path, org_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert run_cli("--db", db, "init", "--org", str(org_file)).code == 0
    add = ["--as", "sa1", "issue", "add", "--title", "漏雨", "--category", "food", "--village",
           "v-shiban"]
    empty = run_cli("--db", db, "--backfill", " ", *add)
    assert empty.code == 2 and "--backfill needs a reason" in empty.err
    escaped = run_cli("--db", db, "--backfill", "a\x1b[31mb", *add)
    assert escaped.code == 1 and "--backfill" in escaped.err
    assert run_cli("--db", db, "--json", "issue", "list").json() == []
    now = run_cli("--db", db, "--json", "--backfill", "不需要", *add)  # the real time
    assert now.code == 0
    [event] = run_cli("--db", db, "--json", "issue", "history", str(now.json()["id"])).json()
    assert "backfill" not in event["payload"]["via"]
