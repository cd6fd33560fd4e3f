"""The web workspace's pages, through HTTP in this process (FastAPI's TestClient): sign-in and
its cookie, CSRF on every form, actions through the same handlers as the CLI (channel `web`, the
signed-in person), refusals shown in words with nothing changed, names and Chinese labels,
inert markup in data, the language switch, session expiry. The real browser's scenario is
tests/test_web_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.app import accounts, extensions, issues
from engine.clock import DrillClock
from engine.domain.accounts import CHEAP
from engine.domain.issue import Move, NewIssue
from engine.web.app import create_app
from tests.support import Scenario, scenario

START = datetime(2020, 9, 28, 1, 0, tzinfo=UTC)  # 09:00 town time, a Monday
PASSWORD = "correct horse 2020"


class Clock:
    """A clock the test moves."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def town(sqlite_url: str, org_file: Path, tmp_path: Path) -> Iterator[Scenario]:
    s = scenario(sqlite_url, tmp_path / "data", actor="wang", now=START)
    s.init(org_file)
    s.app.account_policy = CHEAP
    s.app.clock = DrillClock(START + timedelta(hours=1))
    for person in ("sa1", "rc1", "rc2", "wang", "qs1", "liu"):
        accounts.set_password(s.app.session(), person, PASSWORD)
    yield s
    s.store.close()


def client(town: Scenario) -> TestClient:
    return TestClient(create_app(town.app), follow_redirects=False)


def signed_in(town: Scenario, who: str) -> TestClient:
    c = client(town)
    r = c.post("/login", data={"who": who, "password": PASSWORD, "next": "/"})
    assert r.status_code == 303, r.text
    return c


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def reported(town: Scenario, title: str = "房屋漏雨") -> int:
    s = town.app.session("sa1", START)
    issue = issues.add(s, NewIssue(title=title, category="housing_safety", village="v-shiban"))
    issues.move(town.app.session("sa1", START + timedelta(minutes=5)),
                Move(issue_id=issue.id, transition="report"))
    return issue.id


def test_sign_in_sets_a_session_cookie_that_scripts_cannot_read(town: Scenario) -> None:
    c = client(town)
    assert c.get("/").status_code == 303  # signed out: to the sign-in page
    wrong = c.post("/login", data={"who": "rc1", "password": "nope-nope-nope"})
    assert wrong.status_code == 401 and "姓名或密码不对" in wrong.text
    r = c.post("/login", data={"who": "整改一", "password": PASSWORD, "next": "/ledger"})
    assert r.status_code == 303 and r.headers["location"] == "/ledger"
    cookie = r.headers["set-cookie"]
    assert "rectify_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie
    page = c.get("/")
    assert page.status_code == 200 and "我的待办" in page.text and "整改一" in page.text


def test_an_open_redirect_after_sign_in_goes_home(town: Scenario) -> None:
    r = client(town).post("/login", data={"who": "rc1", "password": PASSWORD,
                                          "next": "//evil.example/x"})
    assert r.headers["location"] == "/"


def test_the_queue_lists_what_the_stage_owner_must_do(town: Scenario) -> None:
    i = reported(town)
    rc1 = signed_in(town, "rc1").get("/").text  # the rectification leader owns *reported*
    assert f"/issues/{i}" in rc1 and "房屋漏雨" in rc1
    sa1 = signed_in(town, "sa1").get("/").text
    assert f"/issues/{i}" not in sa1


def test_the_ledger_shows_names_and_chinese_labels_not_ids(town: Scenario) -> None:
    reported(town)
    page = signed_in(town, "wang").get("/ledger").text
    assert "石板村" in page and "上报" in page and "住房安全" in page
    assert not re.search(r">\s*(v-shiban|housing_safety|reported)\s*<", page)
    english = signed_in(town, "wang")
    english.cookies.set("rectify_lang", "en")
    assert "housing safety" in english.get("/ledger").text


def test_a_move_needs_the_csrf_token_and_changes_nothing_without_it(town: Scenario) -> None:
    i = reported(town)
    c = signed_in(town, "rc1")
    form = {"transition": "study", "plan": "修屋面", "assignee": "rc2", "due": "2020-10-09"}
    r = c.post(f"/issues/{i}/move", data=form)
    assert r.status_code == 403 and "页面已过期，请刷新后重试" in r.text
    assert issues.show(town.app.session(), i).state == "reported"
    token = csrf_of(c.get(f"/issues/{i}").text)
    r = c.post(f"/issues/{i}/move", data={**form, "csrf": token})
    assert r.status_code == 303, re.findall(r'role="alert"[^<]*', r.text)
    moved = issues.show(town.app.session(), i)
    assert (moved.state, moved.assignee) == ("studied", "rc2")
    last = issues.history(town.app.session(), i)[-1]
    assert (last.actor, last.payload["via"]["channel"]) == ("rc1", "web")


