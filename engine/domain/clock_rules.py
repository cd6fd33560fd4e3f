"""The rules every event's time obeys, whatever wrote it. Pure: the real time is given.

- In a **live** database the rules' clock may not run ahead of the real time, and an event
  dated earlier than the real time is a back-fill that must say why (`--backfill REASON`,
  kept in the event). A **drill** database (the demo, a training town) simulates time freely.
- In any database an event on an issue may not be dated before that issue's previous event.

A minute of slack (BACKDATED_SECONDS, the audit's own mark of a back-dated event) covers the
time a command takes between reading the clock and writing.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from engine.errors import ClockRefused

BACKDATED_SECONDS = 60
"""An event whose clock time and write time differ by more than this is back-dated."""
SLACK = timedelta(seconds=BACKDATED_SECONDS)
MODES = ("live", "drill")
LIVE, DRILL = MODES
"""A live database runs on the real time; a drill simulates time."""


def _text(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def clock_problem(live: bool, at: datetime, real: datetime, backfill: str | None,
                  tz: tzinfo) -> str | None:
    """Why an event dated `at`, written at `real`, breaks the clock rules (None if it does
    not)."""
    if not live:
        return None
    if at > real + SLACK:
        return (f"the time {_text(at, tz)} is later than the real time {_text(real, tz)}:"
                " a live database does not run ahead (simulations belong in a drill"
                " database, `rectify init --drill`)")
    if at < real - SLACK and not (backfill or "").strip():
        return (f"the time {_text(at, tz)} is earlier than the real time {_text(real, tz)}:"
                " entering the past needs --backfill REASON")
    return None


def check_clock(live: bool, at: datetime, real: datetime, backfill: str | None,
                tz: tzinfo) -> None:
    problem = clock_problem(live, at, real, backfill, tz)
    if problem is not None:
        raise ClockRefused(problem)


def order_problem(issue_id: int, at: datetime, previous: datetime | None, tz: tzinfo
                  ) -> str | None:
    """Why an event dated `at` may not follow the issue's previous event (None if it may)."""
    if previous is None or at >= previous:
        return None
    return (f"issue {issue_id}: the time {_text(at, tz)} is before the issue's previous event"
            f" ({_text(previous, tz)})")


def check_order(issue_id: int, at: datetime, previous: datetime | None, tz: tzinfo) -> None:
    problem = order_problem(issue_id, at, previous, tz)
    if problem is not None:
        raise ClockRefused(problem)
