"""Plain helpers of the unit tests: town time, the 2020 National Day calendar, an issue in a
given stage and the context of a decision. No database, no clock, no files but the workflow."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from engine.domain.calendar import CalendarData, WorkingCalendar
from engine.domain.decide import Context, Machine
from engine.domain.issue import Issue
from engine.domain.org import Org
from engine.domain.workflow import Workflow

TZ = ZoneInfo("Asia/Shanghai")
CST = timezone(timedelta(hours=8))
"""The town's offset, to write moments as the domain page does."""

ISSUE_ID = 7
WORKFLOW_KEY = "rectification@3"

NATIONAL_DAY_2020 = CalendarData(
    off_days=frozenset(date(2020, 10, d) for d in range(1, 9)),
    make_up_days=frozenset({date(2020, 9, 27), date(2020, 10, 10)}),
    known_years=frozenset({2020}),
)
"""Oct 1–8 off; Sun Sep 27 and Sat Oct 10 are make-up working days; only 2020 is known."""

STAGES = ("found", "reported", "studied", "rectified", "verified", "cleared")


def town(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A moment in town time (+08:00)."""
    return datetime(y, m, d, h, mi, tzinfo=CST)


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


def national_day_calendar() -> WorkingCalendar:
    return WorkingCalendar(NATIONAL_DAY_2020, TZ)


MakeIssue = Callable[..., Issue]
"""The type of the `make_issue` fixture: `issue_in`."""


def issue_in(state: str, **changes: Any) -> Issue:
    """An issue of village v-shiban in `state`, at the version of the straight path to it
    (found 1, reported 2, …, cleared 6), entered its stage on Wed 2020-09-30 10:00 town time;
    past `study` it has the assignee `zhang` and a plan. Any field can be given."""
    version = STAGES.index(state) + 1 if state in STAGES else 1
    studied = state in STAGES and STAGES.index(state) >= STAGES.index("studied")
    fields: dict[str, Any] = {
        "id": ISSUE_ID,
        "title": "自来水管漏水",
        "category": "drinking_water",
        "village": "v-shiban",
        "state": state,
        "version": version,
        "created_at": town(2020, 9, 28, 9),
        "created_by": "sa1",
        "stage_entered_at": town(2020, 9, 30, 10),
        "household": "张三",
        "assignee": "zhang" if studied else None,
        "plan": "更换水管" if studied else None,
        "workflow": WORKFLOW_KEY,
        "stage_version": version,
    }
    fields.update(changes)
    if "version" in changes and "stage_version" not in changes:
        fields["stage_version"] = changes["version"]
    return Issue(**fields)


def context(workflow: Workflow, machine: Machine, calendar: WorkingCalendar, org: Org,
            issue: Issue, actor: str, now: datetime,
            prior: Mapping[str, frozenset[str]] | None = None,
            village_listed: bool = False) -> Context:
    """What a decision by `actor` on `issue` rests on, with the roles the org gives them for
    that issue (as the handlers compute them)."""
    return Context(workflow=workflow, machine=machine, calendar=calendar, now=now,
                   actor=actor, roles=org.roles_for_issue(actor, issue.village, issue.assignee),
                   village_listed=village_listed, prior_actors=prior or {})
