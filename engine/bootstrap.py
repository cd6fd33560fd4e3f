"""The composition root: the one place that wires the store, the evidence folder, the clock
and the notification configuration into an `App`.

The CLI, `serve`, the demo, the tests and the benchmarks all start here:

    app = build("sqlite:///rectify.db")
    s = app.session(actor="sa1")                 # one command: who, and when (--now)
    issue = issues.add(s, NewIssue(...))         # engine.app handlers take the session

Nothing here opens a connection: the store connects on a session's first transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.app.session import App
from engine.clock import Clock, SystemClock
from engine.store.db import data_dir_for, make_engine
from engine.store.unit_of_work import Store

if TYPE_CHECKING:
    from notifications.config import Config


def build(db_url: str, config: Path | Config | None = None, data_dir: Path | None = None,
          clock: Clock | None = None) -> App:
    """An App on the database at `db_url` (sqlite:///FILE or postgresql://…).

    `config`: the notification configuration, or the path of its TOML file (None: the
    RECTIFY_CONFIG file, ./rectify.toml, or console only), read when first needed.
    `data_dir`: where evidence files are kept (default: beside the SQLite file).
    `clock`: the rules' clock when a session gives no moment (default: the system's).
    """
    store = Store(make_engine(db_url))
    given = None if config is None or isinstance(config, Path) else config
    return App(store=store, data_dir=data_dir or data_dir_for(db_url),
               clock=clock or SystemClock(),
               config_path=config if isinstance(config, Path) else None, config_given=given)
