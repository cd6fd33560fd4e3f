"""The ledger (台账) to take away: each issue as an office writes it in its spreadsheet, with
who verified it, when its rectification was due, its light and how many working days it is
overdue, now or as it stood at a moment (replayed from the history), and the village × stage
counts with the clearance rate.

`open_ledger` reads the town's definitions and the filters in one read transaction; its
`rows` then stream in another (one snapshot), a batch of issues at a time, counting the
summary as they go: the summary is complete once the rows are exhausted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from itertools import groupby
from typing import Any

from engine.app.audit import calendar_at
from engine.app.issues import VOIDED
from engine.app.session import Session
from engine.app.verify import ISSUE_ID, UNREADABLE
from engine.domain import audit as a
from engine.domain.calendar import WorkingCalendar
from engine.domain.escalation import issue_light
from engine.domain.events import TOWN
from engine.domain.issue import Issue, check_text, payload_moment
from engine.domain.org import Org
from engine.domain.workflow import Workflow
from engine.errors import BadOption, Refused
from engine.store.audit_reads import Reads
from engine.store.dialect import decode_time
from engine.store.ledger_reads import LedgerReads
from engine.store.rows import json_value
from notifications.labels import LABELS

VERIFY = "verify"
"""The transition whose actor is the issue's verifier (验收人)."""
FIX = "fix"
"""The transition of an on-the-spot fix: its actor answers for an issue without assignee."""
VERIFIED = ("verified", "cleared")
"""The stages in which the verifier is shown (verified, or cleared after it)."""
_ONE_DAY = timedelta(days=1)


@dataclass(slots=True)
class Row:
    """One line of the ledger."""

    issue: Issue
    light: str | None
    verified_by: str | None = None
    verified_at: datetime | None = None
    rectify_by: date | None = None
    """整改时限: the last day of the stage whose deadline is a date given (研究 → 整改)."""
    overdue_days: int | None = None
    """Working days past the stage's due moment (None: not overdue)."""
    answerable: str | None = None
    """责任人: the assignee; for an issue fixed on the spot (立行立改, no assignee) who fixed
    it."""


@dataclass
class Rate:
    """One line of the summary: counts per stage, the issues not voided, those cleared, and
    the clearance rate (cleared ÷ not voided; None when there are none)."""

    village: str | None
    """None: the whole town."""
    counts: dict[str, int]
    total: int
    cleared: int

    @property
    def rate(self) -> float | None:
        return self.cleared / self.total if self.total else None


@dataclass
class Ledger:
    town: str
    tz: tzinfo
    moment: datetime
    """The ledger's moment: --as-of, or now."""
    as_of: bool
    exported_at: datetime
    stages: list[str]
    """The workflow's stages in order, the voided left out (the summary's columns)."""
    stage_labels: dict[str, str]
    """The workflow's own label of each stage (for a stage the labels table lacks)."""
    villages: list[str]
    """The summary's rows: the villages asked for, else every unit of the org."""
    cleared: tuple[str, ...]
    rows: Iterator[Row] = field(default_factory=lambda: iter(()))
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    """(village, state) → issues among the rows read so far."""

    def summary(self) -> list[Rate]:
        """Village by village, then the town (call once the rows are exhausted)."""
        out = [self._rate(v, {st: n for (vv, st), n in self.counts.items() if vv == v})
               for v in self.villages]
        town: dict[str, int] = {}
        for (_v, st), n in self.counts.items():
            town[st] = town.get(st, 0) + n
        return [*out, self._rate(None, town)]

    def _rate(self, village: str | None, counts: dict[str, int]) -> Rate:
        total = sum(n for st, n in counts.items() if st not in VOIDED)
        return Rate(village, counts, total, sum(counts.get(st, 0) for st in self.cleared))


@dataclass(frozen=True)
class Narrowed:
    """The web ledger page's other filters (resolved ids), the same in the export."""

    categories: tuple[str, ...] = ()
    light: str | None = None
    supervised: bool = False
    search: str | None = None


