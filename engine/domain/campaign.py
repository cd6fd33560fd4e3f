"""The campaign (专项行动, e.g. 百日大会战): a name, a first day and a last day, written in the
org file. Every human view counts down to its end, and no study may be given a due date past
it. Pure: the day it is now is the caller's (the session's moment in town time).

The countdown counts calendar days, today and the end day both included: on the last day one
day is left, the day after the campaign has ended. So `days_left` is (end − today) + 1, and a
due date on the end day is within the campaign (the end day counts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.errors import DeadlineRefused


@dataclass(frozen=True)
class Campaign:
    name: str
    start: date
    end: date
    """The last day of the campaign (it counts)."""

    def problems(self) -> list[str]:
        """What is wrong with it (empty when sound)."""
        out = []
        if not self.name.strip():
            out.append("campaign name must not be empty")
        if self.end < self.start:
            out.append(f"campaign end {self.end} is before its start {self.start}")
        return out

    def days_left(self, today: date) -> int | None:
        """Calendar days left, today and the end day included; None once it has ended."""
        left = (self.end - today).days + 1
        return left if left > 0 else None

    def check_due(self, due: date, what: str = "due date") -> None:
        """A due date must fall on or before the campaign's end (DeadlineRefused, exit 1)."""
        if due > self.end:
            raise DeadlineRefused(f"{what} {due} is after the end of the campaign {self.name}"
                                  f" ({self.end})")

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "start": self.start.isoformat(),
                "end": self.end.isoformat()}

    @staticmethod
    def from_dict(body: Mapping[str, Any]) -> Campaign:
        return Campaign(str(body["name"]), date.fromisoformat(str(body["start"])),
                        date.fromisoformat(str(body["end"])))


def check_due(campaign: Campaign | None, due: date | None, what: str = "due date") -> None:
    """The campaign's rule on a due date given by a mover or an extension request (nothing
    to check without a campaign or a date)."""
    if campaign is not None and due is not None:
        campaign.check_due(due, what)
