"""What the dispatcher hands a channel (`Outgoing`: one rendered message for one `Recipient`),
and what a channel may answer (`SendError`, re-exported here from notifications.errors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from notifications.errors import ConfigError, NotificationError, SendError

KINDS: Final = ("reminder", "interview", "accountability", "assignment", "rejection",
                "extension", "interview_recorded", "briefing", "reassignment",
                "extension_request", "voided")
"""Every kind of message: each has its templates and its routing."""
LOCALES: Final = ("zh_CN", "en")
"""The languages the packaged templates are written in."""


@dataclass(frozen=True)
class Recipient:
    person: str
    """The person id in the org."""
    name: str
    email: str | None = None
    mobile: str | None = None


@dataclass(frozen=True)
class Rendered:
    """One message in every form a channel may want."""

    subject: str
    text: str
    markdown: str
    html: str


@dataclass(frozen=True)
class Outgoing:
    """One outbox row, rendered: one recipient on one channel."""

    id: int
    kind: str
    """reminder | interview | accountability | assignment | rejection | extension |
    interview_recorded | briefing | reassignment | extension_request | voided"""
    channel: str
    """The channel's name in the configuration (e.g. "mail", "ding")."""
    recipient: Recipient
    content: Rendered
    idempotency_key: str
    """Stable for this row across retries and restarts: travels with the message (the email's
    Message-ID, a webhook header) so a receiver can drop a repeat."""
    attempt: int = 1
    extra: dict[str, str] = field(default_factory=dict)


__all__ = [
    "ConfigError",
    "NotificationError",
    "Outgoing",
    "Recipient",
    "Rendered",
    "SendError",
]
