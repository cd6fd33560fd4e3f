"""The charts of the board and the ledger page (看板图表): `GET /charts.json`, the numbers of
engine.app.charts with the reader's words (villages by name, stages and lights by their
labels). static/charts.js fetches it after the page has loaded and draws it with the vendored
Apache ECharts: a page itself costs no more for its charts, and a chart's text never enters
the page's HTML.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from engine.app import charts
from engine.app.session import Session
from engine.domain.text import visible
from engine.web.auth import caller
from engine.web.render import words
from engine.words import Words

router = APIRouter(include_in_schema=False)


@router.get("/charts.json")
def charts_json(request: Request) -> JSONResponse:
    """The charts' numbers for the signed-in reader (static/charts.js fetches them)."""
    c = caller(request, "web")
    return JSONResponse(chart_data(c.session, words(request, c.session)),
                        headers={"Cache-Control": "no-store"})

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
