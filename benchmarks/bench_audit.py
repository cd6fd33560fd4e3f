"""The audit over a long history: `audit.verify` and `audit.replay`, in events per second.

An SQLite database is initialised with the tests' small org (`setup.init`), then its history
is filled by hand with sqlite3 executemany: 1,000,000 events (50,000 with --quick) over about
100,000 issues of about 10 events each, created ten minutes apart from January 2023. Each issue
follows the default workflow (created, report, study, rectify, reject, rectify, verify, clear);
two issues in three are late and get three `escalated` events (a reminder in `found`, a
reminder and an interview in `studied`, the interview superseded by the next `rectify`), with
their rows in the escalations table; three issues in ten stop before `clear`. The payloads carry
the keys the engine writes (due_at, next_escalation_at, listed_by_village, assignee, plan, due,
note, evidence, reason, superseded_*), as canonical JSON. An issue lives about three weeks, so
the chain interleaves a few thousand issues at a time: chain order is not issue order. The
events are chained in time order (seq 1..N, prev_hash and hash computed with
engine.domain.chain as the history repository does) and the issue and escalation rows are what
folding each issue's events with `engine.domain.audit.Replay` gives. `verify()` must say ok before
anything is timed (see below). No ANALYZE is run (the engine runs none).

Timed, on the same file, in alternating order, median of 3 (2 with --quick):

- `audit.verify` against a plain loop that reads every history row in seq order with
  sqlite3 and hashes each row's fields joined (hashlib.sha256). Verify cuts a history of
  200,000 events or more into spans folded side by side by helper processes (one per
  100,000 events, up to the CPUs available: two on a 2-core machine); the CPU ratio counts
  the helpers' CPU time;
- `audit.replay(as_of)`, at a moment after every event, against a plain loop that runs
  the same query as the engine (every history column, `at <= as_of`, ORDER BY issue_id,
  version) and only reads the rows.

The ratios are engine time / baseline time; the aim is <= 2 for both (<= 3 before
issue 14). Also shown (info): a raw
loop doing the same two reads as verify (seq, prev_hash, hash in seq order; then every column
in issue order, hashed), which isolates what the access order costs from what Python costs.

Memory, in untimed passes, on the large file and on a small one (100,000 events; 10,000 with
--quick): for verify, the growth of the peak RSS (VmHWM) across it in a new interpreter
(`python -c`), which also counts SQLite's memory and should not grow with the history; for
replay, which returns one object per issue, the tracemalloc peak of Python's allocations minus
what the returned list holds. (tracemalloc slows verify about fivefold: some 8 minutes at 1M.)
The verify in a new process comes first and is also the check: it must say ok for every event
and issue, or the benchmark stops; every timed run checks its result too.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
import statistics
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

from benchmarks import (
    Aim,
    Profiler,
    Took,
    figure,
    heading,
    main_for,
    new_app,
    open_app,
    raw_connect,
    report_peak_rss,
    run_child,
    show_ratio,
    stopwatch,
)
from engine.app import audit
from engine.config.workflow import load as load_workflow
from engine.domain.audit import Replay
from engine.domain.chain import GENESIS, row_hash
from engine.domain.escalation import Escalation
from engine.domain.events import Event
from engine.domain.issue import CATEGORIES, SEVERITIES, Issue
from engine.store.rows import HISTORY_COLUMNS, ISSUE_COLUMNS
from workflows import default_path

EVENTS_FULL = 1_000_000
EVENTS_QUICK = 50_000
EVENTS_SMALL_FULL = 100_000
EVENTS_SMALL_QUICK = 10_000
"""The smaller history that memory is compared with."""
REPEATS_FULL = 3
REPEATS_QUICK = 2
LOAD_CHUNK = 100_000
"""History rows per transaction when loading."""
READ_BATCH = 2_000
"""Rows per fetchmany, as engine.store.audit_reads."""
VERIFY_JOBS: list[int] = []
"""How many processes each timed verify folded the history with."""
AIM = Aim("ratio", "<=", 2.0)
"""The worse of the two ratios."""
VERIFY_AIM = Aim("verify_ratio", "<=", 2.0)
REPLAY_AIM = Aim("replay_ratio", "<=", 2.0)

WORKFLOW = load_workflow(default_path()).key
"""The packaged workflow version (what `init` registers)."""
T0 = datetime(2023, 1, 3, 1, 0, tzinfo=UTC)
"""When issue 1 is created; issue k at T0 + k * STEP (plus a few minutes)."""
STEP = timedelta(minutes=10)
RECORD_LAG = timedelta(milliseconds=40)
"""recorded_at - at: nothing is back-dated."""
AS_OF = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
"""After every event of 1,000,000 (the last issue is created in late 2024)."""
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

VILLAGES = ("v-shiban", "c-jiezi")
SECRETARIES = ("chen", "zhou")
PROBLEMS = ("住房安全待鉴定", "饮水不稳定", "医保未参保", "辍学风险")

_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
_COLUMNS = ", ".join(HISTORY_COLUMNS)
_INSERT_ISSUE = (f"INSERT INTO issues ({', '.join(ISSUE_COLUMNS)})"
                 f" VALUES ({', '.join('?' * len(ISSUE_COLUMNS))})")
_INSERT_HISTORY = (f"INSERT INTO history ({_COLUMNS})"
                   f" VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})")
_ESCALATION_COLUMNS = ("id", "issue_id", "stage", "stage_version", "level", "due_at", "moment",
                       "raised_at", "recipients", "status", "closed_at", "closed_by", "note",
                       "attendees")
_INSERT_ESCALATION = (f"INSERT INTO escalations ({', '.join(_ESCALATION_COLUMNS)})"
                      f" VALUES ({', '.join('?' * len(_ESCALATION_COLUMNS))})")
_SEQ_ORDER = f"SELECT {_COLUMNS} FROM history ORDER BY seq"
_LINKS = "SELECT seq, prev_hash, hash FROM history ORDER BY seq"
_ISSUE_ORDER = f"SELECT {_COLUMNS} FROM history ORDER BY issue_id, version"
_REPLAY = f"SELECT {_COLUMNS} FROM history WHERE at <= ? ORDER BY issue_id, version"
"""What engine.store.audit_reads.Reads.events(until=as_of) sends."""


# --- the history ---------------------------------------------------------------------------
def _text(moment: datetime | None) -> str | None:
    """A moment as the engine stores it on SQLite: naive UTC text with microseconds."""
    if moment is None:
        return None
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(" ", "microseconds")[:26]  # without the "+00:00"


def _due(at: datetime, days: int) -> datetime:
    """The first midnight in the town (16:00 UTC) at least `days` after `at`."""
    later = at + timedelta(days=days)
    end = later.replace(hour=16, minute=0, second=0, microsecond=0)
    return end if end >= later else end + DAY


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class _Life:
    """The events of one issue, written as the engine's commands write them."""

    def __init__(self, k: int, first_escalation: int) -> None:
        self.k = k
        self.village = VILLAGES[k % 2]
        self.secretary = SECRETARIES[k % 2]
        self.events: list[Event] = []
        self.state = "found"
        self.next_escalation = first_escalation

    def _add(self, type: str, actor: str, at: datetime, payload: dict[str, Any],
             transition: str | None = None, to: str | None = None) -> None:
        self.events.append(Event(
            issue_id=self.k, version=len(self.events) + 1, type=type, actor=actor, at=at,
            payload=payload, workflow=WORKFLOW, transition=transition,
            from_state=self.state if transition else None, to_state=to,
            recorded_at=at + RECORD_LAG))
        if to is not None:
            self.state = to

    def created(self, at: datetime, listed: bool) -> datetime:
        k = self.k
        due = _due(at, 1)
        self._add("created", "sa1", at, {
            "title": f"第{k}户 {PROBLEMS[k % len(PROBLEMS)]}",
            "category": CATEGORIES[k % len(CATEGORIES)], "village": self.village,
            "description": "自查发现, 需核实整改" if k % 2 else None, "group": "sa-01",
            "household": f"户主{k % 10_000:04d}" if k % 5 else None,
            "severity": SEVERITIES[k % len(SEVERITIES)], "listed": listed,
            "due_at": _iso(due), "next_escalation_at": _iso(due - DAY),
        }, to="found")
        return due

    def move(self, transition: str, actor: str, at: datetime, to: str, days: int | None,
             given: dict[str, Any], superseded: list[int] | None = None) -> datetime | None:
        due = None if days is None else _due(at, days)
        payload = {**given, "due_at": _iso(due), "listed_by_village": False,
                   "next_escalation_at": _iso(None if due is None else due - DAY)}
        if superseded:
            payload["superseded_escalations"] = superseded
            payload["superseded_extensions"] = []
        self._add("transition", actor, at, payload, transition=transition, to=to)
        return due

    def escalated(self, at: datetime, level: str, due: datetime,
                  recipients: list[str], after: datetime | None) -> int:
        eid = self.next_escalation
        self.next_escalation += 1
        self._add("escalated", "system", at, {
            "escalation": eid, "level": level, "stage": self.state, "recipients": recipients,
            "moment": _iso(at - timedelta(minutes=5)), "due_at": _iso(due),
            "next_escalation_at": _iso(after)})
        return eid

    def evidence(self, v: int) -> dict[str, Any]:
        digest = sha256(f"{self.k}-{v}".encode()).hexdigest()
        return {"note": "已整改, 附照片", "evidence": [
            {"name": f"整改照片{self.k}-{v}.jpg", "sha256": digest, "size": 48_000 + v}]}


