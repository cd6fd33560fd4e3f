"""Audit: the hash chain, the append-only guard, verify (with anchors), replay, export and the
person report.

Tamperings are done straight in the SQLite file with the guard triggers dropped, as someone
holding the file could; every one must be detected and located.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, inspect, text

from engine.app import audit
from engine.domain.chain import GENESIS, parse_anchor
from engine.present import issue_json
from tests import audit_support as s
from tests.support import HEAD, Scenario, run_cli, scenario

CST = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, s.Campaign]:
    """One campaign on SQLite, kept for the tests that copy its file and tamper with it."""
    from tests.support import write_org

    folder = tmp_path_factory.mktemp("campaign")
    org = write_org(folder / "org.yaml")
    svc = scenario(f"sqlite:///{folder / 'rectify.db'}", folder / "data", actor="wang",
                  now=s.START)
    svc.init(org)
    campaign = s.run_campaign(svc, seed=7)
    svc.store.close()
    return folder / "rectify.db", campaign


def copy_of(recorded: tuple[Path, s.Campaign], tmp_path: Path) -> Path:
    target = tmp_path / "copy.db"
    src = sqlite3.connect(recorded[0])
    dst = sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    return target


def auditor(path: Path, tmp_path: Path) -> Scenario:
    return scenario(f"sqlite:///{path}", tmp_path / "data")


def run(*argv: str) -> tuple[int, str, str]:
    r = run_cli(*argv)
    return r.code, r.out, r.err


# --- the chain ---------------------------------------------------------------------------------
def test_every_event_is_chained_and_anyone_can_recompute_the_hashes(
        recorded: tuple[Path, s.Campaign]) -> None:
    """The canonical encoding is plain JSON: recomputed here with json and hashlib only."""
    conn = sqlite3.connect(recorded[0])
    rows = conn.execute(f"SELECT {', '.join(s.HISTORY)} FROM history ORDER BY seq").fetchall()
    conn.close()
    assert len(rows) > 100, "the campaign should be a real history"
    kinds = {r[3] for r in rows}
    assert {"created", "transition", "escalated", "interview_recorded",
            "extension_requested", "village_listed"} <= kinds, kinds
    prev = GENESIS
    for n, r in enumerate(rows, start=1):
        d = dict(zip(s.HISTORY, r, strict=True))
        assert d["seq"] == n
        assert d["prev_hash"] == prev
        fields = {k: d[k] for k in s.HISTORY if k not in ("hash",)}
        for k in ("at", "recorded_at"):
            fields[k] = d[k].replace(" ", "T") + "Z"
        fields["payload"] = json.loads(d["payload"])
        encoded = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert hashlib.sha256(encoded.encode("utf-8")).hexdigest() == d["hash"]
        prev = d["hash"]


def test_a_sound_history_verifies_and_its_anchor_holds(
        recorded: tuple[Path, s.Campaign], tmp_path: Path) -> None:
    path = copy_of(recorded, tmp_path)
    db = f"sqlite:///{path}"
    code, out, err = run("--db", db, "--json", "audit", "verify")
    assert (code, err) == (0, "")
    verdict = json.loads(out)
    assert verdict["ok"] is True and verdict["first_bad"] is None and verdict["reason"] is None
    conn = sqlite3.connect(path)
    n, head = conn.execute("SELECT count(*), max(seq) FROM history").fetchone()
    top = conn.execute("SELECT hash FROM history WHERE seq = ?", (head,)).fetchone()[0]
    conn.close()
    assert verdict["events"] == n
    code, out, _ = run("--db", db, "audit", "anchor")
    assert code == 0 and out.strip() == f"{head}:{top}"
    assert run("--db", db, "audit", "verify", "--anchor", out.strip())[0] == 0
    # an older anchor holds too: the history only grows
    conn = sqlite3.connect(path)
    old = conn.execute("SELECT hash FROM history WHERE seq = 100").fetchone()[0]
    conn.close()
    assert run("--db", db, "audit", "verify", "--anchor", f"100:{old}")[0] == 0


def test_the_database_refuses_to_change_or_delete_history_on_sqlite(
        recorded: tuple[Path, s.Campaign], tmp_path: Path) -> None:
    path = copy_of(recorded, tmp_path)
    conn = sqlite3.connect(path, isolation_level=None)
    for sql in ("UPDATE history SET actor = 'x' WHERE seq = 5", "DELETE FROM history",
                "DELETE FROM history WHERE seq = 1"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(sql)
    assert conn.execute("SELECT count(*) FROM history WHERE actor = 'x'").fetchone()[0] == 0
    conn.close()


def test_the_database_refuses_to_change_or_delete_history_on_postgresql(
        pg_url: str, tmp_path: Path) -> None:
    from tests.support import write_org

    svc = scenario(pg_url, tmp_path / "data", actor="wang", now=s.START)
    svc.init(write_org(tmp_path / "org.yaml"))
    s.run_campaign(svc, seed=3, issues=4, days=8, watch=False)
    assert svc.verify().ok
    svc.store.close()
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        for sql in ("UPDATE history SET actor = 'x' WHERE seq = 2",
                    "DELETE FROM history WHERE seq = 2", "TRUNCATE history"):
            with engine.connect() as conn, pytest.raises(Exception, match="append-only"):
                conn.execute(text(sql))
        # someone with the owner's rights can switch the guard off: the chain still tells
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE history DISABLE TRIGGER USER"))
            conn.execute(text("UPDATE history SET actor = 'nobody' WHERE seq = 3"))
    finally:
        engine.dispose()
    svc = scenario(pg_url, tmp_path / "data")
    verdict = svc.verify()
    svc.store.close()
    assert (verdict.ok, verdict.first_bad, verdict.kind) == (False, 3, "edited")


# --- each tampering, detected and located --------------------------------------------------
@pytest.mark.parametrize("kind", s.CHAIN_TAMPERINGS)
def test_each_tampering_of_the_chain_is_detected_and_located(
        recorded: tuple[Path, s.Campaign], tmp_path: Path, kind: str) -> None:
    path = copy_of(recorded, tmp_path)
    conn = s.open_raw(path)
    at = s.last_seq(conn) // 2
    expected = s.tamper(conn, kind, at)
    conn.close()
    code, out, err = run("--db", f"sqlite:///{path}", "--json", "audit", "verify")
    verdict = json.loads(out)
    assert code == 1, verdict
    assert err == ""
    assert verdict["ok"] is False
    assert verdict["first_bad"] == expected, verdict
    assert verdict["kind"] == s.EXPECTED_KIND[kind], verdict
    assert verdict["reason"].startswith(s.EXPECTED_KIND[kind])
    assert str(expected) in verdict["reason"]


def test_an_issue_row_that_disagrees_with_its_history_is_named(
        recorded: tuple[Path, s.Campaign], tmp_path: Path) -> None:
    path = copy_of(recorded, tmp_path)
    conn = s.open_raw(path)
    issue_id = conn.execute("SELECT min(id) FROM issues WHERE state <> 'cleared'").fetchone()[0]
    last = conn.execute("SELECT max(seq) FROM history WHERE issue_id = ?",
                        (issue_id,)).fetchone()[0]
    conn.execute("UPDATE issues SET state = 'cleared' WHERE id = ?", (issue_id,))
    conn.close()
    code, out, _ = run("--db", f"sqlite:///{path}", "--json", "audit", "verify")
    verdict = json.loads(out)
    assert code == 1
    assert (verdict["kind"], verdict["issue"], verdict["first_bad"]) == (
        "disagrees", issue_id, last)
    assert "state is 'cleared' in the table" in verdict["reason"]


def test_an_escalation_row_that_disagrees_with_its_history_is_named(
        recorded: tuple[Path, s.Campaign], tmp_path: Path) -> None:
    path = copy_of(recorded, tmp_path)
    conn = s.open_raw(path)
    eid, issue_id = conn.execute(
        "SELECT id, issue_id FROM escalations WHERE level = 'interview' ORDER BY id").fetchone()
    conn.execute("UPDATE escalations SET note = '补记' WHERE id = ?", (eid,))
    conn.close()
    verdict = auditor(path, tmp_path).verify()
    assert not verdict.ok and verdict.kind == "disagrees" and verdict.issue == issue_id
    assert f"escalation {eid}" in (verdict.reason or "")


def test_a_deleted_escalation_row_is_named(
        recorded: tuple[Path, s.Campaign], tmp_path: Path) -> None:
    path = copy_of(recorded, tmp_path)
    conn = s.open_raw(path)
    eid = conn.execute("SELECT max(id) FROM escalations").fetchone()[0]
    conn.execute("DELETE FROM escalations WHERE id = ?", (eid,))
    conn.close()
    verdict = auditor(path, tmp_path).verify()
    assert not verdict.ok and f"escalation {eid}" in (verdict.reason or "")
    assert "not stored" in (verdict.reason or "")


def test_a_tail_cut_off_and_rechained_is_caught_only_by_the_anchor(
        recorded: tuple[Path, s.Campaign], tmp_path: Path) -> None:
    """The forger rewrites the last event (a different note, its hash recomputed): the chain
    and the tables are consistent again, so only the anchor kept outside can tell."""
    path = copy_of(recorded, tmp_path)
    db = f"sqlite:///{path}"
    anchor = run("--db", db, "audit", "anchor")[1].strip()
    conn = s.open_raw(path)
    top = s.last_seq(conn)
    last = s.row(conn, top)
    conn.execute("DELETE FROM history WHERE seq = ?", (top,))
    payload = json.loads(last["payload"])
    payload["note"] = "改写的记录"
    last["payload"] = json.dumps(payload, ensure_ascii=False, sort_keys=True,
                                 separators=(",", ":"))
    last["hash"] = s.rehash(last)
    s.insert(conn, last)
    conn.close()
    assert run("--db", db, "audit", "verify")[0] == 0, "without an anchor this is invisible"
    code, out, _ = run("--db", db, "--json", "audit", "verify", "--anchor", anchor)
    verdict = json.loads(out)
    assert code == 1
    assert (verdict["first_bad"], verdict["kind"]) == (top, "rewritten")


def test_a_tail_cut_off_is_caught_by_the_anchor(
        recorded: tuple[Path, s.Campaign], tmp_path: Path) -> None:
    path = copy_of(recorded, tmp_path)
    db = f"sqlite:///{path}"
    anchor = run("--db", db, "audit", "anchor")[1].strip()
    conn = s.open_raw(path)
    top = s.last_seq(conn)
    conn.execute("DELETE FROM history WHERE seq > ?", (top - 3,))
    conn.close()
    code, out, _ = run("--db", db, "--json", "audit", "verify", "--anchor", anchor)
    verdict = json.loads(out)
    assert code == 1
    assert (verdict["first_bad"], verdict["kind"]) == (top - 2, "cut")


@pytest.mark.parametrize("bad", ["12", "12:abc", "x:" + "0" * 64, "12:" + "g" * 64,
                                 "0:" + "0" * 64])
def test_a_malformed_anchor_is_refused_with_exit_2(
        recorded: tuple[Path, s.Campaign], tmp_path: Path, bad: str) -> None:
    path = copy_of(recorded, tmp_path)
    code, out, err = run("--db", f"sqlite:///{path}", "audit", "verify", "--anchor", bad)
    assert code == 2 and out == ""
    assert err.startswith("error: anchor") and err.count("\n") == 1
    with pytest.raises(ValueError):
        parse_anchor(bad)


# --- random tamperings on random histories -----------------------------------------------------
@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from tests.support import write_org

    out = []
    for seed in (11, 12, 13):
        folder = tmp_path_factory.mktemp(f"history-{seed}")
        svc = scenario(f"sqlite:///{folder / 'rectify.db'}", folder / "data", actor="wang",
                      now=s.START)
        svc.init(write_org(folder / "org.yaml"))
        s.run_campaign(svc, seed=seed, issues=6, days=14, watch=False)
        svc.store.close()
        out.append(folder / "rectify.db")
    return out


ROW_TAMPERINGS = ("issue_state", "issue_due", "issue_assignee", "escalation_status",
                  "escalation_deleted", "issue_deleted")


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 2), kind=st.sampled_from(s.CHAIN_TAMPERINGS + ROW_TAMPERINGS),
       where=st.floats(0.0, 1.0))
def test_no_random_tampering_goes_unnoticed(histories: list[Path], tmp_path: Path, which: int,
                                            kind: str, where: float) -> None:
    """With the anchor kept before the tampering, every kind anywhere is caught; in the chain
    the first bad event is the one tampered with (a deletion: the missing one)."""
    path = tmp_path / f"t-{which}-{kind}-{where}.db"
    shutil.copy(histories[which], path)
    auditing = auditor(path, tmp_path)
    anchor = audit.anchor(auditing.session())
    conn = s.open_raw(path)
    top = s.last_seq(conn)
    seq = 1 + int(where * (top - 2))  # 1 … top-1 (a swap needs a next event)
    expected: int | None = None
    if kind in s.CHAIN_TAMPERINGS:
        expected = s.tamper(conn, kind, seq)
    else:
        _tamper_row(conn, kind, where)
    conn.close()
    verdict = auditing.verify(anchor)
    auditing.close()
    assert not verdict.ok, (kind, seq)
    if expected is not None:
        assert verdict.first_bad == expected, (kind, seq, verdict)
        assert verdict.kind == s.EXPECTED_KIND[kind], (kind, seq, verdict)


def _tamper_row(conn: sqlite3.Connection, kind: str, where: float) -> None:
    ids = [r[0] for r in conn.execute("SELECT id FROM issues ORDER BY id")]
    issue_id = ids[int(where * (len(ids) - 1))]
    if kind == "issue_state":
        conn.execute("UPDATE issues SET state = CASE state WHEN 'cleared' THEN 'verified'"
                     " ELSE 'cleared' END WHERE id = ?", (issue_id,))
    elif kind == "issue_due":
        conn.execute("UPDATE issues SET due_at = '2030-01-01 00:00:00.000000' WHERE id = ?",
                     (issue_id,))
    elif kind == "issue_assignee":
        conn.execute("UPDATE issues SET assignee = 'nobody' WHERE id = ?", (issue_id,))
    elif kind == "issue_deleted":
        conn.execute("DELETE FROM issues WHERE id = ?", (issue_id,))
    else:
        eids = [r[0] for r in conn.execute("SELECT id FROM escalations ORDER BY id")]
        eid = eids[int(where * (len(eids) - 1))]
        if kind == "escalation_status":
            conn.execute("UPDATE escalations SET status = CASE status WHEN 'open' THEN 'recorded'"
                         " ELSE 'open' END WHERE id = ?", (eid,))
        else:
            conn.execute("DELETE FROM escalations WHERE id = ?", (eid,))


# --- replay ------------------------------------------------------------------------------------
def replayed_view(svc: Scenario, moment: datetime) -> dict[int, dict[str, Any]]:
    tz = svc.town_tz
    out = {}
    for r in audit.replay(svc.session(), moment):
        item = issue_json(r.issue, tz, r.light)
        item["open_escalations"] = sorted(x.id for x in r.open_escalations)
        out[r.issue.id] = item
    return out


def test_replay_at_every_step_equals_what_the_live_commands_showed(
        db_url: str, tmp_path: Path) -> None:
    from tests.support import write_org

    svc = scenario(db_url, tmp_path / "data", actor="wang", now=s.START)
    svc.init(write_org(tmp_path / "org.yaml"))
    campaign = s.run_campaign(svc, seed=5, issues=8, days=24)
    assert campaign.steps > 60 and len(campaign.seen) == campaign.steps
    for moment, seen in campaign.seen.items():
        assert replayed_view(svc, moment.replace(tzinfo=CST)) == seen, moment
    svc.store.close()


def test_replay_of_one_issue_and_one_village(recorded: tuple[Path, s.Campaign],
                                             tmp_path: Path) -> None:
    path = copy_of(recorded, tmp_path)
    db = f"sqlite:///{path}"
    moment, seen = list(recorded[1].seen.items())[len(recorded[1].seen) // 2]
    as_of = moment.isoformat()
    code, out, _ = run("--db", db, "--json", "audit", "replay", "--as-of", as_of)
    everything = json.loads(out)
    assert code == 0
    assert [i["id"] for i in everything] == sorted(seen)
    for item in everything:
        shown = seen[item["id"]]
        assert {k: item[k] for k in shown if k != "open_escalations"} == {
            k: v for k, v in shown.items() if k != "open_escalations"}
        assert sorted(x["id"] for x in item["open_escalations"]) == shown["open_escalations"]
        assert all(x["status"] == "open" for x in item["open_escalations"])
    village = [i for i in everything if i["village"] == "c-jiezi"]
    code, out, _ = run("--db", db, "--json", "audit", "replay", "--as-of", as_of,
                       "--village", "c-jiezi")
    assert json.loads(out) == village
    one = everything[0]
    code, out, _ = run("--db", db, "--json", "audit", "replay", "--as-of", as_of,
                       "--issue", str(one["id"]))
    assert json.loads(out) == [one]
    code, out, err = run("--db", db, "audit", "replay", "--as-of", "2020-09-01T08:00",
                         "--issue", str(one["id"]))
    assert code == 1 and err.startswith("error: issue") and out == ""
    code, _, err = run("--db", db, "audit", "replay", "--as-of", "yesterday")
    assert code == 2 and err.startswith("error: --as-of")


# --- recorded histories (committed test data) --------------------------------------------------
DATA = Path(__file__).parent / "data" / "recorded"


def recorded_cases() -> Iterator[Path]:
    return iter(sorted(DATA.glob("*.db")))


def test_recorded_histories_are_there() -> None:
    """Each recording is a database and what the product said about it: both committed."""
    found = list(recorded_cases())
    assert found, f"no recorded histories in {DATA}"
    for db_file in found:
        assert db_file.with_suffix(".json").is_file(), db_file


def _as_recorded(got: Any, recorded: Any) -> Any:
    """`got` with only the keys the recording has (outputs may gain keys, never lose any)."""
    if isinstance(recorded, dict) and isinstance(got, dict):
        return {k: _as_recorded(got[k], v) if k in got else KeyError(k)
                for k, v in recorded.items()}
    if isinstance(recorded, list) and isinstance(got, list) and len(got) == len(recorded):
        return [_as_recorded(g, r) for g, r in zip(got, recorded, strict=True)]
    return got


@pytest.mark.parametrize("db_file", list(recorded_cases()), ids=lambda p: p.stem)
def test_recorded_histories_still_verify_and_replay_to_the_same_outcomes(
        db_file: Path, tmp_path: Path) -> None:
    """Databases recorded by earlier versions: a change to the chain's encoding or to how
    events fold fails here."""
    expected = json.loads(db_file.with_suffix(".json").read_text(encoding="utf-8"))
    path = tmp_path / db_file.name
    shutil.copy(db_file, path)
    db = f"sqlite:///{path}"
    code, out, _ = run("--db", db, "--json", "audit", "verify", "--anchor", expected["anchor"])
    assert code == 0, out
    assert json.loads(out)["events"] == expected["events"]
    for moment, issues in expected["replays"].items():
        code, out, _ = run("--db", db, "--json", "audit", "replay", "--as-of", moment)
        assert code == 0
        assert json.loads(out) == issues, moment
    code, out, _ = run("--db", db, "--json", "report", "person", expected["person"]["person"])
    person = json.loads(out)  # keys added since the recording are left out of the comparison
    assert _as_recorded(person, expected["person"]) == expected["person"]
    assert person["accountability_cases"] == []  # no case named a subject then


# --- export and the person report ----------------------------------------------------------------
def test_export_jsonl_and_csv_carry_every_event_with_its_hashes(
        recorded: tuple[Path, s.Campaign], tmp_path: Path) -> None:
    path = copy_of(recorded, tmp_path)
    db = f"sqlite:///{path}"
    code, out, _ = run("--db", db, "audit", "export", "--format", "jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    conn = sqlite3.connect(path)
    stored = conn.execute("SELECT seq, hash FROM history ORDER BY seq").fetchall()
    conn.close()
    assert code == 0 and [(e["seq"], e["hash"]) for e in lines] == stored
    assert all(e["at"].endswith("+08:00") for e in lines), "times in the town's zone"
    assert all(e["backdated"] for e in lines), "every campaign event is written years later"
    code, out, _ = run("--db", db, "audit", "export", "--format", "csv", "--from",
                       "2020-09-25", "--to", "2020-09-28", "--village", "v-shiban",
                       "--out", str(tmp_path / "x.csv"))
    assert code == 0 and out == ""
    rows = list(csv.DictReader((tmp_path / "x.csv").open(encoding="utf-8-sig")))
    assert rows, "the period has events"
    villages = {e["issue_id"]: e["payload"].get("village") for e in lines
                if e["type"] == "created"}
    want = [e for e in lines if villages.get(e["issue_id"]) == "v-shiban"
            and "2020-09-25" <= e["at"][:10] <= "2020-09-28"]
    assert [int(r["seq"]) for r in rows] == [e["seq"] for e in want]
    assert all(r["backdated"] == "yes" and len(r["hash"]) == 64 for r in rows)
    assert json.loads(rows[0]["payload"]) == want[0]["payload"]


def test_export_html_is_one_self_contained_file(recorded: tuple[Path, s.Campaign],
                                                tmp_path: Path) -> None:
    path = copy_of(recorded, tmp_path)
    db = f"sqlite:///{path}"
    head = run("--db", db, "audit", "anchor")[1].strip()
    out_file = tmp_path / "audit.html"
    code, _, err = run("--db", db, "audit", "export", "--format", "html", "--village",
                       "c-jiezi", "--out", str(out_file))
    assert (code, err) == (0, "")
    page = out_file.read_text(encoding="utf-8")
    assert head in page and "完好" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "补录" in page
    conn = sqlite3.connect(path)
    ids = [r[0] for r in conn.execute("SELECT id FROM issues WHERE village = 'c-jiezi'")]
    other = conn.execute("SELECT min(id) FROM issues WHERE village = 'v-shiban'").fetchone()[0]
    evidence = conn.execute("SELECT payload FROM history h JOIN issues i ON i.id = h.issue_id"
                            " WHERE i.village = 'c-jiezi' AND payload LIKE '%sha256%'"
                            " LIMIT 1").fetchone()
    conn.close()
    for i in ids:
        assert f'id="issue-{i}"' in page
    assert f'id="issue-{other}"' not in page
    assert evidence is not None
    assert json.loads(evidence[0])["evidence"][0]["sha256"] in page


def test_export_html_says_when_the_chain_is_not_sound(
        recorded: tuple[Path, s.Campaign], tmp_path: Path) -> None:
    path = copy_of(recorded, tmp_path)
    conn = s.open_raw(path)
    s.tamper(conn, "actor", 10)
    conn.close()
    out_file = tmp_path / "audit.html"
    code, _, _ = run("--db", f"sqlite:///{path}", "audit", "export", "--format", "html",
                     "--out", str(out_file))
    page = out_file.read_text(encoding="utf-8")
    assert code == 0 and "不完好" in page and "第一条有误的事件 10" in page


def test_the_person_report_counts_their_steps_escalations_and_interviews(
        recorded: tuple[Path, s.Campaign], tmp_path: Path) -> None:
    path = copy_of(recorded, tmp_path)
    db = f"sqlite:///{path}"
    conn = sqlite3.connect(path)
    fired = dict(conn.execute("SELECT transition, count(*) FROM history WHERE actor = 'qs1'"
                              " AND type = 'transition' GROUP BY transition").fetchall())
    interviews = conn.execute("SELECT count(*) FROM history WHERE actor = 'liu'"
                              " AND type = 'interview_recorded'").fetchone()[0]
    to_chen = [r[0] for r in conn.execute("SELECT id, recipients FROM escalations")
               if "chen" in json.loads(r[1])]
    conn.close()
    code, out, _ = run("--db", db, "--json", "report", "person", "qs1")
    got = json.loads(out)
    assert code == 0
    assert {k: v["count"] for k, v in got["did"].items()} == fired
    for tally in got["did"].values():
        assert tally["on_time"] + tally["late"] + tally["no_deadline"] == tally["count"]
    code, out, _ = run("--db", db, "--json", "report", "person", "liu")
    assert len(json.loads(out)["recorded"]) == interviews > 0
    code, out, _ = run("--db", db, "--json", "report", "person", "chen")
    assert sorted(x["id"] for x in json.loads(out)["escalations"]) == sorted(to_chen)
    code, out, _ = run("--db", db, "report", "person", "chen", "--from", "2020-09-28",
                       "--to", "2020-10-09")
    assert code == 0 and "专项述职" in out and "收到督办" in out
    code, _, err = run("--db", db, "report", "person", "ghost")
    assert code == 1 and err == "error: unknown person 'ghost'\n"
    for command in (("report", "person", "chen"), ("audit", "export", "--format", "csv")):
        code, out, err = run("--db", db, *command, "--from", "2020-10-09", "--to", "2020-09-28")
        assert (code, out) == (2, "")
        assert err == "error: --from 2020-10-09 is after --to 2020-09-28\n"


# --- the migration that brought the chain --------------------------------------------------------
def test_upgrading_an_older_database_chains_its_history_as_if_it_had_always_been(
        db_url: str, tmp_path: Path) -> None:
    """A database from before the chain (revision 0003), with a gap in its seq numbers, is
    upgraded by `init`: its events are numbered densely and chained in seq order, to the same
    hashes the engine writes today, and guarded."""
    from importlib.resources import files

    from alembic import command
    from alembic.config import Config

    from tests.support import write_org

    org = write_org(tmp_path / "org.yaml")
    older = Path(__file__).parent / "data" / "rectification-v2.yaml"  # what such a town ran
    svc = scenario(db_url, tmp_path / "data", actor="wang", now=s.START)
    svc.init(org, older)
    s.run_campaign(svc, seed=9, issues=4, days=10, watch=False)
    with svc.store.transaction() as tx:
        before = [tuple(r) for r in tx.conn.exec_driver_sql(
            "SELECT seq, prev_hash, hash FROM history ORDER BY seq")]
        cfg = Config()
        cfg.set_main_option("script_location",
                            str(files("engine.store").joinpath("migrations")))
        cfg.attributes["connection"] = tx.conn
        command.downgrade(cfg, "0003")
        # before the chain a rolled-back append could use up a seq (PostgreSQL's sequence)
        tx.conn.exec_driver_sql("UPDATE history SET seq = -(seq + 5) WHERE seq > 10")
        tx.conn.exec_driver_sql("UPDATE history SET seq = -seq WHERE seq < 0")
        columns = [c["name"] for c in inspect(tx.conn).get_columns("history")]
    assert "hash" not in columns and len(before) > 20
    svc.store.close()

    svc = scenario(db_url, tmp_path / "data", actor="wang", now=s.START)
    assert svc.init(org, older).schema == HEAD
    with svc.store.transaction(write=False) as tx:
        after = [tuple(r) for r in tx.conn.exec_driver_sql(
            "SELECT seq, prev_hash, hash FROM history ORDER BY seq")]
    assert after == before
    assert svc.verify().ok
    with pytest.raises(Exception, match="append-only"), svc.store.transaction() as tx:
        tx.conn.exec_driver_sql("DELETE FROM history")
    svc.store.close()
