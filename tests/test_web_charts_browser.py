"""The charts of the board and the ledger page in a real browser (Playwright driving Debian's
chromium, as tests/test_web_browser.py; skipped, visibly, where none is installed).

A drill town of six villages (one named with markup that tries to end the page's JSON) after
a seeded fortnight's campaign (tests/test_charts.play); the party secretary opens the board
and the ledger at 1280×800 and 390×844: each chart is an SVG with its series drawn and data
in it, nothing fails on the page, and screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.app import accounts
from engine.bootstrap import build
from engine.clock import DrillClock
from engine.domain.accounts import CHEAP
from tests.support import CHROMIUM, SMALL_ORG, Scenario, free_port, write_org
from tests.test_charts import play
from tests.test_web_browser import ARTIFACTS, SIZES

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium")

PASSWORD = "browser-test-1"
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2020, 10, 12, 20, 0)
"""The drill's town time when the browser arrives: the campaign's fifteenth day."""
MARKUP = "</script><img src=x onerror=alert(1)>村"
VILLAGES = {"v-qingshan": "青山村", "v-heba": "河坝村", "v-datian": "大田村",
            "v-markup": MARKUP}
CHARTS = ("burndown", "stages", "lights")


def town_org() -> dict[str, Any]:
    org = copy.deepcopy(SMALL_ORG)
    for k, (vid, name) in enumerate(VILLAGES.items()):
        org["units"].append({"id": vid, "name": name, "kind": "village", "liaison": "liu",
                             "secretary": f"sec{k}"})
        org["people"].append({"id": f"sec{k}", "name": f"支书{k}", "unit": vid})
    return org


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import uvicorn

    from engine.web.app import create_app

    folder = tmp_path_factory.mktemp("charts")
    app = replace(build(f"sqlite:///{folder / 'web.db'}", data_dir=folder / "data"),
                  account_policy=CHEAP)
    play_ = Scenario(app, "wang", datetime(2020, 9, 28, 8))
    play_.init(write_org(folder / "org.yaml", town_org()))
    accounts.set_password(play_.session(), "wang", PASSWORD)
    photo = folder / "photo.jpg"
    photo.write_bytes(b"the new roof")
    play(play_, random.Random(5), range(15), photo, per_day=14,
         villages=("v-shiban", "c-jiezi", *VILLAGES))
    web_app = replace(app, clock=DrillClock(NOW.replace(tzinfo=TZ)))
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
        yield {"base": f"http://127.0.0.1:{port}"}
    finally:
        server.should_exit = True
        thread.join(10)
        app.close()


DRAWN = """el => {
  const chart = echarts.getInstanceByDom(el);
  if (!chart) return null;
  const o = chart.getOption();
  return {series: o.series.map(s => ({name: s.name, n: s.data.length,
                                       sum: s.data.reduce((a, v) => a + (v || 0), 0)})),
          axis: o.xAxis[0].data,
          svg: el.querySelectorAll('svg').length,
          shapes: el.querySelectorAll('svg path, svg rect').length};
}"""


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}" for w, _ in SIZES])
@pytest.mark.parametrize("path", ["/board", "/ledger"])
def test_the_charts_are_drawn(browser: Any, site: dict[str, Any], path: str,
                              size: tuple[int, int]) -> None:
    width, height = size
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    failures: list[str] = []
    dialogs: list[str] = []
    page.on("pageerror", lambda e: failures.append(f"pageerror: {e}"))

    def told(m: Any) -> None:  # the browser's own ask for /favicon.ico (none) aside
        if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico"):
            failures.append(f"console: {m.text} at {m.location}")

    page.on("console", told)

    def opened(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", opened)
    try:
        page.goto(site["base"] + "/login")
        page.fill("input[name=who]", "wang")
        page.fill("input[name=password]", PASSWORD)
        page.click("form[action='/login'] button")
        page.goto(site["base"] + path)
        drawn = CHARTS + (("scoreboard",) if path == "/board" else ())
        page.wait_for_function("() => typeof echarts !== 'undefined' && "
                               "document.querySelectorAll('[data-chart] svg').length === "
                               f"{len(drawn)}")
        data = page.evaluate("() => fetch('/charts.json').then(r => r.json())")
        for kind in drawn:
            got = page.eval_on_selector(f"#chart-{kind}", DRAWN)
            assert got is not None, f"{kind}: no chart"
            assert got["svg"] == 1 and got["shapes"] > 10, (kind, got)
            assert got["series"][0]["n"] > 0 and got["series"][0]["sum"] > 0, (kind, got)
        burndown = page.eval_on_selector("#chart-burndown", DRAWN)
        assert [s["name"] for s in burndown["series"]] == ["未销号", "清零进度线"]
        assert burndown["axis"] == data["burndown"]["days"] and len(burndown["axis"]) == 15
        stages = page.eval_on_selector("#chart-stages", DRAWN)
        assert [s["name"] for s in stages["series"]] == ["发现", "上报", "研究", "整改", "验收"]
        assert MARKUP in stages["axis"] and "石板村" in stages["axis"]  # names, not ids
        lights = page.eval_on_selector("#chart-lights", DRAWN)
        assert [s["name"] for s in lights["series"]] == ["红灯", "黄灯", "绿灯"]
        colours = page.eval_on_selector(
            "#chart-lights", "el => echarts.getInstanceByDom(el).getOption().series"
            ".map(s => s.itemStyle.color)")
        assert colours == ["#c62828", "#f9a825", "#2e7d32"]
        if path == "/board":  # the villages ranked, best first, by name
            ranked = page.eval_on_selector(
                "#chart-scoreboard", "el => echarts.getInstanceByDom(el).getOption()"
                ".yAxis[0].data")
            assert len(ranked) == 6 and ranked[0].startswith("1. ")
            assert any("石板村" in r for r in ranked)
        # the village named with markup is a label, never markup: hover every bar's tooltip
        page.locator("#chart-stages").scroll_into_view_if_needed()
        box = page.locator("#chart-stages").bounding_box()
        for k in range(1, 12):
            page.mouse.move(box["x"] + box["width"] * k / 12, box["y"] + box["height"] * 0.6)
            page.wait_for_timeout(30)
        assert page.locator("img[src=x]").count() == 0
        page.mouse.move(0, 0)  # the tooltip away before the pictures
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = path.strip("/")
        page.screenshot(path=str(ARTIFACTS / f"charts-{name}-{width}.png"), full_page=True)
        page.locator("#charts").screenshot(
            path=str(ARTIFACTS / f"charts-{name}-{width}-charts.png"))
        assert failures == [] and dialogs == []
    finally:
        context.close()


def test_the_charts_follow_the_window_from_desk_to_phone(browser: Any,
                                                          site: dict[str, Any]) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(site["base"] + "/login")
        page.fill("input[name=who]", "wang")
        page.fill("input[name=password]", PASSWORD)
        page.click("form[action='/login'] button")
        page.goto(site["base"] + "/board")
        page.wait_for_function("() => document.querySelectorAll('[data-chart] svg').length"
                               " === 4")
        wide = page.eval_on_selector("#chart-stages svg", "s => s.getBoundingClientRect().width")
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_function("() => document.querySelector('#chart-stages svg')"
                               ".getBoundingClientRect().width < 390")
        rotated = page.eval_on_selector(
            "#chart-stages", "el => echarts.getInstanceByDom(el).getOption()"
            ".xAxis[0].axisLabel.rotate")
        assert wide > 390 and rotated == 45
    finally:
        context.close()
