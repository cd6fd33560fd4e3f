"""The notification pipeline end to end: outbox rows written with the event, the dispatcher
against real servers on 127.0.0.1 (an aiosmtpd SMTP server; one HTTP server playing the webhook
receiver, the DingTalk robot and the WeCom robot), retries and back-off, `dead` and
`outbox retry`, a dispatcher killed between sending and marking, user text kept inert, the
configuration errors of the command line, and the meeting briefing.

Times given to `set_now` and `--now` are naive town time (Asia/Shanghai, +08:00). The worked
issue enters `reported` on 2020-09-30 10:00 and is due 2020-10-13 00:00: its reminder comes due
on 2020-10-12 00:00 (to the village secretary chen), its interview on 2020-10-14 00:00 (liu, the
liaison leader, and chen), its accountability on 2020-10-20 00:00 (wang).

Rows and escalations are checked on SQLite and PostgreSQL (the `svc` fixture); the servers and
the command line on SQLite.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from engine.domain.escalation import Escalation
from engine.domain.events import Event
from engine.domain.issue import Issue, Move, NewIssue
from engine.errors import NotPermitted
from engine.store.escalations import EscalationFilter
from engine.store.history import HistoryRepository
from engine.store.issues import IssueRepository
from engine.store.outbox import OutboxEntry, OutboxRepository
from notifications.channels.smtp import message_id
from notifications.config import load, parse
from notifications.delivery import Pacer, backoff
from notifications.render import Renderer
from tests.conftest import START
from tests.support import (
    SMALL_ORG,
    HttpServer,
    Scenario,
    Seen,
    SmtpServer,
    free_port,
    run_cli,
    running_smtp_server,
    scenario,
    write_org,
)

ROOT = Path(__file__).resolve().parents[1]
CST = timezone(timedelta(hours=8))
SECOND = timedelta(seconds=1)

REMINDER_AT = datetime(2020, 10, 12, 0, 0)
INTERVIEW_AT = datetime(2020, 10, 14, 0, 0)
LATE = datetime(2020, 11, 30, 10, 0)  # every level of the ladder has come due

MOBILES = {"wang": "13800000001", "chen": "13800000003", "zhou": "13800000005",
           "rc1": "13800000007"}


def _reachable_org() -> dict[str, Any]:
    """The small org with an email for everyone and a mobile for wang, chen, zhou and rc1 (liu has
    none: the WeCom robot then gets markdown rather than text)."""
    org = copy.deepcopy(SMALL_ORG)
    for person in org["people"]:
        person["email"] = f"{person['id']}@huangjia.example"
        if person["id"] in MOBILES:
            person["mobile"] = MOBILES[person["id"]]
        else:
            person.pop("mobile", None)
    return org


ORG = _reachable_org()
NAME: dict[str, str] = {p["id"]: p["name"] for p in ORG["people"]}
EMAIL: dict[str, str] = {p["id"]: p["email"] for p in ORG["people"]}
NOTHING: dict[str, list[int]] = {
    "sent": [], "retrying": [], "dead": [], "unknown": [], "recovered": []}


class Injected(Exception):
    """A failure injected late in a transaction."""


# --- helpers ------------------------------------------------------------------------------
def aware(naive: datetime) -> datetime:
    return naive.replace(tzinfo=CST)


def toml_str(value: object) -> str:
    """A TOML basic string (JSON's string syntax is a subset)."""
    return json.dumps(str(value), ensure_ascii=False)


def configure(svc: Scenario, path: Path, text: str) -> Path:
    """Write the TOML configuration at `path` and make `svc` use it."""
    path.write_text(text, encoding="utf-8")
    svc.configure(load(path))
    return path


def reach(svc: Scenario, tmp_path: Path) -> None:
    """Load the org whose people have addresses (an org update: nobody is dropped)."""
    svc.init(write_org(tmp_path / "org-reachable.yaml", ORG))


def reported(svc: Scenario, title: str = "房屋漏雨", village: str = "v-shiban") -> Issue:
    """Added and reported on 2020-09-30 10:00: due 2020-10-13 00:00."""
    svc.set_now(datetime(2020, 9, 30, 10, 0))
    svc.actor = "sa1"
    new = svc.add_issue(NewIssue(title=title, category="housing_safety", village=village,
                                 group="sa-01"))
    return svc.move(Move(issue_id=new.id, transition="report"))


def sweep(svc: Scenario, at: datetime) -> list[Escalation]:
    svc.set_now(at)
    return svc.escalate()


def dispatch_at(svc: Scenario, at: datetime, console: bool = False) -> dict[str, list[int]]:
    """One pass at `at`; the ids in each list sorted (rows retried with jitter come due in no
    fixed order)."""
    svc.set_now(at)
    return {k: sorted(v) for k, v in svc.dispatch(console).items()}


def by_id(svc: Scenario) -> dict[int, OutboxEntry]:
    return {e.id: e for e in svc.outbox()}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No RECTIFY_* setting from outside, no ./rectify.toml, loopback never through a proxy."""
    for name in ("RECTIFY_DB", "RECTIFY_USER", "RECTIFY_NOW", "RECTIFY_DATA_DIR",
                 "RECTIFY_CONFIG", "RECTIFY_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def lite(sqlite_url: str, tmp_path: Path) -> Iterator[Scenario]:
    """An initialised SQLite database with the reachable org, the clock at START."""
    s = scenario(sqlite_url, tmp_path / "data", actor="wang", now=START)
    s.init(write_org(tmp_path / "org-reachable.yaml", ORG))
    yield s
    s.store.close()


# --- SMTP (tests.support.running_smtp_server) --------------------------------------------
@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


def parts(mail: EmailMessage) -> tuple[str, str]:
    """The text/plain and text/html bodies, decoded."""
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    return plain.get_content().rstrip("\n"), html.get_content().rstrip("\n")


# --- HTTP: the webhook receiver and the two robots (tests.support.running_http_server) -------
@pytest.fixture
def receiver(http_server: HttpServer) -> HttpServer:
    return http_server


def ding_sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def hook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# === 1: outbox rows are written in the transaction of the event ============================
ROUTED = """
[channels.mail]
type = "smtp"
host = "127.0.0.1"
sender = "zhenggai@huangjia.example"
[channels.ding]
type = "dingtalk"
url = "http://127.0.0.1:9/robot/send?access_token=t"
[channels.log]
type = "file"
path = "outbox.jsonl"
[routing]
reminder = ["mail", "log"]
interview = ["mail", "ding"]
accountability = ["log"]
assignment = ["mail"]
"""


def test_a_sweep_writes_one_row_per_recipient_once(svc: Scenario, tmp_path: Path) -> None:
    """Queued with no channel: a dispatcher routes each message when it sends it."""
    configure(svc, tmp_path / "rectify.toml", ROUTED)
    issue = reported(svc)
    assert svc.outbox() == []  # adding and reporting tell nobody

    reminder, interview = sweep(svc, INTERVIEW_AT)
    assert (reminder.level, reminder.recipients) == ("reminder", ("rc1",))
    assert (interview.level, interview.recipients) == ("interview", ("liu", "rc1"))
    rows = svc.outbox()
    assert sorted((e.key, e.kind, e.channel, e.person, e.escalation_id) for e in rows) == sorted([
        (f"escalation:{reminder.id}:rc1", "reminder", None, "rc1", reminder.id),
        (f"escalation:{interview.id}:liu", "interview", None, "liu", interview.id),
        (f"escalation:{interview.id}:rc1", "interview", None, "rc1", interview.id),
    ])
    for e in rows:
        assert (e.status, e.attempts, e.issue_id, e.claimed_at, e.sent_at, e.last_error,
                e.waiting) == ("pending", 0, issue.id, None, None, None, None), e
        assert e.next_attempt_at == e.created_at == aware(INTERVIEW_AT)
        # the context is a snapshot of the issue at the event, addressed to the row's person
        assert e.context["recipient"] == {"name": NAME[e.person]}
        assert e.context["town"] == {"name": "黄家镇"}
        assert (e.context["issue"]["id"], e.context["issue"]["title"],
                e.context["issue"]["village_name"], e.context["issue"]["stage"]) == (
            issue.id, "房屋漏雨", "石板村", "reported")
        assert e.context["escalation"]["level"] == e.kind
        assert e.context["next_step"]

    # the same sweep again raises nothing and tells nobody twice
    assert sweep(svc, INTERVIEW_AT) == []
    assert svc.outbox() == rows
    assert sweep(svc, INTERVIEW_AT + timedelta(hours=9)) == []
    assert svc.outbox() == rows

    # a refused move writes no row; the same move by the right person writes the assignment
    svc.set_now(datetime(2020, 10, 14, 10, 0))
    svc.actor = "sa1"
    study = Move(issue_id=issue.id, transition="study", plan="new roof", assignee="rc2",
                 due=date(2020, 10, 20))
    with pytest.raises(NotPermitted):
        svc.move(study)
    assert svc.outbox() == rows
    svc.actor = "rc1"
    studied = svc.move(study)
    added = [e for e in svc.outbox() if e not in rows]
    assert [(e.key, e.kind, e.channel, e.person, e.escalation_id) for e in added] == [
        (f"assignment:{issue.id}:{studied.version}:rc2", "assignment", None, "rc2", None)]
    assert added[0].context["plan"] == "new roof"
    assert added[0].context["issue"]["assignee_name"] == "整改二"


@pytest.mark.parametrize("fail_at", ["append", "advance"])
def test_a_rolled_back_sweep_leaves_no_outbox_row(svc: Scenario, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  fail_at: str) -> None:
    """The rows are added, then the transaction fails: when the events are chained at the
    commit (the accountability case's among them), or at the issue row's update."""
    configure(svc, tmp_path / "rectify.toml", ROUTED)
    issue = reported(svc)
    history = svc.history(issue.id)

    added: list[int] = []
    armed = [True]
    add = OutboxRepository.add

    def counting_add(self: OutboxRepository, rows: Sequence[Any], now: datetime) -> None:
        added.append(len(rows))
        add(self, rows, now)

    monkeypatch.setattr(OutboxRepository, "add", counting_add)
    if fail_at == "append":
        write = HistoryRepository.write

        def failing_write(self: HistoryRepository,
                          events: Sequence[tuple[Event, datetime]]) -> None:
            if armed[0] and any(e.type == "escalated" and e.payload["level"] == "accountability"
                                for e, _ in events):
                raise Injected("the disk is full")
            write(self, events)

        monkeypatch.setattr(HistoryRepository, "write", failing_write)
    else:
        advance = IssueRepository.advance_many

        def failing_advance(self: IssueRepository, moved: Sequence[tuple[Issue, int]]) -> None:
            if armed[0]:
                raise Injected("the disk is full")
            advance(self, moved)

        monkeypatch.setattr(IssueRepository, "advance_many", failing_advance)

    with pytest.raises(Injected):
        sweep(svc, LATE)
    # reminder: chen; interview: liu, chen; accountability: wang (one statement)
    assert added == [4]
    assert svc.outbox() == []
    assert svc.escalations(EscalationFilter()) == []
    assert svc.history(issue.id) == history

    armed[0] = False
    assert [e.level for e in sweep(svc, LATE)] == ["reminder", "interview", "accountability"]
    assert len(svc.outbox()) == 4


def test_assignment_rejection_extension_and_interview_records_tell_the_right_people(
        lite: Scenario, tmp_path: Path) -> None:
    svc = lite
    configure(svc, tmp_path / "rectify.toml", f"""
[channels.log]
type = "file"
path = {toml_str(tmp_path / "log.jsonl")}
""")  # no [routing]: every kind goes to the one channel
    issue = reported(svc)
    svc.set_now(datetime(2020, 10, 9, 10, 0))
    svc.actor = "rc1"
    studied = svc.move(Move(issue_id=issue.id, transition="study", plan="new roof",
                            assignee="rc2", due=date(2020, 10, 16)))
    svc.actor = "rc2"
    asked = svc.extend(issue.id, date(2020, 10, 20), "瓦片未到货")
    svc.actor = "liu"
    svc.decide_extension(asked.id, True, "同意")
    extended = svc.show(issue.id)
    photo = tmp_path / "roof.jpg"
    photo.write_bytes(b"the new roof")
    svc.set_now(datetime(2020, 10, 12, 10, 0))
    svc.actor = "rc2"
    svc.move(Move(issue_id=issue.id, transition="rectify", note="修好了"), [photo])
    svc.actor = "qs1"
    rejected = svc.move(Move(issue_id=issue.id, transition="reject", reason="西侧仍漏"))

    other = reported(svc, title="饮水不稳定")
    [interview] = [e for e in sweep(svc, INTERVIEW_AT) if e.level == "interview"]
    assert interview.issue_id == other.id
    svc.set_now(datetime(2020, 10, 14, 10, 0))
    svc.actor = "liu"
    svc.record_escalation(interview.id, "已约谈", ["chen"])

    rows = [e for e in svc.outbox() if e.kind != "reminder" and e.kind != "interview"]
    assert [(e.key, e.kind, e.person) for e in rows] == [
        (f"assignment:{issue.id}:{studied.version}:rc2", "assignment", "rc2"),
        (f"extension_request:{asked.id}:liu", "extension_request", "liu"),
        (f"extension_request:{asked.id}:wang", "extension_request", "wang"),
        (f"extension:{issue.id}:{extended.version}:rc2", "extension", "rc2"),
        (f"rejection:{issue.id}:{rejected.version}:rc2", "rejection", "rc2"),
        (f"recorded:{interview.id}:rc1", "interview_recorded", "rc1"),
        (f"recorded:{interview.id}:wang", "interview_recorded", "wang"),
    ]
    ctx = {e.kind: e.context for e in rows}
    assert ctx["extension"]["extension"] == {
        "to": "2020-10-20", "status": "approved", "note": "同意", "id": asked.id,
        "requested_by": "整改二", "requested_at": "2020-10-09 10:00",
        "decided_by": "刘镇长", "decided_at": "2020-10-09 10:00"}
    assert ctx["extension"]["reason"] == "瓦片未到货"
    assert ctx["rejection"]["reason"] == "西侧仍漏"
    assert ctx["interview_recorded"]["note"] == "已约谈"
    assert ctx["interview_recorded"]["issue"]["title"] == "饮水不稳定"

    assert dispatch_at(svc, datetime(2020, 10, 14, 11, 0))["sent"] == [
        e.id for e in svc.outbox()]
    lines = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text("utf-8").splitlines()]
    assert [(x["idempotency_key"], x["recipient"]["name"]) for x in lines] == [
        (e.key, NAME[e.person]) for e in svc.outbox()]


def test_without_a_configuration_console_prints_every_message(
        lite: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    svc = lite
    reported(svc)
    [reminder] = sweep(svc, REMINDER_AT)
    [row] = svc.outbox()
    assert (row.key, row.channel) == (f"escalation:{reminder.id}:rc1", None)
    capsys.readouterr()
    assert dispatch_at(svc, REMINDER_AT + timedelta(hours=9), console=True)["sent"] == [row.id]
    assert [(e.key, e.channel) for e in svc.outbox()] == [(row.key, "console")]
    out = capsys.readouterr().out
    assert f"── console · reminder · #{row.id} " in out
    assert "To:      整改一 (rc1) <rc1@huangjia.example, 13800000007>" in out
    assert "Subject: 【整改提醒】石板村“房屋漏雨”" in out


# === 2: a real SMTP server ==================================================================
def test_smtp_delivers_each_message_once_and_a_stopped_server_loses_nothing(
        svc: Scenario, tmp_path: Path) -> None:
    reach(svc, tmp_path)
    port = free_port()  # nothing listens here yet
    configure(svc, tmp_path / "rectify.toml", f"""
[dispatch]
max_tries = 5
backoff_seconds = 60
[channels.mail]
type = "smtp"
host = "127.0.0.1"
port = {port}
sender = "整改办 <zhenggai@huangjia.example>"
timeout = 2
[routing]
reminder = ["mail"]
interview = ["mail"]
accountability = ["mail"]
""")
    reported(svc)
    sweep(svc, INTERVIEW_AT)
    queued = svc.outbox()
    ids = [e.id for e in queued]
    assert sorted(e.person for e in queued) == ["liu", "rc1", "rc1"]

    first = datetime(2020, 10, 14, 9, 0)
    assert dispatch_at(svc, first) == {**NOTHING, "retrying": ids}
    for e in svc.outbox():
        assert (e.status, e.attempts, e.sent_at) == ("pending", 1, None), e
        assert e.last_error is not None and e.last_error.startswith(
            f"smtp mail (127.0.0.1:{port})"), e.last_error
        # 60 s, ±25 %
        assert aware(first) + 45 * SECOND <= e.next_attempt_at <= aware(first) + 75 * SECOND
    assert dispatch_at(svc, first) == NOTHING  # not due again yet
    assert [e.attempts for e in svc.outbox()] == [1, 1, 1]

    with running_smtp_server(port) as restarted:
        later = first + timedelta(minutes=2)
        assert dispatch_at(svc, later) == {**NOTHING, "sent": ids}
        assert dispatch_at(svc, later + timedelta(hours=1)) == NOTHING
    inbox = restarted.inbox
    mails = inbox.mails()
    assert Counter(m["Message-ID"] for m in mails) == Counter(
        {message_id(e.key): 1 for e in queued})
    by_message_id = {m["Message-ID"]: (m, env) for m, env in zip(mails, inbox.envelopes,
                                                                 strict=True)}
    renderer = Renderer("zh_CN")
    for e in svc.outbox():
        assert (e.status, e.attempts, e.sent_at, e.last_error) == (
            "sent", 2, aware(later), None), e
        mail, envelope = by_message_id[message_id(e.key)]
        expected = renderer.render(e.kind, e.context)
        assert envelope.mail_from == "zhenggai@huangjia.example"
        assert envelope.rcpt_tos == [EMAIL[e.person]]
        assert mail["Subject"] == expected.subject
        assert mail["Subject"].startswith({
            "reminder": "【整改提醒】石板村“房屋漏雨”问题（#1）",
            "interview": "关于石板村“房屋漏雨”问题整改超期的约谈通知（#1）"}[e.kind])
        assert mail["From"].addresses[0].display_name == "整改办"
        assert mail["To"].addresses[0].display_name == NAME[e.person]
        assert mail["To"].addresses[0].addr_spec == EMAIL[e.person]
        assert mail["X-Rectify-Key"] == e.key
        plain, html = parts(mail)
        assert plain == expected.text
        assert html == expected.html
        assert NAME[e.person] in plain.split("\n\n")[e.kind == "interview"]  # the salutation
        assert isinstance(envelope.content, bytes)
        assert envelope.content.split(b"\r\n\r\n", 1)[0].isascii()


# === 3: the robots and the webhook; errors, back-off, dead, retry ============================
HOOK_SECRET = "hook-密钥"
DING_SECRET = "SEC-ding-secret"


def robots_config(base: str, tries: int = 3, hook_timeout: float = 0.5) -> str:
    return f"""
[dispatch]
max_tries = {tries}
backoff_seconds = 1
[channels.hook]
type = "webhook"
url = "{base}/hook"
secret = "env:RECTIFY_TEST_HOOK_SECRET"
timeout = {hook_timeout}
[channels.ding]
type = "dingtalk"
url = "{base}/ding?access_token=ding-token"
secret = "env:RECTIFY_TEST_DING_SECRET"
timeout = 5
[channels.wecom]
type = "wecom"
url = "{base}/wecom"
key = "wecom-key"
timeout = 5
[routing]
reminder = ["hook", "ding", "wecom"]
"""


def check_hook(request: Seen, row: OutboxEntry, expected_text: str) -> None:
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers["x-rectify-key"] == row.key
    assert request.headers["x-rectify-signature"] == hook_signature(HOOK_SECRET, request.body)
    body = request.json()
    assert body["idempotency_key"] == row.key and body["id"] == row.id
    assert body["kind"] == "reminder"
    assert body["recipient"] == {"person": "rc1", "name": "整改一",
                                 "email": "rc1@huangjia.example", "mobile": MOBILES["rc1"]}
    assert body["text"] == expected_text


def check_ding(request: Seen, subject: str, markdown: str) -> None:
    assert request.query["access_token"] == ["ding-token"]
    [timestamp] = request.query["timestamp"]
    assert abs(int(timestamp) - time.time() * 1000) < 3_600_000
    assert request.query["sign"] == [ding_sign(DING_SECRET, timestamp)]
    assert request.json() == {
        "msgtype": "markdown",
        "markdown": {"title": subject, "text": f"{markdown}\n\n@{MOBILES['rc1']}"},
        "at": {"atMobiles": [MOBILES["rc1"]], "isAtAll": False},
    }


def check_wecom(request: Seen, text: str) -> None:
    assert request.query == {"key": ["wecom-key"]}
    assert request.json() == {"msgtype": "text", "text": {
        "content": text, "mentioned_mobile_list": [MOBILES["rc1"]]}}


def test_robots_and_webhook_retry_with_growing_back_off_then_dead_then_retry(
        lite: Scenario, receiver: HttpServer, tmp_path: Path, sqlite_url: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    svc = lite
    monkeypatch.setenv("RECTIFY_TEST_HOOK_SECRET", HOOK_SECRET)
    monkeypatch.setenv("RECTIFY_TEST_DING_SECRET", DING_SECRET)
    config = configure(svc, tmp_path / "rectify.toml", robots_config(receiver.base))
    # The timeout goes to the webhook: it dedupes, so sending again after an answer that never
    # came is safe. For a robot it is not (see the test below).
    receiver.script("/hook", delay=2.0)  # no answer within the channel's 0.5 s
    receiver.script("/ding", body=b'{"errcode":130101,"errmsg":"send too fast"}')
    receiver.script("/wecom", status=500, body=b"upstream busy")

    reported(svc)
    [reminder] = sweep(svc, REMINDER_AT)
    [queued] = svc.outbox()
    assert (queued.key, queued.channel) == (f"escalation:{reminder.id}:rc1", None)
    svc.route()  # a pass's first step: the row takes the first channel, one is added per other
    rows = {e.channel or "": e for e in svc.outbox()}
    assert sorted(rows) == ["ding", "hook", "wecom"]
    assert (rows["hook"].id, rows["hook"].key) == (queued.id, queued.key)
    assert rows["ding"].key == f"{queued.key}:ding" and rows["wecom"].key == f"{queued.key}:wecom"
    assert all(e.context == queued.context and e.status == "pending" for e in rows.values())
    ids = sorted(e.id for e in rows.values())

    t0 = datetime(2020, 10, 12, 9, 0)
    delays: dict[str, list[timedelta]] = {name: [] for name in rows}
    for attempt, at in enumerate([t0, t0 + 5 * SECOND, t0 + 20 * SECOND], start=1):
        result = dispatch_at(svc, at)
        now = by_id(svc)
        if attempt < 3:
            assert result == {**NOTHING, "retrying": ids}, attempt
            base = 2 ** (attempt - 1)  # backoff_seconds × 2^(tries-1), ±25 %
            for name, row in rows.items():
                e = now[row.id]
                assert (e.status, e.attempts) == ("pending", attempt), e
                delay = e.next_attempt_at - aware(at)
                assert 0.75 * base * SECOND <= delay <= 1.25 * base * SECOND, (name, delay)
                delays[name].append(delay)
        else:
            assert result == {**NOTHING, "dead": ids}
            for row in rows.values():
                assert (now[row.id].status, now[row.id].attempts) == ("dead", 3)
    assert all(later > first for first, later in delays.values()), delays
    assert dispatch_at(svc, t0 + timedelta(hours=1)) == NOTHING  # dead stays dead
    for path in ("/hook", "/ding", "/wecom"):
        assert len(receiver.seen(path)) == 3, path

    errors = {name: by_id(svc)[row.id].last_error or "" for name, row in rows.items()}
    assert "no answer within 0.5 s" in errors["hook"]
    assert "errcode 130101" in errors["ding"] and "send too fast" in errors["ding"]
    assert "HTTP 500" in errors["wecom"]
    assert "ding-token" not in errors["ding"] and "wecom-key" not in errors["wecom"]

    # every attempt was signed and carried the message as the receivers expect
    expected = Renderer("zh_CN").render("reminder", rows["hook"].context)
    assert "整改一" in expected.text and str(reminder.id) in expected.text
    for request in receiver.seen("/hook"):
        check_hook(request, rows["hook"], expected.text)
    for request in receiver.seen("/ding"):
        check_ding(request, expected.subject, expected.markdown)
    for request in receiver.seen("/wecom"):
        check_wecom(request, expected.text)

    common = ("--db", sqlite_url, "--config", str(config), "--json")
    failed = run_cli(*common, "outbox", "list", "--failed")
    assert (failed.code, failed.err) == (0, ""), failed
    assert [(x["id"], x["channel"], x["status"], x["attempts"], x["key"], x["kind"])
            for x in failed.json()] == [
        (row.id, name, "dead", 3, row.key, "reminder")
        for name, row in sorted(rows.items(), key=lambda kv: kv[1].id)]
    assert all(x["last_error"] for x in failed.json())

    # the servers answer again; one message is put back and the next pass sends it, only it
    for path in ("/hook", "/ding", "/wecom"):
        receiver.script(path)
    later = "2020-10-12T10:00"
    back = run_cli(*common, "--now", later, "outbox", "retry", str(rows["hook"].id))
    assert (back.code, back.json()) == (0, {"id": rows["hook"].id, "status": "pending"}), back
    sent = run_cli(*common, "--now", later, "dispatch")
    assert (sent.code, sent.json()) == (0, {**NOTHING, "sent": [rows["hook"].id]}), sent
    hook = by_id(svc)[rows["hook"].id]
    # `outbox retry` starts the count again: the revived message gets its full tries
    assert (hook.status, hook.attempts, hook.sent_at) == ("sent", 1, aware(datetime(2020, 10,
                                                                                    12, 10)))
    assert len(receiver.seen("/hook")) == 4
    check_hook(receiver.seen("/hook")[-1], rows["hook"], expected.text)
    assert [(x["channel"], x["status"]) for x in
            run_cli(*common, "outbox", "list", "--failed").json()] == [
        ("ding", "dead"), ("wecom", "dead")]
    assert run_cli(*common, "--now", later, "dispatch").json() == NOTHING

    # a message that is not dead or unknown is not put back
    again = run_cli(*common, "--now", later, "outbox", "retry", str(rows["hook"].id))
    assert again.code == 1 and again.out == ""
    assert again.err.startswith("error: ") and "sent" in again.err


def test_a_robot_that_answers_too_late_does_not_get_the_message_twice(
        lite: Scenario, receiver: HttpServer, tmp_path: Path) -> None:
    svc = lite
    configure(svc, tmp_path / "rectify.toml", f"""
[dispatch]
max_tries = 3
backoff_seconds = 1
[channels.wecom]
type = "wecom"
url = "{receiver.base}/wecom"
key = "wecom-key"
timeout = 0.3
[routing]
reminder = ["wecom"]
""")
    receiver.script("/wecom", delay=1.0)  # the robot posts, then answers too late
    reported(svc)
    sweep(svc, REMINDER_AT)
    t0 = datetime(2020, 10, 12, 9, 0)
    for at in (t0, t0 + 5 * SECOND, t0 + 20 * SECOND):
        dispatch_at(svc, at)
    [row] = svc.outbox()
    posts = receiver.seen("/wecom")
    assert len({p.body for p in posts}) == 1  # the same message each time
    assert len(posts) == 1, f"the group got the same message {len(posts)} times ({row.status})"


# === 4: a dispatcher killed between sending and marking ====================================
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["webhook", "dingtalk"])
def test_a_dispatcher_killed_between_send_and_mark(lite: Scenario, receiver: HttpServer,
                                                   tmp_path: Path, sqlite_url: str,
                                                   capsys: pytest.CaptureFixture[str],
                                                   kind: str) -> None:
    """The first request is held open; the dispatcher is SIGKILLed while it waits. After the
    lease, the webhook row is sent again with the same key (the receiver drops the repeat);
    the DingTalk row becomes `unknown` and is not sent again. Nothing is lost."""
    svc = lite
    url = f"{receiver.base}/out" + ("?access_token=t" if kind == "dingtalk" else "")
    config = configure(svc, tmp_path / "rectify.toml", f"""
[dispatch]
lease_seconds = 1
batch = 1
[channels.out]
type = "{kind}"
url = "{url}"
timeout = 30
[routing]
reminder = ["out"]
interview = ["out"]
accountability = ["out"]
""")
    reported(svc)
    sweep(svc, LATE)
    rows = svc.outbox()
    assert [e.person for e in rows] == ["rc1", "liu", "rc1", "wang"]
    first = rows[0]

    receiver.script("/out", delay=60)  # hold the first request open
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "--db", sqlite_url, "--config", str(config),
         "--now", "2020-11-30T10:00", "dispatch"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        arrived = receiver.wait_for("/out", 1, timeout=60)
        receiver.script("/out")  # every later request is answered at once
        if not arrived:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"the dispatcher sent nothing: {err.decode(errors='replace')}")
        assert by_id(svc)[first.id].status == "sending"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    receiver.release.set()
    cut_off = by_id(svc)[first.id]
    assert (cut_off.status, cut_off.attempts, cut_off.sent_at) == ("sending", 1, None)
    assert [e.status for e in svc.outbox()[1:]] == ["pending"] * 3

    common = ("--db", sqlite_url, "--config", str(config), "--json")
    # within the lease, the row is left alone (its dispatcher might still be at work)
    within = run_cli(*common, "--now", "2020-11-30T10:00", "dispatch")
    assert (within.code, within.json()) == (
        0, {**NOTHING, "sent": [e.id for e in rows[1:]]}), within
    assert by_id(svc)[first.id].status == "sending"
    # past the lease
    after = run_cli(*common, "--now", "2020-11-30T10:00:05", "dispatch")
    assert after.code == 0, after
    final = by_id(svc)
    assert [final[e.id].status for e in rows[1:]] == ["sent"] * 3

    if kind == "webhook":
        assert after.json() == {**NOTHING, "recovered": [first.id], "sent": [first.id]}
        assert (final[first.id].status, final[first.id].attempts) == ("sent", 2)
        keys = [r.headers["x-rectify-key"] for r in receiver.seen("/out")]
        assert keys == [first.key, *(e.key for e in rows[1:]), first.key]
        assert all(r.json()["idempotency_key"] == r.headers["x-rectify-key"]
                   for r in receiver.seen("/out"))
        delivered = list(dict.fromkeys(keys))  # the receiver drops a key it has seen
        assert Counter(delivered) == Counter(e.key for e in rows)
    else:
        assert after.json() == {**NOTHING, "recovered": [first.id]}
        lost = final[first.id]
        assert (lost.status, lost.attempts, lost.sent_at) == ("unknown", 1, None)
        assert lost.last_error == "cut off while sending: check whether it arrived"
        assert run_cli(*common, "--now", "2020-11-30T10:00:10",
                       "dispatch").json() == NOTHING
        # the group got each message exactly once, the cut-off one included
        renderer = Renderer("zh_CN")
        texts = {e.id: renderer.render(e.kind, e.context).markdown for e in rows}
        posted = [r.json()["markdown"]["text"] for r in receiver.seen("/out")]
        matched = Counter(row_id for text in posted for row_id, md in texts.items()
                          if text.startswith(md))
        assert matched == Counter({e.id: 1 for e in rows})
        failed = run_cli(*common, "outbox", "list", "--failed").json()
        assert [(x["id"], x["status"]) for x in failed] == [(first.id, "unknown")]


# === 5: user text stays inert all the way to the receivers ==================================
HOSTILE_TITLE = "@all <@U1> [x](http://evil) {{ 7*7 }} <script>"
HOSTILE_NOTE = "@所有人 <@U2> [点我](http://evil/note) {{ 7*7 }} <script>alert(1)</script>"
LEAKS = ("@all", "@所有人", "<@", "](http", "49", "<script")


def assert_inert(text: str, what: str) -> None:
    leaks = [s for s in LEAKS if s in text]
    assert not leaks, f"{what}: {leaks} in {text!r}"


def test_template_injection_in_titles_and_notes_is_inert_end_to_end(
        lite: Scenario, receiver: HttpServer, smtp_server: SmtpServer, tmp_path: Path) -> None:
    svc = lite
    log = tmp_path / "log.jsonl"
    configure(svc, tmp_path / "rectify.toml", f"""
[channels.ding]
type = "dingtalk"
url = "{receiver.base}/ding?access_token=t"
[channels.wecom]
type = "wecom"
url = "{receiver.base}/wecom?key=k"
[channels.log]
type = "file"
path = {toml_str(log)}
[channels.mail]
type = "smtp"
host = "127.0.0.1"
port = {smtp_server.port}
sender = "zhenggai@huangjia.example"
timeout = 5
[routing]
reminder = ["ding", "wecom", "log", "mail"]
interview = ["ding", "wecom", "log", "mail"]
interview_recorded = ["ding", "wecom", "log", "mail"]
""")
    issue = reported(svc, title=HOSTILE_TITLE)
    assert svc.show(issue.id).title == HOSTILE_TITLE  # stored as typed
    [_, interview] = sweep(svc, INTERVIEW_AT)
    svc.set_now(datetime(2020, 10, 14, 10, 0))
    svc.actor = "liu"
    svc.record_escalation(interview.id, HOSTILE_NOTE)
    # reminder: rc1; interview: liu, rc1; recorded: rc1, wang -- on four channels each
    assert len(svc.outbox()) == 5
    svc.route()
    rows = svc.outbox()
    assert len(rows) == 5 * 4
    assert dispatch_at(svc, datetime(2020, 10, 14, 11, 0)) == {
        **NOTHING, "sent": [e.id for e in rows]}

    dings = receiver.seen("/ding")
    wecoms = receiver.seen("/wecom")
    lines = [json.loads(x) for x in log.read_text("utf-8").splitlines()]
    mails = smtp_server.inbox.mails()
    assert len(dings) == len(wecoms) == len(lines) == len(mails) == 5

    for r in dings:
        body = r.json()
        assert body["at"]["isAtAll"] is False
        assert_inert(r.body.decode("utf-8"), "dingtalk body")
        assert_inert(body["markdown"]["title"], "dingtalk title")
        assert_inert(body["markdown"]["text"], "dingtalk text")
        assert "http://evil" in body["markdown"]["text"]  # still there, as text
    forms = Counter(r.json()["msgtype"] for r in wecoms)
    assert forms == Counter({"text": 4, "markdown": 1})  # liu has no mobile: markdown
    for r in wecoms:
        body = r.json()
        assert_inert(r.body.decode("utf-8"), "wecom body")
        assert_inert(body[body["msgtype"]]["content"], "wecom content")
    for line in lines:
        for name in ("subject", "text", "markdown"):
            assert_inert(line[name], f"file {name}")
        assert "7*7" in line["text"] and "7\\*7" in line["markdown"]
    for mail in mails:
        assert_inert(mail["Subject"], "mail subject")
        plain, html = parts(mail)
        assert_inert(plain, "mail text")
        # HTML knows no mentions: the autoescaping is what matters there
        assert "<script" not in html and "<@" not in html and "49" not in html
        assert "&lt;script&gt;" in html
    notes = [line for line in lines if line["kind"] == "interview_recorded"]
    assert len(notes) == 2
    for line in notes:
        assert "http://evil/note" in line["text"] and "alert(1)" in line["text"]
    assert sum("&lt;script&gt;alert(1)&lt;/script&gt;" in parts(m)[1] for m in mails) == 2


# === 6: configuration errors and the template check =========================================
@pytest.mark.parametrize(("text", "names"), [
    ('[channels.sms]\ntype = "sms"\n', ["channels.sms.type", "'sms'"]),
    ('[channels.log]\ntype = "file"\npath = "log.jsonl"\n[routing]\nreminder = ["nope"]\n',
     ["routing.reminder", "'nope'"]),
    ('[channels.ding]\ntype = "dingtalk"\nurl = "http://127.0.0.1:9/robot"\n'
     'secret = "env:RECTIFY_TEST_MISSING"\n[routing]\nreminder = ["ding"]\n',
     ["channels.ding.secret", "RECTIFY_TEST_MISSING"]),
    ('[dispatch]\nmax_tries = 0\n', ["dispatch.max_tries"]),
    ('[channels.log\ntype = "file"\n', ["not TOML"]),
], ids=["unknown-type", "unknown-channel", "missing-secret", "max-tries", "not-toml"])
def test_a_bad_configuration_is_refused_with_the_key_that_is_wrong(
        lite: Scenario, tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, text: str, names: list[str]) -> None:
    svc = lite
    monkeypatch.delenv("RECTIFY_TEST_MISSING", raising=False)
    reported(svc)
    sweep(svc, REMINDER_AT)  # a console row waits in the outbox
    before = svc.outbox()
    assert len(before) == 1
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    run = run_cli("--db", sqlite_url, "--config", str(bad), "--now",
                  "2020-10-12T09:00", "dispatch")
    assert (run.code, run.out) == (2, ""), run
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.err
    assert "unexpected" not in lines[0]
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert svc.outbox() == before  # nothing was claimed

    missing = run_cli("--db", sqlite_url, "--config", str(tmp_path / "nope.toml"),
                      "dispatch")
    assert missing.code == 2 and "no such configuration file" in missing.err


def test_template_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = run_cli("template", "check")
    assert (plain.code, plain.out.strip(), plain.err) == (
        0, "ok: every template renders (zh_CN)", "")
    english = tmp_path / "en.toml"
    english.write_text('locale = "en"\n', encoding="utf-8")
    run = run_cli("--config", str(english), "--json", "template", "check")
    assert (run.code, run.json()) == (0, {"ok": True, "locale": "en"})

    # an override that lets user text through is caught
    overrides = tmp_path / "local-templates"
    overrides.mkdir()
    (overrides / "reminder.md.j2").write_text("### {{ issue.title }}\n", encoding="utf-8")
    leaky = tmp_path / "leaky.toml"
    leaky.write_text('templates = "local-templates"\n', encoding="utf-8")
    bad = run_cli("--config", str(leaky), "template", "check")
    assert bad.code == 2 and bad.out == "", bad
    assert len(bad.err.splitlines()) == 1
    assert "reminder.md.j2 (override) lets user text through" in bad.err


# === 7: the meeting briefing ===============================================================
def test_the_briefing_is_printed_and_queued_for_the_configured_people(
        lite: Scenario, tmp_path: Path, sqlite_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    svc = lite
    log = tmp_path / "briefing.jsonl"
    config = configure(svc, tmp_path / "rectify.toml", f"""
[channels.log]
type = "file"
path = {toml_str(log)}
[routing]
briefing = ["log"]
[briefing]
to = ["party_secretary", "liaison"]
""")
    roof = reported(svc)
    water = reported(svc, title="饮水不稳定", village="c-jiezi")
    raised = sweep(svc, INTERVIEW_AT)
    assert sorted(e.level for e in raised) == ["interview", "interview", "reminder", "reminder"]
    escalated = svc.outbox()  # not routed anywhere in this configuration: they will wait
    assert sorted(e.kind for e in escalated) == ["interview"] * 4 + ["reminder"] * 2

    now = "2020-10-14T09:00"
    printed = run_cli("--db", sqlite_url, "--config", str(config), "--now", now,
                      "briefing")
    assert (printed.code, printed.err) == (0, ""), printed
    text = printed.out
    assert text.startswith("各位领导：\n")
    assert "黄家镇脱贫攻坚自查整改工作简报（2020-10-07 09:00 至 2020-10-14 09:00）" in text
    assert "一、各村（社区）问题整改进度" in text
    assert "街子社区：上报 1（合计 1）" in text
    assert "石板村：上报 1（合计 1）" in text
    assert "二、本期新增超期问题（2 个）" in text
    assert "四、尚未记录的约谈（2 个）" in text
    section = text.split("四、尚未记录的约谈", 1)[1].split("五、", 1)[0]
    assert f"#{roof.id} 石板村“房屋漏雨”" in section
    assert f"#{water.id} 街子社区“饮水不稳定”" in section
    assert section.count("对象 整改一，") == 2  # the owner summoned, not the conductor
    assert "五、尚未作出决定的问责（0 个）" in text

    data = run_cli("--db", sqlite_url, "--config", str(config), "--now", now,
                   "--json", "briefing").json()
    assert [v["village_name"] for v in data["by_village"]] == ["街子社区", "石板村"]
    assert data["stages"] == ["reported"]  # the table's columns: stages with open issues
    assert sorted(c["issue"]["id"] for c in data["open_interviews"]) == [roof.id, water.id]
    assert data["open_accountability"] == []

    svc.set_now(datetime(2020, 10, 14, 9, 0))
    assert svc.send_briefing() == 2
    rows = svc.outbox()[len(escalated):]
    stamp = "2020-10-14T09:00"  # the minute of the slot, town time
    assert sorted((e.kind, e.person, e.channel, e.key) for e in rows) == [
        ("briefing", "liu", None, f"briefing:{stamp}:liu"),
        ("briefing", "wang", None, f"briefing:{stamp}:wang"),
    ]
    for e in rows:
        assert e.context["recipient"] == {"name": NAME[e.person]}
        assert len(e.context["briefing"]["open_interviews"]) == 2
        assert e.issue_id is None and e.escalation_id is None
    assert svc.briefing()["briefing"]["since"] == "2020-10-14 09:00"  # remembered
    svc.send_briefing()  # the same moment again: the same keys, no second message
    assert svc.outbox() == escalated + rows

    assert dispatch_at(svc, datetime(2020, 10, 14, 9, 5))["sent"] == [e.id for e in rows]
    held = svc.outbox()[:len(escalated)]
    assert [(e.status, e.channel, e.attempts) for e in held] == [("pending", None, 0)] * 6
    assert {e.waiting for e in held} == {f"no route for 'interview' in {config}",
                                         f"no route for 'reminder' in {config}"}
    lines = [json.loads(x) for x in log.read_text("utf-8").splitlines()]
    assert sorted(x["recipient"]["person"] for x in lines) == ["liu", "wang"]
    for x in lines:
        assert x["kind"] == "briefing"
        assert x["subject"].startswith("【整改工作简报】黄家镇")
        assert x["text"].startswith(f"{NAME[x['recipient']['person']]}：")
        assert "四、尚未记录的约谈（2 个）" in x["text"]


def test_the_briefing_table_has_the_same_columns_for_every_village(lite: Scenario) -> None:
    """Villages at different stages: each row of the HTML table has a cell for every stage
    any village has open issues in, under its own heading (0 where none)."""
    svc = lite
    reported(svc)  # 石板村: reported
    svc.set_now(datetime(2020, 9, 30, 11, 0))
    svc.actor = "sa1"
    svc.add_issue(NewIssue(title="饮水不稳定", category="drinking_water", village="c-jiezi",
                           group="sa-01"))  # 街子社区: found
    context = svc.briefing(datetime(2020, 9, 1))
    html = Renderer("zh_CN").render("briefing", context).html
    table = html.split("<table", 1)[1].split("</table>", 1)[0]
    rows = [r for r in table.split("<tr>")[1:]]
    header = rows[0].count("<th>")
    assert header == 1 + 2 + 1  # the village, found and reported, the total
    assert [r.count("<td") for r in rows[1:]] == [header, header]
    assert "<th>发现</th><th>上报</th>" in rows[0]
    assert [re.findall(r">(\d+)</td>", r) for r in rows[1:]] == [["1", "0", "1"], ["0", "1", "1"]]
    text = Renderer("zh_CN").render("briefing", context).text
    assert "街子社区：发现 1（合计 1）" in text and "石板村：上报 1（合计 1）" in text


def test_two_schedulers_firing_the_same_briefing_slot_queue_it_once(
        lite: Scenario, sqlite_url: str, tmp_path: Path) -> None:
    svc = lite
    configure(svc, tmp_path / "rectify.toml", f"""
[channels.log]
type = "file"
path = {toml_str(tmp_path / "briefing.jsonl")}
[routing]
briefing = ["log"]
[briefing]
cron = "30 8 * * mon"
to = ["party_secretary"]
""")
    other = scenario(sqlite_url, tmp_path / "data", actor="wang")  # the second scheduler
    other.configure(svc.app.config())
    try:
        # Monday 2020-10-19 08:30: each process's clock reads the fire time a little late
        svc.set_now(datetime(2020, 10, 19, 8, 30, 0, 120_000))
        other.set_now(datetime(2020, 10, 19, 8, 30, 0, 480_000))
        svc.send_briefing()
        other.send_briefing()
        keys = [e.key for e in svc.outbox()]
    finally:
        other.store.close()
    assert len(keys) == 1, f"wang is sent the 08:30 briefing {len(keys)} times: {keys}"


# === the dispatcher's pieces ===============================================================
def test_backoff_doubles_per_try_with_jitter() -> None:
    cfg = parse({"dispatch": {"backoff_seconds": 10}})
    rng = random.Random(2020)
    for tries, base in [(0, 10), (1, 10), (2, 20), (3, 40), (5, 160)]:
        values = [backoff(cfg, tries, rng) for _ in range(400)]
        assert all(0.75 * base <= v <= 1.25 * base for v in values), tries
        assert max(values) - min(values) > 0.4 * base  # jitter spreads the retries


def test_the_pacer_holds_each_channel_to_its_limit() -> None:
    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pacer = Pacer(sleep=sleep, clock=lambda: clock[0])
    for _ in range(3):
        pacer.wait("ding", 3)
        pacer.wait("mail", None)  # no limit
    assert slept == []
    clock[0] += 10
    pacer.wait("ding", 3)  # the fourth within a minute waits for the first to age out
    assert slept == [50.0]
    pacer.wait("wecom", 3)  # another channel has its own window
    assert slept == [50.0]
    clock[0] += 61
    pacer.wait("ding", 3)
    assert slept == [50.0]
