"""Making a SQLAlchemy engine for a URL: SQLite tuned for one writer at a time, or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError

from engine.errors import BadOption

BUSY_TIMEOUT_MS = 60_000


POOL = 10
"""Connections a process keeps open (a web server's threads take turns with them)."""
OVERFLOW = 30
"""Further connections opened when all are busy, closed when given back."""


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadOption(f"not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite(url, parsed.database)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=False, pool_size=POOL, max_overflow=OVERFLOW)
    raise BadOption(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def _sqlite(url: str, database: str | None) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().resolve().parent
        if not folder.is_dir():
            raise BadOption(f"no such folder for the database: {folder}")
    # every transaction ends in COMMIT or ROLLBACK (Store.transaction), so the pool's own
    # rollback of a connection given back is a statement for nothing
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
                           pool_size=POOL, max_overflow=OVERFLOW, pool_reset_on_return=None)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # the driver must not open transactions itself: we say BEGIN IMMEDIATE ourselves
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # straight to the driver: this runs once per command, on the hot path
        mode = conn.info.get("sqlite_begin", "IMMEDIATE")
        raw = conn.connection.driver_connection
        if raw.in_transaction:  # type: ignore[union-attr]
            return  # inside a transaction begun on the driver (Store.transaction, fast path)
        raw.execute(  # type: ignore[union-attr]
            "BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN DEFERRED"
        )

    return engine


def data_dir_for(url: str) -> Path:
    """Where evidence files live by default: beside an SQLite file, else ./rectify-data."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return Path("rectify-data")
    db = parsed.database
    if parsed.get_backend_name() == "sqlite" and db and db != ":memory:":
        p = Path(db).expanduser()
        return p.with_name(p.stem + "-data")
    return Path("rectify-data")
