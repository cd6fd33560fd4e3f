"""Several web processes on one PostgreSQL database: a second `rectify web --no-scheduler`
process beside the first, sharing sign-ins (sessions live in the database), each move
through either, the same issue raced through both (one wins, the other is a 409 version
conflict), and the history still one sound chain."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from engine.app import audit
from tests.support import free_port
from tests.test_web_api import Api, serving

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def first(pg_url: str, tmp_path: Path) -> Iterator[Api]:
    """The first web process (in this one), on the test's PostgreSQL database."""
    with serving(pg_url, tmp_path) as running:
        yield running


def test_two_web_processes_share_sign_ins_and_race_fairly(first: Api, pg_url: str,
                                                          tmp_path: Path) -> None:
    port = free_port()
    second = subprocess.Popen(
        [sys.executable, "-m", "cli", "--db", pg_url, "--data-dir", str(tmp_path / "data"),
         "web", "--no-scheduler", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    other = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(other + "/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert second.poll() is None, second.stdout.read() if second.stdout else ""
            assert time.monotonic() < deadline, "the second process did not start"
            time.sleep(0.2)
        sa1 = {"Authorization": f"Bearer {first.tokens['sa1']}"}
        me = httpx.get(other + "/api/me", headers=sa1, timeout=10)
        assert me.status_code == 200 and me.json()["id"] == "sa1"  # a sign-in of the first
        first.clock.t = datetime.now(UTC)  # both processes on the real clock
        ids = [first.add()["id"] for _ in range(3)]

        def report(base: str, issue_id: int) -> tuple[int, str]:
            r = httpx.post(f"{base}/api/issues/{issue_id}/moves", headers=sa1, timeout=30,
                           json={"transition": "report", "expect_version": 1})
            return r.status_code, r.text

        with ThreadPoolExecutor(2) as pool:
            raced = sorted(pool.map(report, (first.base, other), (ids[0], ids[0])))
            apart = list(pool.map(report, (first.base, other), (ids[1], ids[2])))
        assert [code for code, _ in raced] == [200, 409], raced
        assert "version" in raced[1][1]
        assert [code for code, _ in apart] == [200, 200]
        history = first.ok("sa1", "GET", f"/api/issues/{ids[0]}/history")
        assert [e["transition"] for e in history] == [None, "report"]
        assert audit.verify(first.app.session()).ok
    finally:
        second.terminate()
        second.wait(20)
