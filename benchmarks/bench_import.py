"""Ledger import: the `importing.import_csv` handler against hand-written csv + executemany.

One CSV (title, category, village, group, household, severity, description, listed) is written
once. Each repeat copies a freshly initialised database twice and imports the file into each,
the engine and the baseline alternating which goes first; the figures are the medians.

The baseline reads the file with the csv module, checks each row cheaply (category, severity,
village and group are known; listed is yes/no), and in one BEGIN IMMEDIATE … COMMIT allocates
ids after the largest one and executemany-inserts the same issue rows and `imported` history
rows (with the engine's JSON payload) as the engine writes. Its due moment is computed once
(now + 1 day): it has no working-day calendar.
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
import statistics
import tempfile
from contextlib import closing
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

from benchmarks import (
    ACTOR,
    SQLITE_TIME,
    Aim,
    Profiler,
    Took,
    copy_db,
    figure,
    heading,
    main_for,
    new_app,
    open_app,
    raw_connect,
    scalar,
    show_ratio,
    stopwatch,
)
from engine.app import importing
from engine.domain.issue import CATEGORIES, SEVERITIES

ROWS_FULL = 100_000
ROWS_QUICK = 10_000
REPEATS = 3
AIM = Aim("ratio", ">=", 0.7)

HEADER = ("title", "category", "village", "group", "household", "severity", "description",
          "listed")
VILLAGES = ("v-shiban", "c-jiezi")
GROUPS = ("sa-01",)
PROBLEMS = ("住房安全待鉴定", "饮水不稳定", "医保未参保", "辍学风险")
_YES = frozenset({"1", "true", "yes", "y", "是", "x", "✓"})
_NO = frozenset({"", "0", "false", "no", "n", "否"})

_INSERT_ISSUE = (
    "INSERT INTO issues (id, title, description, category, village, grp, household, severity,"
    " listed, state, version, assignee, plan, due_at, stage_entered_at, created_at, created_by,"
    " workflow) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_HISTORY = (
    "INSERT INTO history (seq, issue_id, version, type, transition, from_state, to_state,"
    " actor, at, recorded_at, payload, workflow, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_HEAD = "SELECT seq, hash FROM history ORDER BY seq DESC LIMIT 1"


def chain_by_hand(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The history rows with seq, prev_hash and hash: SHA-256 over the fields and the hash
    before (a plain join, not the engine's canonical JSON)."""
    head = conn.execute(_HEAD).fetchone()
    seq, prev = (int(head[0]), str(head[1])) if head else (0, "0" * 64)
    out = []
    for r in rows:
        seq += 1
        digest = sha256("\x1f".join(map(str, (seq, *r, prev))).encode()).hexdigest()
        out.append((seq, *r, prev, digest))
        prev = digest
    return out


def write_csv(path: Path, rows: int, seed: int = 2020) -> None:
    """A ledger as a town would fill it in: Chinese text, some cells left empty."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for k in range(rows):
            out.writerow((
                f"第{k + 1}户 {rng.choice(PROBLEMS)}",
                rng.choice(CATEGORIES),
                rng.choice(VILLAGES),
                "sa-01",
                f"户主{rng.randrange(10_000):04d}" if rng.random() < 0.8 else "",
                rng.choice(SEVERITIES),
                "自查发现, 需核实整改" if rng.random() < 0.5 else "",
                rng.choice(("yes", "no", "")),
            ))


def raw_import(conn: sqlite3.Connection, path: Path) -> int:
    """The whole file or nothing, by hand; the number of rows imported."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    col = {h.strip().lower(): i for i, h in enumerate(rows[0])}
    ti, ci, vi, gi, hi, si, di, li = (col[h] for h in HEADER)
    categories, severities = frozenset(CATEGORIES), frozenset(SEVERITIES)
    villages, groups = frozenset(VILLAGES), frozenset(GROUPS)
    now = datetime.now(UTC)
    at, entered = now.strftime(SQLITE_TIME), now.isoformat()
    due = now + timedelta(days=1)
    due_at, due_iso = due.strftime(SQLITE_TIME), due.isoformat()
    conn.execute("BEGIN IMMEDIATE")
    try:
        workflow = conn.execute("SELECT value FROM meta WHERE key = 'workflow'").fetchone()[0]
        first = conn.execute("SELECT coalesce(max(id), 0) FROM issues").fetchone()[0] + 1
        issues = []
        history = []
        recorded_at = datetime.now(UTC).strftime(SQLITE_TIME)
        for number, row in enumerate(rows[1:], start=2):
            title, category, village = row[ti].strip(), row[ci].strip(), row[vi].strip()
            group = row[gi].strip() or None
            household = row[hi].strip() or None
            severity = row[si].strip() or "medium"
            description = row[di].strip() or None
            listed_text = row[li].strip().lower()
            if (not title or category not in categories or severity not in severities
                    or village not in villages or (group is not None and group not in groups)
                    or (listed_text not in _YES and listed_text not in _NO)):
                raise ValueError(f"{path.name}: row {number}: refused")
            listed = listed_text in _YES
            issue_id = first + number - 2
            issues.append((
                issue_id, title, description, category, village, group, household, severity,
                int(listed), "found", 1, None, None, due_at, at, at, ACTOR, workflow,
            ))
            payload = {
                "title": title, "category": category, "village": village,
                "description": description, "group": group, "household": household,
                "severity": severity, "listed": listed, "entered_at": entered,
                "assignee": None, "due_at": due_iso,
            }
            history.append((
                issue_id, 1, "imported", None, None, "found", ACTOR, at, recorded_at,
                json.dumps(payload, ensure_ascii=False, sort_keys=True), workflow,
            ))
        conn.executemany(_INSERT_ISSUE, issues)
        conn.executemany(_INSERT_HISTORY, chain_by_hand(conn, history))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(issues)


