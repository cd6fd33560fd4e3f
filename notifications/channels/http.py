"""The one HTTP POST the webhook and the robot channels (dingtalk, wecom) share: `post`, its
reply `HttpReply`, and the helpers that turn answers into `SendError`s with the right
`retryable` (`http_retryable`, `robot_error`) without leaking a robot's token (`redact`).

Replies are read up to `MAX_REPLY_BYTES`; every request carries `USER_AGENT`.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPException
from typing import IO, Any, Final
from urllib.parse import urlsplit

from notifications.errors import SendError

USER_AGENT: Final = "rectify-notifications/0.1"

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


__all__ = [
    "MAX_REPLY_BYTES",
    "USER_AGENT",
    "HttpReply",
    "http_retryable",
    "json_body",
    "post",
    "redact",
    "robot_error",
]
