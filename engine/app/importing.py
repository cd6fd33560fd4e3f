"""Importing a ledger (CSV, UTF-8): every row or none; every bad row is named at once, with
its number, and nothing is imported.

Columns (header names, any order, case-insensitive): title, category, village (required),
group, household, severity, description, listed, state, entered_at, assignee, plan, due,
verified_by, verified_at. Other columns are ignored with a warning. A row enters its state
only with what the workflow's path to that state needs, from an importer who could have put
it there (`guards.entry_problems`).
"""

from __future__ import annotations

import csv
import gc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from engine.app.issues import check_refs, context
from engine.app.moments import parse_day, parse_time
from engine.app.session import Session
from engine.domain.decide import Context, Entry, created_event
from engine.domain.events import Event
from engine.domain.guards import Entered, entry_problems
from engine.domain.issue import Issue, NewIssue, check_new_issue, check_text, evolve
from engine.domain.org import Org
from engine.domain.workflow import Workflow
from engine.errors import (
    BadFile,
    BadOption,
    Malformed,
    NotFound,
    NotPermitted,
    RectifyError,
    Refused,
)

COLUMNS = (
    "title", "category", "village", "group", "household", "severity", "description", "listed",
    "state", "entered_at", "assignee", "plan", "due", "verified_by", "verified_at",
)
_TRUE = {"1", "true", "yes", "y", "是", "x", "✓"}
_FALSE = {"", "0", "false", "no", "n", "否"}


def import_csv(s: Session, path: Path) -> list[int]:
    """Every row or none: a bad row is refused with its row number. The new issues' ids."""
    header, numbered = _read(path)
    ignored = [h for h in header if h not in COLUMNS]
    if ignored:
        s.warnings.append(f"{path.name}: ignored column(s) {', '.join(ignored)}")
    index = {h: i for i, h in enumerate(header) if h in COLUMNS}
    with s.transaction(write=True) as tx:
        org = s.org(tx)
        actor = s.actor_in(org)
        if not org.may_add_issues(actor):
            raise NotPermitted(f"{actor} may not add issues: not a member of any group")
        wf = s.current_workflow(tx)
        ctx = context(s, tx, wf, actor, org.roles_of(actor))
        if not numbered:
            raise BadFile(f"{path}: no rows to import")
        ids = tx.issues.allocate_ids(len(numbered))
        rows = _Rows(index, org, wf, ctx, s.timezone(tx))
        items: list[tuple[Issue, Event]] = []
        refused: list[tuple[int, RectifyError]] = []
        # hundreds of thousands of young objects: the cyclic collector would rescan them all
        # again and again without finding a cycle
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            for issue_id, (number, row) in zip(ids, numbered, strict=True):
                try:
                    items.append(rows.item(issue_id, row))
                except RectifyError as e:
                    refused.append((number, e))
            if refused:
                raise _all_refused(path, refused)
            tx.issues.insert_many([i for i, _ in items])
            recorded = s.recorded_at()
            tx.flush()
            tx.history.write([(e, recorded) for _, e in items])
        finally:
            if gc_was_on:
                gc.enable()
        s.warn_calendar()
    return ids


MAX_LEDGER_BYTES = 256 << 20
"""The largest ledger file read (a million rows of a town's ledger fit in a quarter of it)."""
_SHOWN = 20
"""Rows named in one refusal (the count says how many more)."""


def _all_refused(path: Path, refused: list[tuple[int, RectifyError]]) -> RectifyError:
    """One error naming every refused row: malformed (exit 2) if any row is, else refused."""
    kind = next((type(e) for _, e in refused if isinstance(e, Malformed)), type(refused[0][1]))
    told = "; ".join(f"row {n}: {e}" for n, e in refused[:_SHOWN])
    more = f"; and {len(refused) - _SHOWN} more" if len(refused) > _SHOWN else ""
    rows = "row" if len(refused) == 1 else "rows"
    return kind(f"{path.name}: {len(refused)} {rows} refused, nothing imported: {told}{more}")


def _read(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header (lower case) and the non-empty rows with their row numbers."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise BadFile(f"{path}: cannot read: {e.strerror}") from None
    if size > MAX_LEDGER_BYTES:
        raise BadFile(f"{path}: larger than {MAX_LEDGER_BYTES >> 20} MiB, the limit for a"
                      " ledger (split it)")
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
    numbered = [(number, row) for number, row in enumerate(rows[1:], start=2)
                if any(cell.strip() for cell in row)]
    return header, numbered


@dataclass
class _Rows:
    """Turns ledger rows into new issues with their first events."""

    index: dict[str, int]
    org: Org
    wf: Workflow
    ctx: Context
    tz: tzinfo

    def item(self, issue_id: int, row: list[str]) -> tuple[Issue, Event]:
        width = len(row)
        cells = {name: row[i].strip() for name, i in self.index.items() if i < width}

        def cell(name: str) -> str | None:
            return cells.get(name) or None

        new = NewIssue(
            title=cell("title") or "", category=cell("category") or "",
            village=cell("village") or "", description=cell("description"),
            group=cell("group"), household=cell("household"),
            severity=cell("severity") or "medium", listed=_yes_no(cell("listed")))
        check_new_issue(new)
        check_refs(self.org, new.village, new.group)
        entry = self._entry(cell)
        problems = entry_problems(self.wf, self.org, self.ctx.calendar, self.ctx.actor, Entered(
            entry.state, new.village, entry.entered_at, entry.assignee, entry.plan, entry.due,
            entry.verified_by, entry.verified_at))
        if problems:
            raise Refused("; ".join(problems))
        event = created_event(issue_id, new, self.ctx, entry,
                              village_listed=self.org.units[new.village].listed)
        return evolve(None, event), event

    def _entry(self, cell: Callable[[str], str | None]) -> Entry:
        state = cell("state")
        entered, assignee, due = cell("entered_at"), cell("assignee"), cell("due")
        wf, now = self.wf, self.ctx.now
        if state is not None and not wf.has_state(state):
            names = ", ".join(x.name for x in wf.states)
            raise BadOption(f"unknown state {state!r} (one of {names})")
        when = now if entered is None else self._moment(entered, "entered_at")
        verified_by, verified = cell("verified_by"), cell("verified_at")
        for who, name in ((assignee, "assignee"), (verified_by, "verified_by")):
            check_text(name, who)
            if who is not None and who not in self.org.people:
                raise NotFound(f"unknown person {who!r} for {name}")
        plan = cell("plan")
        check_text("plan", plan)
        return Entry(state=state or wf.initial, entered_at=when, assignee=assignee,
                     due=parse_day(due, "due") if due is not None else None, plan=plan,
                     verified_by=verified_by,
                     verified_at=None if verified is None else self._moment(verified,
                                                                            "verified_at"))

    def _moment(self, text: str, name: str) -> datetime:
        given = parse_time(text, name)
        given = given.replace(tzinfo=self.tz) if given.tzinfo is None else given
        if given > self.ctx.now:
            raise BadOption(f"{name} {text} is in the future")
        return given.astimezone(UTC)


def _yes_no(text: str | None) -> bool:
    value = (text or "").lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadOption(f"listed {value!r} is not yes/no")
