"""Messages that arrive: the channel is chosen when a message is sent, by the configuration in
force then; a message nothing routes waits (its tries unspent) and says why; migration 0007
unbinds what the old default bound to the console.

Times given to `set_now` and `--now` are naive town time (Asia/Shanghai, +08:00). The worked
issue enters `reported` on 2020-09-30 10:00 and is due 2020-10-13 00:00: its reminder (to the
village secretary chen) comes due on 2020-10-12 00:00, its interview (liu and chen) on
2020-10-14 00:00.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.domain.escalation import Escalation
from engine.domain.issue import Issue, Move, NewIssue
from engine.store.dialect import encode_time
from engine.store.outbox import OutboxEntry
from notifications.config import load
from tests.support import HEAD, HttpServer, Scenario, run_cli, scenario

REMINDER_AT = datetime(2020, 10, 12, 0, 0)
INTERVIEW_AT = datetime(2020, 10, 14, 0, 0)
ROOT = Path(__file__).resolve().parents[1]
RECORDED_DB = ROOT / "tests" / "data" / "recorded" / "campaign-2026-11.db"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No RECTIFY_* setting from outside; the working directory holds no rectify.toml."""
    for name in ("RECTIFY_DB", "RECTIFY_USER", "RECTIFY_NOW", "RECTIFY_DATA_DIR",
                 "RECTIFY_CONFIG", "RECTIFY_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


# --- helpers ------------------------------------------------------------------------------
def log_channels(tmp_path: Path, routing: str, *names: str) -> str:
    """A configuration with a file channel per name (`<name>.jsonl` in tmp_path)."""
    channels = "".join(
        f'[channels.{n}]\ntype = "file"\npath = {json.dumps(str(tmp_path / f"{n}.jsonl"))}\n'
        for n in names)
    return f"{channels}[routing]\n{routing}\n"


def configure(svc: Scenario, path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    svc.configure(load(path))
    return path


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text("utf-8").splitlines()]


def reported(svc: Scenario, title: str = "房屋漏雨") -> Issue:
    """Added and reported on 2020-09-30 10:00: due 2020-10-13 00:00."""
    svc.set_now(datetime(2020, 9, 30, 10, 0))
    svc.actor = "sa1"
    new = svc.add_issue(NewIssue(title=title, category="housing_safety", village="v-shiban",
                                 group="sa-01"))
    return svc.move(Move(issue_id=new.id, transition="report"))


def sweep(svc: Scenario, at: datetime) -> list[Escalation]:
    svc.set_now(at)
    return svc.escalate()


def dispatch_at(svc: Scenario, at: datetime) -> dict[str, list[int]]:
    svc.set_now(at)
    return {k: sorted(v) for k, v in svc.dispatch().items()}


def by_id(svc: Scenario) -> dict[int, OutboxEntry]:
    return {e.id: e for e in svc.outbox()}


@pytest.fixture
def lite(sqlite_url: str, org_file: Path, tmp_path: Path) -> Iterator[Scenario]:
    """An initialised SQLite database with the small org, the clock at the start."""
    s = scenario(sqlite_url, tmp_path / "data", actor="wang", now=datetime(2020, 9, 28, 9, 0))
    s.init(org_file)
    yield s
    s.store.close()


# === 1: the channel is chosen when the message is sent ===================================
def test_a_message_goes_where_the_configuration_of_its_sending_says(
        svc: Scenario, tmp_path: Path) -> None:
    """Queued while the reminder went to `old`; the configuration changed before dispatch:
    it goes to `new` and `extra`, each once, with the key the message was queued with."""
    config = tmp_path / "rectify.toml"
    configure(svc, config, log_channels(tmp_path, 'reminder = ["old"]', "old"))
    reported(svc)
    [reminder] = sweep(svc, REMINDER_AT)
    [queued] = svc.outbox()
    assert (queued.key, queued.channel, queued.waiting) == (
        f"escalation:{reminder.id}:rc1", None, None)

    configure(svc, config, log_channels(tmp_path, 'reminder = ["new", "extra"]',
                                        "old", "new", "extra"))
    result = dispatch_at(svc, datetime(2020, 10, 12, 9, 0))
    rows = svc.outbox()
    assert [(e.key, e.channel, e.status, e.attempts) for e in rows] == [
        (queued.key, "new", "sent", 1), (f"{queued.key}:extra", "extra", "sent", 1)]
    assert result["sent"] == [e.id for e in rows]
    assert lines(tmp_path / "old.jsonl") == []
    [new], [extra] = lines(tmp_path / "new.jsonl"), lines(tmp_path / "extra.jsonl")
    assert (new["idempotency_key"], new["channel"]) == (queued.key, "new")
    assert (extra["idempotency_key"], extra["channel"]) == (f"{queued.key}:extra", "extra")
    assert new["text"] == extra["text"] and "整改一" in new["text"]

    # routed once: another pass sends nothing again, even with the routing changed once more
    configure(svc, config, log_channels(tmp_path, 'reminder = ["old"]', "old", "new", "extra"))
    assert dispatch_at(svc, datetime(2020, 10, 12, 9, 5))["sent"] == []
    assert svc.outbox() == rows


def test_a_message_with_no_route_waits_unspent_and_says_why(
        svc: Scenario, tmp_path: Path, db_url: str) -> None:
    config = configure(svc, tmp_path / "rectify.toml",
                       log_channels(tmp_path, 'assignment = ["log"]', "log"))
    reported(svc)
    sweep(svc, INTERVIEW_AT)
    queued = svc.outbox()
    assert sorted(e.kind for e in queued) == ["interview", "interview", "reminder"]
    for n in range(3):  # pass after pass: nothing is tried, nothing dies
        result = dispatch_at(svc, datetime(2020, 10, 14, 9, n))
        assert result == {"sent": [], "retrying": [], "dead": [], "unknown": [],
                          "recovered": []}
    held = svc.outbox()
    assert [(e.id, e.status, e.channel, e.attempts, e.last_error) for e in held] == [
        (e.id, "pending", None, 0, None) for e in queued]
    assert {e.kind: e.waiting for e in held} == {
        "reminder": f"no route for 'reminder' in {config}",
        "interview": f"no route for 'interview' in {config}"}

    if db_url.startswith("sqlite"):  # what a person reads
        passed = run_cli("--db", db_url, "--config", str(config), "--now", "2020-10-14T09:05",
                         "dispatch")
        assert (passed.code, passed.out.strip()) == (
            0, "sent 0, retrying 0, dead 0, recovered 0; 3 waiting (outbox list says why)")
        listed = run_cli("--db", db_url, "--config", str(config), "--json", "outbox", "list")
        assert listed.code == 0, listed
        assert [(x["id"], x["channel"], x["status"], x["waiting"]) for x in listed.json()] == [
            (e.id, None, "pending", e.waiting) for e in held]
        text = run_cli("--db", db_url, "--config", str(config), "outbox", "list")
        assert text.code == 0 and len(text.out.splitlines()) == 3, text
        assert all(f"waiting: no route for '{e.kind}' in {config}" in line and " — " in line
                   for e, line in zip(held, text.out.splitlines(), strict=True)), text.out

    # routed now: sent, the reason gone
    configure(svc, config, log_channels(
        tmp_path, 'reminder = ["log"]\ninterview = ["log"]', "log"))
    assert dispatch_at(svc, datetime(2020, 10, 14, 10, 0))["sent"] == [e.id for e in queued]
    assert [(e.status, e.channel, e.attempts, e.waiting) for e in svc.outbox()] == [
        ("sent", "log", 1, None)] * 3
    assert len(lines(tmp_path / "log.jsonl")) == 3


def test_a_row_whose_channel_left_the_configuration_waits(svc: Scenario,
                                                         tmp_path: Path) -> None:
    """A row routed and tried on `hook` (it failed and waits for its next try); the channel is
    then taken out of the configuration: the row waits for it, its tries unspent."""
    config = tmp_path / "rectify.toml"
    configure(svc, config, '[dispatch]\nbackoff_seconds = 1\n[channels.hook]\ntype = "webhook"'
              '\nurl = "http://127.0.0.1:9/hook"\ntimeout = 1\n[routing]\nreminder = ["hook"]\n')
    reported(svc)
    sweep(svc, REMINDER_AT)
    assert dispatch_at(svc, datetime(2020, 10, 12, 9, 0))["retrying"] != []
    [tried] = svc.outbox()
    assert (tried.channel, tried.status, tried.attempts) == ("hook", "pending", 1)

    configure(svc, config, log_channels(tmp_path, 'reminder = ["log"]', "log"))
    for minute in (1, 2):
        assert dispatch_at(svc, datetime(2020, 10, 12, 9, minute))["dead"] == []
    [held] = svc.outbox()
    assert (held.channel, held.status, held.attempts, held.waiting) == (
        "hook", "pending", 1, f"channel 'hook' is not in {config}")
    assert lines(tmp_path / "log.jsonl") == []


# --- migration 0007 -----------------------------------------------------------------------
@pytest.fixture
def alembic_config() -> Iterator[Any]:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("engine.store").joinpath("migrations")))
    yield cfg


