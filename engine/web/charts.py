"""The charts of the board and the ledger page (看板图表) as the JSON the page carries: the
numbers of engine.app.charts with the reader's words (villages by name, stages and lights by
their labels). static/charts.js draws them with the vendored Apache ECharts.

The JSON sits in a `<script type="application/json">`: every `<`, `>` and `&` in it is
written as a `\\u` escape, so no text in it (a village named `</script>…`) can end the
element; U+2028 and U+2029 likewise.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from engine.app import charts
from engine.app.session import Session
from engine.domain.text import visible
from engine.words import Words

_UNSAFE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
           0x2028: "\\u2028", 0x2029: "\\u2029"}


def script_json(value: Any) -> Markup:
    """`value` as JSON safe to put between `<script type="application/json">` tags."""
    return Markup(json.dumps(value, ensure_ascii=False, separators=(",", ":"))
                  .translate(_UNSAFE))


def chart_data(s: Session, w: Words) -> Markup:
    """What the three charts draw, read in one transaction, as the page's JSON."""
    p = charts.pictures(s)
    names = [visible(w.village(v)) for v in p.villages]
    b = p.burndown
    return script_json({
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
    })
