"""Create or upgrade the schema with Alembic, on a connection the caller holds."""

from __future__ import annotations

from importlib.resources import files

from sqlalchemy.engine import Connection


def upgrade(conn: Connection) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("engine.store").joinpath("migrations")))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def current(conn: Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()