def engine_import(db: Path, path: Path, prof: Profiler | None = None) -> tuple[Took, int]:
    """Time taken by importing.import_csv (the app is wired before the clock starts)."""
    app = open_app(db)
    try:
        with stopwatch() as took:
            if prof is None:
                ids = importing.import_csv(app.session(ACTOR), path)
            else:
                with prof.on():
                    ids = importing.import_csv(app.session(ACTOR), path)
        return took, len(ids)
    finally:
        app.close()


def raw_timed(db: Path, path: Path) -> tuple[Took, int]:
    with closing(raw_connect(db)) as conn, stopwatch() as took:
        count = raw_import(conn, path)
    return took, count


def _check(db: Path, rows: int, side: str) -> None:
    issues = scalar(db, "SELECT count(*) FROM issues")
    events = scalar(db, "SELECT count(*) FROM history WHERE type = 'imported'")
    if issues != rows or events != rows:
        raise RuntimeError(f"{side}: {issues} issues, {events} events, of {rows} rows")


def run(quick: bool, profile: bool = False) -> dict[str, float]:
    rows = ROWS_QUICK if quick else ROWS_FULL
    heading(f"import: a ledger of {rows:,} rows in one transaction, median of {REPEATS}")
    times: dict[str, list[Took]] = {"engine": [], "raw": []}
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        folder = Path(tmp)
        ledger = folder / "ledger.csv"
        write_csv(ledger, rows)
        new_app(folder, "empty.db").close()
        for k in range(REPEATS):
            order = ("engine", "raw") if k % 2 == 0 else ("raw", "engine")
            for side in order:
                db = folder / f"{side}-{k}.db"
                copy_db(folder / "empty.db", db)
                took, count = (engine_import if side == "engine" else raw_timed)(db, ledger)
                if count != rows:
                    raise RuntimeError(f"{side}: imported {count} of {rows} rows")
                _check(db, rows, side)
                times[side].append(took)
                db.unlink()
        prof = Profiler(profile)
        if profile:  # a separate run: the profiler would distort the timed figures
            copy_db(folder / "empty.db", folder / "profiled.db")
            engine_import(folder / "profiled.db", ledger, prof)

    wall = {side: statistics.median(t.wall for t in ts) for side, ts in times.items()}
    cpu = {side: statistics.median(t.cpu for t in ts) for side, ts in times.items()}
    figures = {"engine_rows_per_s": rows / wall["engine"], "raw_rows_per_s": rows / wall["raw"]}
    figures["ratio"] = figures["engine_rows_per_s"] / figures["raw_rows_per_s"]
    figures["ratio_cpu"] = cpu["raw"] / cpu["engine"]
    figures["ratio_best_runs"] = (min(t.wall for t in times["raw"])
                                  / min(t.wall for t in times["engine"]))
    spread = {side: ", ".join(f"{t.wall:.2f}" for t in ts) for side, ts in times.items()}
    figure("engine importing.import_csv", f"{figures['engine_rows_per_s']:,.0f} rows/s",
           f"({wall['engine']:.2f} s; runs {spread['engine']} s)")
    figure("raw csv + sqlite3 executemany", f"{figures['raw_rows_per_s']:,.0f} rows/s",
           f"({wall['raw']:.2f} s; runs {spread['raw']} s)")
    show_ratio(figures, AIM, "engine/raw")
    figure("(info) ratio by CPU time", f"{figures['ratio_cpu']:.2f}", "(medians)")
    figure("(info) ratio of the best runs", f"{figures['ratio_best_runs']:.2f}")
    prof.report(f"importing.import_csv of {rows:,} rows")
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
