"""The application service: each public method is one command and one transaction.

It loads what a decision needs (the issue, the org, the workflow version, the calendar), asks
the pure domain to decide, and writes the issue row and the history event together. Heavy
libraries (transitions, alembic, holidays, yaml, pydantic) are imported only by the commands
that need them, so that `issue show` starts fast.
"""

from __future__ import annotations

import builtins
import csv
import gc
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.clock import Clock, SystemClock
from engine.domain import escalation as esc
from engine.domain.calendar import CalendarData, WorkingCalendar
from engine.domain.escalation import Escalation, Extension
from engine.domain.issue import (
    Context,
    Event,
    Evidence,
    Issue,
    Move,
    NewIssue,
    check_new_issue,
    created_event,
    decide_move,
    evolve,
    fact_event,
)
from engine.domain.org import Org
from engine.domain.workflow import Workflow
from engine.errors import (
    BadFile,
    BadOption,
    DeadlineRefused,
    MissingField,
    NotFound,
    NotPermitted,
    RectifyError,
    Refused,
)
from engine.notify import Notifier, OutboxRow
from engine.store.outbox import OutboxEntry
from engine.store.uow import EscalationFilter, IssueFilter, Store, SupervisionTx, Tx

if TYPE_CHECKING:
    from notifications.config import Config  # read only by commands that write or send

DEFAULT_TZ = "Asia/Shanghai"
IMPORT_COLUMNS = (
    "title", "category", "village", "group", "household", "severity", "description", "listed",
    "state", "entered_at", "assignee", "due",
)
_TRUE = {"1", "true", "yes", "y", "是", "x", "✓"}
_FALSE = {"", "0", "false", "no", "n", "否"}


