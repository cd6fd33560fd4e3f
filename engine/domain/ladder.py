"""The escalation ladder: reminder, interview, accountability, measured from a due moment.

Pure. A stage visit's rungs each have a moment; a sweep raises the rungs whose moment has
passed and that were not raised in the visit yet, and stores the next pending moment on the
issue so that the next sweep finds it by an index range scan.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from engine.domain.calendar import WorkingCalendar

LEVELS = ("reminder", "interview", "accountability")


@dataclass(frozen=True)
class Rung:
    level: str
    offset: int
    """Working days from the due moment (see WorkingCalendar.moment_from_due)."""
    recipients: tuple[str, ...]
    """Roles told as those who act on it (the interview's conductor, the accountability's
    decider); `a|b` means a if there is one, else b."""
    subjects: tuple[str, ...] = ()
    """Roles answerable for it (约谈对象, 问责对象): besides the org's roles, `owners` (the
    stage's owners), `owners_secretary` (the village secretary when an owner belongs to a
    village) and `interviewed` (the subjects of this stage visit's interview)."""


@dataclass(frozen=True)
class Ladder:
    default: tuple[Rung, ...]
    listed: tuple[Rung, ...]

    def rungs(self, listed: bool) -> tuple[Rung, ...]:
        return self.listed if listed else self.default


Step = tuple[Rung, datetime]
"""A rung and its moment for one stage visit."""


def plan(calendar: WorkingCalendar, ladder: Ladder, due: datetime | None,
         listed: bool) -> list[Step]:
    """Every rung of the issue's ladder with its moment, in ladder order (none without a due
    moment)."""
    if due is None:
        return []
    return [(r, calendar.moment_from_due(due, r.offset)) for r in ladder.rungs(listed)]


def moments(calendar: WorkingCalendar, ladder: Ladder, due: datetime,
            listed: bool) -> list[tuple[str, datetime]]:
    """Each level's moment for a stage visit due at `due`, in ladder order."""
    return [(r.level, m) for r, m in plan(calendar, ladder, due, listed)]


def come_due(steps: Iterable[Step], now: datetime, raised: Collection[str]) -> list[Step]:
    """The rungs whose moment has passed and that were not raised in this stage visit."""
    return [(r, m) for r, m in steps if m <= now and r.level not in raised]


def next_moment(steps: Iterable[Step], raised: Collection[str]) -> datetime | None:
    """When the next sweep has something to do for this issue (None: nothing more)."""
    pending = [m for r, m in steps if r.level not in raised]
    return min(pending) if pending else None


def initial_status(level: str) -> str:
    """A reminder is done when raised; an interview is open until recorded; accountability is
    open until the party secretary records a decision (leaving the stage supersedes both)."""
    return "done" if level == "reminder" else "open"