def test_the_page_offers_only_what_the_person_may_do_and_shows_a_refusal(town: Scenario
                                                                         ) -> None:
    i = reported(town)
    sa1 = signed_in(town, "sa1")
    page = sa1.get(f"/issues/{i}").text
    assert 'id="move-study"' not in page  # studying is the rectification group's
    r = sa1.post(f"/issues/{i}/move", data={"csrf": csrf_of(page), "transition": "study",
                                             "plan": "x", "assignee": "rc2",
                                             "due": "2020-10-09"})
    assert r.status_code == 403 and 'role="alert"' in r.text
    assert issues.show(town.app.session(), i).state == "reported"
    rc1 = signed_in(town, "rc1")
    page = rc1.get(f"/issues/{i}").text
    assert 'id="move-study"' in page
    r = rc1.post(f"/issues/{i}/move", data={"csrf": csrf_of(page), "transition": "study",
                                             "plan": "修", "assignee": "rc2",
                                             "due": "2021-03-01"})  # beyond the stage's cap
    assert r.status_code == 409 and 'id="refused"' in r.text
    assert issues.show(town.app.session(), i).state == "reported"


def test_markup_in_a_title_is_shown_as_text(town: Scenario) -> None:
    i = reported(town, title="<script>alert(1)</script>")
    c = signed_in(town, "wang")
    for path in (f"/issues/{i}", "/ledger"):
        page = c.get(path).text
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_new_issue_with_a_photo_fixed_on_the_spot(town: Scenario) -> None:
    c = signed_in(town, "sa1")
    token = csrf_of(c.get("/issues/new").text)
    r = c.post("/issues/new", data={"csrf": token, "title": "路灯损坏", "village": "v-shiban",
                                    "category": "other", "fix": "on", "note": "已更换灯泡"},
               files={"evidence": ("修好了.png", b"\x89PNG\r\n\x1a\nfake", "image/png")})
    assert r.status_code == 303
    i = int(r.headers["location"].rsplit("/", 1)[1])
    assert issues.show(town.app.session(), i).state == "rectified"
    page = c.get(f"/issues/{i}").text
    assert "修好了.png" in page and "立行立改" in page
    sha = re.search(r"/evidence/([0-9a-f]{64})", page)
    assert sha is not None
    photo = c.get(f"/evidence/{sha.group(1)}", params={"name": "修好了.png"})
    assert photo.status_code == 200 and photo.content == b"\x89PNG\r\n\x1a\nfake"


def test_a_session_ends_when_idle_and_on_sign_out(town: Scenario) -> None:
    clock = Clock(datetime.now(UTC))
    town.app.account_clock = clock
    c = signed_in(town, "rc1")
    assert c.get("/").status_code == 200
    clock.at += timedelta(hours=3)  # past the idle end
    assert c.get("/").status_code == 303
    c = signed_in(town, "rc1")
    token = csrf_of(c.get("/").text)
    assert c.post("/logout", data={"csrf": token}).status_code == 303
    assert c.get("/").status_code == 303


def studied(town: Scenario) -> int:
    i = reported(town)
    issues.move(town.app.session("rc1", START + timedelta(minutes=10)),
                Move(issue_id=i, transition="study", plan="修屋面", assignee="rc2",
                     due=datetime(2020, 10, 16).date()))
    return i


