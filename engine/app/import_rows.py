"""A ledger's rows into new issues with their first events, or their problems (for
`importing`): each cell read by its column's reader, each row checked as the workflow asks.

Rows alike (the same category, village, group, severity, listing and stage entry: state,
since when, assignee, due date, a plan or not, verification) share what was worked out for
the first of them: its checks (`entry_problems`, the references), its due moment and ladder
pointer (the working-day calendar), its payload and row; only their id and free text (title,
description, household, plan) differ. `Rows(alike=False)` works out each row on its own
(the reference the tests compare the shared answers with).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, tzinfo
from operator import itemgetter
from typing import Any

from engine.app import moments
from engine.app.issues import check_refs
from engine.app.sheet_reading import Row
from engine.domain import sheet_values as values
from engine.domain import text
from engine.domain.decide import Context, Entry, created_event
from engine.domain.events import Event
from engine.domain.guards import Entered, entry_problems
from engine.domain.issue import (
    CATEGORIES,
    ISSUE_FIELDS,
    SEVERITIES,
    Issue,
    NewIssue,
    check_choices,
    evolve,
)
from engine.domain.org import Org
from engine.domain.records import slotted
from engine.domain.sheet_columns import REQUIRED, Columns, letter
from engine.domain.workflow import Workflow
from engine.errors import BadOption, RectifyError, Refused

FREE = ("title", "household", "description", "plan")
"""The columns of free text: read and checked cell by cell (no two titles alike)."""


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


@dataclass(frozen=True)
class Readers:
    """How each column's cells are read into a field's value (None: left empty); a moment
    (entered_at, verified_at) in UTC, refused when after `ctx.now`."""

    read: Mapping[str, Callable[[values.Cell], Any]]

    @classmethod
    def of(cls, org: Org, wf: Workflow, ctx: Context, tz: tzinfo,
           remember: bool = True) -> Readers:
        """`remember`: each reader but the free text's asks once per distinct text."""
        from notifications.labels import LABELS

        def labels(kind: str) -> list[Mapping[str, str]]:
            return [LABELS[lang][kind] for lang in LABELS]

        villages, people, groups = values.villages(org), values.people(org), values.groups(org)
        categories = values.Choice.of("category", CATEGORIES, labels("category"))
        severities = values.Choice.of("severity", SEVERITIES, labels("severity"))
        states = values.Choice.of("state", [x.name for x in wf.states], labels("stage"))
        dates = values.Dates(values.default_year(org, ctx.now.astimezone(tz)),
                             moments.FIRST_YEAR, moments.LAST_YEAR, values.year_turns(org))

        def named(find: Callable[[str], str]) -> Callable[[values.Cell], str | None]:
            def read(cell: values.Cell) -> str | None:
                value = values.text(cell)
                return None if value is None else find(value)
            return read

        def free(name: str) -> Callable[[values.Cell], str | None]:
            kind = text.kind_of(name)
            limit, refused = kind.limit, kind.refused

            def read(cell: values.Cell) -> str | None:
                value = (cell.strip() or None) if type(cell) is str else values.text(cell)
                if value is not None and (len(value) > limit or refused.search(value)):
                    text.check(name, value)  # refused, naming what is wrong
                return value
            return read

        def dated(read: Callable[[values.Cell], Any]) -> Callable[[values.Cell], Any]:
            def maybe(cell: values.Cell) -> Any:
                return None if values.text(cell) is None else read(cell)
            return maybe

        def moment(cell: values.Cell) -> datetime:
            given = dates.moment(cell)
            given = given.replace(tzinfo=tz) if given.tzinfo is None else given
            if given > ctx.now:
                raise BadOption("in the future")
            return given.astimezone(UTC)

        read: dict[str, Callable[[values.Cell], Any]] = {
            "village": named(villages.find), "assignee": named(people.find),
            "verified_by": named(people.find),
            "group": named(lambda v: values.group_id(groups, v)),
            "category": named(categories.find), "severity": named(severities.find),
            "state": named(states.find), "listed": values.yes_no,
            "due": dated(dates.day), "entered_at": dated(moment),
            "verified_at": dated(moment),
        }
        if remember:
            read = {name: values.remembered(r) for name, r in read.items()}
        return cls({**{name: free(name) for name in FREE}, **read})


def fields_of(issue: Issue) -> list[Any]:
    """An issue's fields in the order of the dataclass (`Issue(*fields)` makes it again)."""
    return [getattr(issue, n) for n in ISSUE_FIELDS]


_EVENT_FIELDS = tuple(f.name for f in fields(Event))
_AT_ID, _AT_PAYLOAD = _EVENT_FIELDS.index("issue_id"), _EVENT_FIELDS.index("payload")


_new_event = slotted(Event)
_AT_ISSUE_ID, _AT_TITLE, _AT_DESCRIPTION, _AT_HOUSEHOLD, _AT_PLAN = (
    ISSUE_FIELDS.index(n) for n in ("id", "title", "description", "household", "plan"))
"""What rows alike differ in: their id and free text (an issue's fields of those names)."""


@dataclass(frozen=True, slots=True)
class Cells:
    """What a row's cells other than the free text say: the values read, the problems (at
    row 0: the caller numbers them, with each one's place among the row's columns), and how
    rows alike are known (the values that decide a row's checks and deadlines)."""

    got: dict[str, Any]
    faults: list[tuple[int, Problem]]
    incomplete: bool
    """A required column (category, village) is left empty."""
    alike: tuple[Any, ...]


KNOWN_MOST = 100_000
"""How many distinct rows of cells (other than free text) are kept with what they say."""


