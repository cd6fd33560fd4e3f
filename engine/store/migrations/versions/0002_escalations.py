"""Escalations and extension requests; the ladder's next moment stored on each issue.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from engine.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.add_column("issues", sa.Column("stage_version", sa.Integer, nullable=False,
                                      server_default="1"))
    op.add_column("issues", sa.Column("next_escalation_at", UTCDateTime))
    op.add_column("issues", sa.Column("listed_by_village", sa.Boolean, nullable=False,
                                      server_default=sa.false()))
    op.create_index("ix_issues_next_escalation_at", "issues", ["next_escalation_at"])
    op.add_column("units", sa.Column("listed", sa.Boolean, nullable=False,
                                     server_default=sa.false()))
    op.create_table(
        "escalations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("issue_id", Id, nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("stage_version", sa.Integer, nullable=False),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("moment", UTCDateTime, nullable=False),
        sa.Column("raised_at", UTCDateTime, nullable=False),
        sa.Column("recipients", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("closed_at", UTCDateTime),
        sa.Column("closed_by", sa.String(64)),
        sa.Column("note", sa.Text),
        sa.Column("attendees", sa.Text),
        sa.UniqueConstraint("issue_id", "stage_version", "level",
                            name="uq_escalation_visit_level"),
    )
    op.create_index("ix_escalations_status", "escalations", ["status"])
    op.create_index("ix_escalations_issue", "escalations", ["issue_id"])
    op.create_table(
        "extensions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("issue_id", Id, nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("stage_version", sa.Integer, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("old_due_at", UTCDateTime, nullable=False),
        sa.Column("to_date", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", UTCDateTime),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_extensions_issue", "extensions", ["issue_id"])


def downgrade() -> None:
    op.drop_table("extensions")
    op.drop_table("escalations")
    op.drop_column("units", "listed")
    op.drop_index("ix_issues_next_escalation_at", "issues")
    op.drop_column("issues", "listed_by_village")
    op.drop_column("issues", "next_escalation_at")
    op.drop_column("issues", "stage_version")
