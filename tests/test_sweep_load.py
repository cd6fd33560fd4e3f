"""The escalation sweep under load: several OS processes sweeping one database at once.

Each worker is a separate Python process running the real command line (`cli.main`) on
`escalate --batch N`. The workers import the CLI first, say that they are ready and wait for a
start file, so that their sweeps really overlap (a cold Python start with SQLAlchemy costs more
than a batch). Setup is done in-process and fast: `init` with the small org at an early clock,
then one `import_csv` of many rows as sa1; each row enters `found`, due in one working day, so
that by 2020-11-30 all three rungs of the default ladder (reminder, interview, accountability)
have come due for every issue.

What must hold whatever the interleaving: each (issue, stage visit, level) raised exactly once,
none missing, one `escalated` history event per escalation (and no event for an escalation that
was rolled back), every worker exiting 0, never 'database is locked'.

The kill test needs its victim inside an open transaction when the SIGKILL comes: its worker
process wraps two store methods so that, after a given number of inserted escalations, it
writes down what its transaction holds and stops there; the test then kills it from outside.

`rectify serve` is driven as a subprocess with a drill clock (`--now` a moment before a
reminder; the clock then runs on in real time): it must raise the reminder while it runs and
stop cleanly on SIGTERM or SIGINT, also when the signal comes during start-up, during a job
submission, or twice while the sweep in hand finishes.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.support import scenario, write_org

REPO = Path(__file__).resolve().parents[1]
CST = timezone(timedelta(hours=8))
T0 = datetime(2020, 9, 28, 9, 0)  # Monday before the 2020 National Day holiday, town time
SWEEP_AT = "2020-11-30T09:00"  # every rung of every issue found at T0 has come due
LEVELS = ("reminder", "interview", "accountability")
# an issue found at T0 is due at the end of 2020-09-29; its reminder (offset -1) is at the
# start of that working day, town time
REMINDER_AT = datetime(2020, 9, 29, 0, 0, tzinfo=CST)
WAIT = 120.0  # seconds: an upper bound for anything a worker does here

WORKER = r"""
import json, os, sys, time
from pathlib import Path

sys.path.insert(0, os.getcwd())
import cli
# what a sweep needs, imported before the start, so that the workers race on the database
import engine.present, engine.bootstrap, engine.app.supervision, engine.statemachine
import engine.store.db, engine.config.workflow

job = json.loads(Path(sys.argv[1]).read_text())
pause_after = job.get("pause_after")
if pause_after is not None:
    # the victim of the kill test: after its pause_after-th escalation it writes down what its
    # open transaction has inserted so far and stops there, the transaction still open, until
    # the test kills it
    from engine.store.escalations import EscalationRepository
    from engine.store.issues import IssueRepository

    claim, insert = IssueRepository.claim_due, EscalationRepository.insert_many
    seen = {"inserted": 0, "open": []}

    def claim_due(self, *args, **kwargs):
        seen["open"] = []  # one claim per transaction: a new batch
        return claim(self, *args, **kwargs)

    def insert_escalations(self, made):
        # the batch's rows one statement each, so that the pause comes after exactly
        # pause_after of them
        out = {}
        for one in made:
            got = insert(self, [one])
            out.update(got)
            for (issue_id, level), new_id in got.items():
                seen["inserted"] += 1
                seen["open"].append([issue_id, level, new_id])
                if seen["inserted"] == pause_after:
                    tmp = Path(job["paused"] + ".tmp")
                    tmp.write_text(json.dumps(seen["open"]))
                    tmp.replace(job["paused"])
                    time.sleep(float(job["wait"]))
        return out

    IssueRepository.claim_due = claim_due
    EscalationRepository.insert_many = insert_escalations

Path(job["ready"]).touch()
limit = time.monotonic() + float(job["wait"])
while not os.path.exists(job["go"]):
    if time.monotonic() > limit:
        sys.exit(98)
    time.sleep(0.0005)
