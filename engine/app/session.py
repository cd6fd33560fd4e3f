"""The application's two objects: the `App` (what `engine.bootstrap.build` wires once per
process) and the `Session` (one command: who acts, when, and what it has read).

Every handler of `engine.app` takes a Session as its first argument and runs in one
transaction (a sweep or a dispatch pass: one per batch). A Session is made per command (a CLI
run, a web request, a scheduler job) and is never changed by a handler: actor and time are
given when it is made. What it reads once — the town's time zone, the org, the working
calendar, the current workflow — is kept in its `Definitions`, which a later session of the
same process may share (`Session.next`) until a handler that changes them resets them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.clock import Clock, SystemClock
from engine.domain.accounts import Policy
from engine.domain.calendar import CalendarData, WorkingCalendar
from engine.domain.clock_rules import DRILL, LIVE, check_clock, check_order
from engine.domain.events import TOWN, Event
from engine.domain.org import NO_NAMES, Names, Org
from engine.domain.workflow import Workflow
from engine.errors import (
    BadConfig,
    BadOption,
    NotFound,
    NotInitialized,
    NotPermitted,
    RectifyError,
    Refused,
)
from engine.store.unit_of_work import Store, Tx

if TYPE_CHECKING:
    from engine.statemachine import WorkflowMachine
    from notifications.config import Config

_system_now = partial(datetime.now, UTC)
"""The system's time, as SystemClock tells it (`recorded_at`: every event written asks)."""
DEFAULT_TZ = "Asia/Shanghai"
EVIDENCE_LIMIT = 50 << 20
"""The largest evidence file taken unless `--evidence-limit` says otherwise (50 MiB)."""


_OS_USER: list[str] = []


def os_user() -> str:
    """The operating-system user running this process ("?" when it cannot be told); asked
    once per process."""
    if not _OS_USER:
        import getpass

        try:
            _OS_USER.append(getpass.getuser())
        except (KeyError, OSError):
            _OS_USER.append("?")
    return _OS_USER[0]


@contextmanager
def configuration_errors() -> Iterator[None]:
    """The notifications package's ConfigError (a file, a template, a channel's setting)
    told as the application's own BadConfig (exit 2), at this one boundary."""
    from notifications.errors import ConfigError

    try:
        yield
    except ConfigError as e:
        raise BadConfig(str(e)) from None


@dataclass
class App:
    """The wired parts of one process: the store, the evidence folder, the clock, the
    notification configuration (read when first needed) and the registered workflows (which
    never change once registered)."""

    store: Store
    data_dir: Path
    clock: Clock = field(default_factory=SystemClock)
    config_path: Path | None = None
    config_given: Config | None = None
    evidence_limit: int = EVIDENCE_LIMIT
    """The largest evidence file taken, in bytes (`--evidence-limit`)."""
    account_clock: Clock = field(default_factory=SystemClock)
    """The clock of credentials (engine.app.accounts: lockout, throttle, session and token
    times): the real time, even in a drill and whatever a session's `--now` says (a drill's
    time is a fiction for the rules of issues, not for who may sign in). Tests drive it."""
    account_policy: Policy = field(default_factory=Policy)
    """The numbers of the account rules and the password hashing's cost (tests: CHEAP)."""
    workflows: dict[str, Workflow] = field(default_factory=dict)
    machines: dict[str, WorkflowMachine] = field(default_factory=dict)
    memo: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """Reads kept with the mark they were read at (e.g. the ledger's counts with the last
    event's seq), for a long-running process (the web) to skip repeating them."""

    def config(self) -> Config:
        """The notification configuration: given, or --config / RECTIFY_CONFIG /
        ./rectify.toml, or console only. A malformed file is refused (exit 2)."""
        if self.config_given is None:
            from notifications.config import load

            with configuration_errors():
                self.config_given = load(self.config_path)
        return self.config_given

    def session(self, actor: str | None = None, at: datetime | None = None,
                channel: str = "cli", definitions: Definitions | None = None,
                backfill: str | None = None) -> Session:
        """A session for one command by `actor` at `at` (None: the clock's time; a naive
        time is town time); `backfill`: why a live database is given a time in the past."""
        return Session(self, actor, at, channel, definitions or Definitions(),
                       backfill=backfill)

    def close(self) -> None:
        self.store.close()


@dataclass
class Definitions:
    """What a session reads once: the town's zone, the org, the calendar, the current
    workflow's key. Reset by the handlers that change them (init, listing a village)."""

    tz: tzinfo | None = None
    org: Org | None = None
    calendar: WorkingCalendar | None = None
    current_workflow: str | None = None
    mode: str | None = None
    """live or drill (an unmarked database counts as live)."""
    names: Names | None = None
    """The org's names, for human output."""
    stamps: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    """Each door's stamp made so far, by channel and back-fill reason (`Session.stamp`):
    the sessions of one process share them (nothing changes a stamp)."""

    def reset(self) -> None:
        self.tz = self.org = self.calendar = self.current_workflow = self.mode = None
        self.names = None


