"""Persisted transitions per second: the `issues.move` handler against hand-written sqlite3.

Both sides start from the same database (the engine's, copied by the backup API after the
issues were added) and fire `report` (found → reported) as sa1 on every issue, one transaction
each. The engine side runs each move as a session of its own (as a long-running process does
per request), sharing what the first read, so the org and the workflow are loaded once. The
baseline does the same writes by hand: BEGIN IMMEDIATE, read the row by id, UPDATE it with a
version check, INSERT the history row with a JSON payload chained to the head (read the last
event, SHA-256 over the fields and its hash), COMMIT. It has no calendar (its due
moment is now + 3 days) and no rules: the gap is what the engine's checks and layers cost.

The two sides run interleaved in chunks, in alternating order, so that a slow stretch of the
machine falls on both.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import tempfile
from collections.abc import Callable, Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from time import perf_counter

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
    raw_connect,
    scalar,
    show_ratio,
    stopwatch,
)
from engine.app import issues
from engine.app.session import Session
from engine.domain.issue import CATEGORIES, Move, NewIssue

ISSUES_FULL = 2_000
ISSUES_QUICK = 300
WARMUP = 20
"""Moves on each side before timing (loads the org, workflow, machine, statement caches)."""
CHUNK = 100
AIM = Aim("ratio", ">=", 0.7)

_SELECT = (
    "SELECT id, title, description, category, village, grp, household, severity, listed,"
    " state, version, assignee, plan, due_at, stage_entered_at, created_at, created_by,"
    " workflow FROM issues WHERE id = ?"
)
_UPDATE = (
    "UPDATE issues SET state = ?, version = ?, assignee = ?, plan = ?, due_at = ?,"
    " stage_entered_at = ?, workflow = ? WHERE id = ? AND version = ?"
)
_HISTORY = (
    "INSERT INTO history (seq, issue_id, version, type, transition, from_state, to_state,"
    " actor, at, recorded_at, payload, workflow, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_HEAD = "SELECT seq, hash FROM history ORDER BY seq DESC LIMIT 1"
_REPORTED_FOR = timedelta(days=3)


def raw_report(conn: sqlite3.Connection, issue_id: int) -> None:
    """`report` on one issue by hand, in its own transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(_SELECT, (issue_id,)).fetchone()
        if row is None:
            raise LookupError(f"no issue {issue_id}")
        state, version = row[9], row[10]
        if state != "found":
            raise RuntimeError(f"cannot report issue {issue_id} in state {state!r}")
        now = datetime.now(UTC)
        due = now + _REPORTED_FOR
        at = now.strftime(SQLITE_TIME)
        cur = conn.execute(
            _UPDATE,
            ("reported", version + 1, row[11], row[12], due.strftime(SQLITE_TIME), at, row[17],
             issue_id, version),
        )
        if cur.rowcount != 1:
            raise RuntimeError(f"issue {issue_id} was changed by someone else")
        payload = json.dumps({"due_at": due.isoformat()}, ensure_ascii=False, sort_keys=True)
        seq, prev = conn.execute(_HEAD).fetchone()
        fields = (seq + 1, issue_id, version + 1, "transition", "report", state, "reported",
                  ACTOR, at, datetime.now(UTC).strftime(SQLITE_TIME), payload, row[17], prev)
        digest = sha256("\x1f".join(map(str, fields)).encode()).hexdigest()
        conn.execute(_HISTORY, (*fields, digest))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def engine_report(first: Session, issue_id: int) -> None:
    issues.move(first.next(ACTOR), Move(issue_id=issue_id, transition="report"))


def add_issues(first: Session, count: int) -> list[int]:
    ids = []
    for k in range(count):
        new = NewIssue(
            title=f"问题 {k}", category=CATEGORIES[k % len(CATEGORIES)],
            village=("v-shiban", "c-jiezi")[k % 2], group="sa-01", household=f"户 {k}",
        )
        ids.append(issues.add(first.next(ACTOR), new).id)
    return ids


