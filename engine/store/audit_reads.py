"""The audit's reads: the whole history streamed in chain order or issue by issue, with the
rows it must reproduce, in one snapshot, memory flat (a server-side cursor on PostgreSQL).

Rows come straight from the driver: on SQLite times are the stored text, on PostgreSQL aware
datetimes; the store's one decoder turns either into aware UTC, and the row mappers of
`engine.store.rows` make the records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from itertools import count, product
from typing import Any

from engine.domain.audit import (
    ESCALATED,
    SUPERSEDING,
    SUPERSEDING_EXTENSIONS,
    TRANSITION,
    Replay,
    backdated,
)
from engine.domain.chain import GENESIS, row_hash
from engine.domain.conformance import IssueRules
from engine.domain.escalation import Escalation, Extension
from engine.domain.events import Event
from engine.domain.issue import KEPT_UNLESS_GIVEN, Issue, payload_moment, transition_into
from engine.errors import Refused
from engine.store import rows
from engine.store.dialect import decode_time
from engine.store.history import CHAIN_HEAD
from engine.store.repository import Repository, Transaction

_BATCH = 2000
_WAITING = (TRANSITION, ESCALATED)
"""The events a replay's fold keeps waiting in a run (`Reads._settle`)."""
_SNAPSHOT = re.compile(r"[0-9A-Fa-f-]{1,64}")
Span = tuple[int | None, int | None]
"""Issue ids lo <= id < hi, either end open (None)."""