def lifecycle(k: int, first_escalation: int) -> list[Event]:
    """Issue k's events: late issues (two in three) are escalated in `found` and `studied`;
    one issue in five stops before it is cleared."""
    life = _Life(k, first_escalation)
    late = k % 3 != 0
    at = T0 + k * STEP + timedelta(seconds=(k * 7919) % 540)
    due = life.created(at, listed=k % 20 == 0)
    if late:
        life.escalated(at + 20 * HOUR, "reminder", due, [life.secretary], due + DAY)
    at += 26 * HOUR
    life.move("report", "sa1", at, "reported", 3, {"note": "已上报"})
    at += DAY
    due = _due(at, 10)
    life.move("study", "rc1", at, "studied", 10, {
        "plan": f"整改方案 {k}: 入户核实, 补办手续", "assignee": "rc2", "note": "研究决定",
        "due": due.date().isoformat()})
    superseded = None
    if late:
        at = due - DAY + 2 * HOUR
        life.escalated(at, "reminder", due, ["rc2"], due + DAY)
        at = due + DAY + 2 * HOUR
        superseded = [life.escalated(at, "interview", due, ["liu", life.secretary],
                                     due + 5 * DAY)]
    else:
        at += 6 * DAY
    rounds = 1 if late else 2
    for r in range(rounds):
        at += 3 * HOUR
        life.move("rectify", "rc2", at, "rectified", 5, life.evidence(len(life.events) + 1),
                  superseded if r == 0 else None)
        at += DAY
        life.move("reject", "qs2", at, "studied", 5, {"reason": "照片不清, 补充材料"})
        at += 2 * DAY
    life.move("rectify", "rc2", at, "rectified", 5, life.evidence(len(life.events) + 1))
    at += DAY
    life.move("verify", "qs1", at, "verified", 2, {"note": "验收合格"})
    at += DAY
    life.move("clear", "wang", at, "cleared", None, {"note": "同意销号"})
    stop = {7: 1, 8: 3, 9: 5}.get(k % 10, 0)
    return life.events[: len(life.events) - stop]


