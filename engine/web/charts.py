"""The charts of the board and the ledger page (看板图表): `GET /charts.json`, the numbers of
engine.app.charts with the reader's words (villages by name, stages and lights by their
labels). static/charts.js fetches it after the page has loaded and draws it with the vendored
Apache ECharts: a page itself costs no more for its charts, and a chart's text never enters
the page's HTML.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from engine.app import charts, stats
from engine.app.session import Session
from engine.domain.text import visible
from engine.web.auth import caller
from engine.web.render import words
from engine.words import Words

router = APIRouter(include_in_schema=False)


@router.get("/charts.json")
def charts_json(request: Request, scoreboard: int = 0) -> JSONResponse:
    """The charts' numbers for the signed-in reader (static/charts.js fetches them); with
    `scoreboard=1` (the board) the villages' scoreboard too."""
    c = caller(request, "web")
    w = words(request, c.session)
    data = chart_data(c.session, w)
    if scoreboard:
        data["scoreboard"] = scoreboard_data(c.session, w)
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


def scoreboard_data(s: Session, w: Words) -> dict[str, Any]:
    """The villages ranked by the assessment formula (engine.domain.stats), best first, with
    the moment they were counted at (kept a minute: engine.app.stats.scoreboard_kept)."""
    moment, scores = stats.scoreboard_kept(s, time.monotonic())
    when = moment.astimezone(s.zone()).strftime("%m-%d %H:%M")
    return {"name": w("chart scoreboard"), "at": w("chart scored at", at=when),
            "villages": [visible(w.village(str(sc.key))) for sc in scores],
            "scores": [sc.score for sc in scores], "ranks": [sc.rank for sc in scores]}

def chart_data(s: Session, w: Words) -> dict[str, Any]:
    """What the three charts draw, read in one transaction."""
    p = charts.pictures(s)
    names = [visible(w.village(v)) for v in p.villages]
    b = p.burndown
    return {
        "empty": w("chart empty"),
        "burndown": {
            "days": [d.isoformat() for d in b.days],
            "open": b.open, "ideal": b.ideal,
            "names": {"open": w("chart open"), "ideal": w("chart ideal")},
        },
        "stages": {
            "villages": names,
            "series": [{"key": st, "name": w.stage(st),
                        "data": [p.by_stage.get(v, {}).get(st, 0) for v in p.villages]}
                       for st in p.stages],
        },
        "lights": {
            "villages": names,
            "series": [{"key": light, "name": w("chart light", light=w.light(light)),
                        "data": [p.by_light.get(v, {}).get(light, 0) for v in p.villages]}
                       for light in charts.LIGHTS],
        },
    }