OLD_ROWS = [
    # key, channel, status, attempts, last_error: as the code before 0007 wrote them
    ("escalation:1:chen:console", "console", "pending", 0, None),  # queued with no file
    ("escalation:1:liu:console", "console", "dead", 1,
     "no channel 'console' in the configuration"),  # died when the file came
    ("escalation:2:chen:mail", "mail", "pending", 2, "smtp mail: refused"),  # tried: stays
    ("escalation:2:liu:console", "console", "sent", 1, None),  # sent: stays
]


def test_migration_0007_unbinds_what_the_old_default_bound_to_the_console(
        svc: Scenario, db_url: str, org_file: Path, tmp_path: Path,
        alembic_config: Any) -> None:
    from alembic import command
    from sqlalchemy import text

    with svc.store.transaction() as tx:
        alembic_config.attributes["connection"] = tx.conn
        command.downgrade(alembic_config, "0006")
        now = datetime(2020, 10, 14, 1, 0, tzinfo=UTC)
        for key, channel, status, attempts, error in OLD_ROWS:
            tx.conn.execute(text(
                "INSERT INTO outbox (key, kind, channel, person, issue_id, escalation_id,"
                " context, status, attempts, next_attempt_at, last_error, created_at)"
                " VALUES (:key, 'reminder', :channel, :person, NULL, NULL, :context, :status,"
                " :attempts, :now, :error, :now)"),
                {"key": key, "channel": channel, "person": key.split(":")[2],
                 "context": json.dumps(_reminder_context(key.split(":")[2]),
                                       ensure_ascii=False),
                 "status": status, "attempts": attempts, "error": error,
                 "now": encode_time(now, db_url.startswith("sqlite"))})
    svc.close()

    again = scenario(db_url, tmp_path / "data", actor="wang", now=svc.now)
    assert again.init(org_file).schema == HEAD == "0011"
    rows = again.outbox()
    assert [(e.key, e.channel, e.status, e.attempts, e.waiting) for e in rows] == [
        ("escalation:1:chen", None, "pending", 0, None),
        ("escalation:1:liu", None, "dead", 1, None),
        ("escalation:2:chen:mail", "mail", "pending", 2, None),
        ("escalation:2:liu:console", "console", "sent", 1, None),
    ]
    assert rows[1].last_error == "no channel 'console' in the configuration"

    # with a configuration now: the one queued with none goes out; the dead one stays dead
    # until a person puts it back, then it is routed too; the one bound to `mail` waits
    config = configure(again, tmp_path / "rectify.toml",
                       log_channels(tmp_path, 'reminder = ["log"]', "log"))
    assert dispatch_at(again, datetime(2020, 10, 14, 10, 0))["sent"] == [rows[0].id]
    again.outbox_retry(rows[1].id)
    assert dispatch_at(again, datetime(2020, 10, 14, 10, 1))["sent"] == [rows[1].id]
    final = by_id(again)
    assert [(final[e.id].channel, final[e.id].status) for e in rows] == [
        ("log", "sent"), ("log", "sent"), ("mail", "pending"), ("console", "sent")]
    assert final[rows[2].id].waiting == f"channel 'mail' is not in {config}"
    assert [x["recipient"]["person"] for x in lines(tmp_path / "log.jsonl")] == ["chen", "liu"]

    # down again, a message not routed yet is the console's, as the code before 0007 had it;
    # up again, it is unrouted again under the key it was queued with
    water = reported(again, "饮水不稳定")
    again.actor = "rc1"
    again.move(Move(issue_id=water.id, transition="study", plan="接通水管", assignee="rc2",
                    due=date(2020, 10, 16)))
    [queued] = [e for e in again.outbox() if e.kind == "assignment"]
    assert (queued.channel, queued.key.endswith(":rc2")) == (None, True)
    with again.store.transaction() as tx:
        alembic_config.attributes["connection"] = tx.conn
        command.downgrade(alembic_config, "0006")
        down = tx.conn.execute(text("SELECT key, channel FROM outbox WHERE id = :id"),
                               {"id": queued.id}).one()
    assert tuple(down) == (f"{queued.key}:console", "console")
    again.close()
    up = scenario(db_url, tmp_path / "data", actor="wang", now=again.now)
    up.init(org_file)
    assert [(e.key, e.channel) for e in up.outbox() if e.id == queued.id] == [
        (queued.key, None)]
    up.close()


