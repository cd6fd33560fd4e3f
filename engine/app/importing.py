"""Importing a ledger as offices keep it (an Excel workbook or CSV): every row or none; every
problem of the sheet is told at once, with its cell (sheet, row, column, value, why), and
nothing is imported unless all rows are good.

The file is read by `sheet_reading` (cells), its header row found and its columns named by
`sheet_columns` with the alias table workflows/columns.yaml (Chinese or English headers), its
values read by `sheet_values` (names, labels, 是/否, dates as offices write them). A row
enters its state only with what the workflow's path to that state needs, from an importer who
could have put it there (`guards.entry_problems`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

from engine.app import moments
from engine.app.issues import check_refs, context
from engine.app.session import Session
from engine.app.sheet_reading import MAX_LEDGER_BYTES, Row, Sheet, open_sheet
from engine.domain import sheet_values as values
from engine.domain.decide import Context, Entry, created_event
from engine.domain.events import Event
from engine.domain.guards import Entered, entry_problems
from engine.domain.issue import (
    CATEGORIES,
    SEVERITIES,
    Issue,
    NewIssue,
    check_choices,
    evolve,
)
from engine.domain.org import Org
from engine.domain.sheet_columns import (
    HEADER_ROWS,
    REQUIRED,
    Aliases,
    Columns,
    header_row,
    letter,
)
from engine.domain.text import check as check_text
from engine.domain.workflow import Workflow
from engine.errors import (
    BadFile,
    BadOption,
    Malformed,
    NotPermitted,
    RectifyError,
    Refused,
    told,
)

__all__ = ["MAX_LEDGER_BYTES", "Imported", "import_csv", "import_ledger"]

_SHOWN = 20
"""Problems named in the one-line message (the CLI prints every one on its own line)."""


@dataclass(frozen=True)
class Imported:
    """What an import brought in (or, dry, would): each issue with its row of the sheet."""

    file: str
    sheet: str
    rows: list[int]
    issues: list[Issue]
    dry_run: bool = False

    @property
    def ids(self) -> list[int]:
        return [] if self.dry_run else [i.id for i in self.issues]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a sheet: at a cell (`column` given) or with a whole row."""

    row: int
    why: str
    kind: type[RectifyError]
    column: int | None = None
    header: str = ""
    value: str = ""

    def line(self, sheet: str) -> str:
        if self.column is None:
            return f"{sheet} row {self.row}: {self.why}"
        value = self.value if len(self.value) <= 40 else self.value[:40] + "…"
        return f"{sheet}!{letter(self.column)}{self.row} ({self.header}) {value!r}: {self.why}"


def import_csv(s: Session, path: Path) -> list[int]:
    """Every row or none (a workbook or CSV file). The new issues' ids."""
    return import_ledger(s, path).ids


def import_ledger(s: Session, path: Path, sheet: str | None = None, dry_run: bool = False,
                  aliases: Aliases | None = None) -> Imported:
    """Every row of the sheet or none; `dry_run`: what would be imported, nothing written."""
    if aliases is None:
        from engine.config.columns import default

        aliases = default()
    opened = open_sheet(path, sheet)
    try:
        columns, numbered = _read(opened, path, aliases)
    finally:
        if opened.close is not None:
            opened.close()
    if columns.unknown:
        s.warnings.append(f"{path.name}: ignored column(s) {', '.join(columns.unknown)}")
    if columns.repeated:
        s.warnings.append(f"{path.name}: column(s) {', '.join(columns.repeated)} ignored:"
                          " the same field is in a column before")
    with s.transaction(write=not dry_run) as tx:
        org = s.org(tx)
        actor = s.actor_in(org)
        if not org.may_add_issues(actor):
            raise NotPermitted(f"{actor} may not add issues: not a member of any group")
        if not numbered:
            raise BadFile(f"{path}: no rows to import")
        wf = s.current_workflow(tx)
        ctx = context(s, tx, wf, actor, org.roles_of(actor))
        tz = s.timezone(tx)
        ids = (list(range(1, len(numbered) + 1)) if dry_run
               else tx.issues.allocate_ids(len(numbered)))
        rows = _Rows(columns, org, wf, ctx, tz, _Readers.of(org, wf, ctx.now.astimezone(tz)))
        items: list[tuple[Issue, Event]] = []
        problems: list[Problem] = []
        # hundreds of thousands of young objects: the cyclic collector would rescan them all
        # again and again without finding a cycle
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            for issue_id, (number, row) in zip(ids, numbered, strict=True):
                made = rows.item(issue_id, number, row)
                if isinstance(made, list):
                    problems += made
                elif not problems:
                    items.append(made)
            if problems:
                raise _all_refused(path, opened.name, problems)
            if not dry_run:
                tx.issues.insert_many([i for i, _ in items])
                recorded = s.recorded_at()
                tx.flush()
                tx.history.write([(e, recorded) for _, e in items])
        finally:
            if gc_was_on:
                gc.enable()
        s.warn_calendar()
    return Imported(path.name, opened.name, [n for n, _ in numbered], [i for i, _ in items],
                    dry_run)


