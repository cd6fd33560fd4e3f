"""The actions of an issue page besides its transitions: ask for more time and decide such a
request, give the issue another assignee, correct its fields. Each form posts to the same
handler as the CLI command (`issue extend`, `extension approve|deny`, `issue reassign`,
`issue edit`); a refusal is shown on the issue page in words, nothing changed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from engine.app import corrections, extensions, issues
from engine.app.moments import parse_day
from engine.domain.issue import EDITABLE, Edit
from engine.errors import RectifyError
from engine.web.auth import caller, check_form
from engine.web.pages import issue_page_with, posted
from engine.web.status import status_of

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]


def _back(issue_id: int) -> Response:
    return RedirectResponse(f"/issues/{issue_id}", status_code=303)


@router.post("/issues/{issue_id}/extend")
def extend(request: Request, issue_id: int, to: Field, reason: Field,
           csrf: Field = "") -> Response:
    c = caller(request, "web")
    check_form(request, c, csrf)
    try:
        extensions.request(c.session, issue_id, parse_day(to, "to"), reason)
    except RectifyError as e:
        return issue_page_with(request, c, issue_id, str(e), status_of(e))
    return _back(issue_id)


@router.post("/extensions/{extension_id}/decide")
def decide_extension(request: Request, extension_id: int, issue: Annotated[int, Form()],
                     decision: Field, note: Field = "", csrf: Field = "") -> Response:
    c = caller(request, "web")
    check_form(request, c, csrf)
    try:
        extensions.decide(c.session, extension_id, decision == "approve", note or None)
    except RectifyError as e:
        return issue_page_with(request, c, issue, str(e), status_of(e))
    return _back(issue)


@router.post("/issues/{issue_id}/reassign")
def reassign(request: Request, issue_id: int, to: Field, reason: Field, due: Field = "",
             csrf: Field = "") -> Response:
    c = caller(request, "web")
    check_form(request, c, csrf)
    try:
        corrections.reassign(c.session, issue_id, to, reason,
                             parse_day(due, "due") if due else None)
    except RectifyError as e:
        return issue_page_with(request, c, issue_id, str(e), status_of(e))
    return _back(issue_id)


@router.post("/issues/{issue_id}/edit")
async def edit(request: Request, issue_id: int) -> Response:
    c, _form, given = await posted(request)
    try:
        issue = issues.show(c.session, issue_id)
        changed = {name: given[name] for name in EDITABLE if name in given
                   and given[name] != (getattr(issue, name) or "")}
        corrections.edit(c.session, Edit(issue_id=issue_id, reason=given.get("reason", ""),
                                         **changed))
    except RectifyError as e:
        return issue_page_with(request, c, issue_id, str(e), status_of(e))
    return _back(issue_id)