def _reminder_context(person: str) -> dict[str, Any]:
    from notifications.render import sample_context

    context = sample_context("reminder")
    context["recipient"] = {"name": {"chen": "陈支书", "liu": "刘镇长"}[person]}
    return context


def test_migration_0007_on_a_database_recorded_before_it(tmp_path: Path) -> None:
    """A campaign recorded at revision 0004 with no configuration: 36 messages queued for the
    console, never tried. Upgraded, each is unrouted under its key without `:console`."""
    path = tmp_path / "old.db"
    shutil.copy(RECORDED_DB, path)
    conn = sqlite3.connect(path)
    before = conn.execute("SELECT id, key, channel, status FROM outbox ORDER BY id").fetchall()
    conn.close()
    assert len(before) == 36 and {(c, s) for _, _, c, s in before} == {("console", "pending")}

    old = scenario(f"sqlite:///{path}", tmp_path / "data")
    from engine.store.migrate import upgrade

    with old.store.transaction() as tx:
        upgrade(tx.conn)
    after = [(e.id, e.key, e.channel, e.status, e.attempts) for e in old.outbox()]
    old.close()
    assert after == [(i, key.removesuffix(":console"), None, "pending", 0)
                     for i, key, _, _ in before]


# === 2: no configuration, no dispatcher (unless --console) ===============================
def test_dispatch_without_a_configuration_is_refused_then_one_is_written_and_it_delivers(
        svc: Scenario, db_url: str, tmp_path: Path) -> None:
    reported(svc)
    sweep(svc, INTERVIEW_AT)  # queued with no configuration anywhere
    queued = svc.outbox()
    assert len(queued) == 3 and {e.channel for e in queued} == {None}

    at = ("--db", db_url, "--now", "2020-10-14T09:00")
    for command in (["dispatch"], ["--json", "dispatch"], ["serve", "--interval", "1"]):
        refused = run_cli(*at, *command)
        assert (refused.code, refused.out) == (2, ""), (command, refused)
        [line] = refused.err.splitlines()
        assert line.startswith("error: no notification configuration: looked for"
                               f" {tmp_path / 'rectify.toml'}"), line
        assert "--console" in line
        assert svc.outbox() == queued  # nothing claimed, tried, routed or dead

    # --console is for when there is none: with a configuration it is refused as well
    (tmp_path / "rectify.toml").write_text(
        log_channels(tmp_path, 'reminder = ["log"]\ninterview = ["log"]', "log"), "utf-8")
    both = run_cli(*at, "dispatch", "--console")
    assert (both.code, both.out) == (2, ""), both
    assert both.err.startswith("error: --console is for when there is no notification"
                               " configuration"), both.err
    assert svc.outbox() == queued

    # the file in the working directory is found: everything queued before it goes out
    sent = run_cli(*at, "--json", "dispatch")
    assert (sent.code, sent.err) == (0, ""), sent
    assert sorted(sent.json()["sent"]) == [e.id for e in queued]
    assert [(e.status, e.channel, e.attempts) for e in svc.outbox()] == [("sent", "log", 1)] * 3
    assert sorted(x["recipient"]["person"] for x in lines(tmp_path / "log.jsonl")) == [
        "liu", "rc1", "rc1"]


