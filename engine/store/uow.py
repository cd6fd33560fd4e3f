"""The unit of work: one transaction per command, and the statements it runs.

The hot statements (load an issue, update it with a version check, append an event) are
written once as SQL and run on the DBAPI connection SQLAlchemy manages, like eventsourcing's
recorders do; everything else goes through SQLAlchemy Core.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from engine.domain.chain import GENESIS, row_hash
from engine.domain.escalation import Escalation, Extension
from engine.domain.issue import Event, Issue
from engine.domain.org import Group, Org, Person, Town, Unit
from engine.errors import NotInitialized, RectifyError, StoreUnavailable, VersionConflict
from engine.store import tables as t

ISSUE_COLUMNS = (
    "id", "title", "description", "category", "village", "grp", "household", "severity",
    "listed", "state", "version", "assignee", "plan", "due_at", "stage_entered_at",
    "created_at", "created_by", "workflow", "stage_version", "next_escalation_at",
    "listed_by_village",
)
HISTORY_COLUMNS = (
    "seq", "issue_id", "version", "type", "transition", "from_state", "to_state", "actor",
    "at", "recorded_at", "payload", "workflow", "prev_hash", "hash",
)
_ISSUE_SELECT = f"SELECT {', '.join(ISSUE_COLUMNS)} FROM issues WHERE id = :id"
_ISSUE_UPDATE = (
    "UPDATE issues SET state = :state, version = :version, assignee = :assignee, plan = :plan,"
    " due_at = :due_at, stage_entered_at = :stage_entered_at, workflow = :workflow,"
    " stage_version = :stage_version, next_escalation_at = :next_escalation_at,"
    " listed_by_village = :listed_by_village"
    " WHERE id = :id AND version = :expected"
)
_ISSUE_INSERT_COLUMNS = ISSUE_COLUMNS[1:]
_ISSUE_INSERT = (
    f"INSERT INTO issues ({', '.join(_ISSUE_INSERT_COLUMNS)}) VALUES"
    f" ({', '.join(':' + c for c in _ISSUE_INSERT_COLUMNS)}) RETURNING id"
)
_BULK_ISSUES = (
    f"INSERT INTO issues ({', '.join(ISSUE_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(ISSUE_COLUMNS))})"
)
_HISTORY_INSERT = (
    f"INSERT INTO history ({', '.join(HISTORY_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})"
)
_PRIOR_ACTOR = (
    "SELECT DISTINCT actor FROM history WHERE issue_id = :id AND transition = :transition"
)
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
"""Payloads: sorted keys, UTF-8 text, compact; one encoder for the process."""
_NAMED = re.compile(r":(\w+)")
CHAIN_HEAD = "SELECT seq, hash FROM history ORDER BY seq DESC LIMIT 1"
"""The last event's seq and hash."""
CHAIN_LOCK = 0x72656374  # 'rect': the advisory lock that serializes appends on PostgreSQL


