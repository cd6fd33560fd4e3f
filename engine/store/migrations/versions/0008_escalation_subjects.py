"""Who answers for an escalation: its subjects (约谈对象, 问责对象), and an accountability's
outcome.

`subjects` is a JSON list of person ids beside `recipients` (everyone told); NULL for the
escalations raised before it existed (they named no subjects). `outcome` is the decision of
an accountability case (no_action, talk, admonish, criticize, refer); NULL until decided and
for every other level.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(sa.Column("subjects", sa.Text(), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.drop_column("outcome")
        batch.drop_column("subjects")