def test_dispatch_console_prints_when_there_is_no_configuration(
        svc: Scenario, db_url: str, tmp_path: Path) -> None:
    reported(svc)
    [reminder] = sweep(svc, REMINDER_AT)
    [row] = svc.outbox()
    ran = run_cli("--db", db_url, "--now", "2020-10-12T09:00", "dispatch", "--console")
    assert (ran.code, ran.err) == (0, ""), ran
    assert f"── console · reminder · #{row.id} " in ran.out
    assert "To:      整改一 (rc1)" in ran.out
    assert ran.out.rstrip().endswith("sent 1, retrying 0, dead 0, recovered 0")
    [done] = svc.outbox()
    assert (done.key, done.channel, done.status) == (f"escalation:{reminder.id}:rc1",
                                                     "console", "sent")


# === 4: outbox retry --all [--dead] ======================================================
def test_retry_all_puts_back_what_failed_and_with_dead_the_dead(
        lite: Scenario, http_server: HttpServer, sqlite_url: str, tmp_path: Path) -> None:
    """One reminder on four channels: `ok` takes it, `busy` fails for now (retrying), `gone`
    refuses it for good (dead), `slow` answers too late on a robot (unknown)."""
    svc = lite
    base = http_server.base
    config = configure(svc, tmp_path / "rectify.toml", f"""
[dispatch]
max_tries = 5
backoff_seconds = 600
[channels.ok]
type = "webhook"
url = "{base}/ok"
[channels.busy]
type = "webhook"
url = "{base}/busy"
[channels.gone]
type = "webhook"
url = "{base}/gone"
[channels.slow]
type = "wecom"
url = "{base}/slow?key=k"
timeout = 0.3
[routing]
reminder = ["ok", "busy", "gone", "slow"]
""")
    http_server.script("/busy", status=503)
    http_server.script("/gone", status=404)
    http_server.script("/slow", delay=5)
    reported(svc)
    sweep(svc, REMINDER_AT)
    first = dispatch_at(svc, datetime(2020, 10, 12, 9, 0))
    rows = {e.channel: e for e in svc.outbox()}
    assert {name: e.status for name, e in rows.items()} == {
        "ok": "sent", "busy": "pending", "gone": "dead", "slow": "unknown"}
    assert (first["sent"], first["retrying"], first["dead"], first["unknown"]) == (
        [rows["ok"].id], [rows["busy"].id], [rows["gone"].id], [rows["slow"].id])
    http_server.release.set()
    for path in ("/busy", "/gone", "/slow"):
        http_server.script(path)  # every receiver answers again

    common = ("--db", sqlite_url, "--config", str(config), "--now", "2020-10-12T09:05")
    for wrong in (["outbox", "retry", str(rows["gone"].id), "--all"],
                  ["outbox", "retry", "--dead"], ["outbox", "retry"]):
        refused = run_cli(*common, *wrong)
        assert (refused.code, refused.out) == (2, ""), refused
        assert len(refused.err.splitlines()) == 1 and refused.err.startswith("error: ")

    back = run_cli(*common, "--json", "outbox", "retry", "--all")
    assert (back.code, back.err) == (0, ""), back
    assert back.json() == [
        {"id": e.id, "key": e.key, "kind": "reminder", "channel": name, "person": "rc1",
         "issue": e.issue_id, "was": was, "status": "pending"}
        for name, e, was in ((n, rows[n], w) for n, w in (("busy", "pending"),
                                                          ("slow", "unknown")))]
    now = by_id(svc)
    for name in ("busy", "slow"):  # due now, its tries counted again
        e = now[rows[name].id]
        assert (e.status, e.attempts, e.next_attempt_at) == (
            "pending", 0, datetime(2020, 10, 12, 1, 5, tzinfo=UTC)), e
    assert now[rows["gone"].id].status == "dead" and now[rows["ok"].id].status == "sent"
    assert dispatch_at(svc, datetime(2020, 10, 12, 9, 5))["sent"] == sorted(
        [rows["busy"].id, rows["slow"].id])

    nothing = run_cli(*common, "outbox", "retry", "--all")
    assert (nothing.code, nothing.out.strip()) == (0, "nothing to put back in the queue")
    dead_too = run_cli(*common, "outbox", "retry", "--all", "--dead")
    assert dead_too.code == 0, dead_too
    assert dead_too.out.splitlines()[-1] == "1 message(s) back in the queue"
    assert f"{rows['gone'].id:>5} dead     -> pending" in dead_too.out
    assert dispatch_at(svc, datetime(2020, 10, 12, 9, 6))["sent"] == [rows["gone"].id]
    assert {e.status for e in svc.outbox()} == {"sent"}
    assert len(http_server.seen("/gone")) == 2 and len(http_server.seen("/ok")) == 1

    # one id still works as before
    assert run_cli(*common, "--json", "outbox", "retry", str(rows["ok"].id)).code == 1