sys.exit(cli.main(job["argv"]))
"""


# --- setup ----------------------------------------------------------------------------------
def seed(url: str, folder: Path, count: int) -> list[int]:
    """Initialise the database with the small org at T0 and import `count` issues as sa1."""
    svc = scenario(url, folder / "data", actor="sa1", now=T0)
    try:
        svc.init(write_org(folder / "org.yaml"))
        sheet = folder / "issues.csv"
        with sheet.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["title", "category", "village"])
            for n in range(count):
                w.writerow([f"饮水管道破损 {n}", "drinking_water",
                            "v-shiban" if n % 2 else "c-jiezi"])
        ids = svc.import_csv(sheet)
        assert len(ids) == count
        first = svc.show(ids[0])
        assert first.state == "found"
        assert first.due_at == datetime(2020, 9, 30, 0, 0, tzinfo=CST)
        assert first.next_escalation_at == REMINDER_AT
    finally:
        svc.store.close()
    return ids


def cli_argv(url: str, folder: Path, now: str, *args: str) -> list[str]:
    return ["--db", url, "--data-dir", str(folder / "data"), "--now", now, "--json", *args]


# --- the workers ----------------------------------------------------------------------------
@dataclass
class Worker:
    index: int
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    def output(self) -> tuple[str, str]:
        return (self.out.read_text(encoding="utf-8"), self.err.read_text(encoding="utf-8"))

    def raised(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = json.loads(self.out.read_text(encoding="utf-8"))["raised"]
        return got


@contextmanager
def workers(folder: Path, argvs: Sequence[list[str]], name: str,
            pause: dict[int, int] | None = None) -> Iterator[list[Worker]]:
    """Start one process per argv, ready and waiting; yields them once they have all started
    together (the start file is touched when every one is ready)."""
    go = folder / f"{name}-go"
    started: list[Worker] = []
    try:
        for k, argv in enumerate(argvs):
            job: dict[str, Any] = {
                "argv": argv, "wait": WAIT, "go": str(go),
                "ready": str(folder / f"{name}-ready-{k}"),
            }
            if pause is not None and k in pause:
                job["pause_after"] = pause[k]
                job["paused"] = str(folder / f"{name}-paused-{k}.json")
            spec = folder / f"{name}-job-{k}.json"
            spec.write_text(json.dumps(job), encoding="utf-8")
            out, err = folder / f"{name}-out-{k}.json", folder / f"{name}-err-{k}.txt"
            with out.open("wb") as o, err.open("wb") as e:
                proc = subprocess.Popen([sys.executable, "-c", WORKER, str(spec)], cwd=REPO,
                                        stdout=o, stderr=e)
            started.append(Worker(k, proc, out, err))
        limit = time.monotonic() + WAIT
        while not all((folder / f"{name}-ready-{k}").exists() for k in range(len(argvs))):
            for w in started:
                if w.proc.poll() is not None:
                    raise AssertionError(f"worker {w.index} died before the start"
                                         f" ({w.proc.returncode}): {w.output()[1]}")
            assert time.monotonic() < limit, "the workers did not get ready in time"
            time.sleep(0.01)
        go.touch()
        yield started
    finally:
        for w in started:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()


def wait_all(ws: Sequence[Worker]) -> None:
    for w in ws:
        w.proc.wait(timeout=WAIT)


def wait_for_file(path: Path, w: Worker) -> None:
    """Until the worker writes the file (it must not end before)."""
    limit = time.monotonic() + WAIT
    while not path.exists():
        if w.proc.poll() is not None:
            raise AssertionError(f"worker {w.index} ended ({w.proc.returncode}) before"
                                 f" writing {path.name}: {w.output()[1]}")
        assert time.monotonic() < limit, f"{path.name} did not appear"
        time.sleep(0.005)


# --- checks on the database ------------------------------------------------------------------
@dataclass
class Tally:
    escalations: list[tuple[int, int, int, str]]  # (id, issue, stage_version, level)
    escalated_events: list[tuple[int, int, str]]  # (escalation id, issue, level) in payloads
    pending: int  # issues still with a next_escalation_at
    versions: Counter[int]  # issue version -> how many issues


def tally(db: Engine) -> Tally:
    with db.connect() as conn:
        escalations = [(int(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in conn.execute(
            text("SELECT id, issue_id, stage_version, level FROM escalations"))]
        events = []
        for r in conn.execute(text("SELECT issue_id, payload FROM history"
                                   " WHERE type = 'escalated'")):
            payload = json.loads(r[1])
            events.append((int(payload["escalation"]), int(r[0]), str(payload["level"])))
        pending = int(conn.execute(text(
            "SELECT count(*) FROM issues WHERE next_escalation_at IS NOT NULL")).scalar_one())
        versions = Counter(int(r[0]) for r in conn.execute(text("SELECT version FROM issues")))
    return Tally(escalations, events, pending, versions)


def check_exactly_once(t: Tally, ids: Sequence[int]) -> None:
    """Every issue has each level exactly once, with one matching history event each."""
    keys = Counter((issue, version, level) for _, issue, version, level in t.escalations)
    twice = [k for k, n in keys.items() if n > 1]
    assert not twice, f"raised more than once: {twice[:10]}"
    want = {(i, 1, level) for i in ids for level in LEVELS}
    missing = want - set(keys)
    assert not missing, f"{len(missing)} escalation(s) missing, e.g. {sorted(missing)[:10]}"
    assert set(keys) == want
    assert len(t.escalations) == len(LEVELS) * len(ids)
    # the history: one 'escalated' event per escalation, naming it; none for anything else
    assert len(t.escalated_events) == len(t.escalations)
    assert sorted(t.escalated_events) == sorted(
        (e, issue, level) for e, issue, _, level in t.escalations)
    # every issue moved its pointer past the last rung and took one version per event
    assert t.pending == 0
    assert t.versions == Counter({1 + len(LEVELS): len(ids)})


def check_raised_lists(lists: Sequence[list[dict[str, Any]]], t: Tally) -> set[int]:
    """What the workers printed: no escalation twice, each one in the database. Their ids."""
    printed = [(int(e["id"]), int(e["issue"]), str(e["level"])) for xs in lists for e in xs]
    twice = [k for k, n in Counter((i, level) for _, i, level in printed).items() if n > 1]
    assert not twice, f"printed as raised by more than one worker: {twice[:10]}"
    assert len({e for e, _, _ in printed}) == len(printed)
    in_db = {(e, issue, level) for e, issue, _, level in t.escalations}
    assert set(printed) <= in_db
    return {e for e, _, _ in printed}


def clean(out: str, err: str) -> None:
    for stream in (out, err):
        assert "Traceback" not in stream
        assert "database is locked" not in stream
        assert "unexpected" not in stream


# --- PostgreSQL: four workers -----------------------------------------------------------------
PG_ISSUES = 2_000
PG_WORKERS = 4
PG_BATCH = 50


@pytest.mark.slow
def test_four_processes_sweep_2000_overdue_issues_on_postgresql(
        pg_url: str, tmp_path: Path) -> None:
    ids = seed(pg_url, tmp_path, PG_ISSUES)
    argv = cli_argv(pg_url, tmp_path, SWEEP_AT, "escalate", "--batch", str(PG_BATCH))
    with workers(tmp_path, [argv] * PG_WORKERS, "sweep") as ws:
        t0 = time.monotonic()
        wait_all(ws)
        took = time.monotonic() - t0
    for w in ws:
        out, err = w.output()
        assert w.proc.returncode == 0, (w.index, err)
        assert err == "", (w.index, err)
        clean(out, err)

    db = create_engine(pg_url)
    try:
        t = tally(db)
    finally:
        db.dispose()
    lists = [w.raised() for w in ws]
    printed = check_raised_lists(lists, t)
    assert len(printed) == len(LEVELS) * PG_ISSUES
    check_exactly_once(t, ids)

    split = [len(xs) for xs in lists]
    print(f"\n{PG_WORKERS} workers, batch {PG_BATCH}: {sum(split)} escalations"
          f" split {split} in {took:.1f} s")
    # the workers start together behind the start file and a sweep takes seconds, so with
    # SKIP LOCKED several of them get rows (typically all four)
    assert sum(1 for n in split if n > 0) >= 2, split


KILL_WHEN = ["while_the_others_sweep", "after_the_others_end"]


@pytest.mark.slow
@pytest.mark.parametrize("kill_when", KILL_WHEN)
def test_a_worker_killed_mid_sweep_leaves_nothing_behind_on_postgresql(
        pg_url: str, tmp_path: Path, kill_when: str) -> None:
    """Worker 0 commits one batch, then stops inside its second (20 of its 50 issues done,
    60 escalations inserted, transaction open) until it is killed with SIGKILL: while the
    other three still sweep, or once they have ended (they skip its 50 locked issues, so that
    one more sweep after the kill has exactly those to do)."""
    ids = seed(pg_url, tmp_path, PG_ISSUES)
    argv = cli_argv(pg_url, tmp_path, SWEEP_AT, "escalate", "--batch", str(PG_BATCH))
    pause_after = len(LEVELS) * PG_BATCH + 60
    paused = tmp_path / "kill-paused-0.json"
    db = create_engine(pg_url)
    try:
        with workers(tmp_path, [argv] * PG_WORKERS, "kill", pause={0: pause_after}) as ws:
            t0 = time.monotonic()
            victim, others = ws[0], ws[1:]
            wait_for_file(paused, victim)
            uncommitted = [(int(i), str(level), int(e)) for i, level, e
                           in json.loads(paused.read_text(encoding="utf-8"))]
            assert len(uncommitted) == 60
            uncommitted_ids = [e for _, _, e in uncommitted]
            if kill_when == "after_the_others_end":
                wait_all(others)
            with db.connect() as conn:
                seen_then = int(conn.execute(text("SELECT count(*) FROM escalations")).scalar_one())
                visible = int(conn.execute(
                    text("SELECT count(*) FROM escalations WHERE id = ANY(:ids)"),
                    {"ids": uncommitted_ids}).scalar_one())
            assert visible == 0, "another session sees uncommitted escalations"
            assert victim.proc.poll() is None
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait(timeout=WAIT)
            killed_at = time.monotonic() - t0
            wait_all(others)
            took = time.monotonic() - t0
        assert victim.proc.returncode == -signal.SIGKILL
        for w in others:
            out, err = w.output()
            assert w.proc.returncode == 0, (w.index, err)
            assert err == "", (w.index, err)
            clean(out, err)
        if kill_when == "after_the_others_end":
            # all but the victim's two batches: its committed first, its locked second
            assert seen_then == len(LEVELS) * (PG_ISSUES - PG_BATCH)

        # the killed worker's backend ends (its transaction rolled back, its row locks gone)
        limit = time.monotonic() + 20
        while True:
            with db.connect() as conn:
                sessions = int(conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()")).scalar_one())
            if sessions == 0:
                break
            assert time.monotonic() < limit, "the killed worker's session did not end"
            time.sleep(0.05)

        before_final = tally(db)
        assert not set(uncommitted_ids) & {e for e, _, _, _ in before_final.escalations}
        assert len(before_final.escalated_events) == len(before_final.escalations)
        # one more sweep: whatever is still due (the killed worker's batch if nobody got to it)
        final = subprocess.run([sys.executable, "cli.py", *argv], cwd=REPO, capture_output=True,
                               text=True, timeout=WAIT, check=False)
        assert final.returncode == 0, final.stderr
        assert final.stderr == ""
        clean(final.stdout, final.stderr)
        final_raised: list[dict[str, Any]] = json.loads(final.stdout)["raised"]

        t = tally(db)
    finally:
        db.dispose()
    check_exactly_once(t, ids)
    lists = [w.raised() for w in others] + [final_raised]
    printed = check_raised_lists(lists, t)
    # the killed worker's rolled-back inserts are nowhere; its committed batch is in the
    # database but in nobody's output
    all_ids = {e for e, _, _, _ in t.escalations}
    assert not set(uncommitted_ids) & all_ids
    by_victim = all_ids - printed
    assert len(by_victim) == len(LEVELS) * PG_BATCH
    # the issues of the rolled-back batch were raised again, each level once
    redone = {(i, level) for i, level, _ in uncommitted}
    assert {(issue, level) for _, issue, _, level in t.escalations} >= redone
    if kill_when == "after_the_others_end":
        assert len(final_raised) == len(LEVELS) * PG_BATCH
        assert {(int(e["issue"]), str(e["level"])) for e in final_raised} >= redone

    print(f"\nkilled worker 0 {kill_when.replace('_', ' ')} after {killed_at:.1f} s"
          f" ({seen_then} escalations committed by then, 60 of the victim uncommitted);"
          f" committed by the victim: {len(by_victim)};"
          f" survivors {[len(xs) for xs in lists[:-1]]}; final sweep {len(final_raised)};"
          f" {took:.1f} s")


# --- SQLite: three workers --------------------------------------------------------------------
SQLITE_ISSUES = 300
SQLITE_WORKERS = 3


@pytest.mark.slow
def test_three_processes_sweep_300_overdue_issues_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rectify.db'}"
    ids = seed(url, tmp_path, SQLITE_ISSUES)
    argv = cli_argv(url, tmp_path, SWEEP_AT, "escalate", "--batch", "20")
    with workers(tmp_path, [argv] * SQLITE_WORKERS, "sqlite") as ws:
        t0 = time.monotonic()
        wait_all(ws)
        took = time.monotonic() - t0
    for w in ws:
        out, err = w.output()
        assert "locked" not in err, (w.index, err)
        assert w.proc.returncode == 0, (w.index, err)
        assert err == "", (w.index, err)
        clean(out, err)

    db = create_engine(url)
    try:
        t = tally(db)
    finally:
        db.dispose()
    lists = [w.raised() for w in ws]
    printed = check_raised_lists(lists, t)
    assert len(printed) == len(LEVELS) * SQLITE_ISSUES
    check_exactly_once(t, ids)
    print(f"\n{SQLITE_WORKERS} workers on SQLite: split {[len(xs) for xs in lists]}"
          f" in {took:.1f} s")


# --- rectify serve ----------------------------------------------------------------------------
@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    def output(self) -> tuple[str, str]:
        return (self.out.read_text(encoding="utf-8"), self.err.read_text(encoding="utf-8"))


@contextmanager
def serving(url: str, folder: Path, now: str, interval: float,
            launcher: Sequence[str] = ("cli.py",)) -> Iterator[Served]:
    """`rectify serve` as a subprocess, once it has said that it serves."""
    out, err = folder / "serve-out.txt", folder / "serve-err.txt"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            [sys.executable, *launcher, "--db", url, "--data-dir", str(folder / "data"),
             "--now", now, "serve", "--console", "--interval", str(interval)],
            cwd=REPO, stdout=o, stderr=e)
    served = Served(proc, out, err)
    try:
        # the signal handlers are in place once it says so
        limit = time.monotonic() + 30
        while "serving" not in served.output()[0]:
            assert proc.poll() is None, served.output()
            assert time.monotonic() < limit, "serve did not start"
            time.sleep(0.02)
        yield served
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def escalations_now(db: Engine) -> list[tuple[int, str, datetime, datetime]]:
    """(issue, level, moment, raised_at) of every escalation, times aware UTC."""
    def aware(value: Any) -> datetime:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(moment, datetime)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    with db.connect() as conn:
        return [(int(r[0]), str(r[1]), aware(r[2]), aware(r[3])) for r in conn.execute(
            text("SELECT issue_id, level, moment, raised_at FROM escalations ORDER BY id"))]


@pytest.mark.slow
@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
def test_serve_raises_the_reminder_when_its_moment_comes_and_stops_on_a_signal(
        tmp_path: Path, stop_with: signal.Signals) -> None:
    url = f"sqlite:///{tmp_path / 'rectify.db'}"
    [issue] = seed(url, tmp_path, 1)
    db = create_engine(url)
    try:
        # two seconds before the reminder, town time; the drill clock runs on from there
        with serving(url, tmp_path, "2020-09-28T23:59:58", 0.5) as served:
            started = time.monotonic()
            limit = started + 20
            found = escalations_now(db)
            while not found:
                assert served.proc.poll() is None, served.output()
                assert time.monotonic() < limit, ("no reminder within 20 s", served.output())
                time.sleep(0.1)
                found = escalations_now(db)
            waited = time.monotonic() - started
            time.sleep(1.2)  # two more sweeps: nothing raised twice
            stopping = time.monotonic()
            served.proc.send_signal(stop_with)
            code = served.proc.wait(timeout=10)
            stopped_in = time.monotonic() - stopping
        out, err = served.output()
        final = escalations_now(db)
    finally:
        db.dispose()
    assert code == 0, (out, err)
    assert "Traceback" not in out and "Traceback" not in err, (out, err)
    assert "error" not in err, err
    assert out.rstrip().endswith("stopped"), out
    assert f"stopping ({stop_with.name})" in out
    assert f"raised reminder #1 on issue {issue} (found)" in out, out
    # the reminder, once, at or after its moment by the drill clock; nothing else yet
    assert [(i, level) for i, level, _, _ in final] == [(issue, "reminder")]
    [(_, _, moment, raised_at)] = final
    assert moment == REMINDER_AT
    assert REMINDER_AT <= raised_at < REMINDER_AT + timedelta(seconds=20)
    print(f"\nreminder seen after {waited:.1f} s; {stop_with.name} -> exit 0 in"
          f" {stopped_in:.2f} s")


@pytest.mark.slow
def test_serve_finishes_the_sweep_in_hand_on_sigterm_on_postgresql(
        pg_url: str, tmp_path: Path) -> None:
    """SIGTERM while the first sweep of 3,000 overdue issues runs: it is finished, not cut."""
    ids = seed(pg_url, tmp_path, 3_000)  # three batches: the signal comes within one
    db = create_engine(pg_url)
    try:
        with serving(pg_url, tmp_path, SWEEP_AT, 60) as served:
            limit = time.monotonic() + 30
            while True:
                with db.connect() as conn:
                    n = int(conn.execute(text("SELECT count(*) FROM escalations")).scalar_one())
                if n > 0:
                    break
                assert served.proc.poll() is None, served.output()
                assert time.monotonic() < limit, "the sweep did not start"
                time.sleep(0.02)
            assert n < len(LEVELS) * len(ids), "the sweep ended before the signal"
            stopping = time.monotonic()
            served.proc.send_signal(signal.SIGTERM)
            code = served.proc.wait(timeout=WAIT)
            stopped_in = time.monotonic() - stopping
        out, err = served.output()
        t = tally(db)
    finally:
        db.dispose()
    assert code == 0, (out, err)
    assert "Traceback" not in out and "Traceback" not in err, (out, err)
    assert out.rstrip().endswith("stopped"), out[-2000:]
    check_exactly_once(t, ids)
    print(f"\nSIGTERM with {n} of {len(LEVELS) * len(ids)} raised: exit 0 after"
          f" {stopped_in:.1f} s, the sweep completed")


# --- rectify serve: known bugs ------------------------------------------------------------------
# The SIGTERM/SIGINT handler of engine/scheduler.py calls scheduler.shutdown(wait=True) inside
# the signal handler, i.e. on the main thread at whatever point it was interrupted: before the
# scheduler runs, inside APScheduler's or concurrent.futures' locked sections, or inside an
# earlier call of the same handler. The three tests below show what that does.

SERVE_WIDENED = r"""
import os, sys, time
from pathlib import Path

