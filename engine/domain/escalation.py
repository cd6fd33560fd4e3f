"""Escalations and extension requests as records, and the light of an issue.

Pure. The ladder's arithmetic is in `engine.domain.ladder`; who a rung reaches is
`Org.reach(rung.recipients, …)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.domain.calendar import WorkingCalendar
from engine.domain.issue import Issue
from engine.domain.ladder import Ladder


def issue_light(
    calendar: WorkingCalendar, ladder: Ladder, issue: Issue, now: datetime, final: bool
) -> str | None:
    """The light of an issue: its reminder is out once the ladder's pointer has passed it."""
    reminder = next((r for r in ladder.rungs(issue.supervised) if r.level == "reminder"), None)
    reminder_out = False
    if reminder is not None and issue.due_at is not None:
        at = calendar.moment_from_due(issue.due_at, reminder.offset)
        reminder_out = issue.next_escalation_at is None or issue.next_escalation_at > at
    return light(calendar, issue.due_at, now, reminder_out, final)


def light(
    calendar: WorkingCalendar,
    due: datetime | None,
    now: datetime,
    reminder_out: bool,
    final: bool,
) -> str | None:
    """green on time; yellow when a reminder is out or due within one working day; red when
    overdue. None for a closed issue."""
    if final:
        return None
    if due is None:
        return "green"
    if now >= due:
        return "red"
    if reminder_out or now >= calendar.moment_from_due(due, -1):
        return "yellow"
    return "green"


@dataclass(frozen=True)
class Escalation:
    id: int
    issue_id: int
    stage: str
    stage_version: int
    level: str
    due_at: datetime
    moment: datetime
    raised_at: datetime
    recipients: tuple[str, ...]
    status: str
    closed_at: datetime | None = None
    closed_by: str | None = None
    note: str | None = None
    attendees: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    """Who answers for it (约谈对象, 问责对象); `recipients` is everyone told."""
    outcome: str | None = None
    """An accountability decision's outcome (OUTCOMES)."""

    @property
    def raised_late(self) -> bool:
        """Raised at or after the stage's due moment (a sweep that did not run in time): more
        time can no longer be asked for."""
        return self.raised_at >= self.due_at

    def with_id(self, new_id: int) -> Escalation:
        """This escalation with its id: dataclasses.replace without its per-call lookup of
        the fields (a sweep makes one per escalation it writes)."""
        return Escalation(new_id, self.issue_id, self.stage, self.stage_version, self.level,
                          self.due_at, self.moment, self.raised_at, self.recipients,
                          self.status, self.closed_at, self.closed_by, self.note,
                          self.attendees, self.subjects, self.outcome)


OUTCOMES = {"no_action": "不予问责", "talk": "提醒谈话", "admonish": "诫勉谈话",
            "criticize": "通报批评", "refer": "移交纪委"}
"""What the party secretary may decide on an accountability case, and its Chinese name."""


@dataclass(frozen=True)
class Extension:
    id: int
    issue_id: int
    stage: str
    stage_version: int
    requested_by: str
    requested_at: datetime
    old_due_at: datetime
    to_date: str
    reason: str
    status: str
    """pending | approved | denied | superseded"""
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
