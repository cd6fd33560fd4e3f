"""The numbers leaders are judged by (`rectify stats`) and the assessment scoreboard (考核).

Pure: the store counts in SQL (engine.store.stats) and hands over per-key counts and small
histograms of days; this module turns them into rows (rates, working-day means, the town's
total) and scores them with the weights of `workflows/scoreboard.yaml`.

What each number counts, for one key (a village, category, group or assignee) and a window
[from, to] (either end may be open) cut at the moment E = the earlier of --to and --as-of, or
the clock when neither is given (events after E do not count):

- found: issues created in the window and not voided at E;
- fixed_on_spot: `fix` transitions (立行立改) in the window;
- rectified: issues that entered `rectified` in the window (by rectify or fix), each once;
- cleared: issues cleared at E whose entry into `cleared` (the `clear`, or the import that
  brought them in cleared) lies in the window: an issue cleared and reopened since counts
  under `reopened`, not here (清零 means it stayed cleared);
- open: neither cleared nor voided at E (any final state of the workflow is not open);
- overdue: open and at or past its stage's due moment at E;
- clearance_rate: cleared ÷ found, a fraction (None when found is 0); with no window it is
  the ledger's "cleared ÷ issues not voided";
- avg_working_days_to_clear: the mean of the working days (the town's calendar) in
  (creation day, clearing day] over the issues counted as cleared (None when none);
- reminders, interviews, accountability: escalations raised in the window, by level;
- extensions: extension requests made in the window;
- reopened: `reopen` transitions (回头看) in the window.

An issue counts under its village, category, group and assignee as they are now (an edit
corrects the record; a reassign hands the issue over with its past).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

BY = ("village", "category", "group", "person")
"""What the rows are: one per village, category, group or person (the assignee)."""
TOTAL = "*"
"""The key of the town's total row (the last row, in JSON too)."""
FIELDS = ("found", "fixed_on_spot", "rectified", "cleared", "open", "overdue",
          "clearance_rate", "avg_working_days_to_clear", "reminders", "interviews",
          "accountability", "extensions", "reopened")
"""The numbers of a row, in the order tables and JSON show them."""
COUNTS = ("found", "fixed_on_spot", "rectified", "cleared", "open", "overdue", "reminders",
          "interviews", "accountability", "extensions", "reopened")
"""The numbers that are counts (summed for the total)."""
OUTCOMES = ("no_action", "talk", "admonish", "criticize", "refer")
"""Accountability outcomes, lightest first (不予问责 提醒谈话 诫勉谈话 通报批评 移交纪委)."""


@dataclass
class Tally:
    """What the store counted for one key."""

    counts: dict[str, int] = field(default_factory=dict)
    clear_days: dict[tuple[date, date], int] = field(default_factory=dict)
    """(creation day, clearing day) → issues: the histogram the mean is taken over."""
    due_days: dict[date, int] = field(default_factory=dict)
    """The due day (town time, of the due moment) of each overdue issue → issues."""
    outcomes: dict[str, int] = field(default_factory=dict)
    """Accountability decisions made in the window, by outcome."""

    def add(self, other: Tally) -> None:
        for k, n in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + n
        for d, n in other.clear_days.items():
            self.clear_days[d] = self.clear_days.get(d, 0) + n
        for day, n in other.due_days.items():
            self.due_days[day] = self.due_days.get(day, 0) + n
        for o, n in other.outcomes.items():
            self.outcomes[o] = self.outcomes.get(o, 0) + n


@dataclass(frozen=True)
class Row:
    key: str | None
    """The village, category, group or person id; None for issues without one (未指派);
    TOTAL for the town."""
    found: int = 0
    fixed_on_spot: int = 0
    rectified: int = 0
    cleared: int = 0
    open: int = 0
    overdue: int = 0
    clearance_rate: float | None = None
    avg_working_days_to_clear: float | None = None
    reminders: int = 0
    interviews: int = 0
    accountability: int = 0
    extensions: int = 0
    reopened: int = 0
    overdue_working_days: int = 0
    """Working days past due summed over the overdue issues (the scoreboard's)."""
    outcomes: Mapping[str, int] = field(default_factory=dict)

    def numbers(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}


def rate(part: int, whole: int) -> float | None:
    """part ÷ whole as a fraction rounded to 4 places; None when whole is 0."""
    return None if whole == 0 else round(part / whole, 4)


def mean(total: int, n: int) -> float | None:
    return None if n == 0 else round(total / n, 2)


