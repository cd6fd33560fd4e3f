"""The JSON API (/api; OpenAPI at /api/openapi.json). Issues and events have the CLI's
`--json` shapes; errors are `{"error": "..."}` (see engine.web.app.status_of)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from engine.app import accounts
from engine.web.auth import address, caller, rect

router = APIRouter(prefix="/api")


class Login(BaseModel):
    user: str
    password: str


@router.post("/login")
def login(request: Request, body: Login) -> dict[str, Any]:
    """A bearer token for an API client: the session's token, valid as the session is."""
    s = rect(request).session(channel="api")
    signed = accounts.sign_in(s, body.user, body.password, address(request))
    return {"token": signed.token, "expires_at": signed.expires_at.isoformat()}


@router.get("/me")
def me(request: Request) -> dict[str, Any]:
    c = caller(request, "api")
    with c.session.transaction(write=False) as tx:
        org = c.session.org(tx)
        person = org.people[c.person]
        roles = sorted(org.roles_of(c.person))
    return {"id": person.id, "name": person.name, "roles": roles}