def _dated(at: Any, recorded: Any, sqlite: bool) -> tuple[Any, bool]:
    """A stored event's moment, decoded, and whether it is back-dated. On SQLite an event
    written in the minute of its moment is not, and its write time is not decoded. (A
    damaged row raises TypeError or ValueError, which the fold's callers tell.)"""
    if sqlite and at[:16] == recorded[:16]:
        return datetime.fromisoformat(at + "+00:00"), False
    moment = decode_time(at)
    return moment, backdated(moment, decode_time(recorded))  # type: ignore[arg-type]


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
        """The rows of `sql`, read as they are iterated. On SQLite the driver's cursor
        itself, which steps the statement one row per `next` in C (no Python frame between
        the reader and the rows; an abandoned cursor resets its statement when it goes)."""
        if self.sqlite:
            return self.raw.cursor().execute(sql, params)  # type: ignore[no-any-return]
        return self._named(sql, params)

    def _named(self, sql: str, params: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        """PostgreSQL: a server-side cursor read `_BATCH` rows at a time."""
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
        (what stops the fold, the first rule broken). A transition (most events) is written
        into the replay's fields here, by the rule `evolve` uses (`transition_into`)."""
        if rules is None:
            return self._replayed(replay, history), None
        sqlite, dated, apply = self.sqlite, _dated, replay.apply_row
        payload = rows.json_value
        into, supersede = transition_into, replay.supersede
        expected = replay.events + 1
        check, timing, ruled = rules.check, rules.timing, rules.RULED
        broken: tuple[int, str] | None = None
        previous: Any = None
        f = replay.fields
        moved = late_moves = 0  # transitions folded here, and how many back-dated
        last: int | None = None
        try:
            for row in history:
                (seq, issue_id, version, kind, transition, from_state, to_state, actor, at,
                 recorded, text, workflow, _, _) = row
                if version != expected:
                    return (f"issue {issue_id}'s history jumps from version {expected - 1}"
                            f" to {version}: an event is missing"), broken
                expected += 1
                moment, late = dated(at, recorded, sqlite)
                p = payload(text)
                if broken is None:
                    problem = None
                    if late or (previous is not None and moment < previous):
                        problem = timing(seq, moment, previous, late, recorded, p)
                    if problem is None and kind in ruled:
                        problem = check(seq, kind, transition, from_state, to_state, actor,
                                        moment, p, workflow, f or None)
                    if problem is not None:
                        broken = (int(seq), problem)
                    previous = moment
                if kind == TRANSITION and f:
                    last = seq
                    moved += 1
                    if late:
                        late_moves += 1
                    into(f, version, moment, p, workflow, to_state)
                    if SUPERSEDING in p or SUPERSEDING_EXTENSIONS in p:
                        supersede(seq, actor, moment, p)
                    continue
                if moved:
                    replay.counted(moved, last, late_moves)
                    moved = late_moves = 0
                apply(seq, issue_id, version, kind, actor, moment, late, p, workflow, to_state)
                f = replay.fields
        finally:
            replay.counted(moved, last, late_moves)
        return None, broken

    def _replayed(self, replay: Replay, history: Iterable[tuple[Any, ...]]) -> str | None:
        """`fold` without rules (a replay's): transitions and escalated events wait in runs
        (`_settle`), which skip what a later transition overwrites; any other event is
        folded as it comes. What stops the fold, if anything."""
        expected = replay.events + 1
        f = replay.fields
        waiting: list[tuple[Any, ...]] = []
        wait = waiting.append
        try:
            for row in history:
                version = row[2]
                if version != expected:
                    return (f"issue {row[1]}'s history jumps from version {expected - 1}"
                            f" to {version}: an event is missing")
                expected += 1
                kind = row[3]
                if kind in _WAITING and f:
                    wait(row)
                    continue
                if waiting:
                    self._settle(waiting, replay)
                self._apply(replay, row)
                f = replay.fields
        finally:
            if waiting:
                self._settle(waiting, replay)
        return None

    def _apply(self, replay: Replay, row: tuple[Any, ...]) -> None:
        """Fold one row by `Replay.apply_row`."""
        (seq, issue_id, version, kind, _, _, to_state, actor, at, recorded, text, workflow,
         _, _) = row
        moment, late = _dated(at, recorded, self.sqlite)
        replay.apply_row(seq, issue_id, version, kind, actor, moment, late, _parsed(text),
                         workflow, to_state)

    def _settle(self, waiting: list[tuple[Any, ...]], replay: Replay) -> None:
        """Fold the transitions and escalated events a replay kept waiting (`waiting`,
        emptied), in order, skipping each transition the last one overwrites whole: its
        payload is not parsed, its time not decoded. One is skipped only when the last names
        the state it entered, it supersedes nothing and it names none of KEPT_UNLESS_GIVEN
        that the last does not name: the text of its payload does not hold the key as a JSON
        string (a payload holding a key holds `"key"` in its text; JSON escapes no letter).
        An escalated event's escalation is booked unmade (`Raised`), with the stage version
        and due moment it was raised under; its pointer counts only after the last
        transition. `audit verify` parses every payload."""
        f, supersede, raised = replay.fields, replay.supersede, replay.raised
        k = len(waiting) - 1
        while k >= 0 and waiting[k][3] != TRANSITION:
            k -= 1
        needed: Callable[[str], bool] | None = None
        final: Any = None
        if k >= 0:
            final = _parsed(waiting[k][10])
            if waiting[k][6]:  # the last transition names the state it entered
                needed = _NEEDED[tuple(map(final.__contains__, KEPT_UNLESS_GIVEN))]
        stage_version, due, skipped = f["stage_version"], f["due_at"], None
        sqlite, late = self.sqlite, 0
        for i, row in enumerate(waiting):
            at = row[8]
            if not (sqlite and row[9].startswith(at[:16])) and backdated(
                    written(at), decode_time(row[9])):
                late += 1
            if row[3] == TRANSITION:
                if i == k:
                    self._fold_transition(row, final, f, supersede)
                elif needed is not None and not needed(row[10]):
                    stage_version, skipped = row[2], row  # overwritten by the last
                    continue
                else:
                    self._fold_transition(row, _parsed(row[10]), f, supersede)
                stage_version, due, skipped = f["stage_version"], f["due_at"], None
                continue
            p = _parsed(row[10])
            if skipped is not None and not p.get("due_at"):  # the skipped one's due moment
                due, skipped = payload_moment(_parsed(skipped[10]).get("due_at")), None
            raised[int(p["escalation"])] = (str(p["level"]), p, row[1], stage_version, due,
                                            row[8], decode_time, None)
            if i > k:  # an escalated event sets the version and the pointer
                f["version"] = row[2]
                f["next_escalation_at"] = payload_moment(p.get("next_escalation_at"))
        replay.counted(len(waiting), waiting[-1][0], late)
        waiting.clear()

    def _fold_transition(self, row: tuple[Any, ...], p: Any, f: dict[str, Any],
                         supersede: Any) -> None:
        moment = decode_time(row[8])
        transition_into(f, row[2], moment, p, row[11], row[6])  # type: ignore[arg-type]
        if SUPERSEDING in p or SUPERSEDING_EXTENSIONS in p:
            supersede(row[0], row[7], moment, p)

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


_parsed = rows.json_value


def _needed(named: tuple[bool, ...]) -> Callable[[str], bool]:
    """Whether the text of a transition's payload gives a reason to fold it before a later one
    that names the state it entered and names the keys of KEPT_UNLESS_GIVEN where `named`
    says so: it supersedes something, or it names one of those keys the later one does not."""
    marks = ['"superseded_'] + [f'"{key}"' for key, given in zip(KEPT_UNLESS_GIVEN, named,
                                                                   strict=True) if not given]
    # one `in` each, no loop: this runs for every transition a replay may skip
    if len(marks) == 1:
        (a,) = marks
        return lambda text: a in text
    if len(marks) == 2:
        a, b = marks
        return lambda text: a in text or b in text
    if len(marks) == 3:
        a, b, c = marks
        return lambda text: a in text or b in text or c in text
    return lambda text: any(mark in text for mark in marks)


_NEEDED = {named: _needed(named) for named in product((False, True),
                                                      repeat=len(KEPT_UNLESS_GIVEN))}
"""_needed of every combination of the kept keys the last transition names."""


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
