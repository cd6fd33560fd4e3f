"""Sending the outbox: a dispatch pass, the list of messages, and putting one back in line.

A pass first recovers rows left `sending` by a dispatcher that was cut off between sending and
marking (older than the lease): channels whose receivers drop repeats by the idempotency key
(the email Message-ID, the webhook header) get them again; for the others the row becomes
`unknown` for a person to check, never a silent double send. Then it routes the messages queued
since (the channels of their kind in the configuration in force now: a message is queued with
none), and claims due rows in batches and hands each to `notifications.delivery.deliver`, one
transaction to mark it `sending` and one to record what came of it, so a message is never out
unrecorded for longer than its send. A message whose kind has no route, or a row whose channel
is not configured, is held (pending, its tries not spent) with `waiting` saying why.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from engine.app.session import Session, configuration_errors
from engine.errors import BadConfig, BadOption, NotFound, Refused
from engine.store.outbox import OutboxEntry
from notifications.message import Recipient

if TYPE_CHECKING:
    from notifications.channels import Channel
    from notifications.delivery import MessageRenderer, Pacer, PassResult


@dataclass
class Sender:
    """What a pass sends with: the channels, the renderer and the pacer (built once by the
    scheduler, or per command)."""

    channels: Mapping[str, Channel]
    renderer: MessageRenderer
    pacer: Pacer
    routing: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """kind -> the names of the channels it goes to."""
    source: str = "the configuration"
    """Where the routing comes from (the file), for the reason a message is held."""
    rng: random.Random = field(default_factory=random.Random)


def sender(s: Session, console: bool = False) -> Sender:
    """The configured channels, routing and templates; a wrong setting is refused (exit 2).

    With no configuration found a dispatcher does not start (exit 2, naming where it looked)
    unless `console` says to print every message on stdout; `console` with a configuration is
    refused too (the configuration says where messages go)."""
    from notifications.delivery import Pacer, build_channels
    from notifications.render import Renderer

    cfg = s.app.config()
    if cfg.looked is not None and not console:
        raise BadConfig(f"no notification configuration: looked for {cfg.looked}; write one"
                        " (or give --config FILE), or give --console to print the messages"
                        " on stdout")
    if cfg.looked is None and console:
        raise BadOption(f"--console is for when there is no notification configuration, and"
                        f" there is one ({cfg.source}): its channels are used")
    with configuration_errors():
        return Sender(build_channels(cfg), Renderer(cfg.locale, cfg.templates), Pacer(),
                      routing=cfg.routing, source=cfg.source)


def route(s: Session, using: Sender, batch: int) -> list[int]:
    """Route every due message queued without a channel to the channels its kind has now;
    hold the rest (no route, or routed to a channel not configured). The ids held."""
    held: list[int] = []
    after = 0
    while True:
        with s.transaction(write=True) as tx:
            now = s.now(tx)
            found = tx.outbox.unrouted(now, after, batch)
            reasons: dict[int, str] = {}
            for entry in found:
                channels = [c for c in using.routing.get(entry.kind, ())
                            if c in using.channels]
                if channels:
                    tx.outbox.route(entry, channels, now)
                else:
                    reasons[entry.id] = f"no route for {entry.kind!r} in {using.source}"
            tx.outbox.hold(reasons)
            held += reasons
            if len(found) < batch:
                held += tx.outbox.hold_unconfigured(
                    list(using.channels), now,
                    f"channel {{channel!r}} is not in {using.source}")
                return held
        after = found[-1].id


def dispatch(s: Session, using: Sender | None = None, console: bool = False) -> PassResult:
    """One pass: recover, route what was queued, then claim and send in batches until
    nothing is due (`console`: no configuration, print every message; see `sender`)."""
    from notifications.delivery import PassResult, backoff, deliver

    using = using or sender(s, console)
    cfg = s.app.config()
    result = PassResult()
    with s.transaction(write=True) as tx:
        now = s.now(tx)
        cutoff = now - timedelta(seconds=cfg.dispatch.lease_seconds)
        dedupes = {name: bool(ch.dedupes) for name, ch in using.channels.items()}
        result.recovered = tx.outbox.recover(cutoff, dedupes, now)
    result.waiting = route(s, using, cfg.dispatch.batch)
    while True:
        with s.transaction(write=True) as tx:
            claimed_at = s.now(tx)
            claimed = tx.outbox.claim(claimed_at, cfg.dispatch.batch, list(using.channels))
            org = tx.org.load() if claimed else None
        for entry in claimed:
            assert org is not None
            with s.transaction(write=True) as tx:  # from here on it may be out
                mine = tx.outbox.start(entry.id, claimed_at, s.now(tx))
            if not mine:
                continue  # taken over after our lease ran out
            person = org.people.get(entry.person)
            recipient = None if person is None else Recipient(
                person=person.id, name=person.name, email=person.email, mobile=person.mobile)
            outcome = deliver(entry, recipient, using.channels, using.renderer, using.pacer)
            with s.transaction(write=True) as tx:
                now = s.now(tx)
                tries = entry.attempts + 1
                status, error = outcome.status, outcome.error
                if status == "sent":
                    tx.outbox.mark(entry.id, "sent", now)
                    result.sent.append(entry.id)
                elif status == "unknown":
                    tx.outbox.mark(entry.id, "unknown", now, error)
                    result.unknown.append(entry.id)
                elif status == "retry" and tries < cfg.dispatch.max_tries:
                    later = now + timedelta(seconds=backoff(cfg, tries, using.rng))
                    tx.outbox.mark(entry.id, "pending", now, error, later)
                    result.retrying.append(entry.id)
                else:
                    tx.outbox.mark(entry.id, "dead", now, error)
                    result.dead.append(entry.id)
        if len(claimed) < cfg.dispatch.batch:
            return result


def messages(s: Session, statuses: Sequence[str] = (),
             issue_id: int | None = None) -> list[OutboxEntry]:
    """Outbox messages (one per recipient and channel), by status and issue."""
    with s.transaction(write=False) as tx:
        s.timezone(tx)
        return tx.outbox.entries(statuses, issue_id=issue_id)


def retry_all(s: Session, dead: bool = False) -> list[OutboxEntry]:
    """Put back in the queue, due now with their tries reset, every `unknown` message and every
    `pending` one that failed (waiting out its back-off), and with `dead` every dead one; the
    messages as they were before (their status then)."""
    with s.transaction(write=True) as tx:
        now = s.now(tx)
        s.timezone(tx)
        found = tx.outbox.failed(dead)
        for entry in found:
            tx.outbox.mark(entry.id, "pending", now, entry.last_error, now, attempts=0)
    return found


def retry(s: Session, row_id: int) -> OutboxEntry:
    """Put a dead or unknown message back in the queue, to be sent at the next pass."""
    with s.transaction(write=True) as tx:
        now = s.now(tx)
        entry = tx.outbox.entry(row_id)
        if entry is None:
            raise NotFound(f"no outbox message {row_id}")
        if entry.status not in ("dead", "unknown"):
            raise Refused(f"outbox message {row_id} is {entry.status}: only a dead or unknown"
                          " one is retried")
        tx.outbox.mark(row_id, "pending", now, entry.last_error, now, attempts=0)
        again = tx.outbox.entry(row_id)
    assert again is not None
    return again
