"""`audit verify` folding a history in several processes (`--jobs`): the same verdict as one
process gives, for a sound history and for every tampering, on SQLite and PostgreSQL; one
snapshot for all (a write while verifying is not seen, or the span is folded again); a helper
that cannot start costs nothing but time.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from engine.app import audit
from engine.app import verify as verifying
from engine.domain.issue import NewIssue
from engine.store.audit_reads import Reads
from tests import audit_support as s
from tests.support import Scenario, run_cli, scenario, write_org

JOBS = 3


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("jobs")
    svc = scenario(f"sqlite:///{folder / 'rectify.db'}", folder / "data", actor="wang",
                   now=s.START)
    svc.init(write_org(folder / "org.yaml"))
    s.run_campaign(svc, seed=5, issues=12, days=20, watch=False)
    svc.store.close()
    return folder / "rectify.db"


def copied(recorded: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.db"
    shutil.copy(recorded, target)
    return target


def issues_in(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM issues").fetchone()[0])


def verdicts(path: Path, tmp_path: Path,
             anchor: tuple[int, str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The verdict of one process and of JOBS, each without its `jobs`."""
    auditing = scenario(f"sqlite:///{path}", tmp_path / "data")
    try:
        one = audit.verify(auditing.session(), anchor, jobs=1).to_json()
        many = audit.verify(auditing.session(), anchor, jobs=JOBS).to_json()
    finally:
        auditing.close()
    assert one.pop("jobs") == 1
    assert many.pop("jobs") == JOBS, "every helper folded its span"
    return one, many


def test_a_sound_history_gives_the_same_verdict_in_several_processes(
        recorded: Path, tmp_path: Path) -> None:
    path = copied(recorded, tmp_path)
    one, many = verdicts(path, tmp_path)
    assert one["ok"] and one["issues"] == issues_in(path) and one["rules_checked"] > 100
    assert many == one


@pytest.mark.parametrize("kind", s.CHAIN_TAMPERINGS)
def test_a_tampering_in_a_helpers_span_is_found_as_one_process_finds_it(
        recorded: Path, tmp_path: Path, kind: str) -> None:
    path = copied(recorded, tmp_path)
    auditing = scenario(f"sqlite:///{path}", tmp_path / "data")
    anchor = audit.anchor(auditing.session())
    auditing.close()
    conn = s.open_raw(path)
    # an event of the last issue: in the last span
    seq = conn.execute("SELECT max(seq) FROM history WHERE issue_id ="
                       " (SELECT max(issue_id) FROM history)").fetchone()[0] - 1
    expected = s.tamper(conn, kind, seq)
    conn.close()
    one, many = verdicts(path, tmp_path, anchor)
    assert not one["ok"] and one["first_bad"] == expected
    assert one["kind"] == s.EXPECTED_KIND[kind]
    assert many == one


