"""The Chinese working calendar, from the `holidays` package plus a town's own adjustments.

Used by `rectify init` only: the days are written to the database (table calendar_days) so
that everyday commands build their calendar without importing `holidays`.

A year counts as known when the package has its make-up working days (调休); other years fall
back to Monday to Friday, with a warning. A town may adjust the calendar with a YAML file:

    holidays: [2026-06-01]          # extra days off
    workdays: [2026-06-07]          # extra working days (a local make-up day)
    years: [2027]                   # years the file completes (no fallback warning)

The file is checked whole: every unknown key, value that is no date or year, and day given
as both a holiday and a workday is reported at its line in one `BadFile` (exit 2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from engine.config.source import kind_of, none_is_empty, plain, read_text, validated
from engine.domain.calendar import CalendarData
from engine.errors import BadFile

FIRST_YEAR = 2001
YEARS = range(1901, 2200)
"""The years a file may name: a guard against a slip of the keyboard such as 20277."""

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def national(years: Iterable[int]) -> CalendarData:
    """Public holidays and make-up working days of the People's Republic of China."""
    import holidays

    wanted = sorted(set(years))
    cn = holidays.country_holidays("CN", years=wanted)
    make_up = frozenset(d for d in cn.weekend_workdays if d.year in wanted)
    known = frozenset(d.year for d in make_up)
    off = frozenset(d for d in cn if d.year in known)
    return CalendarData(off_days=off, make_up_days=make_up, known_years=known)


def build(last_year: int, adjustments: dict[str, list[Any]] | None) -> CalendarData:
    """The national calendar from FIRST_YEAR to `last_year`, with a town's adjustments."""
    data = national(range(FIRST_YEAR, last_year + 1))
    if adjustments:
        data = data.adjusted(
            off=(date.fromisoformat(d) for d in adjustments["holidays"]),
            work=(date.fromisoformat(d) for d in adjustments["workdays"]),
            years=adjustments["years"],
        )
    return data


def _day(value: Any) -> date:
    """A day written YYYY-MM-DD (YAML reads it as a date; quoted, it is text), in YEARS."""
    day: date
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _ISO_DAY.fullmatch(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError as e:
            raise ValueError(f"not a date: {value.strip()} ({e})") from None
    else:
        raise ValueError(f"not a date: {kind_of(value)} (use YYYY-MM-DD)")
    if day.year not in YEARS:
        raise ValueError(f"{day} is out of range (years {YEARS[0]} to {YEARS[-1]})")
    return day


def _year(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in YEARS:
        raise ValueError(f"not a year: {kind_of(value)} (one from {YEARS[0]} to {YEARS[-1]})")
    return value


Day = Annotated[date, BeforeValidator(_day)]
Year = Annotated[int, BeforeValidator(_year)]


class Adjustments(BaseModel):
    """A town's adjustments file; each key may be left out or blank."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    holidays: Annotated[list[Day], BeforeValidator(none_is_empty)] = []
    workdays: Annotated[list[Day], BeforeValidator(none_is_empty)] = []
    years: Annotated[list[Year], BeforeValidator(none_is_empty)] = []


def local_adjustments(path: str | Path) -> dict[str, list[Any]]:
    """The adjustments in the file at `path`: {"holidays": [ISO dates], "workdays": [ISO
    dates], "years": [ints]}; an empty file adjusts nothing. BadFile (exit 2) names every
    problem at its line."""
    return parse(read_text(path, BadFile), str(path))


def parse(text: str, source: str = "<holidays>") -> dict[str, list[Any]]:
    """The adjustments written in `text`; `source` names the file in messages."""
    model, problems = validated(text, source, Adjustments, BadFile,
                                "expected a mapping with holidays, workdays, years", plain,
                                blank={})
    holidays = {day: i for i, day in reversed(list(enumerate(model.holidays)))}
    for j, day in enumerate(model.workdays):
        if day in holidays:
            first = problems.line(("holidays", holidays[day]))
            problems.add(
                ("workdays", j), f"{day} is both a holiday (line {first}) and a workday"
            )
    problems.raise_if_any(BadFile)
    return {
        "holidays": [d.isoformat() for d in model.holidays],
        "workdays": [d.isoformat() for d in model.workdays],
        "years": list(model.years),
    }
