"""The migrations build the indexes the table definitions name, no more and no fewer, on
SQLite and PostgreSQL: an index dropped by a migration (0011: ix_escalations_issue, served by
the unique key's leading column) is gone from both, and the lookups by issue still use an
index."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from engine.store import tables
from tests.support import scenario


def test_the_migrated_indexes_are_the_tables_indexes(db_url: str, tmp_path: Path,
                                                      org_file: Path) -> None:
    svc = scenario(db_url, tmp_path / "data", actor="wang")
    svc.init(org_file)
    svc.app.close()
    engine = create_engine(db_url)
    try:
        seen = inspect(engine)
        for table in tables.metadata.sorted_tables:
            named = {i.name for i in table.indexes}
            built = {i["name"] for i in seen.get_indexes(table.name)
                     if not i.get("unique") and i["name"]}
            assert built == named, table.name
        assert "ix_escalations_issue" not in {
            i["name"] for i in seen.get_indexes("escalations")}
        if db_url.startswith("sqlite"):
            with engine.connect() as conn:
                plan = " ".join(str(r[-1]) for r in conn.execute(text(
                    "EXPLAIN QUERY PLAN SELECT * FROM escalations WHERE issue_id = 7")))
            assert "sqlite_autoindex_escalations" in plan and "(issue_id=?)" in plan, plan
    finally:
        engine.dispose()