def _all_refused(path: Path, sheet: str, problems: list[Problem]) -> RectifyError:
    """One error naming every problem: malformed (exit 2) if any is, else refused (exit 1)."""
    kind = next((p.kind for p in problems if issubclass(p.kind, Malformed)), problems[0].kind)
    n = len(problems)
    head = f"{n} {'problem' if n == 1 else 'problems'} in {path.name}, nothing imported"
    return told(kind, head, [p.line(sheet) for p in problems], _SHOWN)


def _read(sheet: Sheet, path: Path, aliases: Aliases
          ) -> tuple[Columns, list[tuple[int, Row]]]:
    """The header row, and the non-empty rows below it with their numbers."""
    top: list[tuple[int, Row]] = []
    for number, row in sheet.rows:
        top.append((number, row))
        if len(top) == HEADER_ROWS:
            break
    if not top:
        raise BadFile(f"{path}: empty file")
    columns = header_row(top, aliases)
    if columns is None:
        read_as = " (not UTF-8, so read as GB18030/GBK)" if sheet.encoding == "gb18030" else ""
        raise BadFile(f"{path}: sheet {sheet.name!r}{read_as}: no header row in its first"
                      f" {HEADER_ROWS} rows (a row naming at least the title and the village,"
                      " e.g. 问题 and 村, or title and village): row 1: missing column 'title'"
                      " or 'village'")
    for need in REQUIRED:
        if need not in columns.index:
            raise BadFile(f"{path}: row {columns.row}: missing column {need!r}")
    rows = [(n, r) for n, r in top if n > columns.row]
    rows += sheet.rows
    return columns, [(n, r) for n, r in rows if any(values.text(c) is not None
                                                    for c in r)]


@dataclass(frozen=True)
class _Readers:
    """How each column's cells are read into a field's value (None: left empty)."""

    read: Mapping[str, Callable[[values.Cell], Any]]

    @classmethod
    def of(cls, org: Org, wf: Workflow, now: datetime) -> _Readers:
        from notifications.labels import LABELS

        def labels(kind: str) -> list[Mapping[str, str]]:
            return [LABELS[lang][kind] for lang in LABELS]

        villages, people, groups = values.villages(org), values.people(org), values.groups(org)
        categories = values.Choice.of("category", CATEGORIES, labels("category"))
        severities = values.Choice.of("severity", SEVERITIES, labels("severity"))
        states = values.Choice.of("state", [x.name for x in wf.states], labels("stage"))
        dates = values.Dates(values.default_year(org, now), moments.FIRST_YEAR,
                             moments.LAST_YEAR, values.year_turns(org))

        def named(find: Callable[[str], str]) -> Callable[[values.Cell], str | None]:
            def read(cell: values.Cell) -> str | None:
                value = values.text(cell)
                return None if value is None else find(value)
            return read

        def free(name: str) -> Callable[[values.Cell], str | None]:
            def read(cell: values.Cell) -> str | None:
                value = values.text(cell)
                check_text(name, value)
                return value
            return read

        def dated(read: Callable[[values.Cell], Any]) -> Callable[[values.Cell], Any]:
            def maybe(cell: values.Cell) -> Any:
                return None if values.text(cell) is None else read(cell)
            return maybe

        return cls({
            "title": free("title"), "household": free("household"),
            "description": free("description"), "plan": free("plan"),
            "village": named(villages.find), "assignee": named(people.find),
            "verified_by": named(people.find),
            "group": named(lambda v: values.group_id(groups, v)),
            "category": named(categories.find), "severity": named(severities.find),
            "state": named(states.find), "listed": values.yes_no,
            "due": dated(dates.day), "entered_at": dated(dates.moment),
            "verified_at": dated(dates.moment),
        })


