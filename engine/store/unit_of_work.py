"""The unit of work: one transaction per command, the repositories it offers, and the chain.

`Store.transaction()` opens a transaction and yields a `Tx`; the repositories (`tx.issues`,
`tx.history`, `tx.escalations`, `tx.extensions`, `tx.outbox`, `tx.org`, `tx.definitions`,
`tx.accounts`) each own the statements of one aggregate and share the transaction's
connection and driver cursor. Events appended with `Tx.append` are queued and written,
hash-chained, just before the commit (and before any read of the history), so the chain's
lock is the last a transaction takes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from engine.domain.events import Event
from engine.errors import NotInitialized, RectifyError, StoreUnavailable
from engine.store.accounts import AccountRepository
from engine.store.definitions import DefinitionRepository
from engine.store.dialect import Dialect
from engine.store.escalations import EscalationRepository
from engine.store.extensions import ExtensionRepository
from engine.store.history import HistoryRepository
from engine.store.issues import IssueRepository
from engine.store.org import NOT_INITIALIZED, OrgRepository
from engine.store.outbox import OutboxRepository


class Store:
    """One database. Each thread holds one connection of the engine's pool, kept until it is
    released (a CLI command keeps it for its life; a scheduler job or a web request gives it
    back when done), so threads never share a connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = Dialect(engine.dialect.name)
        self._local = threading.local()
        self.allow_create = False
        """Whether a missing SQLite file may be created (only `init` says yes)."""
        self._seen = False
        """Whether a connection was made (the SQLite file's existence checked) already."""
        self.release_each = False
        """Give the connection back to the pool after every transaction (a web server: its
        threads serve many requests and must not each keep a connection)."""

    def connection(self) -> Connection:
        """This thread's connection (made on first use)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            path = self.engine.url.database if self.dialect.sqlite else None
            if path and path != ":memory:" and not path.startswith("file:") and not self._seen:
                from pathlib import Path

                if not self.allow_create and not Path(path).exists():
                    raise NotInitialized(f"no database at {path}: run `rectify init --org FILE`")
            conn = self._local.conn = self.engine.connect()
            self._seen = True
        return conn

    def release(self) -> None:
        """Give this thread's connection back to the pool (the engine stays)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def close(self) -> None:
        self.release()
        self.engine.dispose()

    def driver(self) -> tuple[Connection, Any]:
        """This thread's connection and its driver connection (the raw path's), the latter
        looked up once per connection."""
        conn = self.connection()
        local = self._local
        if getattr(local, "raw_of", None) is not conn or conn.invalidated:
            local.raw = conn.connection.driver_connection
            local.raw_of = conn
        return conn, local.raw

    def transaction(self, write: bool = True, fast: bool = False,
                    prepare: Callable[[Tx], None] | None = None) -> AbstractContextManager[Tx]:
        """One transaction; on SQLite a write takes the lock at BEGIN (BEGIN IMMEDIATE).

        `fast` (SQLite, a command's hot path): BEGIN and COMMIT go straight to the driver;
        Core statements in between join that transaction (the begin hook sees it open).
        Not for DDL: Alembic must see the transaction SQLAlchemy manages. `prepare` is given
        the Tx before it is handed out (a session sets its stamp and admission).
        """
        if fast and self.dialect.sqlite:
            return _Fast(self, write, prepare)
        return self._managed(write, prepare)

    @contextmanager
    def _managed(self, write: bool, prepare: Callable[[Tx], None] | None) -> Iterator[Tx]:
        """A transaction SQLAlchemy manages (PostgreSQL; SQLite's slow path)."""
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        try:
            conn = self.connection()
            if self.dialect.sqlite:
                conn.info["sqlite_begin"] = "IMMEDIATE" if write else "DEFERRED"
            with conn.begin():
                tx = Tx(conn, self.dialect)
                try:
                    if prepare is not None:
                        prepare(tx)
                    yield tx
                    tx.flush()
                finally:
                    tx.close()
        except Exception as e:
            self.reraise(e)
        finally:
            self.ended(depth)

    def told(self, e: BaseException) -> RectifyError | None:
        """The application's error for a database's (None: not one of them)."""
        if isinstance(e, DBAPIError):
            return _translate(e)
        if not isinstance(e, Exception):
            return None
        if _missing_table(e):
            return NotInitialized(NOT_INITIALIZED)
        dbapi = self.engine.dialect.dbapi
        if dbapi is not None and isinstance(e, dbapi.Error):  # the raw path's errors
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            return StoreUnavailable(f"database: {first}")
        return None

    def reraise(self, e: BaseException) -> NoReturn:
        """Raise the application's error for a database's error `e` (`told`), else `e`."""
        told = self.told(e)
        if told is None:
            raise e
        raise told from None

    def ended(self, depth: int) -> None:
        """A transaction ended at this nesting depth (the connection given back if asked)."""
        self._local.depth = depth
        if self.release_each and depth == 0:
            self.release()


