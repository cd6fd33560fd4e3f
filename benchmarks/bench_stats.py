"""`rectify stats --by village` over a large ledger, against the hand-written SQL doing the
same counts.

One SQLite database is initialised with the small org (`setup.init` as wang, at 2020-09-28
09:00 town time) and filled by hand with sqlite3 executemany: 1,000,000 issues (100,000 with
--quick) over the campaign's days, each with the history its state needs (created, then fix;
or report, study, rectify; verify and clear; some reopened), about 3.3 events an issue, with
escalations (a reminder for one issue in four, an interview for one in ten, an accountability
case for one in a hundred, a fifth of those decided) and an extension request for one in fifty;
then ANALYZEd. The mix: 60 % cleared, 15 % reported, 10 % studied (half of them past due),
5 % rectified, 5 % found, 5 % reopened (back in reported).

The engine's side is `engine.app.stats.numbers(session, "village")` by a new app (its org and
calendar read, as `rectify stats` does); the baseline is four statements written by hand on a
plain sqlite3 connection that count the same numbers (found, open, overdue, cleared and the
days histogram from the issues; fix, reopen, rectified from the history; escalations by level;
extension requests). They alternate; the figures are medians. The aim is engine/baseline <= 2.
The same numbers as they stood at a moment (`--as-of`, read from the history) are timed once
for the record, without an aim.
"""

from __future__ import annotations

import itertools
import sqlite3
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks import (
    SQLITE_TIME,
    Aim,
    Profiler,
    figure,
    heading,
    main_for,
    new_app,
    open_app,
    show_ratio,
    stopwatch,
)
from engine.app import stats
from engine.config.workflow import load as load_workflow
from engine.domain.issue import CATEGORIES
from engine.store.rows import ISSUE_COLUMNS
from workflows import default_path

STORED_FULL = 1_000_000
STORED_QUICK = 100_000
REPEATS = 3
LOAD_CHUNK = 50_000
AIM = Aim("ratio", "<=", 2.0)
INIT_NOW = datetime(2020, 9, 28, 9, 0)
STATS_NOW = datetime(2020, 11, 30, 9, 0)
START = datetime(2020, 9, 21, 0, 0)  # UTC
WORKFLOW = load_workflow(default_path()).key
VILLAGES = ("v-shiban", "c-jiezi")
TOWN = ZoneInfo("Asia/Shanghai")
_HISTORY = ("issue_id", "version", "type", "transition", "from_state", "to_state", "actor",
            "at", "recorded_at", "payload", "workflow")
_INSERT_ISSUE = (f"INSERT INTO issues ({', '.join(ISSUE_COLUMNS)})"
                 f" VALUES ({', '.join('?' * len(ISSUE_COLUMNS))})")
_INSERT_HISTORY = (f"INSERT INTO history ({', '.join(_HISTORY)})"
                   f" VALUES ({', '.join('?' * len(_HISTORY))})")
_INSERT_ESCALATION = (
    "INSERT INTO escalations (issue_id, stage, stage_version, level, due_at, moment,"
    " raised_at, recipients, status, closed_at, closed_by, outcome)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?)")
_INSERT_EXTENSION = (
    "INSERT INTO extensions (issue_id, stage, stage_version, requested_by, requested_at,"
    " old_due_at, to_date, reason, status) VALUES (?, 'studied', 3, 'rc1', ?, ?,"
    " '2020-12-31', '雨天', 'pending')")


@cache
def _t(minutes: int) -> str:
    """The moment `minutes` after START as stored (naive UTC text)."""
    return (START + timedelta(minutes=minutes)).strftime(SQLITE_TIME)


@cache
def _due(minutes: int | None) -> str:
    """A payload carrying the due moment `minutes` after START (or none)."""
    if minutes is None:
        return '{"due_at":null}'
    return f'{{"due_at":"{(START + timedelta(minutes=minutes)).isoformat()}+00:00"}}'


