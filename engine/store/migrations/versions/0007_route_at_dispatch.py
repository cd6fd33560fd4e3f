"""A message's channel is chosen when it is sent: a queued message has none until a
dispatcher routes it with the configuration in force then; `waiting` says why one is held.

- `outbox.channel` may be NULL: the message is not routed yet.
- `outbox.waiting`: why a pending message is not being sent (no route for its kind, its channel
  not in the configuration), NULL when nothing holds it.
- Rows bound to `console` because no configuration existed when they were queued (the default
  then) are unbound: those never tried (pending, no attempt) route at the next dispatch; those
  that went dead for "no channel 'console' in the configuration" stay dead, unbound, so that
  `outbox retry` routes them too. Their key loses its `:console` (a queued message's key names
  no channel; the keys of the channels it is routed to add theirs).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_SUFFIX = ":console"
_outbox = sa.table("outbox", sa.column("key", sa.String), sa.column("channel", sa.String),
                   sa.column("status", sa.String), sa.column("attempts", sa.Integer),
                   sa.column("last_error", sa.Text))


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("channel", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("waiting", sa.Text))
    o = _outbox.c
    bound_by_default = sa.and_(
        o.channel == "console", o.key.endswith(_SUFFIX, autoescape=True),
        sa.or_(sa.and_(o.status == "pending", o.attempts == 0),
               sa.and_(o.status == "dead",
                       o.last_error == "no channel 'console' in the configuration")))
    op.execute(_outbox.update().where(bound_by_default).values(
        channel=None, key=sa.func.substr(o.key, 1, sa.func.length(o.key) - len(_SUFFIX))))


def downgrade() -> None:
    o = _outbox.c
    op.execute(_outbox.update().where(o.channel.is_(None)).values(
        channel="console", key=o.key + _SUFFIX))
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("waiting")
        batch.alter_column("channel", existing_type=sa.String(64), nullable=False)