def _issue_row(i: Issue) -> tuple[Any, ...]:
    return (i.id, i.title, i.description, i.category, i.village, i.group, i.household,
            i.severity, int(i.listed), i.state, i.version, i.assignee, i.plan, _text(i.due_at),
            _text(i.stage_entered_at), _text(i.created_at), i.created_by, i.workflow,
            i.stage_version, _text(i.next_escalation_at), int(i.listed_by_village))


def _escalation_row(x: Escalation) -> tuple[Any, ...]:
    return (x.id, x.issue_id, x.stage, x.stage_version, x.level, _text(x.due_at),
            _text(x.moment), _text(x.raised_at), json.dumps(list(x.recipients)), x.status,
            _text(x.closed_at), x.closed_by, x.note,
            json.dumps(list(x.attendees)) if x.attendees else None)


@dataclass(frozen=True)
class Built:
    path: Path
    events: int
    issues: int
    escalations: int
    last_at: datetime
    seconds: float


def build(folder: Path, name: str, events: int) -> Built:
    """An initialised database whose history holds `events` events; closed, in WAL mode."""
    with stopwatch() as took:
        new_app(folder, name).close()
        path = folder / name
        with closing(sqlite3.connect(path, isolation_level=None)) as conn:
            # loading only: no journal, no syncs, a big cache; WAL again before handing it over
            for pragma in ("PRAGMA journal_mode = DELETE", "PRAGMA synchronous = OFF",
                           "PRAGMA cache_size = -524288"):
                conn.execute(pragma)
            issues, escalations, last_at = _load(conn, events)
            conn.execute("PRAGMA journal_mode = WAL")
    return Built(path, events, issues, escalations, last_at, took.wall)


