"""The dispatcher: claim due outbox rows, render, send, mark; retry with back-off and jitter.

A pass first recovers rows left `sending` by a dispatcher that was cut off between sending and
marking (older than the lease): channels whose receivers drop repeats by the idempotency key
(the email Message-ID, the webhook header) get them again; for the others the row becomes
`unknown` for a person to check, never a silent double send.
"""

from __future__ import annotations

import os
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from engine.store.outbox import OutboxEntry, OutboxTx
from notifications.config import Config
from notifications.message import Outgoing, Recipient, Rendered, SendError


class _Channel(Protocol):
    dedupes: bool
    per_minute: int | None

    def send(self, msg: Outgoing) -> None: ...


class _Renderer(Protocol):
    def render(self, kind: str, context: Mapping[str, Any]) -> Rendered: ...


@dataclass
class PassResult:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[int]]:
        return {"sent": self.sent, "retrying": self.retrying, "dead": self.dead,
                "unknown": self.unknown, "recovered": self.recovered}


class Pacer:
    """At most `per_minute` sends a minute per channel (DingTalk and WeCom robots: 20)."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sleep, self.clock = sleep, clock
        self.sent: dict[str, deque[float]] = {}

    def wait(self, channel: str, per_minute: int | None) -> None:
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


def build_channels(config: Config, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    from notifications.channels import build

    env = os.environ if env is None else env
    return {name: build(name, settings, env) for name, settings in config.channels.items()}


def backoff(config: Config, attempts: int, rng: random.Random) -> float:
    """Seconds before the next try: base × 2^(tries-1), with ±25 % jitter."""
    base = config.dispatch.backoff_seconds * float(2 ** max(0, attempts - 1))
    return base * (0.75 + rng.random() * 0.5)


def dispatch_pass(
    svc: Any,
    config: Config,
    channels: Mapping[str, _Channel],
    renderer: _Renderer,
    pacer: Pacer | None = None,
    rng: random.Random | None = None,
) -> PassResult:
    """One pass: recover, then claim and send in batches until nothing is due."""
    pacer = pacer or Pacer()
    rng = rng or random.Random()
    result = PassResult()
    with svc.store.transaction(write=True) as tx:
        tz = svc.timezone(tx)
        now = svc.now(tz)
        cutoff = now - timedelta(seconds=config.dispatch.lease_seconds)
        dedupes = {name: bool(getattr(ch, "dedupes", False)) for name, ch in channels.items()}
        result.recovered = OutboxTx(tx).recover(cutoff, dedupes, now)
    while True:
        with svc.store.transaction(write=True) as tx:
            claimed_at = svc.now(svc.timezone(tx))
            claimed = OutboxTx(tx).claim(claimed_at, config.dispatch.batch)
            org = tx.load_org() if claimed else None
        for entry in claimed:
            assert org is not None
            with svc.store.transaction(write=True) as tx:  # from here on it may be out
                mine = OutboxTx(tx).start(entry.id, claimed_at, svc.now(svc.timezone(tx)))
            if not mine:
                continue  # taken over after our lease ran out
            outcome, error = _send_one(entry, org, channels, renderer, pacer)
            with svc.store.transaction(write=True) as tx:
                now = svc.now(svc.timezone(tx))
                box = OutboxTx(tx)
                tries = entry.attempts + 1
                if outcome == "sent":
                    box.mark(entry.id, "sent", now)
                    result.sent.append(entry.id)
                elif outcome == "unknown":
                    box.mark(entry.id, "unknown", now, error)
                    result.unknown.append(entry.id)
                elif outcome == "retry" and tries < config.dispatch.max_tries:
                    later = now + timedelta(seconds=backoff(config, tries, rng))
                    box.mark(entry.id, "pending", now, error, later)
                    result.retrying.append(entry.id)
                else:
                    box.mark(entry.id, "dead", now, error)
                    result.dead.append(entry.id)
        if len(claimed) < config.dispatch.batch:
            return result


def _send_one(entry: OutboxEntry, org: Any, channels: Mapping[str, _Channel],
              renderer: _Renderer, pacer: Pacer) -> tuple[str, str | None]:
    channel = channels.get(entry.channel)
    if channel is None:
        return "dead", f"no channel {entry.channel!r} in the configuration"
    person = org.people.get(entry.person)
    if person is None:
        return "dead", f"{entry.person} is no longer in the org"
    try:
        content = renderer.render(entry.kind, entry.context)
    except Exception as e:  # a template that cannot render is not retried
        return "dead", f"template: {type(e).__name__}: {e}"
    msg = Outgoing(
        id=entry.id, kind=entry.kind, channel=entry.channel,
        recipient=Recipient(person=person.id, name=person.name, email=person.email,
                            mobile=person.mobile),
        content=content, idempotency_key=entry.key, attempt=entry.attempts + 1,
        extra={"issue": str(entry.issue_id or "")},
    )
    pacer.wait(entry.channel, channel.per_minute)
    try:
        channel.send(msg)
    except SendError as e:
        if e.uncertain and not channel.dedupes:
            return "unknown", f"{e}: it may have arrived; check before retrying"
        return ("retry" if e.retryable else "dead"), str(e)
    except OSError as e:
        if not channel.dedupes:
            return "unknown", f"{type(e).__name__}: {e}: it may have arrived"
        return "retry", f"{type(e).__name__}: {e}"
    return "sent", None


def now_utc() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