def open_ledger(s: Session, as_of: datetime | None = None, villages: Sequence[str] = (),
                states: Sequence[str] = (), more: Narrowed = Narrowed()) -> Ledger:
    """The ledger now (the issues table) or as it stood at `as_of` (the history replayed),
    of the villages (id or name) and states (id or label) given, each any of them; the voided
    left out unless asked for by state; `more`: the web page's other filters."""
    check_text("search", more.search)
    with s.transaction(write=False) as tx:
        tz = s.timezone(tx)
        org = s.org(tx)
        wf = s.current_workflow(tx)
        village_ids = [village_of(org, v) for v in villages]
        state_ids = [state_of(wf, st) for st in states]
        moment = as_of if as_of is not None else s.now(tx)
        cleared = tuple(st for st in wf.final if st not in VOIDED)
    ledger = Ledger(
        town=org.town.name, tz=tz, moment=moment, as_of=as_of is not None,
        exported_at=s.app.clock.now(), stages=[x.name for x in wf.states
                                                if x.name not in VOIDED],
        stage_labels={x.name: x.label for x in wf.states},
        villages=list(dict.fromkeys(village_ids)) or list(org.units), cleared=cleared)
    wanted = (tuple(dict.fromkeys(village_ids)), tuple(dict.fromkeys(state_ids)))
    rows = (_replayed(s, ledger, as_of, *wanted, more) if as_of is not None
            else _current(s, ledger, *wanted, more))
    ledger.rows = rows
    return ledger


def village_of(org: Org, given: str) -> str:
    """A village by its id or its name (a name two units share is refused, naming them)."""
    text = given.strip()
    if text in org.units:
        return text
    named = [u.id for u in org.units.values() if u.name == text]
    if len(named) == 1:
        return named[0]
    if named:
        raise BadOption(f"--village {text!r} names several villages ({', '.join(named)}):"
                        " give the id")
    raise BadOption(f"--village: unknown village {text!r}")


def state_of(wf: Workflow, given: str) -> str:
    """A stage by its id or its label (the labels table's, Chinese or English, or the
    workflow's own)."""
    text = given.strip()
    if wf.has_state(text):
        return text
    for lang in LABELS.values():
        for name, label in lang["stage"].items():
            if label == text and wf.has_state(name):
                return name
    for st in wf.states:
        if st.label and st.label == text:
            return st.name
    raise BadOption(f"--state: unknown stage {text!r} (one of"
                    f" {', '.join(x.name for x in wf.states)})")


# --- the rows -----------------------------------------------------------------------------
@dataclass(slots=True)
class Facts:
    """What an issue's history says beyond its row: its verifier and the rectification's
    due moment (fed its history rows in version order)."""

    dated: frozenset[str]
    """Stages whose deadline is a date given (their due moment is the rectification's)."""
    state: str | None = None
    verified_by: str | None = None
    verified_at: datetime | None = None
    rectify_by: datetime | None = None
    fixed_by: str | None = None

    def see(self, row: Sequence[Any]) -> None:
        """One history row (HISTORY_COLUMNS)."""
        kind = row[3]
        if kind == "transition" or kind == "imported" or kind == "created":
            self.state = row[6] or self.state
            if kind == "transition" and row[4] == VERIFY:
                self.verified_by, self.verified_at = row[7], decode_time(row[8])
            elif kind == "transition" and row[4] == FIX:
                self.fixed_by = row[7]
            if self.state in self.dated or kind == "imported":
                p = json_value(row[10])
                if self.state in self.dated:
                    self.rectify_by = payload_moment(p.get("due_at"))
                if kind == "imported" and p.get("verified_by"):
                    self.verified_by = p["verified_by"]
                    self.verified_at = payload_moment(p.get("verified_at"))
        elif kind in ("extension_approved", "reassigned") and self.state in self.dated:
            self.rectify_by = payload_moment(json_value(row[10]).get("due_at"))


