"""Who a request is from, and signing in and out.

A browser holds a server-side session: its random token in an HttpOnly, SameSite=Lax cookie
(Secure when the workspace is served behind HTTPS), only its SHA-256 stored
(engine.app.accounts). Every form carries the session's CSRF token; an API client sends
`Authorization: Bearer TOKEN` instead (no CSRF: a browser never sends one by itself), or the
session cookie with the CSRF token in the `X-CSRF-Token` header.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from fastapi import Request

from engine.app import accounts
from engine.app.session import App, Definitions, Session
from engine.domain.accounts import TOKEN_PREFIX, Principal
from engine.errors import NotSignedIn

COOKIE = "rectify_session"
LANG_COOKIE = "rectify_lang"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Caller:
    """A signed-in request: who, and the session of the application it acts in."""

    principal: Principal
    session: Session
    """The application session for this request: the person, channel web or api."""

    @property
    def person(self) -> str:
        return self.principal.person

    @property
    def csrf(self) -> str:
        return self.principal.csrf or ""


def rect(request: Request) -> App:
    """The application the workspace serves."""
    app: App = request.app.state.rect
    return app


DEFINITIONS_FOR = 5.0
"""Seconds a request's read of the town's definitions (zone, org, calendar, workflow) is
shared with the requests after it: an org changed by another process is seen that late."""


def definitions(request: Request) -> Definitions:
    """The definitions the requests of the last few seconds read, shared (a handler that
    changes them resets them for everyone); fresh ones when they are older."""
    state = request.app.state
    now = time.monotonic()
    shared: tuple[float, Definitions] | None = getattr(state, "definitions", None)
    if shared is None or now - shared[0] > DEFINITIONS_FOR:
        shared = (now, Definitions())
        state.definitions = shared
    return shared[1]


def session(request: Request, actor: str | None, channel: str) -> Session:
    """An application session for this request, sharing the recent definitions."""
    return rect(request).session(actor=actor, channel=channel,
                                 definitions=definitions(request))


def address(request: Request) -> str:
    """The client's address (for the sign-in throttle)."""
    return request.client.host if request.client else "?"


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def principal(request: Request) -> Principal:
    """Who the request is from: a bearer token first, else the session cookie;
    NotSignedIn when neither holds."""
    s = session(request, None, "api")
    token = bearer(request)
    if token is not None:
        if token.startswith(TOKEN_PREFIX):
            return accounts.resolve_token(s, token)
        # a session's token from POST /api/login, presented as a bearer: no CSRF needed, a
        # browser never sends a bearer token by itself
        return replace(accounts.resolve_session(s, token), csrf=None)
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise NotSignedIn("not signed in")
    return accounts.resolve_session(s, cookie)


def caller(request: Request, channel: str) -> Caller:
    """The signed-in caller with an application session acting as them through `channel`
    (web for pages, api for the JSON API)."""
    who = principal(request)
    return Caller(who, session(request, who.person, channel))


def check_form(request: Request, c: Caller, token: str | None) -> None:
    """A state-changing request must carry the session's CSRF token (form field or header);
    a bearer-token request needs none."""
    accounts.check_csrf(c.principal, token or request.headers.get(CSRF_HEADER))