@dataclass
class Session:
    """One command: the app it runs on, who acts, at what time, through which door."""

    app: App
    actor: str | None
    at: datetime | None
    """The command's moment (`--now`): None for the clock's time; naive means town time."""
    channel: str
    """cli | web | api | scheduler: where the command came from."""
    defs: Definitions
    warnings: list[str] = field(default_factory=list)
    """What the command should tell besides its result (e.g. a year without holiday data)."""
    backfill: str | None = None
    """Why this command enters the past in a live database (kept in its events)."""
    _stamp: dict[str, str] | None = field(default=None, repr=False, compare=False)

    @property
    def store(self) -> Store:
        return self.app.store

    def next(self, actor: str | None = None, at: datetime | None = None,
             backfill: str | None = None) -> Session:
        """A session for the next command of the same process, sharing what this one read
        (a demo or a test script: nothing else changes the org between them)."""
        return Session(self.app, actor, at, self.channel, self.defs, self.warnings,
                       backfill=backfill)

    def transaction(self, write: bool, fast: bool = False) -> AbstractContextManager[Tx]:
        """One transaction of the app's store (see Store.transaction). A write transaction
        admits its events through the rules about time and stamps them with the door."""
        if not write:
            return self.app.store.transaction(write=write, fast=fast)
        return self.app.store.transaction(write=True, fast=fast, prepare=self._prepare)

    def _prepare(self, tx: Tx) -> None:
        tx.stamp = self.stamp()
        tx.admit = partial(self._admit, tx)

    def stamp(self) -> dict[str, str]:
        """What every event of this session keeps of its door: the channel, the
        operating-system user (for the CLI and the scheduler) and a back-fill's reason (made
        once per session)."""
        if self._stamp is not None:
            return self._stamp
        backfill = self.backfill.strip() if self.backfill and self.at is not None else ""
        key = (self.channel, backfill)  # a back-fill's reason only with a --now given
        out = self.defs.stamps.get(key)
        if out is None:
            out = self.defs.stamps[key] = {"channel": self.channel}
            if self.channel in ("cli", "scheduler"):
                out["user"] = os_user()
            if backfill:
                out["backfill"] = backfill
        self._stamp = out
        return out

    def _admit(self, tx: Tx, events: Sequence[tuple[Event, datetime]]) -> None:
        """The rules about time, for every event however it was made: a live database's
        clock neither runs ahead nor enters the past unexplained; an issue's events never go
        back in time."""
        live = self.mode(tx) != DRILL
        tz = self.timezone(tx)
        last: dict[int, datetime] = {}
        for e, recorded in events:
            if live:  # a drill's clock is free
                check_clock(live, e.at, recorded, self.backfill, tz)
            if e.issue_id == TOWN:
                continue
            if e.version > 1:
                previous = last.get(e.issue_id)
                if previous is None:  # the issue's row brought it, else the history tells
                    previous = tx.event_times.get((e.issue_id, e.version - 1)) \
                        or tx.history.at_of(e.issue_id, e.version - 1)
                if previous is not None and e.at < previous:  # else in order
                    check_order(e.issue_id, e.at, previous, tz)
            last[e.issue_id] = e.at

    def is_drill(self) -> bool:
        """Whether the database is a drill (read now if not yet read; False when it cannot
        be read, e.g. before `init`)."""
        if self.defs.mode is None:
            try:
                with self.transaction(write=False) as tx:
                    self.mode(tx)
            except RectifyError:
                return False
        return self.defs.mode == DRILL

    def mode(self, tx: Tx) -> str:
        """live or drill (read once; a database not yet marked counts as live)."""
        if self.defs.mode is None:
            self.defs.mode = tx.definitions.get_meta("mode") or LIVE
        return self.defs.mode

    # --- time ---------------------------------------------------------------------------------
    def now(self, tx: Tx) -> datetime:
        """The rules' clock: the session's moment (a naive one in town time) or the app's."""
        if self.at is None:
            return self.app.clock.now()
        if self.at.tzinfo is None:
            return self.at.replace(tzinfo=self.timezone(tx)).astimezone(UTC)
        return self.at.astimezone(UTC)

    @staticmethod
    def recorded_at() -> datetime:
        """When an event is written: always the real time, whatever the rules' clock says,
        so that back-dated entries show."""
        return _system_now()

    def timezone(self, tx: Tx) -> tzinfo:
        """The town's time zone (read once)."""
        if self.defs.tz is None:
            self.defs.tz = ZoneInfo(tx.org.timezone() or DEFAULT_TZ)
        return self.defs.tz

    def zone(self) -> tzinfo:
        """The town's time zone, read now if this session has not read it yet."""
        if self.defs.tz is None:
            with self.transaction(write=False) as tx:
                self.timezone(tx)
        return self.town_tz

    def today(self) -> date:
        """The day it is in the town at the session's moment (`--now`, else the app's clock:
        a drill's clock in a drill), read without a transaction once the zone is known."""
        tz = self.zone()
        at = self.at if self.at is not None else self.app.clock.now()
        return (at.replace(tzinfo=tz) if at.tzinfo is None else at).astimezone(tz).date()

    def countdown(self) -> tuple[str, date, int | None] | None:
        """The campaign's countdown at the session's moment: (name, end, days left; None once
        ended), or None without a campaign (or before `init`)."""
        found = self.names().campaign
        if found is None:
            return None
        return found.name, found.end, found.days_left(self.today())

    @property
    def town_tz(self) -> tzinfo:
        """The town's time zone once the session has read it (UTC before that)."""
        return self.defs.tz or UTC

    # --- what decisions need --------------------------------------------------------------------
    def org_now(self) -> Org:
        """The org, read now if this session has not read it yet."""
        if self.defs.org is not None:
            return self.defs.org
        with self.transaction(write=False) as tx:
            return self.org(tx)

    def org(self, tx: Tx) -> Org:
        if self.defs.org is None:
            org = tx.org.load()
            self.defs.org = org
            self.defs.tz = ZoneInfo(org.town.timezone)
        return self.defs.org

    def names(self) -> Names:
        """The org's names of people, villages and group leaders, for human output: from the
        org when this session read it, else read now (NO_NAMES before `init`)."""
        if self.defs.names is None:
            if self.defs.org is not None:
                self.defs.names = self.defs.org.names()
            else:
                try:
                    with self.transaction(write=False) as tx:
                        self.defs.names = tx.org.names()
                except RectifyError:
                    return NO_NAMES
        return self.defs.names

    def calendar(self, tx: Tx) -> WorkingCalendar:
        """The working calendar from the database (read once)."""
        if self.defs.calendar is None:
            d = tx.definitions
            days = d.calendar_days()
            years = json.loads(d.get_meta("calendar_years") or "[]")
            data = CalendarData(
                off_days=frozenset(day for day, k in days if k == "off"),
                make_up_days=frozenset(day for day, k in days if k == "work"),
                known_years=frozenset(int(y) for y in years))
            self.defs.calendar = WorkingCalendar(data, self.timezone(tx))
        return self.defs.calendar

    def current_workflow(self, tx: Tx) -> Workflow:
        """The workflow new issues follow."""
        if self.defs.current_workflow is None:
            key = tx.definitions.get_meta("workflow")
            if key is None:
                raise NotInitialized("the database has no workflow: run `rectify init`")
            self.defs.current_workflow = key
        return self.workflow(tx, self.defs.current_workflow)

    def final_states(self, tx: Tx) -> tuple[str, ...]:
        """Every state a registered workflow calls final (an issue there is closed)."""
        return tuple(sorted({st for key, _digest, _body in tx.definitions.workflow_rows()
                             for st in self.workflow(tx, key).final}))

    def workflow(self, tx: Tx, key: str) -> Workflow:
        """A registered workflow version (kept for the life of the app: it never changes)."""
        wf = self.app.workflows.get(key)
        if wf is None:
            body = tx.definitions.workflow_body(key)
            if body is None:
                raise NotFound(f"workflow {key} is not registered in this database")
            try:
                wf = Workflow.from_dict(json.loads(body))
            except (ValueError, KeyError, TypeError, AttributeError):
                raise Refused(f"the stored workflow {key} is damaged: run `rectify audit"
                              " verify`") from None
            self.app.workflows[key] = wf
        return wf

    def machine(self, wf: Workflow) -> WorkflowMachine:
        """The workflow's state machine (built once per app: `transitions` loads only when a
        command needs it)."""
        machine = self.app.machines.get(wf.key)
        if machine is None:
            from engine.statemachine import machine_for

            machine = self.app.machines[wf.key] = machine_for(wf)
        return machine

    def actor_in(self, org: Org) -> str:
        """Who acts, known to the org; refused otherwise."""
        if not self.actor:
            raise BadOption("say who you are: --as PERSON (or RECTIFY_USER)")
        if self.actor not in org.people:
            raise NotPermitted(f"unknown person {self.actor!r}: not in the org")
        return self.actor

    def warn_calendar(self) -> None:
        """Warn once about years the calendar had no data for (counted Monday to Friday)."""
        cal = self.defs.calendar
        if cal is None or not cal.fallback_years:
            return
        years = ", ".join(str(y) for y in sorted(cal.fallback_years))
        msg = (f"no holiday data for {years}: counted Monday to Friday as working days"
               " (add a local calendar with `rectify init --holidays FILE`)")
        if msg not in self.warnings:
            self.warnings.append(msg)
        cal.fallback_years.clear()