@dataclass
class _Rows:
    """Turns ledger rows into new issues with their first events, or their problems."""

    columns: Columns
    org: Org
    wf: Workflow
    ctx: Context
    tz: tzinfo
    readers: _Readers
    entries: dict[tuple[Any, ...], list[str]] = field(default_factory=dict)
    """entry_problems' answers for rows alike (see _made)."""

    def item(self, issue_id: int, number: int, row: Row
             ) -> tuple[Issue, Event] | list[Problem]:
        got: dict[str, Any] = {}
        problems: list[Problem] = []
        width = len(row)
        headers = self.columns.headers
        read = self.readers.read
        for name, k in self.columns.index.items():
            cell = row[k] if k < width else None
            try:
                got[name] = value = read[name](cell)
                if name in ("entered_at", "verified_at") and value is not None:
                    got[name] = self._moment(value)
            except RectifyError as e:
                problems.append(Problem(number, str(e), type(e), k, headers[k],
                                        values.text(cell) or ""))
        for name in REQUIRED:
            k = self.columns.index[name]
            if got.get(name) is None and not any(p.column == k for p in problems):
                problems.append(Problem(number, f"{name} missing", BadOption, k, headers[k]))
        if problems:
            return problems
        return self._made(issue_id, number, got)

    def _made(self, issue_id: int, number: int, got: dict[str, Any]
              ) -> tuple[Issue, Event] | list[Problem]:
        new = NewIssue(
            title=got["title"], category=got["category"], village=got["village"],
            description=got.get("description"), group=got.get("group"),
            household=got.get("household"), severity=got.get("severity") or "medium",
            listed=bool(got.get("listed")))
        try:  # the text rule was kept by each cell's reader; ids come from known names
            check_choices(new)
            check_refs(self.org, new.village, new.group)
        except RectifyError as e:
            return [Problem(number, str(e), type(e))]
        due: date | None = got.get("due")
        entry = Entry(state=got.get("state") or self.wf.initial,
                      entered_at=got.get("entered_at") or self.ctx.now,
                      assignee=got.get("assignee"), due=due, plan=got.get("plan"),
                      verified_by=got.get("verified_by"), verified_at=got.get("verified_at"))
        entered = Entered(entry.state, new.village, entry.entered_at, entry.assignee,
                          entry.plan, entry.due, entry.verified_by, entry.verified_at)
        # without a due date or a verification, what a row may enter does not depend on
        # when it entered: the answer for rows alike is kept
        alike = (None if entry.due is not None or entry.verified_at is not None
                 else (entry.state, new.village, entry.assignee, bool(entry.plan),
                       entry.verified_by))
        found = self.entries.get(alike) if alike is not None else None
        if found is None:
            found = entry_problems(self.wf, self.org, self.ctx.calendar, self.ctx.actor,
                                   entered)
            if alike is not None:
                self.entries[alike] = found
        if found:
            return [Problem(number, why, Refused) for why in found]
        event = created_event(issue_id, new, self.ctx, entry,
                              village_listed=self.org.units[new.village].listed)
        return evolve(None, event), event

    def _moment(self, given: datetime) -> datetime:
        given = given.replace(tzinfo=self.tz) if given.tzinfo is None else given
        if given > self.ctx.now:
            raise BadOption("in the future")
        return given.astimezone(UTC)


