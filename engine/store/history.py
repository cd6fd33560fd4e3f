"""The history table: events written hash-chained in commit order, and read back.

Nothing here updates or deletes (the database's triggers refuse it). `write` links each event
to the chain's head as this transaction sees it: on PostgreSQL the head is read under an
advisory lock held to the commit, so appends are serialized and seq order is commit order
(SQLite's write lock does the same); seq is head + 1, so a gap means a deletion.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select

from engine.domain.chain import GENESIS, row_hash
from engine.domain.events import Event
from engine.domain.guards import ANY_ASSIGNEE, assignees_at, is_assignee_token
from engine.errors import VersionConflict
from engine.store import rows
from engine.store import tables as t
from engine.store.dialect import decode_time, encode_time
from engine.store.repository import Repository, Transaction, stored_time

CHAIN_HEAD = "SELECT seq, hash FROM history ORDER BY seq DESC LIMIT 1"
"""The last event's seq and hash."""
CHAIN_LOCK = 0x72656374  # 'rect': the advisory lock that serializes appends on PostgreSQL
_INSERT = (
    f"INSERT INTO history ({rows.select_list(rows.HISTORY_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(rows.HISTORY_COLUMNS))})"
)
_PRIOR_ACTORS = ("SELECT DISTINCT transition, actor FROM history WHERE issue_id = ?"
                 " AND transition IN ({})")
_ISSUE_EVENTS = ("SELECT type, transition, payload, actor FROM history WHERE issue_id = :id"
                 " ORDER BY version")
_PLACING = ("SELECT h.seq, h.type, h.from_state, h.to_state, i.village FROM history h"
            " LEFT JOIN issues i ON i.id = h.issue_id"
            " WHERE h.seq > :after ORDER BY h.seq LIMIT :most")
_AT_OF = "SELECT at FROM history WHERE issue_id = :id AND version = :v"
_LAST_AT = ("SELECT i.id, i.version, h.at FROM issues i"
            " JOIN history h ON h.issue_id = i.id AND h.version = i.version"
            " WHERE i.id IN ({ids})")
PAYLOAD = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
"""Payloads as stored: sorted keys, UTF-8 text, compact (the chain hashes this text)."""
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_ENCODE = (None if _C_ENCODER is None else _C_ENCODER(
    None, PAYLOAD.default, json.encoder.encode_basestring, None, PAYLOAD.key_separator,
    PAYLOAD.item_separator, PAYLOAD.sort_keys, PAYLOAD.skipkeys, PAYLOAD.allow_nan))


def payload_text(payload: Mapping[str, Any]) -> str:
    """`PAYLOAD.encode(payload)`, by the C encoder that `encode` would make afresh for each
    payload made once (an import writes a hundred thousand): the same text (a payload is
    never a cycle, which `encode` would refuse)."""
    if _ENCODE is None:
        return PAYLOAD.encode(payload)
    return "".join(_ENCODE(payload, 0))


