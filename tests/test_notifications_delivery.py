"""`deliver` against real receivers on 127.0.0.1 (the HTTP server of test_channels playing the
webhook receiver and the DingTalk robot, and files): every outcome, what travels with the
message, pacing, and the pass result's JSON."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from notifications.channels import Channel, DingTalkChannel, FileChannel, WebhookChannel, build
from notifications.config import parse
from notifications.delivery import Outcome, Pacer, PassResult, backoff, deliver
from notifications.message import Recipient
from notifications.render import Renderer, sample_context
from tests.support import HttpServer, free_port

CHEN = Recipient(person="chen", name="陈支书", email="chen@huangjia.example",
                 mobile="13800000003")


@dataclass(frozen=True)
class Queued:
    """An outbox entry as the application reads it (only the fields deliver needs)."""

    id: int
    key: str
    kind: str
    channel: str
    person: str = "chen"
    issue_id: int | None = 42
    context: dict[str, Any] = field(default_factory=lambda: sample_context("reminder"))
    attempts: int = 0


@pytest.fixture
def receiver(http_server: HttpServer) -> HttpServer:
    return http_server


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer("zh_CN")


def seen(receiver: HttpServer, path: str) -> int:
    return len(receiver.seen(path))


def test_sent_carries_the_key_and_the_rendered_message(receiver: HttpServer,
                                                       renderer: Renderer) -> None:
    hook = WebhookChannel("hook", receiver.script("/d/ok", 204, b""))
    entry = Queued(id=7, key="escalation:101:chen:hook", kind="reminder", channel="hook",
                   attempts=2)
    assert deliver(entry, CHEN, {"hook": hook}, renderer, Pacer()) == Outcome("sent", None)
    got = receiver.last("/d/ok")
    assert got.headers["X-Rectify-Key"] == "escalation:101:chen:hook"
    body = got.json()
    assert (body["id"], body["kind"], body["idempotency_key"]) == (
        7, "reminder", "escalation:101:chen:hook")
    assert body["recipient"] == {"person": "chen", "name": "陈支书",
                                 "email": "chen@huangjia.example", "mobile": "13800000003"}
    assert "房屋漏雨" in body["subject"] and "陈支书" in body["text"]


def test_the_attempt_and_the_issue_travel_with_the_message(tmp_path: Path,
                                                           renderer: Renderer) -> None:
    path = tmp_path / "sent.jsonl"
    log = FileChannel("log", path)
    entry = Queued(id=8, key="k-8", kind="assignment", channel="log", attempts=3,
                   context=sample_context("assignment"))
    assert deliver(entry, CHEN, {"log": log}, renderer, Pacer()).status == "sent"
    line = json.loads(path.read_text(encoding="utf-8"))
    assert (line["id"], line["attempt"], line["idempotency_key"]) == (8, 4, "k-8")


@pytest.mark.parametrize(("status", "outcome"), [
    (500, "retry"), (503, "retry"), (429, "retry"), (408, "retry"),
    (400, "dead"), (401, "dead"), (404, "dead"), (302, "dead"),
])
def test_the_receiver_s_status_decides(receiver: HttpServer, renderer: Renderer, status: int,
                                        outcome: str) -> None:
    hook = WebhookChannel("hook", receiver.script(f"/d/status/{status}", status, "{}"),
                          timeout=5)
    result = deliver(Queued(id=9, key="k-9", kind="reminder", channel="hook"), CHEN,
                     {"hook": hook}, renderer, Pacer())
    assert result.status == outcome
    assert result.error is not None and f"HTTP {status}" in result.error


def test_a_timeout_is_retried_where_the_receiver_dedupes(receiver: HttpServer,
                                                         renderer: Renderer) -> None:
    hook = WebhookChannel("hook", receiver.script("/d/slow-hook", delay=3.0), timeout=0.3)
    result = deliver(Queued(id=10, key="k-10", kind="reminder", channel="hook"), CHEN,
                     {"hook": hook}, renderer, Pacer())
    assert result.status == "retry" and "no answer within 0.3 s" in (result.error or "")


def test_a_timeout_is_unknown_where_the_receiver_cannot_dedupe(receiver: HttpServer,
                                                               renderer: Renderer) -> None:
    ding = DingTalkChannel("ding", receiver.script("/d/slow-robot", delay=3.0) + "?access_token=t",
                           timeout=0.3)
    result = deliver(Queued(id=11, key="k-11", kind="reminder", channel="ding"), CHEN,
                     {"ding": ding}, renderer, Pacer())
    assert result.status == "unknown"
    assert result.error is not None and result.error.endswith(
        "it may have arrived; check before retrying")
    assert "access_token" not in result.error


@pytest.mark.parametrize(("reply", "outcome"), [
    ('{"errcode": 0, "errmsg": "ok"}', "sent"),
    ('{"errcode": 130101, "errmsg": "send too fast"}', "retry"),
    ('{"errcode": 310000, "errmsg": "sign not match"}', "dead"),
])
def test_the_robot_s_errcode_decides(receiver: HttpServer, renderer: Renderer, reply: str,
                                     outcome: str) -> None:
    url = receiver.script("/d/robot", 200, reply) + "?access_token=t"
    result = deliver(Queued(id=12, key="k-12", kind="interview", channel="ding",
                            context=sample_context("interview")), CHEN,
                     {"ding": DingTalkChannel("ding", url)}, renderer, Pacer())
    assert result.status == outcome
    body = receiver.last("/d/robot").json()
    assert body["at"]["atMobiles"] == ["13800000003"] and "约谈" in body["markdown"]["title"]


def test_a_refused_connection_is_retried_even_without_dedupe(renderer: Renderer) -> None:
    ding = DingTalkChannel("ding", f"http://127.0.0.1:{free_port()}/robot", timeout=2)
    result = deliver(Queued(id=13, key="k-13", kind="reminder", channel="ding"), CHEN,
                     {"ding": ding}, renderer, Pacer())
    assert result.status == "retry" and "cannot connect" in (result.error or "")


def test_a_file_that_cannot_be_written_is_retried(tmp_path: Path, renderer: Renderer) -> None:
    (tmp_path / "taken").write_text("a file, not a directory", encoding="utf-8")
    log = FileChannel("log", tmp_path / "taken" / "sent.jsonl")
    result = deliver(Queued(id=14, key="k-14", kind="reminder", channel="log"), CHEN,
                     {"log": log}, renderer, Pacer())
    assert result.status == "retry" and "cannot append" in (result.error or "")


def test_dead_before_anything_is_sent(receiver: HttpServer, renderer: Renderer) -> None:
    hook = WebhookChannel("hook", receiver.script("/d/never"))
    channels: dict[str, Channel] = {"hook": hook}
    no_channel = deliver(Queued(id=15, key="k", kind="reminder", channel="mail"), CHEN,
                         channels, renderer, Pacer())
    assert no_channel == Outcome("dead", "no channel 'mail' in the configuration")
    gone = deliver(Queued(id=16, key="k", kind="reminder", channel="hook", person="zhao"),
                   None, channels, renderer, Pacer())
    assert gone == Outcome("dead", "zhao is no longer in the org")
    broken = sample_context("rejection")
    del broken["reason"]
    bad = deliver(Queued(id=17, key="k", kind="rejection", channel="hook", context=broken),
                  CHEN, channels, renderer, Pacer())
    assert bad.status == "dead"
    assert bad.error == "template: RenderError: rejection: the context lacks reason"
    assert seen(receiver, "/d/never") == 0


def test_a_json_snapshot_renders_like_the_live_context(tmp_path: Path,
                                                       renderer: Renderer) -> None:
    path = tmp_path / "sent.jsonl"
    log = FileChannel("log", path)
    live = sample_context("briefing")
    # key order matters: `counts` lists the stages in the workflow's order
    snapshot = json.loads(json.dumps(live, ensure_ascii=False))
    for i, context in enumerate((live, snapshot)):
        entry = Queued(id=20 + i, key=f"b-{i}", kind="briefing", channel="log", issue_id=None,
                       context=context)
        assert deliver(entry, CHEN, {"log": log}, renderer, Pacer()).status == "sent"
    first, second = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    assert first["text"] == second["text"]
    assert "石板村：发现 1，上报 2，研究 3，整改 1，验收 0，销号 5（合计 12）" in first["text"]


def test_the_pacer_holds_a_channel_to_its_limit(receiver: HttpServer,
                                                renderer: Renderer) -> None:
    hook = build("hook", {"type": "webhook", "url": receiver.script("/d/paced"),
                          "per_minute": 2}, {})
    assert hook.per_minute == 2
    clock = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pacer = Pacer(sleep=sleep, clock=lambda: clock[0])
    before = seen(receiver, "/d/paced")
    for i in range(3):
        clock[0] += 1.0
        entry = Queued(id=30 + i, key=f"p-{i}", kind="reminder", channel="hook")
        assert deliver(entry, CHEN, {"hook": hook}, renderer, pacer).status == "sent"
    assert seen(receiver, "/d/paced") == before + 3
    assert slept == [58.0]  # the third waits for the first to leave the minute


def test_the_pass_result_json_is_a_contract() -> None:
    result = PassResult(sent=[1, 2], retrying=[3], dead=[4], recovered=[5], unknown=[6])
    assert list(result.to_dict()) == ["sent", "retrying", "dead", "unknown", "recovered"]
    assert result.to_dict() == {"sent": [1, 2], "retrying": [3], "dead": [4], "unknown": [6],
                                "recovered": [5]}
    assert PassResult().to_dict() == {
        "sent": [], "retrying": [], "dead": [], "unknown": [], "recovered": []}


def test_backoff_doubles_with_jitter() -> None:
    cfg = parse({"dispatch": {"backoff_seconds": 8}})
    rng = random.Random(7)
    for tries, base in ((1, 8.0), (2, 16.0), (3, 32.0)):
        values = [backoff(cfg, tries, rng) for _ in range(200)]
        assert base * 0.75 <= min(values) < max(values) <= base * 1.25