# === 5: briefing --send ==================================================================
def test_briefing_send_queues_one_message_per_recipient(svc: Scenario, db_url: str,
                                                        tmp_path: Path) -> None:
    config = tmp_path / "rectify.toml"
    config.write_text(log_channels(tmp_path, 'briefing = ["log", "copy"]', "log", "copy")
                      + '[briefing]\nto = ["party_secretary", "liaison", "chen", "wang"]\n',
                      "utf-8")
    roof = reported(svc)
    sweep(svc, INTERVIEW_AT)
    escalated = svc.outbox()
    at = ("--db", db_url, "--config", str(config), "--now", "2020-10-14T09:00")

    sent = run_cli(*at, "--json", "briefing", "--send")
    assert (sent.code, sent.err) == (0, ""), sent
    assert sent.json() == {"queued": 3, "to": ["wang", "liu", "chen"]}  # each once
    rows = svc.outbox()[len(escalated):]
    assert [(e.kind, e.person, e.channel, e.key, e.issue_id) for e in rows] == [
        ("briefing", p, None, f"briefing:2020-10-14T09:00:{p}", None)
        for p in ("wang", "liu", "chen")]
    for e in rows:
        assert e.context["recipient"] == {"name": {"wang": "王书记", "liu": "刘镇长",
                                                   "chen": "陈支书"}[e.person]}
        assert [c["issue"]["id"] for c in e.context["briefing"]["open_interviews"]] == [
            roof.id]

    again = run_cli(*at, "briefing", "--send")  # the same minute: nothing queued twice
    assert (again.code, again.out.strip()) == (
        0, "简报已排队发送给 3 人：王书记、刘镇长、陈支书"), again
    assert svc.outbox()[len(escalated):] == rows

    # the briefing now counts from the one queued
    printed = run_cli(*at, "--json", "briefing")
    assert printed.json()["since"] == "2020-10-14 09:00"

    delivered = run_cli("--db", db_url, "--config", str(config), "--now", "2020-10-14T09:01",
                        "--json", "dispatch")
    assert delivered.code == 0, delivered
    for log in ("log", "copy"):
        got = lines(tmp_path / f"{log}.jsonl")
        assert sorted(x["recipient"]["person"] for x in got) == ["chen", "liu", "wang"]
        assert all(x["kind"] == "briefing" and "黄家镇" in x["subject"] for x in got)


