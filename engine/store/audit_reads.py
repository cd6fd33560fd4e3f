"""The audit's reads: the whole history streamed in chain order or issue by issue, with the
rows it must reproduce, in one snapshot, memory flat (a server-side cursor on PostgreSQL).

Rows come straight from the driver: on SQLite times are the stored text, on PostgreSQL aware
datetimes; the store's one decoder turns either into aware UTC, and the row mappers of
`engine.store.rows` make the records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from itertools import count
from typing import Any

from engine.domain.audit import Replay, backdated
from engine.domain.chain import GENESIS, row_hash
from engine.domain.conformance import IssueRules
from engine.domain.escalation import Escalation, Extension
from engine.domain.events import Event
from engine.domain.issue import Issue
from engine.errors import Refused
from engine.store import rows
from engine.store.dialect import decode_time
from engine.store.history import CHAIN_HEAD
from engine.store.repository import Repository, Transaction

_BATCH = 2000
_SNAPSHOT = re.compile(r"[0-9A-Fa-f-]{1,64}")
Span = tuple[int | None, int | None]
"""Issue ids lo <= id < hi, either end open (None)."""


def written(recorded: Any) -> datetime:
    """A stored write time, decoded (the rule check's view of `recorded_at`)."""
    moment = decode_time(recorded)
    assert moment is not None
    return moment

_names = count()
_HISTORY = rows.select_list(rows.HISTORY_COLUMNS)


class Reads(Repository):
    """Streams on cursors of their own (several are open at once in verify); single answers
    on the transaction's cursor."""

    def __init__(self, tx: Transaction, snapshot: str | None = None) -> None:
        """`snapshot` (PostgreSQL): one exported by another transaction's `export_snapshot`,
        so that a helper process reads exactly what that transaction reads."""
        super().__init__(tx)
        self.sqlite = tx.dialect.sqlite
        self.raw: Any = tx.conn.connection.driver_connection
        if not self.sqlite:  # one snapshot for every pass
            tx.conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            if snapshot is not None:
                if not _SNAPSHOT.fullmatch(snapshot):
                    raise ValueError(f"not a snapshot id: {snapshot!r}")
                tx.conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")

    def export_snapshot(self) -> str | None:
        """This transaction's snapshot, for helpers to share (PostgreSQL; None on SQLite,
        where a helper checks the chain's head instead)."""
        if self.sqlite:
            return None
        row = self._one("SELECT pg_export_snapshot()")
        return None if row is None else str(row[0])

    def split_points(self, parts: int, total: int) -> list[int]:
        """Issue ids that cut the history of `total` events into `parts` runs of about as many
        events each (issue by issue: an issue is never cut), ascending, without the town's."""
        points: list[int] = []
        for k in range(1, parts):
            row = self._one("SELECT issue_id FROM history ORDER BY issue_id, version"
                            " LIMIT 1 OFFSET ?", (total * k // parts,))
            if row is not None and int(row[0]) > max(points, default=0):
                points.append(int(row[0]))
        return points

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
            cur.execute(self.d.sql(sql), params)
            yield from cur
        finally:
            with suppress(Exception):
                cur.close()

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Sequence[Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def row_hash(self, row: Sequence[Any], seq: int | None = None) -> str:
        return row_hash(row, seq, sqlite=self.sqlite)

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
            return [(int(r[0]), str(r[1]), str(r[2])) for r in self.rows(sql, (seq,))]

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

    def event_row(self, seq: int) -> Sequence[Any] | None:
        return self._one(f"SELECT {_HISTORY} FROM history WHERE seq = ?", (seq,))

    def content_ok(self, seq: int) -> bool:
        """Whether the event at seq still matches its own hash."""
        row = self.event_row(seq)
        return row is not None and self.row_hash(row) == row[13]

    def renumbered_by(self, seq: int) -> int | None:
        """k when the event stored at seq matches its hash as event seq + k (k = 1..8): the
        events after a deleted one renumbered to close the gap."""
        row = self.event_row(seq)
        if row is None:
            return None
        for k in range(1, 9):
            if self.row_hash(row, seq + k) == row[13]:
                return k
        return None

    def seq_of_hash(self, digest: str) -> int | None:
        row = self._one("SELECT min(seq) FROM history WHERE hash = ?", (digest,))
        return None if row is None or row[0] is None else int(row[0])

    # --- events -----------------------------------------------------------------------------
    def events(self, by_issue: bool = True, issue_id: int | None = None,
               until: datetime | None = None, span: Span = (None, None)
               ) -> Iterator[tuple[Any, ...]]:
        """History rows (HISTORY_COLUMNS), issue by issue in version order, or in chain order;
        `span`: only issues lo <= id < hi (either end open)."""
        where, params = _within(span, "issue_id")
        if issue_id is not None:
            where.append("issue_id = ?")
            params.append(issue_id)
        if until is not None:
            where.append("at <= ?")
            params.append(self.tx.dialect.time(until))
        sql = f"SELECT {_HISTORY} FROM history"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY issue_id, version" if by_issue else " ORDER BY seq"
        return self._stream(sql, tuple(params))

    def villages(self) -> dict[int, str]:
        """Each issue's village, from its first event (the history, not the table)."""
        sql = ("SELECT issue_id, payload FROM history WHERE type IN ('created', 'imported')")
        return {int(i): str(rows.json_value(p).get("village")) for i, p in self.rows(sql)}

    def event(self, row: tuple[Any, ...]) -> Event:
        try:
            return rows.event(row)
        except (ValueError, TypeError, StopIteration, AttributeError) as e:
            raise Refused(f"event {row[0]} cannot be read ({e}): run `rectify audit verify`"
                          ) from None

    def fold(self, replay: Replay, history: Iterable[tuple[Any, ...]],
             rules: IssueRules | None = None
             ) -> tuple[str | None, tuple[int, str] | None]:
        """Fold one issue's history rows (in version order) into `replay` without making
        Events: the audit's hot loop. Stops at a gap in the versions and says so. With
        `rules`, each event is checked against the rules in force before it is folded:
        (what stops the fold, the first rule broken)."""
        sqlite, when, apply = self.sqlite, decode_time, replay.apply_row
        payload = rows.json_value
        fromiso = datetime.fromisoformat
        expected = replay.events + 1
        check, timing, ruled = ((rules.check, rules.timing, rules.RULED) if rules is not None
                                else (None, None, frozenset()))
        broken: tuple[int, str] | None = None
        previous: Any = None
        for row in history:
            if row[2] != expected:
                return (f"issue {row[1]}'s history jumps from version {expected - 1} to"
                        f" {row[2]}: an event is missing"), broken
            expected += 1
            at, recorded = row[8], row[9]
            moment: Any
            if sqlite and at[:16] == recorded[:16]:  # the same minute: not back-dated
                late, moment = False, fromiso(at + "+00:00")
            else:
                moment = when(at)
                late = backdated(moment, when(recorded))
            p = payload(row[10])
            if check is not None and timing is not None and broken is None:
                problem = None
                if late or (previous is not None and moment < previous):
                    problem = timing(row[0], moment, previous, late, recorded, p)
                if problem is None and row[3] in ruled:
                    problem = check(row[0], row[3], row[4], row[5], row[6], row[7], moment, p,
                                    row[11], replay.fields or None)
                if problem is not None:
                    broken = (int(row[0]), problem)
                previous = moment
            apply(row[0], row[1], row[2], row[3], row[7], moment, late, p, row[11], row[6])
        return None, broken

    # --- what the history must reproduce ----------------------------------------------------
    def issues(self, span: Span = (None, None)) -> Iterator[Issue]:
        return map(rows.issue, self._table("issues", rows.ISSUE_COLUMNS, "id", "id", span))

    def escalations(self, span: Span = (None, None)) -> Iterator[Escalation]:
        return map(rows.escalation, self._table("escalations", self._kept(
            "escalations", rows.ESCALATION_COLUMNS), "issue_id", "issue_id, id", span))

    def _kept(self, table: str, columns: Sequence[str]) -> list[str]:
        """`columns` as a select list that an older schema can answer too (a column added
        since reads as NULL): an archived database is audited as it is, never upgraded."""
        if self.sqlite:
            found = {str(r[1]) for r in self.rows(f"PRAGMA table_info({table})")}
        else:
            found = {str(r[0]) for r in self.rows(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                (table,))}
        return [c if c in found else f"NULL AS {c}" for c in columns]

    def extensions(self, span: Span = (None, None)) -> Iterator[Extension]:
        return map(rows.extension, self._table("extensions", rows.EXTENSION_COLUMNS,
                                               "issue_id", "issue_id, id", span))

    def _table(self, table: str, columns: Sequence[str], key: str, order: str, span: Span
               ) -> Iterator[tuple[Any, ...]]:
        where, params = _within(span, key)
        sql = f"SELECT {rows.select_list(columns)} FROM {table}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._stream(f"{sql} ORDER BY {order}", tuple(params))


def _within(span: Span, column: str) -> tuple[list[str], list[Any]]:
    """The conditions of a span of issue ids on `column`."""
    where: list[str] = []
    params: list[Any] = []
    lo, hi = span
    if lo is not None:
        where.append(f"{column} >= ?")
        params.append(lo)
    if hi is not None:
        where.append(f"{column} < ?")
        params.append(hi)
    return where, params
