"""Channels against real servers on 127.0.0.1: an aiosmtpd SMTP server, and one HTTP server that
plays the webhook receiver, the DingTalk robot and the WeCom robot. Both stop at the end."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from notifications.channels import (
    Channel,
    ConsoleChannel,
    DingTalkChannel,
    FileChannel,
    SmtpChannel,
    WebhookChannel,
    WeComChannel,
    build,
)
from notifications.channels.http import USER_AGENT, http_retryable, json_body, redact
from notifications.channels.settings import Settings
from notifications.channels.smtp import message_id
from notifications.channels.wecom import MARKDOWN_LIMIT, TEXT_LIMIT, fit
from notifications.errors import ConfigError, SendError
from notifications.message import Outgoing, Recipient, Rendered
from tests.support import (
    HttpServer,
    SmtpServer,
    free_port,
    mail_of,
    running_smtp_server,
)

SUBJECT = "【整改提醒】石板村：问题 #42 整改期限将至"
TEXT = "王书记：\n石板村问题 #42「村务公开栏未按时更新」将于 2025年3月15日 到期。\n请及时处理。"
MARKDOWN = "### 整改提醒\n\n石板村问题 **#42**「村务公开栏未按时更新」将于 2025年3月15日 到期。"
HTML = ("<p>王书记：</p>"
        "<p>石板村问题 <b>#42</b>「村务公开栏未按时更新」将于 2025年3月15日 到期。</p>")


def outgoing(*, email_: str | None = "wang@huangjia.example", mobile: str | None = "13800000001",
             key: str = "outbox-42-reminder-1", text: str = TEXT, markdown: str = MARKDOWN,
             extra: dict[str, str] | None = None, channel: str = "test") -> Outgoing:
    return Outgoing(
        id=42, kind="reminder", channel=channel,
        recipient=Recipient(person="wang", name="王书记", email=email_, mobile=mobile),
        content=Rendered(subject=SUBJECT, text=text, markdown=markdown, html=HTML),
        idempotency_key=key, extra=extra or {},
    )


# -- SMTP ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


def test_smtp_delivers_chinese_subject_and_bodies(smtp_server: SmtpServer) -> None:
    channel = build("mail", {"type": "smtp", "host": "127.0.0.1", "port": smtp_server.port,
                             "sender": "整改办 <zhenggai@huangjia.example>", "timeout": 5}, {})
    assert channel.dedupes is True and channel.per_minute is None
    before = len(smtp_server.inbox.envelopes)
    channel.send(outgoing())

    assert len(smtp_server.inbox.envelopes) == before + 1
    envelope = smtp_server.inbox.envelopes[-1]
    assert envelope.mail_from == "zhenggai@huangjia.example"
    assert envelope.rcpt_tos == ["wang@huangjia.example"]
    mail = mail_of(envelope)
    assert mail["Subject"] == SUBJECT
    assert mail["To"].addresses[0].display_name == "王书记"
    assert mail["From"].addresses[0].display_name == "整改办"
    assert mail["Message-ID"] == "<outbox-42-reminder-1@rectify>"
    assert mail["X-Rectify-Key"] == "outbox-42-reminder-1"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content().rstrip("\n") == TEXT
    assert html.get_content().rstrip("\n") == HTML
    # the raw bytes carry no unencoded Chinese in the headers
    assert isinstance(envelope.content, bytes)
    head = envelope.content.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()


def test_smtp_same_key_same_message_id(smtp_server: SmtpServer) -> None:
    channel = SmtpChannel("mail", "127.0.0.1", "zhenggai@huangjia.example",
                          port=smtp_server.port, timeout=5)
    odd_key = "outbox 43 / 王"  # not a dot-atom: hashed, but stable
    channel.send(outgoing(key=odd_key))
    channel.send(outgoing(key=odd_key))
    first, second = (mail_of(e) for e in smtp_server.inbox.envelopes[-2:])
    assert first["Message-ID"] == second["Message-ID"] == message_id(odd_key)
    assert message_id(odd_key).endswith("@rectify>")
    assert " " not in first["Message-ID"]
    long_key = "outbox-" + "9" * 60  # too long for one header line: hashed too
    assert message_id(long_key) == message_id(long_key) != f"<{long_key}@rectify>"
    assert len(f"Message-ID: {message_id(long_key)}") <= 78


def test_smtp_recipient_without_email_is_not_retryable(smtp_server: SmtpServer) -> None:
    channel = SmtpChannel("mail", "127.0.0.1", "zhenggai@huangjia.example",
                          port=smtp_server.port, timeout=5)
    with pytest.raises(SendError) as caught:
        channel.send(outgoing(email_=None))
    assert caught.value.retryable is False
    assert "no email" in str(caught.value)


def test_smtp_5xx_is_not_retryable_4xx_is(smtp_server: SmtpServer) -> None:
    channel = SmtpChannel("mail", "127.0.0.1", "zhenggai@huangjia.example",
                          port=smtp_server.port, timeout=5)
    with pytest.raises(SendError) as refused:
        channel.send(outgoing(email_="unknown@huangjia.example"))
    assert refused.value.retryable is False
    assert "550" in str(refused.value)
    with pytest.raises(SendError) as later:
        channel.send(outgoing(email_="busy@huangjia.example"))
    assert later.value.retryable is True
    assert "451" in str(later.value)


def test_smtp_to_a_stopped_server_is_retryable() -> None:
    with running_smtp_server() as stopped:
        port = stopped.port
    channel = SmtpChannel("mail", "127.0.0.1", "zhenggai@huangjia.example", port=port,
                          timeout=2)
    with pytest.raises(SendError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is True


def test_smtp_security_follows_port_and_username() -> None:
    def make(**settings: Any) -> SmtpChannel:
        channel = build("mail", {"type": "smtp", "host": "mail.example",
                                 "sender": "a@huangjia.example", **settings},
                        {"MAIL_PASSWORD": "pw"})
        assert isinstance(channel, SmtpChannel)
        return channel

    plain = make()
    assert (plain.port, plain.security) == (25, "none")
    assert make(port=465).security == "ssl"
    assert make(security="ssl").port == 465
    authed = make(username="a", password="env:MAIL_PASSWORD")
    assert (authed.port, authed.security) == (587, "starttls")
    assert make(username="a", password="x", security="none", port=25).security == "none"


# -- HTTP: the shared POST, webhook receiver and robots --------------------------------------------


# webhook


def test_webhook_body_signature_and_key(http_server: HttpServer) -> None:
    url = http_server.script("/hook/ok", 204, b"")
    channel = build("hook", {"type": "webhook", "url": url, "secret": "env:HOOK_SECRET",
                             "headers": {"Authorization": "Bearer env-token"}},
                    {"HOOK_SECRET": "s3cret-密钥"})
    assert channel.dedupes is True
    channel.send(outgoing())

    seen = http_server.last("/hook/ok")
    assert seen.headers["Content-Type"].startswith("application/json")
    assert seen.headers["X-Rectify-Key"] == "outbox-42-reminder-1"
    assert seen.headers["Authorization"] == "Bearer env-token"
    expected = hmac.new("s3cret-密钥".encode(), seen.body, hashlib.sha256).hexdigest()
    assert seen.headers["X-Rectify-Signature"] == f"sha256={expected}"
    assert seen.json() == {
        "id": 42, "kind": "reminder",
        "recipient": {"person": "wang", "name": "王书记", "email": "wang@huangjia.example",
                      "mobile": "13800000001"},
        "subject": SUBJECT, "text": TEXT, "markdown": MARKDOWN,
        "idempotency_key": "outbox-42-reminder-1",
    }


def test_webhook_without_secret_is_unsigned(http_server: HttpServer) -> None:
    url = http_server.script("/hook/plain")
    WebhookChannel("hook", url).send(outgoing())
    assert "X-Rectify-Signature" not in http_server.last("/hook/plain").headers


@pytest.mark.parametrize(("status", "retryable"), [
    (500, True), (503, True), (408, True), (429, True),
    (400, False), (401, False), (404, False), (410, False), (302, False),
])
def test_webhook_status_decides_retry(http_server: HttpServer, status: int,
                                      retryable: bool) -> None:
    url = http_server.script(f"/hook/status/{status}", status, '{"error":"nope"}')
    with pytest.raises(SendError) as caught:
        WebhookChannel("hook", url, timeout=5).send(outgoing())
    assert caught.value.retryable is retryable
    assert str(status) in str(caught.value)


def test_webhook_timeout_is_retryable(http_server: HttpServer) -> None:
    url = http_server.script("/hook/slow", delay=3.0)
    started = time.monotonic()
    with pytest.raises(SendError) as caught:
        WebhookChannel("hook", url, timeout=0.3).send(outgoing())
    assert caught.value.retryable is True
    assert time.monotonic() - started < 2.5


def test_webhook_connection_refused_is_retryable() -> None:
    with pytest.raises(SendError) as caught:
        WebhookChannel("hook", f"http://127.0.0.1:{free_port()}/x", timeout=2).send(outgoing())
    assert caught.value.retryable is True


# dingtalk


def test_dingtalk_signature_and_body(http_server: HttpServer) -> None:
    url = http_server.script("/robot/send") + "?access_token=tok123"
    secret = "SECabc123"
    channel = build("ding", {"type": "dingtalk", "url": "env:DING_URL", "secret": secret},
                    {"DING_URL": url})
    assert channel.dedupes is False and channel.per_minute == 20
    channel.send(outgoing())

    seen = http_server.last("/robot/send")
    assert seen.query["access_token"] == ["tok123"]
    timestamp = seen.query["timestamp"][0]
    assert abs(int(timestamp) - time.time() * 1000) < 60_000
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    assert seen.query["sign"] == [base64.b64encode(digest).decode()]  # parse_qs undid quote_plus
    body = seen.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == SUBJECT
    assert body["markdown"]["text"].startswith(MARKDOWN)
    assert body["markdown"]["text"].endswith("@13800000001")
    assert body["at"] == {"atMobiles": ["13800000001"], "isAtAll": False}


def test_dingtalk_without_mobile_or_secret(http_server: HttpServer) -> None:
    url = http_server.script("/robot/plain") + "?access_token=t"
    DingTalkChannel("ding", url).send(outgoing(mobile=None))
    seen = http_server.last("/robot/plain")
    assert "sign" not in seen.query and "timestamp" not in seen.query
    body = seen.json()
    assert body["markdown"]["text"] == MARKDOWN
    assert body["at"] == {"atMobiles": [], "isAtAll": False}


@pytest.mark.parametrize(("status", "reply", "retryable"), [
    (200, '{"errcode": 130101, "errmsg": "send too fast"}', True),
    (200, '{"errcode": 310000, "errmsg": "sign not match"}', False),
    (200, '{"errcode": 300001, "errmsg": "token is not exist"}', False),
    (200, '{"errcode": 999999, "errmsg": "something new"}', True),
    (200, "<html>gateway</html>", True),
    (500, "oops", True),
    (404, "not found", False),
])
def test_dingtalk_errors(http_server: HttpServer, status: int, reply: str,
                         retryable: bool) -> None:
    url = http_server.script("/robot/err", status, reply) + "?access_token=secret-token"
    with pytest.raises(SendError) as caught:
        DingTalkChannel("ding", url, timeout=5).send(outgoing())
    assert caught.value.retryable is retryable
    assert "secret-token" not in str(caught.value)
    if reply.startswith('{"errcode'):
        assert json.loads(reply)["errmsg"] in str(caught.value)


def test_dingtalk_timeout_is_retryable(http_server: HttpServer) -> None:
    url = http_server.script("/robot/slow", delay=3.0) + "?access_token=t"
    with pytest.raises(SendError) as caught:
        DingTalkChannel("ding", url, timeout=0.3).send(outgoing())
    assert caught.value.retryable is True


# wecom


def test_wecom_markdown_body(http_server: HttpServer) -> None:
    url = http_server.script("/cgi-bin/webhook/send")
    channel = build("wx", {"type": "wecom", "url": url, "key": "env:WX_KEY"},
                    {"WX_KEY": "k-1"})
    assert channel.dedupes is False and channel.per_minute == 20
    channel.send(outgoing(mobile=None))
    seen = http_server.last("/cgi-bin/webhook/send")
    assert seen.query["key"] == ["k-1"]
    assert seen.json() == {"msgtype": "markdown", "markdown": {"content": MARKDOWN}}


def test_wecom_mention_by_mobile_uses_text(http_server: HttpServer) -> None:
    url = http_server.script("/wx/mention") + "?key=k-2"
    build("wx", {"type": "wecom", "url": url}, {}).send(outgoing())
    body = http_server.last("/wx/mention").json()
    assert body == {"msgtype": "text", "text": {"content": TEXT,
                                                "mentioned_mobile_list": ["13800000001"]}}
    WeComChannel("wx", url, mention=False).send(outgoing())
    assert http_server.last("/wx/mention").json()["msgtype"] == "markdown"


def test_wecom_trims_long_chinese_markdown(http_server: HttpServer) -> None:
    url = http_server.script("/wx/long") + "?key=k"
    long_markdown = "### 整改台账\n\n" + "石板村村务公开栏未按时更新，需整改。" * 400
    assert len(long_markdown.encode()) > 3 * MARKDOWN_LIMIT
    channel = build("wx", {"type": "wecom", "url": url,
                           "more_url": "https://rectify.huangjia.example/issues"}, {})
    channel.send(outgoing(mobile=None, markdown=long_markdown, extra={"link": "42"}))

    content = http_server.last("/wx/long").json()["markdown"]["content"]
    size = len(content.encode("utf-8"))
    assert MARKDOWN_LIMIT - 3 < size <= MARKDOWN_LIMIT  # cut on a character, as close as fits
    assert content.endswith("[查看全文](https://rectify.huangjia.example/issues/42)")
    kept = content[: content.index("\n\n……")]
    assert long_markdown.startswith(kept) and len(kept) > 1000


def test_wecom_trims_long_text_with_mention(http_server: HttpServer) -> None:
    url = http_server.script("/wx/longtext") + "?key=k"
    long_text = "请尽快完成整改并上传佐证材料。" * 300
    link = "https://rectify.huangjia.example/issues/42"
    WeComChannel("wx", url).send(outgoing(text=long_text, extra={"link": link}))
    text = http_server.last("/wx/longtext").json()["text"]
    assert text["mentioned_mobile_list"] == ["13800000001"]
    assert TEXT_LIMIT - 3 < len(text["content"].encode("utf-8")) <= TEXT_LIMIT
    assert text["content"].endswith(f"全文：{link}")


def test_fit_cuts_on_character_boundary() -> None:
    assert fit("整改", 6, "…") == "整改"
    # 7 bytes of room minus a 3-byte note leaves 4: one whole character and not half of the next
    assert fit("整改完成", 7, "…") == "整…"
    assert fit("abc整改", 5, "") == "abc"


@pytest.mark.parametrize(("reply", "retryable"), [
    ('{"errcode": 45009, "errmsg": "api freq out of limit"}', True),
    ('{"errcode": 93000, "errmsg": "invalid webhook url"}', False),
])
def test_wecom_errors(http_server: HttpServer, reply: str, retryable: bool) -> None:
    url = http_server.script("/wx/err", 200, reply) + "?key=k"
    with pytest.raises(SendError) as caught:
        WeComChannel("wx", url).send(outgoing())
    assert caught.value.retryable is retryable
    assert json.loads(reply)["errmsg"] in str(caught.value)


# -- file and console ----------------------------------------------------------------------------


def test_file_channel_appends_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "out" / "sent.jsonl"
    channel = build("log", {"type": "file", "path": str(path)}, {})
    assert isinstance(channel, FileChannel) and channel.dedupes is False
    channel.send(outgoing(channel="log"))
    channel.send(outgoing(channel="log", key="outbox-43", mobile=None))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert "王书记" in lines[0]  # not \u-escaped
    first, second = (json.loads(line) for line in lines)
    assert first["id"] == 42 and first["kind"] == "reminder" and first["channel"] == "log"
    assert first["recipient"] == {"person": "wang", "name": "王书记",
                                  "email": "wang@huangjia.example", "mobile": "13800000001"}
    assert first["subject"] == SUBJECT and first["text"] == TEXT
    assert first["markdown"] == MARKDOWN
    assert first["idempotency_key"] == "outbox-42-reminder-1"
    assert first["sent_at"].endswith("Z")
    assert second["idempotency_key"] == "outbox-43" and second["recipient"]["mobile"] is None


def test_console_prints_a_block(capsys: pytest.CaptureFixture[str]) -> None:
    channel = build("screen", {"type": "console"}, {})
    assert isinstance(channel, ConsoleChannel) and isinstance(channel, Channel)
    channel.send(outgoing())
    out = capsys.readouterr().out
    assert "王书记 (wang)" in out and "wang@huangjia.example" in out
    assert f"Subject: {SUBJECT}" in out
    assert TEXT in out


# -- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "env", "where"), [
    ({"type": "pigeon"}, {}, "channels.x.type"),
    ({"url": "http://h/"}, {}, "channels.x.type"),
    ({"type": "webhook"}, {}, "channels.x.url"),
    ({"type": "dingtalk"}, {}, "channels.x.url"),
    ({"type": "webhook", "url": "ftp://h/x"}, {}, "channels.x.url"),
    ({"type": "webhook", "url": "http://[::1/x"}, {}, "channels.x.url"),
    ({"type": "webhook", "url": "http://h:99999/x"}, {}, "channels.x.url"),
    ({"type": "dingtalk", "url": "https://h/?access_token=t", "secret": "env:MISSING"}, {},
     "channels.x.secret"),
    ({"type": "wecom"}, {}, "channels.x.key"),
    ({"type": "smtp", "sender": "a@b.example"}, {}, "channels.x.host"),
    ({"type": "smtp", "host": "h", "sender": "nobody"}, {}, "channels.x.sender"),
    ({"type": "smtp", "host": "h", "sender": "a@b.example", "port": "25"}, {}, "channels.x.port"),
    ({"type": "smtp", "host": "h", "sender": "a@b.example", "port": True}, {}, "channels.x.port"),
    ({"type": "smtp", "host": "h", "sender": "a@b.example", "security": "tls"}, {},
     "channels.x.security"),
    ({"type": "smtp", "host": "h", "sender": "a@b.example", "password": "env:PW"}, {"PW": "p"},
     "channels.x.username"),
    ({"type": "webhook", "url": "http://h/", "timeout": "fast"}, {}, "channels.x.timeout"),
    ({"type": "webhook", "url": "http://h/", "timeout": 0}, {}, "channels.x.timeout"),
    ({"type": "webhook", "url": "http://h/", "headers": {"X-T": "env:NOPE"}}, {},
     "channels.x.headers.X-T"),
    ({"type": "webhook", "url": "http://h/", "headers": {"Bad Name": "v"}}, {},
     "channels.x.headers.Bad Name"),
    ({"type": "wecom", "url": "https://h/send?key=a", "key": "b"}, {}, "channels.x.key"),
    ({"type": "file"}, {}, "channels.x.path"),
    ({"type": "console", "per_minute": 0}, {}, "channels.x.per_minute"),
])
def test_config_errors_name_the_key(settings: dict[str, Any], env: dict[str, str],
                                    where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build("x", settings, env)
    assert str(caught.value).startswith(f"{where}: ")
    assert caught.value.exit_code == 2


def test_config_missing_env_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"channels\.ding\.secret: .*MISSING"):
        build("ding", {"type": "dingtalk", "url": "https://h/?access_token=t",
                       "secret": "env:MISSING"}, {})


def test_config_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match=r"^channels\.x: "):
        build("x", ["type", "console"], {})  # type: ignore[arg-type]


def test_config_defaults_and_extra_keys() -> None:
    channel = build("hook", {"type": "webhook", "url": "https://h.example/in",
                             "comment": "unknown keys are allowed"}, {})
    assert isinstance(channel, WebhookChannel)
    assert channel.timeout == 10.0
    robot = build("wx", {"type": "wecom", "key": "k", "timeout": 2.5, "per_minute": 10}, {})
    assert isinstance(robot, WeComChannel)
    assert robot.timeout == 2.5 and robot.per_minute == 10
    assert "k" not in repr(robot).replace("WeComChannel", "")


def test_settings_errors_carry_the_key_path() -> None:
    reader = Settings("hook", {"headers": {"X-T": "env:NOPE"}}, {})
    with pytest.raises(ConfigError) as caught:
        reader.text_mapping("headers")
    assert str(caught.value) == "channels.hook.headers.X-T: environment variable NOPE is not set"
    assert caught.value.path == ("channels", "hook", "headers", "X-T")


def test_http_helpers() -> None:
    assert redact("https://u:pw@oapi.example:8443/robot/send?access_token=t#x") == (
        "https://oapi.example:8443/robot/send")
    statuses = (200, 302, 400, 404, 408, 429, 500, 503)
    assert [s for s in statuses if http_retryable(s)] == [408, 429, 500, 503]
    assert json_body({"a": "整改", "b": [1]}) == '{"a":"整改","b":[1]}'.encode()


def test_every_post_names_its_user_agent(http_server: HttpServer) -> None:
    WebhookChannel("hook", http_server.script("/hook/agent")).send(outgoing())
    assert http_server.last("/hook/agent").headers["User-Agent"] == USER_AGENT
