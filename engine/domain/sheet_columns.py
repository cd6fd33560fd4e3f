"""A ledger sheet's columns: which header names which field (the alias table, data kept in
workflows/columns.yaml), and which of the sheet's first rows is the header row."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

FIELDS = (
    "title", "category", "village", "group", "household", "severity", "description", "listed",
    "state", "entered_at", "assignee", "plan", "due", "verified_by", "verified_at",
)
"""The fields a ledger row may give (an imported issue and how it enters the workflow)."""
NEEDED = ("title", "village")
"""What a row must name to be the header row."""
REQUIRED = ("title", "category", "village")
"""The columns a ledger must have."""
HEADER_ROWS = 10
"""How many of a sheet's first rows are looked at for the header row."""


def normal(header: object) -> str:
    """A header as it is compared: NFKC, no white space, case-folded ('' for an empty cell)."""
    if header is None:
        return ""
    text = unicodedata.normalize("NFKC", str(header))
    return "".join(text.split()).casefold()


@dataclass(frozen=True)
class Aliases:
    """Which header names which field."""

    names: Mapping[str, str]
    """A normal header → its field."""
    fallbacks: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """A field → the normal headers that name it when no header of its own is present."""
    ignored: frozenset[str] = frozenset()

    @classmethod
    def of(cls, columns: Mapping[str, Sequence[str]],
           fallbacks: Mapping[str, Sequence[str]] | None = None,
           ignored: Iterable[str] = ()) -> Aliases:
        """From the table as written; a header named twice or a field not known is refused
        with ValueError (the reader tells it with the file's line)."""
        names: dict[str, str] = {}
        for name, headers in columns.items():
            if name not in FIELDS:
                raise ValueError(f"unknown field {name!r} (one of {', '.join(FIELDS)})")
            for h in [name, *headers]:
                key = normal(h)
                if names.get(key, name) != name:
                    raise ValueError(f"header {h!r} names both {names[key]} and {name}")
                names[key] = name
        kept = {name: frozenset(normal(h) for h in hs) for name, hs in (fallbacks or {}).items()}
        for name in kept:
            if name not in FIELDS:
                raise ValueError(f"unknown field {name!r} (one of {', '.join(FIELDS)})")
        return cls(names, kept, frozenset(normal(h) for h in ignored))


@dataclass(frozen=True)
class Columns:
    """The header row of a sheet as read: where each field is, and what was left out."""

    row: int
    """The header row's number (1-based)."""
    index: Mapping[str, int]
    """A field → its column (0-based)."""
    headers: Mapping[int, str]
    """A column (0-based) → its header as written (for telling where a problem is)."""
    unknown: tuple[str, ...] = ()
    """Headers that name no field and are not ignored (a warning)."""
    repeated: tuple[str, ...] = ()
    """Headers of a field already given by a column before them (a warning)."""


def columns_of(cells: Sequence[object], aliases: Aliases, row: int = 1) -> Columns:
    """What the header row `cells` says: the first column naming a field gives it."""
    index: dict[str, int] = {}
    headers: dict[int, str] = {}
    unknown: list[str] = []
    repeated: list[str] = []
    for k, cell in enumerate(cells):
        key = normal(cell)
        if not key:
            continue
        shown = " ".join(str(cell).split())
        headers[k] = shown
        name = aliases.names.get(key)
        if name is None:
            if key not in aliases.ignored:
                unknown.append(shown)
        elif name in index:
            repeated.append(shown)
        else:
            index[name] = k
    for name, others in aliases.fallbacks.items():
        if name in index:
            continue
        for k, shown in headers.items():
            if normal(shown) in others:
                took = next((f for f, i in index.items() if i == k), None)
                if took is not None:
                    del index[took]
                index[name] = k
                break
    return Columns(row, index, headers, tuple(unknown), tuple(repeated))


def header_row(rows: Iterable[tuple[int, Sequence[object]]], aliases: Aliases
               ) -> Columns | None:
    """The first of the rows (number, cells) that names every NEEDED field, or None."""
    for number, cells in rows:
        found = columns_of(cells, aliases, number)
        if all(name in found.index for name in NEEDED):
            return found
    return None


def letter(column: int) -> str:
    """A column's letters as a spreadsheet names it: 0 → A, 25 → Z, 26 → AA."""
    out = ""
    n = column + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(ord("A") + r) + out
    return out
