"""A ledger file as rows of cells: an Excel workbook (.xlsx, openpyxl read-only, streamed) or
CSV text in UTF-8 (with or without BOM) or GB18030 (which GBK is a part of), told apart by
their bytes. Nothing here knows what the columns mean."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.domain.sheet_values import Cell
from engine.errors import BadFile, BadOption

MAX_LEDGER_BYTES = 256 << 20
"""The largest ledger file read (a million rows of a town's ledger fit in a quarter of it)."""
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0"  # an .xls workbook of Excel 97–2003


Row = Sequence[Cell]


@dataclass
class Sheet:
    """One sheet: its name (a CSV file's name) and its rows, numbered from 1, read once."""

    name: str
    rows: Iterator[tuple[int, Row]]
    close: Callable[[], None] | None = None
    encoding: str | None = None
    """How a CSV file was read (utf-8 or gb18030); None for a workbook."""
    text_only: bool = False
    """Every cell is text (a CSV file's; a workbook's may be numbers, dates or flags)."""


def open_sheet(path: Path, sheet: str | None = None) -> Sheet:
    """The sheet to import: `sheet` of a workbook (default its first), or a CSV file."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as e:
        raise BadFile(f"{path}: cannot read: {e.strerror}") from None
    if size > MAX_LEDGER_BYTES:
        raise BadFile(f"{path}: larger than {MAX_LEDGER_BYTES >> 20} MiB, the limit for a"
                      " ledger (split it)")
    if head.startswith(_OLE):
        raise BadFile(f"{path}: an Excel 97–2003 workbook (.xls): save it as .xlsx or CSV")
    if head.startswith(_ZIP):
        return _workbook(path, sheet)
    if sheet is not None:
        raise BadOption(f"--sheet {sheet!r}: {path.name} is CSV, which has one sheet")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise BadFile(f"{path}: not an Excel workbook")
    return _csv(path)


def _workbook(path: Path, sheet: str | None) -> Sheet:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError) as e:
        raise BadFile(f"{path}: not an Excel workbook ({type(e).__name__})") from None
    names = book.sheetnames
    if sheet is None:
        if not names:
            book.close()
            raise BadFile(f"{path}: a workbook without sheets")
        name = names[0]
    elif sheet in names:
        name = sheet
    else:
        book.close()
        raise BadOption(f"--sheet {sheet!r}: no such sheet in {path.name} (its sheets:"
                        f" {', '.join(names)})")
    ws = book[name]

    def rows() -> Iterator[tuple[int, Row]]:
        try:
            # values_only rows come one per row from the first, empty ones included
            yield from enumerate(ws.iter_rows(values_only=True), start=1)
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError, EOFError) as e:
            raise BadFile(f"{path}: sheet {name!r} cannot be read ({type(e).__name__})"
                          ) from None

    return Sheet(name, rows(), book.close)


def _csv(path: Path) -> Sheet:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise BadFile(f"{path}: cannot read: {e.strerror}") from None
    encoding = "utf-8"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        encoding = "gb18030"
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            raise BadFile(f"{path}: neither UTF-8 nor GB18030/GBK text (save the sheet as"
                          " CSV UTF-8)") from None
    del raw

    def rows() -> Iterator[tuple[int, Row]]:
        try:
            yield from enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
        except csv.Error as e:
            raise BadFile(f"{path}: not CSV: {e}") from None

    return Sheet(path.name, rows(), encoding=encoding, text_only=True)
