"""What should be told, as outbox rows written in the same transaction as the event.

One row per recipient and channel (routing from the configuration), each with a stable
idempotency key and the context its template will be rendered with: a snapshot of the issue
as it stood when the event happened.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from engine.domain.calendar import WorkingCalendar
from engine.domain.escalation import Escalation
from engine.domain.issue import Issue
from engine.domain.org import Org
from engine.domain.workflow import Workflow
from notifications.labels import LABELS

NEXT_STEP = {
    "zh_CN": {
        "reminder": "请在截止前完成本阶段工作；确有困难的，请在截止前提出延期申请。",
        "interview": "请按时参加约谈，说明未按期完成的原因，并提出限期整改措施。",
        "accountability": "请按考核问责制度研究处理意见，并督促立即整改到位。",
        "assignment": "请按整改方案在截止日前完成整改，并上传佐证材料。",
        "rejection": "请按退回意见重新整改，并在截止日前重新上传佐证材料。",
        "extension": "请按新的截止日期完成整改。",
        "interview_recorded": "请按约谈要求抓好整改落实。",
    },
    "en": {
        "reminder": "Finish this stage before the deadline, or ask for an extension before it.",
        "interview": "Attend the interview, explain the delay and commit to a date.",
        "accountability": "Decide on accountability and see that it is put right at once.",
        "assignment": "Carry out the plan before the due date and upload the evidence.",
        "rejection": "Rectify again as the rejection says and upload new evidence in time.",
        "extension": "Finish by the due date now in force.",
        "interview_recorded": "See that what the interview asked for is done.",
    },
}


@dataclass(frozen=True)
class OutboxRow:
    key: str
    kind: str
    channel: str
    person: str
    issue_id: int | None
    escalation_id: int | None
    context: str


class Notifier:
    """Builds outbox rows; knows the org, the calendar, the routing and the language."""

    def __init__(self, org: Org, calendar: WorkingCalendar, tz: tzinfo,
                 routing: Mapping[str, Sequence[str]], locale: str = "zh_CN") -> None:
        self.org = org
        self.calendar = calendar
        self.tz = tz
        self.routing = routing
        self.locale = locale if locale in NEXT_STEP else "zh_CN"

    # --- contexts ---------------------------------------------------------------------------
    def issue_context(self, issue: Issue, wf: Workflow, now: datetime) -> dict[str, Any]:
        unit = self.org.units.get(issue.village)
        assignee = self.org.people.get(issue.assignee or "")
        due_text, late = "", 0
        if issue.due_at is not None:
            last_day = (issue.due_at.astimezone(self.tz) - timedelta(seconds=1)).date()
            due_text = (f"{last_day.isoformat()} 止" if self.locale == "zh_CN"
                        else f"by {last_day.isoformat()}")
            if now >= issue.due_at:  # working days fully past the due moment (at least 1)
                yesterday = self.calendar.local_date(now) - timedelta(days=1)
                late = max(1, self.calendar.working_days_between(last_day, yesterday))
        label = wf.state(issue.state).label if wf.has_state(issue.state) else issue.state
        return {
            "id": issue.id, "title": issue.title, "village": issue.village,
            "village_name": unit.name if unit else issue.village,
            "household": issue.household or "", "category": issue.category,
            "stage": issue.state, "stage_label": label or issue.state, "due": due_text,
            "late_working_days": late,
            "assignee_name": assignee.name if assignee else "",
            "listed": issue.supervised,
        }

    def _base(self, kind: str, issue: Issue, wf: Workflow, now: datetime) -> dict[str, Any]:
        return {
            "town": {"name": self.org.town.name},
            "issue": self.issue_context(issue, wf, now),
            "next_step": NEXT_STEP[self.locale].get(kind, ""),
        }

    def _rows(self, kind: str, people: Iterable[str], base_key: str, context: dict[str, Any],
              issue_id: int | None, escalation_id: int | None = None) -> list[OutboxRow]:
        rows: list[OutboxRow] = []
        seen: set[str] = set()
        for person in people:
            if person in seen or person not in self.org.people:
                continue
            seen.add(person)
            ctx = {**context, "recipient": {"name": self.org.people[person].name}}
            text = json.dumps(ctx, ensure_ascii=False, sort_keys=True)
            for channel in self.routing.get(kind, ()):
                rows.append(OutboxRow(
                    key=f"{base_key}:{person}:{channel}", kind=kind, channel=channel,
                    person=person, issue_id=issue_id, escalation_id=escalation_id,
                    context=text))
        return rows

    def _escalation_context(self, e: Escalation) -> dict[str, Any]:
        return {
            "id": e.id, "level": e.level,
            "level_label": LABELS[self.locale]["level"].get(e.level, e.level),
            "recipients": [self.org.people[p].name for p in e.recipients
                           if p in self.org.people],
        }

    # --- what is told -------------------------------------------------------------------------
    def escalation(self, issue: Issue, wf: Workflow, e: Escalation,
                   now: datetime) -> list[OutboxRow]:
        ctx = self._base(e.level, issue, wf, now)
        ctx["escalation"] = self._escalation_context(e)
        return self._rows(e.level, e.recipients, f"escalation:{e.id}", ctx, issue.id, e.id)

    def assignment(self, issue: Issue, wf: Workflow, version: int,
                   now: datetime) -> list[OutboxRow]:
        if not issue.assignee:
            return []
        ctx = self._base("assignment", issue, wf, now)
        ctx["plan"] = issue.plan or ""
        return self._rows("assignment", [issue.assignee], f"assignment:{issue.id}:{version}",
                          ctx, issue.id)

    def rejection(self, issue: Issue, wf: Workflow, version: int, reason: str,
                  to: Sequence[str], now: datetime) -> list[OutboxRow]:
        ctx = self._base("rejection", issue, wf, now)
        ctx["reason"] = reason
        return self._rows("rejection", to, f"rejection:{issue.id}:{version}", ctx, issue.id)

    def extension(self, issue: Issue, wf: Workflow, version: int, to_date: str, status: str,
                  note: str | None, requester: str, now: datetime,
                  reason: str = "") -> list[OutboxRow]:
        ctx = self._base("extension", issue, wf, now)
        ctx["extension"] = {"to": to_date, "status": status, "note": note or ""}
        ctx["reason"] = reason
        ctx["note"] = note or ""
        return self._rows("extension", [requester], f"extension:{issue.id}:{version}", ctx,
                          issue.id)

    def interview_recorded(self, issue: Issue, wf: Workflow, e: Escalation, note: str,
                           actor: str, now: datetime) -> list[OutboxRow]:
        ctx = self._base("interview_recorded", issue, wf, now)
        ctx["note"] = note
        ctx["escalation"] = self._escalation_context(e)
        people = [p for p in e.recipients if p != actor]
        if self.org.town.party_secretary != actor:
            people.append(self.org.town.party_secretary)
        return self._rows("interview_recorded", people, f"recorded:{e.id}", ctx, issue.id,
                          e.id)
