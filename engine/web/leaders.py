"""The leaders' pages: the board (督战) — open interviews and accountability cases with their
record and decision forms, the villages listed for supervision with the switch, the overdue
issues by village — and the audit page (审计) — the chain's verdict and head, the ledger
replayed as of a date, a person's report, the export downloads.

Every form goes to the same application handlers as the CLI (engine.app.supervision,
engine.app.audit); a refusal is shown on the page in words and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine import reports
from engine.app import audit, issues, supervision
from engine.app.moments import moment_option, parse_day
from engine.domain.escalation import OUTCOMES, Escalation
from engine.domain.issue import Issue
from engine.domain.org import Org
from engine.errors import NotFound, RectifyError
from engine.store.escalations import EscalationFilter
from engine.web.auth import Caller, caller, check_form
from engine.web.pages import posted
from engine.web.render import page, words
from engine.web.status import status_of

router = APIRouter(include_in_schema=False)
CASES = ("interview", "accountability")
"""The escalation levels the board shows with their forms."""


# --- the board (督战) ---------------------------------------------------------------------------
@router.get("/board")
def board(request: Request, message: str = "", done: str = "") -> HTMLResponse:
    c = caller(request, "web")
    return _board(request, c, message, 200, done)


def _board(request: Request, c: Caller, message: str, status: int,
           done: str = "") -> HTMLResponse:
    s = c.session
    cases: list[Escalation] = []
    for level in CASES:
        cases += supervision.escalations(s, EscalationFilter(open_only=True, level=level))
    cases.sort(key=lambda e: (e.raised_at, e.id))
    overdue = issues.listing(s, overdue=True)
    by_village: dict[str, list[Issue]] = {}
    for i in overdue:
        by_village.setdefault(i.village, []).append(i)
    with s.transaction(write=False) as tx:  # the cases' issues, what may be done, the lights
        by_id = {n: issues.shown_in(tx, n) for n in {e.issue_id for e in cases}}
        allowed = {n: set(issues.permitted_in(s, tx, i)) for n, i in by_id.items()}
        lights = issues.lights_in(s, tx, overdue)
        org = s.org(tx)
        units = sorted(org.units.values(), key=lambda u: u.id)
        may_list = supervision.may_list(s, tx)
    candidates = {e.id: _candidates(org, e, by_id[e.issue_id]) for e in cases}
    return page(request, "board.html.j2", c, status, cases=cases, issues_by_id=by_id,
                units=units, overdue=by_village, lights=lights, allowed=allowed,
                candidates=candidates, may_list=may_list, outcomes=list(OUTCOMES),
                message=message, done=done)


def _candidates(org: Org, e: Escalation, issue: Issue) -> list[tuple[str, str]]:
    """Whom a case's form offers to tick (who attended an interview, who answers for a
    decision): its subjects first, then the issue's assignee, the village's secretary and
    liaison leader, then the village's own cadres — not the whole town."""
    unit = org.units.get(issue.village)
    ids = [*e.subjects, issue.assignee,
           unit.secretary if unit else None, unit.liaison if unit else None,
           *(p.id for p in sorted(org.people.values(), key=lambda p: p.id)
             if p.unit == issue.village)]
    seen = dict.fromkeys(p for p in ids if p and p in org.people)
    return [(p, org.people[p].name) for p in seen]


def _chosen(values: Sequence[Any]) -> list[str]:
    """People picked in a multiple select (or typed, separated by commas or spaces)."""
    out: list[str] = []
    for v in values:
        if isinstance(v, str):
            out += [p for p in v.replace("，", ",").replace(",", " ").split() if p]
    return list(dict.fromkeys(out))


@router.post("/escalations/{escalation_id}/record")
async def record(request: Request, escalation_id: int) -> Response:
    c, form, _given = await posted(request)
    try:
        supervision.record_interview(c.session, escalation_id, str(form.get("note") or ""),
                                     _chosen(form.getlist("with")))
    except RectifyError as e:
        return _board(request, c, str(e), status_of(e))
    return RedirectResponse(f"/board?done={escalation_id}", status_code=303)


