"""The ledger as a township office keeps it: an Excel workbook (台账 and 汇总 with its chart)
or a CSV file, with the same headers and values, in the office's words: names and Chinese
labels, never ids (but the issue's number and its group's).

The workbook is written by openpyxl in write-only mode: rows go to the file as the ledger
streams them, so memory holds one batch of issues, not the town. CSV cells go through
`reports.csv_row` (a text a spreadsheet would run gets a leading `'`). Either is written to a
temporary file beside the target and renamed over it: a failed export leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from engine.app.ledger import Ledger, Row
from engine.errors import BadFile
from engine.reports import BOM, csv_row
from engine.words import Words

HEADERS = ("序号", "编号", "问题", "村", "自查组", "户主", "类别", "程度", "问题描述", "挂牌",
           "状态", "进入状态时间", "责任人", "整改措施", "整改时限", "验收人", "验收时间", "到期",
           "灯", "逾期天数")
"""The ledger's columns, in order (the import reads them back through its aliases)."""
WIDTHS = (6, 8, 30, 12, 10, 10, 10, 6, 40, 6, 8, 17, 10, 30, 12, 10, 17, 17, 5, 9)
LIGHT_COLUMN = HEADERS.index("灯")
DATETIME_COLUMNS = frozenset(HEADERS.index(h) for h in ("进入状态时间", "验收时间", "到期"))
DATE_COLUMN = HEADERS.index("整改时限")
FILLS = {"green": "C6EFCE", "yellow": "FFEB9C", "red": "FFC7CE"}
"""The light as a cell's colour (Excel's own good, neutral and bad fills); a closed issue has
none."""
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
RATE_HEADER = "销号率"


def title(ledger: Ledger) -> str:
    return f"{ledger.town}问题整改台账"


def stage_label(ledger: Ledger, w: Words, state: str) -> str:
    """A stage as the reader calls it: the labels table's, else the workflow's own."""
    label = w.stage(state)
    if label == state and w.zh:
        return ledger.stage_labels.get(state) or state
    return label


def _local(ledger: Ledger, moment: datetime | None) -> datetime | None:
    """Town time without an offset (a spreadsheet has no time zones), to the minute."""
    if moment is None:
        return None
    return moment.astimezone(ledger.tz).replace(tzinfo=None, second=0, microsecond=0)


def values(ledger: Ledger, w: Words, n: int, row: Row) -> list[Any]:
    """One row's cells: numbers, text, dates and town times (None: empty)."""
    i = row.issue
    return [
        n, i.id, i.title, w.village(i.village), i.group, i.household, w.category(i.category),
        w.severity(i.severity), i.description, "是" if i.listed else "否",
        stage_label(ledger, w, i.state), _local(ledger, i.stage_entered_at),
        w.person(row.answerable) or None, i.plan, row.rectify_by,
        w.person(row.verified_by) or None, _local(ledger, row.verified_at),
        _local(ledger, i.due_at), w.light(row.light) or None, row.overdue_days,
    ]


def stamp(ledger: Ledger) -> str:
    """The line under the title: when it was exported, and the moment it shows."""
    tz = ledger.tz
    line = f"导出时间：{ledger.exported_at.astimezone(tz):%Y-%m-%d %H:%M}"
    if ledger.as_of:
        line += f"；截至：{ledger.moment.astimezone(tz):%Y-%m-%d %H:%M}（按历史回放）"
    elif abs(ledger.moment - ledger.exported_at) > timedelta(minutes=1):  # a drill's clock
        line += f"；台账时点：{ledger.moment.astimezone(tz):%Y-%m-%d %H:%M}"
    return line


