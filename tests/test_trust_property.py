"""A property: whatever is done to the configuration the chain recorded (its town events, the
org tables, the registered workflow and calendar versions, the calendar in use, the mode) or to
the evidence blobs the history names, `audit verify --evidence` finds it.

One town is worked once (SQLite: the file is copied and tampered with as someone holding it
would, the guard triggers dropped); hypothesis draws the tampering and where.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.domain.chain import row_hash
from engine.domain.issue import Move, NewIssue
from tests.support import run_cli, scenario, write_org

HISTORY = ("seq", "issue_id", "version", "type", "transition", "from_state", "to_state", "actor",
           "at", "recorded_at", "payload", "workflow", "prev_hash", "hash")


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drill town: two org versions (a village listed), evidence on three issues."""
    folder = tmp_path_factory.mktemp("trusted")
    svc = scenario(f"sqlite:///{folder / 'rectify.db'}", folder / "rectify-data", actor="wang",
                   now=datetime(2020, 10, 12, 9, 0))
    svc.init(write_org(folder / "org.yaml"))
    for k in range(3):
        svc.set_now(datetime(2020, 10, 12, 9, 10 + k))
        svc.actor = "sa1"
        issue_id = svc.add_issue(NewIssue(title=f"第{k}户漏雨", category="housing_safety",
                                          village="v-shiban")).id
        svc.move(Move(issue_id, "report"))
        svc.actor = "rc1"
        svc.move(Move(issue_id, "study", plan="修缮", assignee="rc2", due=date(2020, 10, 20)))
        photo = folder / f"photo{k}.jpg"
        photo.write_bytes(f"修好的屋顶 {k}".encode() * (k + 1))
        svc.actor = "rc2"
        svc.move(Move(issue_id, "rectify", note="已修"), [photo])
    svc.actor = "wang"
    svc.list_village("c-jiezi", True)
    assert svc.verify().ok
    svc.close()
    return folder


def _copy(town: Path, tmp: Path) -> Path:
    target = tmp / "copy"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir()
    shutil.copy(town / "rectify.db", target / "rectify.db")
    shutil.copytree(town / "rectify-data", target / "rectify-data")
    for blob in (target / "rectify-data").rglob("*"):
        if blob.is_file():
            blob.chmod(0o644)
    return target


def _raw(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None)
    triggers = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type ="
                                           " 'trigger'")]
    for name in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    return conn


# --- the tamperings ------------------------------------------------------------------------------
def _town_events(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(f"SELECT {', '.join(HISTORY)} FROM history WHERE issue_id = 0"
                        " ORDER BY seq").fetchall()
    return [dict(zip(HISTORY, r, strict=True)) for r in rows]


def _rewrite(conn: sqlite3.Connection, r: dict[str, Any], payload: dict[str, Any],
             rehash: bool) -> None:
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    conn.execute("UPDATE history SET payload = ? WHERE seq = ?", (text, r["seq"]))
    if rehash:  # a forger who knows the scheme: the event matches its hash (not its successor)
        r = {**r, "payload": text}
        conn.execute("UPDATE history SET hash = ? WHERE seq = ?",
                     (row_hash([r[c] for c in HISTORY[:-1]], sqlite=True), r["seq"]))


def event_body(conn: sqlite3.Connection, pick: int, rehash: bool) -> None:
    """A town event's body changed (its sha256 left, or made to match)."""
    events = [e for e in _town_events(conn) if "body" in json.loads(e["payload"])]
    r = events[pick % len(events)]
    p = json.loads(r["payload"])
    body = p["body"]
    if "town" in body:
        body["town"]["party_secretary"] = "sa1"
    elif "transitions" in body:
        for t in body["transitions"]:
            t["forbid_actors_of"] = []
    else:
        body["off"] = body["off"][1:]
    if rehash:
        from engine.domain.configuration import digest, workflow_digest

        p["sha256"] = workflow_digest(body) if "transitions" in body else digest(body)
    _rewrite(conn, r, p, rehash)


def event_mode(conn: sqlite3.Connection, pick: int, rehash: bool) -> None:
    """The mark flipped from drill to live in the history."""
    [r] = [e for e in _town_events(conn) if e["type"] == "database_marked"]
    _rewrite(conn, r, {**json.loads(r["payload"]), "mode": "live"}, rehash)


def event_deleted(conn: sqlite3.Connection, pick: int, rehash: bool) -> None:
    events = _town_events(conn)
    conn.execute("DELETE FROM history WHERE seq = ?", (events[pick % len(events)]["seq"],))


def org_table(conn: sqlite3.Connection, pick: int, rehash: bool) -> None:
    """The org tables edited: a role moved, a person gone or added to a group, a name."""
    edits = [
        "UPDATE town SET party_secretary = 'sa1'",
        "UPDATE units SET liaison = 'qs1' WHERE id = 'v-shiban'",
        "UPDATE units SET secretary = NULL WHERE id = 'c-jiezi'",
        "UPDATE units SET listed = 0 WHERE id = 'c-jiezi'",
        "DELETE FROM people WHERE id = 'iv1'",
        "INSERT INTO group_members (group_id, person_id) VALUES ('qs', 'rc2')",
        "DELETE FROM group_members WHERE person_id = 'qs1'",
        "UPDATE groups SET leader = 'qs2' WHERE id = 'qs'",
        "UPDATE people SET name = '某人' WHERE id = 'chen'",
    ]
    conn.execute(edits[pick % len(edits)])


def workflow_table(conn: sqlite3.Connection, pick: int, rehash: bool) -> None:
    """The registered workflow's stored body or digest changed, or the row gone."""
    key, body = conn.execute("SELECT key, body FROM workflows").fetchone()
    wf = json.loads(body)
    choice = pick % 5
    if choice == 0:
        wf["transitions"][0]["roles"] = ["self_assessment", "village_secretary"]
    elif choice == 1:
        wf["states"][2]["deadline"] = {"from_field": "due", "max_working_days": 150}
    elif choice == 2:
        conn.execute("UPDATE workflows SET body = ? WHERE key = ?", ("#" + body[1:], key))
        return
    elif choice == 3:
        conn.execute("DELETE FROM workflows WHERE key = ?", (key,))
        return
    else:
        conn.execute("UPDATE workflows SET digest = ? WHERE key = ?", ("0" * 64, key))
        return
    text = json.dumps(wf, ensure_ascii=False, sort_keys=True)
    import hashlib

    conn.execute("UPDATE workflows SET body = ?, digest = ? WHERE key = ?",
                 (text, hashlib.sha256(text.encode()).hexdigest(), key))


def calendar_table(conn: sqlite3.Connection, pick: int, rehash: bool) -> None:
    """The calendar in use or its kept version changed."""
    choice = pick % 4
    if choice == 0:
        conn.execute("DELETE FROM calendar_days WHERE day = '2020-10-05'")
    elif choice == 1:
        conn.execute("INSERT INTO calendar_days (day, kind) VALUES ('2020-10-13', 'off')")
    elif choice == 2:
        conn.execute("UPDATE calendar_days SET kind = 'work' WHERE day = '2020-10-01'")
    else:
        conn.execute("UPDATE calendars SET body = replace(body, '2020-10-01', '2020-10-02')")


def mode_setting(conn: sqlite3.Connection, pick: int, rehash: bool) -> None:
    conn.execute("UPDATE meta SET value = 'live' WHERE key = 'mode'")


def _blobs(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "rectify-data" / "evidence").rglob("*") if p.is_file())


