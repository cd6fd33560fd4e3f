"""Drop ix_escalations_issue: the unique key (issue_id, stage_version, level) leads with the
issue and serves every lookup by issue, so the separate index only cost a write per escalation
(a deadline's sweep raises hundreds of thousands).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_escalations_issue", "escalations")


def downgrade() -> None:
    op.create_index("ix_escalations_issue", "escalations", ["issue_id"])
