"""The ledger's order without the voided: a partial index on issues(id) WHERE state <> 'voided'.

A page of the ledger is `… WHERE state <> 'voided' ORDER BY id LIMIT 50 OFFSET k`; the rows it
skips are then read from this small index, not from the table (page 2,000 of 100,000 issues:
the index's ids, then 50 rows). The condition must be written with the literal 'voided' for
the planners to use it (engine.store.issues).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SHOWN = "state <> 'voided'"


def upgrade() -> None:
    op.create_index("ix_issues_shown", "issues", ["id"], sqlite_where=sa.text(SHOWN),
                    postgresql_where=sa.text(SHOWN))


def downgrade() -> None:
    op.drop_index("ix_issues_shown", "issues")