def test_extension_asked_and_decided_reassign_and_edit_from_the_issue_page(
        town: Scenario) -> None:
    i = studied(town)
    rc2 = signed_in(town, "rc2")  # the assignee may ask for more time
    page = rc2.get(f"/issues/{i}").text
    assert 'id="act-extend"' in page and 'id="act-reassign"' not in page
    r = rc2.post(f"/issues/{i}/extend", data={"csrf": csrf_of(page), "to": "2020-10-23",
                                               "reason": "材料未到"})
    assert r.status_code == 303
    wang = signed_in(town, "wang")  # the party secretary decides it, reassigns, corrects
    page = wang.get(f"/issues/{i}").text
    assert 'id="act-decide-extension"' in page and "材料未到" in page
    [x] = extensions.listing(town.app.session(), i, pending_only=True)
    r = wang.post(f"/extensions/{x.id}/decide", data={"csrf": csrf_of(page), "issue": str(i),
                                                     "decision": "approve", "note": "同意"})
    assert r.status_code == 303
    assert extensions.listing(town.app.session(), i)[0].status == "approved"
    r = wang.post(f"/issues/{i}/reassign", data={"csrf": csrf_of(page), "to": "chen",
                                                  "reason": "调岗"})
    assert r.status_code == 303 and issues.show(town.app.session(), i).assignee == "chen"
    r = wang.post(f"/issues/{i}/reassign", data={"csrf": csrf_of(page), "to": "chen",
                                                  "reason": "again"})
    assert r.status_code == 409 and 'id="refused"' in r.text  # already the assignee
    page = wang.get(f"/issues/{i}").text
    r = wang.post(f"/issues/{i}/edit", data={
        "csrf": csrf_of(page), "title": "屋面漏雨", "village": "v-shiban",
        "category": "housing_safety", "severity": "high", "household": "", "group": "",
        "description": "", "reason": "录错"})
    assert r.status_code == 303
    edited = issues.show(town.app.session(), i)
    assert (edited.title, edited.severity) == ("屋面漏雨", "high")
    last = issues.history(town.app.session(), i)[-1]
    assert set(last.payload["changes"]) == {"title", "severity"}  # nothing else touched
    history = wang.get(f"/issues/{i}").text
    assert "改派：整改二 → 陈支书" in history and "更正：" in history


def test_the_ledger_pages_and_filters_in_the_database(town: Scenario) -> None:
    s = town.app.session("sa1", START)
    for n in range(55):
        issues.add(s, NewIssue(title=f"问题{n:02d}", village="v-shiban" if n % 5 else "c-jiezi",
                               category="food" if n % 2 else "other", listed=n == 7))
    c = signed_in(town, "wang")

    def rows(query: str) -> list[str]:
        return re.findall(r'<a href="/issues/\d+">(问题\d\d)</a>', c.get("/ledger" + query).text)

    assert rows("") == [f"问题{n:02d}" for n in range(50)]
    page2 = c.get("/ledger?page_no=2").text
    assert "第 2/2 页" in page2 and "共 55 个问题" in page2
    assert rows("?page_no=2") == [f"问题{n:02d}" for n in range(50, 55)]
    assert rows("?page_no=9") == rows("?page_no=2")  # past the end: the last page
    assert rows("?village=c-jiezi&category=other") == [f"问题{n:02d}" for n in range(0, 55, 10)]
    assert rows("?listed=1") == ["问题07"]
    assert rows("?q=问题5") == [f"问题{n:02d}" for n in range(50, 55)]
    assert len(rows("?light=green")) == 50 and rows("?light=red") == []


def test_the_board_offers_forms_to_who_may_act_and_ticks_among_the_village(
        town: Scenario) -> None:
    from engine.app import supervision

    i = reported(town)
    supervision.escalate(town.app.session(None, datetime(2020, 10, 20, 1, 0, tzinfo=UTC)))
    liu = signed_in(town, "liu").get("/board").text  # the liaison leader holds interviews
    form = re.search(r'<form method="post" action="/escalations/(\d+)/record".*?</form>', liu,
                     re.S)
    assert form is not None and f"/issues/{i}" in liu
    ticks = re.findall(r'name="with" value="([^"]+)"( checked)?', form.group(0))
    assert ticks[0] == ("rc1", " checked")  # the owner of *reported*, ticked
    assert 1 < len(ticks) < 12 and "sa1" not in [p for p, _ in ticks]
    assert 'id="listing-v-shiban"' not in liu  # listing is the party secretary's
    sa1 = signed_in(town, "sa1").get("/board").text
    assert 'action="/escalations/' not in sa1 and "由刘镇长办理" in sa1
    assert 'id="listing-v-shiban"' in signed_in(town, "wang").get("/board").text


def test_a_fix_refused_after_the_issue_was_added_is_said_on_its_page(town: Scenario) -> None:
    c = signed_in(town, "sa1")
    token = csrf_of(c.get("/issues/new").text)
    r = c.post("/issues/new", data={"csrf": token, "title": "路灯损坏", "village": "v-shiban",
                                    "category": "other", "fix": "on", "note": "已更换"})
    assert r.status_code == 409  # fix needs evidence: the issue stands, found, and says so
    assert "办理“立行立改”需要填写：佐证" in r.text and 'id="state"' in r.text
    [made] = issues.listing(town.app.session())
    assert made.state == "found"
    assert c.get(f"/issues/{made.id}?refused=call+this+number").text.count("call this") == 0
