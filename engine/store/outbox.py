"""The outbox's statements: add rows with the event, claim due rows, mark what happened."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from engine.store import tables as t
from engine.store.uow import Tx

STATUSES = ("pending", "claimed", "sending", "sent", "dead", "unknown")
"""claimed: taken by a dispatcher, not yet attempted; sending: the attempt is under way."""


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    key: str
    kind: str
    channel: str
    person: str
    issue_id: int | None
    escalation_id: int | None
    context: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    claimed_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    created_at: datetime


def _entry(r: Any) -> OutboxEntry:
    return OutboxEntry(
        id=r.id, key=r.key, kind=r.kind, channel=r.channel, person=r.person,
        issue_id=r.issue_id, escalation_id=r.escalation_id, context=json.loads(r.context),
        status=r.status, attempts=r.attempts, next_attempt_at=r.next_attempt_at,
        claimed_at=r.claimed_at, sent_at=r.sent_at, last_error=r.last_error,
        created_at=r.created_at,
    )


class OutboxTx:
    def __init__(self, tx: Tx) -> None:
        self.conn = tx.conn
        self.pg = not tx.d.sqlite

    def add(self, rows: Sequence[Any], now: datetime) -> None:
        """Rows from engine.notify; a key already present is skipped (never sent twice)."""
        if not rows:
            return
        values = [{
            "key": r.key, "kind": r.kind, "channel": r.channel, "person": r.person,
            "issue_id": r.issue_id, "escalation_id": r.escalation_id, "context": r.context,
            "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
        } for r in rows]
        if self.pg:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
        self.conn.execute(dialect_insert(t.outbox).on_conflict_do_nothing(), values)

    def claim(self, now: datetime, limit: int) -> list[OutboxEntry]:
        """Due pending rows, marked `claimed` (PostgreSQL: FOR UPDATE SKIP LOCKED)."""
        o = t.outbox.c
        q = (select(t.outbox).where(o.status == "pending", o.next_attempt_at <= now)
             .order_by(o.next_attempt_at, o.id).limit(limit))
        if self.pg:
            q = q.with_for_update(skip_locked=True)
        rows = [_entry(r) for r in self.conn.execute(q)]
        if rows:
            self.conn.execute(
                update(t.outbox).where(o.id.in_([r.id for r in rows]))
                .values(status="claimed", claimed_at=now, attempts=o.attempts + 1))
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
        values: dict[str, Any] = {"status": status}
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

    def entries(self, statuses: Sequence[str] = (), limit: int | None = None,
                issue_id: int | None = None) -> list[OutboxEntry]:
        o = t.outbox.c
        q = select(t.outbox).order_by(o.id)
        if statuses:
            q = q.where(o.status.in_(list(statuses)))
        if issue_id is not None:
            q = q.where(o.issue_id == issue_id)
        if limit:
            q = q.limit(limit)
        return [_entry(r) for r in self.conn.execute(q)]

    def entry(self, row_id: int) -> OutboxEntry | None:
        r = self.conn.execute(select(t.outbox).where(t.outbox.c.id == row_id)).first()
        return None if r is None else _entry(r)

    def counts(self) -> dict[str, int]:
        o = t.outbox.c
        return {s: int(n) for s, n in
                self.conn.execute(select(o.status, func.count()).group_by(o.status))}


__all__ = ["STATUSES", "OutboxEntry", "OutboxTx", "insert"]
