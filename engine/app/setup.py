"""`init`: create or upgrade the schema, load the org, register the workflow and calendar."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.app.session import Session
from engine.domain.configuration import workflow_digest, workflow_text
from engine.domain.org import Org
from engine.errors import Refused
from engine.store.unit_of_work import Tx


@dataclass(frozen=True)
class Initialised:
    town: str
    units: int
    people: int
    groups: int
    workflow: str
    calendar_years: tuple[int, int] | None
    schema: str | None
    mode: str = "live"

    def to_json(self) -> dict[str, object]:
        return {"town": self.town, "units": self.units, "people": self.people,
                "groups": self.groups, "workflow": self.workflow,
                "calendar_years": list(self.calendar_years or ()), "schema": self.schema,
                "mode": self.mode, "drill": self.mode == "drill"}


def init(s: Session, org_path: Path, workflow_path: Path | None = None,
         holidays_path: Path | None = None, drill: bool = False) -> Initialised:
    """Create or upgrade the schema, load (or update) the org, register the workflow version
    and install the working calendar (national data plus the town's adjustments); each, when
    it changed, recorded as a town event in the chain. `drill`: mark a new database a drill
    (simulated time); a database stays what it was first marked."""
    from engine.app import configuration as config_events
    from engine.config import holidays, org
    from engine.config.workflow import load as load_workflow
    from engine.store import migrate
    from workflows import default_path

    town = org.load(org_path)
    unled = town.unled_units()
    if unled:  # its interviews would reach nobody, its village cadres answer to no one
        raise Refused(f"{org_path}: {'; '.join(unled)}: every village needs a liaison leader"
                      " (包村领导) and a secretary")
    wf = load_workflow(workflow_path or default_path())
    adjustments = holidays.local_adjustments(holidays_path) if holidays_path else None
    tz = ZoneInfo(town.town.timezone)
    s.defs.tz = tz
    s.store.allow_create = True
    with s.transaction(write=True) as tx:
        now = s.now(tx)  # the zone is the org file's (the database may hold no town yet)
        migrate.upgrade(tx.conn)
        d = tx.definitions
        if adjustments is None:
            kept = d.get_meta("calendar_local")
            adjustments = json.loads(kept) if kept else None
        _check_org_update(tx, town)
        log = config_events.TownLog(s, tx)
        mode = config_events.mark(log, drill, now)
        tx.org.replace(town)
        config_events.record_org(log, now)
        wf_body = wf.to_dict()
        d.register_workflow(wf.key, workflow_digest(wf_body), workflow_text(wf_body), now)
        for _, _, text in d.workflow_rows():  # versions registered before the chain kept them
            try:
                config_events.record_workflow(log, json.loads(text), now)
            except ValueError:
                continue  # a damaged body: `audit verify` names it
        d.set_meta("workflow", wf.key)
        data = holidays.build(max(now.year, date.today().year) + 1, adjustments)
        days: list[tuple[date, str, str | None]] = [(x, "off", None) for x in data.off_days]
        days += [(x, "work", None) for x in data.make_up_days]
        d.replace_calendar_days(days)
        calendar_body = data.to_json()
        d.register_calendar(hashlib.sha256(calendar_body.encode()).hexdigest(), calendar_body,
                            now)
        config_events.record_calendar(log, json.loads(calendar_body), now)
        d.set_meta("calendar_years", json.dumps(sorted(data.known_years)))
        if adjustments is not None:
            d.set_meta("calendar_local", json.dumps(adjustments, sort_keys=True))
        revision = migrate.current(tx.conn)
    s.defs.reset()
    years = sorted(data.known_years)
    return Initialised(
        town=town.town.id, units=len(town.units), people=len(town.people),
        groups=len(town.groups),
        workflow=wf.key, calendar_years=(years[0], years[-1]) if years else None,
        schema=revision, mode=mode)


def _check_org_update(tx: Tx, org: Org) -> None:
    """An org update may not drop people or villages that open issues still need."""
    d = tx.definitions
    if not d.has_table("issues"):
        return
    current = d.get_meta("workflow")
    final: tuple[str, ...] = ()
    if current:
        body = d.workflow_body(current)
        if body:
            final = tuple(json.loads(body).get("final", ()))
    people, villages = tx.issues.open_references(final)
    gone_people = sorted(people - set(org.people))
    gone_villages = sorted(villages - set(org.units))
    if gone_villages:
        raise Refused(f"the org file drops village(s) {', '.join(gone_villages)}"
                      " that open issues belong to")
    if gone_people:
        finding = " ".join(f"--assignee {p}" for p in gone_people)
        raise Refused(f"the org file drops {', '.join(gone_people)}, assignee(s) of open"
                      f" issues: reassign them first (`rectify issue list {finding}` finds"
                      " them; `rectify --as PERSON issue reassign ID --to PERSON --reason"
                      " TEXT` reassigns one)")
