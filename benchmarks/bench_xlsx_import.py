"""Ledger import from Excel: `importing.import_ledger` of an .xlsx against openpyxl's read-only
iteration of the same file.

One workbook is written once, as an office keeps its ledger: a merged title row, Chinese
headers (序号, 问题, 村, 户主, 类别, 程度, 问题描述, 挂牌, 整改状态), villages by name, categories,
severities and stages by their Chinese labels, 是/否. Each repeat imports it into a copy of a
freshly initialised database (one transaction: every row read, mapped, checked, inserted,
chained) and, alternating which goes first, only iterates it with openpyxl
(`load_workbook(read_only=True, data_only=True)`, `iter_rows(values_only=True)`), the least
any importer of the file must do. The figures are the medians; the aim is an import rate at
least half the bare iteration rate.
"""

from __future__ import annotations

import random
import statistics
import tempfile
from pathlib import Path

from benchmarks import (
    ACTOR,
    Aim,
    Profiler,
    Took,
    copy_db,
    figure,
    heading,
    main_for,
    new_app,
    open_app,
    scalar,
    show_ratio,
    stopwatch,
)
from engine.app import importing

ROWS_FULL = 100_000
ROWS_QUICK = 10_000
REPEATS = 3
AIM = Aim("ratio", ">=", 0.5)

HEADER = ("序号", "问题", "村", "户主", "类别", "程度", "问题描述", "挂牌", "整改状态")
VILLAGES = ("石板村", "街子社区")
CATEGORIES = ("住房安全", "饮水安全", "义务教育", "基本医疗", "产业", "就业")
SEVERITIES = ("一般", "较重", "严重")
PROBLEMS = ("住房安全待鉴定", "饮水不稳定", "医保未参保", "辍学风险")


def write_xlsx(path: Path, rows: int, seed: int = 2020) -> None:
    """The ledger as a workbook (openpyxl write-only: a merged title row, then the header)."""
    from openpyxl import Workbook
    from openpyxl.worksheet.cell_range import CellRange

    rng = random.Random(seed)
    book = Workbook(write_only=True)
    ws = book.create_sheet("台账")
    ws.append(["黄家镇问题整改台账"])
    ws.merged_cells.add(CellRange(min_row=1, min_col=1, max_row=1, max_col=len(HEADER)))
    ws.append(list(HEADER))
    for k in range(rows):
        ws.append([
            k + 1,
            f"第{k + 1}户 {rng.choice(PROBLEMS)}",
            rng.choice(VILLAGES),
            f"户主{rng.randrange(10_000):04d}" if rng.random() < 0.8 else None,
            rng.choice(CATEGORIES),
            rng.choice(SEVERITIES),
            "自查发现, 需核实整改" if rng.random() < 0.5 else None,
            rng.choice(("是", "否", None)),
            "发现",
        ])
    book.save(path)


def iterate(path: Path) -> tuple[Took, int]:
    """openpyxl's read-only iteration of every row: the baseline."""
    from openpyxl import load_workbook

    with stopwatch() as took:
        book = load_workbook(path, read_only=True, data_only=True)
        n = 0
        for _ in book.worksheets[0].iter_rows(values_only=True):
            n += 1
        book.close()
    return took, n - 2  # the title row and the header


def engine_import(db: Path, path: Path, prof: Profiler | None = None) -> tuple[Took, int]:
    """Time taken by importing.import_ledger (the app is wired before the clock starts)."""
    app = open_app(db)
    try:
        with stopwatch() as took:
            if prof is None:
                done = importing.import_ledger(app.session(ACTOR), path)
            else:
                with prof.on():
                    done = importing.import_ledger(app.session(ACTOR), path)
        return took, len(done.ids)
    finally:
        app.close()


def run(quick: bool, profile: bool = False) -> dict[str, float]:
    rows = ROWS_QUICK if quick else ROWS_FULL
    heading(f"xlsx import: a workbook of {rows:,} rows in one transaction, median of {REPEATS}")
    times: dict[str, list[Took]] = {"engine": [], "openpyxl": []}
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        folder = Path(tmp)
        ledger = folder / "ledger.xlsx"
        write_xlsx(ledger, rows)
        new_app(folder, "empty.db").close()
        for k in range(REPEATS):
            order = ("engine", "openpyxl") if k % 2 == 0 else ("openpyxl", "engine")
            for side in order:
                if side == "openpyxl":
                    took, count = iterate(ledger)
                else:
                    db = folder / f"engine-{k}.db"
                    copy_db(folder / "empty.db", db)
                    took, count = engine_import(db, ledger)
                    issues = scalar(db, "SELECT count(*) FROM issues")
                    if issues != rows:
                        raise RuntimeError(f"engine: {issues} issues of {rows} rows")
                    db.unlink()
                if count != rows:
                    raise RuntimeError(f"{side}: {count} of {rows} rows")
                times[side].append(took)
        prof = Profiler(profile)
        if profile:  # a separate run: the profiler would distort the timed figures
            copy_db(folder / "empty.db", folder / "profiled.db")
            engine_import(folder / "profiled.db", ledger, prof)

    wall = {side: statistics.median(t.wall for t in ts) for side, ts in times.items()}
    cpu = {side: statistics.median(t.cpu for t in ts) for side, ts in times.items()}
    figures = {"engine_rows_per_s": rows / wall["engine"],
               "openpyxl_rows_per_s": rows / wall["openpyxl"]}
    figures["ratio"] = figures["engine_rows_per_s"] / figures["openpyxl_rows_per_s"]
    figures["ratio_cpu"] = cpu["openpyxl"] / cpu["engine"]
    figures["ratio_best_runs"] = (min(t.wall for t in times["openpyxl"])
                                  / min(t.wall for t in times["engine"]))
    spread = {side: ", ".join(f"{t.wall:.2f}" for t in ts) for side, ts in times.items()}
    figure("engine importing.import_ledger", f"{figures['engine_rows_per_s']:,.0f} rows/s",
           f"({wall['engine']:.2f} s; runs {spread['engine']} s)")
    figure("openpyxl read-only iteration", f"{figures['openpyxl_rows_per_s']:,.0f} rows/s",
           f"({wall['openpyxl']:.2f} s; runs {spread['openpyxl']} s)")
    show_ratio(figures, AIM, "engine/openpyxl")
    figure("(info) ratio by CPU time", f"{figures['ratio_cpu']:.2f}", "(medians)")
    figure("(info) ratio of the best runs", f"{figures['ratio_best_runs']:.2f}")
    prof.report(f"importing.import_ledger of {rows:,} rows")
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
