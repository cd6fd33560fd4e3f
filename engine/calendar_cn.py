"""The Chinese working calendar, from the `holidays` package plus local adjustments.

Used by `rectify init` only: the days are written to the database (table calendar_days) so
that everyday commands build their calendar without importing `holidays`.

A year counts as known when the package has its make-up working days (调休); other years fall
back to Monday to Friday, with a warning. A town may adjust the calendar with a YAML file:

    holidays: [2026-06-01]          # extra days off
    workdays: [2026-06-07]          # extra working days (a local make-up day)
    years: [2027]                   # years the file completes (no fallback warning)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from engine.domain.calendar import CalendarData
from engine.errors import BadFile

FIRST_YEAR = 2001


def national(years: Iterable[int]) -> CalendarData:
    """Public holidays and make-up working days of the People's Republic of China."""
    import holidays

    wanted = sorted(set(years))
    cn = holidays.country_holidays("CN", years=wanted)
    make_up = frozenset(d for d in cn.weekend_workdays if d.year in wanted)
    known = frozenset(d.year for d in make_up)
    off = frozenset(d for d in cn if d.year in known)
    return CalendarData(off_days=off, make_up_days=make_up, known_years=known)


def local_adjustments(path: Path) -> dict[str, list[Any]]:
    """Read a local adjustments file; BadFile (exit 2) names what is wrong."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise BadFile(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise BadFile(f"{path}: not YAML: {e}") from None
    if not isinstance(raw, dict):
        raise BadFile(f"{path}: expected a mapping with holidays, workdays, years")
    unknown = set(raw) - {"holidays", "workdays", "years"}
    if unknown:
        raise BadFile(f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    out: dict[str, list[Any]] = {"holidays": [], "workdays": [], "years": []}
    for key in ("holidays", "workdays"):
        for item in raw.get(key) or []:
            day = _day(item)
            if day is None:
                raise BadFile(f"{path}: {key}: not a date: {item!r} (use YYYY-MM-DD)")
            out[key].append(day.isoformat())
    for item in raw.get("years") or []:
        if not isinstance(item, int) or not 1900 < item < 2200:
            raise BadFile(f"{path}: years: not a year: {item!r}")
        out["years"].append(item)
    clash = set(out["holidays"]) & set(out["workdays"])
    if clash:
        raise BadFile(f"{path}: both a holiday and a workday: {', '.join(sorted(clash))}")
    return out


def _day(item: Any) -> date | None:
    if isinstance(item, date):
        return item
    try:
        return date.fromisoformat(str(item))
    except ValueError:
        return None


def build(last_year: int, adjustments: dict[str, list[Any]] | None) -> CalendarData:
    data = national(range(FIRST_YEAR, last_year + 1))
    if adjustments:
        data = data.adjusted(
            off=(date.fromisoformat(d) for d in adjustments["holidays"]),
            work=(date.fromisoformat(d) for d in adjustments["workdays"]),
            years=adjustments["years"],
        )
    return data
