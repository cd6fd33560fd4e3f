"""Every table, in one place. Times are stored in UTC (timestamptz on PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator, TypeEngine

from engine.store.dialect import decode_time, encode_time

metadata = MetaData()

SHOWN = "state <> 'voided'"
"""The ledger's issues, all but the voided: the condition of the partial index on their ids
(written with the literal, which the planners need to use the index)."""


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out: timestamptz on PostgreSQL, the fixed UTC
    text on SQLite. Converted by the store's one pair of converters (engine.store.dialect)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        return encode_time(value, dialect.name == "sqlite")

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return decode_time(value)


Id = BigInteger().with_variant(Integer, "sqlite")

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

town = Table(
    "town",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("party_secretary", String(64), nullable=False),
)

units = Table(
    "units",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("liaison", String(64)),
    Column("secretary", String(64)),
    Column("listed", Boolean, nullable=False, server_default=false()),
)

people = Table(
    "people",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("unit", String(64), nullable=False),
    Column("email", Text),
    Column("mobile", String(32)),
)

groups = Table(
    "groups",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("leader", String(64)),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", String(64), primary_key=True),
    Column("person_id", String(64), primary_key=True),
    Index("ix_group_members_person", "person_id"),
)

workflows = Table(
    "workflows",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
)

calendar_days = Table(
    "calendar_days",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("kind", String(8), nullable=False),  # off | work
    Column("note", Text),
)

issues = Table(
    "issues",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False),
    Column("description", Text),
    Column("category", String(32), nullable=False),
    Column("village", String(64), nullable=False),
    Column("grp", String(64)),
    Column("household", Text),
    Column("severity", String(8), nullable=False),
    Column("listed", Boolean, nullable=False),
    Column("state", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("assignee", String(64)),
    Column("plan", Text),
    Column("due_at", UTCDateTime),
    Column("stage_entered_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("workflow", String(128), nullable=False),
    Column("stage_version", Integer, nullable=False, server_default="1"),
    Column("next_escalation_at", UTCDateTime),
    Column("listed_by_village", Boolean, nullable=False, server_default=false()),
    Index("ix_issues_state_village", "state", "village"),
    Index("ix_issues_next_escalation_at", "next_escalation_at"),
    Index("ix_issues_village", "village"),
    Index("ix_issues_assignee", "assignee"),
    Index("ix_issues_due_at", "due_at"),
    Index("ix_issues_shown", "id", sqlite_where=text(SHOWN)),
)


def with_postgresql_options() -> None:
    """Give the metadata what it says of PostgreSQL alone: ix_issues_shown is partial there
    too (migration 0010). Called by the migrations' environment only: naming a `postgresql_*`
    option makes SQLAlchemy load its PostgreSQL dialect, some 50 ms of every command's start
    on SQLite (`issue show`)."""
    for index in issues.indexes:
        if index.name == "ix_issues_shown":
            index.dialect_kwargs["postgresql_where"] = text(SHOWN)

history = Table(
    "history",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("issue_id", Id, nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("transition", String(64)),
    Column("from_state", String(32)),
    Column("to_state", String(32)),
    Column("actor", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("workflow", String(128), nullable=False),
    Column("prev_hash", String(64), nullable=False, server_default=""),
    Column("hash", String(64), nullable=False, server_default=""),
    UniqueConstraint("issue_id", "version", name="uq_history_issue_version"),
)
"""Append-only (triggers refuse UPDATE, DELETE and a replacing INSERT); `hash` chains every
event to the one before it in commit order (engine.domain.chain). Issue 0 holds the town's own
events: the configuration (engine.domain.configuration)."""

calendars = Table(
    "calendars",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("body", Text, nullable=False),  # JSON: {"off": [...], "work": [...], "years": [...]}
)
"""Every working calendar the town has used, so that a replay uses the one then in force."""

escalations = Table(
    "escalations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("issue_id", Id, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("stage_version", Integer, nullable=False),
    Column("level", String(32), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("moment", UTCDateTime, nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    Column("recipients", Text, nullable=False),  # JSON list of person ids
    Column("status", String(16), nullable=False),  # done | open | recorded | decided | superseded
    Column("closed_at", UTCDateTime),
    Column("closed_by", String(64)),
    Column("note", Text),
    Column("attendees", Text),  # JSON list: who took part in the interview
    Column("subjects", Text),  # JSON list of person ids: who answers for it (0008)
    Column("outcome", String(16)),  # an accountability decision's outcome (0008)
    UniqueConstraint("issue_id", "stage_version", "level", name="uq_escalation_visit_level"),
    Index("ix_escalations_status", "status"),
    # looked up by issue through the unique key's leading column (0011 dropped its own index)
)

extensions = Table(
    "extensions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("issue_id", Id, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("stage_version", Integer, nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("old_due_at", UTCDateTime, nullable=False),
    Column("to_date", String(10), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | approved | denied | superseded
    Column("decided_by", String(64)),
    Column("decided_at", UTCDateTime),
    Column("note", Text),
    Index("ix_extensions_issue", "issue_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False, unique=True),  # the idempotency key
    Column("kind", String(32), nullable=False),
    Column("channel", String(64)),  # NULL until a dispatcher routes it (migration 0007)
    Column("person", String(64), nullable=False),
    Column("issue_id", Id),
    Column("escalation_id", Id),
    Column("context", Text, nullable=False),  # JSON: what the template is rendered with
    Column("status", String(16), nullable=False),  # pending | sending | sent | dead | unknown
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("waiting", Text),  # why a pending message is held (no route, no such channel)
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

# --- accounts of the web workspace (0009): credentials, not records (no chain) --------------
credentials = Table(
    "credentials",
    metadata,
    Column("person", String(64), primary_key=True),
    Column("hash", Text, nullable=False),  # argon2id, PHC string
    Column("set_at", UTCDateTime, nullable=False),
    Column("failed", Integer, nullable=False, server_default="0"),  # in a row
    Column("locked_until", UTCDateTime),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 of the token, never the token
    Column("person", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),  # the absolute end
    Column("csrf", String(64), nullable=False),  # as it is: worthless without the cookie
    Column("revoked_at", UTCDateTime),
    Index("ix_web_sessions_person", "person"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("person", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),  # SHA-256 of the token
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Index("ix_api_tokens_person", "person"),
)

sign_in_log = Table(
    "sign_in_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("person", String(64)),  # NULL when the name given was nobody's
    Column("address", String(64)),  # the client's address (NULL from the CLI)
    Column("outcome", String(32), nullable=False),
    Column("detail", Text),
    Index("ix_sign_in_log_address_at", "address", "at"),
)
"""Append-only (triggers refuse UPDATE and DELETE): what happened to the accounts. The
throttle per client address counts its recent failures."""