WorkingDays = Callable[[date, date], int]
"""Working days in (start, end] (engine.domain.calendar.WorkingCalendar.working_days_between)."""


def overdue_days(due_day: date, at_day: date, between: WorkingDays) -> int:
    """Working days an issue is past due at `at_day`: those in [the due moment's day, at_day]
    (the due moment is 00:00 of the day after the last day allowed), at least 0."""
    return max(0, between(due_day - timedelta(days=1), at_day))


def row_of(key: str | None, t: Tally, between: WorkingDays, at_day: date) -> Row:
    c = t.counts
    days = sum(between(a, b) * n for (a, b), n in t.clear_days.items())
    cleared_n = sum(t.clear_days.values())
    late = sum(overdue_days(d, at_day, between) * n for d, n in t.due_days.items())
    found, cleared = c.get("found", 0), c.get("cleared", 0)
    return Row(key=key, **{name: c.get(name, 0) for name in COUNTS},
               clearance_rate=rate(cleared, found),
               avg_working_days_to_clear=mean(days, cleared_n),
               overdue_working_days=late, outcomes=dict(t.outcomes))


def rows_of(tallies: Mapping[str | None, Tally], order: Sequence[str | None],
            between: WorkingDays, at_day: date) -> list[Row]:
    """A row per key (those of `order` first, in its order, then any others, None last) and
    the town's total (TOTAL) last."""
    keys = list(order) + sorted(k for k in tallies if k not in order and k is not None)
    if None in tallies and None not in keys:
        keys.append(None)
    total = Tally()
    out = []
    for k in keys:
        t = tallies.get(k, Tally())
        total.add(t)
        out.append(row_of(k, t, between, at_day))
    out.append(row_of(TOTAL, total, between, at_day))
    return out


# --- the scoreboard (考核) -----------------------------------------------------------------
@dataclass(frozen=True)
class Weights:
    """The scoreboard's weights (workflows/scoreboard.yaml)."""

    on_time: float = 100.0
    overdue_day: float = 0.5
    interview: float = 2.0
    accountability: Mapping[str, float] = field(default_factory=lambda: {
        "no_action": 0.0, "talk": 3.0, "admonish": 5.0, "criticize": 8.0, "refer": 15.0})
    reopened: float = 3.0


@dataclass(frozen=True)
class Score:
    key: str | None
    rank: int
    score: float
    on_time_rate: float
    """(open − overdue + cleared) ÷ (open + cleared); 1 when both are 0."""
    open: int
    overdue: int
    cleared: int
    overdue_working_days: int
    interviews: int
    accountability: Mapping[str, int]
    reopened: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "rank": self.rank, "score": self.score,
                "on_time_rate": self.on_time_rate, "open": self.open, "overdue": self.overdue,
                "cleared": self.cleared, "overdue_working_days": self.overdue_working_days,
                "interviews": self.interviews,
                "accountability": {o: self.accountability.get(o, 0) for o in OUTCOMES},
                "reopened": self.reopened}


def on_time_rate(row: Row) -> float:
    answerable = row.open + row.cleared
    if answerable == 0:
        return 1.0
    return round((answerable - row.overdue) / answerable, 4)


def score_of(row: Row, w: Weights) -> float:
    """score = on_time × on-time rate − overdue_day × working days past due
    − interview × interviews − Σ accountability[outcome] × decisions of that outcome
    − reopened × reopened; rounded to 2 places, not bounded below."""
    penalty = (w.overdue_day * row.overdue_working_days + w.interview * row.interviews
               + sum(w.accountability.get(o, 0.0) * n for o, n in row.outcomes.items())
               + w.reopened * row.reopened)
    return round(w.on_time * on_time_rate(row) - penalty, 2)


def ranked(rows: Iterable[Row], w: Weights) -> list[Score]:
    """Scores, best first; equal scores share a rank (1, 2, 2, 4); the town's total and the
    unassigned row are left out."""
    scored = [(score_of(r, w), r) for r in rows if r.key is not None and r.key != TOTAL]
    scored.sort(key=lambda p: (-p[0], str(p[1].key)))
    out: list[Score] = []
    for i, (score, r) in enumerate(scored):
        rank = out[-1].rank if out and out[-1].score == score else i + 1
        out.append(Score(key=r.key, rank=rank, score=score, on_time_rate=on_time_rate(r),
                         open=r.open, overdue=r.overdue, cleared=r.cleared,
                         overdue_working_days=r.overdue_working_days,
                         interviews=r.interviews, accountability=dict(r.outcomes),
                         reopened=r.reopened))
    return out
