"""The JSON API's issues: the ledger filtered, a new issue, one issue with what the caller
may fire now, a move (JSON, or multipart with `evidence` files), the history, evidence files.
Each goes through the CLI's handler (engine.app.issues) in the caller's session."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from engine.app import issues
from engine.app.session import Session
from engine.domain.issue import Issue, Move, NewIssue
from engine.present import event_json, issue_json
from engine.web.api_common import LARGEST_ID, Actor, Reader
from engine.web.uploads import evidence_file, files_of, uploaded

router = APIRouter()
IssueId = Annotated[int, PathParam(ge=1, le=LARGEST_ID)]


class NewIssueBody(BaseModel):
    """A problem found (the CLI's `issue add`)."""

    model_config = ConfigDict(extra="forbid")

    title: str
    category: str
    village: str
    group: str | None = None
    household: str | None = None
    severity: str = "medium"
    description: str | None = None
    listed: bool = False


class MoveBody(BaseModel):
    """A transition fired (the CLI's `issue move`); as JSON, or as multipart form fields
    with `evidence` files."""

    model_config = ConfigDict(extra="forbid")

    transition: str
    note: str | None = None
    plan: str | None = None
    assignee: str | None = None
    due: date | None = None
    reason: str | None = None
    expect_version: int | None = Field(None, ge=1, le=LARGEST_ID)


def _issue(s: Session, issue: Issue) -> dict[str, Any]:
    """An issue as the CLI's --json shows it, with its light now."""
    return issue_json(issue, s.zone(), issues.lights(s, [issue])[issue.id])


@router.get("/issues")
def listing(c: Reader, state: Annotated[list[str], Query()] = [],  # noqa: B006
            village: Annotated[list[str], Query()] = [],  # noqa: B006
            assignee: Annotated[list[str], Query()] = [],  # noqa: B006
            search: str | None = None, overdue: bool = False) -> list[dict[str, Any]]:
    """The ledger (台账), filtered as `issue list` filters it."""
    s = c.session
    found = issues.listing(s, states=state, villages=village, assignees=assignee,
                           overdue=overdue, search=search or None)
    lights = issues.lights(s, found)
    tz = s.zone()
    return [issue_json(i, tz, lights[i.id]) for i in found]


@router.post("/issues", status_code=201)
def add(c: Actor, body: NewIssueBody) -> dict[str, Any]:
    s = c.session
    return _issue(s, issues.add(s, NewIssue(**body.model_dump())))


@router.get("/issues/{issue_id}")
def show(c: Reader, issue_id: IssueId) -> dict[str, Any]:
    """The issue, and `allowed`: what the caller may fire on it now."""
    s = c.session
    return {**_issue(s, issues.show(s, issue_id)), "allowed": issues.permitted(s, issue_id)}


_MOVE_SCHEMA = MoveBody.model_json_schema()
_MOVE_FORM = {**_MOVE_SCHEMA, "properties": {
    **_MOVE_SCHEMA["properties"],
    "evidence": {"type": "array", "items": {"type": "string", "format": "binary"}}}}


@router.post("/issues/{issue_id}/moves", openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": _MOVE_SCHEMA},
                                  "multipart/form-data": {"schema": _MOVE_FORM}}}})
async def move(request: Request, c: Actor, issue_id: IssueId) -> dict[str, Any]:
    """Fire a transition: JSON, or multipart form fields with `evidence` files."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    files: list[UploadFile] = []
    given: Any
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form()
        given = {k: v for k, v in form.multi_items() if isinstance(v, str) and v != ""}
        files = files_of(form)
        given.pop("evidence", None)
    else:
        try:
            given = json.loads(await request.body())
        except ValueError as e:
            raise RequestValidationError([{"type": "json_invalid", "loc": ("body",),
                                           "msg": f"JSON decode error: {e}"}]) from None
    try:
        body = MoveBody.model_validate(given)
    except ValidationError as e:
        raise RequestValidationError(e.errors()) from None
    command = Move(issue_id=issue_id, **body.model_dump())

    def fire() -> dict[str, Any]:
        with uploaded(files) as paths:
            return _issue(c.session, issues.move(c.session, command, paths))

    return await run_in_threadpool(fire)


@router.get("/issues/{issue_id}/history")
def history(c: Reader, issue_id: IssueId) -> list[dict[str, Any]]:
    """Every event of the issue, oldest first (the CLI's `issue history --json`)."""
    s = c.session
    events = issues.history(s, issue_id)
    tz = s.zone()
    return [event_json(e, tz) for e in events]


@router.get("/evidence/{sha256}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}}})
def evidence(request: Request, c: Reader, sha256: str, name: str = "evidence") -> FileResponse:
    """A stored evidence file by its SHA-256 (any signed-in person)."""
    return evidence_file(request, sha256, name)


