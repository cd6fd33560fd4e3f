"""A seeded campaign that produces every kind of event, with what the live commands reported
after each step; and the tamperings an auditor must catch, done straight in an SQLite file."""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.domain.chain import row_hash
from engine.domain.issue import Move, NewIssue
from engine.errors import RectifyError
from engine.present import issue_json
from engine.store.escalations import EscalationFilter
from tests.support import Scenario

VILLAGES = ("v-shiban", "c-jiezi")
START = datetime(2020, 9, 21, 8, 0)  # town time, a Monday


@dataclass
class Campaign:
    """The times of the steps and, at each, every issue as the live commands showed it."""

    seen: dict[datetime, dict[int, dict[str, Any]]] = field(default_factory=dict)
    steps: int = 0


def snapshot(svc: Scenario) -> dict[int, dict[str, Any]]:
    issues = svc.list()
    lights = svc.lights(issues)
    tz = svc.town_tz
    open_by_issue: dict[int, list[int]] = {}
    for x in svc.escalations(EscalationFilter(open_only=True)):
        open_by_issue.setdefault(x.issue_id, []).append(x.id)
    return {i.id: {**issue_json(i, tz, lights[i.id]),
                   "open_escalations": sorted(open_by_issue.get(i.id, []))} for i in issues}


def run_campaign(svc: Scenario, seed: int, issues: int = 12, days: int = 30,
                 watch: bool = True) -> Campaign:
    """Issues found over the first days, then worked (or left to run late) day by day, with a
    sweep every morning, interviews recorded, extensions asked and decided, a village listed
    and unlisted, a rejection and a reopening."""
    rng = random.Random(seed)
    out = Campaign()
    now = START
    ids: list[int] = []

    def at(moment: datetime) -> None:
        nonlocal now
        now = max(moment, now + timedelta(minutes=1))
        svc.set_now(now)

    def step(actor: str, action: Any) -> None:
        svc.actor = actor
        try:
            action()
        except RectifyError:
            return
        out.steps += 1
        if watch:
            out.seen[now] = snapshot(svc)

    for day in range(days):
        morning = START + timedelta(days=day)
        at(morning)
        step("wang", lambda: svc.escalate())
        if day < 5:
            for _ in range(max(1, issues // 5)):
                if len(ids) >= issues:
                    break
                at(now + timedelta(minutes=rng.randint(5, 90)))
                village = rng.choice(VILLAGES)

                def add(v: str = village) -> None:
                    ids.append(svc.add_issue(NewIssue(
                        title=f"问题 {len(ids) + 1}", category="housing_safety", village=v,
                        group="sa-01", listed=rng.random() < 0.2)).id)

                step("sa1", add)
        if day == 6:
            at(now + timedelta(hours=1))
            step("wang", lambda: svc.list_village("c-jiezi", True))
        if day == 16:
            at(now + timedelta(hours=1))
            step("wang", lambda: svc.list_village("c-jiezi", False))
        for issue_id in ids:
            if rng.random() < 0.45:
                continue
            at(now + timedelta(minutes=rng.randint(3, 40)))
            _work(svc, rng, issue_id, now, step)
        for x in svc.escalations(EscalationFilter(open_only=True)):
            if rng.random() < 0.5:
                at(now + timedelta(minutes=7))
                if x.level == "interview":
                    step("liu", lambda x=x: svc.record_escalation(x.id, "约谈：限期整改", ["chen"]))
                else:
                    step("wang", lambda x=x: svc.record_escalation(x.id, "通报", decide=True))
        for ext in svc.extensions(pending_only=True):
            at(now + timedelta(minutes=9))
            step("liu", lambda e=ext: svc.decide_extension(e.id, rng.random() < 0.6, "研究决定"))
    return out


def _work(svc: Scenario, rng: random.Random, issue_id: int, now: datetime, step: Any) -> None:
    issue = svc.show(issue_id)
    state = issue.state
    today = now.date()

    def mv(actor: str, transition: str, **kw: Any) -> None:
        step(actor, lambda: svc.move(Move(issue_id=issue_id, transition=transition, **kw)))

    if state == "found":
        mv("sa1", "report", note="报告")
    elif state == "reported":
        mv("rc1", "study", plan="维修屋面", assignee=rng.choice(["rc2", "chen"]),
           due=_working_day_after(today, rng.randint(3, 8)))
    elif state == "studied":
        roll = rng.random()
        if roll < 0.25 and issue.due_at is not None:
            to = _working_day_after(issue.due_at.date(), 3)
            step(issue.assignee or "chen", lambda: svc.extend(issue_id, to, "材料未到"))
        elif roll < 0.8:
            # evidence is required: a file's hash, made up here (no file is stored)
            from engine.domain.events import Evidence

            ev = (Evidence(sha256=f"{issue_id:064x}", name="photo.jpg", size=10),)
            mv(issue.assignee or "rc1", "rectify", note="已整改", evidence=ev)
    elif state == "rectified":
        if rng.random() < 0.2:
            mv("qs1", "reject", reason="照片不清")
        else:
            mv("qs1", "verify", note="核实")
    elif state == "verified":
        mv("wang", "clear")
    elif state == "cleared" and rng.random() < 0.1:
        mv("iv1", "reopen", reason="回访发现反弹")


def _working_day_after(day: date, n: int) -> date:
    out = day
    while n:
        out += timedelta(days=1)
        if out.weekday() < 5 and not (date(2020, 10, 1) <= out <= date(2020, 10, 8)):
            n -= 1
    return out


# --- tampering, straight in the file ---------------------------------------------------------
HISTORY = ("seq", "issue_id", "version", "type", "transition", "from_state", "to_state", "actor",
           "at", "recorded_at", "payload", "workflow", "prev_hash", "hash")


def open_raw(path: Path) -> sqlite3.Connection:
    """The file as someone holding it would: no engine, the guard triggers dropped."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS history_no_update")
    conn.execute("DROP TRIGGER IF EXISTS history_no_delete")
    return conn


def row(conn: sqlite3.Connection, seq: int) -> dict[str, Any]:
    got = conn.execute(f"SELECT {', '.join(HISTORY)} FROM history WHERE seq = ?", (seq,))
    values = got.fetchone()
    assert values is not None, f"no event {seq}"
    return dict(zip(HISTORY, values, strict=True))


def rehash(r: dict[str, Any]) -> str:
    """What a forger who knows the scheme computes for a row."""
    return row_hash([r[c] for c in HISTORY[:-1]], sqlite=True)


def insert(conn: sqlite3.Connection, r: dict[str, Any]) -> None:
    conn.execute(f"INSERT INTO history ({', '.join(HISTORY)})"
                 f" VALUES ({', '.join('?' * len(HISTORY))})", [r[c] for c in HISTORY])


def last_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT max(seq) FROM history").fetchone()[0])


def shift(conn: sqlite3.Connection, from_seq: int, by: int) -> None:
    """Renumber the events from `from_seq` on (a forger closing or opening a gap)."""
    conn.execute("UPDATE history SET seq = -(seq + ?) WHERE seq >= ?", (by, from_seq))
    conn.execute("UPDATE history SET seq = -seq WHERE seq < 0")


def edit_payload(conn: sqlite3.Connection, seq: int) -> None:
    r = row(conn, seq)
    payload = json.loads(r["payload"])
    payload["note"] = "改过的记录"
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    conn.execute("UPDATE history SET payload = ? WHERE seq = ?", (text, seq))


def tamper(conn: sqlite3.Connection, kind: str, seq: int) -> int:
    """Apply one tampering at event `seq`; the seq an auditor should be told is first bad."""
    if kind == "payload":
        edit_payload(conn, seq)
    elif kind == "actor":
        conn.execute("UPDATE history SET actor = 'nobody' WHERE seq = ?", (seq,))
    elif kind == "at":
        conn.execute("UPDATE history SET at = '2020-09-01 00:00:00.000000' WHERE seq = ?",
                     (seq,))
    elif kind == "recorded_at":
        conn.execute("UPDATE history SET recorded_at = '2020-09-01 00:00:00.000000'"
                     " WHERE seq = ?", (seq,))
    elif kind == "at_format":  # the same moment written another way (T for the space)
        conn.execute("UPDATE history SET at = replace(at, ' ', 'T') WHERE seq = ?", (seq,))
    elif kind == "recorded_offset":  # an offset appended: another moment, if honoured
        conn.execute("UPDATE history SET recorded_at = recorded_at || '+08:00' WHERE seq = ?",
                     (seq,))
    elif kind == "relinked":  # chained to something else, its own hash recomputed
        conn.execute("UPDATE history SET prev_hash = ? WHERE seq = ?", ("f" * 64, seq))
        conn.execute("UPDATE history SET hash = ? WHERE seq = ?", (rehash(row(conn, seq)), seq))
    elif kind == "payload_rehashed":  # edited by someone who knows how the hash is made
        edit_payload(conn, seq)
        conn.execute("UPDATE history SET hash = ? WHERE seq = ?", (rehash(row(conn, seq)), seq))
    elif kind == "deleted":
        conn.execute("DELETE FROM history WHERE seq = ?", (seq,))
    elif kind == "deleted_renumbered":
        conn.execute("DELETE FROM history WHERE seq = ?", (seq,))
        shift(conn, seq + 1, -1)
    elif kind == "inserted":  # a forged event, properly hashed onto the one before it
        before = row(conn, seq - 1) if seq > 1 else None
        forged = dict(row(conn, seq))
        top = conn.execute("SELECT max(version) FROM history WHERE issue_id = ?",
                           (forged["issue_id"],)).fetchone()[0]
        forged.update(version=int(top) + 1, type="interview_recorded", transition=None,
                      from_state=None, to_state=None, actor="liu",
                      payload='{"escalation":1,"note":"补记","with":[]}',
                      prev_hash=before["hash"] if before else "0" * 64)
        shift(conn, seq, 1)
        forged["hash"] = rehash(forged)
        insert(conn, forged)
    elif kind == "swapped":
        conn.execute("UPDATE history SET seq = -1 WHERE seq = ?", (seq,))
        conn.execute("UPDATE history SET seq = ? WHERE seq = ?", (seq, seq + 1))
        conn.execute("UPDATE history SET seq = ? WHERE seq = -1", (seq + 1,))
    else:
        raise ValueError(kind)
    return seq


CHAIN_TAMPERINGS = ("payload", "actor", "at", "recorded_at", "at_format", "recorded_offset",
                    "relinked", "payload_rehashed", "deleted", "deleted_renumbered", "inserted",
                    "swapped")
EXPECTED_KIND = {"payload": "edited", "actor": "edited", "at": "edited",
                 "recorded_at": "edited", "at_format": "edited", "recorded_offset": "edited",
                 "relinked": "edited", "payload_rehashed": "edited", "deleted": "missing",
                 "deleted_renumbered": "missing", "inserted": "inserted",
                 "swapped": "reordered"}
