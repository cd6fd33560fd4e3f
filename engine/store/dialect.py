"""What differs between SQLite and PostgreSQL, in one place: placeholders, times, flags.

Statements on the raw path are written once, with `:name` (named) or `?` (positional)
placeholders; `Dialect.sql` gives the driver's form (psycopg: `%(name)s`, `%s`), remembered
per text. Times are stored in UTC: on SQLite as the fixed text SQLAlchemy's DateTime writes
(`YYYY-MM-DD HH:MM:SS.ffffff`, so that text compares as time), on PostgreSQL as timestamptz.
`encode_time` and `decode_time` are the only converters: the raw path and the Core column type
(`tables.UTCDateTime`) both use them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


def encode_time(value: datetime | None, sqlite: bool) -> Any:
    """An aware moment as the store keeps it; None stays None."""
    if value is None:
        return None
    if value.tzinfo is UTC:  # the usual case (the clock's, a decoded time): no conversion
        return value.isoformat(" ", "microseconds")[:26] if sqlite else value
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    if sqlite:
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value.astimezone(UTC)


def decode_time(value: Any) -> datetime | None:
    """A stored moment (SQLite text, or a datetime from a driver) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite's stored UTC text, never with an offset
        return datetime.fromisoformat(value + "+00:00")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
    return value.astimezone(UTC)  # type: ignore[no-any-return]


class Dialect:
    """The back end's ways, for statements run on the driver's own cursor."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sqlite = name == "sqlite"
        self._sql: dict[str, str] = {}

    def sql(self, text: str) -> str:
        """`text` with the driver's placeholders (`:name` → `%(name)s`, `?` → `%s` on
        PostgreSQL; unchanged on SQLite)."""
        found = self._sql.get(text)
        if found is None:
            found = text if self.sqlite else _NAMED.sub(r"%(\1)s", text).replace("?", "%s")
            self._sql[text] = found
        return found

    def time(self, value: datetime | None) -> Any:
        """An aware moment as a parameter."""
        return encode_time(value, self.sqlite)

    def remembering_time(self) -> Callable[[datetime | None], Any]:
        """`time` that converts each distinct moment once (many rows sharing moments)."""
        memo: dict[datetime | None, Any] = {}
        sqlite = self.sqlite

        def time(value: datetime | None) -> Any:
            found = memo.get(value, memo)
            if found is memo:
                found = memo[value] = encode_time(value, sqlite)
            return found

        return time

    def flag(self, value: bool) -> Any:
        """A boolean as a parameter (SQLite keeps 0 and 1)."""
        return int(value) if self.sqlite else value