@dataclass
class Rows:
    """Turns ledger rows into new issues with their first events, or their problems."""

    columns: Columns
    org: Org
    wf: Workflow
    ctx: Context
    readers: Readers
    alike: bool = True
    """Rows alike share the first one's answers (see the module's doc)."""
    text_cells: bool = False
    """Every cell is text (a CSV file's): rows whose other cells are the same text say the
    same (a workbook's cells may be numbers, flags or dates: 1 == True, so they are read)."""
    entries: dict[tuple[Any, ...], list[str]] = field(default_factory=dict)
    """entry_problems' answers for rows alike (see _made)."""
    shapes: dict[tuple[Any, ...], list[Problem] | tuple[list[Any], list[Any], dict[str, Any]]
                 ] = field(default_factory=dict)
    """The first row of each kind of rows alike: its problems, or its issue's fields, its
    event's fields and its payload."""
    known: dict[Any, Cells] = field(default_factory=dict)
    """What rows of the same text (but the free text's) say: their other cells as the key."""
    free: list[tuple[int, str, int, Callable[[values.Cell], Any]]] = field(init=False)
    other: list[tuple[int, str, int, Callable[[values.Cell], Any]]] = field(init=False)
    pick: Callable[[Row], Any] = field(init=False)
    reach: int = field(init=False)

    def __post_init__(self) -> None:
        read = self.readers.read
        placed = [(pos, name, k, read[name])
                  for pos, (name, k) in enumerate(self.columns.index.items())]
        self.free = [p for p in placed if p[1] in FREE]
        self.other = [p for p in placed if p[1] not in FREE]
        ks = [k for _, _, k, _ in self.other]
        self.pick = itemgetter(*ks)
        self.reach = max(ks) + 1

    def item(self, issue_id: int, number: int, row: Row
             ) -> tuple[list[Any], Event] | list[Problem]:
        """The new issue's fields (in the order of `Issue`'s) and its first event, or the
        row's problems."""
        width = len(row)
        got, faults = self._read(self.free, row, width)
        cells = self._cells(row, width)
        if faults or cells.faults or cells.incomplete or got.get("title") is None:
            return self._problems(number, got, cells, faults)
        if not self.alike:
            made = self._made(issue_id, number, {**cells.got, **got})
            return made if isinstance(made, list) else (fields_of(made[0]), made[1])
        plan = got.get("plan")
        key = (cells.alike, plan is not None)
        shape = self.shapes.get(key)
        if shape is None:
            made = self._made(issue_id, number, {**cells.got, **got})
            if isinstance(made, list):
                self.shapes[key] = made
                return made
            issue, event = made
            self.shapes[key] = (fields_of(issue), [getattr(event, n) for n in _EVENT_FIELDS],
                                dict(event.payload))
            return fields_of(issue), event
        if isinstance(shape, list):  # not from free text: no title here is blank
            return [Problem(number, p.why, p.kind) for p in shape]
        issue_fields, event_fields, first = shape
        title, description, household = got["title"], got.get("description"), got.get("household")
        payload = first.copy()
        payload["title"] = title
        payload["description"] = description
        payload["household"] = household
        if plan is not None:
            payload["plan"] = plan
        row_fields = issue_fields.copy()
        row_fields[_AT_ISSUE_ID] = issue_id
        row_fields[_AT_TITLE] = title
        row_fields[_AT_DESCRIPTION] = description
        row_fields[_AT_HOUSEHOLD] = household
        row_fields[_AT_PLAN] = plan
        event_row = event_fields.copy()
        event_row[_AT_ID] = issue_id
        event_row[_AT_PAYLOAD] = payload
        return row_fields, _new_event(event_row)

    def _read(self, readers: list[tuple[int, str, int, Callable[[values.Cell], Any]]], row: Row,
              width: int
              ) -> tuple[dict[str, Any], list[tuple[int, Problem]]]:
        """The values the `readers` (position, name, column, reader) read from the row's
        cells, and the problems found (with the position of their column)."""
        got: dict[str, Any] = {}
        faults: list[tuple[int, Problem]] = []
        for pos, name, k, read in readers:
            cell = row[k] if k < width else None
            try:
                got[name] = read(cell)
            except RectifyError as e:
                faults.append((pos, self._fault(e, k, cell)))
        return got, faults

    def _fault(self, e: RectifyError, k: int, cell: values.Cell) -> Problem:
        return Problem(0, str(e), type(e), k, self.columns.headers[k], values.text(cell) or "")

    def _cells(self, row: Row, width: int) -> Cells:
        """What the row's cells but the free text's say (known already for rows alike)."""
        key = None
        if self.alike and self.text_cells and width >= self.reach:
            key = self.pick(row)
            found = self.known.get(key)
            if found is not None:
                return found
        got, faults = self._read(self.other, row, width)
        g = got.get
        found = Cells(got, faults, any(g(n) is None for n in REQUIRED if n not in FREE),
                      (g("category"), g("village"), g("group"), g("severity"), g("listed"),
                       g("state"), g("entered_at"), g("assignee"), g("due"),
                       g("verified_by"), g("verified_at")))
        if key is not None and len(self.known) < KNOWN_MOST:
            self.known[key] = found
        return found

    def _problems(self, number: int, got: dict[str, Any], cells: Cells,
                  faults: list[tuple[int, Problem]]) -> list[Problem]:
        """Every problem of the row's cells in the order of its columns, then each required
        column left empty (that has no problem of its own)."""
        problems = [replace(p, row=number)
                    for _, p in sorted(faults + cells.faults, key=lambda f: f[0])]
        headers = self.columns.headers
        for name in REQUIRED:
            if (got if name in FREE else cells.got).get(name) is None:
                k = self.columns.index[name]
                if not any(p.column == k for p in problems):
                    problems.append(Problem(number, f"{name} missing", BadOption, k,
                                            headers[k]))
        return problems

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
