"""The audit chain: each event's prev_hash and hash; history append-only; calendar versions.

Events already stored are chained in seq order. From here on the database refuses UPDATE and
DELETE on the history (a guard against accidents; the chain catches the rest).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from engine.domain.chain import GENESIS, row_hash
from engine.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_REFUSE = "history is append-only: events are never changed or deleted"


def upgrade() -> None:
    op.add_column("history", sa.Column("prev_hash", sa.String(64), nullable=False,
                                       server_default=""))
    op.add_column("history", sa.Column("hash", sa.String(64), nullable=False,
                                       server_default=""))
    op.create_table(
        "calendars",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("registered_at", UTCDateTime, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    _chain_existing()
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER history_no_{verb.lower()} BEFORE {verb} ON history"
                f" BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION history_refuse() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN RAISE EXCEPTION '{_REFUSE}'; END $$"
        )
        op.execute("CREATE TRIGGER history_no_change BEFORE UPDATE OR DELETE ON history"
                   " FOR EACH ROW EXECUTE FUNCTION history_refuse()")
        op.execute("CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history"
                   " FOR EACH STATEMENT EXECUTE FUNCTION history_refuse()")


def _chain_existing() -> None:
    """Chain the events already stored, in seq order. Before this revision a rolled-back
    append could use up a seq (PostgreSQL's sequence): the events are first numbered densely,
    so that from here on a gap in seq always means a deleted event."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    seqs = [int(r[0]) for r in bind.exec_driver_sql("SELECT seq FROM history ORDER BY seq")]
    moves = [{"old": old, "new": new} for new, old in enumerate(seqs, start=1) if old != new]
    if moves:  # ascending: each event moves down to a number no other event holds any more
        bind.execute(sa.text("UPDATE history SET seq = :new WHERE seq = :old"), moves)
    rows = bind.exec_driver_sql(
        "SELECT seq, issue_id, version, type, transition, from_state, to_state, actor, at,"
        " recorded_at, payload, workflow FROM history ORDER BY seq").fetchall()
    prev = GENESIS
    updates = []
    for r in rows:
        digest = row_hash((*r, prev), sqlite=sqlite)
        updates.append({"seq": r[0], "prev": prev, "hash": digest})
        prev = digest
    if updates:
        bind.execute(sa.text("UPDATE history SET prev_hash = :prev, hash = :hash"
                             " WHERE seq = :seq"), updates)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER history_no_update")
        op.execute("DROP TRIGGER history_no_delete")
    else:
        op.execute("DROP TRIGGER history_no_change ON history")
        op.execute("DROP TRIGGER history_no_truncate ON history")
        op.execute("DROP FUNCTION history_refuse()")
    op.drop_table("calendars")
    op.drop_column("history", "hash")
    op.drop_column("history", "prev_hash")