# === 6: a drill's serve keeps its own time, and the briefing's cron reads it ==============
def test_the_drill_clock_runs_on_and_the_cron_is_read_on_it() -> None:
    from apscheduler.triggers.cron import CronTrigger

    from engine.clock import DrillClock
    from engine.scheduler import OnTheClock

    town = ZoneInfo("Asia/Shanghai")
    start = datetime(2020, 10, 19, 8, 29, 58, tzinfo=town)  # a Monday
    clock = DrillClock(start)
    first = clock.now()
    assert first >= start
    time.sleep(0.01)
    assert clock.now() > first  # it runs on with the real time

    trigger = OnTheClock(CronTrigger.from_crontab("30 8 * * mon", timezone=town), clock)
    real_now = datetime.now(town)
    fire = trigger.get_next_fire_time(None, real_now)
    assert fire is not None and fire > real_now
    assert trigger.on_clock(fire) == datetime(2020, 10, 19, 8, 30, tzinfo=town)
    after = trigger.get_next_fire_time(fire, fire)
    assert after is not None
    assert trigger.on_clock(after) == datetime(2020, 10, 26, 8, 30, tzinfo=town)


def test_serve_in_a_drill_queues_the_briefing_when_the_drill_clock_reaches_its_cron(
        lite: Scenario, sqlite_url: str, tmp_path: Path) -> None:
    """`serve --now` two seconds before Monday 08:30 (the briefing's cron): the briefing is
    queued at the drill's 08:30, and dispatched."""
    svc = lite
    config = tmp_path / "rectify.toml"
    config.write_text(log_channels(tmp_path, 'briefing = ["log"]', "log")
                      + '[briefing]\ncron = "30 8 * * mon"\nto = ["party_secretary"]\n',
                      "utf-8")
    reported(svc)
    out, err = tmp_path / "serve-out.txt", tmp_path / "serve-err.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), "--db", sqlite_url, "--config", str(config),
             "--data-dir", str(tmp_path / "data"), "--now", "2020-10-19T08:29:58", "serve",
             "--interval", "0.5"], cwd=tmp_path, env=env, stdout=o, stderr=e)
    try:
        limit = time.monotonic() + 60
        while not lines(tmp_path / "log.jsonl"):
            assert proc.poll() is None, (out.read_text("utf-8"), err.read_text("utf-8"))
            assert time.monotonic() < limit, ("no briefing within 60 s",
                                              out.read_text("utf-8"))
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    said = out.read_text("utf-8")
    assert code == 0, (said, err.read_text("utf-8"))
    assert "the clock starts at 2020-10-19 08:29:5" in said, said
    assert "briefing queued for 1 message(s)" in said, said
    [row] = [e for e in svc.outbox() if e.kind == "briefing"]
    assert (row.key, row.person, row.channel, row.status) == (
        "briefing:2020-10-19T08:30:wang", "wang", "log", "sent")
    assert row.created_at >= datetime(2020, 10, 19, 0, 30, tzinfo=UTC)
    [line] = lines(tmp_path / "log.jsonl")
    assert line["recipient"]["person"] == "wang" and "2020-10-19 08:30" in line["text"]


