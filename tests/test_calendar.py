"""Working days and deadlines, docs/domain.md's worked examples included; a town's holidays file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.config.holidays import build, local_adjustments, national
from engine.domain.calendar import CalendarData, WorkingCalendar
from engine.domain.ladder import Ladder, Rung, moments
from engine.errors import BadFile
from tests.support import one_line_refusal

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


# --- the holidays file -----------------------------------------------------------------------
def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> str:
    return one_line_refusal(BadFile, lambda: local_adjustments(path))


def test_a_holidays_file_gives_its_days_and_years(tmp_path: Path) -> None:
    path = write(tmp_path / "local.yaml", """\
# 2027: the county's own days
holidays: [2027-01-01, 2027-02-05]   # extra days off
workdays:
  - 2027-02-14                       # a Sunday made a working day
  - "2027-02-20"
years: [2027]
""")
    assert local_adjustments(path) == {
        "holidays": ["2027-01-01", "2027-02-05"],
        "workdays": ["2027-02-14", "2027-02-20"],
        "years": [2027],
    }


def test_an_empty_holidays_file_adjusts_nothing(tmp_path: Path) -> None:
    nothing: dict[str, list[object]] = {"holidays": [], "workdays": [], "years": []}
    for text in ("", "# nothing this year\n", "holidays:\nworkdays: []\n"):
        assert local_adjustments(write(tmp_path / "local.yaml", text)) == nothing


def test_the_adjustments_reach_the_calendar(tmp_path: Path) -> None:
    path = write(tmp_path / "local.yaml",
                 "holidays: [2027-02-05]\nworkdays: [2027-02-14]\nyears: [2027]\n")
    cal = WorkingCalendar(build(2027, local_adjustments(path)), TZ)
    assert not cal.is_working_day(date(2027, 2, 5))  # a Friday made a day off
    assert cal.is_working_day(date(2027, 2, 14))  # a Sunday made a working day
    assert cal.is_working_day(date(2020, 10, 10))  # the national make-up days are still there
    assert 2027 not in cal.fallback_years


def test_each_problem_of_a_holidays_file_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "local.yaml", """\
holidays:
  - 2027-01-01
  - 2020-02-30
  - 2027/02/05
workdays: 2027-02-14
years: [2027, 1800, "2028"]
weekends: [2027-02-06]
""")
    assert refused(path) == (
        f"{path}:3: holidays[1]: not a date: 2020-02-30 (day is out of range for month) "
        f"(and 5 more: "
        f"{path}:4: holidays[2]: not a date: '2027/02/05' (use YYYY-MM-DD); "
        f"{path}:5: workdays: expected a list, not the date 2027-02-14; "
        f"{path}:6: years[1]: not a year: the number 1800 (one from 1901 to 2199); "
        f"{path}:6: years[2]: not a year: '2028' (one from 1901 to 2199); "
        f"{path}:7: unknown key 'weekends')"
    )


def test_a_day_both_off_and_on_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "local.yaml", """\
holidays: [2027-02-05, 2027-02-06]
workdays:
  - 2027-02-14
  - 2027-02-06
""")
    assert refused(path) == f"{path}:4: 2027-02-06 is both a holiday (line 1) and a workday"


def test_a_holidays_file_that_cannot_be_read(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert refused(missing).startswith(f"{missing}: cannot read: ")
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("# 春节\nholidays: [2027-02-05]\n".encode("gbk"))
    assert refused(gbk) == f"{gbk}: not UTF-8 text (line 1, byte 0xb4; save it as UTF-8)"
    bad = write(tmp_path / "bad.yaml", "holidays: [2027-02-05\n")
    assert refused(bad).startswith(f"{bad}:2: not valid YAML: ")
    listed = write(tmp_path / "list.yaml", "- 2027-02-05\n")
    assert refused(listed) == f"{listed}:1: expected a mapping with holidays, workdays, years"