def parse_time(text: str, what: str = "time") -> datetime:
    """ISO 8601; a time without offset is returned naive (town-local, resolved later)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadOption(
            f"{what} {text!r} is not an ISO 8601 time (e.g. 2020-09-30T10:00)"
        ) from None
    return value


def parse_day(text: str, what: str = "date") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadOption(f"{what} {text!r} is not a date (YYYY-MM-DD)") from None


@dataclass
class Loaded:
    """What the write commands need, read once per service (one CLI command)."""

    org: Org
    tz: tzinfo
    calendar: WorkingCalendar
    current_workflow: str


class Rectify:
    def __init__(
        self,
        store: Store,
        *,
        actor: str | None = None,
        now: datetime | None = None,
        data_dir: Path | None = None,
        clock: Clock | None = None,
        config_path: Path | None = None,
    ) -> None:
        self.store = store
        self.actor = actor
        self._now_given = now
        self.data_dir = data_dir or Path("rectify-data")
        self.clock = clock or SystemClock()
        self.warnings: list[str] = []
        self.config_path = config_path
        self._config: Config | None = None
        self._loaded: Loaded | None = None
        self._cal: WorkingCalendar | None = None
        self._workflows: dict[str, Workflow] = {}
        """Registered versions never change (a changed body needs a new version number)."""
        self._tz: tzinfo | None = None

    # --- time -------------------------------------------------------------------------------
    def now(self, tz: tzinfo) -> datetime:
        """The command's clock: --now (town-local when it has no offset) or the system's."""
        given = self._now_given
        if given is None:
            return self.clock.now()
        if given.tzinfo is None:
            return given.replace(tzinfo=tz).astimezone(UTC)
        return given.astimezone(UTC)

    def set_now(self, now: datetime | None) -> None:
        self._now_given = now

    def recorded_at(self) -> datetime:
        return self.clock.now() if self._now_given is None else SystemClock().now()

    @property
    def town_tz(self) -> tzinfo:
        """The town's time zone once a command has read it (UTC before that)."""
        return self._tz or UTC

    def timezone(self, tx: Tx) -> tzinfo:
        if self._tz is None:
            name = tx.town_timezone() or DEFAULT_TZ
            self._tz = ZoneInfo(name)
        return self._tz

    # --- loading ----------------------------------------------------------------------------
    def _load(self, tx: Tx) -> Loaded:
        if self._loaded is None:
            org = tx.load_org()
            tz = ZoneInfo(org.town.timezone)
            self._tz = tz
            cal = self._calendar(tx, tz)
            current = tx.get_meta("workflow")
            if current is None:
                raise RectifyError("the database has no workflow: run `rectify init`")
            self._loaded = Loaded(org=org, tz=tz, calendar=cal, current_workflow=current)
        return self._loaded

    def _calendar(self, tx: Tx, tz: tzinfo) -> WorkingCalendar:
        """The working calendar from the database, read once per service."""
        if self._cal is not None:
            return self._cal
        days = tx.calendar_days()
        years = json.loads(tx.get_meta("calendar_years") or "[]")
        data = CalendarData(
            off_days=frozenset(d for d, k in days if k == "off"),
            make_up_days=frozenset(d for d, k in days if k == "work"),
            known_years=frozenset(int(y) for y in years),
        )
        self._cal = WorkingCalendar(data, tz)
        return self._cal

    def workflow(self, tx: Tx, key: str) -> Workflow:
        wf = self._workflows.get(key)
        if wf is None:
            body = tx.workflow_body(key)
            if body is None:
                raise NotFound(f"workflow {key} is not registered in this database")
            wf = self._workflows[key] = Workflow.from_dict(json.loads(body))
        return wf

    def _context(self, tx: Tx, wf: Workflow, now: datetime, roles: frozenset[str],
                 prior: dict[str, frozenset[str]] | None = None,
                 village: str | None = None) -> Context:
        from engine.statemachine import machine_for

        loaded = self._load(tx)
        return Context(
            workflow=wf, fire=machine_for(wf), calendar=loaded.calendar, now=now,
            actor=self._actor(loaded.org), roles=roles, prior_actors=prior or {},
            village_listed=bool(village and village in loaded.org.units
                                and loaded.org.units[village].listed),
        )

    def _actor(self, org: Org) -> str:
        if not self.actor:
            raise BadOption("say who you are: --as PERSON (or RECTIFY_USER)")
        if self.actor not in org.people:
            raise NotPermitted(f"unknown person {self.actor!r}: not in the org")
        return self.actor

    def _warn_calendar(self, cal: WorkingCalendar) -> None:
        if cal.fallback_years:
            years = ", ".join(str(y) for y in sorted(cal.fallback_years))
            msg = (
                f"no holiday data for {years}: counted Monday to Friday as working days"
                " (add a local calendar with `rectify init --holidays FILE`)"
            )
            if msg not in self.warnings:
                self.warnings.append(msg)
            cal.fallback_years.clear()

    # --- notifications -----------------------------------------------------------------------
    def notification_config(self) -> Config:
        """The configuration (--config, RECTIFY_CONFIG, ./rectify.toml, or console only)."""
        if self._config is None:
            from notifications.config import load

            self._config = load(self.config_path)
        return self._config

    def _tell(self, tx: Tx, rows: builtins.list[OutboxRow], now: datetime) -> None:
        if rows:
            from engine.store.outbox import OutboxTx

            OutboxTx(tx).add(rows, now)

    def _notifier(self, tx: Tx) -> Notifier:
        loaded = self._load(tx)
        cfg = self.notification_config()
        return Notifier(loaded.org, loaded.calendar, loaded.tz, cfg.routing, cfg.locale)

    @contextmanager
    def _tx(self, write: bool, fast: bool = False) -> Iterator[Tx]:
        with self.store.transaction(write=write, fast=fast) as tx:
            yield tx

    # --- init ---------------------------------------------------------------------------------
    def init(
        self,
        org_path: Path,
        workflow_path: Path | None = None,
        holidays_path: Path | None = None,
    ) -> dict[str, Any]:
        """Create or upgrade the schema, load the org, register the workflow and calendar."""
        from engine import calendar_cn, orgfile
        from engine.store import migrate
        from workflows import default_path
        from workflows.definition import load as load_workflow

        org = orgfile.load(org_path)
        wf = load_workflow(workflow_path or default_path())
        adjustments = calendar_cn.local_adjustments(holidays_path) if holidays_path else None
        tz = ZoneInfo(org.town.timezone)
        now = self.now(tz)
        self.store.allow_create = True
        with self._tx(write=True) as tx:
            migrate.upgrade(tx.conn)
            if adjustments is None:
                kept = tx.get_meta("calendar_local")
                adjustments = json.loads(kept) if kept else None
            self._check_org_update(tx, org)
            tx.replace_org(org)
            body = json.dumps(wf.to_dict(), ensure_ascii=False, sort_keys=True)
            digest = hashlib.sha256(body.encode()).hexdigest()
            tx.register_workflow(wf.key, digest, body, now)
            tx.set_meta("workflow", wf.key)
            data = calendar_cn.build(max(now.year, date.today().year) + 1, adjustments)
            days: list[tuple[date, str, str | None]] = [(d, "off", None) for d in data.off_days]
            days += [(d, "work", None) for d in data.make_up_days]
            tx.replace_calendar_days(days)
            calendar_body = data.to_json()
            tx.register_calendar(hashlib.sha256(calendar_body.encode()).hexdigest(),
                                 calendar_body, now)
            tx.set_meta("calendar_years", json.dumps(sorted(data.known_years)))
            if adjustments is not None:
                tx.set_meta("calendar_local", json.dumps(adjustments, sort_keys=True))
            revision = migrate.current(tx.conn)
        self._loaded = None
        self._cal = None
        years = sorted(data.known_years)
        return {
            "town": org.town.id,
            "units": len(org.units),
            "people": len(org.people),
            "groups": len(org.groups),
            "workflow": wf.key,
            "calendar_years": [years[0], years[-1]] if years else [],
            "schema": revision,
        }

    def _check_org_update(self, tx: Tx, org: Org) -> None:
        """An org update may not drop people or villages that open issues still need."""
        if not tx.has_table("issues"):
            return
        current = tx.get_meta("workflow")
        final: tuple[str, ...] = ()
        if current:
            body = tx.workflow_body(current)
            if body:
                final = tuple(json.loads(body).get("final", ()))
        people, villages = tx.referenced_people_and_villages(final)
        gone_people = sorted(people - set(org.people))
        gone_villages = sorted(villages - set(org.units))
        if gone_villages:
            raise Refused(
                f"the org file drops village(s) {', '.join(gone_villages)}"
                " that open issues belong to"
            )
        if gone_people:
            raise Refused(
                f"the org file drops {', '.join(gone_people)}, assignee(s) of open issues:"
                " reassign them first"
            )

    # --- issues: writing --------------------------------------------------------------------
    def add_issue(self, new: NewIssue) -> Issue:
        check_new_issue(new)
        with self._tx(write=True, fast=True) as tx:
            loaded = self._load(tx)
            org = loaded.org
            actor = self._actor(org)
            if not org.may_add_issues(actor):
                raise NotPermitted(f"{actor} may not add issues: not a member of any group")
            self._check_refs(org, new.village, new.group)
            wf = self.workflow(tx, loaded.current_workflow)
            now = self.now(loaded.tz)
            ctx = self._context(tx, wf, now, org.roles_of(actor))
            event = created_event(0, new, ctx, village_listed=org.units[new.village].listed)
            issue = evolve(None, event)
            issue_id = tx.insert_issue(issue)
            tx.append(replace(event, issue_id=issue_id), self.recorded_at())
            self._warn_calendar(loaded.calendar)
        return replace(issue, id=issue_id)

    @staticmethod
    def _check_refs(org: Org, village: str, group: str | None) -> None:
        if village not in org.units:
            raise NotFound(f"unknown village {village!r}")
        if group is not None and group not in org.groups:
            raise NotFound(f"unknown group {group!r}")

    def move(self, move: Move, evidence_files: list[Path] | None = None) -> Issue:
        staged = [self._hash_file(p) for p in evidence_files or []]
        if staged:
            move = replace(move, evidence=tuple(e for e, _ in staged))
        written: list[Path] = []
        try:
            with self._tx(write=True, fast=True) as tx:
                loaded = self._load(tx)
                org = loaded.org
                actor = self._actor(org)
                issue = tx.load_issue(move.issue_id, for_update=True)
                if issue is None:
                    raise NotFound(f"no issue {move.issue_id}")
                if move.assignee is not None and move.assignee not in org.people:
                    raise NotFound(f"unknown person {move.assignee!r} for --assignee")
                wf = self.workflow(tx, issue.workflow)
                t = wf.transition(move.transition)
                prior = tx.prior_actors(issue.id, t.forbid_actors_of) if t else {}
                roles = org.roles_for_issue(actor, issue.village, issue.assignee)
                ctx = self._context(tx, wf, self.now(loaded.tz), roles, prior, issue.village)
                event = decide_move(issue, move, ctx)
                escalations, extensions = SupervisionTx(tx).supersede(issue, ctx.now, ctx.actor)
                if escalations or extensions:
                    extra = {"superseded_escalations": escalations,
                             "superseded_extensions": extensions}
                    event = replace(event, payload={**event.payload, **extra})
                new = evolve(issue, event)
                tx.update_issue(new, issue.version)
                tx.append(event, self.recorded_at())
                self._tell_move(tx, wf, new, event, org)
                for evidence, source in staged:
                    path = self._store_blob(evidence.sha256, source)
                    if path is not None:
                        written.append(path)
                self._warn_calendar(loaded.calendar)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        return new

    def _tell_move(self, tx: Tx, wf: Workflow, new: Issue, event: Event, org: Org) -> None:
        """Assigned to you; rejected: the events that matter to a person."""
        if event.transition not in ("study", "reject"):
            return
        notifier = self._notifier(tx)
        rows: builtins.list[OutboxRow] = []
        if event.transition == "reject":
            unit = org.units.get(new.village)
            to = [new.assignee] if new.assignee else (
                [unit.secretary] if unit is not None and unit.secretary else [])
            rows += notifier.rejection(new, wf, new.version, str(event.payload.get("reason", "")),
                                       to, event.at)
        if event.payload.get("assignee") and event.transition in ("study", "reject"):
            rows += notifier.assignment(new, wf, new.version, event.at)
        self._tell(tx, rows, event.at)

    def _hash_file(self, path: Path) -> tuple[Evidence, Path]:
        h = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
                    size += len(chunk)
        except OSError as e:
            raise BadFile(f"evidence {path}: cannot read: {e.strerror}") from None
        return Evidence(sha256=h.hexdigest(), name=path.name, size=size), path

    def evidence_path(self, sha256: str) -> Path:
        return self.data_dir / "evidence" / sha256[:2] / sha256

    def _store_blob(self, sha256: str, source: Path) -> Path | None:
        """Copy a file into the content-addressed store; the path if this call created it."""
        target = self.evidence_path(sha256)
        if target.exists():
            return None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{sha256}.{os.getpid()}.tmp")
            with source.open("rb") as src, tmp.open("wb") as dst:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            tmp.replace(target)
        except OSError as e:
            raise BadFile(f"cannot store evidence in {target.parent}: {e.strerror}") from None
        return target

    # --- issues: reading --------------------------------------------------------------------
    def show(self, issue_id: int) -> Issue:
        with self._tx(write=False) as tx:
            self.timezone(tx)
            issue = tx.load_issue(issue_id)
        if issue is None:
            raise NotFound(f"no issue {issue_id}")
        return issue

    def history(self, issue_id: int) -> list[Event]:
        with self._tx(write=False) as tx:
            self.timezone(tx)
            events = tx.history(issue_id)
        if not events:
            raise NotFound(f"no issue {issue_id}")
        return events

    def summary(self) -> list[tuple[str, str, int]]:
        with self._tx(write=False) as tx:
            self.timezone(tx)
            return tx.count_by_village_state()

    # --- import -------------------------------------------------------------------------------
    def import_csv(self, path: Path) -> list[int]:
        """Every row or none: a bad row is refused with its row number."""
        try:
            with path.open(encoding="utf-8-sig", newline="") as f:
                rows = list(csv.reader(f))
        except OSError as e:
            raise BadFile(f"{path}: cannot read: {e.strerror}") from None
        except UnicodeDecodeError:
            raise BadFile(f"{path}: not UTF-8 text (save the sheet as CSV UTF-8)") from None
        except csv.Error as e:
            raise BadFile(f"{path}: not CSV: {e}") from None
        if not rows:
            raise BadFile(f"{path}: empty file")
        header = [h.strip().lower() for h in rows[0]]
        for need in ("title", "category", "village"):
            if need not in header:
                raise BadFile(f"{path}: row 1: missing column {need!r}")
        ignored = [h for h in header if h not in IMPORT_COLUMNS]
        if ignored:
            self.warnings.append(f"{path.name}: ignored column(s) {', '.join(ignored)}")
        index = {h: i for i, h in enumerate(header) if h in IMPORT_COLUMNS}
        with self._tx(write=True) as tx:
            loaded = self._load(tx)
            org = loaded.org
            actor = self._actor(org)
            if not org.may_add_issues(actor):
                raise NotPermitted(f"{actor} may not add issues: not a member of any group")
            wf = self.workflow(tx, loaded.current_workflow)
            now = self.now(loaded.tz)
            ctx = self._context(tx, wf, now, org.roles_of(actor))
            numbered = [
                (number, row) for number, row in enumerate(rows[1:], start=2)
                if any(cell.strip() for cell in row)
            ]
            if not numbered:
                raise BadFile(f"{path}: no rows to import")
            ids = tx.allocate_issue_ids(len(numbered))
            items: list[tuple[Issue, Event]] = []
            # hundreds of thousands of young objects: the cyclic collector would rescan them
            # all again and again without finding a cycle
            gc_was_on = gc.isenabled()
            gc.disable()
            try:
                for issue_id, (number, row) in zip(ids, numbered, strict=True):
                    try:
                        items.append(
                            self._import_row(issue_id, row, index, org, wf, ctx, loaded.tz))
                    except RectifyError as e:
                        raise type(e)(f"{path.name}: row {number}: {e}") from None
                tx.bulk_insert(items, self.recorded_at())
            finally:
                if gc_was_on:
                    gc.enable()
            self._warn_calendar(loaded.calendar)
        return ids

    def _import_row(
        self, issue_id: int, row: list[str], index: dict[str, int], org: Org, wf: Workflow,
        ctx: Context, tz: tzinfo,
    ) -> tuple[Issue, Event]:
        width = len(row)
        cells = {name: row[i].strip() for name, i in index.items() if i < width}

        def cell(name: str) -> str | None:
            return cells.get(name) or None

        listed_text = (cell("listed") or "").lower()
        if listed_text in _TRUE:
            listed = True
        elif listed_text in _FALSE:
            listed = False
        else:
            raise BadOption(f"listed {listed_text!r} is not yes/no")
        new = NewIssue(
            title=cell("title") or "",
            category=cell("category") or "",
            village=cell("village") or "",
            description=cell("description"),
            group=cell("group"),
            household=cell("household"),
            severity=cell("severity") or "medium",
            listed=listed,
        )
        check_new_issue(new)
        self._check_refs(org, new.village, new.group)
        state = cell("state")
        entered = cell("entered_at")
        assignee = cell("assignee")
        due = cell("due")
        extra: dict[str, Any] = {}
        if state is not None:
            if not wf.has_state(state):
                names = ", ".join(s.name for s in wf.states)
                raise BadOption(f"unknown state {state!r} (one of {names})")
            extra["state"] = state
        if entered is not None:
            when = parse_time(entered, "entered_at")
            when = when.replace(tzinfo=tz) if when.tzinfo is None else when
            if when > ctx.now:
                raise BadOption(f"entered_at {entered} is in the future")
            extra["entered_at"] = when.astimezone(UTC)
        if assignee is not None:
            if assignee not in org.people:
                raise NotFound(f"unknown person {assignee!r} for assignee")
            extra["assignee"] = assignee
        if due is not None:
            extra["due"] = parse_day(due, "due")
        if extra.get("state") is None:
            extra.setdefault("state", wf.initial)
        event = created_event(issue_id, new, ctx, imported=extra,
                              village_listed=org.units[new.village].listed)
        return evolve(None, event), event

    def list(
        self,
        state: str | None = None,
        village: str | None = None,
        assignee: str | None = None,
        overdue: bool = False,
    ) -> builtins.list[Issue]:
        with self._tx(write=False) as tx:
            tz = self.timezone(tx)
            final: tuple[str, ...] = ()
            now = None
            if overdue:
                loaded = self._load(tx)
                final = tuple(self.workflow(tx, loaded.current_workflow).final)
                now = self.now(tz)
            return tx.list_issues(
                IssueFilter(state=state, village=village, assignee=assignee,
                            overdue_at=now, final_states=final)
            )

    # --- escalations (the sweep) ----------------------------------------------------------
    def escalate(self, batch: int = 200) -> builtins.list[Escalation]:
        """One sweep at the clock's time: raise every level that has come due, once.

        Works through the due issues in batches, one transaction each; several processes may
        sweep at once (PostgreSQL: FOR UPDATE SKIP LOCKED; the unique key on (issue, stage
        visit, level) makes each escalation exactly once whatever the interleaving).
        """
        raised: builtins.list[Escalation] = []
        while True:
            with self._tx(write=True, fast=True) as tx:
                loaded = self._load(tx)
                now = self.now(loaded.tz)
                sup = SupervisionTx(tx)
                claimed = sup.claim_due(now, batch)
                for issue in claimed:
                    raised.extend(self._escalate_one(tx, sup, issue, now))
                self._warn_calendar(loaded.calendar)
            if len(claimed) < batch:
                return raised

    def _escalate_one(self, tx: Tx, sup: SupervisionTx, issue: Issue,
                      now: datetime) -> builtins.list[Escalation]:
        loaded = self._load(tx)
        wf = self.workflow(tx, issue.workflow)
        steps = esc.plan(loaded.calendar, wf.ladder, issue.due_at, issue.supervised)
        done = sup.raised_levels(issue.id, issue.stage_version)
        current = issue
        out: builtins.list[Escalation] = []
        recorded_at = self.recorded_at()
        for rung, moment in esc.come_due(steps, now, done):
            assert issue.due_at is not None
            people = esc.recipients(loaded.org, rung, issue.village, issue.assignee)
            status = esc.initial_status(rung.level)
            values = {
                "issue_id": issue.id, "stage": issue.state, "stage_version": issue.stage_version,
                "level": rung.level, "due_at": issue.due_at, "moment": moment, "raised_at": now,
                "recipients": people, "status": status,
            }
            new_id = sup.insert_escalation(values)
            if new_id is None:  # raised by another worker meanwhile
                done.add(rung.level)
                continue
            done.add(rung.level)
            nxt = esc.next_moment(steps, done)
            event = fact_event(current, "escalated", "system", now, {
                "escalation": new_id, "level": rung.level, "stage": issue.state,
                "recipients": list(people), "moment": moment.isoformat(),
                "due_at": issue.due_at.isoformat(),
                "next_escalation_at": nxt.isoformat() if nxt else None,
            })
            current = evolve(current, event)
            tx.append(event, recorded_at)
            raised = esc.Escalation(
                id=new_id, issue_id=issue.id, stage=issue.state,
                stage_version=issue.stage_version, level=rung.level, due_at=issue.due_at,
                moment=moment, raised_at=now, recipients=people, status=status)
            out.append(raised)
            self._tell(tx, self._notifier(tx).escalation(current, wf, raised, now), now)
        nxt = esc.next_moment(steps, done)
        if current.next_escalation_at != nxt:
            # the ladder moved under the pointer (e.g. the calendar was updated): say so in the
            # history, so that folding it still gives the row
            event = fact_event(current, "rescheduled", "system", now, {
                "due_at": issue.due_at.isoformat() if issue.due_at else None,
                "next_escalation_at": nxt.isoformat() if nxt else None})
            current = evolve(current, event)
            tx.append(event, recorded_at)
        if current != issue:
            sup.advance(current, issue.version)
        return out

    # --- leaders' commands on escalations ----------------------------------------------------
    def escalations(self, f: EscalationFilter) -> builtins.list[Escalation]:
        with self._tx(write=False) as tx:
            self.timezone(tx)
            return SupervisionTx(tx).escalations(f)

    def escalation(self, escalation_id: int) -> Escalation:
        with self._tx(write=False) as tx:
            self.timezone(tx)
            found = SupervisionTx(tx).escalation(escalation_id)
        if found is None:
            raise NotFound(f"no escalation {escalation_id}")
        return found

    def record_escalation(self, escalation_id: int, note: str,
                          attendees: Sequence[str] = (), decide: bool = False) -> Escalation:
        """Record an interview (约谈), or the party secretary's accountability decision."""
        if not note.strip():
            raise MissingField("--note is required")
        with self._tx(write=True) as tx:
            self._actor(self._load(tx).org)  # who asks is checked first
            sup = SupervisionTx(tx)
            found = sup.escalation(escalation_id, for_update=True)
            if found is None:
                raise NotFound(f"no escalation {escalation_id}")
            loaded, actor, issue, roles = self._acting_on(tx, found.issue_id)
            org = loaded.org
            if decide:
                if found.level != "accountability":
                    raise Refused(f"escalation {escalation_id} is a {found.level}: only an"
                                  " accountability case takes a decision")
                if "party_secretary" not in roles:
                    raise NotPermitted(f"{actor} may not decide accountability: only the town"
                                       " party secretary does")
                status, kind = "decided", "accountability_decided"
            else:
                if found.level != "interview":
                    raise Refused(f"escalation {escalation_id} is a {found.level}, not an"
                                  " interview" + (": use `escalation decide`"
                                                  if found.level == "accountability" else ""))
                if roles.isdisjoint({"liaison", "party_secretary"}):
                    raise NotPermitted(f"{actor} may not record this interview: it is for the"
                                       " village's liaison leader or the party secretary")
                status, kind = "recorded", "interview_recorded"
            if found.status != "open":
                raise Refused(f"escalation {escalation_id} is {found.status}, not open")
            for person in attendees:
                if person not in org.people:
                    raise NotFound(f"unknown person {person!r} for --with")
            now = self.now(loaded.tz)
            sup.close_escalation(escalation_id, status, now, actor, note, attendees)
            self._record(tx, issue, fact_event(issue, kind, actor, now, {
                "escalation": escalation_id, "note": note, "with": list(attendees)}))
            if not decide:
                wf = self.workflow(tx, issue.workflow)
                self._tell(tx, self._notifier(tx).interview_recorded(
                    issue, wf, found, note, actor, now), now)
            closed = sup.escalation(escalation_id)
        assert closed is not None
        return closed

    def _acting_on(self, tx: Tx, issue_id: int) -> tuple[Loaded, str, Issue, frozenset[str]]:
        """The loaded org, the actor, the issue (locked) and the actor's roles for it."""
        loaded = self._load(tx)
        actor = self._actor(loaded.org)
        issue = tx.load_issue(issue_id, for_update=True)
        if issue is None:
            raise NotFound(f"no issue {issue_id}")
        return loaded, actor, issue, loaded.org.roles_for_issue(actor, issue.village,
                                                                issue.assignee)

    def _record(self, tx: Tx, issue: Issue, event: Event,
                recorded_at: datetime | None = None) -> Issue:
        """Write an event and the issue row it gives, with the version check."""
        after = evolve(issue, event)
        tx.update_issue(after, issue.version)
        tx.append(event, recorded_at or self.recorded_at())
        return after

    def _next_escalation(self, tx: Tx, sup: SupervisionTx, issue: Issue, due: datetime | None,
                         listed: bool) -> str | None:
        """The ladder's next moment for this stage visit, levels already raised left out."""
        loaded = self._load(tx)
        wf = self.workflow(tx, issue.workflow)
        steps = esc.plan(loaded.calendar, wf.ladder, due, listed)
        nxt = esc.next_moment(steps, sup.raised_levels(issue.id, issue.stage_version))
        return nxt.isoformat() if nxt else None

    # --- extension requests (延期申请) -------------------------------------------------------
    def extend(self, issue_id: int, to: date, reason: str) -> Extension:
        if not reason.strip():
            raise MissingField("--reason is required")
        with self._tx(write=True) as tx:
            loaded, actor, issue, roles = self._acting_on(tx, issue_id)
            asker = "assignee" if issue.assignee else "village_secretary"
            if asker not in roles:
                who = "its assignee" if issue.assignee else "the village secretary"
                raise NotPermitted(f"{actor} may not ask to extend issue {issue_id}: {who} does")
            now = self.now(loaded.tz)
            if issue.due_at is None:
                raise Refused(f"issue {issue_id} has no deadline in state {issue.state!r}")
            if now >= issue.due_at:
                raise DeadlineRefused(f"issue {issue_id} was due {_local(issue.due_at, loaded.tz)}:"
                                      " an extension must be asked before the due moment")
            cal = loaded.calendar
            if cal.end_of(to) <= issue.due_at:
                raise DeadlineRefused(f"{to} is not later than the current due date")
            sup = SupervisionTx(tx)
            pending = sup.pending_extension(issue.id, issue.stage_version)
            if pending is not None:
                raise Refused(f"extension {pending.id} for issue {issue_id} is still pending")
            new_id = sup.insert_extension({
                "issue_id": issue.id, "stage": issue.state, "stage_version": issue.stage_version,
                "requested_by": actor, "requested_at": now, "old_due_at": issue.due_at,
                "to_date": to.isoformat(), "reason": reason, "status": "pending"})
            self._record(tx, issue, fact_event(issue, "extension_requested", actor, now, {
                "extension": new_id, "to": to.isoformat(), "reason": reason}))
            made = sup.extension(new_id)
        assert made is not None
        return made

    def decide_extension(self, extension_id: int, approve: bool,
                         note: str | None = None) -> Extension:
        with self._tx(write=True) as tx:
            self._actor(self._load(tx).org)  # who asks is checked first
            sup = SupervisionTx(tx)
            ext = sup.extension(extension_id, for_update=True)
            if ext is None:
                raise NotFound(f"no extension request {extension_id}")
            loaded, actor, issue, roles = self._acting_on(tx, ext.issue_id)
            if roles.isdisjoint({"liaison", "party_secretary"}):
                raise NotPermitted(f"{actor} may not decide extension {extension_id}: the"
                                   " village's liaison leader or the party secretary does")
            if ext.status != "pending":
                raise Refused(f"extension {extension_id} is {ext.status}, not pending")
            now = self.now(loaded.tz)
            payload: dict[str, Any] = {"extension": extension_id, "note": note}
            if approve:
                due = loaded.calendar.end_of(date.fromisoformat(ext.to_date))
                payload |= {"due_at": due.isoformat(), "next_escalation_at":
                            self._next_escalation(tx, sup, issue, due, issue.supervised)}
            kind = "extension_approved" if approve else "extension_denied"
            sup.decide_extension(extension_id, "approved" if approve else "denied", now, actor,
                                 note)
            after = self._record(tx, issue, fact_event(issue, kind, actor, now, payload))
            self._tell(tx, self._notifier(tx).extension(
                after, self.workflow(tx, issue.workflow), after.version, ext.to_date,
                "approved" if approve else "denied", note, ext.requested_by, now,
                reason=ext.reason), now)
            decided = sup.extension(extension_id)
            self._warn_calendar(loaded.calendar)
        assert decided is not None
        return decided

    def extensions(self, issue_id: int | None = None,
                   pending_only: bool = False) -> builtins.list[Extension]:
        with self._tx(write=False) as tx:
            self.timezone(tx)
            return SupervisionTx(tx).extensions(issue_id, pending_only)

    # --- listing a village (挂牌督战) -----------------------------------------------------------
    def list_village(self, village: str, listed: bool) -> builtins.list[int]:
        """List or unlist a village; its open issues follow the ladder that goes with it."""
        with self._tx(write=True) as tx:
            loaded = self._load(tx)
            org = loaded.org
            actor = self._actor(org)
            if org.roles_of(actor).isdisjoint({"party_secretary", "quality_supervision_leader"}):
                raise NotPermitted(f"{actor} may not list villages: the party secretary or the"
                                   " quality-supervision leader does")
            unit = org.units.get(village)
            if unit is None:
                raise NotFound(f"unknown village {village!r}")
            if unit.listed == listed:
                raise Refused(f"{village} is already {'listed' if listed else 'not listed'}")
            sup = SupervisionTx(tx)
            sup.set_village_listed(village, listed)
            now = self.now(loaded.tz)
            wf_current = self.workflow(tx, loaded.current_workflow)
            changed: builtins.list[int] = []
            recorded_at = self.recorded_at()
            for issue_id in sup.open_issue_ids(village, wf_current.final):
                issue = tx.load_issue(issue_id, for_update=True)
                assert issue is not None
                if issue.listed_by_village == listed:
                    continue
                nxt = self._next_escalation(tx, sup, issue, issue.due_at, issue.listed or listed)
                self._record(tx, issue, fact_event(
                    issue, "village_listed" if listed else "village_unlisted", actor, now,
                    {"village": village, "next_escalation_at": nxt}), recorded_at)
                changed.append(issue_id)
            self._loaded = None
            self._warn_calendar(loaded.calendar)
        return changed

    # --- the light ----------------------------------------------------------------------------
    def lights(self, issues: Sequence[Issue]) -> dict[int, str | None]:
        """Each issue's light at the clock's time (green, yellow, red; None when closed)."""
        if not issues:
            return {}
        with self._tx(write=False) as tx:
            tz = self.timezone(tx)
            cal = self._calendar(tx, tz)
            now = self.now(tz)
            out: dict[int, str | None] = {}
            for i in issues:
                wf = self.workflow(tx, i.workflow)
                out[i.id] = esc.issue_light(cal, wf.ladder, i, now, wf.is_final(i.state))
            return out


    # --- the outbox ---------------------------------------------------------------------------
    def outbox(self, statuses: Sequence[str] = (), issue_id: int | None = None
               ) -> builtins.list[OutboxEntry]:
        from engine.store.outbox import OutboxTx

        with self._tx(write=False) as tx:
            self.timezone(tx)
            return OutboxTx(tx).entries(statuses, issue_id=issue_id)

    def outbox_retry(self, row_id: int) -> OutboxEntry:
        """Put a dead or unknown row back in the queue, to be sent at the next pass."""
        from engine.store.outbox import OutboxTx

        with self._tx(write=True) as tx:
            now = self.now(self.timezone(tx))
            box = OutboxTx(tx)
            entry = box.entry(row_id)
            if entry is None:
                raise NotFound(f"no outbox message {row_id}")
            if entry.status not in ("dead", "unknown"):
                raise Refused(f"outbox message {row_id} is {entry.status}: only a dead or"
                              " unknown one is retried")
            box.mark(row_id, "pending", now, entry.last_error, now, attempts=0)
            again = box.entry(row_id)
        assert again is not None
        return again

    def dispatch(self) -> dict[str, builtins.list[int]]:
        """One pass of the dispatcher with the configured channels and templates."""
        from notifications.dispatch import build_channels, dispatch_pass
        from notifications.render import Renderer

        cfg = self.notification_config()
        channels = build_channels(cfg)
        renderer = Renderer(cfg.locale, cfg.templates)
        return dispatch_pass(self, cfg, channels, renderer).to_dict()

    # --- the meeting briefing (定期例会) ---------------------------------------------------------
    def briefing(self, since: datetime | None = None) -> dict[str, Any]:
        """Open issues by village and stage, what came overdue and what was cleared since the
        last briefing (or `since`), open interviews and accountability cases."""
        with self._tx(write=False) as tx:
            loaded = self._load(tx)
            tz, org, now = loaded.tz, loaded.org, self.now(loaded.tz)
            if since is None:
                last = tx.get_meta("last_briefing_at")
                since = datetime.fromisoformat(last) if last else now - timedelta(days=7)
            elif since.tzinfo is None:
                since = since.replace(tzinfo=tz)
            wf = self.workflow(tx, loaded.current_workflow)
            notifier = Notifier(org, loaded.calendar, tz, {}, self.notification_config().locale)
            issues = tx.list_issues(IssueFilter())
            by_village: dict[str, dict[str, int]] = {}
            newly_overdue, cleared = [], []
            for i in issues:
                if not wf.is_final(i.state):
                    counts = by_village.setdefault(i.village, {})
                    counts[i.state] = counts.get(i.state, 0) + 1
                    if i.due_at is not None and since <= i.due_at <= now:
                        newly_overdue.append(notifier.issue_context(i, wf, now))
                elif since <= i.stage_entered_at <= now:
                    cleared.append(notifier.issue_context(i, wf, now))
            sup = SupervisionTx(tx)
            open_cases = sup.escalations(EscalationFilter(open_only=True))
            by_id = {i.id: i for i in issues}

            def case(e: Escalation) -> dict[str, Any]:
                return {"issue": notifier.issue_context(by_id[e.issue_id], wf, now),
                        "recipients": [org.people[p].name for p in e.recipients
                                       if p in org.people],
                        "raised": _local(e.raised_at, tz)}

            return {
                "town": {"name": org.town.name},
                "recipient": {"name": "各位领导" if notifier.locale == "zh_CN" else "all"},
                "briefing": {
                    "since": _local(since, tz), "until": _local(now, tz),
                    "by_village": [
                        {"village_name": org.units[v].name if v in org.units else v,
                         "counts": {s.name: by_village[v][s.name] for s in wf.states
                                    if s.name in by_village[v]}}
                        for v in sorted(by_village)],
                    "newly_overdue": newly_overdue,
                    "cleared": cleared,
                    "open_interviews": [case(e) for e in open_cases
                                        if e.level == "interview" and e.issue_id in by_id],
                    "open_accountability": [case(e) for e in open_cases
                                            if e.level == "accountability"
                                            and e.issue_id in by_id],
                },
            }

    def send_briefing(self) -> int:
        """Queue the briefing for the configured leaders (the scheduler's cron job)."""
        context = self.briefing()
        with self._tx(write=True) as tx:
            loaded = self._load(tx)
            org, now = loaded.org, self.now(loaded.tz)
            cfg = self.notification_config()
            people: builtins.list[str] = []
            for who in cfg.briefing.to:
                found = [who] if who in org.people else [
                    p for u in org.units.values() for p in esc.holders(org, who, u.id, None)]
                people += [p for p in found if p not in people]
            notifier = Notifier(org, loaded.calendar, loaded.tz, cfg.routing, cfg.locale)
            # the minute of the cron slot: schedulers firing the same slot queue it once
            stamp = now.astimezone(loaded.tz).strftime("%Y-%m-%dT%H:%M")
            rows = notifier._rows("briefing", people, f"briefing:{stamp}", context, None)
            self._tell(tx, rows, now)
            tx.set_meta("last_briefing_at", now.isoformat())
        return len(rows)


def _local(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")
