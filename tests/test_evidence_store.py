"""Evidence is stored as it was hashed, only regular files within the limit are taken, and
`audit verify --evidence` rehashes every file the history names."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.app import evidence
from engine.domain.issue import Issue, Move, NewIssue
from engine.errors import BadFile, Refused
from tests.support import Scenario, run_cli, scenario

REPO = Path(__file__).resolve().parents[1]
START = datetime(2020, 9, 28, 9, 0)
ORIGINAL = b"\xff\xd8 the roof as repaired"
SWAPPED = b"\xff\xd8 a photo of some other roof, put there later"


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def add(svc: Scenario) -> Issue:
    svc.actor = "sa1"
    return svc.add_issue(NewIssue(title="房屋漏雨", category="housing_safety",
                                  village="v-shiban", group="sa-01"))


def fix(svc: Scenario, issue_id: int, *files: Path) -> Issue:
    svc.actor = "sa1"
    return svc.move(Move(issue_id=issue_id, transition="fix", note="修好了"), list(files))


def evidence_of(svc: Scenario, issue_id: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = svc.history(issue_id)[-1].payload["evidence"]
    return got


def store_files(data: Path) -> list[str]:
    return sorted(str(p.relative_to(data)) for p in data.rglob("*")) if data.exists() else []


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@contextmanager
def writer_holding(db_url: str, issue_id: int) -> Iterator[None]:
    """Another writer in the middle of its transaction: SQLite's write lock, or the issue's
    row locked on PostgreSQL. A move waits for it."""
    if db_url.startswith("sqlite"):
        lite = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            lite.execute("BEGIN IMMEDIATE")
            yield
            lite.execute("ROLLBACK")
        finally:
            lite.close()
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM issues WHERE id = :id FOR UPDATE"),
                         {"id": issue_id})
            yield
    finally:
        engine.dispose()


@pytest.fixture
def lite(sqlite_url: str, org_file: Path, tmp_path: Path) -> Iterator[Scenario]:
    """An initialised SQLite database (what needs no second back end)."""
    s = scenario(sqlite_url, tmp_path / "data", actor="wang", now=START)
    s.init(org_file)
    yield s
    s.close()


# --- A: stored as hashed ----------------------------------------------------------------------
def test_a_file_overwritten_while_the_move_waits_is_stored_as_it_was_hashed(
        svc: Scenario, db_url: str, tmp_path: Path) -> None:
    """The move copies the file into the store while hashing it, before its transaction; the
    file overwritten while the move waits for a concurrent writer changes nothing: the blob
    holds exactly the bytes of the recorded hash."""
    i = add(svc)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(ORIGINAL)
    blob = svc.evidence_path(sha(ORIGINAL))
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["issue"] = fix(svc, i.id, photo)
        except BaseException as e:
            outcome["error"] = e

    with writer_holding(db_url, i.id):
        mover = threading.Thread(target=run)
        mover.start()
        wait_for(blob.exists, "the move to store its evidence before its transaction")
        assert mover.is_alive() and "issue" not in outcome  # it waits for the writer
        photo.write_bytes(SWAPPED)  # the file changes under the waiting command
    mover.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["issue"].state == "rectified"
    [recorded] = evidence_of(svc, i.id)
    assert recorded == {"sha256": sha(ORIGINAL), "name": "photo.jpg", "size": len(ORIGINAL)}
    assert hashlib.sha256(svc.evidence_path(recorded["sha256"]).read_bytes()).hexdigest() \
        == recorded["sha256"]
    assert not svc.evidence_path(sha(SWAPPED)).exists()
    # the file as it is now is another piece of evidence, stored as it is now
    j = add(svc)
    fix(svc, j.id, photo)
    assert svc.evidence_path(sha(SWAPPED)).read_bytes() == SWAPPED
    assert verify_evidence(svc, db_url)["ok"] is True


def test_a_committed_blob_is_read_only_and_nothing_is_left_beside_it(lite: Scenario,
                                                                    tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(ORIGINAL)
    fix(lite, add(lite).id, photo)
    blob = lite.evidence_path(sha(ORIGINAL))
    assert stat.S_IMODE(blob.stat().st_mode) == 0o444
    shard = f"evidence/{sha(ORIGINAL)[:2]}"
    assert store_files(lite.data_dir) == ["evidence", shard, f"{shard}/{sha(ORIGINAL)}"]


def test_a_corrupted_blob_is_healed_by_the_next_good_copy(svc: Scenario, db_url: str,
                                                          tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(ORIGINAL)
    i = add(svc)
    fix(svc, i.id, photo)
    blob = svc.evidence_path(sha(ORIGINAL))
    blob.chmod(0o644)
    blob.write_bytes(b"bit rot")
    bad = verify_evidence(svc, db_url, code=1)
    assert bad["kind"] == "evidence" and [m["name"] for m in bad["evidence"]["mismatched"]] \
        == ["photo.jpg"]
    fix(svc, add(svc).id, photo)  # the same photo again: the blob is rehashed and replaced
    assert blob.read_bytes() == ORIGINAL
    assert verify_evidence(svc, db_url)["ok"] is True


def test_the_same_file_twice_in_one_move(lite: Scenario, tmp_path: Path) -> None:
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.write_bytes(ORIGINAL)
    b.write_bytes(ORIGINAL)
    i = add(lite)
    fix(lite, i.id, a, b)
    assert [e["name"] for e in evidence_of(lite, i.id)] == ["a.jpg", "b.jpg"]
    assert lite.evidence_path(sha(ORIGINAL)).read_bytes() == ORIGINAL


def test_a_refused_move_leaves_no_blob_and_no_folder(lite: Scenario, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(ORIGINAL)
    i = add(lite)
    lite.actor = "qs1"  # may not fix in sa-01
    with pytest.raises(Refused):
        lite.move(Move(issue_id=i.id, transition="fix", note="n"), [photo])
    assert store_files(lite.data_dir) == []


# --- who may remove a blob when its move fails --------------------------------------------------
def test_a_failed_move_keeps_a_blob_another_move_holds_or_has_committed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(ORIGINAL)
    blob = evidence.path_of(data, sha(ORIGINAL))

    alone = evidence.stage(data, [photo])
    assert alone.held[0].created and blob.exists()
    alone.abandon()  # nobody else: gone, and the folders this move made with it
    assert store_files(data) == []

    first = evidence.stage(data, [photo])
    second = evidence.stage(data, [photo])  # finds the blob, rehashes it, holds it
    assert first.held[0].created and not second.held[0].created
    first.abandon()
    assert blob.read_bytes() == ORIGINAL  # the second move may still commit
    second.kept()
    assert stat.S_IMODE(blob.stat().st_mode) == 0o444

    blob.unlink()
    first = evidence.stage(data, [photo])
    second = evidence.stage(data, [photo])
    second.kept()  # committed and let go before the first one failed
    first.abandon()
    assert blob.read_bytes() == ORIGINAL

    twice = evidence.stage(data, [photo, photo])
    twice.abandon()  # kept: a committed move names it (read-only)
    assert blob.exists()


# --- only regular files, within the limit -------------------------------------------------------
def special_files(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    target = folder / "real.jpg"
    target.write_bytes(ORIGINAL)
    link = folder / "link.jpg"
    link.symlink_to(target)
    fifo = folder / "pipe.jpg"
    os.mkfifo(fifo)
    sock = folder / "sock.jpg"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    server.close()
    subdir = folder / "folder.jpg"
    subdir.mkdir()
    return {"symbolic link": link, "FIFO": fifo, "socket": sock, "directory": subdir,
            "device": Path("/dev/zero")}


@pytest.mark.parametrize("kind", ["symbolic link", "FIFO", "socket", "directory", "device"])
def test_only_a_regular_file_is_taken(lite: Scenario, tmp_path: Path, kind: str) -> None:
    path = special_files(tmp_path / "files")[kind]
    i = add(lite)
    with pytest.raises(Refused) as refused:
        fix(lite, i.id, path)
    assert str(refused.value) == f"evidence {path}: not a regular file (a {kind})"
    assert refused.value.exit_code == 1
    assert lite.show(i.id).state == "found"
    assert store_files(lite.data_dir) == []


@pytest.mark.parametrize("kind", ["symbolic link", "FIFO", "device"])
def test_a_file_swapped_after_it_was_looked_at_is_refused_on_the_open_descriptor(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """The look before opening says regular file (it was, a moment ago); the open does not
    follow a link nor wait for a FIFO's writer, and the descriptor is checked again."""
    path = special_files(tmp_path / "files")[kind]
    regular = os.lstat(tmp_path / "files" / "real.jpg")
    real_lstat = os.lstat
    monkeypatch.setattr(os, "lstat", lambda p, *a, **k: regular if Path(p) == path
                        else real_lstat(p, *a, **k))
    with pytest.raises(Refused, match="not a regular file"):
        evidence.stage(tmp_path / "data", [path])
    monkeypatch.undo()
    assert store_files(tmp_path / "data") == []


