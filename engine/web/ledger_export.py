"""The ledger page's export: the same view (its filters) as an Excel workbook or a CSV file,
for a signed-in person (`/ledger/export?format=xlsx&village=…&state=…`)."""

from __future__ import annotations

import tempfile
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from engine import ledger_sheet
from engine.app.charts import LIGHTS
from engine.app.ledger import Narrowed, open_ledger
from engine.errors import BadOption
from engine.web.auth import caller
from engine.web.render import words

router = APIRouter(include_in_schema=False)
MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "csv": "text/csv; charset=utf-8"}


@router.get("/ledger/export")
def export(request: Request, format: str = "xlsx", village: str = "", state: str = "",
           category: str = "", light: str = "", listed: str = "", q: str = "") -> Response:
    c = caller(request, "web")
    s = c.session
    if format not in MEDIA:
        raise BadOption(f"no export as {format[:10]!r} (xlsx or csv)")
    if light and light not in LIGHTS:
        raise BadOption(f"unknown light {light[:10]!r} (red, yellow or green)")
    more = Narrowed(categories=(category,) if category else (), light=light or None,
                    supervised=bool(listed), search=q or None)
    ledger = open_ledger(s, None, (village,) if village else (), (state,) if state else (),
                         more)
    w = words(request, s)
    if format == "csv":
        body = "".join(ledger_sheet.csv_lines(ledger, w)).encode("utf-8")
    else:
        with tempfile.TemporaryFile() as f:
            ledger_sheet.xlsx(ledger, w, f)
            f.seek(0)
            body = f.read()
    day = ledger.moment.astimezone(ledger.tz).strftime("%Y%m%d")
    name = f"{ledger_sheet.title(ledger)}-{day}.{format}"
    return Response(body, media_type=MEDIA[format], headers={
        "content-disposition": f"attachment; filename=\"ledger-{day}.{format}\";"
                               f" filename*=UTF-8''{quote(name)}"})
