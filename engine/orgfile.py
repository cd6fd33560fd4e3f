"""Read an org file (YAML) into an `Org`, checked whole: one problem refuses all of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.domain.org import Group, Org, Person, Town, Unit
from engine.errors import BadFile, OrgError


def load(path: Path) -> Org:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BadFile(f"{path}: cannot read: {e.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise BadFile(f"{path}: not YAML: {e}") from None
    return parse(raw, str(path))


def parse(raw: Any, source: str = "<org>") -> Org:
    problems: list[str] = []

    def fail() -> OrgError:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return OrgError(f"{source}: {problems[0]}{more}")

    if not isinstance(raw, dict):
        problems.append("expected a mapping with town, units, people, groups")
        raise fail()
    for key in ("town", "units", "people", "groups"):
        if key not in raw:
            problems.append(f"missing {key!r}")
    if problems:
        raise fail()

    def text(d: dict[str, Any], key: str, where: str, required: bool = True) -> str | None:
        value = d.get(key)
        if value is None:
            if required:
                problems.append(f"{where}: missing {key!r}")
            return None
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
            problems.append(f"{where}: {key!r} must be text")
            return None
        return str(value)

    def items(key: str) -> list[dict[str, Any]]:
        value = raw.get(key) or []
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            problems.append(f"{key!r} must be a list of mappings")
            return []
        return value

    t = raw["town"]
    if not isinstance(t, dict):
        problems.append("'town' must be a mapping")
        raise fail()
    tz = text(t, "timezone", "town", required=False) or "Asia/Shanghai"
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(tz)
    except Exception:
        problems.append(f"town: unknown timezone {tz!r}")
    town = Town(
        id=text(t, "id", "town") or "",
        name=text(t, "name", "town") or "",
        timezone=tz,
        party_secretary=text(t, "party_secretary", "town") or "",
    )
    units: dict[str, Unit] = {}
    for i, u in enumerate(items("units")):
        where = f"units[{i}]"
        uid = text(u, "id", where) or ""
        if uid in units or uid == town.id:
            problems.append(f"{where}: duplicate id {uid!r}")
        units[uid] = Unit(
            id=uid,
            name=text(u, "name", where) or "",
            kind=text(u, "kind", where) or "",
            liaison=text(u, "liaison", where, required=False),
            secretary=text(u, "secretary", where, required=False),
        )
    people: dict[str, Person] = {}
    for i, p in enumerate(items("people")):
        where = f"people[{i}]"
        pid = text(p, "id", where) or ""
        if pid in people:
            problems.append(f"{where}: duplicate id {pid!r}")
        people[pid] = Person(
            id=pid,
            name=text(p, "name", where) or "",
            unit=text(p, "unit", where) or "",
            email=text(p, "email", where, required=False),
            mobile=text(p, "mobile", where, required=False),
        )
    groups: dict[str, Group] = {}
    for i, g in enumerate(items("groups")):
        where = f"groups[{i}]"
        gid = text(g, "id", where) or ""
        if gid in groups:
            problems.append(f"{where}: duplicate id {gid!r}")
        members = g.get("members") or []
        if not isinstance(members, list):
            problems.append(f"{where}: 'members' must be a list")
            members = []
        leader = text(g, "leader", where, required=False)
        names = [str(m) for m in members]
        if leader is not None and leader not in names:
            names.insert(0, leader)  # the leader is a member of the group they lead
        if len(set(names)) != len(names):
            problems.append(f"{where}: a member is listed twice")
        groups[gid] = Group(
            id=gid, kind=text(g, "kind", where) or "", leader=leader,
            members=tuple(dict.fromkeys(names)),
        )
    if problems:
        raise fail()
    org = Org(town=town, units=units, people=people, groups=groups)
    problems.extend(org.problems())
    if problems:
        raise fail()
    return org
