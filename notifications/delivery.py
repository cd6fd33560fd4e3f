"""Delivering one queued message, without the database: find its channel, render it, pace,
send, and say what came of it.

The queue (the application's outbox) claims entries and records outcomes; this module does
what lies between. An entry is anything with the fields of `Entry`; the recipient is looked up
by the caller (None when the person has left the org).

Outcomes (`deliver`):

- sent: the channel accepted it.
- retry: it failed in a way that may pass (a 5xx, a timeout where the receiver drops repeats,
  a refused connection); the caller retries after `backoff` until its tries run out.
- dead: trying again cannot help: no such channel in the configuration, the person is no longer
  in the org, the template cannot render, or the channel refused the message for good.
- unknown: it may have arrived (no answer in time, a broken connection) on a channel whose
  receiver cannot drop repeats: a person checks before anything is sent again.
"""

from __future__ import annotations

import os
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

from notifications.channels import Channel, build
from notifications.config import Config
from notifications.errors import ConfigError, SendError
from notifications.message import Outgoing, Recipient, Rendered

Status = Literal["sent", "retry", "dead", "unknown"]


class Entry(Protocol):
    """One queued message: one person on one channel (the outbox row, read)."""

    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str:
        """The idempotency key: stable across retries, travels with the message."""
        ...
    @property
    def kind(self) -> str: ...
    @property
    def channel(self) -> str | None:
        """The channel's name in the configuration (None: not routed)."""
        ...
    @property
    def person(self) -> str: ...
    @property
    def issue_id(self) -> int | None: ...
    @property
    def context(self) -> Mapping[str, Any]:
        """What the templates are rendered with (see notifications.render)."""
        ...
    @property
    def attempts(self) -> int:
        """Attempts before this one."""
        ...


class MessageRenderer(Protocol):
    """What renders a kind of message (notifications.render.Renderer)."""

    def render(self, kind: str, context: Mapping[str, Any]) -> Rendered: ...


class Outcome(NamedTuple):
    status: Status
    error: str | None = None
    """What went wrong, for the record (None when sent)."""


@dataclass
class PassResult:
    """The ids of the entries a dispatch pass handled, by what came of them."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    """Entries left `sending` by a cut-off pass and queued again (their channel dedupes)."""
    unknown: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    """Entries held pending (no route for their kind, their channel not configured): not in
    the JSON form, which keeps its keys; `outbox list` says why each waits."""

    def to_dict(self) -> dict[str, list[int]]:
        """The JSON form (a contract: these keys, in this order)."""
        return {"sent": self.sent, "retrying": self.retrying, "dead": self.dead,
                "unknown": self.unknown, "recovered": self.recovered}


class Pacer:
    """At most `per_minute` sends a minute per channel (DingTalk and WeCom robots: 20)."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sleep, self.clock = sleep, clock
        self.sent: dict[str, deque[float]] = {}

    def wait(self, channel: str, per_minute: int | None) -> None:
        """Sleep until one more send on `channel` keeps within `per_minute`, and count it."""
        if not per_minute:
            return
        window = self.sent.setdefault(channel, deque())
        now = self.clock()
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) >= per_minute:
            self.sleep(60 - (now - window[0]))
            window.popleft()
        window.append(self.clock())


def build_channels(config: Config, env: Mapping[str, str] | None = None) -> dict[str, Channel]:
    """Every channel of the configuration; a ConfigError naming the file, line and key of the
    first setting that is wrong."""
    env = os.environ if env is None else env
    channels: dict[str, Channel] = {}
    for name, settings in config.channels.items():
        try:
            channels[name] = build(name, settings, env)
        except ConfigError as e:
            raise config.located(e) from None
    return channels


def backoff(config: Config, attempts: int, rng: random.Random) -> float:
    """Seconds before the next try: base × 2^(tries-1), with ±25 % jitter."""
    base = config.dispatch.backoff_seconds * float(2 ** max(0, attempts - 1))
    return base * (0.75 + rng.random() * 0.5)


def deliver(entry: Entry, recipient: Recipient | None, channels: Mapping[str, Channel],
            renderer: MessageRenderer, pacer: Pacer) -> Outcome:
    """Render `entry` for `recipient`, wait for its channel's pace, send it; what came of it
    (see the module docstring). Never raises for what a channel or a template does."""
    name = entry.channel
    channel = None if name is None else channels.get(name)
    if name is None or channel is None:
        return Outcome("dead", f"no channel {name!r} in the configuration")
    if recipient is None:
        return Outcome("dead", f"{entry.person} is no longer in the org")
    try:
        content = renderer.render(entry.kind, entry.context)
    except Exception as e:  # a template that cannot render is not retried
        return Outcome("dead", f"template: {type(e).__name__}: {e}")
    msg = Outgoing(
        id=entry.id, kind=entry.kind, channel=name, recipient=recipient,
        content=content, idempotency_key=entry.key, attempt=entry.attempts + 1,
        extra={"issue": str(entry.issue_id or "")},
    )
    pacer.wait(name, channel.per_minute)
    try:
        channel.send(msg)
    except SendError as e:
        if e.uncertain and not channel.dedupes:
            return Outcome("unknown", f"{e}: it may have arrived; check before retrying")
        return Outcome("retry" if e.retryable else "dead", str(e))
    except OSError as e:
        if not channel.dedupes:
            return Outcome("unknown", f"{type(e).__name__}: {e}: it may have arrived")
        return Outcome("retry", f"{type(e).__name__}: {e}")
    return Outcome("sent")


__all__ = [
    "Entry",
    "MessageRenderer",
    "Outcome",
    "Pacer",
    "PassResult",
    "Status",
    "backoff",
    "build_channels",
    "deliver",
]
