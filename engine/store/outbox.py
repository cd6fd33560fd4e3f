"""The outbox table: messages written with the event they tell of, routed and claimed by
dispatchers (SKIP LOCKED on PostgreSQL), marked with what happened.

A message is queued once per person with no channel. A dispatcher routes it with the
configuration in force then: the row takes the first channel its kind is routed to, and a row
is added for each further channel (its key is the message's key and the channel's name).
A message with no route, or a row whose channel is not configured, stays pending with
`waiting` saying why.

A message's status: pending (due at next_attempt_at), claimed (taken by a dispatcher, not yet
attempted), sending (the attempt is under way), sent, dead (gave up), unknown (cut off while
sending on a channel that cannot drop repeats: a person checks).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, select, update

from engine.store import tables as t
from engine.store.repository import Repository
from engine.store.rows import OUTBOX_COLUMNS, OutboxEntry, outbox_entry

__all__ = ["Message", "OutboxEntry", "OutboxRepository"]

_ADD = (
    'INSERT INTO outbox ("key", kind, channel, person, issue_id, escalation_id, context,'
    " status, attempts, next_attempt_at, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT DO NOTHING"
)
"""New messages on the raw path (a move's, a sweep's): a key already present is skipped."""


class Message(NamedTuple):
    """A message to write: one recipient, with its idempotency key and the context its
    template will be rendered with (JSON text); no channel until a dispatcher routes it.

    A tuple in the order of the insert's first columns (a sweep writes hundreds of
    thousands: its row is the message and the moments)."""

    key: str
    kind: str
    channel: str | None
    person: str
    issue_id: int | None
    escalation_id: int | None
    context: str


class OutboxRepository(Repository):
    def add(self, rows: Sequence[Message], now: datetime) -> None:
        """New messages; a key already present is skipped (never sent twice)."""
        if not rows:
            return
        when = self.d.time(now)
        self.run_many(_ADD, [(*r, when, when) for r in rows])

    def _insert(self, values: list[dict[str, Any]]) -> None:
        """Insert rows; a key already present is skipped."""
        if not self.d.sqlite:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
        self.conn.execute(dialect_insert(t.outbox).on_conflict_do_nothing(), values)

    def unrouted(self, now: datetime, after: int, limit: int) -> list[OutboxEntry]:
        """Due pending messages not routed yet, by id after `after` (PostgreSQL: FOR UPDATE
        SKIP LOCKED: another dispatcher routes the rows it holds)."""
        o = t.outbox.c
        q = (_select().where(o.status == "pending", o.channel.is_(None),
                             o.next_attempt_at <= now, o.id > after)
             .order_by(o.id).limit(limit))
        if not self.d.sqlite:
            q = q.with_for_update(skip_locked=True)
        return [outbox_entry(r) for r in self.conn.execute(q)]

    def route(self, entry: OutboxEntry, channels: Sequence[str], now: datetime) -> bool:
        """Route a message to `channels` (at least one): its row takes the first, a row is
        added for each other (key `KEY:CHANNEL`, due now; one already there is kept). False
        when another dispatcher routed it first."""
        o = t.outbox.c
        first, *others = channels
        done = self.conn.execute(
            update(t.outbox).where(o.id == entry.id, o.channel.is_(None))
            .values(channel=first, waiting=None))
        if done.rowcount != 1:
            return False
        if others:
            self._insert([{
                "key": f"{entry.key}:{channel}", "kind": entry.kind, "channel": channel,
                "person": entry.person, "issue_id": entry.issue_id,
                "escalation_id": entry.escalation_id,
                "context": json.dumps(entry.context, ensure_ascii=False),
                "status": "pending", "attempts": 0, "next_attempt_at": now,
                "created_at": entry.created_at} for channel in others])
        return True

    def hold(self, reasons: Mapping[int, str]) -> None:
        """Say why each of these pending rows is not sent (written only when it changes)."""
        o = t.outbox.c
        by_reason: dict[str, list[int]] = {}
        for row_id, reason in reasons.items():
            by_reason.setdefault(reason, []).append(row_id)
        for reason, ids in by_reason.items():
            self.conn.execute(
                update(t.outbox)
                .where(o.id.in_(ids), o.status == "pending",
                       o.waiting.is_(None) | (o.waiting != reason))
                .values(waiting=reason))

    def hold_unconfigured(self, channels: Sequence[str], now: datetime,
                          reason: str) -> list[int]:
        """Due pending rows routed to a channel not in `channels`: held, `waiting` saying so
        (`reason` with {channel} for the channel's name); their ids."""
        o = t.outbox.c
        found = list(self.conn.execute(
            select(o.id, o.channel).where(
                o.status == "pending", o.channel.is_not(None), o.channel.not_in(channels),
                o.next_attempt_at <= now).order_by(o.id)))
        self.hold({int(r[0]): reason.format(channel=r[1]) for r in found})
        return [int(r[0]) for r in found]

    def claim(self, now: datetime, limit: int, channels: Sequence[str]) -> list[OutboxEntry]:
        """Due pending rows routed to one of `channels`, marked `claimed` (PostgreSQL: FOR
        UPDATE SKIP LOCKED)."""
        o = t.outbox.c
        q = (_select().where(o.status == "pending", o.next_attempt_at <= now,
                             o.channel.in_(channels))
             .order_by(o.next_attempt_at, o.id).limit(limit))
        if not self.d.sqlite:
            q = q.with_for_update(skip_locked=True)
        rows = [outbox_entry(r) for r in self.conn.execute(q)]
        if rows:
            self.conn.execute(
                update(t.outbox).where(o.id.in_([r.id for r in rows]))
                .values(status="claimed", claimed_at=now, attempts=o.attempts + 1,
                        waiting=None))
        return rows

    def recover(self, cutoff: datetime, dedupes: dict[str, bool], now: datetime) -> list[int]:
        """Rows left `sending` since before `cutoff` (a dispatcher cut off between send and
        mark): sent again where the channel drops repeats, else `unknown` for a person."""
        o = t.outbox.c
        stuck = list(self.conn.execute(
            select(o.id, o.channel, o.status).where(
                o.status.in_(["claimed", "sending"]), o.claimed_at <= cutoff)))
        for row_id, channel, status in stuck:
            if status == "claimed":  # never attempted: simply due again
                values: dict[str, Any] = {"status": "pending", "next_attempt_at": now}
            elif dedupes.get(channel, False):
                values = {"status": "pending", "next_attempt_at": now,
                          "last_error": "cut off while sending: sent again"}
            else:
                values = {"status": "unknown",
                          "last_error": "cut off while sending: check whether it arrived"}
            self.conn.execute(update(t.outbox).where(o.id == row_id).values(**values))
        return [int(r[0]) for r in stuck]

    def start(self, row_id: int, claimed_at: datetime, now: datetime) -> bool:
        """Mark a claimed row `sending`, unless another dispatcher took it over meanwhile."""
        o = t.outbox.c
        done = self.conn.execute(
            update(t.outbox)
            .where(o.id == row_id, o.status == "claimed", o.claimed_at == claimed_at)
            .values(status="sending", claimed_at=now))
        return bool(done.rowcount == 1)

    def mark(self, row_id: int, status: str, now: datetime, error: str | None = None,
             next_attempt_at: datetime | None = None, attempts: int | None = None) -> None:
        values: dict[str, Any] = {"status": status, "waiting": None}
        if status != "sending":
            values["last_error"] = error
        if status == "sending":
            values["claimed_at"] = now
        if attempts is not None:
            values["attempts"] = attempts
        if status == "sent":
            values["sent_at"] = now
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        self.conn.execute(update(t.outbox).where(t.outbox.c.id == row_id).values(**values))

    def failed(self, dead: bool) -> list[OutboxEntry]:
        """What `outbox retry --all` puts back: `unknown` rows and `pending` ones that failed
        (a last error: waiting for their next try), and `dead` ones too when `dead`
        (PostgreSQL: locked, so a dispatcher does not take one meanwhile)."""
        o = t.outbox.c
        found = (o.status == "pending") & o.last_error.is_not(None)
        found |= o.status.in_(["unknown", "dead"] if dead else ["unknown"])
        q = _select().where(found).order_by(o.id)
        if not self.d.sqlite:
            q = q.with_for_update()
        return [outbox_entry(r) for r in self.conn.execute(q)]

    def entries(self, statuses: Sequence[str] = (), limit: int | None = None,
                issue_id: int | None = None) -> list[OutboxEntry]:
        o = t.outbox.c
        q = _select().order_by(o.id)
        if statuses:
            q = q.where(o.status.in_(list(statuses)))
        if issue_id is not None:
            q = q.where(o.issue_id == issue_id)
        if limit:
            q = q.limit(limit)
        return [outbox_entry(r) for r in self.conn.execute(q)]

    def entry(self, row_id: int) -> OutboxEntry | None:
        r = self.conn.execute(_select().where(t.outbox.c.id == row_id)).first()
        return None if r is None else outbox_entry(r)


def _select() -> Select[tuple[object, ...]]:
    return select(*(getattr(t.outbox.c, n) for n in OUTBOX_COLUMNS))
