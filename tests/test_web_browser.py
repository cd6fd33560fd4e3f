"""The web workspace in a real browser: Playwright driving Debian's chromium (never a
downloaded browser). Skipped, visibly, where no chromium is installed.

One drill database of the small org, served by `create_app` with uvicorn on a free loopback
port; people sign in in turn and walk an issue through every stage with photos. Screenshots of
every page at 1280×800 and 390×844 go to tests/artifacts/ (RECTIFY_ARTIFACTS to change).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.app import accounts, supervision
from engine.bootstrap import build
from engine.clock import DrillClock
from engine.domain.accounts import CHEAP
from engine.domain.issue import Move, NewIssue
from tests.support import CHROMIUM, Scenario, free_port, write_org

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium")

PASSWORD = "browser-test-1"
PEOPLE = ("wang", "liu", "sa1", "rc1", "rc2", "qs1", "iv1", "chen")
START = datetime(2020, 10, 20, 9, 0)
"""The drill's town time when the browser arrives (a Tuesday)."""
TZ = ZoneInfo("Asia/Shanghai")
ARTIFACTS = Path(os.environ.get("RECTIFY_ARTIFACTS")
                 or Path(__file__).resolve().parent / "artifacts")
SIZES = ((1280, 800), (390, 844))
# the smallest PNG: one white pixel
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108020000009077"
    "53de0000000c4944415408d763f8ffff3f0005fe02fea7d69f6a0000000049454e44ae426082")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The workspace on a fresh drill database of the small org; an overdue issue of 石板村
    whose interview is open."""
    import uvicorn

    from engine.web.app import create_app

    folder = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{folder / 'web.db'}"
    app = replace(build(url, data_dir=folder / "data"), account_policy=CHEAP)
    play = Scenario(app, "wang", START - timedelta(days=22))
    play.init(write_org(folder / "org.yaml"))
    for pid in PEOPLE:
        accounts.set_password(play.session(), pid, PASSWORD)
    # an issue studied three weeks ago, its deadline long past: the sweep asks for an interview
    play.actor = "sa1"
    late = play.add_issue(NewIssue(title="危房未改造", category="housing_safety",
                                   village="v-shiban"))
    play.move(Move(issue_id=late.id, transition="report"))
    play.actor, play.now = "rc1", START - timedelta(days=21)
    play.move(Move(issue_id=late.id, transition="study", plan="加固", assignee="rc2",
                   due=date(2020, 9, 30)))
    play.actor, play.now = None, START
    supervision.escalate(play.session())
    web_app = replace(app, clock=DrillClock(START.replace(tzinfo=TZ)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(web_app), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield {"base": f"http://127.0.0.1:{port}", "late": late.id, "folder": folder}
    finally:
        server.should_exit = True
        thread.join(10)
        app.close()


class Visit:
    """One person's browser tab: signs in, goes places, takes the screenshots."""

    def __init__(self, browser: Any, site: dict[str, Any], phone: bool = False) -> None:
        self.base = site["base"]
        width, height = SIZES[1] if phone else SIZES[0]
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           locale="zh-CN")
        self.page = self.context.new_page()
        self.dialogs: list[str] = []

        def opened(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", opened)

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def sign_in(self, who: str, password: str = PASSWORD) -> None:
        self.go("/login")
        self.page.fill("input[name=who]", who)
        self.page.fill("input[name=password]", password)
        self.page.click("form[action='/login'] button")

    def shoot(self, name: str) -> None:
        """The page as it is, at a desk's size and a phone's."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        keep = self.page.viewport_size
        for width, height in SIZES:
            self.page.set_viewport_size({"width": width, "height": height})
            self.page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        self.page.set_viewport_size(keep)

    def text(self, selector: str = "main") -> str:
        found: str = self.page.inner_text(selector)
        return found

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Any, site: dict[str, Any]) -> Iterator[Any]:
    opened: list[Visit] = []

    def open_as(who: str | None = None, phone: bool = False) -> Visit:
        v = Visit(browser, site, phone)
        opened.append(v)
        if who is not None:
            v.sign_in(who)
        return v

    yield open_as
    for v in opened:
        assert v.dialogs == [], v.dialogs
        v.close()


def _photo(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(PNG)
    return path


def test_an_issue_through_every_stage_by_each_role(visit: Any, tmp_path: Path) -> None:
    sa = visit("sa1")
    assert "我的待办" in sa.text("header")
    sa.shoot("queue")
    sa.go("/issues/new")
    sa.shoot("new-issue")
    sa.page.fill("input[name=title]", "王某某户房屋漏雨")
    sa.page.select_option("select[name=village]", "v-shiban")
    sa.page.select_option("select[name=category]", "housing_safety")
    sa.page.fill("input[name=household]", "王某某")
    sa.page.click("form[action='/issues/new'] button.primary")
    assert "/issues/" in sa.page.url
    issue_path = sa.page.url.removeprefix(sa.base)
    assert "发现" in sa.text("#state")
    sa.page.click("#move-report button.primary")
    assert "上报" in sa.text("#state")
    sa.shoot("issue-reported")
    sa.close()

    rc1 = visit("rc1")
    rc1.go(issue_path)
    rc1.page.fill("#move-study textarea[name=plan]", "更换屋面瓦")
    rc1.page.select_option("#move-study select[name=assignee]", "rc2")
    rc1.page.fill("#move-study input[name=due]", "2020-10-30")
    rc1.page.click("#move-study button.primary")
    assert "研究" in rc1.text("#state")
    assert "整改二" in rc1.text("dl.fields")
    rc1.close()

    rc2 = visit("rc2")
    assert "王某某户房屋漏雨" in rc2.text()  # in the assignee's queue
    rc2.go(issue_path)
    rc2.page.fill("#move-rectify textarea[name=note]", "屋面已更换")
    rc2.page.set_input_files("#move-rectify input[name=evidence]",
                             str(_photo(tmp_path, "new-roof.png")))
    rc2.page.click("#move-rectify button.primary")
    assert rc2.page.locator("#refused").count() == 0, rc2.text("#refused")
    assert "整改" in rc2.text("#state")
    assert rc2.page.locator(".thumb img").count() == 1
    rc2.close()

    qs = visit("qs1")
    qs.go(issue_path)
    qs.page.fill("#move-verify textarea[name=note]", "现场查看合格")
    qs.page.set_input_files("#move-verify input[name=evidence]",
                            str(_photo(tmp_path, "inspection.png")))
    qs.page.click("#move-verify button.primary")
    assert "验收" in qs.text("#state")
    assert qs.page.locator(".thumb img").count() == 2
    qs.close()

    wang = visit("wang")
    wang.go(issue_path)
    wang.page.click("#move-clear button.primary")
    assert "销号" in wang.text("#state")
    timeline = wang.text("ol.timeline")
    for who in ("自查一", "整改一", "整改二", "督查一", "王书记"):
        assert who in timeline
    wang.shoot("issue-cleared")


def test_an_issue_fixed_on_the_spot_with_a_photo(visit: Any, tmp_path: Path) -> None:
    sa = visit("sa1", phone=True)
    sa.go("/issues/new")
    sa.page.fill("input[name=title]", "帮扶手册填写不规范")
    sa.page.select_option("select[name=village]", "c-jiezi")
    sa.page.select_option("select[name=category]", "other")
    sa.page.check("#fix")
    sa.page.fill("fieldset textarea[name=note]", "现场已补填")
    sa.page.set_input_files("fieldset input[name=evidence]",
                            str(_photo(tmp_path, "手册.png")))
    sa.page.click("form[action='/issues/new'] button.primary")
    assert "整改" in sa.text("#state")
    assert sa.page.locator(".thumb img").count() == 1
    assert "立行立改" in sa.text("ol.timeline")
    sa.shoot("issue-fixed")


def test_a_script_in_a_title_stays_text(visit: Any) -> None:
    sa = visit("sa1")
    title = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    sa.go("/issues/new")
    sa.page.fill("input[name=title]", title)
    sa.page.select_option("select[name=village]", "c-jiezi")
    sa.page.select_option("select[name=category]", "other")
    sa.page.click("form[action='/issues/new'] button.primary")
    assert title in sa.text("h1")
    sa.go("/ledger")
    assert title in sa.text("table.ledger")
    sa.go("/")
    sa.page.wait_for_timeout(200)
    assert sa.dialogs == []  # the fixture asserts it again at the end


def test_the_wrong_role_is_refused_in_words(visit: Any, site: dict[str, Any]) -> None:
    sa = visit("sa1")
    sa.go("/issues/new")
    sa.page.fill("input[name=title]", "饮水管道破损")
    sa.page.select_option("select[name=village]", "v-shiban")
    sa.page.select_option("select[name=category]", "drinking_water")
    sa.page.click("form[action='/issues/new'] button.primary")
    issue_path = sa.page.url.removeprefix(sa.base)
    sa.close()

    chen = visit("chen")  # the village secretary may not study a reported issue
    chen.go(issue_path)
    assert chen.page.locator("#move-report").count() == 0
    csrf = chen.page.locator("input[name=csrf]").first.get_attribute("value")
    answer = chen.page.request.post(chen.base + issue_path + "/move", multipart={
        "csrf": csrf or "", "transition": "report"})
    assert answer.status in (403, 409)
    chen.page.set_content(answer.text())
    assert chen.page.locator("[role=alert]").inner_text().strip()
    chen.go(issue_path)
    assert "发现" in chen.text("#state")  # nothing changed

    no_token = chen.page.request.post(chen.base + issue_path + "/move", multipart={
        "transition": "report"})
    assert no_token.status == 403

    board = visit("chen")
    board.go("/board")
    assert board.page.locator("#listing-v-shiban").count() == 0  # no switch offered
    csrf = board.page.locator("input[name=csrf]").first.get_attribute("value")
    listed = board.page.request.post(board.base + "/villages/v-shiban/listing",
                                     form={"csrf": csrf or "", "listed": "1"})
    assert listed.status == 403  # only the party secretary lists a village
    board.page.set_content(listed.text())
    assert board.page.locator("[role=alert]").inner_text().strip()


def test_five_wrong_passwords_lock_the_account(visit: Any) -> None:
    v = visit()
    for _ in range(5):
        v.sign_in("iv1", "not the password")
        assert v.page.locator("[role=alert]").count() == 1
    v.sign_in("iv1")
    assert "locked" in v.text("[role=alert]")
    assert v.page.url.endswith("/login")
    v.shoot("login-locked")


def test_the_liaison_leader_records_the_interview_on_a_phone(visit: Any,
                                                             site: dict[str, Any]) -> None:
    liu = visit("liu", phone=True)
    assert "危房未改造" in liu.text()  # the interview waits in his queue
    liu.go("/board")
    liu.shoot("board")
    [case] = liu.page.locator("#cases .case:has(form[id^=record-])").all()
    assert "约谈" in case.inner_text()
    case.locator("textarea[name=note]").fill("已约谈责任人，限期三日")
    case.locator("button.primary").click()
    assert liu.page.locator("#refused").count() == 0, liu.text("#refused")
    assert liu.page.locator("#done").count() == 1
    assert liu.page.locator("#cases form[id^=record-]").count() == 0
    assert "超期" in liu.text("#overdue")
    liu.go(f"/issues/{site['late']}")
    assert "约谈" in liu.text("ol.timeline")
    liu.shoot("issue-late")


def test_the_ledger_and_audit_on_a_phone(visit: Any) -> None:
    wang = visit("wang", phone=True)
    wang.go("/ledger")
    assert "台账" in wang.text("h1")
    assert wang.page.evaluate("document.documentElement.scrollWidth") <= 390
    wang.shoot("ledger")
    wang.go("/audit")
    assert wang.page.locator("#verdict").count() == 0  # the whole chain only when asked
    wang.page.click("#verify-form button")
    assert "完好" in wang.text("#verdict")
    yesterday = (START.date() - timedelta(days=1)).isoformat()
    assert wang.page.input_value("input[name=as_of]") == yesterday
    wang.page.click("#replay button")
    assert "截至" in wang.text("#replayed")
    assert "危房未改造" in wang.text("#replay")
    wang.page.select_option("#person select[name=person]", "rc1")
    wang.page.click("#person button")
    assert "整改一" in wang.text("#report")
    wang.shoot("audit")
    answer = wang.page.request.get(wang.base + "/audit/export.csv")
    assert answer.status == 200 and "危房未改造" in answer.text()
    wang.go("/account")
    wang.shoot("account")
