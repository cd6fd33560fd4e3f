"""Times and dates as people type them (options, ledger cells): refused with a clear error
(exit 2) when they cannot be read, or when they fall outside the years the program keeps
(FIRST_YEAR to LAST_YEAR).

The bound keeps every later sum safe: a due moment is at most a few hundred working days after
the moment it is measured from, a ladder moment a few hundred working days either side of it,
and a moment in the town's zone is a day at most from UTC; none of them comes near the years
Python's dates end at (1 and 9999), and counting working days between two accepted days stays
quick. It also catches a slip of the keyboard (2202 for 2022, 0202 for 2020).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

FIRST_YEAR = 1970
LAST_YEAR = 2199
"""The years a time or date may fall in (the holidays file names years up to the same one)."""


def _malformed(message: str) -> Exception:
    from engine.errors import BadOption

    return BadOption(message)


def _shown(text: str) -> str:
    """The text as typed, quoted, cut short when it is long (a whole file pasted, say)."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _in_range(day: date, what: str, text: str) -> None:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise _malformed(f"{what} {_shown(text)} is out of range (years {FIRST_YEAR} to"
                         f" {LAST_YEAR})")


def parse_time(text: str, what: str = "time") -> datetime:
    """ISO 8601; a time without offset is returned naive (town time, resolved later)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _malformed(f"{what} {_shown(text)} is not an ISO 8601 time"
                         " (e.g. 2020-09-30T10:00)") from None
    _in_range(value.date(), what, text)
    return value


def parse_day(text: str, what: str = "date") -> date:
    """YYYY-MM-DD (or YYYYMMDD)."""
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise _malformed(f"{what} {_shown(text)} is not a date (YYYY-MM-DD)") from None
    _in_range(value, what, text)
    return value


def is_date(text: str) -> bool:
    """A bare date (2020-09-30 or 20200930), not a moment."""
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def moment_option(text: str, what: str, tz: tzinfo, end: bool = False) -> datetime:
    """A time option: ISO 8601, town time without an offset; a bare date is the day's start
    (or, for the end of a period, the day's end)."""
    value = parse_time(text, what)
    if end and is_date(text):
        value += timedelta(days=1, microseconds=-1)
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def period(start: str | None, end: str | None, tz: tzinfo
           ) -> tuple[datetime | None, datetime | None]:
    """--from and --to (a bare date for --to: to the end of that day), in order."""
    t0 = None if start is None else moment_option(start, "--from", tz)
    t1 = None if end is None else moment_option(end, "--to", tz, end=True)
    if t0 is not None and t1 is not None and t0 > t1:
        raise _malformed(f"--from {start} is after --to {end}")
    return t0, t1
