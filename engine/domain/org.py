"""The town's organisation, and the roles people hold in it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from engine.domain.campaign import Campaign
from engine.domain.workflow import GROUP_KINDS

UNIT_KINDS = ("village", "community")


@dataclass(frozen=True)
class Town:
    id: str
    name: str
    timezone: str
    party_secretary: str


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    kind: str
    liaison: str | None = None
    secretary: str | None = None
    listed: bool = False
    """Listed for supervision (挂牌督战): its open issues follow the listed ladder."""


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    unit: str
    email: str | None = None
    mobile: str | None = None


@dataclass(frozen=True)
class Group:
    id: str
    kind: str
    leader: str | None
    members: tuple[str, ...]


@dataclass(frozen=True)
class Names:
    """What human output needs of the org: who and where the ids stand for. An id it does not
    hold (a person removed from the org since) is shown as it is."""

    people: Mapping[str, str]
    """person id → name"""
    units: Mapping[str, str]
    """village or community id → name"""
    leaders: Mapping[str, str]
    """group id → its leader's person id"""
    town: str = ""
    campaign: Campaign | None = None
    """The campaign whose countdown human views show (None: no campaign)."""


NO_NAMES = Names({}, {}, {})
"""Before `init`: every id shown as it is."""


@dataclass(frozen=True)
class Org:
    town: Town
    units: Mapping[str, Unit]
    people: Mapping[str, Person]
    groups: Mapping[str, Group]
    campaign: Campaign | None = None
    """The campaign the org file names (engine.domain.campaign), if any."""
    _roles: dict[str, frozenset[str]] = field(default_factory=dict, init=False, repr=False,
                                              compare=False)
    """Each person's town-wide roles, told once (an org is never changed: a new one is made)."""

    def names(self) -> Names:
        """What human output needs of this org (Names)."""
        return Names(people={p.id: p.name for p in self.people.values()},
                     units={u.id: u.name for u in self.units.values()},
                     leaders={g.id: g.leader for g in self.groups.values() if g.leader},
                     town=self.town.name, campaign=self.campaign)

    def problems(self) -> list[str]:
        """Everything the org names that it does not define (empty when sound)."""
        out: list[str] = []
        people, units = self.people, self.units

        def person(ref: str | None, where: str) -> None:
            if ref is not None and ref not in people:
                out.append(f"{where} names unknown person {ref!r}")

        person(self.town.party_secretary, "town.party_secretary")
        if self.campaign is not None:
            out.extend(self.campaign.problems())
        for u in units.values():
            if u.kind not in UNIT_KINDS:
                out.append(f"unit {u.id!r} has unknown kind {u.kind!r} (one of {UNIT_KINDS})")
            person(u.liaison, f"unit {u.id!r} liaison")
            person(u.secretary, f"unit {u.id!r} secretary")
        for p in people.values():
            if p.unit != self.town.id and p.unit not in units:
                out.append(f"person {p.id!r} names unknown unit {p.unit!r}")
        for g in self.groups.values():
            if g.kind not in GROUP_KINDS:
                out.append(f"group {g.id!r} has unknown kind {g.kind!r} (one of {GROUP_KINDS})")
            person(g.leader, f"group {g.id!r} leader")
            for m in g.members:
                person(m, f"group {g.id!r} member")
        return out

    def groups_of(self, person: str) -> list[Group]:
        """The groups a person belongs to (a group's leader is one of its members)."""
        return [g for g in self.groups.values() if person in g.members or g.leader == person]

    def roles_of(self, person: str) -> frozenset[str]:
        """The roles a person holds town-wide."""
        found = self._roles.get(person)
        if found is None:
            found = self._roles[person] = self._roles_of(person)
        return found

    def _roles_of(self, person: str) -> frozenset[str]:
        roles: set[str] = set()
        for g in self.groups_of(person):
            roles.add(g.kind)
            if g.leader == person:
                roles.add(f"{g.kind}_leader")
        if self.town.party_secretary == person:
            roles.add("party_secretary")
        return frozenset(roles)

    def roles_for_issue(self, person: str, village: str, assignee: str | None) -> frozenset[str]:
        """Town-wide roles plus those relative to one issue."""
        roles = set(self.roles_of(person))
        unit = self.units.get(village)
        if unit is not None and unit.liaison == person:
            roles.add("liaison")
        if unit is not None and unit.secretary == person:
            roles.add("village_secretary")
        if assignee is not None and assignee == person:
            roles.add("assignee")
        return frozenset(roles)

    def village_cadre(self, person: str) -> bool:
        """Whether a person belongs to a village (or community), not to the town."""
        found = self.people.get(person)
        return found is not None and found.unit in self.units

    def unled_units(self) -> list[str]:
        """Why units cannot be supervised: each one without a liaison leader or a secretary
        (its interviews would reach nobody)."""
        out = []
        for u in self.units.values():
            missing = [what for what, who in (("liaison leader", u.liaison),
                                              ("secretary", u.secretary)) if not who]
            if missing:
                out.append(f"unit {u.id!r} ({u.name}) has no {' and no '.join(missing)}")
        return out

    def may_add_issues(self, person: str) -> bool:
        return bool(self.groups_of(person)) or self.town.party_secretary == person

    def holders(self, role: str, village: str, assignee: str | None,
                group: str | None = None, added_by: str | None = None) -> list[str]:
        """Who holds a role for an issue of `village` with `assignee` (the inverse of
        `roles_for_issue`): whom a ladder rung or a notice reaches. `finders` are the
        members of the issue's `group`, `added_by` whoever added it."""
        unit = self.units.get(village)
        if role == "assignee":
            return [assignee] if assignee else []
        if role == "finders":
            found = self.groups.get(group or "")
            if found is None:
                return []
            return [*([found.leader] if found.leader else []),
                    *(m for m in found.members if m != found.leader)]
        if role == "added_by":
            return [added_by] if added_by else []
        if role == "village_secretary":
            return [unit.secretary] if unit is not None and unit.secretary else []
        if role == "liaison":
            return [unit.liaison] if unit is not None and unit.liaison else []
        if role == "party_secretary":
            return [self.town.party_secretary] if self.town.party_secretary else []
        if role.endswith("_leader"):
            kind = role[: -len("_leader")]
            return sorted({g.leader for g in self.groups.values()
                           if g.kind == kind and g.leader})
        return sorted({m for g in self.groups.values() if g.kind == role
                       for m in (*g.members, *([g.leader] if g.leader else []))})

    def reach(self, specs: Iterable[str], village: str, assignee: str | None,
              group: str | None = None, added_by: str | None = None,
              known: Mapping[str, Sequence[str]] | None = None) -> tuple[str, ...]:
        """The people a list of role specs reaches, each once, in the order of the specs
        (`a|b`: the holders of a if there are any, else those of b). `known`: roles whose
        holders the caller has found already (a ladder's `owners`, `interviewed`)."""
        out: list[str] = []
        for spec in specs:
            for role in spec.split("|"):
                people = (known[role] if known is not None and role in known
                          else self.holders(role, village, assignee, group, added_by))
                if people:
                    out.extend(p for p in people if p not in out)
                    break
        return tuple(out)
