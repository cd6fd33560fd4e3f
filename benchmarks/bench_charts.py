"""The charts of the board and the ledger page (`charts.pictures`) at 100,000 issues (10,000
with --quick) on SQLite, against the same three aggregates written by hand in sqlite3.

The database: the ledger imported in ten parts on ten days of a drill (so the burn-down has
days), then 2% of the issues reported. The engine's reading is timed three ways: cold (a new
process: nothing kept), warm (nothing written since the last reading: the burn-down's daily
changes and the open issues' inputs are kept by the app) and after one move (only the events
since and the issues they name are read again). The baseline runs, in one read
transaction, `GROUP BY` the town day (`date(at, '+8 hours')`) of each state change, `GROUP BY
village, state` over the issues, and `GROUP BY` the light's inputs over the open issues.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from contextlib import closing
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks import Aim, figure, heading, main_for, new_app, raw_connect

ISSUES_FULL = 100_000
ISSUES_QUICK = 10_000
REPEATS = 5
AIM = Aim("cold_ratio", "<=", 2.0)
DAY0 = datetime(2020, 9, 28, 9, 0)

BASELINE = (
    "SELECT date(at, '+8 hours'), sum(CASE WHEN to_state IN ('cleared', 'voided') THEN 0"
    " ELSE 1 END - CASE WHEN from_state IS NULL OR from_state IN ('cleared', 'voided')"
    " THEN 0 ELSE 1 END) FROM history WHERE issue_id > 0 AND to_state IS NOT NULL GROUP BY 1",
    "SELECT village, state, count(*) FROM issues GROUP BY village, state",
    "SELECT village, workflow, listed OR listed_by_village, due_at, next_escalation_at,"
    " count(*) FROM issues WHERE state NOT IN ('cleared', 'voided')"
    " GROUP BY 1, 2, 3, 4, 5",
)


def _median_ms(run: object, repeats: int = REPEATS) -> float:
    took = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()  # type: ignore[operator]
        took.append(time.perf_counter() - t0)
    return statistics.median(took) * 1000


def run(quick: bool, profile: bool = False) -> dict[str, float]:
    from benchmarks.bench_import import write_csv
    from engine.app import charts, importing, issues
    from engine.domain.issue import Move

    n = ISSUES_QUICK if quick else ISSUES_FULL
    heading(f"charts: board and ledger numbers, {n:,} issues on SQLite")
    with tempfile.TemporaryDirectory(prefix="rectify-bench-charts-") as tmp:
        folder = Path(tmp)
        app = new_app(folder, "charts.db", DAY0 - timedelta(days=1))
        try:
            ids: list[int] = []
            for part in range(10):
                ledger = folder / f"part{part}.csv"
                write_csv(ledger, n // 10, seed=part)
                ids += importing.import_csv(app.session("sa1", DAY0 + timedelta(days=part)),
                                            ledger)
            pool = ids[:: 50]
            issues.move_each(app.session("sa1", DAY0 + timedelta(days=10)), pool,
                             Move(issue_id=0, transition="report"))
            now = DAY0 + timedelta(days=11)
            figure("database", f"{n:,} issues", f"({len(pool):,} reported)")

            def cold() -> None:
                charts.pictures(replace(app, memo={}).session("wang", now))

            def warm() -> None:
                charts.pictures(app.session("wang", now))

            cold_ms = _median_ms(cold)
            warm()
            warm_ms = _median_ms(warm)
            moved = iter(pool)

            def after_move() -> None:
                issues.move(app.session("rc1", now), Move(
                    issue_id=next(moved), transition="study", plan="加固", assignee="rc2",
                    due=(now + timedelta(days=7)).date()))
                t0 = time.perf_counter()
                charts.pictures(app.session("wang", now))
                after.append(time.perf_counter() - t0)

            after: list[float] = []
            for _ in range(REPEATS):
                after_move()
            after_ms = statistics.median(after) * 1000
        finally:
            app.close()

        def baseline() -> None:
            with closing(raw_connect(folder / "charts.db")) as conn:
                conn.execute("BEGIN")
                for sql in BASELINE:
                    conn.execute(sql).fetchall()
                conn.rollback()

        base_ms = _median_ms(baseline)
    figure("engine cold (nothing kept)", f"{cold_ms:,.1f} ms")
    figure("engine warm (nothing written)", f"{warm_ms:,.1f} ms")
    figure("engine after one move", f"{after_ms:,.1f} ms")
    figure("hand-written SQL (3 GROUP BYs)", f"{base_ms:,.1f} ms")
    ratios = {"cold_ratio": cold_ms / base_ms, "warm_ratio": warm_ms / base_ms,
              "after_move_ratio": after_ms / base_ms}
    for key, value in ratios.items():
        figure(key, f"{value:.2f}×")
    return {"cold_ms": cold_ms, "warm_ms": warm_ms, "after_move_ms": after_ms,
            "baseline_ms": base_ms, **ratios}


if __name__ == "__main__":
    raise SystemExit(main_for(run))