def test_a_fifo_or_a_device_never_hangs_the_command(lite: Scenario, sqlite_url: str,
                                                   tmp_path: Path) -> None:
    """As a real process (a hang would be a timeout here): one error line, exit 1."""
    files = special_files(tmp_path / "files")
    issue = str(add(lite).id)
    lite.close()
    for kind in ("FIFO", "device"):
        done = subprocess.run(
            [sys.executable, "cli.py", "--db", sqlite_url, "--data-dir", str(lite.data_dir),
             "--as", "sa1", "--now", "2020-09-28T10:00", "issue", "move", issue, "fix",
             "--note", "n", "--evidence", str(files[kind])],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        assert done.stderr == f"error: evidence {files[kind]}: not a regular file (a {kind})\n"


def test_a_missing_file_is_malformed_input(lite: Scenario, tmp_path: Path) -> None:
    with pytest.raises(BadFile, match=r"missing\.jpg: cannot read"):
        fix(lite, add(lite).id, tmp_path / "missing.jpg")


def test_the_size_limit(lite: Scenario, tmp_path: Path) -> None:
    lite.app.evidence_limit = 1 << 20
    exact, over = tmp_path / "exact.jpg", tmp_path / "over.jpg"
    exact.write_bytes(b"x" * (1 << 20))
    over.write_bytes(b"x" * ((1 << 20) + 1))
    i = add(lite)
    with pytest.raises(Refused) as refused:
        fix(lite, i.id, exact, over)  # all files or none
    assert refused.value.exit_code == 1
    assert str(refused.value) == (f"evidence {over}: 1,048,577 bytes, larger than the limit"
                                  " of 1 MiB (--evidence-limit)")
    assert store_files(lite.data_dir) == []
    assert fix(lite, i.id, exact).state == "rectified"


def test_a_file_that_grows_while_it_is_copied_is_counted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photo = tmp_path / "growing.jpg"
    photo.write_bytes(b"x" * 1000)  # within the limit when it is opened
    real_read = os.read
    grown: list[bool] = []

    def read_and_grow(fd: int, n: int) -> bytes:
        if not grown:
            grown.append(True)
            with photo.open("ab") as f:
                f.write(b"y" * 5000)
        return real_read(fd, n)

    monkeypatch.setattr(os, "read", read_and_grow)
    with pytest.raises(Refused, match=r"growing.jpg: larger than the limit of 0.0038\d* MiB"):
        evidence.stage(tmp_path / "data", [photo], limit=4000)
    monkeypatch.undo()
    assert store_files(tmp_path / "data") == []


def test_the_limit_is_a_global_option_and_a_setting(
        lite: Scenario, sqlite_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(b"z" * (2 << 20))

    def fix_big(*options: str) -> tuple[int, str]:
        moved = run_cli("--db", sqlite_url, "--data-dir", str(lite.data_dir), "--as", "sa1",
                        "--now", "2020-09-28T10:00", *options, "--json", "issue", "move",
                        str(add(lite).id), "fix", "--note", "n", "--evidence", str(big))
        return moved.code, moved.err

    assert fix_big("--evidence-limit", "1") == (
        1, f"error: evidence {big}: 2,097,152 bytes, larger than the limit of 1 MiB"
           " (--evidence-limit)\n")
    monkeypatch.setenv("RECTIFY_EVIDENCE_LIMIT", "1")
    assert fix_big()[0] == 1
    assert fix_big("--evidence-limit", "2") == (0, "")
    code, err = fix_big("--evidence-limit", "0")
    assert code == 2 and "--evidence-limit" in err
    monkeypatch.delenv("RECTIFY_EVIDENCE_LIMIT")
    assert fix_big()[0] == 0  # the default: 50 MiB


# --- B: audit verify --evidence ---------------------------------------------------------------
def verify_evidence(svc: Scenario, db_url: str, code: int = 0,
                    *extra: str) -> dict[str, Any]:
    ran = run_cli("--db", db_url, "--data-dir", str(svc.data_dir), "--json", "audit", "verify",
                  "--evidence", *extra)
    assert ran.code == code, (ran.code, ran.err)
    got: dict[str, Any] = ran.json()
    return got


def test_verify_rehashes_each_blob_the_history_names_once(svc: Scenario, db_url: str,
                                                          tmp_path: Path) -> None:
    photo, receipt = tmp_path / "photo.jpg", tmp_path / "receipt.pdf"
    photo.write_bytes(ORIGINAL)
    receipt.write_bytes(b"%PDF tiles, 300 yuan")
    first, second, third = add(svc), add(svc), add(svc)
    fix(svc, first.id, photo, receipt)
    fix(svc, second.id, photo)  # the same photo: one blob, hashed once
    plain = run_cli("--db", db_url, "--json", "audit", "verify").json()
    assert "evidence" not in plain  # without the option, the contract is as it was
    got = verify_evidence(svc, db_url)
    assert {k: v for k, v in got.items() if k != "evidence"} == plain
    assert got["ok"] is True
    assert got["evidence"] == {"checked": 2, "bytes": len(ORIGINAL) + len(b"%PDF tiles, 300 yuan"),
                               "missing": [], "mismatched": []}
    text = run_cli("--db", db_url, "--data-dir", str(svc.data_dir), "audit", "verify",
                   "--evidence")
    assert text.code == 0 and "2 evidence file(s)" in text.out
    assert third.state == "found"

    seq = svc.history(first.id)[-1].seq
    svc.evidence_path(sha(b"%PDF tiles, 300 yuan")).unlink()
    bad = verify_evidence(svc, db_url, 1)
    assert set(bad) == {*plain, "evidence"}
    assert (bad["ok"], bad["kind"], bad["first_bad"], bad["issue"]) == (
        False, "evidence", seq, first.id)
    assert "receipt.pdf" in bad["reason"] and "missing" in bad["reason"]
    assert bad["evidence"]["missing"] == [{"seq": seq, "issue": first.id,
                                           "name": "receipt.pdf",
                                           "sha256": sha(b"%PDF tiles, 300 yuan")}]
    assert bad["evidence"]["mismatched"] == []
    text = run_cli("--db", db_url, "--data-dir", str(svc.data_dir), "audit", "verify",
                   "--evidence")
    assert text.code == 1
    assert text.out.startswith(f"NOT SOUND: first bad event {seq}: evidence: receipt.pdf")

    blob = svc.evidence_path(sha(ORIGINAL))
    blob.chmod(0o644)
    blob.write_bytes(ORIGINAL + b" retouched")
    bad = verify_evidence(svc, db_url, 1)
    assert bad["evidence"]["checked"] == 2
    [mismatched] = bad["evidence"]["mismatched"]
    assert (mismatched["name"], mismatched["seq"]) == ("photo.jpg", seq)
    assert mismatched["problem"] == f"its bytes hash to {sha(ORIGINAL + b' retouched')}"


def test_a_broken_chain_keeps_its_own_finding(sqlite_url: str, org_file: Path,
                                              tmp_path: Path) -> None:
    from tests import audit_support as s

    svc = scenario(sqlite_url, tmp_path / "data", actor="wang", now=s.START)
    svc.init(org_file)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(ORIGINAL)
    i = add(svc)
    fix(svc, i.id, photo)
    svc.close()
    svc.evidence_path(sha(ORIGINAL)).unlink()
    with s.open_raw(Path(sqlite_url.removeprefix("sqlite:///"))) as conn:
        s.tamper(conn, "actor", 1)
    bad = verify_evidence(svc, sqlite_url, 1)
    assert bad["kind"] == "edited" and bad["first_bad"] == 1
    assert [m["name"] for m in bad["evidence"]["missing"]] == ["photo.jpg"]