@router.post("/escalations/{escalation_id}/decide")
async def decide(request: Request, escalation_id: int) -> Response:
    c, form, _given = await posted(request)
    subjects = _chosen(form.getlist("subjects"))
    try:
        supervision.decide_accountability(c.session, escalation_id,
                                          str(form.get("note") or ""),
                                          str(form.get("outcome") or "") or None,
                                          subjects or None)
    except RectifyError as e:
        return _board(request, c, str(e), status_of(e))
    return RedirectResponse(f"/board?done={escalation_id}", status_code=303)


@router.post("/villages/{village}/listing")
def listing(request: Request, village: str, listed: Annotated[str, Form()] = "",
            csrf: Annotated[str, Form()] = "") -> Response:
    c = caller(request, "web")
    check_form(request, c, csrf)
    on = listed in ("1", "on", "true")
    try:
        changed = supervision.list_village(c.session, village, on)
    except RectifyError as e:
        return _board(request, c, str(e), status_of(e))
    w = words(request, c.session)
    said = w("village listed" if on else "village unlisted", village=w.village(village),
             n=len(changed))
    return RedirectResponse("/board?" + urlencode({"done": said}), status_code=303)


# --- audit (审计) -------------------------------------------------------------------------------
@router.get("/audit")
def audit_page(request: Request, as_of: str = "", village: str = "", person: str = "",
               verify: str = "") -> HTMLResponse:
    """The audit page. The whole chain is verified when asked (`verify=1`, the page's
    button): a full check reads every event, too much for every visit."""
    c = caller(request, "web")
    s = c.session
    tz = s.zone()
    w = words(request, s)
    message, status = "", 200
    verdict = audit.verify(s) if verify else None
    try:
        head: str | None = "{}:{}".format(*audit.anchor(s))
    except RectifyError:
        head = None
    replayed: list[audit.Replayed] | None = None
    moment = None
    try:
        if as_of:
            parse_day(as_of, "as_of")
            moment = moment_option(as_of, "as_of", tz, end=True)
            replayed = audit.replay(s, moment, None, village or None)
    except RectifyError as e:
        message, status = str(e), status_of(e)
    report = ""
    try:
        if person:
            report = reports.person_text(audit.person(s, person), tz, w, s.is_drill()).rstrip()
    except RectifyError as e:
        message, status = str(e), status_of(e)
    with s.transaction(write=False) as tx:
        org = s.org(tx)
        people = sorted(org.people.values(), key=lambda p: p.id)
        today = s.now(tx).astimezone(tz).date()
    return page(request, "audit.html.j2", c, status, verdict=verdict,
                head=head, as_of=as_of, village=village, person=person, replayed=replayed,
                moment=moment, report=report, people=people, message=message,
                villages=sorted(s.names().units.items()),
                yesterday=(today - timedelta(days=1)).isoformat())


@router.get("/audit/export.{fmt}")
def export(request: Request, fmt: str, village: str = "") -> Response:
    c = caller(request, "web")
    s = c.session
    tz = s.zone()
    if fmt == "html":
        timelines, total, verdict, town = audit.timelines(s, None, None, village or None)
        body = reports.html(timelines, total, verdict, tz, town, s.app.clock.now(), None,
                            None, village or None, words(request, s))
        return Response(body, media_type="text/html; charset=utf-8", headers={
            "content-disposition": 'attachment; filename="rectify-audit.html"'})
    if fmt == "csv":
        body = "".join(reports.csv_lines(audit.events(s, None, None, village or None), tz))
        return Response(body, media_type="text/csv; charset=utf-8", headers={
            "content-disposition": 'attachment; filename="rectify-audit.csv"'})
    raise NotFound(f"no export as {fmt[:10]!r} (html or csv)")
