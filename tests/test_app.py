"""The application layer as its doors use it: the composition root, sessions, what a person
may do (the state machine's answer), connections per thread, and the workflow's data deciding
who is told — on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from engine.app import issues, setup
from engine.bootstrap import build
from engine.config.workflow import load as load_workflow
from engine.domain.issue import Move, NewIssue
from engine.errors import NotFound, NotPermitted
from tests.support import HEAD, Scenario, run_cli, scenario, write_org
from workflows import default_path

AT = datetime(2020, 9, 28, 9, 0)  # town time


def studied(svc: Scenario) -> int:
    """An issue of v-shiban studied with rc2 as its assignee, due 2020-10-16."""
    svc.set_now(AT)
    svc.actor = "sa1"
    new = svc.add_issue(NewIssue(title="房屋漏雨", category="housing_safety",
                                 village="v-shiban", group="sa-01"))
    svc.move(Move(issue_id=new.id, transition="report"))
    svc.actor = "rc1"
    svc.move(Move(issue_id=new.id, transition="study", plan="维修", assignee="rc2",
                  due=date(2020, 10, 16)))
    return new.id


def allowed(svc: Scenario, person: str, issue_id: int) -> list[str]:
    svc.actor = person
    return svc.permitted(issue_id)


def test_what_each_person_may_do_is_the_machines_answer(svc: Scenario) -> None:
    issue_id = studied(svc)
    assert allowed(svc, "rc2", issue_id) == ["rectify", "request_extension"]  # the assignee
    # the rectification group leader may also correct: reassign and edit
    assert allowed(svc, "rc1", issue_id) == ["rectify", "reassign", "edit"]
    assert allowed(svc, "liu", issue_id) == ["decide_extension", "record_interview"]
    assert allowed(svc, "wang", issue_id) == [
        "decide_extension", "record_interview", "decide_accountability", "reassign", "edit"]
    assert allowed(svc, "iv1", issue_id) == ["edit"]  # information verification edits only
    assert allowed(svc, "chen", issue_id) == []  # the village secretary: an assignee answers
    assert allowed(svc, "nobody", issue_id) == []
    svc.actor = "rc2"
    photo = svc.data_dir.parent / "roof.jpg"
    photo.write_bytes(b"a mended roof")
    svc.move(Move(issue_id=issue_id, transition="rectify", note="修好"), [photo])
    assert allowed(svc, "qs1", issue_id) == ["verify", "reject"]
    assert allowed(svc, "rc2", issue_id) == ["request_extension"]  # the assignee, any stage
    with pytest.raises(NotPermitted):
        allowed(svc, "stranger", issue_id)
    with pytest.raises(NotFound):
        allowed(svc, "qs1", 999)


def test_the_cli_says_what_a_person_may_do(svc: Scenario, db_url: str) -> None:
    issue_id = studied(svc)
    base = ["--db", db_url, "--data-dir", str(svc.data_dir), "--now", "2020-10-09T10:00"]
    ran = run_cli(*base, "--as", "rc2", "--json", "issue", "allowed", str(issue_id))
    assert ran.code == 0, ran.err
    assert ran.json() == {"issue": issue_id, "person": "rc2",
                          "allowed": ["rectify", "request_extension"]}
    assert run_cli(*base, "--as", "nobody", "issue", "allowed", str(issue_id)).out == (
        "现在无可办理事项\n")
    said = run_cli(*base, "--as", "rc2", "issue", "allowed", str(issue_id)).out
    assert said == "整改、申请延期\n"
    refused = run_cli(*base, "--as", "ghost", "issue", "allowed", str(issue_id))
    assert refused.code == 1 and refused.err.startswith("error: unknown person 'ghost'")


def test_a_session_carries_its_actor_and_moment_and_is_not_changed(svc: Scenario) -> None:
    first = svc.app.session("sa1", AT)
    made = issues.add(first, NewIssue(title="饮水不稳定", category="drinking_water",
                                      village="c-jiezi", group="sa-01"))
    assert (first.actor, first.at) == ("sa1", AT)
    assert made.created_by == "sa1" and made.created_at.replace(tzinfo=None) != AT  # UTC
    later = first.next("iv1", datetime(2020, 9, 29, 9, 0))
    assert later.defs is first.defs, "the next command shares what the first one read"
    reported = issues.move(later, Move(issue_id=made.id, transition="report"))
    assert reported.state == "reported"
    [_, event] = issues.history(later, made.id)
    assert (event.actor, event.at.isoformat()) == ("iv1", "2020-09-29T01:00:00+00:00")
    assert (first.actor, first.at) == ("sa1", AT)


def test_each_thread_holds_its_own_connection(sqlite_url: str, tmp_path: Path) -> None:
    app = build(sqlite_url, data_dir=tmp_path / "data")
    app.store.allow_create = True
    try:
        mine = app.store.connection()
        assert app.store.connection() is mine
        theirs: list[object] = []
        worker = threading.Thread(target=lambda: theirs.append(app.store.connection()))
        worker.start()
        worker.join()
        assert theirs and theirs[0] is not mine
    finally:
        app.close()


def _body(db_url: str, key: str) -> tuple[dict[str, Any], str]:
    app = build(db_url)
    try:
        with app.store.transaction(write=False) as tx:
            row = tx.conn.execute(text("SELECT body, digest FROM workflows WHERE key = :k"),
                                  {"k": key}).one()
    finally:
        app.close()
    return json.loads(row[0]), str(row[1])


def test_an_older_database_is_given_the_rules_it_was_run_by(
        db_url: str, org_file: Path, tmp_path: Path) -> None:
    """Migration 0005: a workflow body registered before notices and actions were data gets
    exactly the rules the engine applied to it, and the same digest as the packaged file."""
    from importlib.resources import files

    from alembic import command
    from alembic.config import Config

    # a database that old was run by rectification@2 (the last version before owners)
    older = Path(__file__).parent / "data" / "rectification-v2.yaml"
    svc = scenario(db_url, tmp_path / "data", actor="wang", now=AT)
    svc.init(org_file, older)
    key = load_workflow(older).key
    packaged, digest = _body(db_url, key)
    with svc.store.transaction() as tx:
        cfg = Config()
        cfg.set_main_option("script_location", str(files("engine.store").joinpath("migrations")))
        cfg.attributes["connection"] = tx.conn
        command.downgrade(cfg, "0004")
    svc.close()
    old, old_digest = _body(db_url, key)
    assert "actions" not in old and all("notify" not in t for t in old["transitions"])
    assert old_digest != digest

    again = scenario(db_url, tmp_path / "data", actor="wang", now=AT)
    assert again.init(org_file, older).schema == HEAD  # init upgrades, then registers the same body
    upgraded, new_digest = _body(db_url, key)
    assert (upgraded, new_digest) == (packaged, digest)
    canonical = json.dumps(upgraded, ensure_ascii=False, sort_keys=True)
    assert hashlib.sha256(canonical.encode()).hexdigest() == digest
    again.close()


def test_who_is_told_is_the_workflows_data(db_url: str, tmp_path: Path) -> None:
    """A town's own workflow (a new version) tells the village secretary of every study as
    well: the messages follow the file, not the code."""
    text_ = default_path().read_text(encoding="utf-8")
    text_ = text_.replace("version: 3", "version: 4").replace(
        "      - {kind: assignment, to: [assignee]}\n",
        "      - {kind: assignment, to: [assignee, village_secretary]}\n", 1)
    custom = tmp_path / "ours.yaml"
    custom.write_text(text_, encoding="utf-8")
    app = build(db_url, data_dir=tmp_path / "data")
    try:
        done = setup.init(app.session("wang", AT), write_org(tmp_path / "org.yaml"), custom,
                          drill=True)
        assert done.workflow == "rectification@4"
        s = app.session("sa1", AT)
        new = issues.add(s, NewIssue(title="房屋漏雨", category="housing_safety",
                                     village="v-shiban", group="sa-01"))
        issues.move(s.next("sa1", AT), Move(issue_id=new.id, transition="report"))
        issues.move(s.next("rc1", datetime(2020, 10, 9, 10)),
                    Move(issue_id=new.id, transition="study", plan="维修", assignee="rc2",
                         due=date(2020, 10, 16)))
        from engine.app import dispatch

        told = [(m.kind, m.person) for m in dispatch.messages(s, issue_id=new.id)]
    finally:
        app.close()
    assert told == [("assignment", "rc2"), ("assignment", "chen")]