def _rows(stored: int) -> Iterator[tuple[Any, list[Any], list[Any], list[Any]]]:
    """(issue row, history rows, escalation rows, extension rows) for ids 1..stored."""
    for k in range(1, stored + 1):
        village, category = VILLAGES[k % 2], CATEGORIES[k % len(CATEGORIES)]
        created = (k * 37) % (60 * 24 * 40)
        kind = k % 20
        path: list[tuple[str, str, str]] = []  # (transition, from, to)
        if kind < 12:  # cleared
            path = ([("fix", "found", "rectified")] if k % 3 else
                    [("report", "found", "reported"), ("study", "reported", "studied"),
                     ("rectify", "studied", "rectified")])
            path += [("verify", "rectified", "verified"), ("clear", "verified", "cleared")]
        elif kind < 15:
            path = [("report", "found", "reported")]
        elif kind < 17:
            path = [("report", "found", "reported"), ("study", "reported", "studied")]
        elif kind < 18:
            path = [("fix", "found", "rectified")]
        elif kind == 19:
            path = [("fix", "found", "rectified"), ("verify", "rectified", "verified"),
                    ("clear", "verified", "cleared"), ("reopen", "cleared", "reported")]
        at = created
        state = "found"
        due: int | None = created + 2 * 1440
        history: list[tuple[Any, ...]] = [
            (k, 1, "created", None, None, "found", "sa1", _t(at), _t(at), _due(due), WORKFLOW)]
        for v, (name, src, dst) in enumerate(path, start=2):
            at += (20 + k % 50) * 60
            state = dst
            due = None if dst == "cleared" else at + (4 + (k // 20) % 30 * (kind % 2)) * 1440
            history.append((k, v, "transition", name, src, dst, "rc1", _t(at), _t(at),
                            _due(due), WORKFLOW))
        version = len(history)
        when = _t(at)
        escalations: list[tuple[Any, ...]] = []
        if k % 4 == 0:
            escalations.append((k, state, version, "reminder", when, when, when, "done", None,
                                None, None))
        if k % 10 == 0:
            escalations.append((k, state, version, "interview", when, when, when, "recorded",
                                when, "liu", None))
        if k % 100 == 0:
            decided = k % 500 == 0
            escalations.append((k, state, version, "accountability", when, when, when,
                                "decided" if decided else "open", when if decided else None,
                                "wang" if decided else None, "talk" if decided else None))
        extensions = [(k, when, when)] if k % 50 == 0 else []
        issue = (k, f"第{k}户 住房安全", None, category, village, "sa-01", None, "medium", 0,
                 state, version, "rc1" if state in ("studied", "rectified") else None, None,
                 None if due is None else _t(due), when, _t(created), "sa1", WORKFLOW, version,
                 None, 0)
        yield issue, history, escalations, extensions


def build(folder: Path, stored: int) -> Path:
    path = folder / "stats.db"
    new_app(folder, "stats.db", at=INIT_NOW).close()
    rows = _rows(stored)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for pragma in ("PRAGMA journal_mode = DELETE", "PRAGMA synchronous = OFF",
                       "PRAGMA cache_size = -524288"):
            conn.execute(pragma)
        while chunk := list(itertools.islice(rows, LOAD_CHUNK)):
            conn.execute("BEGIN")
            conn.executemany(_INSERT_ISSUE, (c[0] for c in chunk))
            conn.executemany(_INSERT_HISTORY, (h for c in chunk for h in c[1]))
            conn.executemany(_INSERT_ESCALATION, (e for c in chunk for e in c[2]))
            conn.executemany(_INSERT_EXTENSION, (x for c in chunk for x in c[3]))
            conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode = WAL")
    return path


BASELINE = (
    # the issues: found, open, overdue (and its due days), cleared (and its days)
    "SELECT village, SUM(state <> 'voided'), SUM(state NOT IN ('cleared', 'voided')),"
    " SUM(state NOT IN ('cleared', 'voided') AND due_at <= :now), SUM(state = 'cleared'),"
    " date(CASE WHEN state = 'cleared' THEN created_at END, '+480 minutes'),"
    " date(CASE WHEN state = 'cleared' THEN stage_entered_at END, '+480 minutes'),"
    " date(CASE WHEN state NOT IN ('cleared', 'voided') AND due_at <= :now THEN due_at END,"
    " '+480 minutes')"
    " FROM issues GROUP BY 1, 6, 7, 8",
    "SELECT i.village, SUM(h.transition = 'fix'), SUM(h.transition = 'reopen'),"
    " COUNT(DISTINCT CASE WHEN h.to_state = 'rectified' THEN h.issue_id END)"
    " FROM history h JOIN issues i ON i.id = h.issue_id WHERE h.type = 'transition'"
    " AND (h.transition IN ('fix', 'reopen') OR h.to_state = 'rectified') GROUP BY 1",
    "SELECT i.village, SUM(e.level = 'reminder'), SUM(e.level = 'interview'),"
    " SUM(e.level = 'accountability'), SUM(e.status = 'decided' AND e.outcome = 'talk')"
    " FROM escalations e JOIN issues i ON i.id = e.issue_id GROUP BY 1",
    "SELECT i.village, COUNT(*) FROM extensions x JOIN issues i ON i.id = x.issue_id"
    " GROUP BY 1",
)


def baseline(path: Path) -> int:
    now = (STATS_NOW - timedelta(hours=8)).strftime(SQLITE_TIME)
    rows = 0
    with closing(sqlite3.connect(path)) as conn:
        for sql in BASELINE:
            rows += len(conn.execute(sql, {"now": now}).fetchall())
    return rows


def engine_side(path: Path, as_of: datetime | None = None) -> int:
    app = open_app(path)
    try:
        got = stats.numbers(app.session("wang", STATS_NOW), "village", as_of=as_of)
    finally:
        app.close()
    return got.rows[-1].found


def run(quick: bool, profile: bool) -> dict[str, float]:
    stored = STORED_QUICK if quick else STORED_FULL
    heading(f"stats --by village over {stored:,} issues (SQLite)")
    with tempfile.TemporaryDirectory(prefix="rectify-bench-stats-") as tmp:
        with stopwatch() as took:
            path = build(Path(tmp), stored)
        with closing(sqlite3.connect(path)) as conn:
            events = conn.execute("SELECT count(*) FROM history").fetchone()[0]
        figure("database built", f"{took.wall:.1f} s", f"({events:,} events)")
        found = engine_side(path)  # warm the file cache once, and check the count
        assert found == stored, found
        baseline(path)
        engine, base = [], []
        for _ in range(REPEATS):
            with stopwatch() as t:
                baseline(path)
            base.append(t.wall)
            with stopwatch() as t:
                engine_side(path)
            engine.append(t.wall)
        b, e = statistics.median(base), statistics.median(engine)
        figure("hand-written SQL (median)", f"{b:.2f} s")
        figure("engine: stats --by village (median)", f"{e:.2f} s")
        with stopwatch() as t:
            engine_side(path, as_of=datetime(2020, 10, 20, 12, 0, tzinfo=TOWN))
        figure("engine: stats --as-of (once)", f"{t.wall:.2f} s", "(from the history)")
        prof = Profiler(profile)
        if profile:
            with prof.on():
                engine_side(path)
        prof.report("stats --by village")
        figures = {"baseline s": b, "engine s": e, "as-of s": t.wall, "ratio": e / b}
        show_ratio(figures, AIM, "engine / hand-written SQL")
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
