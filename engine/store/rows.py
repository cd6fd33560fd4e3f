"""One mapper per row type: the columns read, in order, and the domain record they make.

Every reader of a table selects these columns in this order (raw driver rows or Core rows
alike) and maps them here, so that a row type is turned into its record in one place. Times
go through the dialect's one decoder (SQLite text or a driver's datetime in, aware UTC out).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from engine.domain.accounts import ApiToken, Credential, WebSession
from engine.domain.escalation import Escalation, Extension
from engine.domain.events import Event
from engine.domain.issue import Issue, issue_of_values
from engine.store.dialect import decode_time

Row = Sequence[Any]

ISSUE_COLUMNS = (
    "id", "title", "description", "category", "village", "grp", "household", "severity",
    "listed", "state", "version", "assignee", "plan", "due_at", "stage_entered_at",
    "created_at", "created_by", "workflow", "stage_version", "next_escalation_at",
    "listed_by_village",
)
HISTORY_COLUMNS = (
    "seq", "issue_id", "version", "type", "transition", "from_state", "to_state", "actor",
    "at", "recorded_at", "payload", "workflow", "prev_hash", "hash",
)
ESCALATION_COLUMNS = (
    "id", "issue_id", "stage", "stage_version", "level", "due_at", "moment", "raised_at",
    "recipients", "status", "closed_at", "closed_by", "note", "attendees", "subjects",
    "outcome",
)
EXTENSION_COLUMNS = (
    "id", "issue_id", "stage", "stage_version", "requested_by", "requested_at", "old_due_at",
    "to_date", "reason", "status", "decided_by", "decided_at", "note",
)
OUTBOX_COLUMNS = (
    "id", "key", "kind", "channel", "person", "issue_id", "escalation_id", "context",
    "status", "attempts", "next_attempt_at", "claimed_at", "sent_at", "last_error",
    "created_at", "waiting",
)
CREDENTIAL_COLUMNS = ("person", "hash", "set_at", "failed", "locked_until")
WEB_SESSION_COLUMNS = ("id", "person", "created_at", "last_seen_at", "expires_at", "csrf",
                       "revoked_at")
API_TOKEN_COLUMNS = ("id", "person", "name", "created_at", "last_used_at", "revoked_at")

_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_decode = msgspec.json.Decoder().decode
_UNDECODED = (msgspec.DecodeError, TypeError)


def json_value(text: str) -> Any:
    """Stored JSON parsed: by msgspec's decoder (in C, about twice as fast as the standard
    library's on a payload: the audit parses a million), which takes only valid JSON and
    reads it as `json.loads` does; anything it refuses (what `json.loads` takes besides:
    NaN, numbers out of a float's range, lone surrogates) is read by the standard library,
    which says what is wrong if it cannot read it either."""
    try:
        return _decode(text)
    except _UNDECODED:
        pass
    try:
        return _scan(text, 0)[0]
    except (StopIteration, TypeError):
        return json.loads(text)


def select_list(columns: Sequence[str]) -> str:
    return ", ".join(columns)


_SHARED: dict[str, str] = {}
"""Texts many issues repeat (stages, villages, categories, groups, severities, people,
workflow keys): one object for each, so that a long list of issues holds each once."""
_MOMENTS: dict[Any, datetime] = {}
"""Stored moments decoded, by their stored value: issues imported or moved together share
their due moments, and an issue in its first stage entered it when it was created."""
_SHARED_MAX = 4096
"""Either is emptied when it holds more than this: a bound on what they keep (a stream of
issues with moments all different, as verify reads, would otherwise fill them)."""


def shared_time(value: Any) -> datetime | None:
    """decode_time, the same datetime object for the same stored value."""
    if value is None:
        return None
    found = _MOMENTS.get(value)
    if found is None:
        found = decode_time(value)
        assert found is not None
        _MOMENTS[value] = found
    return found


def issue(row: Row) -> Issue:
    """The issue of a row; the values issues repeat are shared (_SHARED, _MOMENTS)."""
    if len(_SHARED) > _SHARED_MAX or len(_MOMENTS) > _SHARED_MAX:
        _SHARED.clear()
        _MOMENTS.clear()
    keep, when, known = _SHARED.setdefault, shared_time, _MOMENTS.get
    # a moment decoded before is found without a call (a datetime is never false)
    created = known(row[15]) or when(row[15])
    return issue_of_values((  # Issue's fields in their order
            row[0], row[1], keep(row[3], row[3]), keep(row[4], row[4]),
            keep(row[9], row[9]), row[10], created, keep(row[16], row[16]),
            created if row[14] == row[15] else known(row[14]) or when(row[14]), row[2],
            keep(row[5], row[5]), row[6], keep(row[7], row[7]), bool(row[8]),
            keep(row[11], row[11]), row[12], known(row[13]) or when(row[13]),
            keep(row[17], row[17]), row[18], known(row[19]) or when(row[19]), bool(row[20])))


_new = object.__new__


def event(row: Row) -> Event:
    when = decode_time
    return Event(
        seq=row[0], issue_id=row[1], version=row[2], type=row[3], transition=row[4],
        from_state=row[5], to_state=row[6], actor=row[7],
        at=when(row[8]), recorded_at=when(row[9]),  # type: ignore[arg-type]
        payload=dict(json_value(row[10])), workflow=row[11], prev_hash=row[12], hash=row[13])


def escalation(row: Row) -> Escalation:
    """The escalation of a row, its __dict__ filled at once (not through the frozen
    `__init__`, an `object.__setattr__` call per field, 16)."""
    when = decode_time
    made = _new(Escalation)
    made.__dict__.update(
        id=row[0], issue_id=row[1], stage=row[2], stage_version=row[3], level=row[4],
        due_at=when(row[5]), moment=when(row[6]), raised_at=when(row[7]),
        recipients=tuple(json_value(row[8])), status=row[9], closed_at=when(row[10]),
        closed_by=row[11], note=row[12],
        attendees=tuple(json_value(row[13])) if row[13] else (),
        subjects=tuple(json_value(row[14])) if row[14] else (), outcome=row[15])
    return made


def extension(row: Row) -> Extension:
    when = decode_time
    return Extension(
        id=row[0], issue_id=row[1], stage=row[2], stage_version=row[3], requested_by=row[4],
        requested_at=when(row[5]), old_due_at=when(row[6]),  # type: ignore[arg-type]
        to_date=row[7], reason=row[8], status=row[9], decided_by=row[10],
        decided_at=when(row[11]), note=row[12])


@dataclass(frozen=True)
class OutboxEntry:
    """One message waiting, sent or failed: one recipient on one channel (once routed)."""

    id: int
    key: str
    kind: str
    channel: str | None
    """The channel it was routed to (and tried or sent on); None until a dispatcher routes it
    with the configuration in force then."""
    person: str
    issue_id: int | None
    escalation_id: int | None
    context: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    claimed_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    created_at: datetime
    waiting: str | None = None
    """Why a pending message is held (no route for its kind, its channel not configured)."""


def outbox_entry(row: Row) -> OutboxEntry:
    when = decode_time
    return OutboxEntry(
        id=row[0], key=row[1], kind=row[2], channel=row[3], person=row[4], issue_id=row[5],
        escalation_id=row[6], context=json.loads(row[7]), status=row[8], attempts=row[9],
        next_attempt_at=when(row[10]), claimed_at=when(row[11]),  # type: ignore[arg-type]
        sent_at=when(row[12]), last_error=row[13], created_at=when(row[14]),  # type: ignore[arg-type]
        waiting=row[15],
    )


def credential(row: Row) -> Credential:
    when = decode_time
    return Credential(person=row[0], hash=row[1], set_at=when(row[2]),  # type: ignore[arg-type]
                      failed=int(row[3]), locked_until=when(row[4]))


def web_session(row: Row) -> WebSession:
    when = decode_time
    return WebSession(
        id=row[0], person=row[1], created_at=when(row[2]),  # type: ignore[arg-type]
        last_seen_at=when(row[3]), expires_at=when(row[4]),  # type: ignore[arg-type]
        csrf=row[5], revoked_at=when(row[6]))


def api_token(row: Row) -> ApiToken:
    when = decode_time
    return ApiToken(id=int(row[0]), person=row[1], name=row[2],
                    created_at=when(row[3]),  # type: ignore[arg-type]
                    last_used_at=when(row[4]), revoked_at=when(row[5]))
