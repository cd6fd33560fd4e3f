"""The history is append-only for every SQL statement that could rewrite it, on SQLite and on
PostgreSQL: each one fails or changes nothing, and the audit still says sound. The registered
workflow and calendar versions are kept the same way. Migration 0006 goes down and up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Connection

from engine.domain.issue import Move, NewIssue
from engine.errors import VersionConflict
from tests.support import HEAD, Scenario

COLUMNS = ("seq, issue_id, version, type, transition, from_state, to_state, actor, at,"
           " recorded_at, payload, workflow, prev_hash, hash")
FORGED = COLUMNS.replace("actor", "'nobody'")
"""The columns of an event, with another actor: a rewritten copy."""
NEXT_SEQ = FORGED.replace("seq,", "(SELECT max(seq) + 1 FROM history),", 1)
"""…and a new seq, over the same (issue_id, version)."""

REFUSED, NOTHING = "refused", "changes nothing"
BOTH, SQLITE, POSTGRESQL = ("sqlite", "postgresql"), ("sqlite",), ("postgresql",)
HISTORY_STATEMENTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "update": ("UPDATE history SET actor = 'nobody' WHERE seq = 2", REFUSED, BOTH),
    "update or replace": ("UPDATE OR REPLACE history SET seq = 1 WHERE seq = 2", REFUSED,
                          SQLITE),
    "delete": ("DELETE FROM history WHERE seq = 2", REFUSED, BOTH),
    "delete all": ("DELETE FROM history", REFUSED, BOTH),
    "insert or replace (seq)": (
        f"INSERT OR REPLACE INTO history ({COLUMNS}) SELECT {FORGED} FROM history"
        " WHERE seq = 2", REFUSED, SQLITE),
    "insert or replace (issue_id, version)": (
        f"INSERT OR REPLACE INTO history ({COLUMNS}) SELECT {NEXT_SEQ} FROM history"
        " WHERE seq = 2", REFUSED, SQLITE),
    "replace into": (
        f"REPLACE INTO history ({COLUMNS}) SELECT {FORGED} FROM history WHERE seq = 2",
        REFUSED, SQLITE),
    "upsert (seq)": (
        f"INSERT INTO history ({COLUMNS}) SELECT {COLUMNS} FROM history WHERE seq = 2"
        " ON CONFLICT (seq) DO UPDATE SET actor = 'nobody'", REFUSED, BOTH),
    "upsert (issue_id, version)": (
        f"INSERT INTO history ({COLUMNS}) SELECT {NEXT_SEQ} FROM history WHERE seq = 2"
        " ON CONFLICT (issue_id, version) DO UPDATE SET actor = excluded.actor", REFUSED,
        BOTH),
    "insert or ignore": (
        f"INSERT OR IGNORE INTO history ({COLUMNS}) SELECT {FORGED} FROM history"
        " WHERE seq = 2", REFUSED, SQLITE),  # harmless without the trigger; refused with it
    "insert, on conflict do nothing": (
        f"INSERT INTO history ({COLUMNS}) SELECT {FORGED} FROM history WHERE seq = 2"
        " ON CONFLICT DO NOTHING", NOTHING, POSTGRESQL),
    "truncate": ("TRUNCATE history", REFUSED, POSTGRESQL),
    "merge, update": (
        "MERGE INTO history h USING (SELECT 2 AS seq) s ON h.seq = s.seq"
        " WHEN MATCHED THEN UPDATE SET actor = 'nobody'", REFUSED, POSTGRESQL),
    "merge, delete": (
        "MERGE INTO history h USING (SELECT 2 AS seq) s ON h.seq = s.seq"
        " WHEN MATCHED THEN DELETE", REFUSED, POSTGRESQL),
}


def backend(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgresql"


def history(svc: Scenario) -> list[tuple[Any, ...]]:
    with svc.store.transaction(write=False) as tx:
        return [tuple(r) for r in tx.conn.exec_driver_sql(
            f"SELECT {COLUMNS} FROM history ORDER BY seq")]


def table(svc: Scenario, name: str) -> list[tuple[Any, ...]]:
    with svc.store.transaction(write=False) as tx:
        return sorted(tuple(r) for r in tx.conn.exec_driver_sql(f"SELECT * FROM {name}"))


@pytest.fixture
def worked(svc: Scenario, tmp_path: Path) -> Scenario:
    """A few events: two issues added, one reported and one fixed with evidence."""
    svc.actor = "sa1"
    first = svc.add_issue(NewIssue(title="房屋漏雨", category="housing_safety",
                                   village="v-shiban", group="sa-01"))
    second = svc.add_issue(NewIssue(title="饮水不稳定", category="housing_safety",
                                    village="c-jiezi", group="sa-01"))
    svc.move(Move(issue_id=first.id, transition="report", note="报告"))
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 fixed")
    svc.move(Move(issue_id=second.id, transition="fix", note="修好了"), [photo])
    assert svc.verify().ok
    return svc


def run(svc: Scenario, sql: str) -> None:
    with svc.store.transaction() as tx:
        tx.conn.exec_driver_sql(sql)


@pytest.mark.parametrize("verb", list(HISTORY_STATEMENTS))
def test_no_statement_rewrites_the_history(worked: Scenario, db_url: str, verb: str) -> None:
    sql, expected, where = HISTORY_STATEMENTS[verb]
    if backend(db_url) not in where:
        pytest.skip(f"{verb}: not {backend(db_url)} SQL")
    if verb.startswith("merge") and not _has_merge(worked):
        pytest.skip("MERGE needs PostgreSQL 15")
    before = history(worked)
    assert len(before) >= 4
    if expected == REFUSED:
        with pytest.raises(Exception, match="append-only"):
            run(worked, sql)
    else:
        run(worked, sql)
    assert history(worked) == before
    assert worked.verify().ok


def _has_merge(svc: Scenario) -> bool:
    with svc.store.transaction(write=False) as tx:
        version = tx.conn.exec_driver_sql("SHOW server_version_num").scalar()
    return int(version or 0) >= 150000


REGISTRY_STATEMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "update": ("UPDATE {t} SET body = '{{}}'", BOTH),
    "delete": ("DELETE FROM {t}", BOTH),
    "insert or replace": ("INSERT OR REPLACE INTO {t} SELECT * FROM {t}", SQLITE),
    "replace into": ("REPLACE INTO {t} SELECT * FROM {t}", SQLITE),
    "upsert": ("INSERT INTO {t} SELECT * FROM {t} WHERE true ON CONFLICT ({key})"
               " DO UPDATE SET body = '{{}}'", BOTH),
    "truncate": ("TRUNCATE {t}", POSTGRESQL),
}


@pytest.mark.parametrize("name", ["workflows", "calendars"])
def test_registered_workflows_and_calendars_are_kept(worked: Scenario, db_url: str,
                                                     name: str) -> None:
    before = table(worked, name)
    assert before
    for verb, (sql, where) in REGISTRY_STATEMENTS.items():
        if backend(db_url) not in where:
            continue
        statement = sql.format(t=name, key="key" if name == "workflows" else "id")
        with pytest.raises(Exception, match="never changed or deleted"):
            run(worked, statement)
        assert table(worked, name) == before, verb
    assert worked.verify().ok


def test_registering_goes_on_as_before(worked: Scenario, org_file: Path) -> None:
    """init again: the same workflow and calendar are found registered, nothing rewritten."""
    before = table(worked, "workflows"), table(worked, "calendars")
    worked.actor = "wang"
    worked.init(org_file)
    assert (table(worked, "workflows"), table(worked, "calendars")) == before


def test_a_writer_that_lost_the_race_is_told_version_conflict(worked: Scenario) -> None:
    """The trigger's refusal of a taken (issue_id, version) reads as the unique constraint's:
    the losing writer gets VersionConflict (exit 1), never an unexpected error."""
    issue = worked.list()[0]
    taken = replace(worked.history(issue.id)[-1], seq=None, prev_hash=None, hash=None)
    before = history(worked)
    with pytest.raises(VersionConflict, match=f"issue {issue.id} was changed by someone else"), \
            worked.store.transaction() as tx:
        tx.append(taken, datetime.now(UTC))  # written, chained, at the commit
    assert history(worked) == before


# --- the migration ------------------------------------------------------------------------------
def triggers(conn: Connection, sqlite: bool) -> set[str]:
    sql = ("SELECT name FROM sqlite_master WHERE type = 'trigger'" if sqlite
           else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
    return {str(r[0]) for r in conn.exec_driver_sql(sql)}


@pytest.fixture
def alembic_config() -> Iterator[Any]:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("engine.store").joinpath("migrations")))
    yield cfg


def test_migration_0006_goes_down_and_up(worked: Scenario, db_url: str, org_file: Path,
                                         tmp_path: Path, alembic_config: Any) -> None:
    from alembic import command

    from tests.support import scenario

    sqlite = backend(db_url) == "sqlite"
    ours = ({"history_no_replace", "workflows_no_update", "workflows_no_delete",
             "workflows_no_replace", "calendars_no_update", "calendars_no_delete",
             "calendars_no_replace"} if sqlite else
            {"workflows_no_change", "workflows_no_truncate", "calendars_no_change",
             "calendars_no_truncate"})
    before = history(worked)
    with worked.store.transaction() as tx:
        assert ours <= triggers(tx.conn, sqlite)
        alembic_config.attributes["connection"] = tx.conn
        command.downgrade(alembic_config, "0005")
        left = triggers(tx.conn, sqlite)
        assert not ours & left
        assert {"history_no_update", "history_no_delete"} <= left if sqlite \
            else {"history_no_change", "history_no_truncate"} <= left
    if sqlite:  # what 0006 closes: without it, a replacing insert rewrites an event
        with pytest.raises(_RolledBack), worked.store.transaction() as tx:
            sql, _, _ = HISTORY_STATEMENTS["insert or replace (seq)"]
            tx.conn.exec_driver_sql(sql)
            assert tx.conn.exec_driver_sql(
                "SELECT actor FROM history WHERE seq = 2").scalar() == "nobody"
            raise _RolledBack
    worked.close()

    again = scenario(db_url, tmp_path / "data", actor="wang", now=worked.now)
    assert again.init(org_file).schema == HEAD  # init upgrades
    assert history(again) == before
    with again.store.transaction(write=False) as tx:
        assert ours <= triggers(tx.conn, sqlite)
    with pytest.raises(Exception, match="append-only"):
        run(again, HISTORY_STATEMENTS["upsert (seq)"][0])
    assert again.verify().ok
    again.close()


class _RolledBack(Exception):
    pass
