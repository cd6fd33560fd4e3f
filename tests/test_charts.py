"""The numbers the web workspace's charts draw (engine.app.charts) equal direct counts, on
SQLite and PostgreSQL: the burn-down per town day a count over the history's events, the
stages per village the ledger's counts, the lights per village each open issue's light.

A seeded campaign of a fortnight: issues found in both villages, reported, studied,
rectified, verified, cleared, fixed on the spot, voided and reopened, at times of day that
fall on another UTC day than the town's (early morning, late evening), with sweeps between.
"""

from __future__ import annotations

import random
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine.app import charts, issues
from engine.domain.issue import Move, NewIssue
from engine.errors import RectifyError
from tests.support import Scenario

TZ = ZoneInfo("Asia/Shanghai")
FINAL = ("cleared", "voided")
OPEN_STAGES = ["found", "reported", "studied", "rectified", "verified"]
FIRST_DAY = date(2020, 9, 28)


def play(svc: Scenario, rng: random.Random, days: range, photo: Path, per_day: int = 9,
         villages: tuple[str, ...] = ("v-shiban", "c-jiezi")) -> list[int]:
    """A campaign's days: each day issues added in `villages` and moved along at random
    moments (some before 08:00 town time: the day before in UTC), a sweep at its end; the
    issues' ids."""
    ids: list[int] = []
    for day in days:
        d = FIRST_DAY + timedelta(days=day)
        moments = sorted(rng.sample(range(24 * 60), per_day))
        for minute in moments:
            svc.set_now(datetime.combine(d, time(minute // 60, minute % 60)))
            if not ids or rng.random() < 0.4:
                svc.actor = "sa1"
                village = rng.choice(villages)
                ids.append(svc.add_issue(NewIssue(title="房屋漏雨", category="housing_safety",
                                                  village=village, group="sa-01")).id)
                continue
            issue = svc.show(rng.choice(ids))
            step = _next_step(issue.state, rng, d, photo)
            if step is None:
                continue
            svc.actor, command, files = step
            with suppress(RectifyError):  # a move the rules refuse: nothing changed
                svc.move(Move(issue_id=issue.id, **command), files)
        svc.set_now(datetime.combine(d, time(23, 59)))
        svc.actor = None
        svc.escalate(500)
    return ids


def _next_step(state: str, rng: random.Random, d: date, photo: Path
               ) -> tuple[str, dict[str, Any], list[Path]] | None:
    choices: dict[str, list[tuple[str, dict[str, Any], list[Path]]]] = {
        "found": [("sa1", {"transition": "report"}, []),
                  ("sa1", {"transition": "fix", "note": "当场整改"}, [photo]),
                  ("iv1", {"transition": "void", "reason": "重复"}, [])],
        "reported": [("rc1", {"transition": "study", "plan": "加固", "assignee": "rc2",
                              "due": d + timedelta(days=rng.choice([1, 3, 6]))}, []),
                     ("rc1", {"transition": "study", "plan": "加固", "assignee": "rc2",
                              "due": d + timedelta(days=2)}, [])],
        "studied": [("rc2", {"transition": "rectify", "note": "已整改"}, [photo])],
        "rectified": [("qs1", {"transition": "verify", "note": "合格"}, [])],
        "verified": [("wang", {"transition": "clear"}, [])],
        "cleared": [("qs1", {"transition": "reopen", "reason": "回头看发现反弹"}, [])],
    }
    options = choices.get(state)
    return rng.choice(options) if options else None


def day_end(d: date) -> datetime:
    return datetime.combine(d + timedelta(days=1), time(0), tzinfo=TZ).astimezone(UTC)


def open_at_each_day_end(svc: Scenario, ids: list[int], days: list[date]) -> list[int]:
    """The direct count: for each day, the issues whose last state-setting event before the
    day's end (town time) left them in an open state."""
    events = [e for n in ids for e in svc.history(n) if e.to_state is not None]
    out = []
    for d in days:
        end = day_end(d)
        state: dict[int, str] = {}
        for e in sorted(events, key=lambda e: (e.at, e.issue_id, e.version)):
            if e.at < end:
                state[e.issue_id] = e.to_state or ""
        out.append(sum(1 for s in state.values() if s not in FINAL))
    return out


def test_the_charts_equal_direct_counts(svc: Scenario, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"the new roof")
    rng = random.Random(13)
    ids = play(svc, rng, range(0, 8), photo)
    svc.actor, svc.now = "wang", datetime(2020, 10, 6, 12)  # mid-campaign: a first reading
    early = charts.pictures(svc.session())
    assert early.burndown.days[0] == FIRST_DAY and early.burndown.days[-1] == date(2020, 10, 6)
    ids += play(svc, rng, range(8, 15), photo)
    svc.actor, svc.now = "wang", datetime(2020, 10, 12, 20)
    got = charts.pictures(svc.session())  # the daily changes read since the first reading

    # the burn-down: every day from the first event's to today, each a direct count
    days = [FIRST_DAY + timedelta(days=k) for k in range(15)]
    assert got.burndown.days == days
    assert got.burndown.open == open_at_each_day_end(svc, ids, days)
    assert sum(e.transition == "reopen" for n in ids for e in svc.history(n)) > 0
    assert any(e.transition == "void" for n in ids for e in svc.history(n))
    early_moments = [e.at.astimezone(TZ).hour < 8 for n in ids for e in svc.history(n)
                     if e.to_state is not None]
    assert any(early_moments)  # some days' events fall on the UTC day before
    fresh = Scenario(replace(svc.app, memo={}), "wang", svc.now)
    assert charts.pictures(fresh.session()) == got  # nothing kept: the same numbers
    top = max(n for n in got.burndown.open if n is not None)
    assert got.burndown.ideal[0] == top and got.burndown.ideal[-1] == 0

    # the stages per village: the ledger's counts of the open stages
    assert got.stages == OPEN_STAGES
    ledger = {(v, st): n for v, st, n in issues.summary(svc.session()) if st not in FINAL}
    drawn = {(v, st): n for v, row in got.by_stage.items() for st, n in row.items()}
    assert drawn == ledger and sum(drawn.values()) == got.burndown.open[-1]
    assert got.villages == ["c-jiezi", "v-shiban"]

    # the lights per village: each open issue's light now, counted
    open_issues = [i for i in issues.listing(svc.session()) if i.state not in FINAL]
    lights = issues.lights(svc.session(), open_issues)
    counted: dict[str, dict[str, int]] = {}
    for i in open_issues:
        row = counted.setdefault(i.village, {})
        row[lights[i.id] or ""] = row.get(lights[i.id] or "", 0) + 1
    assert got.by_light == counted
    assert {light for row in counted.values() for light in row} >= {"red", "green"}


def test_the_day_range_and_days_still_to_come(svc: Scenario) -> None:
    svc.actor, svc.now = "sa1", datetime(2020, 9, 28, 10)
    svc.add_issue(NewIssue(title="房屋漏雨", category="housing_safety", village="v-shiban",
                           group="sa-01"))
    svc.now = datetime(2020, 9, 29, 7, 30)  # 28 September in UTC, 29th in the town
    svc.add_issue(NewIssue(title="饮水不稳定", category="drinking_water", village="c-jiezi",
                           group="sa-01"))
    svc.actor, svc.now = "wang", datetime(2020, 9, 30, 9)
    got = charts.pictures(svc.session(), date(2020, 9, 27), date(2020, 10, 3)).burndown
    assert got.days == [date(2020, 9, 27) + timedelta(days=k) for k in range(7)]
    assert got.open == [0, 1, 2, 2, None, None, None]
    assert got.ideal == [2.0, 1.7, 1.3, 1.0, 0.7, 0.3, 0.0]  # from the highest, to zero
    later = charts.pictures(svc.session(), date(2020, 9, 28), date(2020, 10, 1)).burndown
    assert later.open == [1, 2, 2, None] and later.ideal == [2.0, 1.3, 0.7, 0.0]
    assert charts.pictures(svc.session()).burndown.days == [
        date(2020, 9, 28), date(2020, 9, 29), date(2020, 9, 30)]


def test_days_of() -> None:
    today = date(2020, 10, 12)
    assert charts.days_of(None, today) == [today]
    assert charts.days_of(date(2020, 10, 10), today)[0] == date(2020, 10, 10)
    assert charts.days_of(date(2020, 10, 10), today, end=date(2020, 10, 20))[-1] == date(
        2020, 10, 20)
    assert charts.days_of(None, today, start=date(2020, 10, 13)) == []
    long = charts.days_of(date(2000, 1, 1), today)
    assert len(long) == charts.MAX_DAYS and long[-1] == today


def test_an_empty_town_draws_zero(svc: Scenario) -> None:
    svc.actor = "wang"
    got = charts.pictures(svc.session())
    assert got.burndown.open == [0] and got.burndown.ideal == [0.0]
    assert got.by_stage == {} and got.by_light == {}
    assert got.villages == ["c-jiezi", "v-shiban"]


# --- the charts' JSON ------------------------------------------------------------------------
def test_the_pages_fetch_the_numbers_as_json_for_the_signed_in_only(
        db_url: str, tmp_path: Path) -> None:
    import copy

    from fastapi.testclient import TestClient

    from engine.app import accounts
    from engine.domain.accounts import CHEAP
    from engine.domain.text import visible
    from engine.web.app import create_app
    from tests.support import SMALL_ORG, scenario, write_org

    markup = "</script><script>alert(1)</script>&村\u2028"
    org = copy.deepcopy(SMALL_ORG)
    org["units"][0]["name"] = markup
    svc = scenario(db_url, tmp_path / "data", actor="wang", now=datetime(2020, 9, 28, 9))
    try:
        svc.init(write_org(tmp_path / "org.yaml", org))
        svc.app.account_policy = CHEAP
        accounts.set_password(svc.session(), "wang", "correct horse 2020")
        svc.actor = "sa1"
        svc.add_issue(NewIssue(title="房屋漏雨", category="housing_safety", village="v-shiban",
                               group="sa-01"))
        web = TestClient(create_app(svc.app), follow_redirects=False)
        assert web.post("/login", data={"who": "wang", "password": "correct horse 2020"}
                        ).status_code == 303
        for path in ("/board", "/ledger"):
            page = web.get(path).text
            src = "/charts.json?scoreboard=1" if path == "/board" else "/charts.json"
            assert f'data-src="{src}"' in page and "<script>alert(1)" not in page
            assert '<script src="/static/charts.js" defer></script>' in page
        got = web.get("/charts.json")
        assert got.status_code == 200 and got.headers["cache-control"] == "no-store"
        data = got.json()
        assert data["stages"]["villages"] == ["街子社区", visible(markup)]  # the text rule
        assert data["stages"]["series"][0] == {"key": "found", "name": "发现", "data": [0, 1]}
        assert [s["name"] for s in data["lights"]["series"]] == ["红灯", "黄灯", "绿灯"]
        assert data["burndown"]["open"][-1] == 1
        board = web.get("/charts.json?scoreboard=1").json()["scoreboard"]
        assert board["name"] == "各村考核得分（排名）" and board["at"].startswith("统计于 ")
        assert sorted(board["villages"]) == sorted(["街子社区", visible(markup)])
        assert board["ranks"][0] == 1 and board["scores"] == sorted(board["scores"], reverse=True)
        assert "scoreboard" not in data
        signed_out = TestClient(create_app(svc.app), follow_redirects=False).get("/charts.json")
        assert signed_out.status_code in (303, 401) and "stages" not in signed_out.text
        for name, kind in (("echarts.min.js", "javascript"), ("charts.js", "javascript"),
                           ("echarts.LICENSE.txt", "text/plain")):
            got = web.get(f"/static/{name}")
            assert got.status_code == 200 and kind in got.headers["content-type"], name
        sent = web.get("/static/echarts.min.js", headers={"Accept-Encoding": "gzip"})
        assert sent.headers["content-encoding"] == "gzip"
        assert sent.num_bytes_downloaded < len(sent.content) / 2  # raw bytes: gzipped
    finally:
        svc.close()
