"""What happens to an issue, as history events: their types and the payloads they carry.

An `Event` is stored as one history row and hashed into the chain. Its `payload` is the stored
form (a JSON object); the payload classes below are the only writers of that form, so each
event type has one shape, written in one place. Readers of old rows read the mapping (the
history is the truth, whatever wrote it). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Protocol


class EventType(StrEnum):
    """Every kind of history event (stored as its value)."""

    CREATED = "created"
    """Added by a cadre: the issue starts in the workflow's initial state."""
    IMPORTED = "imported"
    """Taken from a ledger: the issue starts in the state the ledger gives."""
    TRANSITION = "transition"
    """A workflow transition (fix, report, study, …): the issue changes stage."""
    ESCALATED = "escalated"
    """A rung of the ladder came due and was raised by a sweep."""
    RESCHEDULED = "rescheduled"
    """The ladder's next moment moved (e.g. after a calendar update)."""
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_APPROVED = "extension_approved"
    EXTENSION_DENIED = "extension_denied"
    INTERVIEW_RECORDED = "interview_recorded"
    ACCOUNTABILITY_DECIDED = "accountability_decided"
    VILLAGE_LISTED = "village_listed"
    VILLAGE_UNLISTED = "village_unlisted"
    REASSIGNED = "reassigned"
    """A correction: another person answers for the stage (and perhaps another due date)."""
    EDITED = "edited"
    """A correction: fields of the issue typed wrong (title, category, village, …)."""
    SPOTCHECK_RECORDED = "spotcheck_recorded"
    """A spot check's result (调研督查): `result` pass or fail, `draw`, `note`, `evidence`; a
    fail is followed by the `reopen` transition (回头看) in the same transaction."""
    # the town's own events (issue_id 0): the configuration in force from then on
    DATABASE_MARKED = "database_marked"
    """The database is live (real time) or a drill (simulated time); set once."""
    ORG_LOADED = "org_loaded"
    """An org installed by `init` (or changed by listing a village): its canonical body."""
    WORKFLOW_REGISTERED = "workflow_registered"
    """A workflow version registered: its body, as stored."""
    CALENDAR_INSTALLED = "calendar_installed"
    """A working calendar installed: its off days, make-up days and known years."""
    SPOTCHECK_DRAWN = "spotcheck_drawn"
    """A spot check's draw: seed, percent, villages, population size and the sample
    (engine.domain.spotcheck says how to draw it again)."""


TOWN = 0
"""The issue id of the town's own events (the configuration in force)."""

FIRST = frozenset({EventType.CREATED, EventType.IMPORTED})
"""The event types that start an issue."""


@dataclass(frozen=True, slots=True)
class Event:
    issue_id: int
    version: int
    type: str
    """An EventType value (rows read back carry the stored text, which compares equal)."""
    actor: str
    at: datetime
    payload: Mapping[str, Any]
    """The stored form: written by the payload classes below."""
    workflow: str
    transition: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    recorded_at: datetime | None = None
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None
    """The chain's links, once stored (engine.domain.chain)."""


_TEXTS: dict[datetime, str] = {}
"""UTC moments already written out: an import writes the same few days' moments a hundred
thousand times, and `isoformat` of an aware moment costs about 2 µs."""


def moment_text(value: datetime | None) -> str | None:
    """A moment as payloads carry it: ISO 8601 with its offset (UTC), or None."""
    if value is None:
        return None
    if value.tzinfo is not UTC:  # equal moments in other zones would share a cached text
        return value.isoformat()
    text = _TEXTS.get(value)
    if text is None:
        if len(_TEXTS) >= 100_000:
            _TEXTS.clear()
        text = _TEXTS[value] = value.isoformat()
    return text


@dataclass(frozen=True, slots=True)
class Evidence:
    """A file that shows what was done: its SHA-256, its name and its size in bytes."""

    sha256: str
    name: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "name": self.name, "size": self.size}


