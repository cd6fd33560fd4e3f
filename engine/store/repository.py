"""What every repository stands on: the transaction it runs in (connection, dialect, the
driver cursor of the raw path) — a protocol, so that the repositories and the unit of work
that offers them do not import each other."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from engine.domain.events import Event
from engine.store.dialect import Dialect, encode_time


class Transaction(Protocol):
    conn: Connection
    dialect: Dialect
    stamp: dict[str, Any] | None
    admit: Callable[[Sequence[tuple[Event, datetime]]], None] | None
    event_times: dict[tuple[int, int], datetime]
    """When each (issue, version) event read in this transaction is dated."""

    def cursor(self) -> Any: ...

    def flush(self) -> None: ...


class Repository:
    """The statements of one aggregate, on a transaction's connection."""

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx
        self.conn = tx.conn
        self.d = tx.dialect

    def run(self, sql: str, params: Any = ()) -> Any:
        """Run a raw statement (`:name` or `?` placeholders) on the shared driver cursor."""
        cur = self.tx.cursor()
        d = self.d
        cur.execute(sql if d.sqlite else d.sql(sql), params)  # SQLite's are the driver's
        return cur

    def run_many(self, sql: str, params: Sequence[Any]) -> None:
        """Run a raw statement once per parameter row (one row: a plain execute, which
        psycopg runs without setting up a pipeline)."""
        cur = self.tx.cursor()
        d = self.d
        if not d.sqlite:
            sql = d.sql(sql)
        if len(params) == 1:
            cur.execute(sql, params[0])
        else:
            cur.executemany(sql, params)

    def rows(self, sql: str, params: Any = ()) -> list[Sequence[Any]]:
        rows: list[Sequence[Any]] = self.run(sql, params).fetchall()
        return rows


_STORED: dict[datetime, Any] = {}
"""SQLite's text of moments already converted, by moment: a move writes its moment twice (the
row's stage entry, the event's time) and due moments fall on the few midnights ahead, so most
of a move's conversions (`isoformat`, about 1.5 µs each) are found here."""
_STORED_MAX = 4096


def stored_time(value: datetime | None, sqlite: bool) -> Any:
    """`encode_time`, each moment converted once (kept while few: see _STORED)."""
    if value is None or not sqlite:
        return encode_time(value, sqlite)
    found = _STORED.get(value)
    if found is None:
        if len(_STORED) >= _STORED_MAX:
            _STORED.clear()
        found = _STORED[value] = encode_time(value, True)
    return found
