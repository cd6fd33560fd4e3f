"""What every channel offers, the settings reader that validates a channel's configuration, the
one HTTP POST the robot and webhook channels share, and `build`, the factory.

A channel sends one `Outgoing` (one recipient) and either returns (delivered, as far as the
receiver told us) or raises `SendError`; `retryable` False means trying again cannot help (a
refused address, a signature the receiver rejects, a 4xx).

`dedupes` says whether the receiver can drop a repeat of the same message by its idempotency
key. A dispatcher that lost track of an attempt (a timeout after the request went out, a crash
between sending and recording) may send again safely only where `dedupes` is True:

- webhook: True. The key travels in the `X-Rectify-Key` header and in the body; the receiver is
  our own integration and is expected to keep the keys it has seen.
- smtp: True. The Message-ID is derived from the key, so the same row always produces the same
  Message-ID; mail stores and clients (Gmail, Dovecot's duplicate suppression, most mail
  readers) fold messages with equal Message-IDs. Best effort, but the only lever mail has.
- dingtalk, wecom: False. The group robots take no idempotency key: every POST is a new post in
  the group.
- file, console: False. A repeat is another line (the key is in the line, so a reader can tell).

`per_minute` is the pacing limit the dispatcher must respect for the channel (None: no limit):
both group robots refuse more than 20 messages a minute.
"""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPException
from typing import IO, Any, Final, Protocol, runtime_checkable
from urllib.parse import urlsplit

from notifications.message import ConfigError, Outgoing, SendError

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds a channel waits for a connection or an answer unless `timeout` says otherwise."""

TYPES: Final = ("smtp", "webhook", "dingtalk", "wecom", "file", "console")

USER_AGENT: Final = "rectify-notifications/0.1"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@runtime_checkable
class Channel(Protocol):
    """One configured way of telling people (see the module docstring for the attributes)."""

    name: str
    """The channel's name in the configuration (`channels.<name>`)."""
    dedupes: bool
    """True where the receiver can drop a repeat by the idempotency key."""
    per_minute: int | None
    """At most this many sends a minute (None: no limit)."""

    def send(self, msg: Outgoing) -> None:
        """Deliver `msg` or raise `SendError`."""
        ...


class Settings:
    """Reads and validates `channels.<name>`: every error names the key, e.g.
    `channels.ding.secret: environment variable DING_SECRET is not set`.

    Any string value may be written `env:NAME` to be read from the environment instead (meant for
    secrets: passwords, robot URLs holding an access token, signing secrets). Keys nobody asks
    for are allowed and ignored.
    """

    def __init__(self, channel: str, raw: Mapping[str, Any], env: Mapping[str, str],
                 prefix: str | None = None) -> None:
        self.channel = channel
        self.raw = raw
        self.env = env
        self.prefix = prefix if prefix is not None else f"channels.{channel}"

    def where(self, key: str) -> str:
        return f"{self.prefix}.{key}"

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where(key)}: {problem}")

    # -- strings ---------------------------------------------------------------------------

    def optional_text(self, key: str) -> str | None:
        """The string at `key` (env: resolved), None when absent or null."""
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_type_name(value)}")
        if value.startswith("env:"):
            name = value[4:].strip()
            if not _ENV_NAME.match(name):
                raise self.error(key, f"{value!r} does not name an environment variable")
            if name not in self.env:
                raise self.error(key, f"environment variable {name} is not set")
            value = self.env[name]
        if "\r" in value or "\n" in value or "\x00" in value:
            raise self.error(key, "must be a single line")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        """A required string (or `default` when given and the key is absent); never blank."""
        value = self.optional_text(key)
        if value is None:
            if default is not None:
                return default
            raise self.error(key, "missing (required)")
        if not value.strip():
            raise self.error(key, "must not be blank")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.optional_text(key)
        if value is None:
            return default
        if value not in options:
            raise self.error(key, f"{value!r} is not one of {', '.join(options)}")
        return value

    def url(self, key: str, default: str | None = None) -> str:
        """A required http(s) URL with a host."""
        value = self.text(key, default)
        try:
            parts = urlsplit(value)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # raises for a port that is not a number in range
        except ValueError:
            valid = False
        if not valid or any(c.isspace() for c in value):
            # the value is not repeated: robot URLs carry their token
            raise self.error(key, "expected an http:// or https:// URL with a host")
        return value

    def text_mapping(self, key: str) -> dict[str, str]:
        """A mapping of string to string (values may be env:NAME); {} when absent."""
        value = self.raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a mapping, got {_type_name(value)}")
        inner = Settings(self.channel, value, self.env, prefix=self.where(key))
        out: dict[str, str] = {}
        for k in value:
            if not isinstance(k, str):
                raise self.error(key, f"keys must be strings, got {_type_name(k)}")
            out[k] = inner.text(k)
        return out

    # -- numbers and flags -----------------------------------------------------------------

    def optional_integer(self, key: str, low: int, high: int | None = None) -> int | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {_type_name(value)}")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.error(key, f"{value} is out of range (must be {bound})")
        return value

    def seconds(self, key: str = "timeout", default: float = DEFAULT_TIMEOUT) -> float:
        value = self.raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number of seconds, got {_type_name(value)}")
        if not value > 0:
            raise self.error(key, f"{value} must be more than 0 seconds")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_type_name(value)}")
        return value

    def per_minute(self, default: int | None) -> int | None:
        """`per_minute` may lower (or raise) a channel's pacing limit."""
        given = self.optional_integer("per_minute", 1)
        return default if given is None else given


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def build(name: str, settings: Mapping[str, Any], env: Mapping[str, str]) -> Channel:
    """The channel `channels.<name>` describes; ConfigError naming the wrong key otherwise."""
    if not isinstance(settings, Mapping):
        raise ConfigError(f"channels.{name}: expected a mapping of settings, "
                          f"got {_type_name(settings)}")
    reader = Settings(name, settings, env)
    kind = reader.choice("type", TYPES)
    if kind is None:
        raise reader.error("type", f"missing (required; one of {', '.join(TYPES)})")
    # Imported here: the channel modules import this one.
    from notifications.channels import console, dingtalk, file, smtp, webhook, wecom

    if kind == "smtp":
        return smtp.SmtpChannel.from_settings(reader)
    if kind == "webhook":
        return webhook.WebhookChannel.from_settings(reader)
    if kind == "dingtalk":
        return dingtalk.DingTalkChannel.from_settings(reader)
    if kind == "wecom":
        return wecom.WeComChannel.from_settings(reader)
    if kind == "file":
        return file.FileChannel.from_settings(reader)
    return console.ConsoleChannel.from_settings(reader)