def _load(conn: sqlite3.Connection, events: int) -> tuple[int, int, datetime]:
    """Issues are generated in id order, their events kept in a heap and chained in time order
    (every event of issue k comes at or after its creation, so anything earlier is final)."""
    issue_rows: list[tuple[Any, ...]] = []
    escalation_rows: list[tuple[Any, ...]] = []
    history_rows: list[tuple[Any, ...]] = []
    heap: list[tuple[datetime, int, int, tuple[Any, ...]]] = []
    # after the town's own events (the configuration init recorded)
    head = conn.execute("SELECT seq, hash FROM history ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (0, GENESIS) if head is None else (int(head[0]), str(head[1]))
    base = seq
    encode = _JSON.encode
    last_at = T0

    def flush() -> None:
        conn.execute("BEGIN")
        conn.executemany(_INSERT_ISSUE, issue_rows)
        conn.executemany(_INSERT_ESCALATION, escalation_rows)
        conn.executemany(_INSERT_HISTORY, history_rows)
        conn.execute("COMMIT")
        issue_rows.clear()
        escalation_rows.clear()
        history_rows.clear()

    def chain_before(limit: datetime | None) -> None:
        nonlocal seq, prev, last_at
        while heap and (limit is None or heap[0][0] < limit):
            last_at, _, _, row = heapq.heappop(heap)
            seq += 1
            digest = row_hash((seq, *row, prev), sqlite=True)
            history_rows.append((seq, *row, prev, digest))
            prev = digest
            if len(history_rows) >= LOAD_CHUNK:
                flush()

    k, left, next_escalation, escalated = 0, events, 1, 0
    while left > 0:
        k += 1
        life = lifecycle(k, next_escalation)[:left]
        left -= len(life)
        chain_before(life[0].at)
        replay = Replay()
        for e in life:
            replay.apply(e)
            heapq.heappush(heap, (e.at, e.issue_id, e.version, (
                e.issue_id, e.version, e.type, e.transition, e.from_state, e.to_state,
                e.actor, _text(e.at), _text(e.recorded_at), encode(e.payload), e.workflow)))
        assert replay.issue is not None
        issue_rows.append(_issue_row(replay.issue))
        escalation_rows.extend(_escalation_row(x) for x in replay.escalations.values())
        next_escalation += len(replay.escalations)
        escalated += len(replay.escalations)
    chain_before(None)
    flush()
    if seq - base != events:
        raise RuntimeError(f"chained {seq - base} events, wanted {events}")
    return k, escalated, last_at


# --- the timed sides ---------------------------------------------------------------------------
def engine_verify(path: Path, events: int, prof: Profiler | None = None) -> Took:
    app = open_app(path)
    try:
        with stopwatch() as took:
            if prof is None:
                v = audit.verify(app.session())
            else:
                with prof.on():
                    v = audit.verify(app.session())
    finally:
        app.close()
    if not v.ok or v.rules_checked != events:
        raise RuntimeError(f"verify: {v}")
    VERIFY_JOBS.append(v.jobs)
    return took


def engine_replay(path: Path, issues: int, prof: Profiler | None = None) -> Took:
    app = open_app(path)
    try:
        with stopwatch() as took:
            if prof is None:
                out = audit.replay(app.session(), AS_OF)
            else:
                with prof.on():
                    out = audit.replay(app.session(), AS_OF)
    finally:
        app.close()
    if len(out) != issues:
        raise RuntimeError(f"replay gave {len(out)} issues of {issues}")
    return took


def _raw(path: Path, events: int, body: Callable[[sqlite3.Connection], int]) -> Took:
    """One read transaction on a plain sqlite3 connection (the engine's pragmas)."""
    with closing(raw_connect(path)) as conn, stopwatch() as took:
        conn.execute("BEGIN")
        n = body(conn)
        conn.execute("COMMIT")
    if not events <= n <= events + 16:  # the issues' events and the town's few
        raise RuntimeError(f"the baseline read {n} rows of {events}")
    return took


def _read_hashed(conn: sqlite3.Connection, sql: str) -> int:
    n = 0
    cur = conn.execute(sql)
    while rows := cur.fetchmany(READ_BATCH):
        for row in rows:
            sha256("\x1f".join(map(str, row)).encode()).hexdigest()
        n += len(rows)
    return n


def _read(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> int:
    n = 0
    cur = conn.execute(sql, params)
    while rows := cur.fetchmany(READ_BATCH):
        for _row in rows:
            pass
        n += len(rows)
    return n


def raw_verify(path: Path, events: int) -> Took:
    """Every history row in seq order, each row's fields joined and hashed."""
    return _raw(path, events, lambda conn: _read_hashed(conn, _SEQ_ORDER))


def raw_replay(path: Path, events: int) -> Took:
    """The engine's replay query, the rows only read."""
    return _raw(path, events, lambda conn: _read(conn, _REPLAY, (_text(AS_OF),)))


def raw_verify_reads(path: Path, events: int) -> Took:
    """(info) verify's two reads by hand: the links in seq order, then every row in issue
    order, hashed."""
    def body(conn: sqlite3.Connection) -> int:
        links = _read(conn, _LINKS)
        rows = _read_hashed(conn, _ISSUE_ORDER)
        return links if links == rows else -1

    return _raw(path, events, body)


def traced_replay(built: Built) -> dict[str, int]:
    """tracemalloc: the peak of replay, and what its result holds (bytes)."""
    app = open_app(built.path)
    try:
        s = app.session()
        audit.anchor(s)  # the connection and the town's zone, before measuring
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            out = audit.replay(s, AS_OF)
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        if len(out) != built.issues:
            raise RuntimeError(f"traced replay gave {len(out)} issues of {built.issues}")
        del out
    finally:
        app.close()
    return {"peak": peak - base, "result": current - base}


def child() -> None:
    """In a new interpreter (`python -c`): verify sys.argv[1], print the verdict and the peak
    RSS around it."""
    app = open_app(Path(sys.argv[1]))
    try:
        s = app.session()
        audit.anchor(s)  # the connection and the town's zone, before measuring
        report_peak_rss(lambda: {"verdict": audit.verify(s).to_json()})
    finally:
        app.close()


def child_verify(built: Built) -> dict[str, Any]:
    """verify in a new process: the check that the history is sound (run before anything is
    timed; every event and issue, ok), and the growth of its peak RSS."""
    if built.last_at >= AS_OF:
        raise RuntimeError(f"the history runs past AS_OF ({built.last_at})")
    got = run_child("bench_audit", built.path, "verify")
    v = got["verdict"]
    # every event of the issues checked against the rules in force (the town's own events,
    # the configuration init recorded, come before them)
    if not (v["ok"] and v["rules_checked"] == built.events and v["issues"] == built.issues):
        raise RuntimeError(f"verify on {built.path.name}: {v}")
    return got


def _plan(path: Path, sql: str, params: tuple[Any, ...] = ()) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return " | ".join(str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


# --- the benchmark ---------------------------------------------------------------------------
def run(quick: bool, profile: bool = False) -> dict[str, float]:
    events = EVENTS_QUICK if quick else EVENTS_FULL
    small_events = EVENTS_SMALL_QUICK if quick else EVENTS_SMALL_FULL
    repeats = REPEATS_QUICK if quick else REPEATS_FULL
    heading(f"audit: verify and replay of {events:,} events, median of {repeats}")
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        folder = Path(tmp)
        large = build(folder, "large.db", events)
        size_mb = large.path.stat().st_size / 2**20
        figure(f"(setup) {events:,} events loaded", f"{large.seconds:,.1f} s",
               f"({large.issues:,} issues, {large.escalations:,} escalations,"
               f" {size_mb:,.0f} MiB file)")
        rss = {"large": child_verify(large)}
        figure("(setup) verify says ok", f"{rss['large']['wall']:,.1f} s",
               "(untimed, in a new process: the check, and its peak RSS)")

        sides: dict[str, Callable[[], Took]] = {
            "verify": lambda: engine_verify(large.path, events),
            "verify_raw": lambda: raw_verify(large.path, events),
            "replay": lambda: engine_replay(large.path, large.issues),
            "replay_raw": lambda: raw_replay(large.path, events),
            "verify_reads_raw": lambda: raw_verify_reads(large.path, events),
        }
        times: dict[str, list[Took]] = {name: [] for name in sides}
        for r in range(repeats):
            for pair in (("verify", "verify_raw"), ("replay", "replay_raw")):
                for name in pair if r % 2 == 0 else pair[::-1]:
                    times[name].append(sides[name]())
            times["verify_reads_raw"].append(sides["verify_reads_raw"]())

        small = build(folder, "small.db", small_events)
        rss["small"] = child_verify(small)
        mem = {"small": traced_replay(small), "large": traced_replay(large)}
        plans = {"seq": _plan(large.path, _LINKS),
                 "replay": _plan(large.path, _REPLAY, (_text(AS_OF),)),
                 "issue": _plan(large.path, _ISSUE_ORDER)}

        prof_verify, prof_replay = Profiler(profile), Profiler(profile)
        if profile:  # separate passes: the profiler would distort the timed figures
            engine_verify(large.path, events, prof_verify)
            engine_replay(large.path, large.issues, prof_replay)

    wall = {name: statistics.median(t.wall for t in ts) for name, ts in times.items()}
    cpu = {name: statistics.median(t.cpu for t in ts) for name, ts in times.items()}
    mib = 2**20
    growth = {side: (r["peak_rss_after_kib"] - r["peak_rss_before_kib"]) / 1024
              for side, r in rss.items()}
    figures = {
        "events": float(events),
        "issues": float(large.issues),
        "verify_events_per_s": events / wall["verify"],
        "verify_raw_events_per_s": events / wall["verify_raw"],
        "verify_ratio": wall["verify"] / wall["verify_raw"],
        "verify_ratio_cpu": cpu["verify"] / cpu["verify_raw"],
        "verify_jobs": float(min(VERIFY_JOBS, default=1)),
        "replay_events_per_s": events / wall["replay"],
        "replay_raw_events_per_s": events / wall["replay_raw"],
        "replay_ratio": wall["replay"] / wall["replay_raw"],
        "replay_ratio_cpu": cpu["replay"] / cpu["replay_raw"],
        "verify_reads_raw_events_per_s": events / wall["verify_reads_raw"],
        "verify_ratio_same_reads": wall["verify"] / wall["verify_reads_raw"],
        "small_verify_peak_rss_growth_mib": growth["small"],
        "large_verify_peak_rss_growth_mib": growth["large"],
        "small_replay_transient_mib": (mem["small"]["peak"] - mem["small"]["result"]) / mib,
        "large_replay_transient_mib": (mem["large"]["peak"] - mem["large"]["result"]) / mib,
        "large_replay_result_mib": mem["large"]["result"] / mib,
        "setup_s": large.seconds,
    }
    figures["ratio"] = max(figures["verify_ratio"], figures["replay_ratio"])

    def runs(name: str) -> str:
        return ", ".join(f"{t.wall:.2f}" for t in times[name])

    for name, label in (("verify", "audit.verify"), ("verify_raw", "raw: seq order + sha256"),
                        ("replay", "audit.replay"), ("replay_raw", "raw: same query, read"),
                        ("verify_reads_raw", "(info) raw: verify's two reads")):
        figure(label, f"{events / wall[name]:,.0f} ev/s",
               f"({wall[name]:.2f} s, {cpu[name]:.2f} s CPU; runs {runs(name)} s)")
    show_ratio(figures, VERIFY_AIM, "verify/raw")
    figure("(info) verify ratio by CPU time", f"{figures['verify_ratio_cpu']:.2f}",
           f"(the verifier and its helpers; {int(figures['verify_jobs'])} process(es))")
    figure("(info) verify / raw with the same reads", f"{figures['verify_ratio_same_reads']:.2f}",
           "(links in seq order + rows in issue order, hashed)")
    show_ratio(figures, REPLAY_AIM, "replay/raw")
    figure("(info) replay ratio by CPU time", f"{figures['replay_ratio_cpu']:.2f}")
    for side, built in (("small", small), ("large", large)):
        got = rss[side]
        figure(f"verify peak RSS growth, {built.events:,}", f"{growth[side]:,.1f} MiB",
               f"(new process, VmHWM {got['peak_rss_before_kib'] / 1024:,.1f} →"
               f" {got['peak_rss_after_kib'] / 1024:,.1f} MiB; verify {got['wall']:.1f} s)")
    for side, built in (("small", small), ("large", large)):
        m = mem[side]
        figure(f"replay peak - result, {built.events:,}",
               f"{(m['peak'] - m['result']) / mib:,.2f} MiB",
               f"(tracemalloc peak {m['peak'] / mib:,.1f} MiB, result {m['result'] / mib:,.1f}"
               f" MiB for {built.issues:,} issues)")
    for what, plan in plans.items():
        print(f"    EXPLAIN QUERY PLAN ({what} order): {plan}")
    prof_verify.report(f"audit.verify, {events:,} events")
    prof_replay.report(f"audit.replay, {events:,} events")
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
