"""The escalation ladder: reminder, interview, accountability, measured from a due moment."""

from __future__ import annotations

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
    """Roles; `a|b` means a if there is one, else b."""


@dataclass(frozen=True)
class Ladder:
    default: tuple[Rung, ...]
    listed: tuple[Rung, ...]

    def rungs(self, listed: bool) -> tuple[Rung, ...]:
        return self.listed if listed else self.default


def moments(
    calendar: WorkingCalendar, ladder: Ladder, due: datetime, listed: bool
) -> list[tuple[str, datetime]]:
    """Each level's moment for a stage visit due at `due`, in ladder order."""
    return [(r.level, calendar.moment_from_due(due, r.offset)) for r in ladder.rungs(listed)]