class _Dialect:
    """What differs between the back ends on the raw path."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sqlite = name == "sqlite"

    def sql(self, text: str) -> str:
        return text if self.sqlite else _NAMED.sub(r"%(\1)s", text)

    def when_out(self, value: datetime | None) -> Any:
        if value is None:
            return None
        if self.sqlite:
            # the fixed format SQLAlchemy's DateTime uses on SQLite, so text compares as time
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return value.astimezone(UTC)

    def when_in(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite's stored UTC text, never with an offset
            return datetime.fromisoformat(value + "+00:00")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class IssueFilter:
    state: str | None = None
    village: str | None = None
    assignee: str | None = None
    overdue_at: datetime | None = None
    """Only issues whose due moment has passed at this time."""
    final_states: tuple[str, ...] = ()
    limit: int | None = None


class Store:
    """One database. Holds one connection for the life of the process (a CLI command)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = _Dialect(engine.dialect.name)
        self._conn: Connection | None = None
        self.allow_create = False
        """Whether a missing SQLite file may be created (only `init` says yes)."""
        d = self.dialect
        self.sql_select = d.sql(_ISSUE_SELECT)
        self.sql_select_for_update = d.sql(_ISSUE_SELECT + ("" if d.sqlite else " FOR UPDATE"))
        self.sql_update = d.sql(_ISSUE_UPDATE)
        self.sql_insert = d.sql(_ISSUE_INSERT)
        self.sql_prior = d.sql(_PRIOR_ACTOR)
        self.sql_supersede_escalations = d.sql(
            "UPDATE escalations SET status = 'superseded', closed_at = :at, closed_by = :by"
            " WHERE issue_id = :id AND stage_version = :sv AND status = 'open' RETURNING id")
        self.sql_supersede_extensions = d.sql(
            "UPDATE extensions SET status = 'superseded', decided_at = :at, decided_by = :by"
            " WHERE issue_id = :id AND stage_version = :sv AND status = 'pending' RETURNING id")
        self.sql_raised = d.sql(
            "SELECT level FROM escalations WHERE issue_id = :id AND stage_version = :sv")
        columns = ("issue_id", "stage", "stage_version", "level", "due_at", "moment",
                   "raised_at", "recipients", "status")
        self.sql_escalate = d.sql(
            f"INSERT INTO escalations ({', '.join(columns)})"
            f" VALUES ({', '.join(':' + c for c in columns)})"
            " ON CONFLICT (issue_id, stage_version, level) DO NOTHING RETURNING id")
        self.sql_advance = d.sql(
            "UPDATE issues SET version = :version, next_escalation_at = :next"
            " WHERE id = :id AND version = :expected")
        q = "?" if d.sqlite else "%s"
        self.sql_bulk_issues = _BULK_ISSUES.replace("?", q)
        self.sql_history = _HISTORY_INSERT.replace("?", q)

    def connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            path = self.engine.url.database if self.dialect.sqlite else None
            if path and path != ":memory:" and not path.startswith("file:"):
                from pathlib import Path

                if not self.allow_create and not Path(path).exists():
                    raise NotInitialized(f"no database at {path}: run `rectify init --org FILE`")
            self._conn = self.engine.connect()
        return self._conn

    @contextmanager
    def _driver_transaction(self, conn: Connection, write: bool) -> Iterator[Tx]:
        raw: Any = conn.connection.driver_connection
        if conn.in_transaction():  # nothing may be left open from before
            conn.rollback()
        raw.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
        tx = Tx(conn, self)
        try:
            yield tx
            tx.flush()
            tx.close()
            raw.execute("COMMIT")
        except BaseException:
            tx.close()
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
        finally:
            if conn.in_transaction():  # a Core statement joined: end SQLAlchemy's view of it
                conn.rollback()

    def release(self) -> None:
        """Give the connection back to the pool (the engine stays, for the next user)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        self.release()
        self.engine.dispose()

    @contextmanager
    def transaction(self, write: bool = True, fast: bool = False) -> Iterator[Tx]:
        """One transaction; on SQLite a write takes the lock at BEGIN (BEGIN IMMEDIATE).

        `fast` (SQLite, a command's hot path): BEGIN and COMMIT go straight to the driver;
        Core statements in between join that transaction (the begin hook sees it open).
        Not for DDL: Alembic must see the transaction SQLAlchemy manages.
        """
        try:
            conn = self.connection()
            if self.dialect.sqlite:
                conn.info["sqlite_begin"] = "IMMEDIATE" if write else "DEFERRED"
            if fast and self.dialect.sqlite:
                with self._driver_transaction(conn, write) as tx:
                    yield tx
                return
            with conn.begin():
                tx = Tx(conn, self)
                try:
                    yield tx
                    tx.flush()
                finally:
                    tx.close()
        except DBAPIError as e:
            raise _translate(e) from None
        except Exception as e:
            if _missing_table(e):
                raise NotInitialized(_NOT_INITIALIZED) from None
            dbapi = self.engine.dialect.dbapi
            if dbapi is not None and isinstance(e, dbapi.Error):  # the raw path's errors
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise StoreUnavailable(f"database: {first}") from None
            raise


_NOT_INITIALIZED = (
    "the database has no org yet or an older schema: run `rectify init --org FILE`"
)


def _missing_table(e: BaseException) -> bool:
    text = str(e).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def _translate(e: DBAPIError) -> RectifyError:
    if _missing_table(e):
        return NotInitialized(_NOT_INITIALIZED)
    first = str(e.orig).strip().splitlines()[0] if e.orig is not None else str(e)
    return StoreUnavailable(f"database: {first}")


class Tx:
    def __init__(self, conn: Connection, store: Store) -> None:
        self.conn = conn
        self.store = store
        self.d = store.dialect

        self._cur: Any = None
        self._head: tuple[int, str] | None = None
        """The chain's head as this transaction sees it, once it has appended."""
        self._pending: list[tuple[Event, datetime]] = []
        """Events appended, written at flush (before a read of the history, and at commit)."""

    def _cursor(self) -> Any:
        """One driver cursor per transaction (the raw path's statements share it)."""
        if self._cur is None:
            self._cur = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        return self._cur

    def close(self) -> None:
        if self._cur is not None:
            self._cur.close()
            self._cur = None

    # --- issues, raw path ---------------------------------------------------------------
    def load_issue(self, issue_id: int, for_update: bool = False) -> Issue | None:
        cur = self._cursor()
        sql = self.store.sql_select_for_update if for_update else self.store.sql_select
        cur.execute(sql, {"id": issue_id})
        row = cur.fetchone()
        return None if row is None else self._issue(row)

    def _issue(self, row: Sequence[Any]) -> Issue:
        """A row of ISSUE_COLUMNS, from the raw driver (text times) or from Core (datetimes)."""
        when = self.d.when_in
        return Issue(
            id=row[0], title=row[1], description=row[2], category=row[3], village=row[4],
            group=row[5], household=row[6], severity=row[7], listed=bool(row[8]),
            state=row[9], version=row[10], assignee=row[11], plan=row[12],
            due_at=when(row[13]), stage_entered_at=when(row[14]),  # type: ignore[arg-type]
            created_at=when(row[15]), created_by=row[16], workflow=row[17],  # type: ignore[arg-type]
            stage_version=row[18], next_escalation_at=when(row[19]),
            listed_by_village=bool(row[20]),
        )

    def _issue_params(self, i: Issue) -> dict[str, Any]:
        out = self.d.when_out
        return {
            "id": i.id, "title": i.title, "description": i.description,
            "category": i.category, "village": i.village, "grp": i.group,
            "household": i.household, "severity": i.severity,
            "listed": int(i.listed) if self.d.sqlite else i.listed, "state": i.state,
            "version": i.version, "assignee": i.assignee, "plan": i.plan,
            "due_at": out(i.due_at), "stage_entered_at": out(i.stage_entered_at),
            "created_at": out(i.created_at), "created_by": i.created_by,
            "workflow": i.workflow, "stage_version": i.stage_version,
            "next_escalation_at": out(i.next_escalation_at),
            "listed_by_village": self._bool(i.listed_by_village),
        }

    def _bool(self, value: bool) -> Any:
        return int(value) if self.d.sqlite else value

    def insert_issue(self, issue: Issue) -> int:
        params = self._issue_params(issue)
        del params["id"]
        cur = self._cursor()
        cur.execute(self.store.sql_insert, params)
        new_id = int(cur.fetchone()[0])
        return new_id

    def update_issue(self, issue: Issue, expected_version: int) -> None:
        out = self.d.when_out
        cur = self._cursor()
        cur.execute(
            self.store.sql_update,
            {
                "id": issue.id, "state": issue.state, "version": issue.version,
                "assignee": issue.assignee, "plan": issue.plan, "due_at": out(issue.due_at),
                "stage_entered_at": out(issue.stage_entered_at), "workflow": issue.workflow,
                "stage_version": issue.stage_version,
                "next_escalation_at": out(issue.next_escalation_at),
                "listed_by_village": self._bool(issue.listed_by_village),
                "expected": expected_version,
            },
        )
        count = cur.rowcount
        if count != 1:
            raise VersionConflict(f"issue {issue.id} was changed by someone else; try again")

    def _chain_head(self) -> tuple[int, str]:
        """The last event's (seq, hash), read once per transaction; on PostgreSQL after taking
        the chain's advisory lock, held to the commit, so that appends are serialized and the
        chain's order is the commit order (SQLite's write lock does the same)."""
        if self._head is None:
            cur = self._cursor()
            if not self.d.sqlite:
                cur.execute("SELECT pg_advisory_xact_lock(%(k)s)", {"k": CHAIN_LOCK})
            cur.execute(CHAIN_HEAD)
            row = cur.fetchone()
            self._head = (0, GENESIS) if row is None else (int(row[0]), str(row[1]))
        return self._head

    def _chained(self, e: Event, at: Any, recorded: Any, payload: str) -> tuple[Any, ...]:
        """The history row of `e`, linked to the chain's head (which it becomes)."""
        seq, prev = self._chain_head()
        row = (seq + 1, e.issue_id, e.version, e.type, e.transition, e.from_state, e.to_state,
               e.actor, at, recorded, payload, e.workflow, prev)
        digest = row_hash(row, sqlite=self.d.sqlite)
        self._head = (seq + 1, digest)
        return (*row, digest)

    def append(self, event: Event, recorded_at: datetime) -> None:
        """Queue an event; the transaction writes its events just before it commits.

        So the chain's lock (PostgreSQL) is taken last and held only for the inserts and the
        commit: a slow or stuck command does not hold up everyone's appends while it works,
        and no other lock is ever waited for while holding it.
        """
        self._pending.append((event, recorded_at))

    def flush(self) -> None:
        """Write the queued events, chained (before any read of the history, and at commit)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        out = self.d.when_out
        rows = [self._chained(e, out(e.at), out(recorded), _JSON.encode(e.payload))
                for e, recorded in pending]
        try:
            self._cursor().executemany(self.store.sql_history, rows)
        except Exception as e:  # the driver's IntegrityError: (issue_id, version) taken
            self._head = None
            if "unique" in str(e).lower() or "duplicate" in str(e).lower():
                ids = sorted({ev.issue_id for ev, _ in pending})
                raise VersionConflict(
                    f"issue {', '.join(map(str, ids))} was changed by someone else; try again"
                ) from None
            raise

    def prior_actors(
        self, issue_id: int, transitions: Iterable[str]
    ) -> dict[str, frozenset[str]]:
        """Everyone who fired each of `transitions` on the issue (separation of duties)."""
        self.flush()
        found: dict[str, frozenset[str]] = {}
        cur = self._cursor()
        for name in transitions:
            cur.execute(self.store.sql_prior, {"id": issue_id, "transition": name})
            found[name] = frozenset(row[0] for row in cur.fetchall())
        return found

    # --- bulk (import) --------------------------------------------------------------------
    def allocate_issue_ids(self, count: int) -> list[int]:
        """Reserve `count` ids; safe because the write transaction holds the lock."""
        if self.d.sqlite:
            top = self.conn.execute(select(func.coalesce(func.max(t.issues.c.id), 0))).scalar()
            first = int(top or 0) + 1
            return list(range(first, first + count))
        rows = self.conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('issues', 'id'))"
            " FROM generate_series(1, %(n)s)",
            {"n": count},
        )
        return [int(r[0]) for r in rows]

    def bulk_insert(self, items: Sequence[tuple[Issue, Event]], recorded_at: datetime) -> None:
        """Many new issues and their first events: positional rows, each moment converted once."""
        memo: dict[datetime | None, Any] = {}
        out = self.d.when_out

        def when(value: datetime | None) -> Any:
            if value in memo:
                return memo[value]
            memo[value] = converted = out(value)
            return converted

        sqlite = self.d.sqlite
        encode = _JSON.encode
        recorded = when(recorded_at)
        issue_rows = [
            (i.id, i.title, i.description, i.category, i.village, i.group, i.household,
             i.severity, int(i.listed) if sqlite else i.listed, i.state, i.version, i.assignee,
             i.plan, when(i.due_at), when(i.stage_entered_at), when(i.created_at),
             i.created_by, i.workflow, i.stage_version, when(i.next_escalation_at),
             int(i.listed_by_village) if sqlite else i.listed_by_village)
            for i, _ in items
        ]
        self.flush()
        chained = self._chained
        event_rows = [chained(e, when(e.at), recorded, encode(e.payload)) for _, e in items]
        cur = self._cursor()
        cur.executemany(self.store.sql_bulk_issues, issue_rows)
        cur.executemany(self.store.sql_history, event_rows)

    # --- issues, Core path ------------------------------------------------------------------
    def list_issues(self, f: IssueFilter) -> list[Issue]:
        c = t.issues.c
        conds = []
        if f.state:
            conds.append(c.state == f.state)
        if f.village:
            conds.append(c.village == f.village)
        if f.assignee:
            conds.append(c.assignee == f.assignee)
        if f.overdue_at is not None:
            conds.append(c.due_at <= f.overdue_at)
            if f.final_states:
                conds.append(c.state.not_in(f.final_states))
        q = select(*(getattr(c, n) for n in ISSUE_COLUMNS)).order_by(c.id)
        if conds:
            q = q.where(and_(*conds))
        if f.limit:
            q = q.limit(f.limit)
        return [self._issue(r) for r in self.conn.execute(q)]

    def history(self, issue_id: int) -> list[Event]:
        self.flush()
        h = t.history.c
        q = select(t.history).where(h.issue_id == issue_id).order_by(h.version)
        return [_event(r) for r in self.conn.execute(q)]

    def count_issues(self) -> dict[str, int]:
        c = t.issues.c
        q = select(c.state, func.count()).group_by(c.state)
        return {s: int(n) for s, n in self.conn.execute(q)}

    def count_by_village_state(self) -> list[tuple[str, str, int]]:
        c = t.issues.c
        q = select(c.village, c.state, func.count()).group_by(c.village, c.state)
        return [(v, s, int(n)) for v, s, n in self.conn.execute(q)]

    # --- meta, workflows, calendar ------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).first()
        return None if row is None else str(row[0])

    def has_table(self, name: str) -> bool:
        from sqlalchemy import inspect

        return bool(inspect(self.conn).has_table(name))

    def town_timezone(self) -> str | None:
        row = self.conn.execute(select(t.town.c.timezone)).first()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(delete(t.meta).where(t.meta.c.key == key))
        self.conn.execute(insert(t.meta).values(key=key, value=value))

    def workflow_body(self, key: str) -> str | None:
        c = t.workflows.c
        row = self.conn.execute(select(c.body).where(c.key == key)).first()
        return None if row is None else str(row[0])

    def register_workflow(self, key: str, digest: str, body: str, at: datetime) -> None:
        c = t.workflows.c
        row = self.conn.execute(select(c.digest).where(c.key == key)).first()
        if row is None:
            self.conn.execute(
                insert(t.workflows).values(key=key, digest=digest, body=body, registered_at=at)
            )
        elif row[0] != digest:
            raise VersionConflict(
                f"workflow {key} is already registered with different content: "
                "raise its version number"
            )

    def register_calendar(self, digest: str, body: str, at: datetime) -> None:
        """Keep a calendar version (when it differs from the last) for replays of its time."""
        c = t.calendars.c
        last = self.conn.execute(select(c.digest).order_by(c.id.desc()).limit(1)).first()
        if last is None or last[0] != digest:
            self.conn.execute(insert(t.calendars).values(digest=digest, body=body,
                                                         registered_at=at))

    def calendar_versions(self) -> list[tuple[datetime, str]]:
        """(registered_at, body) of every calendar version, oldest first."""
        c = t.calendars.c
        q = select(c.registered_at, c.body).order_by(c.id)
        return [(r[0], str(r[1])) for r in self.conn.execute(q)]

    def calendar_days(self) -> list[tuple[date, str]]:
        c = t.calendar_days.c
        return [(date.fromisoformat(d), k) for d, k in self.conn.execute(select(c.day, c.kind))]

    def replace_calendar_days(self, days: Iterable[tuple[date, str, str | None]]) -> None:
        self.conn.execute(delete(t.calendar_days))
        rows = [{"day": d.isoformat(), "kind": k, "note": n} for d, k, n in days]
        if rows:
            self.conn.execute(insert(t.calendar_days), rows)

    # --- org --------------------------------------------------------------------------------
    def load_org(self) -> Org:
        try:
            town_row = self.conn.execute(select(t.town)).first()
        except (OperationalError, ProgrammingError):
            town_row = None
        if town_row is None:
            raise NotInitialized(_NOT_INITIALIZED)
        members: dict[str, list[str]] = {}
        gm = t.group_members.c
        for g, p in self.conn.execute(select(gm.group_id, gm.person_id)):
            members.setdefault(g, []).append(p)
        return Org(
            town=Town(*town_row),
            units={r.id: Unit(r.id, r.name, r.kind, r.liaison, r.secretary, bool(r.listed))
                   for r in self.conn.execute(select(t.units))},
            people={r.id: Person(r.id, r.name, r.unit, r.email, r.mobile)
                    for r in self.conn.execute(select(t.people))},
            groups={r.id: Group(r.id, r.kind, r.leader, tuple(sorted(members.get(r.id, []))))
                    for r in self.conn.execute(select(t.groups))},
        )

    def replace_org(self, org: Org) -> None:
        """Load an org; a village's listing (挂牌) is the town's decision, kept across loads."""
        listed = {
            r[0] for r in self.conn.execute(select(t.units.c.id).where(t.units.c.listed))
        }
        for table in (t.group_members, t.groups, t.people, t.units, t.town):
            self.conn.execute(delete(table))
        tw = org.town
        self.conn.execute(insert(t.town).values(
            id=tw.id, name=tw.name, timezone=tw.timezone, party_secretary=tw.party_secretary))
        if org.units:
            self.conn.execute(insert(t.units), [
                {**u.__dict__, "listed": u.id in listed} for u in org.units.values()])
        if org.people:
            self.conn.execute(insert(t.people), [p.__dict__ for p in org.people.values()])
        if org.groups:
            self.conn.execute(insert(t.groups), [
                {"id": g.id, "kind": g.kind, "leader": g.leader} for g in org.groups.values()])
            rows = [{"group_id": g.id, "person_id": m}
                    for g in org.groups.values() for m in g.members]
            if rows:
                self.conn.execute(insert(t.group_members), rows)

    def referenced_people_and_villages(
        self, final_states: Sequence[str]
    ) -> tuple[set[str], set[str]]:
        """Assignees and villages of issues still open (an org update must keep them)."""
        c = t.issues.c
        q = select(c.assignee, c.village).where(c.state.not_in(final_states)).distinct()
        people, villages = set(), set()
        for a, v in self.conn.execute(q):
            if a:
                people.add(a)
            villages.add(v)
        return people, villages


def _event(r: Any) -> Event:
    return Event(
        seq=r.seq, issue_id=r.issue_id, version=r.version, type=r.type,
        transition=r.transition, from_state=r.from_state, to_state=r.to_state, actor=r.actor,
        at=r.at, recorded_at=r.recorded_at, payload=json.loads(r.payload), workflow=r.workflow,
        prev_hash=r.prev_hash, hash=r.hash,
    )


__all__ = ["IntegrityError", "IssueFilter", "Store", "Tx"]


# --- escalations and extensions (the sweep and the leaders' commands) -----------------------
def _escalation(r: Any) -> Escalation:
    return Escalation(
        id=r.id, issue_id=r.issue_id, stage=r.stage, stage_version=r.stage_version,
        level=r.level, due_at=r.due_at, moment=r.moment, raised_at=r.raised_at,
        recipients=tuple(json.loads(r.recipients)), status=r.status, closed_at=r.closed_at,
        closed_by=r.closed_by, note=r.note,
        attendees=tuple(json.loads(r.attendees)) if r.attendees else (),
    )


def _extension(r: Any) -> Extension:
    return Extension(
        id=r.id, issue_id=r.issue_id, stage=r.stage, stage_version=r.stage_version,
        requested_by=r.requested_by, requested_at=r.requested_at, old_due_at=r.old_due_at,
        to_date=r.to_date, reason=r.reason, status=r.status, decided_by=r.decided_by,
        decided_at=r.decided_at, note=r.note,
    )


@dataclass(frozen=True)
class EscalationFilter:
    open_only: bool = False
    level: str | None = None
    to: str | None = None
    issue_id: int | None = None
    limit: int | None = None


class SupervisionTx:
    """The statements of escalations, extensions and listing, on a transaction's connection."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.conn = tx.conn
        self.pg = not tx.d.sqlite

    def claim_due(self, now: datetime, limit: int) -> list[Issue]:
        """Issues whose next ladder moment has come; on PostgreSQL locked, skipping rows that
        another worker holds (FOR UPDATE SKIP LOCKED)."""
        c = t.issues.c
        q = (
            select(*(getattr(c, n) for n in ISSUE_COLUMNS))
            .where(c.next_escalation_at <= now)
            .order_by(c.next_escalation_at, c.id)
            .limit(limit)
        )
        if self.pg:
            q = q.with_for_update(skip_locked=True)
        return [self.tx._issue(r) for r in self.conn.execute(q)]

    def raised_levels(self, issue_id: int, stage_version: int) -> set[str]:
        cur = self.tx._cursor()
        cur.execute(self.tx.store.sql_raised, {"id": issue_id, "sv": stage_version})
        return {r[0] for r in cur.fetchall()}

    def insert_escalation(self, values: dict[str, Any]) -> int | None:
        """The new escalation's id, or None when (issue, stage visit, level) already exists."""
        out = self.tx.d.when_out
        row = dict(values)
        row["recipients"] = json.dumps(list(row["recipients"]), ensure_ascii=False)
        for key in ("due_at", "moment", "raised_at"):
            row[key] = out(row[key])
        cur = self.tx._cursor()
        cur.execute(self.tx.store.sql_escalate, row)
        got = cur.fetchone()
        return None if got is None else int(got[0])

    def advance(self, issue: Issue, expected_version: int) -> None:
        """The sweep's row update: only the version and the ladder pointer change."""
        cur = self.tx._cursor()
        cur.execute(self.tx.store.sql_advance, {
            "id": issue.id, "version": issue.version, "expected": expected_version,
            "next": self.tx.d.when_out(issue.next_escalation_at)})
        if cur.rowcount != 1:
            raise VersionConflict(f"issue {issue.id} was changed by someone else; try again")

    def supersede(self, issue: Issue, at: datetime, by: str) -> tuple[list[int], list[int]]:
        """End what is still open of a stage visit the issue leaves: (escalations, extensions).

        Only events after entering the stage (an escalation, an extension request) can have
        left something open: when the issue's version is still the stage's, nothing is run.
        """
        if issue.version == issue.stage_version:
            return [], []
        params = {"id": issue.id, "sv": issue.stage_version, "at": self.tx.d.when_out(at),
                  "by": by}
        cur = self.tx._cursor()
        cur.execute(self.tx.store.sql_supersede_escalations, params)
        escalations = sorted(int(r[0]) for r in cur.fetchall())
        cur.execute(self.tx.store.sql_supersede_extensions, params)
        extensions = sorted(int(r[0]) for r in cur.fetchall())
        return escalations, extensions

    def escalation(self, escalation_id: int, for_update: bool = False) -> Escalation | None:
        q = select(t.escalations).where(t.escalations.c.id == escalation_id)
        if for_update and self.pg:
            q = q.with_for_update()
        r = self.conn.execute(q).first()
        return None if r is None else _escalation(r)

    def close_escalation(self, escalation_id: int, status: str, at: datetime, by: str,
                         note: str, attendees: Sequence[str]) -> None:
        self.conn.execute(
            update(t.escalations).where(t.escalations.c.id == escalation_id).values(
                status=status, closed_at=at, closed_by=by, note=note,
                attendees=json.dumps(list(attendees), ensure_ascii=False)))

    def escalations(self, f: EscalationFilter) -> list[Escalation]:
        e = t.escalations.c
        q = select(t.escalations).order_by(e.id)
        if f.open_only:
            q = q.where(e.status == "open")
        if f.level:
            q = q.where(e.level == f.level)
        if f.issue_id is not None:
            q = q.where(e.issue_id == f.issue_id)
        if f.to:
            # recipients is a JSON list of ids: narrow by text, then match exactly
            q = q.where(e.recipients.contains(json.dumps(f.to, ensure_ascii=False),
                                              autoescape=True))
        found = [_escalation(r) for r in self.conn.execute(q)]
        if f.to:
            found = [x for x in found if f.to in x.recipients]
        return found[: f.limit] if f.limit else found

    def insert_extension(self, values: dict[str, Any]) -> int:
        got = self.conn.execute(
            insert(t.extensions).values(**values).returning(t.extensions.c.id)).first()
        assert got is not None
        return int(got[0])

    def extension(self, extension_id: int, for_update: bool = False) -> Extension | None:
        q = select(t.extensions).where(t.extensions.c.id == extension_id)
        if for_update and self.pg:
            q = q.with_for_update()
        r = self.conn.execute(q).first()
        return None if r is None else _extension(r)

    def pending_extension(self, issue_id: int, stage_version: int) -> Extension | None:
        x = t.extensions.c
        r = self.conn.execute(select(t.extensions).where(
            x.issue_id == issue_id, x.stage_version == stage_version,
            x.status == "pending")).first()
        return None if r is None else _extension(r)

    def extensions(self, issue_id: int | None = None, pending_only: bool = False
                   ) -> list[Extension]:
        x = t.extensions.c
        q = select(t.extensions).order_by(x.id)
        if issue_id is not None:
            q = q.where(x.issue_id == issue_id)
        if pending_only:
            q = q.where(x.status == "pending")
        return [_extension(r) for r in self.conn.execute(q)]

    def decide_extension(self, extension_id: int, status: str, at: datetime, by: str,
                         note: str | None) -> None:
        self.conn.execute(update(t.extensions).where(t.extensions.c.id == extension_id).values(
            status=status, decided_at=at, decided_by=by, note=note))

    def set_village_listed(self, village: str, listed: bool) -> None:
        self.conn.execute(update(t.units).where(t.units.c.id == village).values(listed=listed))

    def open_issue_ids(self, village: str, final_states: Sequence[str]) -> list[int]:
        c = t.issues.c
        q = select(c.id).where(c.village == village, c.state.not_in(final_states)).order_by(c.id)
        return [int(r[0]) for r in self.conn.execute(q)]
