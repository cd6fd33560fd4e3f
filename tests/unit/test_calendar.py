"""WorkingCalendar on a hand-made CalendarData: the 2020 National Day (Oct 1–8 off, Sun Sep 27
and Sat Oct 10 worked), only 2020 known."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from engine.domain.calendar import CalendarData, WorkingCalendar
from tests.unit.support import NATIONAL_DAY_2020, TZ, town, utc


# --- working days ----------------------------------------------------------------------------
@pytest.mark.parametrize("day", [date(2020, 10, d) for d in range(1, 9)])
def test_national_day_holidays_are_off_even_on_weekdays(calendar: WorkingCalendar,
                                                        day: date) -> None:
    assert calendar.is_working_day(day) is False


@pytest.mark.parametrize(("day", "working"), [
    (date(2020, 9, 26), False),  # an ordinary Saturday
    (date(2020, 9, 27), True),   # Sunday, make-up day
    (date(2020, 9, 30), True),   # Wednesday
    (date(2020, 10, 9), True),   # Friday after the holiday
    (date(2020, 10, 10), True),  # Saturday, make-up day
    (date(2020, 10, 11), False),  # an ordinary Sunday
    (date(2020, 10, 12), True),  # Monday
])
def test_weekends_off_and_make_up_days_on(calendar: WorkingCalendar, day: date,
                                          working: bool) -> None:
    assert calendar.is_working_day(day) is working
    assert calendar.fallback_years == set()


def test_a_make_up_day_wins_over_a_day_off() -> None:
    both = date(2020, 10, 10)
    cal = WorkingCalendar(CalendarData(off_days=frozenset({both}), make_up_days=frozenset({both}),
                                       known_years=frozenset({2020})), TZ)
    assert cal.is_working_day(both) is True


def test_nth_working_day_after_skips_the_holiday(calendar: WorkingCalendar) -> None:
    wed = date(2020, 9, 30)
    assert [calendar.nth_working_day_after(wed, n) for n in (1, 2, 3, 4)] == [
        date(2020, 10, 9), date(2020, 10, 10), date(2020, 10, 12), date(2020, 10, 13)]
    # strictly after: from a working day or from a holiday alike
    assert calendar.nth_working_day_after(date(2020, 10, 9), 1) == date(2020, 10, 10)
    assert calendar.nth_working_day_after(date(2020, 10, 3), 1) == date(2020, 10, 9)
    # the make-up Sunday before the holiday counts
    assert calendar.nth_working_day_after(date(2020, 9, 25), 1) == date(2020, 9, 27)


def test_nth_working_day_before_skips_the_holiday(calendar: WorkingCalendar) -> None:
    assert calendar.nth_working_day_before(date(2020, 10, 9), 1) == date(2020, 9, 30)
    assert calendar.nth_working_day_before(date(2020, 10, 9), 3) == date(2020, 9, 28)
    assert calendar.nth_working_day_before(date(2020, 9, 28), 1) == date(2020, 9, 27)
    assert calendar.nth_working_day_before(date(2020, 10, 12), 1) == date(2020, 10, 10)
    assert calendar.nth_working_day_before(date(2020, 10, 13), 3) == date(2020, 10, 9)


@pytest.mark.parametrize("n", [0, -1])
def test_counting_needs_at_least_one_day(calendar: WorkingCalendar, n: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        calendar.nth_working_day_after(date(2020, 9, 30), n)
    with pytest.raises(ValueError, match="at least 1"):
        calendar.nth_working_day_before(date(2020, 9, 30), n)


@pytest.mark.parametrize(("start", "end", "count"), [
    (date(2020, 9, 30), date(2020, 10, 12), 3),   # Oct 9, 10, 12
    (date(2020, 10, 12), date(2020, 9, 30), -3),  # the other way round: negative
    (date(2020, 9, 30), date(2020, 9, 30), 0),
    (date(2020, 10, 1), date(2020, 10, 8), 0),    # inside the holiday
    (date(2020, 9, 25), date(2020, 9, 28), 2),    # (Fri, Mon]: Sun Sep 27 and Mon Sep 28
    (date(2020, 9, 29), date(2020, 9, 30), 1),    # the end counts, the start does not
])
def test_working_days_between(calendar: WorkingCalendar, start: date, end: date,
                              count: int) -> None:
    assert calendar.working_days_between(start, end) == count


# --- moments ---------------------------------------------------------------------------------
def test_start_and_end_of_a_day_are_town_midnights_in_utc(calendar: WorkingCalendar) -> None:
    start = calendar.start_of(date(2020, 10, 12))
    end = calendar.end_of(date(2020, 10, 12))
    assert start == utc(2020, 10, 11, 16) and start.utcoffset() == timedelta(0)
    assert end == utc(2020, 10, 12, 16) and end.utcoffset() == timedelta(0)
    assert end == town(2020, 10, 13)


def test_local_date_is_the_town_date(calendar: WorkingCalendar) -> None:
    assert calendar.local_date(utc(2020, 9, 30, 15, 30)) == date(2020, 9, 30)
    assert calendar.local_date(utc(2020, 9, 30, 16, 30)) == date(2020, 10, 1)


def test_due_after_the_worked_example(calendar: WorkingCalendar) -> None:
    # entered Wed 2020-09-30 10:00 town time, 3 working days: Oct 9, 10, 12 → end of Oct 12
    due = calendar.due_after(town(2020, 9, 30, 10), 3)
    assert due == town(2020, 10, 13)
    assert due.isoformat() == "2020-10-12T16:00:00+00:00"


def test_due_after_ignores_the_hour_of_entry(calendar: WorkingCalendar) -> None:
    assert calendar.due_after(town(2020, 9, 30, 0, 1), 3) == town(2020, 10, 13)
    assert calendar.due_after(town(2020, 9, 30, 23, 59), 3) == town(2020, 10, 13)


def test_due_after_counts_from_the_town_day_not_the_utc_day(calendar: WorkingCalendar) -> None:
    # 2020-10-08 16:30 UTC is Oct 9 00:30 in town: the next working day is Oct 10
    assert calendar.due_after(utc(2020, 10, 8, 16, 30), 1) == town(2020, 10, 11)
    # 2020-09-30 15:30 UTC is still Sep 30 23:30 in town
    assert calendar.due_after(utc(2020, 9, 30, 15, 30), 1) == town(2020, 10, 10)


@pytest.mark.parametrize(("offset", "moment"), [
    (-1, town(2020, 10, 12)),  # reminder: the start of the last working day before due
    (0, town(2020, 10, 13)),   # interview (listed): the due moment itself
    (1, town(2020, 10, 14)),   # interview: the end of Oct 13
    (3, town(2020, 10, 16)),   # accountability (listed): Oct 13, 14, 15
    (5, town(2020, 10, 20)),   # accountability: Oct 13, 14, 15, 16, 19
    (-3, town(2020, 10, 9)),   # Oct 12, Oct 10 (make-up), Oct 9
])
def test_moment_from_due(calendar: WorkingCalendar, offset: int, moment: datetime) -> None:
    assert calendar.moment_from_due(town(2020, 10, 13), offset) == moment


def test_moment_before_a_due_moment_right_after_the_holiday(calendar: WorkingCalendar) -> None:
    # due at the end of Sep 30 (Oct 1 00:00): the last working day before it is Sep 30
    assert calendar.moment_from_due(town(2020, 10, 1), -1) == town(2020, 9, 30)
    # due at the end of Oct 9: the last working day before is Oct 9 itself, the one before
    # that Sep 30, across the holiday
    assert calendar.moment_from_due(town(2020, 10, 10), -2) == town(2020, 9, 30)


def test_day_of_due_is_the_day_a_midnight_due_moment_starts(calendar: WorkingCalendar) -> None:
    assert calendar.day_of_due(town(2020, 10, 13)) == date(2020, 10, 13)
    assert calendar.day_of_due(town(2020, 10, 13, 9)) == date(2020, 10, 14)


# --- years without data ------------------------------------------------------------------------
def test_outside_known_years_monday_to_friday_and_the_year_is_recorded(
        calendar: WorkingCalendar) -> None:
    # 2021-01-01 is a real holiday, but without data for 2021 a Friday is a working day
    assert calendar.is_working_day(date(2021, 1, 1)) is True
    assert calendar.is_working_day(date(2021, 1, 2)) is False
    assert calendar.fallback_years == {2021}


def test_counting_into_an_unknown_year_records_it(calendar: WorkingCalendar) -> None:
    assert calendar.nth_working_day_after(date(2020, 12, 31), 1) == date(2021, 1, 1)
    assert calendar.fallback_years == {2021}


def test_known_years_record_nothing(calendar: WorkingCalendar) -> None:
    calendar.due_after(town(2020, 9, 30, 10), 3)
    calendar.moment_from_due(town(2020, 10, 13), 5)
    calendar.working_days_between(date(2020, 1, 1), date(2020, 12, 31))
    assert calendar.fallback_years == set()


def test_a_remembered_answer_still_reports_its_fallback_years(calendar: WorkingCalendar) -> None:
    first = calendar.due_after(town(2021, 3, 5, 10), 1)  # Fri → Mon Mar 8 → end of Mar 8
    assert first == town(2021, 3, 9)
    assert calendar.fallback_years == {2021}
    calendar.fallback_years.clear()
    assert calendar.due_after(town(2021, 3, 5, 15), 1) == first  # the same town day: remembered
    assert calendar.fallback_years == {2021}
    calendar.fallback_years.clear()
    assert calendar.moment_from_due(first, 1) == town(2021, 3, 10)
    assert calendar.fallback_years == {2021}
    calendar.fallback_years.clear()
    assert calendar.moment_from_due(first, 1) == town(2021, 3, 10)  # remembered
    assert calendar.fallback_years == {2021}


def test_an_inner_remembered_answer_reports_its_years_to_the_outer_one(
        calendar: WorkingCalendar) -> None:
    assert calendar.nth_working_day_after(date(2020, 12, 31), 1) == date(2021, 1, 1)
    calendar.fallback_years.clear()
    # the ladder moment +1 of a due moment at the end of Dec 31 counts from Dec 31 again
    assert calendar.moment_from_due(town(2021, 1, 1), 1) == town(2021, 1, 2)
    assert calendar.fallback_years == {2021}


def test_a_remembered_answer_does_not_report_years_it_did_not_touch(
        calendar: WorkingCalendar) -> None:
    calendar.due_after(town(2021, 3, 5, 10), 1)
    calendar.due_after(town(2020, 9, 30, 10), 3)
    calendar.fallback_years.clear()
    calendar.due_after(town(2020, 9, 30, 10), 3)
    assert calendar.fallback_years == set()


def test_remember_computes_once_per_key(calendar: WorkingCalendar) -> None:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return 42

    assert calendar.remember(("k", 1), compute) == 42
    assert calendar.remember(("k", 1), compute) == 42
    assert calendar.remember(("k", 2), compute) == 42
    assert len(calls) == 2


# --- the data --------------------------------------------------------------------------------
def test_adjusted_local_days_win_over_the_national_data() -> None:
    local = NATIONAL_DAY_2020.adjusted(off=[date(2020, 10, 9), date(2020, 10, 10)],
                                       work=[date(2020, 10, 3)], years=[2021])
    assert local.off_days == (frozenset(date(2020, 10, d) for d in (1, 2, 4, 5, 6, 7, 8, 9, 10)))
    assert local.make_up_days == frozenset({date(2020, 9, 27), date(2020, 10, 3)})
    assert local.known_years == frozenset({2020, 2021})
    # the national data is left as it was
    assert date(2020, 10, 10) in NATIONAL_DAY_2020.make_up_days
    assert NATIONAL_DAY_2020.known_years == frozenset({2020})


def test_an_adjusted_calendar_counts_the_local_days() -> None:
    cal = WorkingCalendar(NATIONAL_DAY_2020.adjusted(off=[date(2020, 10, 9)],
                                                     work=[date(2020, 10, 3)]), TZ)
    # after Sep 30: Oct 3 (local work day), Oct 10 (make-up), Oct 12; Oct 9 now off
    assert cal.due_after(town(2020, 9, 30, 10), 3) == town(2020, 10, 13)
    assert cal.due_after(town(2020, 9, 30, 10), 1) == town(2020, 10, 4)
    assert cal.is_working_day(date(2020, 10, 9)) is False


def test_adjusting_with_nothing_gives_equal_data() -> None:
    assert NATIONAL_DAY_2020.adjusted() == NATIONAL_DAY_2020


def test_to_json_is_sorted_text() -> None:
    text = NATIONAL_DAY_2020.to_json()
    assert json.loads(text) == {
        "off": [f"2020-10-0{d}" for d in range(1, 9)],
        "work": ["2020-09-27", "2020-10-10"],
        "years": [2020],
    }
    assert text == ('{"off": ["2020-10-01", "2020-10-02", "2020-10-03", "2020-10-04",'
                    ' "2020-10-05", "2020-10-06", "2020-10-07", "2020-10-08"],'
                    ' "work": ["2020-09-27", "2020-10-10"], "years": [2020]}')
    # equal data built in another order give the same text
    shuffled = CalendarData(off_days=frozenset(sorted(NATIONAL_DAY_2020.off_days, reverse=True)),
                            make_up_days=frozenset({date(2020, 10, 10), date(2020, 9, 27)}),
                            known_years=frozenset({2020}))
    assert shuffled.to_json() == text


@pytest.mark.parametrize("data", [
    NATIONAL_DAY_2020,
    CalendarData(),
    NATIONAL_DAY_2020.adjusted(off=[date(2021, 2, 11)], years=[2021, 2019]),
])
def test_json_round_trip(data: CalendarData) -> None:
    assert CalendarData.from_json(data.to_json()) == data