def blob(folder: Path, pick: int) -> None:
    """An evidence blob flipped, cut short, emptied, swapped or deleted."""
    found = _blobs(folder)
    target = found[pick % len(found)]
    data = target.read_bytes()
    choice = (pick // len(found)) % 5
    if choice == 0:
        target.write_bytes(bytes([data[0] ^ 1]) + data[1:])
    elif choice == 1:
        target.write_bytes(data[:-1])
    elif choice == 2:
        target.write_bytes(b"")
    elif choice == 3:
        other = found[(pick + 1) % len(found)]
        target.write_bytes(other.read_bytes())
    else:
        target.unlink()


TABLE_TAMPERINGS: dict[str, Callable[[sqlite3.Connection, int, bool], None]] = {
    "event_body": event_body, "event_mode": event_mode, "event_deleted": event_deleted,
    "org_table": org_table, "workflow_table": workflow_table,
    "calendar_table": calendar_table, "mode_setting": mode_setting,
}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from([*TABLE_TAMPERINGS, "blob"]), pick=st.integers(0, 50),
       rehash=st.booleans())
def test_every_tampering_of_configuration_or_evidence_is_found(
        town: Path, tmp_path: Path, kind: str, pick: int, rehash: bool) -> None:
    folder = _copy(town, tmp_path)
    if kind == "blob":
        blob(folder, pick)
    else:
        conn = _raw(folder / "rectify.db")
        TABLE_TAMPERINGS[kind](conn, pick, rehash)
        conn.close()
    ran = run_cli("--db", f"sqlite:///{folder / 'rectify.db'}", "--data-dir",
                  str(folder / "rectify-data"), "--json", "audit", "verify", "--evidence")
    assert "unexpected" not in ran.err, ran.err
    verdict = ran.json()
    assert ran.code == 1 and verdict["ok"] is False, (kind, pick, rehash, verdict)
    if kind == "blob":
        assert verdict["kind"] == "evidence"
    elif kind.endswith("_table") or kind == "mode_setting":  # the copies, against the chain
        assert verdict["kind"] == "disagrees", verdict


def test_the_untouched_copy_verifies(town: Path, tmp_path: Path) -> None:
    folder = _copy(town, tmp_path)
    ran = run_cli("--db", f"sqlite:///{folder / 'rectify.db'}", "--data-dir",
                  str(folder / "rectify-data"), "--json", "audit", "verify", "--evidence")
    verdict = ran.json()
    assert ran.code == 0 and verdict["ok"] is True, verdict
    assert verdict["evidence"]["checked"] == 3