# --- payloads -------------------------------------------------------------------------------
# The payload classes are made and dropped within one decision (a million of them in an
# import): slotted but not frozen, since a frozen dataclass pays ~0.25 µs per field to be made.
class Payload(Protocol):
    def to_payload(self) -> dict[str, Any]:
        """The stored form (a JSON object)."""
        ...


@dataclass(slots=True)
class Created:
    """created: the issue's fields, its first due moment and ladder pointer."""

    title: str
    category: str
    village: str
    description: str | None
    group: str | None
    household: str | None
    severity: str
    listed: bool
    listed_by_village: bool
    due_at: datetime | None
    next_escalation_at: datetime | None

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "title": self.title, "category": self.category, "village": self.village,
            "description": self.description, "group": self.group,
            "household": self.household, "severity": self.severity, "listed": self.listed,
            "due_at": moment_text(self.due_at),
            "next_escalation_at": moment_text(self.next_escalation_at),
        }
        if self.listed_by_village:  # written only when true
            out["listed_by_village"] = True
        return out


@dataclass(slots=True)
class Imported:
    """imported: as created, plus when it entered its stage and who is responsible."""

    created: Created
    entered_at: datetime
    assignee: str | None
    plan: str | None = None
    verified_by: str | None = None
    verified_at: datetime | None = None

    def to_payload(self) -> dict[str, Any]:
        out = self.created.to_payload()
        out["entered_at"] = moment_text(self.entered_at)
        out["assignee"] = self.assignee
        if self.plan is not None:  # the rest written only when the ledger gives them
            out["plan"] = self.plan
        if self.verified_by is not None:
            out["verified_by"] = self.verified_by
            out["verified_at"] = moment_text(self.verified_at)
        return out


@dataclass(slots=True)
class Moved:
    """transition: what the mover gave (only what was given), the new stage's due moment and
    ladder pointer, the village's listing, and what leaving the old stage ended."""

    due_at: datetime | None
    listed_by_village: bool
    next_escalation_at: datetime | None
    note: str | None = None
    plan: str | None = None
    assignee: str | None = None
    reason: str | None = None
    due: date | None = None
    evidence: tuple[Evidence, ...] = ()
    superseded_escalations: tuple[int, ...] = ()
    superseded_extensions: tuple[int, ...] = ()
    duplicate_of: int | None = None

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.note is not None:  # what was given, in this order
            out["note"] = self.note
        if self.plan is not None:
            out["plan"] = self.plan
        if self.assignee is not None:
            out["assignee"] = self.assignee
        if self.reason is not None:
            out["reason"] = self.reason
        if self.duplicate_of is not None:
            out["duplicate_of"] = self.duplicate_of
        if self.evidence:
            out["evidence"] = [e.to_dict() for e in self.evidence]
        if self.due is not None:
            out["due"] = self.due.isoformat()
        out["due_at"] = moment_text(self.due_at)
        out["listed_by_village"] = self.listed_by_village
        out["next_escalation_at"] = moment_text(self.next_escalation_at)
        if self.superseded_escalations or self.superseded_extensions:
            out["superseded_escalations"] = list(self.superseded_escalations)
            out["superseded_extensions"] = list(self.superseded_extensions)
        return out


@dataclass(slots=True)
class Escalated:
    """escalated: the rung raised, to whom, and where the ladder's pointer goes next."""

    escalation: int
    level: str
    stage: str
    recipients: tuple[str, ...]
    moment: datetime
    due_at: datetime
    next_escalation_at: datetime | None
    subjects: tuple[str, ...] = ()

    def to_payload(self) -> dict[str, Any]:
        out = {
            "escalation": self.escalation, "level": self.level, "stage": self.stage,
            "recipients": list(self.recipients), "moment": moment_text(self.moment),
            "due_at": moment_text(self.due_at),
            "next_escalation_at": moment_text(self.next_escalation_at),
        }
        if self.subjects:  # the versions before stage owners named none
            out["subjects"] = list(self.subjects)
        return out


