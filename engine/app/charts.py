"""The numbers the web workspace draws (看板图表), read in one transaction by SQL aggregates:

- the burn-down: for each town day, how many issues were open at its end (found and neither
  cleared nor voided yet; a reopened issue counts again), from the history, with the ideal
  line from the highest number so far (on the first day) to zero on the last day;
- per village, the open issues in each open stage (the ledger's counts);
- per village, the open issues by light (green, yellow, red) at the session's time.

What is read is kept by the app with the last event's seq (`App.memo`): the burn-down's daily
changes and the open issues' inputs are then read again only for the events written since
(the issues they name); the lights are told at each reading's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from engine.app.session import Session
from engine.domain.escalation import issue_light
from engine.domain.issue import Issue
from engine.store.charts import ChartReads
from engine.store.unit_of_work import Tx

LIGHTS = ("red", "yellow", "green")
MAX_DAYS = 1000
"""The longest burn-down drawn (its last days): a history of years is not one picture."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REREAD = 5000
"""More issues written since the last reading than this: all the open issues are read again."""


@dataclass(frozen=True)
class Burndown:
    days: list[date]
    open: list[int | None]
    """Issues open at the end of each day (None for a day still to come)."""
    ideal: list[float]
    """A straight line from the highest number so far, on the first day, to zero on the last
    day: the pace that clears them all in time."""


@dataclass(frozen=True)
class Pictures:
    burndown: Burndown
    villages: list[str]
    """Every village of the org (by id, as the ledger lists them)."""
    stages: list[str]
    """The open stages, in the workflow's order."""
    by_stage: dict[str, dict[str, int]] = field(default_factory=dict)
    """village → stage → open issues."""
    by_light: dict[str, dict[str, int]] = field(default_factory=dict)
    """village → light → open issues."""


def days_of(first: date | None, today: date, start: date | None = None,
            end: date | None = None) -> list[date]:
    """The burn-down's days: from `start` to `end` when given (a campaign's days), else from
    the day of the first issue event (`first`; today when there is none) to `today`; at most
    the last MAX_DAYS of them."""
    lo = start or first or today
    hi = end or today
    if hi < lo:
        return []
    lo = max(lo, hi - timedelta(days=MAX_DAYS - 1))
    return [lo + timedelta(days=k) for k in range((hi - lo).days + 1)]


def pictures(s: Session, start: date | None = None, end: date | None = None) -> Pictures:
    """Everything the charts draw, at the session's time; `start`, `end`: the burn-down's
    first and last day (default: the campaign's days, else days_of's)."""
    with s.transaction(write=False) as tx:
        tz = s.timezone(tx)
        now = s.now(tx)
        today = now.astimezone(tz).date()
        reads = ChartReads(tx)
        final = s.final_states(tx)
        mark = tx.history.last_seq()
        changes = _daily_changes(s, reads, final, tz, mark)
        running = s.org(tx).campaign
        if start is None and end is None and running is not None:
            start, end = running.start, running.end  # the campaign's days
        days = days_of(min(changes) if changes else None, today, start, end)
        burndown = _burndown(days, changes, today)
        counts, groups = _issue_groups(s, tx, reads, final, mark)
        wf = s.current_workflow(tx)
        stages = [st.name for st in wf.states if not wf.is_final(st.name)]
        stages += sorted({st for row in counts.values() for st in row} - set(stages))
        by_light: dict[str, dict[str, int]] = {}
        cal = s.calendar(tx)
        for village, key, supervised, due, nxt, n in groups:
            ladder = s.workflow(tx, key).ladder
            probe = Issue(id=0, title="", category="", village=village, state="", version=1,
                          created_at=_EPOCH, created_by="", stage_entered_at=_EPOCH,
                          listed=supervised, due_at=due, workflow=key,
                          next_escalation_at=nxt)
            light = issue_light(cal, ladder, probe, now, False)
            if light is not None:
                row = by_light.setdefault(village, {})
                row[light] = row.get(light, 0) + n
        villages = sorted(s.org(tx).units)
    return Pictures(burndown, villages, stages, counts, by_light)


def _daily_changes(s: Session, reads: ChartReads, final: tuple[str, ...], tz: tzinfo,
                   mark: int) -> dict[date, int]:
    """The change of open issues on each day of the whole history, every day an issue event
    is dated (its first: the day of the first issue event); kept by the app, only the events
    after the last reading are read again."""
    context = (getattr(tz, "key", str(tz)), final)
    kept = s.app.memo.get("charts days")
    seen, changes = 0, {}
    if kept is not None and kept[0][0] == context and kept[0][1] <= mark:
        seen, changes = kept[0][1], kept[1]
    if seen < mark:
        changes = dict(changes)
        for day, n in reads.open_changes(final, tz, seen, mark).items():
            changes[day] = changes.get(day, 0) + n
        s.app.memo["charts days"] = ((context, mark), changes)
    return changes


def _burndown(days: list[date], changes: dict[date, int], today: date) -> Burndown:
    if not days:
        return Burndown([], [], [])
    level = sum(n for d, n in changes.items() if d < days[0])
    shown: list[int | None] = []
    for d in days:
        level += changes.get(d, 0)
        shown.append(level if d <= today else None)
    top = max((n for n in shown if n is not None), default=0)
    last = len(days) - 1
    ideal = [round(top * (1 - k / last), 1) if last else 0.0 for k in range(len(days))]
    return Burndown(days, shown, ideal)


def _issue_groups(s: Session, tx: Tx, reads: ChartReads, final: tuple[str, ...], mark: int
                  ) -> tuple[dict[str, dict[str, int]], list[tuple[Any, ...]]]:
    """(village → open stage → count, the open issues grouped by what their light depends
    on: (village, workflow, supervised, due_at, next_escalation_at, count)). The open issues'
    inputs are kept by the app; after a write only the issues its events name are read
    again (every change of an issue is an event)."""
    kept = s.app.memo.get("charts issues")
    if kept is not None and kept[0][1] == final and kept[0][0] == mark:
        found: tuple[dict[str, dict[str, int]], list[tuple[Any, ...]]] = kept[1][1]
        return found
    rows: dict[int, tuple[Any, ...]]
    touched = (reads.touched(kept[0][0], mark)
               if kept is not None and kept[0][1] == final and kept[0][0] < mark else None)
    if kept is None or touched is None or len(touched) > REREAD:
        rows = {r[0]: r for r in reads.light_inputs(final)}
    else:
        rows = dict(kept[1][0])
        for k in range(0, len(touched), 500):
            for r in reads.light_inputs(final, touched[k:k + 500]):
                if r[2] in final:
                    rows.pop(r[0], None)
                else:
                    rows[r[0]] = r
    counts: dict[str, dict[str, int]] = {}
    groups: dict[tuple[Any, ...], int] = {}
    for _id, village, state, key, supervised, due, nxt in rows.values():
        row = counts.setdefault(village, {})
        row[state] = row.get(state, 0) + 1
        group = (village, key, supervised, due, nxt)
        groups[group] = groups.get(group, 0) + 1
    result = (counts, [(*g, n) for g, n in groups.items()])
    s.app.memo["charts issues"] = ((mark, final), (rows, result))
    return result
