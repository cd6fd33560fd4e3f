"""The configuration under the chain: the org, the workflow versions, the working calendar and
the database's mode (live or drill), each recorded as a town event when `init` (or a listing)
installs it, so that the history alone says which rules were in force when.

Town events belong to no issue: they are stored with `issue_id` TOWN (0), numbered by their own
versions. Each carries the canonical body it installed and that body's SHA-256; the tables the
commands read (org, workflows, calendars, calendar days, meta) are copies that `audit verify`
checks against it. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.domain.calendar import CalendarData
from engine.domain.campaign import Campaign
from engine.domain.clock_rules import LIVE, MODES
from engine.domain.events import EventType
from engine.domain.org import Group, Org, Person, Town, Unit
from engine.domain.spotcheck import Draw
from engine.domain.workflow import Workflow


def canonical_json(body: Any) -> str:
    """The one text a body is hashed as: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(body: Any) -> str:
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def workflow_text(body: Mapping[str, Any]) -> str:
    """The text a workflow version is stored as in the workflows table (its digest is this
    text's SHA-256)."""
    return json.dumps(body, ensure_ascii=False, sort_keys=True)


def workflow_digest(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(workflow_text(body).encode()).hexdigest()


# --- the org as a body -----------------------------------------------------------------------
def org_body(org: Org) -> dict[str, Any]:
    """The org as data: every field the rules read, in a fixed order (ids sorted, members
    sorted), so equal orgs give equal bodies. A campaign is written only when the org has one,
    so an org without one has the body (and digest) it had before campaigns existed."""
    t = org.town
    body: dict[str, Any] = {
        "town": {"id": t.id, "name": t.name, "timezone": t.timezone,
                 "party_secretary": t.party_secretary},
        "units": [{"id": u.id, "name": u.name, "kind": u.kind, "liaison": u.liaison,
                   "secretary": u.secretary, "listed": u.listed}
                  for u in sorted(org.units.values(), key=lambda u: u.id)],
        "people": [{"id": p.id, "name": p.name, "unit": p.unit, "email": p.email,
                    "mobile": p.mobile}
                   for p in sorted(org.people.values(), key=lambda p: p.id)],
        "groups": [{"id": g.id, "kind": g.kind, "leader": g.leader,
                    "members": sorted(g.members)}
                   for g in sorted(org.groups.values(), key=lambda g: g.id)],
    }
    if org.campaign is not None:
        body["campaign"] = org.campaign.to_dict()
    return body


def org_from_body(body: Mapping[str, Any]) -> Org:
    t = body["town"]
    return Org(
        town=Town(t["id"], t["name"], t["timezone"], t["party_secretary"]),
        units={u["id"]: Unit(u["id"], u["name"], u["kind"], u.get("liaison"),
                             u.get("secretary"), bool(u.get("listed"))) for u in body["units"]},
        people={p["id"]: Person(p["id"], p["name"], p["unit"], p.get("email"), p.get("mobile"))
                for p in body["people"]},
        groups={g["id"]: Group(g["id"], g["kind"], g.get("leader"), tuple(g["members"]))
                for g in body["groups"]},
        campaign=Campaign.from_dict(body["campaign"]) if body.get("campaign") else None,
    )


def org_changes(before: Org | None, after: Org) -> list[str]:
    """What an org update changed, in words: people in and out, and every role that moved
    (party secretary, each village's liaison and secretary, listing, group leaders and
    members)."""
    if before is None:
        return [f"org installed: {len(after.units)} units, {len(after.people)} people,"
                f" {len(after.groups)} groups"]
    out: list[str] = []

    def who(org: Org, pid: str | None) -> str:
        if pid is None:
            return "nobody"
        p = org.people.get(pid)
        return f"{p.name} ({pid})" if p is not None else pid

    if before.town.party_secretary != after.town.party_secretary:
        out.append(f"party secretary: {who(before, before.town.party_secretary)} →"
                   f" {who(after, after.town.party_secretary)}")
    for name in ("name", "timezone"):
        a, b = getattr(before.town, name), getattr(after.town, name)
        if a != b:
            out.append(f"town {name}: {a} → {b}")
    if before.campaign != after.campaign:
        out.append(f"campaign: {_campaign(before.campaign)} → {_campaign(after.campaign)}")
    for pid in sorted(set(before.people) - set(after.people)):
        out.append(f"person removed: {who(before, pid)}")
    for pid in sorted(set(after.people) - set(before.people)):
        out.append(f"person added: {who(after, pid)}")
    for pid in sorted(set(after.people) & set(before.people)):
        a_p, b_p = before.people[pid], after.people[pid]
        for name in ("name", "unit", "email", "mobile"):
            if getattr(a_p, name) != getattr(b_p, name):
                out.append(f"{who(after, pid)}: {name} {getattr(a_p, name)} →"
                           f" {getattr(b_p, name)}")
    for uid in sorted(set(before.units) - set(after.units)):
        out.append(f"unit removed: {before.units[uid].name} ({uid})")
    for uid in sorted(set(after.units) - set(before.units)):
        out.append(f"unit added: {after.units[uid].name} ({uid})")
    for uid in sorted(set(after.units) & set(before.units)):
        a_u, b_u = before.units[uid], after.units[uid]
        for name, label in (("liaison", "liaison"), ("secretary", "secretary")):
            if getattr(a_u, name) != getattr(b_u, name):
                out.append(f"{b_u.name} ({uid}) {label}: {who(before, getattr(a_u, name))} →"
                           f" {who(after, getattr(b_u, name))}")
        if a_u.listed != b_u.listed:
            out.append(f"{b_u.name} ({uid}) {'listed' if b_u.listed else 'unlisted'}")
        if a_u.name != b_u.name or a_u.kind != b_u.kind:
            out.append(f"unit {uid}: {a_u.name}/{a_u.kind} → {b_u.name}/{b_u.kind}")
    for gid in sorted(set(before.groups) - set(after.groups)):
        out.append(f"group removed: {gid}")
    for gid in sorted(set(after.groups) - set(before.groups)):
        g = after.groups[gid]
        out.append(f"group added: {gid} ({g.kind}), leader {who(after, g.leader)}")
    for gid in sorted(set(after.groups) & set(before.groups)):
        a_g, b_g = before.groups[gid], after.groups[gid]
        if a_g.kind != b_g.kind:
            out.append(f"group {gid}: kind {a_g.kind} → {b_g.kind}")
        if a_g.leader != b_g.leader:
            out.append(f"group {gid} leader: {who(before, a_g.leader)} →"
                       f" {who(after, b_g.leader)}")
        for pid in sorted(set(a_g.members) - set(b_g.members)):
            out.append(f"group {gid}: {who(before, pid)} left")
        for pid in sorted(set(b_g.members) - set(a_g.members)):
            out.append(f"group {gid}: {who(after, pid)} joined")
    return out


def _campaign(c: Campaign | None) -> str:
    return "none" if c is None else f"{c.name} {c.start}–{c.end}"


# --- what the chain says was in force --------------------------------------------------------
@dataclass
class InForce:
    """The configuration the town events installed, by the seq they were installed at: the
    org, calendar and mode in force for any later event, and every workflow version."""

    orgs: list[tuple[int, Org, str]] = field(default_factory=list)
    """(seq, org, digest), in seq order."""
    calendars: list[tuple[int, CalendarData, str]] = field(default_factory=list)
    workflows: dict[str, tuple[int, Workflow, str]] = field(default_factory=dict)
    """key -> (seq, workflow, digest of its stored text)."""
    modes: list[tuple[int, str]] = field(default_factory=list)
    draws: dict[int, tuple[int, frozenset[int]]] = field(default_factory=dict)
    """Spot-check draws: number -> (seq, the sample's issue ids)."""
    _org_seqs: list[int] = field(default_factory=list)
    _cal_seqs: list[int] = field(default_factory=list)

    def add(self, seq: int, kind: str, payload: Mapping[str, Any]) -> None:
        """Take one town event (in seq order). ValueError when its body is not what it says
        (its digest does not match, or it cannot be read)."""
        if kind == EventType.DATABASE_MARKED.value:
            mode = str(payload["mode"])
            if mode not in MODES:
                raise ValueError(f"town event {seq}: unknown mode {mode!r}")
            self.modes.append((seq, mode))
            return
        if kind == EventType.SPOTCHECK_DRAWN.value:
            draw = Draw.from_payload(payload)
            problem = draw.problem(len(self.draws) + 1)
            if problem is not None:
                raise ValueError(f"town event {seq}: {problem}")
            self.draws[draw.draw] = (seq, frozenset(draw.sample))
            return
        body = payload["body"]
        if kind == EventType.WORKFLOW_REGISTERED.value:
            found = workflow_digest(body)
            if found != payload["sha256"]:
                raise ValueError(f"town event {seq}: the workflow body does not match its"
                                 " SHA-256")
            wf = Workflow.from_dict(body)
            self.workflows[wf.key] = (seq, wf, found)
            return
        found = digest(body)
        if found != payload["sha256"]:
            raise ValueError(f"town event {seq}: the {kind.split('_')[0]} body does not match"
                             " its SHA-256")
        if kind == EventType.ORG_LOADED.value:
            self.orgs.append((seq, org_from_body(body), found))
            self._org_seqs.append(seq)
        elif kind == EventType.CALENDAR_INSTALLED.value:
            data = CalendarData.from_json(json.dumps(body))
            self.calendars.append((seq, data, found))
            self._cal_seqs.append(seq)

    @property
    def empty(self) -> bool:
        return not (self.orgs or self.workflows or self.calendars or self.modes)

    def org_at(self, seq: int) -> Org | None:
        """The org in force for the event at `seq` (installed by an earlier event)."""
        i = bisect_right(self._org_seqs, seq - 1)
        return self.orgs[i - 1][1] if i else None

    def calendar_at(self, seq: int) -> CalendarData | None:
        i = bisect_right(self._cal_seqs, seq - 1)
        return self.calendars[i - 1][1] if i else None

    @property
    def mode(self) -> str | None:
        return self.modes[-1][1] if self.modes else None

    def first_live_seq(self) -> int | None:
        """The seq from which the clock rules of a live database hold (None: never live)."""
        return next((seq for seq, mode in self.modes if mode == LIVE), None)


@dataclass(frozen=True)
class Stored:
    """The copies of the configuration the commands read (tables and settings)."""

    org: Org | None
    workflows: list[tuple[str, str, str]]
    """(key, digest, body text) of every registered workflow version."""
    calendar: str | None
    """The body of the last calendar version kept."""
    days: frozenset[tuple[str, str]]
    """(day, off|work) of the working calendar in use."""
    mode: str | None


def stored_problem(in_force: InForce, stored: Stored) -> str | None:
    """What a stored copy says that the chain's configuration does not (None: they agree)."""
    if in_force.orgs:
        if stored.org is None:
            return "the org tables are empty, the history installed an org"
        if digest(org_body(stored.org)) != in_force.orgs[-1][2]:
            changed = org_changes(in_force.orgs[-1][1], stored.org)
            return ("the org in the tables is not the one the history installed: "
                    + "; ".join(changed[:5]))
    for key, kept_digest, text in stored.workflows:
        chained = in_force.workflows.get(key)
        if chained is None:
            if in_force.workflows:
                return f"workflow {key} is registered but the history never recorded it"
            continue
        try:
            body = json.loads(text)
            same = workflow_digest(body) == chained[2] and kept_digest == chained[2]
        except ValueError:
            same = False
        if not same:
            return f"the stored workflow {key} is not the body the history registered"
    registered = {key for key, _, _ in stored.workflows}
    for key in in_force.workflows:
        if key not in registered:
            return f"workflow {key}, registered in the history, is missing from the database"
    if in_force.calendars:
        data, found = in_force.calendars[-1][1], in_force.calendars[-1][2]
        try:
            kept = None if stored.calendar is None else digest(json.loads(stored.calendar))
        except ValueError:
            kept = None
        if kept != found:
            return "the stored calendar is not the one the history installed"
        days = frozenset({(d.isoformat(), "off") for d in data.off_days}
                         | {(d.isoformat(), "work") for d in data.make_up_days})
        if days != stored.days:
            differ = sorted(days ^ stored.days)[:3]
            return ("the working calendar in use is not the one the history installed"
                    f" ({', '.join(f'{d} {k}' for d, k in differ)} …)")
    if in_force.modes and stored.mode != in_force.mode:
        return (f"the database says it is {stored.mode or 'unmarked'}, the history marked it"
                f" {in_force.mode}")
    return None