class _Telling:
    """The light and the working days overdue of issues at one moment."""

    def __init__(self, s: Session, tx: Any, calendar: WorkingCalendar, moment: datetime
                 ) -> None:
        self.s, self.tx, self.cal, self.moment = s, tx, calendar, moment
        self.today = calendar.local_date(moment)
        self.workflows: dict[str, Workflow] = {}
        self.overdue: dict[datetime, int] = {}

    def row(self, issue: Issue, facts: Facts) -> Row:
        wf = self.workflows.get(issue.workflow)
        if wf is None:
            wf = self.workflows[issue.workflow] = self.s.workflow(self.tx, issue.workflow)
        final = wf.is_final(issue.state)
        out = Row(issue, issue_light(self.cal, wf.ladder, issue, self.moment, final))
        due = issue.due_at
        if not final and due is not None and self.moment >= due:
            days = self.overdue.get(due)
            if days is None:
                days = self.overdue[due] = max(0, self.cal.working_days_between(
                    self.cal.day_of_due(due) - _ONE_DAY, self.today))
            out.overdue_days = days
        rectify_by = issue.due_at if issue.state in facts.dated else facts.rectify_by
        if rectify_by is not None:
            out.rectify_by = self.cal.day_of_due(rectify_by) - _ONE_DAY
        if issue.state in VERIFIED:
            out.verified_by, out.verified_at = facts.verified_by, facts.verified_at
        out.answerable = issue.assignee or facts.fixed_by
        return out


def _dated(wf: Workflow) -> frozenset[str]:
    return frozenset(x.name for x in wf.states
                     if x.deadline is not None and x.deadline.from_field is not None)


def _current(s: Session, ledger: Ledger, villages: tuple[str, ...], states: tuple[str, ...],
             more: Narrowed) -> Iterator[Row]:
    """The ledger now: the issues table a batch at a time, each batch's facts from its
    history in one read."""
    counts = ledger.counts
    with s.transaction(write=False) as tx:
        reads = LedgerReads(tx)  # first: on PostgreSQL it sets the snapshot
        dated = _dated(s.current_workflow(tx))
        tell = _Telling(s, tx, s.calendar(tx), ledger.moment)
        for batch in reads.issue_batches(states, villages, VOIDED, more.categories,
                                         more.supervised, more.search):
            wanted = [i.id for i in batch if i.version > 1 or i.state in VERIFIED]
            facts: dict[int, Facts] = {}
            for issue_id, group in groupby(reads.facts_of(wanted), key=_key):
                f = facts[issue_id] = Facts(dated)
                for event in group:
                    f.see(event)
            for issue in batch:
                line = tell.row(issue, facts.get(issue.id, Facts(dated)))
                if more.light is not None and line.light != more.light:
                    continue
                key = (issue.village, issue.state)
                counts[key] = counts.get(key, 0) + 1
                yield line


def _replayed(s: Session, ledger: Ledger, as_of: datetime, villages: tuple[str, ...],
              states: tuple[str, ...], more: Narrowed) -> Iterator[Row]:
    """The ledger as it stood at `as_of`: each issue's history up to then, folded as
    `audit replay` folds it, the same events telling its facts."""
    counts = ledger.counts
    with s.transaction(write=False) as tx:
        r = Reads(tx)
        dated = _dated(s.current_workflow(tx))
        tell = _Telling(s, tx, calendar_at(s, tx, as_of), as_of)
        for issue_id, group in groupby(r.events(until=as_of), key=_key):
            if issue_id == TOWN:
                continue
            replay, facts = a.Replay(), Facts(dated)
            try:
                r.fold(replay, _seen(group, facts))
            except UNREADABLE as e:
                raise Refused(f"the history cannot be replayed ({e}):"
                              " run `rectify audit verify`") from None
            issue = replay.issue
            if issue is None or (villages and issue.village not in villages):
                continue
            if (issue.state not in states) if states else (issue.state in VOIDED):
                continue
            if not _narrowed(issue, more):
                continue
            row = tell.row(issue, facts)
            if more.light is not None and row.light != more.light:
                continue
            key = (issue.village, issue.state)
            counts[key] = counts.get(key, 0) + 1
            yield row


def _narrowed(issue: Issue, more: Narrowed) -> bool:
    """Whether a replayed issue passes the page's other filters (as the SQL does)."""
    if more.categories and issue.category not in more.categories:
        return False
    if more.supervised and not issue.supervised:
        return False
    if more.search:
        needle = more.search.lower()
        return any(needle in (text or "").lower()
                   for text in (issue.title, issue.household, issue.description))
    return True


def _seen(rows: Iterable[tuple[Any, ...]], facts: Facts) -> Iterator[tuple[Any, ...]]:
    """The rows, each told to `facts` once the fold has taken it (a row the fold stops at,
    after a gap, is not)."""
    for row in rows:
        yield row
        facts.see(row)


_key = ISSUE_ID
