"""webhook: a JSON POST per message to an HTTP endpoint of our own (or a partner's).

Settings: `url` (required), `secret` (optional, env:NAME: sign the body), `headers` (optional
extra headers, e.g. an Authorization token; values may be env:NAME), `timeout` (default 10 s).

Body (UTF-8 JSON): {"id", "kind", "recipient": {"person", "name", "email", "mobile"}, "subject",
"text", "markdown", "idempotency_key"}. Headers: `Content-Type: application/json`,
`X-Rectify-Key: <idempotency key>` and, with a secret, `X-Rectify-Signature: sha256=<hex>`, the
HMAC-SHA256 of the exact body bytes keyed with the secret. A receiver verifies the signature
over the raw body before parsing it, and drops a key it has already seen.

Any 2xx is a success. 5xx, 408, 429, timeouts and connection errors are retryable; other 4xx
(and 3xx: redirects are not followed) are not.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from notifications.channels.http import json_body, post
from notifications.channels.settings import DEFAULT_TIMEOUT, Settings
from notifications.message import Outgoing

SIGNATURE_HEADER = "X-Rectify-Signature"
KEY_HEADER = "X-Rectify-Key"

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


def signature(secret: str, body: bytes) -> str:
    """The X-Rectify-Signature value for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def payload(msg: Outgoing) -> dict[str, Any]:
    r = msg.recipient
    return {
        "id": msg.id,
        "kind": msg.kind,
        "recipient": {"person": r.person, "name": r.name, "email": r.email, "mobile": r.mobile},
        "subject": msg.content.subject,
        "text": msg.content.text,
        "markdown": msg.content.markdown,
        "idempotency_key": msg.idempotency_key,
    }


class WebhookChannel:
    dedupes: bool = True
    """The receiver gets the idempotency key in X-Rectify-Key (and the body) and can drop a
    repeat."""

    def __init__(self, name: str, url: str, *, secret: str | None = None,
                 headers: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT,
                 per_minute: int | None = None) -> None:
        self.name = name
        self.url = url
        self._secret = secret
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.per_minute = per_minute

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookChannel:
        secret = settings.optional_text("secret")
        if secret is not None and not secret:
            raise settings.error("secret", "must not be empty (leave it out to send unsigned)")
        headers = settings.text_mapping("headers")
        for header in headers:
            if not _TOKEN.match(header):
                raise settings.error(f"headers.{header}", "is not a valid header name")
        return cls(settings.channel, settings.url("url"), secret=secret,
                   headers=headers, timeout=settings.seconds(),
                   per_minute=settings.per_minute(None))

    def __repr__(self) -> str:
        return f"WebhookChannel({self.name!r})"

    def send(self, msg: Outgoing) -> None:
        body = json_body(payload(msg))
        headers = dict(self.headers)
        headers["Content-Type"] = "application/json; charset=utf-8"
        headers[KEY_HEADER] = msg.idempotency_key
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        post(self.url, body, headers, self.timeout, f"webhook {self.name}")
