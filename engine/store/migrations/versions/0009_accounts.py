"""Accounts for the web workspace: passwords, web sessions, API tokens, the sign-in log.

Credentials, not records: none of these is part of the hash-chained history.

- `credentials`: a person's argon2id hash (the PHC string, `$argon2id$…`), when it was set,
  the consecutive failed sign-ins and the lock they caused.
- `web_sessions`: `id` is the SHA-256 (hex) of the session's random token, never the token;
  `csrf` is the session's CSRF token as it is (it is shown in every form of the session and
  is worth nothing without the session's cookie); `expires_at` is the absolute end, the idle
  end is `last_seen_at` + the idle time.
- `api_tokens`: `hash` is the SHA-256 (hex) of the token, never the token.
- `sign_in_log`: append-only (UPDATE and DELETE refused, TRUNCATE too on PostgreSQL): every
  sign-in and its outcome, sign-outs, passwords set and changed, tokens made and revoked. The
  throttle per client address counts its recent failures (index on address, at).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from engine.store.tables import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_REFUSE = "the sign-in log is append-only: entries are never changed or deleted"


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("person", sa.String(64), primary_key=True),
        sa.Column("hash", sa.Text, nullable=False),
        sa.Column("set_at", UTCDateTime, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", UTCDateTime),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_index("ix_web_sessions_person", "web_sessions", ["person"])
    op.create_table(
        "api_tokens",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_used_at", UTCDateTime),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_index("ix_api_tokens_person", "api_tokens", ["person"])
    op.create_table(
        "sign_in_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("person", sa.String(64)),
        sa.Column("address", sa.String(64)),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_sign_in_log_address_at", "sign_in_log", ["address", "at"])
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER sign_in_log_no_{verb.lower()} BEFORE {verb} ON"
                       f" sign_in_log BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END")
        return
    op.execute("CREATE FUNCTION sign_in_log_refuse() RETURNS trigger LANGUAGE plpgsql AS"
               f" $$ BEGIN RAISE EXCEPTION '{_REFUSE}'; END $$")
    op.execute("CREATE TRIGGER sign_in_log_no_change BEFORE UPDATE OR DELETE ON sign_in_log"
               " FOR EACH ROW EXECUTE FUNCTION sign_in_log_refuse()")
    op.execute("CREATE TRIGGER sign_in_log_no_truncate BEFORE TRUNCATE ON sign_in_log"
               " FOR EACH STATEMENT EXECUTE FUNCTION sign_in_log_refuse()")


def downgrade() -> None:
    op.drop_table("sign_in_log")  # its triggers go with it
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION sign_in_log_refuse()")
    op.drop_table("api_tokens")
    op.drop_table("web_sessions")
    op.drop_table("credentials")