# -- HTTP, shared by webhook, dingtalk and wecom ---------------------------------------------

MAX_REPLY_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes

    def json_object(self, what: str) -> dict[str, Any]:
        """The reply parsed as a JSON object; a retryable SendError when it is not one (a proxy
        or gateway page in front of the service, most likely)."""
        try:
            parsed = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise SendError(f"{what}: HTTP {self.status} but the reply is not JSON: "
                            f"{_snippet(self.body)}", retryable=True) from None
        if not isinstance(parsed, dict):
            raise SendError(f"{what}: HTTP {self.status} but the reply is not a JSON object: "
                            f"{_snippet(self.body)}", retryable=True)
        return parsed


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A POST is never followed to another address (urllib would turn it into a bodiless GET):
    a 3xx is an answer like a 4xx, and the configured URL is what is wrong."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: Message, newurl: str) -> urllib.request.Request | None:
        return None


_opener = urllib.request.build_opener(_NoRedirect())


def redact(url: str) -> str:
    """A URL fit for an error message: no query (robot URLs carry their token there), no
    credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _snippet(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def http_retryable(status: int) -> bool:
    """5xx, 408 (request timeout) and 429 (too many requests) may pass; other 4xx and 3xx won't."""
    return status >= 500 or status in (408, 429)


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float,
         what: str) -> HttpReply:
    """POST `body` to `url`; the 2xx reply, or SendError:

    - HTTP 5xx, 408, 429, timeouts, refused or reset connections, broken replies: retryable;
    - other HTTP 4xx and any 3xx: not retryable;
    - a TLS certificate the server presents that does not verify: not retryable (the address or
      the trust store is wrong; trying again will meet the same certificate);
    - a URL or header http.client refuses: not retryable.

    Proxies in the environment (https_proxy, no_proxy) apply; redirects are not followed.
    """
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("User-Agent", USER_AGENT)
    for key, value in headers.items():
        request.add_header(key, value)
    where = f"{what} {redact(url)}"
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = int(response.status)
            data = response.read(MAX_REPLY_BYTES)
    except urllib.error.HTTPError as exc:
        try:
            detail = _snippet(exc.read(MAX_REPLY_BYTES))
        except (OSError, HTTPException):
            detail = ""
        finally:
            exc.close()
        message = f"{where}: HTTP {exc.code} {exc.reason}"
        if detail:
            message += f": {detail}"
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        if retry_after:
            message += f" (Retry-After: {retry_after})"
        raise SendError(message, retryable=http_retryable(exc.code)) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise SendError(f"{where}: TLS certificate not accepted: {reason}",
                            retryable=False) from None
        if isinstance(reason, TimeoutError):
            raise SendError(f"{where}: no answer within {timeout:g} s", retryable=True,
                            uncertain=True) from None
        raise SendError(f"{where}: cannot connect: {reason}", retryable=True) from None
    except TimeoutError:
        raise SendError(f"{where}: no answer within {timeout:g} s", retryable=True,
                        uncertain=True) from None
    except (OSError, HTTPException) as exc:
        raise SendError(f"{where}: connection failed: {exc!r}", retryable=True,
                        uncertain=True) from None
    except ValueError as exc:  # http.client refuses the URL or a header: configuration
        raise SendError(f"{where}: cannot send: {exc}", retryable=False) from None
    if not 200 <= status < 300:  # 1xx never reaches here; anything else is not a success
        raise SendError(f"{where}: unexpected HTTP {status}", retryable=http_retryable(status))
    return HttpReply(status, data)


def json_body(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON (Chinese stays as is: the byte limits of the robots count UTF-8)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def robot_error(what: str, url: str, reply: dict[str, Any], retryable_codes: frozenset[int],
                permanent_codes: frozenset[int]) -> SendError | None:
    """None when a robot's `errcode` is 0, else the SendError keeping its errcode and errmsg.

    Codes in `permanent_codes` are not retryable, codes in `retryable_codes` are; any other
    non-zero code is retryable: the error lists of the robots grow, the dispatcher bounds the
    attempts, and an errcode means the robot did not post the message, so trying again costs a
    few requests at worst where giving up would lose the message."""
    code = reply.get("errcode")
    message = str(reply.get("errmsg", "")).strip()
    if isinstance(code, bool) or not isinstance(code, int):
        return SendError(f"{what} {redact(url)}: the reply has no errcode: {reply!r:.200}",
                         retryable=True)
    if code == 0:
        return None
    retryable = code in retryable_codes or code not in permanent_codes
    return SendError(f"{what} {redact(url)}: errcode {code}: {message}", retryable=retryable)
