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
from contextlib import contextmanager
from datetime import datetime
from typing import Any

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

    @contextmanager
    def transaction(self, write: bool = True, fast: bool = False,
                    prepare: Callable[[Tx], None] | None = None) -> Iterator[Tx]:
        """One transaction; on SQLite a write takes the lock at BEGIN (BEGIN IMMEDIATE).

        `fast` (SQLite, a command's hot path): BEGIN and COMMIT go straight to the driver;
        Core statements in between join that transaction (the begin hook sees it open).
        Not for DDL: Alembic must see the transaction SQLAlchemy manages. `prepare` is given
        the Tx before it is handed out (a session sets its stamp and admission).
        """
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        try:
            conn = self.connection()
            if self.dialect.sqlite:
                conn.info["sqlite_begin"] = "IMMEDIATE" if write else "DEFERRED"
            if fast and self.dialect.sqlite:  # on the driver (written out: the hot path)
                raw: Any = conn.connection.driver_connection
                if conn.in_transaction():  # nothing may be left open from before
                    conn.rollback()
                raw.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
                tx = Tx(conn, self.dialect)
                try:
                    if prepare is not None:
                        prepare(tx)
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
                    if conn.in_transaction():  # a Core statement joined: end SQLAlchemy's view
                        conn.rollback()
                return
            with conn.begin():
                tx = Tx(conn, self.dialect)
                try:
                    if prepare is not None:
                        prepare(tx)
                    yield tx
                    tx.flush()
                finally:
                    tx.close()
        except DBAPIError as e:
            raise _translate(e) from None
        except Exception as e:
            if _missing_table(e):
                raise NotInitialized(NOT_INITIALIZED) from None
            dbapi = self.engine.dialect.dbapi
            if dbapi is not None and isinstance(e, dbapi.Error):  # the raw path's errors
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise StoreUnavailable(f"database: {first}") from None
            raise
        finally:
            self._local.depth = depth
            if self.release_each and depth == 0:
                self.release()


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

    def __init__(self, conn: Connection, dialect: Dialect) -> None:
        self.conn = conn
        self.dialect = dialect
        self._cur: Any = None
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
            self._cur = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
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
