"""Chinese working days: weekends and public holidays off, make-up working days (调休) on.

"Within N working days" means by the end of the Nth working day after the day the issue
entered the stage; the due moment is 00:00 town time of the day after that working day.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class CalendarData:
    """The facts a calendar is built from.

    `off_days` are public holidays (days off even on a weekday); `make_up_days` are weekend
    days declared working days; `known_years` are the years these facts are complete for.
    Outside them the calendar falls back to Monday to Friday.
    """

    off_days: frozenset[date] = frozenset()
    make_up_days: frozenset[date] = frozenset()
    known_years: frozenset[int] = frozenset()

    def adjusted(
        self, off: Iterable[date] = (), work: Iterable[date] = (), years: Iterable[int] = ()
    ) -> CalendarData:
        """Local adjustments win over the national data."""
        off_set, work_set = frozenset(off), frozenset(work)
        return CalendarData(
            off_days=(self.off_days - work_set) | off_set,
            make_up_days=(self.make_up_days - off_set) | work_set,
            known_years=self.known_years | frozenset(years),
        )

    def to_json(self) -> str:
        """The form a calendar version is kept in (sorted, so equal data give equal text)."""
        return json.dumps({"off": sorted(d.isoformat() for d in self.off_days),
                           "work": sorted(d.isoformat() for d in self.make_up_days),
                           "years": sorted(self.known_years)}, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> CalendarData:
        data = json.loads(text)
        return CalendarData(
            off_days=frozenset(date.fromisoformat(d) for d in data["off"]),
            make_up_days=frozenset(date.fromisoformat(d) for d in data["work"]),
            known_years=frozenset(int(y) for y in data["years"]))


@dataclass
class WorkingCalendar:
    data: CalendarData
    tz: tzinfo
    fallback_years: set[int] = field(default_factory=set)
    """Years outside the known ones that a computation touched (for a warning)."""
    _memo: dict[tuple[Any, ...], tuple[Any, frozenset[int]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Answers already computed (the calendar never changes), with the fallback years each
    touched, so that a remembered answer still warns."""

    def _remember(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        hit = self._memo.get(key)
        if hit is not None:
            self.fallback_years.update(hit[1])
            return hit[0]
        before = set(self.fallback_years)
        self.fallback_years.clear()
        result = compute()
        touched = frozenset(self.fallback_years)
        self.fallback_years.update(before)
        if len(self._memo) < 200_000:
            self._memo[key] = (result, touched)
        return result

    def is_working_day(self, day: date) -> bool:
        if day in self.data.make_up_days:
            return True
        if day in self.data.off_days:
            return False
        if day.year not in self.data.known_years:
            self.fallback_years.add(day.year)
        return day.weekday() < 5

    def nth_working_day_after(self, day: date, n: int) -> date:
        """The nth working day strictly after `day` (n >= 1)."""
        result: date = self._remember(("after", day, n), lambda: self._count_after(day, n))
        return result

    def _count_after(self, day: date, n: int) -> date:
        if n < 1:
            raise ValueError("n must be at least 1")
        found = 0
        while found < n:
            day += ONE_DAY
            if self.is_working_day(day):
                found += 1
        return day

    def nth_working_day_before(self, day: date, n: int) -> date:
        """The nth working day strictly before `day` (n >= 1)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        found = 0
        while found < n:
            day -= ONE_DAY
            if self.is_working_day(day):
                found += 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie in (start, end]; negative when end is before start."""
        if end < start:
            return -self.working_days_between(end, start)
        count, day = 0, start
        while day < end:
            day += ONE_DAY
            if self.is_working_day(day):
                count += 1
        return count

    # --- moments -------------------------------------------------------------------------
    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def start_of(self, day: date) -> datetime:
        """00:00 town time of `day`, as an aware UTC datetime."""
        return datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)

    def end_of(self, day: date) -> datetime:
        """The end of `day`: 00:00 town time of the next day, in UTC."""
        return self.start_of(day + ONE_DAY)

    def due_after(self, entered_at: datetime, working_days: int) -> datetime:
        """The due moment of a stage entered at `entered_at` with N working days."""
        day = self.local_date(entered_at)
        due: datetime = self._remember(
            ("due", day, working_days),
            lambda: self.end_of(self.nth_working_day_after(day, working_days)))
        return due

    def remember(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """For callers that derive answers from this calendar alone (e.g. a ladder's next
        moment): computed once per key, fallback-year warnings kept."""
        return self._remember(key, compute)

    def day_of_due(self, due: datetime) -> date:
        """The first local day at or after the due moment (due moments fall on midnight)."""
        local = due.astimezone(self.tz)
        day = local.date()
        if local.time() != time(0):
            day += ONE_DAY
        return day

    def moment_from_due(self, due: datetime, offset: int) -> datetime:
        result: datetime = self._remember(
            ("moment", due, offset), lambda: self._moment_from_due(due, offset))
        return result

    def _moment_from_due(self, due: datetime, offset: int) -> datetime:
        """A ladder moment measured from a due moment, in working days.

        offset < 0: the start of the |offset|th working day before due;
        offset = 0: the due moment itself;
        offset > 0: the end of the offset-th working day after due.
        """
        if offset == 0:
            return due
        day = self.day_of_due(due)
        if offset < 0:
            return self.start_of(self.nth_working_day_before(day, -offset))
        return self.end_of(self.nth_working_day_after(day - ONE_DAY, offset))
