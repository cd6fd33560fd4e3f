"""What the JSON API's modules share: the documented refusals and the signed-in caller of a
request, checked for CSRF when it changes something."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel

from engine.web.auth import Caller, caller, check_form

LARGEST_ID = 2**63 - 1
"""The largest id a row can have (a 64-bit integer)."""


class Error(BaseModel):
    """Every refusal: `{"error": "..."}`."""

    error: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "not signed in"},
    403: {"model": Error, "description": "not permitted (role, CSRF)"},
    404: {"model": Error, "description": "unknown"},
    409: {"model": Error, "description": "refused by a rule"},
    422: {"model": Error, "description": "malformed"},
}


def reader(request: Request) -> Caller:
    """The signed-in caller, for a request that only reads."""
    return caller(request, "api")


def actor(request: Request) -> Caller:
    """The signed-in caller of a request that changes something: with the session cookie,
    the CSRF token must come in the X-CSRF-Token header (a bearer token needs none)."""
    c = caller(request, "api")
    check_form(request, c, None)
    return c


Reader = Annotated[Caller, Depends(reader)]
"""A parameter: the signed-in caller (checked before the body is)."""
Actor = Annotated[Caller, Depends(actor)]
"""A parameter: the signed-in caller of a change, CSRF checked (before the body is)."""
