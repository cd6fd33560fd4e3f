"""Memory per 10,000 open issues loaded: what the ledger's listing holds per issue.

A database initialised with the small org gets a ledger imported through the engine
(`importing.import_csv`, the import bench's CSV: 10,000 rows with --quick, 100,000 without);
then, by hand, one issue in three is put in `studied` with an assignee, a plan of its own and
a due moment of its own, one in three in `reported` with its own due moment (what a town's
open issues look like: most stages, assignees and villages repeated, titles and plans not).

Measured in this process with tracemalloc, untimed: the growth of Python's allocations from
before `issues.listing(session)` (every open issue, through the store's issue mapper) to after
it, with the returned list still held, per 10,000 issues; and its peak (what the read needed
besides). For comparison (info): the same rows fetched with sqlite3 as plain tuples and held.
The aim is an absolute one: at most 6 MiB per 10,000 open issues.
"""

from __future__ import annotations

import gc
import sqlite3
import tempfile
import tracemalloc
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import ACTOR, SQLITE_TIME, Aim, figure, heading, main_for, new_app, open_app
from benchmarks.bench_import import write_csv
from engine.app import importing, issues
from engine.store.rows import ISSUE_COLUMNS

ISSUES_FULL = 100_000
ISSUES_QUICK = 10_000
PER = 10_000
AIM = Aim("mib_per_10k", "<=", 6.0)
DUE = datetime(2020, 10, 30, 16, 0, tzinfo=UTC)


def prepare(folder: Path, n: int) -> Path:
    """A database of `n` open issues: imported, then a third studied and a third reported."""
    ledger = folder / "ledger.csv"
    write_csv(ledger, n)
    app = new_app(folder, "memory.db")
    try:
        ids = importing.import_csv(app.session(ACTOR), ledger)
    finally:
        app.close()
    if len(ids) != n:
        raise RuntimeError(f"imported {len(ids)} of {n}")
    path = folder / "memory.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        conn.executemany(
            "UPDATE issues SET state = 'studied', version = 3, stage_version = 3,"
            " assignee = ?, plan = ?, due_at = ?, stage_entered_at = ?,"
            " next_escalation_at = ? WHERE id = ?",
            [(("rc2", "rc1")[k % 2], f"整改方案 {k}: 入户核实, 补办手续",
              _text(DUE + timedelta(minutes=k)), _text(DUE - timedelta(days=9, minutes=k)),
              _text(DUE + timedelta(minutes=k) - timedelta(days=1)), k)
             for k in ids if k % 3 == 1])
        conn.executemany(
            "UPDATE issues SET state = 'reported', version = 2, stage_version = 2,"
            " due_at = ?, stage_entered_at = ?, next_escalation_at = ? WHERE id = ?",
            [(_text(DUE + timedelta(hours=k % 48)), _text(DUE - timedelta(days=2, hours=k % 48)),
              _text(DUE + timedelta(hours=k % 48) - timedelta(days=1)), k)
             for k in ids if k % 3 == 2])
        conn.execute("COMMIT")
    return path


def _text(moment: datetime) -> str:
    return moment.strftime(SQLITE_TIME)


def traced(load: Callable[[], list[Any]]) -> tuple[int, int, int]:
    """(bytes held by what `load` returned, the peak while loading, items)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        got = load()
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return current - base, peak - base, len(got)


def engine_listing(path: Path) -> Callable[[], list[Any]]:
    app = open_app(path)
    s = app.session()
    issues.listing(s, villages=("nowhere",))  # the connection, zone and caches, untraced

    def load() -> list[Any]:
        return issues.listing(s)

    load.app = app  # type: ignore[attr-defined]
    return load


def raw_rows(path: Path) -> Callable[[], list[Any]]:
    conn = sqlite3.connect(path)

    def load() -> list[Any]:
        return conn.execute(f"SELECT {', '.join(ISSUE_COLUMNS)} FROM issues"
                            " WHERE state <> 'voided' ORDER BY id").fetchall()

    load.conn = conn  # type: ignore[attr-defined]
    return load


def run(quick: bool, profile: bool = False) -> dict[str, float]:
    n = ISSUES_QUICK if quick else ISSUES_FULL
    heading(f"memory: {n:,} open issues loaded (tracemalloc), per {PER:,}")
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        path = prepare(Path(tmp), n)
        load = engine_listing(path)
        try:
            held, peak, got = traced(load)
        finally:
            load.app.close()  # type: ignore[attr-defined]
        raw = raw_rows(path)
        try:
            raw_held, _, raw_got = traced(raw)
        finally:
            raw.conn.close()  # type: ignore[attr-defined]
    if got != n or raw_got != n:
        raise RuntimeError(f"loaded {got} and {raw_got} issues of {n}")
    mib = 2**20
    figures = {
        "issues": float(n),
        "mib_per_10k": held / mib * PER / n,
        "bytes_per_issue": held / n,
        "peak_mib_per_10k": peak / mib * PER / n,
        "raw_tuples_mib_per_10k": raw_held / mib * PER / n,
    }
    figure(f"issues.listing, {n:,} open issues", f"{figures['mib_per_10k']:.2f} MiB",
           f"per {PER:,} ({figures['bytes_per_issue']:,.0f} bytes an issue;"
           f" {AIM.text()}: {'met' if AIM.met(figures) else 'MISSED'})")
    figure("(info) peak while loading", f"{figures['peak_mib_per_10k']:.2f} MiB",
           f"per {PER:,}")
    figure("(info) sqlite3 rows as tuples, held", f"{figures['raw_tuples_mib_per_10k']:.2f} MiB",
           f"per {PER:,} (the same columns, nothing shared)")
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
