"""Working days and deadlines, DOMAIN.md's worked examples included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from engine.calendar_cn import national
from engine.domain.calendar import CalendarData, WorkingCalendar
from engine.domain.ladder import Ladder, Rung, moments

TZ = ZoneInfo("Asia/Shanghai")
CST = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def cn() -> WorkingCalendar:
    return WorkingCalendar(national(range(2019, 2028)), TZ)


def town(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=CST)


def test_national_day_2020_holidays_and_make_up_days(cn: WorkingCalendar) -> None:
    assert not any(cn.is_working_day(date(2020, 10, d)) for d in range(1, 9))
    assert cn.is_working_day(date(2020, 9, 27))  # Sunday, make-up day
    assert cn.is_working_day(date(2020, 10, 10))  # Saturday, make-up day
    assert not cn.is_working_day(date(2020, 10, 11))  # an ordinary Sunday
    assert cn.is_working_day(date(2020, 10, 9))


def test_domain_example_reported_within_three_working_days(cn: WorkingCalendar) -> None:
    entered = town(2020, 9, 30, 10)
    assert cn.nth_working_day_after(date(2020, 9, 30), 1) == date(2020, 10, 9)
    assert cn.nth_working_day_after(date(2020, 9, 30), 2) == date(2020, 10, 10)
    assert cn.nth_working_day_after(date(2020, 9, 30), 3) == date(2020, 10, 12)
    due = cn.due_after(entered, 3)
    assert due == town(2020, 10, 13)
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)  # stored in UTC


def test_entering_late_at_night_counts_the_town_day(cn: WorkingCalendar) -> None:
    # 2020-09-30 23:30 town time is 15:30 UTC: the town's date decides, not UTC's
    entered = datetime(2020, 9, 30, 15, 30, tzinfo=UTC)
    assert cn.due_after(entered, 1) == town(2020, 10, 10)
    # 2020-10-09 00:30 town time is still Oct 8 in UTC
    entered = datetime(2020, 10, 8, 16, 30, tzinfo=UTC)
    assert cn.due_after(entered, 1) == town(2020, 10, 11)


def test_entering_on_a_holiday_counts_from_the_next_working_day(cn: WorkingCalendar) -> None:
    assert cn.due_after(town(2020, 10, 3, 11), 1) == town(2020, 10, 10)


def test_working_days_between(cn: WorkingCalendar) -> None:
    assert cn.working_days_between(date(2020, 9, 30), date(2020, 10, 12)) == 3
    assert cn.working_days_between(date(2020, 10, 12), date(2020, 9, 30)) == -3
    assert cn.working_days_between(date(2020, 10, 1), date(2020, 10, 1)) == 0


def test_nth_working_day_before(cn: WorkingCalendar) -> None:
    assert cn.nth_working_day_before(date(2020, 10, 13), 1) == date(2020, 10, 12)
    assert cn.nth_working_day_before(date(2020, 10, 12), 2) == date(2020, 10, 9)
    assert cn.nth_working_day_before(date(2020, 10, 9), 1) == date(2020, 9, 30)


def test_unknown_years_fall_back_to_monday_to_friday(cn: WorkingCalendar) -> None:
    assert cn.fallback_years == set()
    assert cn.is_working_day(date(2027, 10, 1))  # a Friday: no data, so a working day
    assert not cn.is_working_day(date(2027, 10, 2))
    assert cn.fallback_years == {2027}


def test_local_adjustments_win() -> None:
    base = CalendarData(frozenset({date(2030, 1, 1)}), frozenset(), frozenset({2030}))
    cal = WorkingCalendar(
        base.adjusted(off=[date(2030, 1, 2)], work=[date(2030, 1, 1), date(2030, 1, 5)]), TZ
    )
    assert cal.is_working_day(date(2030, 1, 1))
    assert not cal.is_working_day(date(2030, 1, 2))
    assert cal.is_working_day(date(2030, 1, 5))  # a Saturday made a working day
    assert cal.fallback_years == set()


LADDER = Ladder(
    default=(Rung("reminder", -1, ()), Rung("interview", 1, ()),
             Rung("accountability", 5, ())),
    listed=(Rung("reminder", -1, ()), Rung("interview", 0, ()),
            Rung("accountability", 3, ())),
)


def test_ladder_worked_example(cn: WorkingCalendar) -> None:
    due = town(2020, 10, 13)
    assert moments(cn, LADDER, due, listed=False) == [
        ("reminder", town(2020, 10, 12)),
        ("interview", town(2020, 10, 14)),
        ("accountability", town(2020, 10, 20)),
    ]


def test_ladder_listed_example(cn: WorkingCalendar) -> None:
    due = town(2020, 10, 13)
    assert moments(cn, LADDER, due, listed=True) == [
        ("reminder", town(2020, 10, 12)),
        ("interview", town(2020, 10, 13)),
        ("accountability", town(2020, 10, 16)),
    ]


def test_ladder_across_the_holiday_week(cn: WorkingCalendar) -> None:
    # due at the end of Sep 30: the reminder at the start of Sep 30; the interview at the
    # end of Oct 9, the first working day after the holiday; accountability at the end of
    # the fifth working day after due: Oct 9, 10 (make-up Saturday), 12, 13, 14
    due = town(2020, 10, 1)
    got = dict(moments(cn, LADDER, due, listed=False))
    assert got["reminder"] == town(2020, 9, 30)
    assert got["interview"] == town(2020, 10, 10)
    assert got["accountability"] == town(2020, 10, 15)
