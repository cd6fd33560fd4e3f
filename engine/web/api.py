"""The JSON API (/api; OpenAPI at /api/openapi.json). Issues and events have the CLI's
`--json` shapes (engine.present); errors are `{"error": "..."}` (engine.web.status).

    api.py          sign-in (/api/login) and who I am (/api/me); the routers below
    api_issues.py   issues: list, add, show, move (with evidence), history, evidence files
    api_board.py    extensions, escalations, the audit
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from engine.app import accounts
from engine.web import api_board, api_issues
from engine.web.api_common import ERRORS, Reader
from engine.web.auth import address, session

router = APIRouter(prefix="/api", responses=ERRORS)


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str
    password: str


@router.post("/login")
def login(request: Request, body: Login) -> dict[str, Any]:
    """A bearer token for an API client: the session's token, valid as the session is."""
    s = session(request, None, "api")
    signed = accounts.sign_in(s, body.user, body.password, address(request))
    return {"token": signed.token, "expires_at": signed.expires_at.isoformat()}


@router.get("/me")
def me(c: Reader) -> dict[str, Any]:
    with c.session.transaction(write=False) as tx:
        org = c.session.org(tx)
        person = org.people[c.person]
        roles = sorted(org.roles_of(c.person))
    return {"id": person.id, "name": person.name, "roles": roles}


router.include_router(api_issues.router)
router.include_router(api_board.router)
