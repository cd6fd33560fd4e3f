"""Read a town's org file (YAML) into an `Org`, checked whole: one problem refuses all of it.

    town: {id: huangjia, name: 黄家镇, timezone: Asia/Shanghai, party_secretary: wang}
    units:  [{id: v-shiban, name: 石板村, kind: village, liaison: liu, secretary: chen}]
    people: [{id: wang, name: 王书记, unit: huangjia, email: …, mobile: "138…"}]
    groups: [{id: sa-01, kind: self_assessment, leader: sa1, members: [sa1, sa2]}]
    campaign: {name: 百日大会战, start: 2020-09-28, end: 2021-01-05}     # optional

The shape (keys, kinds of values, the time zone) is checked by pydantic; then ids must be
unique, a member may be listed once, and every person, unit and kind named must exist. Every
problem found is reported at its line in one `OrgError` (exit 2). A campaign's days are dates
(YYYY-MM-DD, 1970–2199) and its end is not before its start.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict

from engine.config.source import (
    Problems,
    Where,
    kind_of,
    none_is_empty,
    place,
    plain,
    read_text,
    validated,
)
from engine.domain.campaign import Campaign
from engine.domain.org import UNIT_KINDS, Group, Org, Person, Town, Unit
from engine.domain.workflow import GROUP_KINDS
from engine.errors import OrgError

DEFAULT_TIMEZONE = "Asia/Shanghai"


def _text(value: Any) -> str:
    """An id or a name: text, or a whole number written without quotes (`mobile: 138…`)."""
    if isinstance(value, bool):  # YAML reads a bare yes, no, on, off as true or false
        raise ValueError(f"must be text, not {kind_of(value)} (put it in quotes)")
    if not isinstance(value, str | int):
        raise ValueError(f"must be text, not {kind_of(value)}")
    text = str(value)
    if not text.strip():
        raise ValueError("must not be empty")
    return text


def _zone(value: Any) -> str:
    """A time zone of the tz database; none given means the default."""
    if value is None:
        return DEFAULT_TIMEZONE
    zone = _text(value)
    try:
        ZoneInfo(zone)
    except Exception:  # not found, a directory, a path: each means the zone is unknown
        raise ValueError(f"unknown timezone {zone!r}") from None
    return zone


def _day(value: Any) -> date:
    """A day written YYYY-MM-DD (YAML reads it as a date; quoted, it is text)."""
    day: date
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not a date: {value.strip()!r} (use YYYY-MM-DD)") from None
    else:
        raise ValueError(f"not a date: {kind_of(value)} (use YYYY-MM-DD)")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"{day} is out of range (years {FIRST_YEAR} to {LAST_YEAR})")
    return day


FIRST_YEAR, LAST_YEAR = 1970, 2199
"""The years a campaign's days may fall in (as every date the program takes)."""
Text = Annotated[str, BeforeValidator(_text)]
Day = Annotated[date, BeforeValidator(_day)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TownModel(_Strict):
    id: Text
    name: Text
    timezone: Annotated[str, BeforeValidator(_zone)] = DEFAULT_TIMEZONE
    party_secretary: Text


class UnitModel(_Strict):
    id: Text
    name: Text
    kind: Text
    liaison: Text | None = None
    secretary: Text | None = None


class PersonModel(_Strict):
    id: Text
    name: Text
    unit: Text
    email: Text | None = None
    mobile: Text | None = None


class GroupModel(_Strict):
    id: Text
    kind: Text
    leader: Text | None = None
    members: Annotated[list[Text], BeforeValidator(none_is_empty)] = []


class CampaignModel(_Strict):
    name: Text
    start: Day
    end: Day


class OrgModel(_Strict):
    """The whole file. Each list must be there; an empty one may be left blank; the campaign
    may be left out."""

    town: TownModel
    units: Annotated[list[UnitModel], BeforeValidator(none_is_empty)]
    people: Annotated[list[PersonModel], BeforeValidator(none_is_empty)]
    groups: Annotated[list[GroupModel], BeforeValidator(none_is_empty)]
    campaign: CampaignModel | None = None


def load(path: str | Path) -> Org:
    """The org in the file at `path`; OrgError (exit 2) naming every problem at its line."""
    return parse(read_text(path, OrgError), str(path))


def parse(text: str, source: str = "<org>") -> Org:
    """The org written in `text`; `source` names the file in messages."""
    model, problems = validated(text, source, OrgModel, OrgError,
                                "expected a mapping with town, units, people, groups", plain)
    _check(model, problems)
    problems.raise_if_any(OrgError)
    org = _to_domain(model)
    for problem in org.problems():  # a rule of the org not checked above, without a line
        problems.add((), problem)
    problems.raise_if_any(OrgError)
    return org


def _check(m: OrgModel, problems: Problems) -> None:
    """Unique ids, members listed once, and every person, unit and kind named exists."""
    units = _unique(problems, "units", [u.id for u in m.units], {m.town.id: ("town", "id")})
    people = _unique(problems, "people", [p.id for p in m.people], {})
    _unique(problems, "groups", [g.id for g in m.groups], {})

    def person(ref: str | None, where: Where, who: str) -> None:
        if ref is not None and ref not in people:
            problems.add(where, f"{who} names unknown person {ref!r}")

    person(m.town.party_secretary, ("town", "party_secretary"), "town.party_secretary")
    c = m.campaign
    if c is not None and c.end < c.start:
        problems.add(("campaign", "end"), f"campaign end {c.end} is before its start {c.start}")
    for i, u in enumerate(m.units):
        if u.kind not in UNIT_KINDS:
            problems.add(
                ("units", i, "kind"),
                f"unit {u.id!r} has unknown kind {u.kind!r} (one of {', '.join(UNIT_KINDS)})",
            )
        person(u.liaison, ("units", i, "liaison"), f"unit {u.id!r} liaison")
        person(u.secretary, ("units", i, "secretary"), f"unit {u.id!r} secretary")
    for i, p in enumerate(m.people):
        if p.unit != m.town.id and p.unit not in units:
            problems.add(("people", i, "unit"), f"person {p.id!r} names unknown unit {p.unit!r}")
    for i, g in enumerate(m.groups):
        if g.kind not in GROUP_KINDS:
            problems.add(
                ("groups", i, "kind"),
                f"group {g.id!r} has unknown kind {g.kind!r} (one of {', '.join(GROUP_KINDS)})",
            )
        person(g.leader, ("groups", i, "leader"), f"group {g.id!r} leader")
        listed: set[str] = set()
        for j, member in enumerate(g.members):
            if member in listed:
                problems.add(
                    ("groups", i, "members", j),
                    f"group {g.id!r}: member {member!r} is listed twice",
                )
                continue
            listed.add(member)
            person(member, ("groups", i, "members", j), f"group {g.id!r} member")


def _unique(
    problems: Problems, key: str, ids: list[str], taken: dict[str, Where]
) -> dict[str, Where]:
    """Each id of the list `key` with its place; a repeated id (or one in `taken`) refused."""
    seen = dict(taken)
    for i, id_ in enumerate(ids):
        where: Where = (key, i, "id")
        if id_ in seen:
            first = problems.line(seen[id_])
            problems.add(where, f"{place((key, i))}: duplicate id {id_!r} (first at line {first})")
        else:
            seen[id_] = where
    return seen


def _to_domain(m: OrgModel) -> Org:
    def members(g: GroupModel) -> tuple[str, ...]:
        names = list(g.members)
        if g.leader is not None and g.leader not in names:
            names.insert(0, g.leader)  # the leader is a member of the group they lead
        return tuple(dict.fromkeys(names))

    t = m.town
    return Org(
        town=Town(id=t.id, name=t.name, timezone=t.timezone, party_secretary=t.party_secretary),
        units={
            u.id: Unit(id=u.id, name=u.name, kind=u.kind, liaison=u.liaison,
                       secretary=u.secretary)
            for u in m.units
        },
        people={
            p.id: Person(id=p.id, name=p.name, unit=p.unit, email=p.email, mobile=p.mobile)
            for p in m.people
        },
        groups={
            g.id: Group(id=g.id, kind=g.kind, leader=g.leader, members=members(g))
            for g in m.groups
        },
        campaign=(None if m.campaign is None
                  else Campaign(m.campaign.name, m.campaign.start, m.campaign.end)),
    )