class _Fast:
    """Store.transaction's fast path on SQLite (written out, not a generator: the hot path):
    BEGIN and COMMIT on the driver, a Core statement in between joining that transaction."""

    __slots__ = ("conn", "depth", "prepare", "raw", "store", "tx", "write")
    raw: Any
    tx: Tx | None

    def __init__(self, store: Store, write: bool, prepare: Callable[[Tx], None] | None
                 ) -> None:
        self.store = store
        self.write = write
        self.prepare = prepare

    def __enter__(self) -> Tx:
        store = self.store
        self.depth = depth = getattr(store._local, "depth", 0)
        store._local.depth = depth + 1
        self.raw = self.tx = None
        try:
            conn, raw = store.driver()
            self.conn, self.raw = conn, raw
            if conn.in_transaction():  # nothing may be left open from before
                conn.rollback()
            tx = self.tx = Tx(conn, store.dialect, raw)
            # on the cursor the transaction's statements share (the driver's own execute
            # would make one for BEGIN and one for COMMIT)
            tx.cursor().execute("BEGIN IMMEDIATE" if self.write else "BEGIN DEFERRED")
            if self.prepare is not None:
                self.prepare(tx)
        except BaseException as e:
            self._abandon()
            store.reraise(e)
        return tx

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None,
                 _tb: Any) -> None:
        tx = self.tx
        assert tx is not None
        if e is None:
            try:
                tx.flush()
                tx.cursor().execute("COMMIT")  # its last statement reset first
                tx.close()
            except BaseException as err:
                self._abandon()
                self.store.reraise(err)
            self._end()
            return
        self._abandon()
        told = self.store.told(e)
        if told is not None:
            raise told from None

    def _abandon(self) -> None:
        """Roll back whatever is open, then end."""
        try:
            if self.tx is not None:
                self.tx.close()
            raw = self.raw
            if raw is not None and raw.in_transaction:
                raw.execute("ROLLBACK")
        finally:
            self._end()

    def _end(self) -> None:
        try:
            conn = getattr(self, "conn", None)
            if conn is not None and conn.in_transaction():  # a Core statement joined
                conn.rollback()
        finally:
            self.store.ended(self.depth)


def _missing_table(e: BaseException) -> bool:
    """A table or a column the schema does not have yet (an older database: init upgrades)."""
    text = str(e).lower()
    return ("no such table" in text or "no such column" in text
            or (("relation" in text or "column" in text) and "does not exist" in text))


def _translate(e: DBAPIError) -> RectifyError:
    if _missing_table(e):
        return NotInitialized(NOT_INITIALIZED)
    first = str(e.orig).strip().splitlines()[0] if e.orig is not None else str(e)
    return StoreUnavailable(f"database: {first}")


class Tx:
    """One transaction: its connection, one driver cursor for the raw path, the repositories,
    and the events waiting to be chained."""

    __slots__ = ("_accounts", "_cur", "_definitions", "_escalations", "_extensions",
                 "_history", "_issues", "_org", "_outbox", "_pending", "_raw", "admit", "conn",
                 "dialect", "event_times", "stamp")

    def __init__(self, conn: Connection, dialect: Dialect, raw: Any = None) -> None:
        self.conn = conn
        self.dialect = dialect
        self._raw = raw
        """The driver connection (given by the fast path; else looked up when first asked)."""
        self._cur: Any = None
        """The driver cursor, once made (`cursor()` makes it)."""
        self._pending: list[tuple[Event, datetime]] = []
        self._issues: IssueRepository | None = None
        self._history: HistoryRepository | None = None
        self._escalations: EscalationRepository | None = None
        self._extensions: ExtensionRepository | None = None
        self._outbox: OutboxRepository | None = None
        self._org: OrgRepository | None = None
        self._definitions: DefinitionRepository | None = None
        self._accounts: AccountRepository | None = None
        self.stamp: dict[str, Any] | None = None
        """Kept in every event's payload under `via`: the door (channel, operating-system user,
        back-fill reason) the transaction's command came through."""
        self.admit: Callable[[Sequence[tuple[Event, datetime]]], None] | None = None
        """Checks the events before they are chained (the rules about time); raises to refuse."""
        self.event_times: dict[tuple[int, int], datetime] = {}
        """When the events read in this transaction are dated, by (issue, version): an
        issue read to be moved brings its last event's (the chain's admission asks it)."""

    def cursor(self) -> Any:
        """The driver cursor the raw statements of this transaction share."""
        if self._cur is None:
            if self._raw is None:
                self._raw = self.conn.connection.driver_connection
            self._cur = self._raw.cursor()
        return self._cur

    def close(self) -> None:
        if self._cur is not None:
            self._cur.close()
            self._cur = None

    # --- repositories (made on first use: a transaction uses two or three of them) --------
    @property
    def issues(self) -> IssueRepository:
        if self._issues is None:
            self._issues = IssueRepository(self)
        return self._issues

    @property
    def history(self) -> HistoryRepository:
        if self._history is None:
            self._history = HistoryRepository(self)
        return self._history

    @property
    def escalations(self) -> EscalationRepository:
        if self._escalations is None:
            self._escalations = EscalationRepository(self)
        return self._escalations

    @property
    def extensions(self) -> ExtensionRepository:
        if self._extensions is None:
            self._extensions = ExtensionRepository(self)
        return self._extensions

    @property
    def outbox(self) -> OutboxRepository:
        if self._outbox is None:
            self._outbox = OutboxRepository(self)
        return self._outbox

    @property
    def org(self) -> OrgRepository:
        if self._org is None:
            self._org = OrgRepository(self)
        return self._org

    @property
    def definitions(self) -> DefinitionRepository:
        if self._definitions is None:
            self._definitions = DefinitionRepository(self)
        return self._definitions

    @property
    def accounts(self) -> AccountRepository:
        if self._accounts is None:
            self._accounts = AccountRepository(self)
        return self._accounts

    # --- the chain -------------------------------------------------------------------------
    def append(self, event: Event, recorded_at: datetime) -> None:
        """Queue an event; the transaction writes its events just before it commits.

        So the chain's lock (PostgreSQL) is taken last and held only for the inserts and the
        commit: a slow or stuck command does not hold up everyone's appends while it works,
        and no other lock is ever waited for while holding it.
        """
        self._pending.append((event, recorded_at))

    def flush(self) -> None:
        """Write the queued events, chained (before any read of the history, and at commit)."""
        if self._pending:
            pending, self._pending = self._pending, []
            self.history.write(pending)