# === 3: messages for extension requests ==================================================
def studied(svc: Scenario, assignee: str = "rc2", title: str = "房屋漏雨") -> Issue:
    """Reported, then studied on 2020-10-09 10:00 with `assignee`, due 2020-10-16."""
    issue = reported(svc, title)
    svc.set_now(datetime(2020, 10, 9, 10, 0))
    svc.actor = "rc1"
    return svc.move(Move(issue_id=issue.id, transition="study", plan="维修屋面",
                         assignee=assignee, due=date(2020, 10, 16)))


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "denied"])
def test_a_request_tells_who_may_decide_it_and_the_decision_tells_who_asked(
        svc: Scenario, tmp_path: Path, approve: bool) -> None:
    configure(svc, tmp_path / "rectify.toml", log_channels(
        tmp_path, 'extension_request = ["log"]\nextension = ["log"]', "log"))
    issue = studied(svc)
    svc.set_now(datetime(2020, 10, 12, 9, 41))
    svc.actor = "rc2"
    asked = svc.extend(issue.id, date(2020, 10, 20), "瓦片未到货")
    requests = [e for e in svc.outbox() if e.kind == "extension_request"]
    # the packaged workflow: the village's liaison leader and the party secretary decide
    assert [(e.key, e.person, e.issue_id, e.channel) for e in requests] == [
        (f"extension_request:{asked.id}:liu", "liu", issue.id, None),
        (f"extension_request:{asked.id}:wang", "wang", issue.id, None)]
    for e in requests:
        assert e.context["extension"] == {
            "to": "2020-10-20", "status": "pending", "note": "", "id": asked.id,
            "requested_by": "整改二", "requested_at": "2020-10-12 09:41",
            "decided_by": "", "decided_at": ""}
        assert e.context["reason"] == "瓦片未到货"
        assert e.context["issue"]["village_name"] == "石板村"
        assert e.context["issue"]["due"] == "2020-10-16 止"

    svc.set_now(datetime(2020, 10, 12, 15, 7))
    svc.actor = "liu"
    svc.decide_extension(asked.id, approve, "同意" if approve else "材料可先借用")
    after = svc.show(issue.id)
    [told] = [e for e in svc.outbox() if e.kind == "extension"]
    assert (told.key, told.person) == (f"extension:{issue.id}:{after.version}:rc2", "rc2")
    assert told.context["extension"] == {
        "to": "2020-10-20", "status": "approved" if approve else "denied",
        "note": "同意" if approve else "材料可先借用", "id": asked.id,
        "requested_by": "整改二", "requested_at": "2020-10-12 09:41",
        "decided_by": "刘镇长", "decided_at": "2020-10-12 15:07"}
    assert told.context["issue"]["due"] == ("2020-10-20 止" if approve else "2020-10-16 止")

    assert len(dispatch_at(svc, datetime(2020, 10, 12, 15, 10))["sent"]) == 3
    got = {(x["kind"], x["recipient"]["person"]): x for x in lines(tmp_path / "log.jsonl")}
    assert set(got) == {("extension_request", "liu"), ("extension_request", "wang"),
                        ("extension", "rc2")}
    for (kind, person), x in got.items():
        for form in ("subject", "text", "markdown"):
            for an_id in ("rc2", "liu", "wang", "v-shiban"):  # names, not ids
                assert an_id not in x[form], (kind, person, form, an_id)
        assert x["text"].startswith({"liu": "刘镇长", "wang": "王书记", "rc2": "整改二"}[person])
        assert "石板村" in x["text"] and "2020-10-20" in x["text"]
        assert "整改二于 2020-10-12 09:41 提出延期申请" in x["text"] if kind != "extension" \
            else "申请人：整改二（2020-10-12 09:41 提出）" in x["text"]
    decided = got[("extension", "rc2")]["text"]
    assert "审批人：刘镇长（2020-10-12 15:07 审批）" in decided
    assert ("审批状态：已批准" if approve else "审批状态：未批准") in decided
    assert got[("extension_request", "wang")]["subject"] == (
        f"【延期申请待审批】石板村“房屋漏雨”问题（#{issue.id}）申请延期至 2020-10-20")


def test_who_asks_is_not_told_of_their_own_request_and_english_says_it_too(
        svc: Scenario, tmp_path: Path) -> None:
    """The party secretary answers for the stage and asks: only the liaison leader is told."""
    configure(svc, tmp_path / "rectify.toml", 'locale = "en"\n' + log_channels(
        tmp_path, 'extension_request = ["log"]', "log"))
    issue = studied(svc, assignee="wang")
    svc.set_now(datetime(2020, 10, 12, 9, 41))
    svc.actor = "wang"
    asked = svc.extend(issue.id, date(2020, 10, 20), "tiles late")
    assert [(e.key, e.person) for e in svc.outbox() if e.kind == "extension_request"] == [
        (f"extension_request:{asked.id}:liu", "liu")]
    dispatch_at(svc, datetime(2020, 10, 12, 9, 45))
    [x] = lines(tmp_path / "log.jsonl")
    assert x["subject"] == (f"[Extension to decide] #{issue.id} 房屋漏雨 (石板村) to 2020-10-20")
    assert x["text"].startswith("Dear 刘镇长,\n\n王书记 asked on 2020-10-12 09:41 for more time")
    assert f"Extension request {asked.id}" in x["text"]
