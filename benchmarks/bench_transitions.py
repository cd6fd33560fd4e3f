"""Persisted transitions per second: the `issues.move` handler against hand-written sqlite3.

Three sides start from the same database (the engine's, copied by the backup API after the
issues were added) and fire `report` (found → reported) as sa1 on every issue, one transaction
each. The engine side runs each move as a session of its own (as a long-running process does
per request), sharing what the first read, so the org and the workflow are loaded once.

The baseline (`raw`, the aim's) does the same writes by hand, with the lifecycle bench's
`RawSide`: BEGIN IMMEDIATE, read the row by id, UPDATE it with a version check (state,
version, due moment, stage entry and version, the ladder's next escalation moment, which is
indexed), INSERT the history row with the same JSON payload fields as the engine's, chained
to the head (read the last event) with the engine's `row_hash`, COMMIT. It has no calendar
(its due moment is now + 3 days, the next escalation a day before) and no rules: the gap is
what the engine's checks and layers cost.

A third side (`minimal`, shown for information) is the thinner baseline this bench had
before: it leaves the stage version and the escalation pointer (and that index) untouched
and its payload holds only the due moment, so it writes less than the engine does.

The sides run interleaved in chunks, in rotating order, so that a slow stretch of the
machine falls on all of them.
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
from benchmarks.bench_lifecycle import STEPS, RawSide
from engine.app import issues
from engine.app.session import Session
from engine.domain.issue import CATEGORIES, Move, NewIssue

ISSUES_FULL = 2_000
ISSUES_QUICK = 300
WARMUP = 20
"""Moves on each side before timing (loads the org, workflow, machine, statement caches)."""
CHUNK = 100
AIM = Aim("ratio", ">=", 0.7)
SIDES = ("engine", "raw", "minimal")
REPORT = STEPS[0]
"""`report` by sa1, found → reported, as the lifecycle's raw side writes it."""

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


def minimal_report(conn: sqlite3.Connection, issue_id: int) -> None:
    """`report` on one issue by hand with the fewest writes, in its own transaction."""
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
            for side in SIDES[1:]:
                copy_db(folder / "engine.db", folder / f"{side}.db")
            with closing(raw_connect(folder / "raw.db")) as conn, \
                    closing(raw_connect(folder / "minimal.db")) as thin:
                by_hand = RawSide(conn, True, folder)
                fire: dict[str, Callable[[int], None]] = {
                    "engine": lambda issue_id: engine_report(svc, issue_id),
                    "raw": lambda issue_id: by_hand.move(issue_id, REPORT, {}),
                    "minimal": lambda issue_id: minimal_report(thin, issue_id),
                }
                for issue_id in ids[:WARMUP]:
                    for side in SIDES:
                        fire[side](issue_id)
                timed = ids[WARMUP:]
                spent = {side: Took() for side in SIDES}
                pair_ratios = []
                for c, start in enumerate(range(0, n, CHUNK)):
                    chunk = timed[start:start + CHUNK]
                    order = SIDES[c % 3:] + SIDES[:c % 3]
                    took = {side: _timed(fire[side], chunk) for side in order}
                    for side, t in took.items():
                        spent[side].add(t)
                    pair_ratios.append(took["raw"].wall / took["engine"].wall)
            for side in SIDES:
                _check(folder / f"{side}.db", ids, side)
            prof = Profiler(profile)
            if profile:  # a separate pass: the profiler would distort the timed figures
                more = add_issues(svc, n)
                with prof.on():
                    for issue_id in more:
                        engine_report(svc, issue_id)
        finally:
            app.close()

    engine_s, raw_s, thin_s = spent["engine"], spent["raw"], spent["minimal"]
    figures = {
        "engine_per_s": n / engine_s.wall,
        "raw_per_s": n / raw_s.wall,
        "minimal_per_s": n / thin_s.wall,
        "engine_add_issue_per_s": add_rate,
    }
    figures["ratio"] = figures["engine_per_s"] / figures["raw_per_s"]
    figures["ratio_median_of_chunks"] = statistics.median(pair_ratios)
    figures["ratio_cpu"] = raw_s.cpu / engine_s.cpu
    figures["ratio_to_minimal"] = figures["engine_per_s"] / figures["minimal_per_s"]
    figure("engine issues.move", f"{figures['engine_per_s']:,.0f} /s",
           f"({engine_s.wall / n * 1000:.3f} ms each, {engine_s.cpu / n * 1000:.3f} ms CPU)")
    figure("raw sqlite3, the same writes", f"{figures['raw_per_s']:,.0f} /s",
           f"({raw_s.wall / n * 1000:.3f} ms each, {raw_s.cpu / n * 1000:.3f} ms CPU)")
    figure("(info) sqlite3, minimal writes", f"{figures['minimal_per_s']:,.0f} /s",
           f"({thin_s.wall / n * 1000:.3f} ms each, {thin_s.cpu / n * 1000:.3f} ms CPU)")
    show_ratio(figures, AIM, "engine/raw")
    figure("(info) ratio, median of chunk pairs", f"{figures['ratio_median_of_chunks']:.2f}",
           f"({len(pair_ratios)} interleaved chunks of {CHUNK})")
    figure("(info) ratio by CPU time", f"{figures['ratio_cpu']:.2f}")
    figure("(info) ratio engine/minimal", f"{figures['ratio_to_minimal']:.2f}",
           "(the baseline before it did the engine's writes)")
    figure("(info) engine issues.add", f"{add_rate:,.0f} /s", "(no baseline)")
    prof.report(f"issues.move × {n:,} (report)")
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
