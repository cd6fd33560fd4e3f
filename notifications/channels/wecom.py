"""wecom: a WeCom (企业微信) group robot (群机器人).

Settings: `key` (the robot's key, env:NAME; optional when `url` already ends in ?key=…), `url`
(default https://qyapi.weixin.qq.com/cgi-bin/webhook/send), `more_url` (optional: where the rest
of a trimmed message can be read, see below), `mention` (default true), `timeout` (default 10 s),
`per_minute` (default 20).

Mentions. WeCom markdown can only mention by userid (`<@userid>`), which the org does not hold;
a mention by mobile (`mentioned_mobile_list`) exists only for text messages. So: when the
recipient has a mobile (and `mention` is true) the message goes as `text` (the plain rendering,
at most 2,048 bytes) with `mentioned_mobile_list: [mobile]`, and the person is notified;
otherwise as `markdown` (at most 4,096 bytes). One request per message: no second "look above"
post, which would double the pace against the 20-a-minute limit and, failing alone, leave half
a message whose retry would repeat the other half.

Trimming. The limits count UTF-8 bytes (a Chinese character is 3). A longer content is cut on
a character boundary and ends with a short note, with a link to the rest when there is one:
`msg.extra["link"]` when it is an absolute URL; a relative `link` joined to `more_url`; or
`more_url` itself.

Replies: errcode 0 is a success. Not retryable: 93000 (invalid webhook URL or key), 40058
(invalid parameter, e.g. content too long), 44004 (empty content), 40008 (invalid message
type). Retryable: 45009 (over the rate limit), -1 (busy) and every other code (see
http.robot_error). HTTP errors and timeouts: as in http.post. Never dedupes.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from notifications.channels.http import json_body, post, robot_error
from notifications.channels.settings import DEFAULT_TIMEOUT, Settings
from notifications.message import Outgoing

DEFAULT_URL: Final = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
PER_MINUTE: Final = 20
MARKDOWN_LIMIT: Final = 4096
TEXT_LIMIT: Final = 2048
RATE_LIMITED: Final = frozenset({45009, -1})
PERMANENT: Final = frozenset({93000, 40058, 44004, 40008})

TRIMMED: Final = "……（内容过长，已截断）"


def fit(content: str, limit: int, note: str) -> str:
    """`content` if its UTF-8 fits in `limit` bytes; else its longest prefix (whole characters)
    that leaves room for `note`, followed by `note`."""
    data = content.encode("utf-8")
    if len(data) <= limit:
        return content
    room = limit - len(note.encode("utf-8"))
    if room <= 0:  # a note longer than the limit: cut the note instead
        return note.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
    # decode(errors="ignore") drops the partial character the byte cut may leave at the end
    return data[:room].decode("utf-8", errors="ignore") + note


def more_link(msg: Outgoing, more_url: str | None) -> str | None:
    link = (msg.extra.get("link") or "").strip()
    if link and urlsplit(link).scheme in ("http", "https"):
        return link
    if more_url and link:
        return more_url.rstrip("/") + "/" + link.lstrip("/")
    return more_url or None


def payload(msg: Outgoing, *, mention: bool = True, more_url: str | None = None
            ) -> dict[str, Any]:
    mobile = (msg.recipient.mobile or "").strip()
    link = more_link(msg, more_url)
    if mention and mobile:
        note = f"\n\n{TRIMMED}" + (f" 全文：{link}" if link else "")
        content = fit(msg.content.text.rstrip(), TEXT_LIMIT, note)
        return {"msgtype": "text",
                "text": {"content": content, "mentioned_mobile_list": [mobile]}}
    note = f"\n\n{TRIMMED}" + (f"[查看全文]({link})" if link else "")
    content = fit(msg.content.markdown.rstrip(), MARKDOWN_LIMIT, note)
    return {"msgtype": "markdown", "markdown": {"content": content}}


def keyed_url(url: str, key: str | None) -> str:
    if key is None:
        return url
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode({"key": key})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class WeComChannel:
    dedupes: bool = False
    """The robot takes no idempotency key: every POST is a new post in the group."""

    def __init__(self, name: str, url: str, *, more_url: str | None = None, mention: bool = True,
                 timeout: float = DEFAULT_TIMEOUT, per_minute: int | None = PER_MINUTE) -> None:
        """`url` is the full robot URL, key included."""
        self.name = name
        self._url = url
        self.more_url = more_url
        self.mention = mention
        self.timeout = timeout
        self.per_minute = per_minute

    @classmethod
    def from_settings(cls, settings: Settings) -> WeComChannel:
        base = settings.url("url", DEFAULT_URL)
        has_key = bool(parse_qs(urlsplit(base).query).get("key"))
        key = settings.optional_text("key")
        if key is None and not has_key:
            raise settings.error("key", "missing (required unless url carries ?key=…)")
        if key is not None and not key.strip():
            raise settings.error("key", "must not be blank")
        if key is not None and has_key:
            raise settings.error("key", "given twice: the url already carries ?key=…")
        more_url = settings.optional_text("more_url")
        if more_url is not None:
            more_url = settings.url("more_url")
        return cls(settings.channel, keyed_url(base, key), more_url=more_url,
                   mention=settings.flag("mention", True), timeout=settings.seconds(),
                   per_minute=settings.per_minute(PER_MINUTE))

    def __repr__(self) -> str:
        return f"WeComChannel({self.name!r})"

    def send(self, msg: Outgoing) -> None:
        what = f"wecom {self.name}"
        body = json_body(payload(msg, mention=self.mention, more_url=self.more_url))
        reply = post(self._url, body, {"Content-Type": "application/json; charset=utf-8"},
                     self.timeout, what)
        error = robot_error(what, self._url, reply.json_object(what), RATE_LIMITED, PERMANENT)
        if error is not None:
            raise error
