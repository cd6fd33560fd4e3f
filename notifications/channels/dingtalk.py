"""dingtalk: a DingTalk (钉钉) custom group robot (自定义机器人).

Settings: `url` (required: the robot's webhook, https://oapi.dingtalk.com/robot/send?
access_token=…; it is a secret, so env:NAME is the usual way to write it), `secret` (optional,
env:NAME: the robot's 加签 secret, SEC…), `timeout` (default 10 s), `per_minute` (default 20).

With a secret, every request carries `timestamp` (ms) and `sign` =
quote_plus(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))) in its query; DingTalk
refuses a timestamp more than an hour off, so the clock must be right.

Body: a markdown message, title = subject, text = the markdown rendering. The recipient is
mentioned by mobile: `at.atMobiles` and, because DingTalk only shows the mention when the text
contains it, `@<mobile>` at the end of the text.

Replies: HTTP 200 with `errcode` 0 is a success; any other errcode is a SendError keeping
errcode and errmsg. Not retryable: 310000 (signature, keyword or IP check failed), 300001 and
400101 (unknown access token), 400013 (group dissolved), 400102 (robot disabled), 400105
(unsupported message type), 400106 (robot gone). Retryable: 130101 and 410100 (sending too
fast) and every other code (see http.robot_error). HTTP errors and timeouts: as in http.post.
A robot takes no idempotency key, so it never dedupes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any, Final
from urllib.parse import quote_plus, urlsplit, urlunsplit

from notifications.channels.http import json_body, post, robot_error
from notifications.channels.settings import DEFAULT_TIMEOUT, Settings
from notifications.message import Outgoing

PER_MINUTE: Final = 20
RATE_LIMITED: Final = frozenset({130101, 410100})
PERMANENT: Final = frozenset({310000, 300001, 400101, 400013, 400102, 400105, 400106})


def sign(secret: str, timestamp_ms: int) -> str:
    """The `sign` query value (already URL-encoded) for `timestamp_ms`."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(),
                      hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    parts = urlsplit(url)
    extra = f"timestamp={timestamp_ms}&sign={sign(secret, timestamp_ms)}"
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def payload(msg: Outgoing) -> dict[str, Any]:
    mobile = (msg.recipient.mobile or "").strip()
    text = msg.content.markdown.rstrip()
    if mobile and f"@{mobile}" not in text:
        text += f"\n\n@{mobile}"
    return {
        "msgtype": "markdown",
        "markdown": {"title": " ".join(msg.content.subject.split()), "text": text},
        "at": {"atMobiles": [mobile] if mobile else [], "isAtAll": False},
    }


class DingTalkChannel:
    dedupes: bool = False
    """The robot takes no idempotency key: every POST is a new post in the group."""

    def __init__(self, name: str, url: str, *, secret: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, per_minute: int | None = PER_MINUTE) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self.timeout = timeout
        self.per_minute = per_minute

    @classmethod
    def from_settings(cls, settings: Settings) -> DingTalkChannel:
        secret = settings.optional_text("secret")
        if secret is not None and not secret:
            raise settings.error("secret", "must not be empty (leave it out if the robot does "
                                 "not sign)")
        return cls(settings.channel, settings.url("url"), secret=secret,
                   timeout=settings.seconds(), per_minute=settings.per_minute(PER_MINUTE))

    def __repr__(self) -> str:
        return f"DingTalkChannel({self.name!r})"

    def send(self, msg: Outgoing) -> None:
        url = self._url
        if self._secret:
            url = signed_url(url, self._secret, int(time.time() * 1000))
        what = f"dingtalk {self.name}"
        reply = post(url, json_body(payload(msg)),
                     {"Content-Type": "application/json; charset=utf-8"}, self.timeout, what)
        error = robot_error(what, self._url, reply.json_object(what), RATE_LIMITED, PERMANENT)
        if error is not None:
            raise error
