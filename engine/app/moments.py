"""Times and dates as people type them (options, ledger cells): refused with a clear error
(exit 2) when they cannot be read."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo


def parse_time(text: str, what: str = "time") -> datetime:
    """ISO 8601; a time without offset is returned naive (town time, resolved later)."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        from engine.errors import BadOption

        raise BadOption(
            f"{what} {text!r} is not an ISO 8601 time (e.g. 2020-09-30T10:00)") from None


def parse_day(text: str, what: str = "date") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        from engine.errors import BadOption

        raise BadOption(f"{what} {text!r} is not a date (YYYY-MM-DD)") from None


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
        from engine.errors import BadOption

        raise BadOption(f"--from {start} is after --to {end}")
    return t0, t1
