"""The web workspace: the product's main door (FastAPI, pages rendered on the server with
Jinja2, a JSON API under /api). Every action goes through the same application handlers as
the CLI (engine.app), in a session of the signed-in person with channel `web` or `api`.

    app.py      create_app(App) → the ASGI application; errors → pages or JSON
    auth.py     who a request is from: the session cookie (with CSRF on every form) or a
                bearer token; sign-in and sign-out
    pages.py    the pages people use (my queue, ledger, an issue, new issue, board, audit)
    api.py      the JSON API (/api, OpenAPI at /api/openapi.json)
    view.py     what pages show of issues: names, labels, lights, due moments (engine.words)
"""
