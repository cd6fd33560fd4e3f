"""The escalation sweep: its cost follows the issues due, not the issues stored.

Two SQLite databases are initialised with the small org (`setup.init` as wang, at
2020-09-28 09:00 town time), then filled by hand with sqlite3 executemany (one `imported`
history row per issue) and ANALYZEd: a small one with 10,000 issues and a large one with
1,000,000 (100,000 with --quick). In both, exactly 1,000 issues, spread evenly over the ids, are
due: `found` since 2020-09-28, due 2020-10-01 00:00 town time, their ladder pointer
(`next_escalation_at`) a day before. Of the others 70 % are `cleared` (no due moment, no
pointer) and 30 % are open with due moments and pointers in 2031-2035.

One sweep (`supervision.escalate` at 2020-11-30 09:00) then raises all three levels of the
default ladder for each due issue: 3,000 escalations. Each timed sweep runs on a fresh copy of
the loaded file (written and fsynced before the clock starts, so no write-back of the copy is
charged to the sweep), by a new app; the sizes alternate and the figures are medians.
The aim is large/small <= 1.5.

Memory is shown two ways, each in an untimed pass on another copy: the tracemalloc peak of
Python's allocations during the sweep (in this process, after the timed sweeps, so imports are
not counted), and the growth of the peak RSS (VmHWM) across the sweep in a new interpreter
(`python -c`), which also counts SQLite's own memory and the sweep's lazy imports. The claim
query is captured from a sweep as the engine sends it, and its EXPLAIN QUERY PLAN printed; it
should search ix_issues_next_escalation_at and need no temporary B-tree for the ORDER BY.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import tracemalloc
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from benchmarks import (
    SQLITE_TIME,
    Aim,
    Profiler,
    Took,
    figure,
    heading,
    main_for,
    new_app,
    open_app,
    report_peak_rss,
    run_child,
    scalar,
    show_ratio,
    stopwatch,
)
from engine.app import supervision
from engine.app.session import App, Session
from engine.config.workflow import load as load_workflow
from engine.domain.issue import CATEGORIES, SEVERITIES
from engine.store.rows import ISSUE_COLUMNS
from workflows import default_path

STORED_SMALL = 10_000
STORED_FULL = 1_000_000
STORED_QUICK = 100_000
DUE = 1_000
LEVELS = 3
"""Levels of the default ladder that come due for each due issue (reminder, interview,
accountability)."""
REPEATS_FULL = 7
REPEATS_QUICK = 3
CLAIM_RUNS = 50
LOAD_CHUNK = 100_000
"""Rows per transaction when loading."""
AIM = Aim("ratio", "<=", 1.5)
INDEX = "ix_issues_next_escalation_at"

INIT_NOW = datetime(2020, 9, 28, 9, 0)
"""Town time (naive: the town's zone) of `init`."""
SWEEP_NOW = datetime(2020, 11, 30, 9, 0)
"""Town time of the sweep: all three levels of the due issues have come by then."""

WORKFLOW = load_workflow(default_path()).key
"""The packaged workflow version (what `init` registers)."""
CREATED = "2020-09-28 01:00:00.000000"
DUE_AT = "2020-09-30 16:00:00.000000"
"""2020-10-01 00:00 in Shanghai, as UTC text: the end of 30 September."""
DUE_POINTER = "2020-09-29 16:00:00.000000"
OPEN_STATES = ("found", "reported", "studied", "rectified", "verified")
VILLAGES = ("v-shiban", "c-jiezi")
PROBLEMS = ("住房安全待鉴定", "饮水不稳定", "医保未参保", "辍学风险")

_HISTORY_COLUMNS = (
    "issue_id", "version", "type", "transition", "from_state", "to_state", "actor",
    "at", "recorded_at", "payload", "workflow",
)
"""engine.store.rows.HISTORY_COLUMNS without seq (and without the chain: the sweep does not
read it)."""
_INSERT_ISSUE = (f"INSERT INTO issues ({', '.join(ISSUE_COLUMNS)})"
                 f" VALUES ({', '.join('?' * len(ISSUE_COLUMNS))})")
_INSERT_HISTORY = (f"INSERT INTO history ({', '.join(_HISTORY_COLUMNS)})"
                   f" VALUES ({', '.join('?' * len(_HISTORY_COLUMNS))})")



# --- the databases ---------------------------------------------------------------------------
def due_ids(stored: int, due: int) -> frozenset[int]:
    """The due issues, spread evenly over the ids (each on its own page when stored is large)."""
    step = stored // due
    return frozenset(1 + k * step + step // 2 for k in range(due))


def _utc(year: int, hours: int) -> str:
    """A moment `hours` after the start of `year`, as stored (naive UTC text)."""
    return (datetime(year, 1, 1) + timedelta(hours=hours)).strftime(SQLITE_TIME)


def _rows(stored: int, due: frozenset[int]) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """(issue row, history row) for ids 1..stored."""
    for k in range(1, stored + 1):
        village = VILLAGES[k % 2]
        title = f"第{k}户 {PROBLEMS[k % len(PROBLEMS)]}"
        category = CATEGORIES[k % len(CATEGORIES)]
        severity = SEVERITIES[k % len(SEVERITIES)]
        household = f"户主{k % 10_000:04d}" if k % 5 else None
        description = "自查发现, 需核实整改" if k % 2 else None
        if k in due:
            state, due_at, pointer, assignee = "found", DUE_AT, DUE_POINTER, None
            village = "v-shiban"
        elif k % 10 < 7:
            state, due_at, pointer, assignee = "cleared", None, None, None
        else:
            state = OPEN_STATES[k % len(OPEN_STATES)]
            due_at = _utc(2031 + k % 5, 16 + 24 * (1 + k % 360))
            pointer = _utc(2031 + k % 5, 16 + 24 * (k % 360))
            assignee = "rc1" if state in ("studied", "rectified") else None
        payload = json.dumps({
            "title": title, "category": category, "village": village,
            "description": description, "group": "sa-01", "household": household,
            "severity": severity, "listed": False, "entered_at": "2020-09-28T01:00:00+00:00",
            "assignee": assignee, "due_at": due_at,
        }, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        yield (
            (k, title, description, category, village, "sa-01", household, severity, 0, state,
             1, assignee, None, due_at, CREATED, CREATED, "sa1", WORKFLOW, 1, pointer, 0),
            (k, 1, "imported", None, None, state, "sa1", CREATED, CREATED, payload, WORKFLOW),
        )


def build(folder: Path, name: str, stored: int) -> Path:
    """An initialised database with `stored` issues, DUE of them due; ANALYZEd; closed."""
    path = folder / name
    new_app(folder, name, at=INIT_NOW).close()
    rows = _rows(stored, due_ids(stored, DUE))
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        # loading only: no journal, no syncs, a big cache; WAL again before handing it over
        for pragma in ("PRAGMA journal_mode = DELETE", "PRAGMA synchronous = OFF",
                       "PRAGMA cache_size = -524288"):
            conn.execute(pragma)
        while chunk := list(itertools.islice(rows, LOAD_CHUNK)):
            conn.execute("BEGIN")
            conn.executemany(_INSERT_ISSUE, (issue for issue, _ in chunk))
            conn.executemany(_INSERT_HISTORY, (hist for _, hist in chunk))
            conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode = WAL")
    return path


def fresh_copy(source: Path, target: Path) -> Path:
    """A byte copy of a closed database, on disk before it is used (fsynced)."""
    for extra in ("-wal", "-shm"):
        if Path(f"{source}{extra}").exists():
            raise RuntimeError(f"{source} is still open (it has a {extra} file)")
    shutil.copyfile(source, target)
    with target.open("rb+") as f:
        os.fsync(f.fileno())
    return target


def remove(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)


def open_for_sweep(path: Path) -> tuple[App, Session]:
    """The engine on the file, and a session at SWEEP_NOW (no actor: the sweep needs none)."""
    app = open_app(path)
    return app, app.session(at=SWEEP_NOW, channel="scheduler")


def check(path: Path, raised: int, side: str) -> None:
    """The sweep raised every level of every due issue, once, and moved every pointer on."""
    rows = scalar(path, "SELECT count(*) FROM escalations")
    levels = scalar(path, "SELECT count(DISTINCT level) FROM escalations")
    left = scalar(path, "SELECT count(*) FROM issues WHERE next_escalation_at <= ?",
                  ("2020-12-01 00:00:00.000000",))
    events = scalar(path, "SELECT count(*) FROM history WHERE type = 'escalated'")
    if not raised == rows == events == DUE * LEVELS or levels != LEVELS or left != 0:
        raise RuntimeError(f"{side}: raised {raised}, {rows} escalations of {levels} levels,"
                           f" {events} events, {left} issues still due; of {DUE * LEVELS}")


# --- sweeping -------------------------------------------------------------------------------
def timed_sweep(path: Path, prof: Profiler | None = None) -> tuple[Took, int]:
    """One sweep by a new app (wired before the clock starts)."""
    app, s = open_for_sweep(path)
    try:
        with stopwatch() as took:
            if prof is None:
                raised = supervision.escalate(s)
            else:
                with prof.on():
                    raised = supervision.escalate(s)
        if s.warnings:
            raise RuntimeError(f"sweep warned: {s.warnings}")
        return took, len(raised)
    finally:
        app.close()


def traced_sweep(path: Path) -> tuple[int, list[tuple[str, Sequence[Any]]]]:
    """The tracemalloc peak (bytes) of a sweep, and the claim statements it sent."""
    app, s = open_for_sweep(path)
    claims: list[tuple[str, Sequence[Any]]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                _many: bool) -> None:
        if not claims and "next_escalation_at <=" in statement and "LIMIT" in statement:
            claims.append((statement, tuple(parameters)))

    event.listen(app.store.engine, "before_cursor_execute", capture)
    try:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            raised = supervision.escalate(s)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        if len(raised) != DUE * LEVELS:
            raise RuntimeError(f"traced sweep raised {len(raised)}")
        return peak, claims
    finally:
        app.close()


def child() -> None:
    """In a new interpreter (`python -c`): sweep sys.argv[1], print the peak RSS around it."""
    path = Path(sys.argv[1])
    app, s = open_for_sweep(path)
    try:
        report_peak_rss(lambda: {"raised": len(supervision.escalate(s))})
    finally:
        app.close()


def child_sweep(path: Path) -> dict[str, Any]:
    got = run_child("bench_sweep", path, "sweep")
    if got["raised"] != DUE * LEVELS:
        raise RuntimeError(f"child sweep raised {got['raised']}")
    return got


def query_plan(path: Path, sql: str, params: Sequence[Any]) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def claim_alone(path: Path, sql: str, params: Sequence[Any]) -> float:
    """Median seconds of the claim query by itself on raw sqlite3 (rows fetched)."""
    times = []
    with closing(sqlite3.connect(path)) as conn:
        for _ in range(CLAIM_RUNS):
            with stopwatch() as took:
                conn.execute(sql, params).fetchall()
            times.append(took.wall)
    return statistics.median(times)


# --- the benchmark ---------------------------------------------------------------------------
def run(quick: bool, profile: bool = False) -> dict[str, float]:
    large = STORED_QUICK if quick else STORED_FULL
    repeats = REPEATS_QUICK if quick else REPEATS_FULL
    sizes = {"small": STORED_SMALL, "large": large}
    heading(f"sweep: {DUE:,} issues due among {STORED_SMALL:,} and among {large:,} stored,"
            f" median of {repeats}")
    times: dict[str, list[Took]] = {"small": [], "large": []}
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        folder = Path(tmp)
        pristine: dict[str, Path] = {}
        for side, stored in sizes.items():
            with stopwatch() as took:
                pristine[side] = build(folder, f"{side}.db", stored)
            size_mb = pristine[side].stat().st_size / 2**20
            figure(f"(setup) {stored:,} issues loaded", f"{took.wall:,.1f} s",
                   f"({size_mb:,.0f} MiB file)")
        work = folder / "work.db"
        for k in range(repeats):
            order = ("small", "large") if k % 2 == 0 else ("large", "small")
            for side in order:
                fresh_copy(pristine[side], work)
                took, raised = timed_sweep(work)
                check(work, raised, side)
                times[side].append(took)
                remove(work)

        peaks: dict[str, int] = {}
        rss: dict[str, dict[str, Any]] = {}
        claims: dict[str, list[tuple[str, Sequence[Any]]]] = {}
        for side in sizes:
            fresh_copy(pristine[side], work)
            peaks[side], claims[side] = traced_sweep(work)
            remove(work)
            fresh_copy(pristine[side], work)
            rss[side] = child_sweep(work)
            remove(work)
        if not claims["large"]:
            raise RuntimeError("no claim query was seen during the sweep")
        sql, params = claims["large"][0]
        plan = query_plan(pristine["large"], sql, params)
        claim_s = {side: claim_alone(pristine[side], sql, params) for side in sizes}

        prof = Profiler(profile)
        if profile:  # a separate sweep: the profiler would distort the timed figures
            fresh_copy(pristine["large"], work)
            timed_sweep(work, prof)
            remove(work)

    wall = {side: statistics.median(t.wall for t in ts) for side, ts in times.items()}
    cpu = {side: statistics.median(t.cpu for t in ts) for side, ts in times.items()}
    growth = {side: (r["peak_rss_after_kib"] - r["peak_rss_before_kib"]) / 1024
              for side, r in rss.items()}
    index_used = any(INDEX in line for line in plan)
    temp_tree = any("TEMP B-TREE" in line for line in plan)
    figures = {
        "small_sweep_s": wall["small"],
        "large_sweep_s": wall["large"],
        "ratio": wall["large"] / wall["small"],
        "ratio_cpu": cpu["large"] / cpu["small"],
        "ratio_best_runs": (min(t.wall for t in times["large"])
                            / min(t.wall for t in times["small"])),
        "ratio_median_of_pairs": statistics.median(
            lt.wall / st.wall for lt, st in zip(times["large"], times["small"], strict=True)),
        "large_stored": float(large),
        "small_tracemalloc_peak_mib": peaks["small"] / 2**20,
        "large_tracemalloc_peak_mib": peaks["large"] / 2**20,
        "small_peak_rss_growth_mib": growth["small"],
        "large_peak_rss_growth_mib": growth["large"],
        "index_used": float(index_used),
    }
    spread = {side: ", ".join(f"{t.wall:.2f}" for t in ts) for side, ts in times.items()}
    for side, stored in sizes.items():
        figure(f"sweep, {stored:,} stored", f"{wall[side]:,.2f} s",
               f"({wall[side] / DUE * 1000:.2f} ms per due issue, {cpu[side]:.2f} s CPU;"
               f" runs {spread[side]} s)")
    show_ratio(figures, AIM, f"{large:,}/{STORED_SMALL:,} stored")
    figure("(info) ratio by CPU time", f"{figures['ratio_cpu']:.2f}", "(medians)")
    figure("(info) ratio of the best runs", f"{figures['ratio_best_runs']:.2f}")
    figure("(info) ratio, median of pairs", f"{figures['ratio_median_of_pairs']:.2f}",
           f"({repeats} back-to-back pairs, alternating order)")
    for side, stored in sizes.items():
        r = rss[side]
        figure(f"tracemalloc peak, {stored:,} stored", f"{peaks[side] / 2**20:,.1f} MiB",
               "(Python allocations during the sweep)")
        figure(f"peak RSS growth, {stored:,} stored", f"{growth[side]:,.1f} MiB",
               f"(new process, VmHWM {r['peak_rss_before_kib'] / 1024:,.1f} →"
               f" {r['peak_rss_after_kib'] / 1024:,.1f} MiB; sweep {r['wall']:.2f} s)")
    for side, stored in sizes.items():
        figure(f"(info) claim query alone, {stored:,}", f"{claim_s[side] * 1000:,.3f} ms",
               f"(raw sqlite3, the first batch, median of {CLAIM_RUNS})")
    print(f"  claim query: {' '.join(sql.split())}")
    print(f"    EXPLAIN QUERY PLAN: {' | '.join(plan)}")
    figure(f"uses {INDEX}", "yes" if index_used else "NO",
           "(and a temporary B-tree for ORDER BY)" if temp_tree else "(no temporary B-tree)")
    prof.report(f"supervision.escalate, {DUE:,} due among {large:,} stored")
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
