"""Importing a ledger as offices keep it (an Excel workbook or CSV): every row or none; every
problem of the sheet is told at once, with its cell (sheet, row, column, value, why), and
nothing is imported unless all rows are good.

The file is read by `sheet_reading` (cells), its header row found and its columns named by
`sheet_columns` with the alias table workflows/columns.yaml (Chinese or English headers), its
values read by `sheet_values` (names, labels, 是/否, dates as offices write them), its rows
made into issues and their `imported` events by `import_rows` (rows alike worked out once). A
row enters its state only with what the workflow's path to that state needs, from an importer
who could have put it there (`guards.entry_problems`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, cast

from engine.app.cycles import no_cycle_collection
from engine.app.import_rows import Problem, Readers, Rows
from engine.app.issues import context
from engine.app.session import Session
from engine.app.sheet_reading import MAX_LEDGER_BYTES, Row, Sheet, open_sheet
from engine.domain import sheet_values as values
from engine.domain.events import Event
from engine.domain.issue import Issue
from engine.domain.sheet_columns import HEADER_ROWS, REQUIRED, Aliases, Columns, header_row
from engine.errors import BadFile, Malformed, NotPermitted, RectifyError, told

__all__ = ["MAX_LEDGER_BYTES", "Imported", "import_csv", "import_ledger"]

_SHOWN = 20
"""Problems named in the one-line message (the CLI prints every one on its own line)."""


@dataclass(frozen=True)
class Imported:
    """What an import brought in (or, dry, would): each issue with its row of the sheet."""

    file: str
    sheet: str
    rows: list[int]
    made: list[list[Any]] = field(repr=False)
    """Each issue's fields, in the order of `Issue`'s (the issues are made when asked for)."""
    dry_run: bool = False

    @cached_property
    def issues(self) -> list[Issue]:
        return [Issue(*f) for f in self.made]

    @property
    def ids(self) -> list[int]:
        return [] if self.dry_run else [f[0] for f in self.made]  # an issue's first field


def import_csv(s: Session, path: Path) -> list[int]:
    """Every row or none (a workbook or CSV file). The new issues' ids."""
    with no_cycle_collection():  # what was made is gone before the collector runs again
        return import_ledger(s, path).ids


def import_ledger(s: Session, path: Path, sheet: str | None = None, dry_run: bool = False,
                  aliases: Aliases | None = None, alike: bool = True) -> Imported:
    """Every row of the sheet or none; `dry_run`: what would be imported, nothing written;
    `alike`: rows alike share the checks and deadlines worked out for the first of them
    (False: each row is worked out on its own, with the same result; see `import_rows`)."""
    with no_cycle_collection():
        return _import(s, path, sheet, dry_run, aliases, alike)


def _import(s: Session, path: Path, sheet: str | None, dry_run: bool, aliases: Aliases | None,
            alike: bool) -> Imported:
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
        rows = Rows(columns, org, wf, ctx, Readers.of(org, wf, ctx, tz, remember=alike),
                    alike=alike, text_cells=opened.text_only)
        items: list[tuple[list[Any], Event]] = []
        problems: list[Problem] = []
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
    if sheet.text_only:  # a cell of text is empty when it is only white space
        return columns, [(n, r) for n, r in rows if "".join(cast(list[str], r)).strip()]
    return columns, [(n, r) for n, r in rows if any(values.text(c) is not None
                                                    for c in r)]
