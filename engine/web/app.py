"""The ASGI application of the web workspace: `create_app(App)`.

Errors keep the CLI's meaning. The JSON API answers `{"error": "..."}` with 401 (not signed
in), 403 (not permitted), 404 (unknown), 409 (refused by a rule: an invalid transition, a
version conflict, separation of duties, a deadline out of range, …), 422 (malformed) and 429
(an account or address locked out); a page shows the refusal in words and changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from engine.app.session import App
from engine.errors import LockedOut, NotSignedIn, RectifyError
from engine.web.status import status_of

STATIC = Path(__file__).parent / "static"


def create_app(rect: App, secure: bool = False) -> FastAPI:
    """The workspace on the application `rect`; `secure`: cookies only over HTTPS (behind a
    TLS-terminating proxy)."""
    from engine.web import actions, api, charts, leaders, ledger_export, pages

    web = FastAPI(title="rectify", version="0.1.0", openapi_url="/api/openapi.json",
                  docs_url=None, redoc_url=None)
    web.state.rect = rect
    rect.store.release_each = True  # many requests per thread: no thread keeps a connection
    web.state.secure = secure
    # the static files gzipped for a browser that accepts it (ECharts: 1.1 MB, 0.35 MB sent);
    # pages are not (they are small, and their compression would cost every request)
    web.mount("/static", GZipMiddleware(StaticFiles(directory=STATIC), minimum_size=1024),
              name="static")
    web.include_router(api.router)
    web.include_router(pages.router)
    web.include_router(actions.router)
    web.include_router(leaders.router)
    web.include_router(charts.router)
    web.include_router(ledger_export.router)

    @web.exception_handler(RectifyError)
    async def refused(request: Request, e: RectifyError) -> Response:
        if request.url.path.startswith("/api"):
            return JSONResponse({"error": str(e)}, status_code=status_of(e))
        if isinstance(e, NotSignedIn) and not isinstance(e, LockedOut):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return pages.error_page(request, e, status_of(e))

    @web.exception_handler(RequestValidationError)
    async def malformed(request: Request, e: RequestValidationError) -> Response:
        first: Any = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return JSONResponse({"error": f"{where}: {first.get('msg', 'malformed')}".strip(": ")},
                            status_code=422)

    @web.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api"):
            return JSONResponse({"error": str(e.detail)}, status_code=e.status_code,
                                headers=e.headers)
        return await http_exception_handler(request, e)

    @web.exception_handler(Exception)
    async def failed(request: Request, e: Exception) -> Response:
        if request.url.path.startswith("/api"):
            return JSONResponse({"error": "internal error"}, status_code=500)
        return PlainTextResponse("Internal Server Error", status_code=500)

    return web
