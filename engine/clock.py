"""Where the time comes from: the domain never reads a clock itself.

The rules' clock of a command is its session's moment (`--now`), else the app's clock: the
system's, or for a drill (`serve --now`) one that starts at the given moment and runs on.
When an event is written (`recorded_at`) is always the system's time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class DrillClock:
    """For drills: starts at the given (aware) moment and runs on with the real time."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a drill clock needs an aware start")
        self._start = start
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)
