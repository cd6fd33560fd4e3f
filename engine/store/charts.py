"""The readings behind the web workspace's charts (看板图表), each one SQL aggregate: how the
number of open issues changed per town day (from the history), the issues per village and
stage, and what the light of each open issue depends on.

An issue is open in any state but the final ones (cleared, voided). Each history event that
sets a state (`to_state`: the first event, and every transition) changes the town's number of
open issues by [its new state is open] − [its old state was open]: +1 for an issue found, −1
for one cleared or voided, +1 again for one reopened. Summed per town day, these changes give
the burn-down; they are read for events after a seq only (the history's primary key), so a
long-running process reads each event once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Date, case, cast, func, literal_column, select

from engine.store import tables as t
from engine.store.repository import Repository

QUARTER = timedelta(minutes=15)
"""SQLite's day buckets: every time zone's offset is a whole number of quarter hours, so a
quarter hour of UTC lies within one town day."""


class ChartReads(Repository):
    def open_changes(self, final: Sequence[str], zone: tzinfo, after_seq: int,
                     upto_seq: int) -> dict[date, int]:
        """The change of the number of open issues on each town day (in `zone`), from the
        events with `after_seq` < seq <= `upto_seq`: every day one of them is dated (a day
        whose changes cancel out as 0)."""
        h = t.history.c
        ended = sorted(set(final))
        change = (case((h.to_state.in_(ended), 0), else_=1)
                  - case((h.from_state.is_(None), 0), (h.from_state.in_(ended), 0), else_=1))
        if self.d.sqlite:  # text 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC: the quarter hour
            key: Any = literal_column(
                "substr(history.at, 1, 14) || (CAST(substr(history.at, 15, 2) AS INTEGER) / 15)")
        else:
            key = cast(func.timezone(getattr(zone, "key", "UTC"), h.at), Date)
        rows = (select(key.label("k"), change.label("change"))
                .where(h.seq > after_seq, h.seq <= upto_seq, h.issue_id > 0,
                       h.to_state.is_not(None))
                .subquery())
        q = select(rows.c.k, func.sum(rows.c.change)).group_by(rows.c.k)
        out: dict[date, int] = {}
        for k, n in self.conn.execute(q):
            day = _quarter_day(k, zone) if self.d.sqlite else k
            out[day] = out.get(day, 0) + int(n)
        return out

    def touched(self, after_seq: int, upto_seq: int) -> list[int]:
        """The issues of the events with `after_seq` < seq <= `upto_seq`."""
        h = t.history.c
        q = (select(h.issue_id).distinct()
             .where(h.seq > after_seq, h.seq <= upto_seq, h.issue_id > 0))
        return [int(r[0]) for r in self.conn.execute(q)]

    def light_inputs(self, final: Sequence[str], ids: Sequence[int] | None = None
                     ) -> list[tuple[Any, ...]]:
        """What the stage chart and each light depend on: (id, village, state, workflow,
        supervised, due_at, next_escalation_at) of the open issues, or of the issues `ids`
        whatever their state."""
        c = t.issues.c
        supervised = case((c.listed, 1), (c.listed_by_village, 1), else_=0)
        q = select(c.id, c.village, c.state, c.workflow, supervised, c.due_at,
                   c.next_escalation_at)
        q = (q.where(c.state.not_in(sorted(set(final)))) if ids is None
             else q.where(c.id.in_(list(ids))))
        return [(int(i), v, st, w, bool(sup), due, nxt) for i, v, st, w, sup, due, nxt
                in self.conn.execute(q)]


def _quarter_day(key: str, zone: tzinfo) -> date:
    """The town day of a quarter-hour bucket 'YYYY-MM-DD HH:q' (q: 0..3) of UTC."""
    hour, _, quarter = key.rpartition(":")
    start = datetime.fromisoformat(hour + ":00").replace(tzinfo=UTC) + int(quarter) * QUARTER
    return start.astimezone(zone).date()

