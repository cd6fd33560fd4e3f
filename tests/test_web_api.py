"""The JSON API over a real server: uvicorn on 127.0.0.1 in a thread, httpx as the client,
an SQLite database of the small org (a drill: the test moves the app's clock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn

from engine.app import accounts, supervision
from engine.app.session import App
from engine.domain.accounts import CHEAP
from engine.web.app import create_app
from tests.support import Scenario, free_port, scenario, write_org

TOWN = ZoneInfo("Asia/Shanghai")
PASSWORD = "a good long password"
PEOPLE = ("wang", "liu", "chen", "sa1", "rc1", "rc2", "qs1", "qs2", "nobody")


def town(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOWN)


class Hands:
    """The app's clock (a drill's), moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t


@dataclass
class Api:
    app: App
    clock: Hands
    base: str
    tokens: dict[str, str]
    http: httpx.Client

    def at(self, when: str) -> None:
        self.clock.t = town(when)

    def client(self, who: str | None = None, **headers: str) -> httpx.Client:
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)

    def call(self, who: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return self.http.request(method, path, headers=headers, **kw)

    def ok(self, who: str, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        r = self.call(who, method, path, **kw)
        assert r.status_code == status, r.text
        return r.json()

    def refused(self, status: int, who: str | None, method: str, path: str,
                **kw: Any) -> str:
        r = self.call(who, method, path, **kw)
        assert r.status_code == status, r.text
        body = r.json()
        assert set(body) == {"error"}, body
        error: str = body["error"]
        return error

    def add(self, who: str = "sa1", **given: Any) -> dict[str, Any]:
        body = {"title": "roof leaks", "category": "housing_safety", "village": "v-shiban",
                **given}
        made: dict[str, Any] = self.ok(who, "POST", "/api/issues", 201, json=body)
        return made

    def move(self, who: str, issue_id: int, **given: Any) -> dict[str, Any]:
        moved: dict[str, Any] = self.ok(who, "POST", f"/api/issues/{issue_id}/moves",
                                        json=given)
        return moved


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with serving(f"sqlite:///{tmp_path / 'rectify.db'}", tmp_path) as running:
        yield running


@pytest.fixture
def pg_api(pg_url: str, tmp_path: Path) -> Iterator[Api]:
    with serving(pg_url, tmp_path) as running:
        yield running


@contextmanager
def serving(url: str, tmp_path: Path) -> Iterator[Api]:
    """The small org's database at `url` (a drill), every person with PASSWORD and a token,
    served by uvicorn on a free port of 127.0.0.1 until the end."""
    svc: Scenario = scenario(url, tmp_path / "data", actor="wang",
                             now=datetime(2020, 9, 28, 9, 0))
    svc.init(write_org(tmp_path / "org.yaml"))
    app = svc.app
    app.account_policy = CHEAP
    clock = Hands(town("2020-09-28T09:00"))
    app.clock = clock
    for person in PEOPLE:
        accounts.set_password(app.session(), person, PASSWORD)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(app), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    base = f"http://127.0.0.1:{port}"
    tokens = {}
    with httpx.Client(base_url=base) as c:
        for person in PEOPLE:
            r = c.post("/api/login", json={"user": person, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[person] = r.json()["token"]
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            yield Api(app, clock, base, tokens, http)
    finally:
        server.should_exit = True
        thread.join(10)
        app.close()


# --- signing in ---------------------------------------------------------------------------
def test_login_gives_a_token_that_says_who_i_am(api: Api) -> None:
    with api.client() as c:
        r = c.post("/api/login", json={"user": "chen", "password": PASSWORD})
        assert r.status_code == 200 and set(r.json()) == {"token", "expires_at"}
        token = r.json()["token"]
        me = c.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {"id": "chen", "name": "陈支书", "roles": me.json()["roles"]}
    assert api.refused(401, None, "POST", "/api/login",
                       json={"user": "chen", "password": "wrong password"})


def test_signed_out_and_revoked_tokens_are_refused(api: Api) -> None:
    for method, path in (("GET", "/api/me"), ("GET", "/api/issues"),
                         ("POST", "/api/issues"), ("GET", "/api/audit/verify")):
        api.refused(401, None, method, path, json={})
    made = accounts.create_token(api.app.session(), "chen", "laptop")
    with api.client(Authorization=f"Bearer {made.token}") as c:
        assert c.get("/api/me").json()["id"] == "chen"
        accounts.revoke_token(api.app.session(), made.id)
        r = c.get("/api/me")
    assert r.status_code == 401 and set(r.json()) == {"error"}
    with api.client(Authorization="Bearer not-a-token") as c:
        assert c.get("/api/issues").status_code == 401


def test_a_session_cookie_must_carry_the_csrf_header_to_change_anything(api: Api) -> None:
    signed = accounts.sign_in(api.app.session(), "sa1", PASSWORD, "127.0.0.1")
    body = {"title": "a wall cracked", "category": "housing_safety", "village": "v-shiban"}
    with httpx.Client(base_url=api.base, cookies={"rectify_session": signed.token}) as c:
        assert c.get("/api/me").json()["id"] == "sa1"  # reading needs no token
        r = c.post("/api/issues", json=body)
        assert r.status_code == 403 and "CSRF" in r.json()["error"]
        r = c.post("/api/issues", json=body, headers={"X-CSRF-Token": "wrong"})
        assert r.status_code == 403
        r = c.post("/api/issues", json=body, headers={"X-CSRF-Token": signed.csrf})
        assert r.status_code == 201, r.text
    assert [i["title"] for i in api.ok("wang", "GET", "/api/issues")] == ["a wall cracked"]


# --- issues ------------------------------------------------------------------------------
def test_add_list_and_show_an_issue(api: Api) -> None:
    made = api.add(household="王大", severity="high", description="the roof leaks",
                   group="sa-01", listed=True)
    assert made["state"] == "found" and made["created_by"] == "sa1"
    assert made["household"] == "王大" and made["listed"] is True
    other = api.add(title="a street lamp is out", village="c-jiezi",
                    category=made["category"])
    every = api.ok("qs1", "GET", "/api/issues")
    assert {i["id"] for i in every} == {made["id"], other["id"]}
    assert api.ok("qs1", "GET", "/api/issues", params={"village": "c-jiezi"}) == [
        i for i in every if i["id"] == other["id"]]
    both = api.ok("qs1", "GET", "/api/issues",
                  params=[("village", "c-jiezi"), ("village", "v-shiban")])
    assert len(both) == 2
    assert [i["id"] for i in api.ok("qs1", "GET", "/api/issues",
                                    params={"search": "LAMP"})] == [other["id"]]
    assert api.ok("qs1", "GET", "/api/issues", params={"state": "cleared"}) == []
    assert api.ok("qs1", "GET", "/api/issues", params={"assignee": "rc2"}) == []
    api.at("2020-12-01T09:00")
    assert len(api.ok("qs1", "GET", "/api/issues", params={"overdue": "true"})) == 2
    shown = api.ok("sa1", "GET", f"/api/issues/{made['id']}")
    assert {k: v for k, v in shown.items() if k not in ("allowed", "light")} == {
        k: v for k, v in made.items() if k != "light"}
    assert set(shown["allowed"]) >= {"fix", "report"}
    assert api.ok("nobody", "GET", f"/api/issues/{made['id']}")["allowed"] == []


def test_the_whole_lifecycle_through_moves_records_the_api_channel(api: Api) -> None:
    lifecycle(api)


def test_the_lifecycle_on_postgresql(pg_api: Api) -> None:
    lifecycle(pg_api)


def lifecycle(api: Api) -> None:
    i = api.add()["id"]
    api.at("2020-09-30T10:00")
    assert api.move("sa1", i, transition="report", note="up it goes")["state"] == "reported"
    api.at("2020-10-09T10:00")
    studied = api.move("rc1", i, transition="study", plan="new roof", assignee="rc2",
                       due="2020-10-23", expect_version=2)
    assert (studied["state"], studied["assignee"]) == ("studied", "rc2")
    assert studied["due_at"] == "2020-10-24T00:00:00+08:00"
    api.at("2020-10-12T10:00")
    photo = b"\x89PNG the new roof"
    rectified = api.ok("rc2", "POST", f"/api/issues/{i}/moves",
                       data={"transition": "rectify", "note": "roof replaced"},
                       files=[("evidence", ("../../roof photo.png", photo, "image/png"))])
    assert rectified["state"] == "rectified"
    api.at("2020-10-13T10:00")
    assert "quality_supervision" in api.refused(
        403, "rc2", "POST", f"/api/issues/{i}/moves", json={"transition": "verify"})
    assert api.move("qs1", i, transition="verify", note="checked")["state"] == "verified"
    api.at("2020-10-14T10:00")
    cleared = api.move("wang", i, transition="clear")
    assert (cleared["state"], cleared["version"]) == ("cleared", 6)

    events = api.ok("wang", "GET", f"/api/issues/{i}/history")
    assert [e["transition"] for e in events] == [
        None, "report", "study", "rectify", "verify", "clear"]
    assert {e["channel"] for e in events} == {"api"}
    assert [e["actor"] for e in events] == ["sa1", "sa1", "rc1", "rc2", "qs1", "wang"]
    [kept] = events[3]["payload"]["evidence"]
    assert "/" not in kept["name"] and kept["name"].endswith("roof photo.png")  # made safe
    with api.client("nobody") as c:
        r = c.get(f"/api/evidence/{kept['sha256']}")
        assert r.status_code == 200 and r.content == photo
        assert c.get("/api/evidence/" + "0" * 64).status_code == 404
        assert c.get("/api/evidence/nothex").status_code == 422
    assert api.call(None, "GET", f"/api/evidence/{kept['sha256']}").status_code == 401


def test_refusals_have_their_status_and_an_error(api: Api) -> None:
    i = api.add()["id"]
    assert "may not" in api.refused(403, "nobody", "POST", "/api/issues",
                                    json={"title": "x", "category": "housing_safety",
                                          "village": "v-shiban"})
    api.refused(404, "wang", "GET", "/api/issues/999")
    api.refused(404, "wang", "GET", "/api/issues/999/history")
    api.refused(404, "wang", "POST", "/api/issues/999/moves", json={"transition": "report"})
    api.refused(404, "wang", "GET", "/api/nowhere")
    api.refused(404, "sa1", "POST", "/api/issues",
                json={"title": "x", "category": "housing_safety", "village": "v-ghost"})
    api.at("2020-09-30T10:00")
    assert "clear" in api.refused(409, "wang", "POST", f"/api/issues/{i}/moves",
                                  json={"transition": "clear"})
    assert "version" in api.refused(409, "sa1", "POST", f"/api/issues/{i}/moves",
                                    json={"transition": "report", "expect_version": 7})
    api.refused(422, "sa1", "POST", f"/api/issues/{i}/moves", content=b"{not json",
                headers={"Content-Type": "application/json"})
    api.refused(422, "sa1", "POST", f"/api/issues/{i}/moves", json=["report"])
    api.refused(422, "sa1", "POST", f"/api/issues/{i}/moves",
                json={"transition": "report", "due": "23 October"})
    api.refused(422, "sa1", "POST", f"/api/issues/{i}/moves",
                data={"transition": "report", "expect_version": "two"})
    api.refused(422, "sa1", "POST", "/api/issues", json={"title": "no village"})
    api.refused(422, "sa1", "POST", "/api/issues", content=b"[",
                headers={"Content-Type": "application/json"})
    api.refused(422, "sa1", "GET", "/api/issues/not-a-number")
    api.refused(422, "sa1", "GET", "/api/audit/replay", params={"as_of": "yesterday"})
    api.refused(405, "sa1", "DELETE", f"/api/issues/{i}")
    assert api.ok("sa1", "GET", f"/api/issues/{i}")["version"] == 1  # nothing moved


# --- extensions, escalations, the audit ---------------------------------------------------
def _studied(api: Api) -> int:
    i: int = api.add()["id"]
    api.at("2020-09-30T10:00")
    api.move("sa1", i, transition="report")
    api.at("2020-10-09T10:00")
    api.move("rc1", i, transition="study", plan="p", assignee="rc2", due="2020-10-23")
    return i


def test_an_extension_is_asked_and_approved_or_denied(api: Api) -> None:
    i = _studied(api)
    api.at("2020-10-12T10:00")
    asked = api.ok("rc2", "POST", f"/api/issues/{i}/extensions",
                   json={"to": "2020-10-30", "reason": "tiles are late"})
    assert (asked["status"], asked["requested_by"], asked["issue"]) == ("pending", "rc2", i)
    api.refused(403, "rc2", "POST", f"/api/extensions/{asked['id']}/approve", json={})
    api.refused(422, "rc2", "POST", f"/api/issues/{i}/extensions",
                json={"to": "soon", "reason": "x"})
    done = api.ok("liu", "POST", f"/api/extensions/{asked['id']}/approve",
                  json={"note": "fine"})
    assert done["status"] == "approved"
    assert api.ok("liu", "GET", f"/api/issues/{i}")["due_at"] == "2020-10-31T00:00:00+08:00"
    api.refused(409, "liu", "POST", f"/api/extensions/{asked['id']}/deny", json={})
    api.refused(404, "liu", "POST", "/api/extensions/99/deny", json={})
    again = api.ok("rc2", "POST", f"/api/issues/{i}/extensions",
                   json={"to": "2020-11-06", "reason": "more rain"})
    assert api.ok("wang", "POST", f"/api/extensions/{again['id']}/deny",
                  json={"note": "no"})["status"] == "denied"


def test_escalations_after_a_sweep_are_recorded_and_decided(api: Api) -> None:
    i = _studied(api)
    late = "2020-12-01T09:00"
    supervision.escalate(api.app.session(at=town(late)))
    api.at(late)
    board = api.ok("liu", "GET", "/api/escalations", params={"open": "true"})
    assert {e["level"] for e in board} >= {"interview", "accountability"}
    assert all(e["issue"] == i for e in board)
    [interview] = api.ok("liu", "GET", "/api/escalations",
                         params={"open": "true", "level": "interview"})
    assert api.ok("liu", "GET", "/api/escalations", params={"to": "ghost"}) == []
    api.refused(403, "rc1", "POST", f"/api/escalations/{interview['id']}/record",
                json={"note": "talked"})
    recorded = api.ok("liu", "POST", f"/api/escalations/{interview['id']}/record",
                      json={"note": "talked it over", "with": ["chen", "rc2"]})
    assert recorded["status"] == "recorded"
    api.refused(409, "liu", "POST", f"/api/escalations/{interview['id']}/record",
                json={"note": "again"})
    [case] = api.ok("wang", "GET", "/api/escalations",
                    params={"open": "true", "level": "accountability"})
    api.refused(422, "wang", "POST", f"/api/escalations/{case['id']}/decide",
                json={"note": "n", "outcome": "hang"})
    decided = api.ok("wang", "POST", f"/api/escalations/{case['id']}/decide",
                     json={"note": "a talk", "outcome": "talk", "subjects": ["rc2"]})
    assert decided["status"] == "decided"
    kinds = [e["type"] for e in api.ok("wang", "GET", f"/api/issues/{i}/history")]
    assert "interview_recorded" in kinds and "accountability_decided" in kinds


def test_audit_verify_and_replay(api: Api) -> None:
    i = _studied(api)
    verdict = api.ok("qs2", "GET", "/api/audit/verify")
    assert verdict["ok"] is True and verdict["issues"] == 1 and verdict["drill"] is True
    assert verdict["events"] >= 3 and verdict["head"]
    before = api.ok("qs2", "GET", "/api/audit/replay", params={"as_of": "2020-09-29"})
    assert [(x["id"], x["state"]) for x in before] == [(i, "found")]
    assert before[0]["open_escalations"] == [] and "backdated_events" in before[0]
    now = api.ok("qs2", "GET", "/api/audit/replay", params={"as_of": "2020-10-10T12:00"})
    assert [x["state"] for x in now] == ["studied"]
    assert api.ok("qs2", "GET", "/api/audit/replay", params={"as_of": "2020-01-01"}) == []


def test_the_openapi_description_names_every_endpoint(api: Api) -> None:
    with api.client() as c:
        spec = c.get("/api/openapi.json").json()
    paths = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert paths == {
        ("/api/login", "post"), ("/api/me", "get"), ("/api/issues", "get"),
        ("/api/issues", "post"), ("/api/issues/{issue_id}", "get"),
        ("/api/issues/{issue_id}/moves", "post"), ("/api/issues/{issue_id}/history", "get"),
        ("/api/evidence/{sha256}", "get"), ("/api/issues/{issue_id}/extensions", "post"),
        ("/api/extensions/{extension_id}/approve", "post"),
        ("/api/extensions/{extension_id}/deny", "post"), ("/api/escalations", "get"),
        ("/api/escalations/{escalation_id}/record", "post"),
        ("/api/escalations/{escalation_id}/decide", "post"), ("/api/audit/verify", "get"),
        ("/api/audit/replay", "get")}
    moves = spec["paths"]["/api/issues/{issue_id}/moves"]["post"]["requestBody"]["content"]
    assert set(moves) == {"application/json", "multipart/form-data"}


# --- the OpenAPI description, tried by schemathesis ----------------------------------------
def test_schemathesis_finds_no_server_error_and_responses_match_the_description(
        api: Api) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    for _ in range(2):
        api.add()
    spec = api.http.get("/api/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    headers = {"Authorization": f"Bearer {api.tokens['wang']}"}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 16

    for operation in operations:
        if operation.path == "/api/login":
            continue  # failed sign-ins would lock the test's address out

        @settings(max_examples=10, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def tried(case: Any) -> None:
            response = case.call(base_url=api.base, headers=headers)
            case.validate_response(response, checks=checks)

        tried()


def test_a_page_form_keeps_its_photos_too(api: Api) -> None:
    """The pages share the uploads with the API (engine.web.uploads)."""
    i = _studied(api)
    api.at("2020-10-12T10:00")
    signed = accounts.sign_in(api.app.session(), "rc2", PASSWORD, "127.0.0.1")
    with httpx.Client(base_url=api.base, cookies={"rectify_session": signed.token}) as c:
        r = c.post(f"/issues/{i}/move",
                   data={"csrf": signed.csrf, "transition": "rectify", "note": "done"},
                   files=[("evidence", ("roof.jpg", b"\xff\xd8 a roof", "image/jpeg"))])
    assert r.status_code == 303, r.text
    [event] = api.ok("wang", "GET", f"/api/issues/{i}/history")[-1:]
    assert event["channel"] == "web" and event["transition"] == "rectify"
    assert [e["name"] for e in event["payload"]["evidence"]] == ["roof.jpg"]
