"""A ledger cell's value as offices write it: text, yes/no (是/否), dates (an Excel date, or
2020-09-29, 2020/9/29, 2020年9月29日, 9月29日 in the default year), and names or labels for
ids (a village or person by name or id, a category, stage or severity by its label or id).

Pure: every function takes what it needs and raises the domain's errors (BadOption: the value
cannot be read, exit 2; NotFound and Refused: nothing of that name, or more than one)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TypeVar

from engine.domain.org import Org
from engine.errors import BadOption, NotFound, RectifyError, Refused

T = TypeVar("T")

Cell = str | int | float | bool | datetime | date | time | None
"""What a sheet's cell holds (openpyxl's values; a CSV cell is text)."""

YES = frozenset({"1", "true", "yes", "y", "是", "x", "✓", "√", "挂牌"})
NO = frozenset({"", "0", "false", "no", "n", "否", "×"})

_DAY = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*日?")
_CLOCK = re.compile(r"(?:[ T]+|\s*)(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?")
DATE_FORMS = "2020-09-29, 2020/9/29, 2020年9月29日 or 9月29日"


def default_year(org: Org, now: datetime) -> int:
    """The year of a date written without one (9月29日): the campaign's (the year it starts)
    when the org names one, else the year of `now` (town time)."""
    return org.campaign.start.year if org.campaign is not None else now.year


def year_turns(org: Org) -> tuple[int, int] | None:
    """(month, day) of the campaign's start when it runs into the next year: a date written
    without a year before that day of the year is in the year the campaign ends."""
    c = org.campaign
    if c is None or c.end.year == c.start.year:
        return None
    return c.start.month, c.start.day


def text(cell: Cell) -> str | None:
    """A cell as text, stripped; None when empty. A whole number is written without '.0'."""
    if cell is None:
        return None
    if isinstance(cell, str):
        return cell.strip() or None
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime) and cell.time() == time(0):
        return cell.date().isoformat()
    return str(cell).strip() or None


REMEMBERED_MOST = 10_000
"""How many distinct texts a remembering reader keeps (more are read each time)."""


def remembered(read: Callable[[Cell], T]) -> Callable[[Cell], T]:
    """`read`, asked once per distinct text cell: its value, or the error it raised, kept for
    the next cell of the same text (a ledger names a few villages, categories, severities and
    dates a hundred thousand times). `read` must depend on the cell alone; a cell that is not
    text (a workbook's number, date or flag) is read each time."""
    kept: dict[str, T | RectifyError] = {}

    def again(cell: Cell) -> T:
        if type(cell) is not str:
            return read(cell)
        if cell in kept:
            found = kept[cell]
        else:
            try:
                found = read(cell)
            except RectifyError as e:
                found = e
            if len(kept) < REMEMBERED_MOST:
                kept[cell] = found
        if isinstance(found, RectifyError):
            raise found.with_traceback(None)
        return found

    return again


def yes_no(cell: Cell) -> bool:
    if isinstance(cell, bool):
        return cell
    value = (text(cell) or "").lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise BadOption("not yes or no (是/否)")


@dataclass(frozen=True)
class Dates:
    """Reads dates and times: a date without a year is in `year`; every year must lie in
    `first`–`last` (the years the program keeps)."""

    year: int
    first: int
    last: int
    turns: tuple[int, int] | None = None
    """A month-day before this is in the next year (a campaign across New Year)."""

    def _checked(self, day: date) -> date:
        if not self.first <= day.year <= self.last:
            raise BadOption(f"out of range (years {self.first} to {self.last})")
        return day

    def _day_text(self, value: str) -> tuple[date, str] | None:
        """A date at the start of `value` in one of the written forms, and what follows."""
        try:
            if m := _DAY.match(value):
                return date(int(m[1]), int(m[2]), int(m[3])), value[m.end():]
            if m := _MONTH_DAY.match(value):
                month, day = int(m[1]), int(m[2])
                later = self.turns is not None and (month, day) < self.turns
                return date(self.year + later, month, day), value[m.end():]
        except ValueError:
            raise BadOption(f"no such day ({DATE_FORMS})") from None
        return None

    def day(self, cell: Cell) -> date:
        """A date: an Excel date cell or one of DATE_FORMS (or YYYYMMDD)."""
        if isinstance(cell, datetime):
            return self._checked(cell.date())
        if isinstance(cell, date):
            return self._checked(cell)
        value = text(cell) or ""
        found = self._day_text(value)
        if found is not None and not found[1].strip():
            return self._checked(found[0])
        try:
            return self._checked(date.fromisoformat(value))
        except ValueError:
            raise BadOption(f"not a date ({DATE_FORMS})") from None

    def moment(self, cell: Cell) -> datetime:
        """A time: an Excel date cell, a date form (its start) with an optional HH:MM[:SS],
        or ISO 8601 (an offset kept; without one the result is naive: town time)."""
        if isinstance(cell, datetime):
            self._checked(cell.date())
            return cell
        if isinstance(cell, date):
            return datetime.combine(self._checked(cell), time(0))
        value = text(cell) or ""
        found = self._day_text(value)
        if found is not None:
            day, rest = found
            if not rest.strip():
                return datetime.combine(self._checked(day), time(0))
            if m := _CLOCK.fullmatch(rest):
                try:
                    at = time(int(m[1]), int(m[2]), int(m[3] or 0))
                except ValueError:
                    raise BadOption("no such time of day") from None
                return datetime.combine(self._checked(day), at)
        try:
            given = datetime.fromisoformat(value)
        except ValueError:
            raise BadOption(f"not a time ({DATE_FORMS}, with HH:MM if wanted)") from None
        self._checked(given.date())
        return given


@dataclass(frozen=True)
class Lookup:
    """Ids by id or by name: `what` names the kind in messages ('village', 'person')."""

    what: str
    ids: frozenset[str]
    by_name: Mapping[str, tuple[str, ...]]
    shown: Mapping[str, str]
    """An id → how a candidate is named when a name is ambiguous."""

    @classmethod
    def of(cls, what: str, named: Iterable[tuple[str, str, str]]) -> Lookup:
        """From (id, name, how the candidate is shown) triples."""
        ids: set[str] = set()
        by_name: dict[str, list[str]] = {}
        shown: dict[str, str] = {}
        for key, name, told in named:
            ids.add(key)
            by_name.setdefault("".join(name.split()), []).append(key)
            shown[key] = told
        return cls(what, frozenset(ids),
                   {k: tuple(sorted(v)) for k, v in by_name.items()}, shown)

    def find(self, value: str) -> str:
        """The id `value` is, or names: refused when none or more than one."""
        if value in self.ids:
            return value
        found = self.by_name.get("".join(value.split()), ())
        if len(found) == 1:
            return found[0]
        if not found:
            raise NotFound(f"no {self.what} of that id or name")
        raise Refused(f"{len(found)} of that name: "
                      f"{', '.join(self.shown[k] for k in found)} (give the id)")


def villages(org: Org) -> Lookup:
    return Lookup.of("village", ((u.id, u.name, f"{u.name} ({u.id})")
                                 for u in org.units.values()))


def people(org: Org) -> Lookup:
    units, town = org.units, org.town

    def told(pid: str, name: str, unit: str) -> str:
        where = units[unit].name if unit in units else town.name if unit == town.id else unit
        return f"{name} ({pid}, {where})"

    return Lookup.of("person", ((p.id, p.name, told(p.id, p.name, p.unit))
                                for p in org.people.values()))


def groups(org: Org) -> Lookup:
    """Groups by id, by the form `g07（组长王某）` people read, or by their leader's name."""
    people_ = org.people
    named = []
    for g in org.groups.values():
        leader = people_[g.leader].name if g.leader is not None and g.leader in people_ else ""
        named.append((g.id, leader, f"{g.id}（组长{leader}）" if leader else g.id))
    return Lookup.of("group", named)


def group_id(lookup: Lookup, value: str) -> str:
    """A group as written: its id, `id（组长…）` or its leader's name."""
    if value not in lookup.ids:
        head = re.split(r"[（(]", value, maxsplit=1)[0].strip()
        if head in lookup.ids:
            return head
    return lookup.find(value)


@dataclass(frozen=True)
class Choice:
    """A fixed list of ids (categories, stages, severities) written by id or label."""

    what: str
    ids: tuple[str, ...]
    by_label: Mapping[str, str]

    @classmethod
    def of(cls, what: str, ids: Iterable[str],
           labels: Iterable[Mapping[str, str]]) -> Choice:
        """`labels`: tables id → label (one per language); an id not in `ids` is skipped."""
        kept = tuple(ids)
        by_label: dict[str, str] = {}
        for table in labels:
            for key, label in table.items():
                if key in kept:
                    by_label.setdefault("".join(label.split()).casefold(), key)
        for key in kept:
            by_label["".join(key.split()).casefold()] = key
        return cls(what, kept, by_label)

    def find(self, value: str) -> str:
        found = self.by_label.get("".join(value.split()).casefold())
        if found is None:
            first: dict[str, str] = {}
            for label, key in self.by_label.items():
                first.setdefault(key, label)
            raise BadOption(f"no {self.what} of that name (one of"
                            f" {', '.join(first[k] for k in self.ids if k in first)})")
        return found
