"""The pages people use: sign-in, my queue (我的待办), the ledger (台账), an issue with the forms
of what its reader may do now, a new issue (or an on-the-spot fix) with photos.

Forms post to the same application handlers as the CLI; a refusal is shown on the page in
words and changes nothing. Every form carries the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from engine.app import accounts, issues, workspace
from engine.app.evidence_files import attached_to
from engine.app.moments import parse_day
from engine.domain.issue import CATEGORIES, SEVERITIES, Move, NewIssue
from engine.errors import BadOption, RectifyError
from engine.store.issues import IssueFilter
from engine.web.auth import (
    COOKIE,
    LANG_COOKIE,
    Caller,
    address,
    caller,
    check_form,
    rect,
    session,
)
from engine.web.render import page, words
from engine.web.status import status_of
from engine.web.uploads import evidence_file, files_of, uploaded

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


async def posted(request: Request) -> tuple[Caller, FormData, dict[str, str]]:
    """A posted form of a signed-in person, its CSRF token checked: who, the form (its
    files), and its text fields."""
    c = caller(request, "web")
    form = await request.form()
    check_form(request, c, str(form.get("csrf") or ""))
    return c, form, {k: str(v) for k, v in form.items() if isinstance(v, str)}


def error_page(request: Request, e: RectifyError, status: int) -> HTMLResponse:
    """A refusal as a page of its own (when no form page can show it)."""
    try:
        c: Caller | None = caller(request, "web")
    except RectifyError:
        c = None
    return page(request, "error.html.j2", c, status, message=str(e))


# --- signing in and out --------------------------------------------------------------------
@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return page(request, "login.html.j2", None, next=_local(next), message="", who="")


@router.post("/login")
def login(request: Request, who: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/") -> Response:
    s = session(request, None, "web")
    try:
        signed = accounts.sign_in(s, who.strip(), password, address(request))
    except RectifyError as e:
        return page(request, "login.html.j2", None, status_of(e), next=_local(next),
                    message=str(e), who=who)
    out = RedirectResponse(_local(next), status_code=303)
    out.set_cookie(COOKIE, signed.token, httponly=True, samesite="lax",
                   secure=bool(request.app.state.secure),
                   max_age=int((signed.expires_at - rect(request).account_clock.now())
                               .total_seconds()))
    return out


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    c = caller(request, "web")
    check_form(request, c, csrf)
    token = request.cookies.get(COOKIE)
    if token:
        accounts.sign_out(c.session, token)
    out = RedirectResponse("/login", status_code=303)
    out.delete_cookie(COOKIE)
    return out


@router.post("/lang")
def switch_language(request: Request, lang: Annotated[str, Form()],
                    back: Annotated[str, Form()] = "/") -> Response:
    """A person's choice of language (kept in their browser, a year)."""
    out = RedirectResponse(_local(back), status_code=303)
    out.set_cookie(LANG_COOKIE, "en" if lang == "en" else "zh_CN", max_age=365 * 86400,
                   samesite="lax", secure=bool(request.app.state.secure))
    return out


@router.get("/account")
def account(request: Request) -> HTMLResponse:
    c = caller(request, "web")
    return page(request, "account.html.j2", c, message="", done=False)


@router.post("/account/password")
def change_password(request: Request, old: Annotated[str, Form()],
                    new: Annotated[str, Form()], again: Annotated[str, Form()],
                    csrf: Annotated[str, Form()] = "") -> HTMLResponse:
    c = caller(request, "web")
    check_form(request, c, csrf)
    w = words(request, c.session)
    try:
        if new != again:
            raise BadOption(w("passwords differ"))
        accounts.change_password(c.session, c.person, old, new, keep=c.principal.session)
    except RectifyError as e:
        return page(request, "account.html.j2", c, status_of(e), message=str(e), done=False)
    return page(request, "account.html.j2", c, message="", done=True)


# --- my queue ---------------------------------------------------------------------------------
@router.get("/")
def queue(request: Request) -> HTMLResponse:
    c = caller(request, "web")
    return page(request, "queue.html.j2", c, q=workspace.my_queue(c.session))