def _timed(fire: Callable[[int], None], ids: Sequence[int]) -> Took:
    with stopwatch() as took:
        for issue_id in ids:
            fire(issue_id)
    return took


def _check(path: Path, ids: Sequence[int], side: str) -> None:
    """Every issue reported once, with its event: the runs did the work they claim."""
    lo, hi = min(ids), max(ids)
    reported = scalar(path, "SELECT count(*) FROM issues WHERE state = 'reported' AND version = 2"
                      " AND id BETWEEN ? AND ?", (lo, hi))
    events = scalar(path, "SELECT count(*) FROM history WHERE transition = 'report'"
                    " AND issue_id BETWEEN ? AND ?", (lo, hi))
    if reported != len(ids) or events != len(ids):
        raise RuntimeError(f"{side}: {reported} issues reported, {events} events, of {len(ids)}")


def run(quick: bool, profile: bool = False) -> dict[str, float]:
    n = ISSUES_QUICK if quick else ISSUES_FULL
    heading(f"transitions: `report` on {n:,} issues, one transaction each"
            " (SQLite file, WAL, synchronous=NORMAL)")
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        folder = Path(tmp)
        app = new_app(folder, "engine.db")
        svc = app.session(ACTOR)
        try:
            t0 = perf_counter()
            ids = add_issues(svc, WARMUP + n)
            add_rate = len(ids) / (perf_counter() - t0)
            copy_db(folder / "engine.db", folder / "raw.db")
            with closing(raw_connect(folder / "raw.db")) as conn:

                def raw(issue_id: int) -> None:
                    raw_report(conn, issue_id)

                def engine(issue_id: int) -> None:
                    engine_report(svc, issue_id)

                for issue_id in ids[:WARMUP]:
                    engine(issue_id)
                    raw(issue_id)
                timed = ids[WARMUP:]
                spent = {"engine": Took(), "raw": Took()}
                pair_ratios = []
                for c, start in enumerate(range(0, n, CHUNK)):
                    chunk = timed[start:start + CHUNK]
                    order = ("engine", "raw") if c % 2 == 0 else ("raw", "engine")
                    took = {side: _timed(engine if side == "engine" else raw, chunk)
                            for side in order}
                    for side, t in took.items():
                        spent[side].add(t)
                    pair_ratios.append(took["raw"].wall / took["engine"].wall)
            _check(folder / "engine.db", ids, "engine")
            _check(folder / "raw.db", ids, "raw")
            prof = Profiler(profile)
            if profile:  # a separate pass: the profiler would distort the timed figures
                more = add_issues(svc, n)
                with prof.on():
                    for issue_id in more:
                        engine(issue_id)
        finally:
            app.close()

    engine_s, raw_s = spent["engine"], spent["raw"]
    figures = {
        "engine_per_s": n / engine_s.wall,
        "raw_per_s": n / raw_s.wall,
        "engine_add_issue_per_s": add_rate,
    }
    figures["ratio"] = figures["engine_per_s"] / figures["raw_per_s"]
    figures["ratio_median_of_chunks"] = statistics.median(pair_ratios)
    figures["ratio_cpu"] = raw_s.cpu / engine_s.cpu
    figure("engine issues.move", f"{figures['engine_per_s']:,.0f} /s",
           f"({engine_s.wall / n * 1000:.3f} ms each, {engine_s.cpu / n * 1000:.3f} ms CPU)")
    figure("raw sqlite3", f"{figures['raw_per_s']:,.0f} /s",
           f"({raw_s.wall / n * 1000:.3f} ms each, {raw_s.cpu / n * 1000:.3f} ms CPU)")
    show_ratio(figures, AIM, "engine/raw")
    figure("(info) ratio, median of chunk pairs", f"{figures['ratio_median_of_chunks']:.2f}",
           f"({len(pair_ratios)} interleaved chunks of {CHUNK})")
    figure("(info) ratio by CPU time", f"{figures['ratio_cpu']:.2f}")
    figure("(info) engine issues.add", f"{add_rate:,.0f} /s", "(no baseline)")
    prof.report(f"issues.move × {n:,} (report)")
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