class HistoryRepository(Repository):
    def __init__(self, tx: Transaction) -> None:
        super().__init__(tx)
        self._head: tuple[int, str] | None = None
        """The chain's head as this transaction sees it, once it has appended."""
        self._absent: set[tuple[int, int]] = set()
        """(issue, version) pairs asked for and not found."""

    def last_seq(self) -> int:
        """The last event's seq (0 for none), without the chain's lock: a mark of whether
        anything was written since (a cache's key)."""
        row = self.run("SELECT max(seq) FROM history").fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0

    def placing_since(self, after: int, most: int
                      ) -> tuple[int, list[tuple[str, str | None, str | None, str | None]]] | None:
        """The events after seq `after`: the last one's seq (`after` when none) and each one's
        (type, from state, to state, the issue's village), read in one statement (one
        snapshot); None when there are more than `most`."""
        got = self.run(_PLACING, {"after": after, "most": most + 1}).fetchall()
        if len(got) > most:
            return None
        mark = int(got[-1][0]) if got else after
        return mark, [(str(r[1]), r[2], r[3], r[4]) for r in got]

    def head(self) -> tuple[int, str]:
        """The last event's (seq, hash), read once per transaction; on PostgreSQL after
        taking the chain's advisory lock, held to the commit."""
        if self._head is None:
            if not self.d.sqlite:
                self.run("SELECT pg_advisory_xact_lock(:k)", {"k": CHAIN_LOCK})
            row = self.run(CHAIN_HEAD).fetchone()
            self._head = (0, GENESIS) if row is None else (int(row[0]), str(row[1]))
        return self._head

    def write(self, events: Sequence[tuple[Event, datetime]]) -> None:
        """Insert events (with their write times), each chained to the one before.

        Every event passes the transaction's admission first (the rules about time that no
        path may skip), and carries the transaction's stamp (the door it came through) in its
        payload under `via`."""
        admit = self.tx.admit
        if admit is not None:
            admit(events)
        sqlite, to_json = self.d.sqlite, payload_text
        stamp = self.tx.stamp
        seq, prev = self.head()
        out = []
        if len(events) == 1:  # a command's: its moment is likely converted already (the
            # row's stage entry, `stored_time`), its write time never is
            at_of: Callable[[datetime], Any] = partial(stored_time, sqlite=sqlite)
            recorded_of: Callable[[datetime], Any] = partial(encode_time, sqlite=sqlite)
        else:  # a batch's: its moments and write times repeat
            at_of = recorded_of = self.d.remembering_time()
        for e, recorded in events:
            seq += 1
            payload = e.payload if stamp is None else {**e.payload, "via": stamp}
            row = (seq, e.issue_id, e.version, str(e.type), e.transition, e.from_state,
                   e.to_state, e.actor, at_of(e.at), recorded_of(recorded), to_json(payload),
                   e.workflow, prev)
            prev = row_hash(row, sqlite=sqlite)
            out.append((*row, prev))
        try:
            self.run_many(_INSERT, out)
        except Exception as err:  # the driver's IntegrityError: (issue_id, version) taken
            self._head = None
            text = str(err).lower()
            if "unique" in text or "duplicate" in text:
                ids = sorted({ev.issue_id for ev, _ in events})
                raise VersionConflict(f"issue {', '.join(map(str, ids))} was changed by someone"
                                      " else; try again") from None
            raise
        self._head = (seq, prev)

    def of_issue(self, issue_id: int) -> list[Event]:
        """An issue's events, oldest first."""
        self.tx.flush()
        h = t.history.c
        q = (select(*(getattr(h, n) for n in rows.HISTORY_COLUMNS))
             .where(h.issue_id == issue_id).order_by(h.version))
        return [rows.event(r) for r in self.conn.execute(q)]

    def prior_actors(self, issue_id: int, transitions: Iterable[str]
                     ) -> dict[str, frozenset[str]]:
        """Everyone who fired each of `transitions` on the issue (separation of duties); for
        `assignee@T`, everyone who was the assignee of record when T was fired."""
        names = list(dict.fromkeys(transitions))
        if not names:
            return {}
        self.tx.flush()
        tokens = [n for n in names if is_assignee_token(n)]
        fired = [n for n in names if not is_assignee_token(n)]
        actors: dict[str, set[str]] = {n: set() for n in fired}
        if tokens:  # one read of the issue's events answers both kinds
            events = self.rows(_ISSUE_EVENTS, {"id": issue_id})
            for _, transition, _, actor in events:
                if transition in actors:
                    actors[transition].add(actor)
            assignees = assignees_at((str(r[0]), r[1], rows.json_value(r[2])) for r in events)
            anyone = assignees.get(ANY_ASSIGNEE, frozenset())
        elif fired:
            sql = _PRIOR_ACTORS.format(", ".join("?" * len(fired)))
            for transition, actor in self.rows(sql, (issue_id, *fired)):
                actors[transition].add(actor)
        out: dict[str, frozenset[str]] = {n: frozenset(a) for n, a in actors.items()}
        for token in tokens:
            out[token] = assignees.get(token, frozenset()) | anyone
        return {n: out[n] for n in names}

    def at_of(self, issue_id: int, version: int) -> datetime | None:
        """When the issue's event of this version is dated (None: no such event); asked
        again in the same transaction (the sweep, then the chain's admission), remembered."""
        key = (issue_id, version)
        found = self.tx.event_times.get(key)
        if found is not None or key in self._absent:
            return found
        row = self.run(_AT_OF, {"id": issue_id, "v": version}).fetchone()
        found = None if row is None else decode_time(row[0])
        if found is None:
            self._absent.add(key)
        else:
            self.tx.event_times[key] = found
        return found

    def last_at_of(self, issue_ids: Sequence[int]) -> dict[int, datetime]:
        """When each issue's last event (of the version its row is at) is dated, read in a
        few statements (a sweep's batch); remembered for `at_of`."""
        out: dict[int, datetime] = {}
        for k in range(0, len(issue_ids), 500):
            part = issue_ids[k:k + 500]
            sql = _LAST_AT.format(ids=", ".join("?" * len(part)))
            for issue_id, version, at in self.rows(sql, list(part)):
                moment = decode_time(at)
                if moment is not None:
                    out[int(issue_id)] = self.tx.event_times[(int(issue_id), int(version))] = moment
        return out
