"""The audit's reads: the whole history streamed in chain order or issue by issue, with the
rows it must reproduce, in one snapshot, memory flat (a server-side cursor on PostgreSQL).

Rows come straight from the driver: on SQLite times are the stored text, on PostgreSQL aware
datetimes; `Reads.when` (the store's own conversion) turns either into aware UTC.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from itertools import count
from typing import Any

from engine.domain.audit import Replay, backdated
from engine.domain.chain import GENESIS, row_hash
from engine.domain.escalation import Escalation, Extension
from engine.domain.issue import Event, Issue
from engine.errors import Refused
from engine.store.uow import CHAIN_HEAD, HISTORY_COLUMNS, ISSUE_COLUMNS, Tx

_BATCH = 2000
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def payload(text: str) -> dict[str, Any]:
    """A stored payload (canonical JSON: no leading space), parsed without json.loads's
    whitespace checks; anything else goes the slow way."""
    try:
        found: dict[str, Any] = _scan(text, 0)[0]
        return found
    except (StopIteration, TypeError):
        return dict(json.loads(text))


_names = count()


class Reads:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.sqlite = tx.d.sqlite
        self.raw: Any = tx.conn.connection.driver_connection
        if not self.sqlite:  # one snapshot for every pass
            tx.conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        self.when = tx.d.when_in

    def _stream(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        if self.sqlite:
            cur = self.raw.cursor()
            try:
                cur.execute(sql, params)
                while rows := cur.fetchmany(_BATCH):
                    yield from rows
            finally:
                with suppress(Exception):  # the connection may be gone (an abandoned reader)
                    cur.close()
            return
        cur = self.raw.cursor(name=f"audit_{next(_names)}")
        cur.itersize = _BATCH
        try:
            cur.execute(sql.replace("?", "%s"), params)
            yield from cur
        finally:
            with suppress(Exception):
                cur.close()

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def row_hash(self, row: Sequence[Any], seq: int | None = None) -> str:
        return row_hash(row, seq, sqlite=self.sqlite)

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cur = self.raw.cursor()
        try:
            cur.execute(sql if self.sqlite else sql.replace("?", "%s"), params)
            rows: list[tuple[Any, ...]] = cur.fetchall()
            return rows
        finally:
            cur.close()

    # --- the chain ------------------------------------------------------------------------
    def first_broken_link(self) -> int | None:
        """The first event that does not follow the one before it (its prev_hash is not that
        event's hash, or that event is missing), found by the database in one join."""
        row = self._one(
            "SELECT h.seq FROM history h LEFT JOIN history p ON p.seq = h.seq - 1"
            " WHERE CASE WHEN h.seq = 1 THEN h.prev_hash <> ?"
            " ELSE (p.hash IS NULL OR p.hash <> h.prev_hash) END"
            " ORDER BY h.seq LIMIT 1", (GENESIS,))
        return None if row is None else int(row[0])

    def links_around(self, seq: int) -> tuple[list[tuple[int, str, str]], tuple[int, str, str],
                                              tuple[int, str, str] | None]:
        """(the two events before, the event, the one after) as (seq, prev_hash, hash)."""
        def fetch(sql: str) -> list[tuple[int, str, str]]:
            return [(int(r[0]), str(r[1]), str(r[2])) for r in self._all(sql, (seq,))]

        before = fetch("SELECT seq, prev_hash, hash FROM history WHERE seq < ?"
                       " ORDER BY seq DESC LIMIT 2")
        at = fetch("SELECT seq, prev_hash, hash FROM history WHERE seq = ?")
        after = fetch("SELECT seq, prev_hash, hash FROM history WHERE seq > ?"
                      " ORDER BY seq LIMIT 1")
        return before[::-1], at[0], (after[0] if after else None)

    def hash_at(self, seq: int) -> str | None:
        row = self._one("SELECT hash FROM history WHERE seq = ?", (seq,))
        return None if row is None else str(row[0])

    def head(self) -> tuple[int, str] | None:
        row = self._one(CHAIN_HEAD)
        return None if row is None else (int(row[0]), str(row[1]))

    def count_events(self) -> int:
        row = self._one("SELECT count(*) FROM history")
        return int(row[0]) if row else 0

    def event_row(self, seq: int) -> tuple[Any, ...] | None:
        return self._one(f"SELECT {', '.join(HISTORY_COLUMNS)} FROM history WHERE seq = ?",
                         (seq,))

    def seq_of_hash(self, digest: str) -> int | None:
        row = self._one("SELECT min(seq) FROM history WHERE hash = ?", (digest,))
        return None if row is None or row[0] is None else int(row[0])

    # --- events -----------------------------------------------------------------------------
    def events(self, by_issue: bool = True, issue_id: int | None = None,
               until: datetime | None = None) -> Iterator[tuple[Any, ...]]:
        """History rows (HISTORY_COLUMNS), issue by issue in version order, or in chain order."""
        where, params = [], []
        if issue_id is not None:
            where.append("issue_id = ?")
            params.append(issue_id)
        if until is not None:
            where.append("at <= ?")
            params.append(self.tx.d.when_out(until))
        sql = f"SELECT {', '.join(HISTORY_COLUMNS)} FROM history"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY issue_id, version" if by_issue else " ORDER BY seq"
        return self._stream(sql, tuple(params))

    def villages(self) -> dict[int, str]:
        """Each issue's village, from its first event (the history, not the table)."""
        sql = ("SELECT issue_id, payload FROM history WHERE type IN ('created', 'imported')")
        return {int(i): str(payload(p).get("village")) for i, p in self._all(sql)}

    def event(self, row: tuple[Any, ...]) -> Event:
        try:
            return self._event(row)
        except (ValueError, TypeError, StopIteration) as e:
            raise Refused(f"event {row[0]} cannot be read ({e}): run `rectify audit verify`"
                          ) from None

    def _event(self, row: tuple[Any, ...]) -> Event:
        when = self.when
        return Event(
            seq=row[0], issue_id=row[1], version=row[2], type=row[3], transition=row[4],
            from_state=row[5], to_state=row[6], actor=row[7], at=when(row[8]),  # type: ignore[arg-type]
            recorded_at=when(row[9]), payload=payload(row[10]), workflow=row[11],
            prev_hash=row[12], hash=row[13])

    def fold(self, replay: Replay, rows: Iterable[tuple[Any, ...]]) -> str | None:
        """Fold one issue's history rows (in version order) into `replay` without making
        Events: the audit's hot loop. Stops at a gap in the versions and says so."""
        sqlite, when, apply = self.sqlite, self.when, replay.apply_row
        fromiso = datetime.fromisoformat
        expected = replay.events + 1
        for row in rows:
            if row[2] != expected:
                return (f"issue {row[1]}'s history jumps from version {expected - 1} to"
                        f" {row[2]}: an event is missing")
            expected += 1
            at, recorded = row[8], row[9]
            moment: Any
            if sqlite and at[:16] == recorded[:16]:  # the same minute: not back-dated
                late, moment = False, fromiso(at + "+00:00")
            else:
                moment = when(at)
                late = backdated(moment, when(recorded))
            apply(row[0], row[1], row[2], row[3], row[7], moment, late, payload(row[10]),
                  row[11], row[6])
        return None

    # --- what the history must reproduce ----------------------------------------------------
    def issues(self) -> Iterator[Issue]:
        mapping = self.tx._issue
        for row in self._stream(f"SELECT {', '.join(ISSUE_COLUMNS)} FROM issues ORDER BY id"):
            yield mapping(row)

    def escalations(self) -> Iterator[Escalation]:
        when = self.when
        sql = ("SELECT id, issue_id, stage, stage_version, level, due_at, moment, raised_at,"
               " recipients, status, closed_at, closed_by, note, attendees FROM escalations"
               " ORDER BY issue_id, id")
        for r in self._stream(sql):
            yield Escalation(
                id=r[0], issue_id=r[1], stage=r[2], stage_version=r[3], level=r[4],
                due_at=when(r[5]), moment=when(r[6]), raised_at=when(r[7]),  # type: ignore[arg-type]
                recipients=tuple(_scan(r[8], 0)[0]), status=r[9], closed_at=when(r[10]),
                closed_by=r[11], note=r[12],
                attendees=tuple(_scan(r[13], 0)[0]) if r[13] else ())

    def extensions(self) -> Iterator[Extension]:
        when = self.when
        sql = ("SELECT id, issue_id, stage, stage_version, requested_by, requested_at,"
               " old_due_at, to_date, reason, status, decided_by, decided_at, note"
               " FROM extensions ORDER BY issue_id, id")
        for r in self._stream(sql):
            yield Extension(
                id=r[0], issue_id=r[1], stage=r[2], stage_version=r[3], requested_by=r[4],
                requested_at=when(r[5]), old_due_at=when(r[6]),  # type: ignore[arg-type]
                to_date=r[7], reason=r[8], status=r[9], decided_by=r[10],
                decided_at=when(r[11]), note=r[12])