# --- Excel ---------------------------------------------------------------------------------
def xlsx(ledger: Ledger, w: Words, out: Path | IO[bytes]) -> int:
    """The workbook: 台账 (every row) and 汇总 (village × stage, clearance rate, a stacked bar
    chart). The number of rows written."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    width = len(HEADERS)
    last = get_column_letter(width)
    for k, cw in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(k)].width = cw
    ws.freeze_panes = "A4"
    bold = Font(bold=True)

    def styled(value: Any, font: Font | None = None, fill: PatternFill | None = None,
               number_format: str | None = None, align: Alignment | None = None
               ) -> Any:
        cell = WriteOnlyCell(ws, value)
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        if number_format is not None:
            cell.number_format = number_format
        if align is not None:
            cell.alignment = align
        return cell

    ws.append([styled(title(ledger), Font(bold=True, size=16),
                      align=Alignment(horizontal="center"))])
    ws.merged_cells.add(f"A1:{last}1")
    ws.append([stamp(ledger)])
    ws.merged_cells.add(f"A2:{last}2")
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    ws.append([styled(h, bold, header_fill, align=Alignment(horizontal="center"))
               for h in HEADERS])
    fills = {light: PatternFill("solid", fgColor=colour) for light, colour in FILLS.items()}
    n = 0
    for n, row in enumerate(ledger.rows, start=1):
        cells = values(ledger, w, n, row)
        for k in DATETIME_COLUMNS:
            if cells[k] is not None:
                cells[k] = styled(cells[k], number_format=DATETIME_FORMAT)
        if cells[DATE_COLUMN] is not None:
            cells[DATE_COLUMN] = styled(cells[DATE_COLUMN], number_format=DATE_FORMAT)
        light = fills.get(row.light or "")
        if light is not None:
            cells[LIGHT_COLUMN] = styled(cells[LIGHT_COLUMN], fill=light)
        ws.append(cells)
    ws.auto_filter.ref = f"A3:{last}{n + 3}"
    _summary(ledger, w, wb, bold, header_fill)
    wb.save(out)
    return n


def _summary(ledger: Ledger, w: Words, wb: Any, bold: Any, header_fill: Any) -> None:
    """汇总: a row per village and one for the town; the stages' counts, the issues not
    voided, those cleared and the clearance rate; a stacked bar chart of the counts."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet("汇总")
    stages = ledger.stages
    headers = ["村", *(stage_label(ledger, w, st) for st in stages), "合计", RATE_HEADER]
    last = get_column_letter(len(headers))
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions[last].width = 10
    ws.freeze_panes = "B4"

    def cell(value: Any, **style: Any) -> Any:
        c = WriteOnlyCell(ws, value)
        for name, v in style.items():
            setattr(c, name, v)
        return c

    ws.append([cell(f"{ledger.town}问题整改汇总", font=Font(bold=True, size=14),
                    alignment=Alignment(horizontal="center"))])
    ws.merged_cells.add(f"A1:{last}1")
    ws.append([f"{stamp(ledger)}；销号率 = 销号问题数 ÷ 问题总数（不含作废）"])
    ws.merged_cells.add(f"A2:{last}2")
    ws.append([cell(h, font=bold, fill=header_fill) for h in headers])
    rates = ledger.summary()
    for rate in rates:
        name = w("all") if rate.village is None else w.village(rate.village)
        ws.append([cell(name, font=bold) if rate.village is None else name,
                   *(rate.counts.get(st, 0) for st in stages), rate.total,
                   cell(rate.rate, number_format="0.0%")])
    villages = len(rates) - 1
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.title = "各村问题所处阶段"
    chart.y_axis.title = "问题数"
    chart.height, chart.width = 9, max(16, villages + villages // 4 + 6)
    if villages:
        chart.add_data(Reference(ws, min_col=2, max_col=1 + len(stages), min_row=3,
                                 max_row=3 + villages), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=4, max_row=3 + villages))
    ws.add_chart(chart, f"A{villages + 7}")


# --- CSV -----------------------------------------------------------------------------------
def csv_lines(ledger: Ledger, w: Words) -> Iterator[str]:
    """A BOM, the headers, then a line per issue; dates as 2020-09-29, times as
    2020-09-29 14:30 (town time); every cell made safe for a spreadsheet."""
    buf = io.StringIO()
    buf.write(BOM)
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(csv_row(HEADERS))
    for n, row in enumerate(ledger.rows, start=1):
        out.writerow(csv_row(_text(c) for c in values(ledger, w, n, row)))
        if n % 500 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.getvalue():
        yield buf.getvalue()


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- to a file -----------------------------------------------------------------------------
def write(ledger: Ledger, w: Words, fmt: str, path: Path) -> int:
    """The export at `path`, whole or not at all (a temporary file beside it, renamed). The
    number of issues written."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if not path.parent.is_dir():  # said before the ledger is read, not after
            raise BadFile(f"cannot write {path}: no such folder {path.parent}")
        if fmt == "xlsx":
            n = xlsx(ledger, w, tmp)
        else:
            with tmp.open("w", encoding="utf-8", newline="") as f:
                for chunk in csv_lines(ledger, w):
                    f.write(chunk)
            n = sum(ledger.counts.values())
        tmp.replace(path)
    except OSError as e:
        raise BadFile(f"cannot write {path}: {e.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
        close = getattr(ledger.rows, "close", None)
        if close is not None:  # a generator: end its read transaction now
            close()
    return n
