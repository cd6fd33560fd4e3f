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
from engine.domain.events import Event, EventType, Installed, Marked
from engine.domain.org import Org
from engine.errors import Refused
from engine.store.unit_of_work import Tx


def town_actor(s: Session) -> str:
    """Who installs configuration: the person named with --as, else the operating-system
    user (init is the operator's)."""
    return s.actor or f"os:{os_user()}"


def _last(tx: Tx, kind: EventType) -> Event | None:
    """The chain's last town event of a kind."""
    found = None
    for e in tx.history.of_issue(c.TOWN):
        if e.type == kind:
            found = e
    return found


def _workflow_key(e: Event) -> str:
    body = e.payload.get("body", {})
    return f"{body.get('name')}@{body.get('version')}"


def _append(s: Session, tx: Tx, kind: EventType, payload: dict[str, Any], at: datetime,
            actor: str) -> None:
    version = tx.history.town_version() + 1
    tx.append(Event(issue_id=c.TOWN, version=version, type=kind, actor=actor, at=at,
                    payload=payload, workflow=""), s.recorded_at())
    tx.flush()  # the next town event numbers after this one


def mark(s: Session, tx: Tx, drill: bool, at: datetime) -> str:
    """Mark a database live or drill, once: a live database never becomes a drill (its
    clock rules would lapse), nor a drill live (its history holds simulated times)."""
    stored = tx.definitions.get_meta("mode")
    marked = _last(tx, EventType.DATABASE_MARKED)
    current = str(marked.payload["mode"]) if marked is not None else stored
    wanted = c.DRILL if drill else (current or c.LIVE)
    if current == c.LIVE and drill:
        raise Refused("this database is live: a drill needs a database of its own"
                      " (`rectify --db … init --drill`)")
    tx.definitions.set_meta("mode", wanted)
    s.defs.mode = wanted  # the mark itself is admitted under the mode it sets
    if marked is None or current != wanted:
        _append(s, tx, EventType.DATABASE_MARKED, Marked(wanted).to_payload(), at,
                town_actor(s))
    return wanted


def record_org(s: Session, tx: Tx, at: datetime, actor: str) -> bool:
    """Record the org as the tables now hold it, if it differs from the chain's last."""
    body = c.org_body(tx.org.load())
    digest = c.digest(body)
    last = _last(tx, EventType.ORG_LOADED)
    if last is not None and last.payload.get("sha256") == digest:
        return False
    _append(s, tx, EventType.ORG_LOADED, Installed(digest, body).to_payload(), at, actor)
    return True


def record_workflow(s: Session, tx: Tx, body: dict[str, Any], at: datetime) -> None:
    """Record a workflow version the first time it is registered."""
    key = f"{body['name']}@{body['version']}"
    if any(e.type == EventType.WORKFLOW_REGISTERED and _workflow_key(e) == key
           for e in tx.history.of_issue(c.TOWN)):
        return
    _append(s, tx, EventType.WORKFLOW_REGISTERED,
            Installed(c.workflow_digest(body), body).to_payload(), at, town_actor(s))


def record_calendar(s: Session, tx: Tx, body: dict[str, Any], at: datetime) -> None:
    """Record a calendar when it differs from the chain's last."""
    digest = c.digest(body)
    last = _last(tx, EventType.CALENDAR_INSTALLED)
    if last is not None and last.payload.get("sha256") == digest:
        return
    _append(s, tx, EventType.CALENDAR_INSTALLED, Installed(digest, body).to_payload(), at,
            town_actor(s))


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
        events = [e for e in tx.history.of_issue(c.TOWN) if e.type == EventType.ORG_LOADED]
    out: list[OrgChange] = []
    before: Org | None = None
    for e in events:
        org = c.org_from_body(e.payload["body"])
        out.append(OrgChange(e.seq, e.at, e.actor, dict(e.payload.get("via") or {}),
                             str(e.payload.get("sha256")), c.org_changes(before, org)))
        before = org
    return out
