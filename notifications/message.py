"""What the dispatcher hands a channel, and what a channel may answer."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import Malformed, RectifyError


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
    interview_recorded | briefing"""
    channel: str
    """The channel's name in the configuration (e.g. "mail", "ding")."""
    recipient: Recipient
    content: Rendered
    idempotency_key: str
    """Stable for this row across retries and restarts: travels with the message (the email's
    Message-ID, a webhook header) so a receiver can drop a repeat."""
    attempt: int = 1
    extra: dict[str, str] = field(default_factory=dict)


class SendError(Exception):
    """A channel could not deliver. `retryable` False means trying again cannot help."""

    def __init__(self, message: str, retryable: bool = True, uncertain: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.uncertain = uncertain
        """The request may have arrived (e.g. no answer in time): sending again could post it
        twice where the receiver cannot drop repeats."""


class ConfigError(Malformed):
    """A bad configuration: names the key that is wrong (exit 2)."""


__all__ = ["ConfigError", "Outgoing", "Recipient", "RectifyError", "Rendered", "SendError"]
