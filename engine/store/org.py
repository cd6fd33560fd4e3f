"""The town's organisation: town, units, people, groups (and the listing of villages), and the
campaign (kept as JSON in meta under CAMPAIGN_KEY)."""

from __future__ import annotations

import json

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import OperationalError, ProgrammingError

from engine.domain.campaign import Campaign
from engine.domain.org import NO_NAMES, Group, Names, Org, Person, Town, Unit
from engine.errors import NotInitialized
from engine.store import tables as t
from engine.store.repository import Repository

CAMPAIGN_KEY = "campaign"
"""The meta row holding the org's campaign (absent: none)."""
NOT_INITIALIZED = (
    "the database has no org yet or an older schema: run `rectify init --org FILE`"
)


class OrgRepository(Repository):
    def load(self) -> Org:
        try:
            town_row = self.conn.execute(select(t.town)).first()
        except (OperationalError, ProgrammingError):
            town_row = None
        if town_row is None:
            raise NotInitialized(NOT_INITIALIZED)
        members: dict[str, list[str]] = {}
        gm = t.group_members.c
        for g, p in self.conn.execute(select(gm.group_id, gm.person_id)):
            members.setdefault(g, []).append(p)
        return Org(
            town=Town(*town_row),
            units={r.id: Unit(r.id, r.name, r.kind, r.liaison, r.secretary, bool(r.listed))
                   for r in self.conn.execute(select(t.units))},
            people={r.id: Person(r.id, r.name, r.unit, r.email, r.mobile)
                    for r in self.conn.execute(select(t.people))},
            groups={r.id: Group(r.id, r.kind, r.leader, tuple(sorted(members.get(r.id, []))))
                    for r in self.conn.execute(select(t.groups))},
            campaign=self.campaign(),
        )

    def campaign(self) -> Campaign | None:
        """The campaign the org file named (None: none, or a database from before)."""
        try:
            value = self.conn.execute(
                select(t.meta.c.value).where(t.meta.c.key == CAMPAIGN_KEY)).scalar()
        except (OperationalError, ProgrammingError):
            return None
        return Campaign.from_dict(json.loads(value)) if value else None

    def names(self) -> Names:
        """The names of people and units and the groups' leaders (NO_NAMES before `init`)."""
        try:
            town = self.conn.execute(select(t.town.c.name)).scalar()
        except (OperationalError, ProgrammingError):
            return NO_NAMES
        return Names(
            people={r[0]: r[1] for r in self.conn.execute(select(t.people.c.id,
                                                                   t.people.c.name))},
            units={r[0]: r[1] for r in self.conn.execute(select(t.units.c.id, t.units.c.name))},
            leaders={g: p for g, p in self.conn.execute(select(t.groups.c.id, t.groups.c.leader))
                     if p},
            town=str(town or ""), campaign=self.campaign())

    def timezone(self) -> str | None:
        """The town's time zone name (None before `init`)."""
        row = self.conn.execute(select(t.town.c.timezone)).first()
        return None if row is None else str(row[0])

    def replace(self, org: Org) -> None:
        """Load an org; a village's listing (挂牌督战) is the town's decision, kept across
        loads."""
        listed = {r[0] for r in self.conn.execute(select(t.units.c.id).where(t.units.c.listed))}
        for table in (t.group_members, t.groups, t.people, t.units, t.town):
            self.conn.execute(delete(table))
        self.conn.execute(delete(t.meta).where(t.meta.c.key == CAMPAIGN_KEY))
        if org.campaign is not None:
            self.conn.execute(insert(t.meta).values(
                key=CAMPAIGN_KEY, value=json.dumps(org.campaign.to_dict(), ensure_ascii=False)))
        tw = org.town
        self.conn.execute(insert(t.town).values(
            id=tw.id, name=tw.name, timezone=tw.timezone, party_secretary=tw.party_secretary))
        if org.units:
            self.conn.execute(insert(t.units), [
                {**u.__dict__, "listed": u.id in listed} for u in org.units.values()])
        if org.people:
            self.conn.execute(insert(t.people), [p.__dict__ for p in org.people.values()])
        if org.groups:
            self.conn.execute(insert(t.groups), [
                {"id": g.id, "kind": g.kind, "leader": g.leader} for g in org.groups.values()])
            rows = [{"group_id": g.id, "person_id": m}
                    for g in org.groups.values() for m in g.members]
            if rows:
                self.conn.execute(insert(t.group_members), rows)

    def set_village_listed(self, village: str, listed: bool) -> None:
        self.conn.execute(update(t.units).where(t.units.c.id == village).values(listed=listed))