# --- the ledger -------------------------------------------------------------------------------
@router.get("/ledger")
def ledger(request: Request, village: str = "", state: str = "", category: str = "",
           light: str = "", listed: str = "", q: str = "", page_no: int = 1) -> HTMLResponse:
    c = caller(request, "web")
    s = c.session
    f = IssueFilter(states=(state,) if state else (), villages=(village,) if village else (),
                    categories=(category,) if category else (), search=q or None,
                    supervised=bool(listed))
    page_no = max(1, page_no)
    if light:  # a light is not stored: the matching issues are read and their lights told
        got = issues.ledger_page(s, f, 0, 0)
        chosen = [i for i in got.issues if got.lights.get(i.id) == light]
        total = len(chosen)
        pages = max(1, -(-total // PAGE_SIZE))
        page_no = min(page_no, pages)
        shown = chosen[(page_no - 1) * PAGE_SIZE: page_no * PAGE_SIZE]
    else:
        got = issues.ledger_page(s, f, (page_no - 1) * PAGE_SIZE, PAGE_SIZE)
        total = got.total
        pages = max(1, -(-total // PAGE_SIZE))
        if page_no > pages:
            page_no = pages
            got = issues.ledger_page(s, f, (page_no - 1) * PAGE_SIZE, PAGE_SIZE)
        shown = got.issues
    totals: dict[str, int] = {}
    for _village, st, n in got.counts:
        totals[st] = totals.get(st, 0) + n
    filters = {"village": village, "state": state, "category": category, "light": light,
               "listed": listed, "q": q}
    return page(request, "ledger.html.j2", c, issues=shown, lights=got.lights, total=total,
                page_no=page_no, pages=pages, filters=filters, states=got.states,
                categories=CATEGORIES, villages=_villages(s), counts=_table(got.counts),
                totals=totals,
                link=lambda **more: "/ledger?" + urlencode(
                    {k: v for k, v in {**filters, **more}.items() if v}))


def _villages(s: Any) -> list[tuple[str, str]]:
    names = s.names()
    return sorted(names.units.items(), key=lambda kv: kv[0])


def _table(counts: Sequence[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for village, state, n in counts:
        out.setdefault(village, {})[state] = n
    return out


# --- an issue ---------------------------------------------------------------------------------
@router.get("/issues/new")
def new_form(request: Request) -> HTMLResponse:
    c = caller(request, "web")
    return _new_page(request, c, message="", status=200, given={})


def _new_page(request: Request, c: Caller, message: str, status: int,
              given: dict[str, str]) -> HTMLResponse:
    return page(request, "new.html.j2", c, status, message=message, given=given,
                categories=CATEGORIES, severities=SEVERITIES, villages=_villages(c.session))


@router.post("/issues/new")
async def add(request: Request) -> Response:
    c, form, given = await posted(request)
    files = files_of(form)
    try:
        with uploaded(files) as paths:
            new = issues.add(c.session, NewIssue(
                title=given.get("title", ""), category=given.get("category", ""),
                village=given.get("village", ""), group=given.get("group") or None,
                household=given.get("household") or None,
                severity=given.get("severity") or "medium",
                description=given.get("description") or None,
                listed=given.get("listed") == "on"))
            if given.get("fix") == "on":
                try:
                    issues.move(c.session, Move(issue_id=new.id, transition="fix",
                                                note=given.get("note") or None), paths)
                except RectifyError as e:  # added, but not fixed: its page says why
                    return issue_page_with(request, c, new.id, str(e), status_of(e))
    except RectifyError as e:
        return _new_page(request, c, str(e), status_of(e), given)
    return RedirectResponse(f"/issues/{new.id}", status_code=303)


@router.get("/issues/{issue_id}")
def issue_page(request: Request, issue_id: int) -> HTMLResponse:
    c = caller(request, "web")
    return issue_page_with(request, c, issue_id, "", 200)


def issue_page_with(request: Request, c: Caller, issue_id: int, message: str,
                    status: int, given: dict[str, str] | None = None) -> HTMLResponse:
    """An issue's page showing `message` (a refusal, or nothing), the forms filled as
    `given`."""
    s = c.session
    view = workspace.issue_view(s, issue_id)
    transitions = {t.name: t for t in view.workflow.transitions}
    people = sorted(s.org_now().people.values(), key=lambda p: p.id)
    forms = [transitions[a] for a in view.allowed if a in transitions]
    actions = [a for a in view.allowed if a not in transitions]
    return page(request, "issue.html.j2", c, status, issue=view.issue, light=view.light,
                forms=forms, actions=actions, events=view.events,
                evidence=attached_to(view.events), message=message, given=given or {},
                people=people, pending=view.pending, categories=CATEGORIES,
                severities=SEVERITIES, villages=_villages(s))


@router.post("/issues/{issue_id}/move")
async def move(request: Request, issue_id: int) -> Response:
    c, form, given = await posted(request)
    files = files_of(form)
    try:
        due = parse_day(given["due"], "due") if given.get("due") else None
        version = _number(given.get("expect_version"))
        command = Move(issue_id=issue_id, transition=given.get("transition", ""),
                       note=given.get("note") or None, plan=given.get("plan") or None,
                       assignee=given.get("assignee") or None, due=due,
                       reason=given.get("reason") or None, expect_version=version)
        with uploaded(files) as paths:
            issues.move(c.session, command, paths)
    except RectifyError as e:
        return issue_page_with(request, c, issue_id, str(e), status_of(e), given)
    return RedirectResponse(f"/issues/{issue_id}", status_code=303)


@router.get("/evidence/{sha256}")
def evidence(request: Request, sha256: str, name: str = "evidence") -> Response:
    """A stored evidence file, to any signed-in person (transparency), under its name."""
    caller(request, "web")
    return evidence_file(request, sha256, name)


def _number(text: str | None) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise BadOption(f"not a version: {text!r}")
    return int(text)


def _local(target: str) -> str:
    """Only a path of this site (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"
