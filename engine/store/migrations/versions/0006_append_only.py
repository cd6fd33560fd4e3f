"""Append-only for every statement: no INSERT may replace an event; registries keep their rows.

On SQLite `INSERT OR REPLACE` (and `REPLACE INTO`) over an existing seq or (issue_id, version)
deletes the old row without firing the DELETE trigger (recursive triggers are off), so 0004's
triggers let an event be rewritten. A BEFORE INSERT trigger now refuses an insert whose seq or
(issue_id, version) is already taken, whatever its conflict clause (an `INSERT OR IGNORE` of a
taken key fails instead of doing nothing). Its message says "unique", as the constraint's own
does, so a concurrent writer that lost the race is still told VersionConflict. On PostgreSQL
every way to rewrite a row (ON CONFLICT DO UPDATE, MERGE) fires 0004's row triggers already.

The registered workflow versions and calendar versions (what a replay reads as the rules and
the working days of their time) are only ever inserted: they are guarded the same way on both
back ends (UPDATE, DELETE, a replacing INSERT; TRUNCATE on PostgreSQL).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_HISTORY = ("history is append-only: seq and (issue_id, version) are unique, an event is"
            " never replaced")
_REGISTRY = "registered {what} are never changed or deleted"
_REGISTRIES = {"workflows": ("key", "workflow versions"), "calendars": ("id", "calendars")}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER history_no_replace BEFORE INSERT ON history"
            " WHEN EXISTS (SELECT 1 FROM history WHERE seq = NEW.seq)"
            " OR EXISTS (SELECT 1 FROM history WHERE issue_id = NEW.issue_id"
            " AND version = NEW.version)"
            f" BEGIN SELECT RAISE(ABORT, '{_HISTORY}'); END"
        )
        for table, (key, what) in _REGISTRIES.items():
            refuse = f"BEGIN SELECT RAISE(ABORT, '{_REGISTRY.format(what=what)}'); END"
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
                           f" {refuse}")
            op.execute(f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}"
                       f" WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key}) {refuse}")
        return
    for table, (_, what) in _REGISTRIES.items():
        op.execute(
            f"CREATE FUNCTION {table}_refuse() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN RAISE EXCEPTION '{_REGISTRY.format(what=what)}'; END $$"
        )
        op.execute(f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}"
                   f" FOR EACH ROW EXECUTE FUNCTION {table}_refuse()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                   f" FOR EACH STATEMENT EXECUTE FUNCTION {table}_refuse()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER history_no_replace")
        for table in _REGISTRIES:
            for name in ("update", "delete", "replace"):
                op.execute(f"DROP TRIGGER {table}_no_{name}")
        return
    for table in _REGISTRIES:
        op.execute(f"DROP TRIGGER {table}_no_change ON {table}")
        op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute(f"DROP FUNCTION {table}_refuse()")
