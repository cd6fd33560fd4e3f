"""The first schema: org, workflows, calendar, issues and their history.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from engine.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "town",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("party_secretary", sa.String(64), nullable=False),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("liaison", sa.String(64)),
        sa.Column("secretary", sa.String(64)),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("email", sa.Text),
        sa.Column("mobile", sa.String(32)),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("leader", sa.String(64)),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.String(64), primary_key=True),
        sa.Column("person_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_group_members_person", "group_members", ["person_id"])
    op.create_table(
        "workflows",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("registered_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_table(
        "issues",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("village", sa.String(64), nullable=False),
        sa.Column("grp", sa.String(64)),
        sa.Column("household", sa.Text),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("listed", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("assignee", sa.String(64)),
        sa.Column("plan", sa.Text),
        sa.Column("due_at", UTCDateTime),
        sa.Column("stage_entered_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("workflow", sa.String(128), nullable=False),
    )
    op.create_index("ix_issues_state_village", "issues", ["state", "village"])
    op.create_index("ix_issues_village", "issues", ["village"])
    op.create_index("ix_issues_assignee", "issues", ["assignee"])
    op.create_index("ix_issues_due_at", "issues", ["due_at"])
    op.create_table(
        "history",
        sa.Column("seq", Id, primary_key=True, autoincrement=True),
        sa.Column("issue_id", Id, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("transition", sa.String(64)),
        sa.Column("from_state", sa.String(32)),
        sa.Column("to_state", sa.String(32)),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("workflow", sa.String(128), nullable=False),
        sa.UniqueConstraint("issue_id", "version", name="uq_history_issue_version"),
    )


def downgrade() -> None:
    for name in (
        "history", "issues", "calendar_days", "workflows", "group_members", "groups",
        "people", "units", "town", "meta",
    ):
        op.drop_table(name)