@dataclass(slots=True)
class Rescheduled:
    """rescheduled: the ladder's pointer moved under the issue (the calendar changed)."""

    due_at: datetime | None
    next_escalation_at: datetime | None

    def to_payload(self) -> dict[str, Any]:
        return {"due_at": moment_text(self.due_at),
                "next_escalation_at": moment_text(self.next_escalation_at)}


@dataclass(slots=True)
class ExtensionRequested:
    extension: int
    to: date
    reason: str

    def to_payload(self) -> dict[str, Any]:
        return {"extension": self.extension, "to": self.to.isoformat(), "reason": self.reason}


@dataclass(slots=True)
class ExtensionDecided:
    """extension_approved (with the new due moment and pointer) or extension_denied."""

    extension: int
    note: str | None
    approved: bool
    due_at: datetime | None = None
    next_escalation_at: datetime | None = None

    @property
    def type(self) -> EventType:
        return EventType.EXTENSION_APPROVED if self.approved else EventType.EXTENSION_DENIED

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"extension": self.extension, "note": self.note}
        if self.approved:
            out["due_at"] = moment_text(self.due_at)
            out["next_escalation_at"] = moment_text(self.next_escalation_at)
        return out


@dataclass(slots=True)
class EscalationClosed:
    """interview_recorded or accountability_decided: the record, and who took part."""

    escalation: int
    note: str
    attendees: tuple[str, ...]
    outcome: str | None = None
    """An accountability decision's outcome."""
    subjects: tuple[str, ...] | None = None
    """An accountability decision's subjects, when the decider named them."""

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"escalation": self.escalation, "note": self.note,
                               "with": list(self.attendees)}
        if self.outcome is not None:
            out["outcome"] = self.outcome
        if self.subjects is not None:
            out["subjects"] = list(self.subjects)
        return out


@dataclass(slots=True)
class VillageListing:
    """village_listed or village_unlisted: the issue follows the other ladder from now on."""

    village: str
    next_escalation_at: datetime | None

    def to_payload(self) -> dict[str, Any]:
        return {"village": self.village,
                "next_escalation_at": moment_text(self.next_escalation_at)}


@dataclass(slots=True)
class SpotChecked:
    """spotcheck_recorded: the result of re-checking one drawn issue."""

    draw: int
    result: str
    """pass | fail"""
    note: str
    evidence: tuple[Evidence, ...] = ()

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"draw": self.draw, "result": self.result, "note": self.note}
        if self.evidence:
            out["evidence"] = [e.to_dict() for e in self.evidence]
        return out


@dataclass(slots=True)
class Installed:
    """org_loaded, workflow_registered, calendar_installed: the body and its SHA-256."""

    sha256: str
    body: Any

    def to_payload(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "body": self.body}


@dataclass(slots=True)
class Marked:
    """database_marked: live or drill."""

    mode: str

    def to_payload(self) -> dict[str, Any]:
        return {"mode": self.mode}


@dataclass(slots=True)
class Reassigned:
    """reassigned: who answered for the stage and who does now, why, the due date given (if
    any), the due moment and the ladder's pointer after it."""

    old: str | None
    new: str
    reason: str
    due_at: datetime | None
    next_escalation_at: datetime | None
    due: date | None = None

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"from": self.old, "to": self.new, "reason": self.reason}
        if self.due is not None:
            out["due"] = self.due.isoformat()
        out["due_at"] = moment_text(self.due_at)
        out["next_escalation_at"] = moment_text(self.next_escalation_at)
        return out


@dataclass(slots=True)
class Edited:
    """edited: each field changed with its old and new value, why, the village's listing and
    the ladder's pointer after it (they follow the village)."""

    changes: Mapping[str, tuple[Any, Any]]
    """field -> (old, new), in the order the fields are listed in issue.EDITABLE."""
    reason: str
    listed_by_village: bool
    next_escalation_at: datetime | None

    def to_payload(self) -> dict[str, Any]:
        return {
            "changes": {name: {"old": old, "new": new}
                        for name, (old, new) in self.changes.items()},
            "reason": self.reason, "listed_by_village": self.listed_by_village,
            "next_escalation_at": moment_text(self.next_escalation_at),
        }