sys.path.insert(0, os.getcwd())
widen, marker = sys.argv[1], sys.argv[2]
if widen == "start":
    # a slow moment between 'serving' (the handlers are installed) and the scheduler running
    from apscheduler.schedulers.blocking import BlockingScheduler

    start = BlockingScheduler.start

    def slow_start(self, *args, **kwargs):
        Path(marker).touch()
        time.sleep(2.0)
        return start(self, *args, **kwargs)

    BlockingScheduler.start = slow_start
elif widen == "submit":
    # a slow first job submission (the pool starting its thread, _shutdown_lock held)
    from concurrent.futures import ThreadPoolExecutor

    adjust = ThreadPoolExecutor._adjust_thread_count

    def slow_adjust(self):
        if not os.path.exists(marker):
            Path(marker).touch()
            time.sleep(2.0)
        return adjust(self)

    ThreadPoolExecutor._adjust_thread_count = slow_adjust
import cli

sys.exit(cli.main(sys.argv[3:]))
"""


def wait_for_marker(served: Served, marker: Path) -> None:
    """Until the widened window is open (a RuntimeError, not the expected failure, if not)."""
    limit = time.monotonic() + 10
    while not marker.exists():
        if served.proc.poll() is not None or time.monotonic() > limit:
            raise RuntimeError(f"the window did not open: {served.output()}")
        time.sleep(0.005)


def stop_and_wait(served: Served, signum: signal.Signals, timeout: float) -> tuple[int, str, str]:
    """Send the signal; the exit code and output, or an AssertionError if it hangs."""
    served.proc.send_signal(signum)
    try:
        code = served.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()
        out, err = served.output()
        raise AssertionError(f"serve hung after {signum.name}: {out!r} {err!r}") from None
    out, err = served.output()
    return code, out, err


@pytest.mark.slow
def test_serve_stops_cleanly_on_a_sigterm_right_after_it_says_serving(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rectify.db'}"
    seed(url, tmp_path, 1)
    marker = tmp_path / "in-window"
    launcher = ("-c", SERVE_WIDENED, "start", str(marker))
    with serving(url, tmp_path, "2020-09-28T09:00", 0.5, launcher) as served:
        wait_for_marker(served, marker)
        code, out, err = stop_and_wait(served, signal.SIGTERM, 10)
    assert "unexpected" not in err, err
    assert code == 0, (out, err)
    assert out.rstrip().endswith("stopped"), out


@pytest.mark.slow
def test_serve_stops_on_a_sigterm_during_a_job_submission(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rectify.db'}"
    seed(url, tmp_path, 1)
    marker = tmp_path / "in-submit"
    launcher = ("-c", SERVE_WIDENED, "submit", str(marker))
    with serving(url, tmp_path, "2020-09-28T09:00", 0.5, launcher) as served:
        wait_for_marker(served, marker)
        code, out, err = stop_and_wait(served, signal.SIGTERM, 6)
    assert code == 0, (out, err)
    assert out.rstrip().endswith("stopped"), out


@pytest.mark.slow
def test_serve_survives_a_second_signal_while_finishing_the_sweep_in_hand(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rectify.db'}"
    ids = seed(url, tmp_path, 2_000)  # a sweep of seconds: time for two signals
    everything = len(LEVELS) * len(ids)
    db = create_engine(url)
    try:
        with serving(url, tmp_path, SWEEP_AT, 60) as served:
            limit = time.monotonic() + 30
            n = 0
            while n == 0:
                with db.connect() as conn:
                    n = int(conn.execute(text("SELECT count(*) FROM escalations")).scalar_one())
                if served.proc.poll() is not None or time.monotonic() > limit:
                    raise RuntimeError(f"the sweep did not start: {served.output()}")
                time.sleep(0.02)
            served.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            with db.connect() as conn:
                n = int(conn.execute(text("SELECT count(*) FROM escalations")).scalar_one())
            if n >= everything or served.proc.poll() is not None:
                raise RuntimeError(f"the sweep was not in hand any more ({n} raised)")
            code, out, err = stop_and_wait(served, signal.SIGINT, WAIT)
        t = tally(db)
    finally:
        db.dispose()
    # whatever the second signal does, the batches are atomic
    assert len(t.escalated_events) == len(t.escalations)
    assert "unexpected" not in err, (err, f"{len(t.escalations)} of {everything} raised")
    assert code == 0, (out[-2000:], err)
    assert out.rstrip().endswith("stopped"), out[-2000:]
    check_exactly_once(t, ids)
