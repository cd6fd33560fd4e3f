"""Pages rendered on the server: the workspace's Jinja2 environment (autoescaped; every value
shown through the text rule, so a control or bidirectional character stays inert) and the
context every page has: the reader's Words (names and labels in their language), who is
signed in, the CSRF token of their forms, and how times read."""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from engine.app.session import Session
from engine.domain.text import visible
from engine.present import event_details, event_what, town_time
from engine.refusals import refusal
from engine.web.auth import LANG_COOKIE, Caller
from engine.words import Words, lang_of

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import Markup

    def finalize(value: Any) -> Any:
        if isinstance(value, str) and not isinstance(value, Markup):
            return visible(value, multiline=True)
        return value

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, auto_reload=False,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       finalize=finalize)


def lang(request: Request) -> str:
    """The reader's language: their choice (a cookie set by the switch), else Chinese."""
    return lang_of(request.cookies.get(LANG_COOKIE)) or "zh_CN"


def words(request: Request, s: Session | None) -> Words:
    """Names and labels for this reader (ids as they are when no session can read the org)."""
    return Words(lang(request), s.names()) if s is not None else Words(lang(request))


def page(request: Request, template: str, c: Caller | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    """A whole page: the template with the common context."""
    s = c.session if c is not None else None
    w = words(request, s)
    tz: tzinfo | None = s.zone() if s is not None else None

    def at(value: datetime | None, due: bool = False) -> str:
        return town_time(value, tz, due) if tz is not None and value is not None else ""

    counted = s.countdown() if s is not None else None
    if isinstance(context.get("message"), str):
        context["message"] = refusal(w, context["message"])
    html = environment().get_template(template).render(
        request=request, w=w, me=c.person if c else None, csrf=c.csrf if c else "",
        at=at, path=request.url.path, drill=s.is_drill() if s is not None else False,
        countdown=w.countdown(*counted) if counted is not None else "",
        what=lambda e: event_what(e, w), details=lambda e: event_details(e, w), **context)
    return HTMLResponse(html, status_code=status)