@pytest.mark.parametrize("change", [
    "UPDATE issues SET assignee = 'nobody' WHERE id = (SELECT max(id) FROM issues)",
    "DELETE FROM escalations WHERE id = (SELECT max(id) FROM escalations)",
    "DELETE FROM issues WHERE id = (SELECT max(id) FROM issues)",
    "INSERT INTO escalations (id, issue_id, stage, stage_version, level, due_at, moment,"
    " raised_at, recipients, status) VALUES (9999, 9999, 'found', 1, 'reminder',"
    " '2020-10-01 00:00:00.000000', '2020-10-01 00:00:00.000000',"
    " '2020-10-01 00:00:00.000000', '[]', 'open')",
])
def test_a_row_that_disagrees_in_a_helpers_span_is_named_as_one_process_names_it(
        recorded: Path, tmp_path: Path, change: str) -> None:
    path = copied(recorded, tmp_path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute(change)
    conn.close()
    one, many = verdicts(path, tmp_path)
    assert not one["ok"] and one["kind"] == "disagrees" and one["issue"] is not None
    assert many == one


def test_a_history_cut_into_spans_keeps_each_issue_whole(recorded: Path, tmp_path: Path) -> None:
    auditing = scenario(f"sqlite:///{copied(recorded, tmp_path)}", tmp_path / "data")
    try:
        with auditing.session().transaction(write=False) as tx:
            r = Reads(tx)
            points = r.split_points(JOBS, r.count_events())
            counts = [int(r.rows("SELECT count(*) FROM history"
                                 " WHERE issue_id >= ? AND issue_id < ?", (lo, hi))[0][0])
                      for lo, hi in zip([0, *points], [*points, 10**9], strict=True)]
    finally:
        auditing.close()
    assert len(points) == JOBS - 1 and points == sorted(set(points)) and points[0] > 0
    assert max(counts) - min(counts) <= max(counts) // 2, counts  # about even


def test_a_helper_that_cannot_start_leaves_the_work_to_the_verifier(
        recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copied(recorded, tmp_path)
    one, _ = verdicts(path, tmp_path)
    monkeypatch.setattr(sys, "executable", shutil.which("false") or "/bin/false")
    auditing = scenario(f"sqlite:///{path}", tmp_path / "data")
    alone = audit.verify(auditing.session(), jobs=JOBS).to_json()
    auditing.close()
    assert alone.pop("jobs") == 1
    assert alone == one


@pytest.fixture
def writes_after_the_snapshot(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Scenario]]:
    """Once the verifier has taken its snapshot and cut the history (just before its helpers
    start), a clerk adds an issue: the list given holds the clerk's scenario."""
    clerk: list[Scenario] = []
    export = Reads.export_snapshot

    def export_then_write(self: Reads) -> str | None:
        snapshot = export(self)
        clerk[0].add_issue(NewIssue(title="核查后新增", category="housing_safety",
                                    village="v-shiban", group="sa-01"))
        return snapshot

    monkeypatch.setattr(Reads, "export_snapshot", export_then_write)
    yield clerk


def test_on_sqlite_a_write_while_verifying_makes_the_verifier_fold_the_span_itself(
        recorded: Path, tmp_path: Path, writes_after_the_snapshot: list[Scenario]) -> None:
    path = copied(recorded, tmp_path)
    db = f"sqlite:///{path}"
    writes_after_the_snapshot.append(
        scenario(db, tmp_path / "data", actor="sa1", now=s.START + timedelta(days=60)))
    before = issues_in(path)
    auditing = scenario(db, tmp_path / "data")
    v = audit.verify(auditing.session(), jobs=JOBS)
    auditing.close()
    writes_after_the_snapshot[0].close()
    assert v.ok and v.issues == before, "the issue added after the snapshot is not in it"
    assert v.jobs < JOBS, "a helper that saw another head gave its span back"
    again = scenario(db, tmp_path / "data")
    assert audit.verify(again.session(), jobs=JOBS).issues == before + 1
    again.close()


def test_on_postgresql_helpers_share_the_verifiers_snapshot(
        pg_url: str, tmp_path: Path, writes_after_the_snapshot: list[Scenario]) -> None:
    svc = scenario(pg_url, tmp_path / "data", actor="wang", now=s.START)
    svc.init(write_org(tmp_path / "org.yaml"))
    s.run_campaign(svc, seed=5, issues=9, days=12, watch=False)
    svc.close()
    writes_after_the_snapshot.append(
        scenario(pg_url, tmp_path / "data", actor="sa1", now=s.START + timedelta(days=60)))
    auditing = scenario(pg_url, tmp_path / "data")
    before = len(auditing.list())
    v = audit.verify(auditing.session(), jobs=JOBS)
    assert v.ok and v.issues == before, v
    assert v.jobs == JOBS, "the helpers read the exported snapshot: nothing to fold again"
    writes_after_the_snapshot[0].close()
    # a row edited in the last span is named alike by one process and by several
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE issues SET assignee = 'nobody'"
                          " WHERE id = (SELECT max(id) - 1 FROM issues)"))
    engine.dispose()
    one = audit.verify(auditing.session(), jobs=1).to_json()
    many = audit.verify(auditing.session(), jobs=JOBS).to_json()
    auditing.close()
    assert not one["ok"] and one["kind"] == "disagrees"
    assert (one.pop("jobs"), many.pop("jobs")) == (1, JOBS)
    assert many == one


def test_the_cli_takes_jobs_and_says_how_many_folded(recorded: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{copied(recorded, tmp_path)}"
    r = run_cli("--db", db, "--json", "audit", "verify", "--jobs", "2")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert got["ok"] and got["jobs"] == 2
    bad = run_cli("--db", db, "audit", "verify", "--jobs", "0")
    assert bad.code == 2 and bad.out == "" and "--jobs" in bad.err
    assert bad.err.startswith("error:") and bad.err.count("\n") == 1


def test_the_default_is_one_process_per_hundred_thousand_events() -> None:
    assert verifying.jobs_for(5_000) == 1
    assert verifying.jobs_for(250_000) in (1, 2)  # as many CPUs as there are, at most
    assert verifying.jobs_for(5_000, asked=4) == 4
