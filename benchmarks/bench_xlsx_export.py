"""Ledger export to XLSX: `ledger export --format xlsx` (engine.app.ledger + engine.ledger_sheet)
against openpyxl's write-only workbook writing the same rows.

The town's ledger is imported once (benchmarks/bench_import's CSV: 100,000 issues, or 10,000
with --quick). The engine's side is the whole export: the issues read in batches from the
database, the history read for verifiers and deadlines, lights and working days overdue told,
names and labels looked up, the title, headers, styles (dates' formats, the light's fill), the
summary sheet and its chart, and the file saved. The baseline gets the same rows' values ready
in memory before its clock starts (read through the engine beforehand) and only appends them,
as plain values, to a write-only sheet and saves: the floor of writing that many cells with
openpyxl. Each repeat runs both, alternating which goes first; the figures are the medians.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import (
    ACTOR,
    Aim,
    Profiler,
    Took,
    figure,
    heading,
    main_for,
    new_app,
    open_app,
    show_ratio,
    stopwatch,
)
from benchmarks.bench_import import write_csv
from engine import ledger_sheet
from engine.app import importing
from engine.app.ledger import open_ledger
from engine.app.session import App
from engine.words import Words

ROWS_FULL = 100_000
ROWS_QUICK = 10_000
REPEATS = 3
AIM = Aim("ratio", ">=", 0.5)


def engine_export(app: App, out: Path, prof: Profiler | None = None) -> tuple[Took, int]:
    s = app.session(ACTOR)
    w = Words("zh_CN", s.names())
    with stopwatch() as took:
        if prof is None:
            n = ledger_sheet.write(open_ledger(s), w, "xlsx", out)
        else:
            with prof.on():
                n = ledger_sheet.write(open_ledger(s), w, "xlsx", out)
    return took, n


def the_rows(app: App) -> list[list[Any]]:
    """The same rows' cells, ready in memory for the baseline."""
    s = app.session(ACTOR)
    w = Words("zh_CN", s.names())
    ledger = open_ledger(s)
    return [ledger_sheet.values(ledger, w, n, row)
            for n, row in enumerate(ledger.rows, start=1)]


def baseline(rows: list[list[Any]], out: Path) -> tuple[Took, int]:
    from openpyxl import Workbook

    with stopwatch() as took:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("台账")
        ws.append(list(ledger_sheet.HEADERS))
        for cells in rows:
            ws.append(cells)
        wb.save(out)
    return took, len(rows)


def run(quick: bool, profile: bool = False) -> dict[str, float]:
    rows = ROWS_QUICK if quick else ROWS_FULL
    heading(f"xlsx_export: a ledger of {rows:,} issues to XLSX, median of {REPEATS}")
    times: dict[str, list[Took]] = {"engine": [], "openpyxl": []}
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        folder = Path(tmp)
        source = folder / "ledger.csv"
        write_csv(source, rows)
        app = new_app(folder, "town.db")
        importing.import_csv(app.session(ACTOR), source)
        app.close()
        app = open_app(folder / "town.db")
        try:
            ready = the_rows(app)
            for k in range(REPEATS):
                order = ("engine", "openpyxl") if k % 2 == 0 else ("openpyxl", "engine")
                for side in order:
                    out = folder / f"{side}-{k}.xlsx"
                    took, n = (engine_export(app, out) if side == "engine"
                               else baseline(ready, out))
                    if n != rows:
                        raise RuntimeError(f"{side}: wrote {n} of {rows} rows")
                    times[side].append(took)
                    size = out.stat().st_size
                    out.unlink()
                    if side == "engine" and k == 0:
                        figure("(info) engine's file", f"{size / 2**20:.1f} MiB")
            prof = Profiler(profile)
            if profile:
                engine_export(app, folder / "profiled.xlsx", prof)
        finally:
            app.close()

    wall = {side: statistics.median(t.wall for t in ts) for side, ts in times.items()}
    cpu = {side: statistics.median(t.cpu for t in ts) for side, ts in times.items()}
    figures = {"engine_rows_per_s": rows / wall["engine"],
               "openpyxl_rows_per_s": rows / wall["openpyxl"]}
    figures["ratio"] = figures["engine_rows_per_s"] / figures["openpyxl_rows_per_s"]
    figures["ratio_cpu"] = cpu["openpyxl"] / cpu["engine"]
    spread = {side: ", ".join(f"{t.wall:.2f}" for t in ts) for side, ts in times.items()}
    figure("engine ledger export", f"{figures['engine_rows_per_s']:,.0f} rows/s",
           f"({wall['engine']:.2f} s; runs {spread['engine']} s)")
    figure("openpyxl write-only, same rows", f"{figures['openpyxl_rows_per_s']:,.0f} rows/s",
           f"({wall['openpyxl']:.2f} s; runs {spread['openpyxl']} s)")
    show_ratio(figures, AIM, "engine/openpyxl")
    figure("(info) ratio by CPU time", f"{figures['ratio_cpu']:.2f}", "(medians)")
    prof.report(f"ledger export of {rows:,} issues")
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
