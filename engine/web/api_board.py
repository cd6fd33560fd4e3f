"""The JSON API's leaders' work: extension requests and their decisions, the escalations
board with interviews recorded and accountability decided, and the audit (verify, replay).
Each goes through the CLI's handler in the caller's session."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from engine.app import audit, extensions, supervision
from engine.app.moments import moment_option
from engine.present import escalation_json, extension_json, replayed_json
from engine.store.escalations import EscalationFilter
from engine.web.api_common import LARGEST_ID, Actor, Reader

router = APIRouter()
Id = Annotated[int, PathParam(ge=1, le=LARGEST_ID)]
Outcome = Literal["no_action", "talk", "admonish", "criticize", "refer"]
"""The accountability outcomes (engine.domain.escalation.OUTCOMES)."""


# --- extensions -----------------------------------------------------------------------------
class ExtensionBody(BaseModel):
    """Ask to move the issue's due date (延期申请)."""

    model_config = ConfigDict(extra="forbid")

    to: date
    reason: str


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = None


@router.post("/issues/{issue_id}/extensions")
def request_extension(c: Actor, issue_id: Id, body: ExtensionBody) -> dict[str, Any]:
    s = c.session
    return extension_json(extensions.request(s, issue_id, body.to, body.reason), s.zone())


@router.post("/extensions/{extension_id}/approve")
def approve(c: Actor, extension_id: Id, body: DecisionBody) -> dict[str, Any]:
    s = c.session
    return extension_json(extensions.decide(s, extension_id, True, body.note), s.zone())


@router.post("/extensions/{extension_id}/deny")
def deny(c: Actor, extension_id: Id, body: DecisionBody) -> dict[str, Any]:
    s = c.session
    return extension_json(extensions.decide(s, extension_id, False, body.note), s.zone())


# --- escalations ----------------------------------------------------------------------------
class InterviewBody(BaseModel):
    """The interview (约谈) held: what was said, who took part."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    note: str
    with_: list[str] = Field(default_factory=list, alias="with")


class AccountabilityBody(BaseModel):
    """The party secretary's decision (问责); `subjects` by default the case's."""

    model_config = ConfigDict(extra="forbid")

    note: str
    outcome: Outcome
    subjects: list[str] | None = None


@router.get("/escalations")
def escalations(c: Reader, open: bool = False,
                level: Literal["reminder", "interview", "accountability"] | None = None,
                to: str | None = None) -> list[dict[str, Any]]:
    """The escalations board (the CLI's `escalation list`)."""
    s = c.session
    found = supervision.escalations(s, EscalationFilter(open_only=open, level=level, to=to))
    tz = s.zone()
    return [escalation_json(e, tz) for e in found]


@router.post("/escalations/{escalation_id}/record")
def record(c: Actor, escalation_id: Id, body: InterviewBody) -> dict[str, Any]:
    s = c.session
    done = supervision.record_interview(s, escalation_id, body.note, body.with_)
    return escalation_json(done, s.zone())


@router.post("/escalations/{escalation_id}/decide")
def decide(c: Actor, escalation_id: Id, body: AccountabilityBody) -> dict[str, Any]:
    s = c.session
    done = supervision.decide_accountability(s, escalation_id, body.note, body.outcome,
                                             body.subjects or None)
    return escalation_json(done, s.zone())


# --- the audit ------------------------------------------------------------------------------
@router.get("/audit/verify")
def verify(c: Reader) -> dict[str, Any]:
    """`audit verify --json`: the chain recomputed, every issue replayed against its row."""
    s = c.session
    s.zone()
    return audit.verify(s).to_json()


@router.get("/audit/replay")
def replay(c: Reader, as_of: Annotated[str, Query(min_length=1)],
           issue: Annotated[int | None, Query(ge=1, le=LARGEST_ID)] = None,
           village: str | None = None) -> list[dict[str, Any]]:
    """`audit replay --json`: the ledger as it stood at `as_of` (ISO 8601, town time)."""
    s = c.session
    tz = s.zone()
    found = audit.replay(s, moment_option(as_of, "as_of", tz), issue, village)
    return [replayed_json(r, tz) for r in found]
