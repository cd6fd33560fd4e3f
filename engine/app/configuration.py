"""The configuration recorded in the chain: what `init` (or listing a village) installs is
appended as a town event (issue 0) when it differs from what the chain last said, and the
org's changes read back as a history (`rectify org history`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.app.session import Session, os_user
from engine.domain import configuration as c
from engine.domain.clock_rules import DRILL, LIVE
from engine.domain.events import TOWN, Event, EventType, Installed, Marked
from engine.domain.org import Org
from engine.errors import Refused
from engine.store.unit_of_work import Tx


def town_actor(s: Session) -> str:
    """Who installs configuration: the person named with --as, else the operating-system
    user (init is the operator's)."""
    return s.actor or f"os:{os_user()}"


class TownLog:
    """The town's events as one transaction sees them, read once: what the chain last said
    of each kind, and where the next town event goes."""

    def __init__(self, s: Session, tx: Tx) -> None:
        self.s, self.tx = s, tx
        self.last: dict[str, Event] = {}
        self.workflows: set[str] = set()
        self.version = 0
        for e in tx.history.of_issue(TOWN):
            self._saw(e)

    def _saw(self, e: Event) -> None:
        self.last[str(e.type)] = e
        self.version = max(self.version, e.version)
        if e.type == EventType.WORKFLOW_REGISTERED:
            body = e.payload.get("body", {})
            self.workflows.add(f"{body.get('name')}@{body.get('version')}")

    def append(self, kind: EventType, payload: dict[str, Any], at: datetime,
               actor: str | None = None) -> None:
        e = Event(issue_id=TOWN, version=self.version + 1, type=kind,
                  actor=actor or town_actor(self.s), at=at, payload=payload, workflow="")
        self.tx.append(e, self.s.recorded_at())
        self._saw(e)

    def install(self, kind: EventType, digest: str, body: Any, at: datetime,
                actor: str | None = None) -> bool:
        """Record a body unless the chain's last of its kind has the same digest."""
        last = self.last.get(kind.value)
        if last is not None and last.payload.get("sha256") == digest:
            return False
        self.append(kind, Installed(digest, body).to_payload(), at, actor)
        return True


def mark(log: TownLog, drill: bool, at: datetime) -> str:
    """Mark a database live or drill, once: a live database never becomes a drill (its
    clock rules would lapse), nor a drill live (its history holds simulated times)."""
    s, tx = log.s, log.tx
    stored = tx.definitions.get_meta("mode")
    marked = log.last.get(EventType.DATABASE_MARKED.value)
    current = str(marked.payload["mode"]) if marked is not None else stored
    wanted = DRILL if drill else (current or LIVE)
    if current == LIVE and drill:
        raise Refused("this database is live: a drill needs a database of its own"
                      " (`rectify --db … init --drill`)")
    tx.definitions.set_meta("mode", wanted)
    s.defs.mode = wanted  # the mark itself is admitted under the mode it sets
    if marked is None or current != wanted:
        log.append(EventType.DATABASE_MARKED, Marked(wanted).to_payload(), at)
    return wanted


def record_org(log: TownLog, at: datetime, actor: str | None = None) -> bool:
    """Record the org as the tables now hold it, if it differs from the chain's last."""
    body = c.org_body(log.tx.org.load())
    return log.install(EventType.ORG_LOADED, c.digest(body), body, at, actor)


def record_workflow(log: TownLog, body: dict[str, Any], at: datetime) -> None:
    """Record a workflow version the first time it is registered."""
    if f"{body['name']}@{body['version']}" not in log.workflows:
        log.append(EventType.WORKFLOW_REGISTERED,
                   Installed(c.workflow_digest(body), body).to_payload(), at)


def record_calendar(log: TownLog, body: dict[str, Any], at: datetime) -> None:
    """Record a calendar when it differs from the chain's last."""
    log.install(EventType.CALENDAR_INSTALLED, c.digest(body), body, at)


# --- the org's history -----------------------------------------------------------------------
@dataclass(frozen=True)
class OrgChange:
    seq: int | None
    at: datetime
    actor: str
    via: dict[str, Any]
    sha256: str
    changes: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at.isoformat(), "actor": self.actor,
                "via": self.via, "sha256": self.sha256, "changes": self.changes}


def org_history(s: Session) -> list[OrgChange]:
    """Every org the chain installed, oldest first, each with what changed from the last."""
    with s.transaction(write=False) as tx:
        s.timezone(tx)
        events = [e for e in tx.history.of_issue(TOWN) if e.type == EventType.ORG_LOADED]
    out: list[OrgChange] = []
    before: Org | None = None
    for e in events:
        org = c.org_from_body(e.payload["body"])
        out.append(OrgChange(e.seq, e.at, e.actor, dict(e.payload.get("via") or {}),
                             str(e.payload.get("sha256")), c.org_changes(before, org)))
        before = org
    return out
