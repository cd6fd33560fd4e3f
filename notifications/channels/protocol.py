"""What every channel offers.

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

from typing import Protocol, runtime_checkable

from notifications.message import Outgoing


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


__all__ = ["Channel"]
