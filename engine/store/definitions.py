"""What a town registers at `init`: workflow versions, calendars, and a few settings (meta)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import delete, insert, inspect, select

from engine.errors import VersionConflict
from engine.store import tables as t
from engine.store.repository import Repository


class DefinitionRepository(Repository):
    # --- meta (settings kept in the database) -----------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).first()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(delete(t.meta).where(t.meta.c.key == key))
        self.conn.execute(insert(t.meta).values(key=key, value=value))

    def has_table(self, name: str) -> bool:
        return bool(inspect(self.conn).has_table(name))

    # --- workflows ---------------------------------------------------------------------------
    def workflow_body(self, key: str) -> str | None:
        c = t.workflows.c
        row = self.conn.execute(select(c.body).where(c.key == key)).first()
        return None if row is None else str(row[0])

    def workflow_rows(self) -> list[tuple[str, str, str]]:
        """(key, digest, body) of every registered version."""
        c = t.workflows.c
        q = select(c.key, c.digest, c.body).order_by(c.key)
        return [(str(k), str(d), str(b)) for k, d, b in self.conn.execute(q)]

    def register_workflow(self, key: str, digest: str, body: str, at: datetime) -> None:
        """Register a version; the same version with another body is refused."""
        c = t.workflows.c
        row = self.conn.execute(select(c.digest).where(c.key == key)).first()
        if row is None:
            self.conn.execute(
                insert(t.workflows).values(key=key, digest=digest, body=body, registered_at=at))
        elif row[0] != digest:
            raise VersionConflict(f"workflow {key} is already registered with different"
                                  " content: raise its version number")

    # --- calendars ---------------------------------------------------------------------------
    def register_calendar(self, digest: str, body: str, at: datetime) -> None:
        """Keep a calendar version (when it differs from the last) for replays of its time."""
        c = t.calendars.c
        last = self.conn.execute(select(c.digest).order_by(c.id.desc()).limit(1)).first()
        if last is None or last[0] != digest:
            self.conn.execute(insert(t.calendars).values(digest=digest, body=body,
                                                         registered_at=at))

    def calendar_versions(self) -> list[tuple[datetime, str]]:
        """(registered_at, body) of every calendar version, oldest first."""
        c = t.calendars.c
        q = select(c.registered_at, c.body).order_by(c.id)
        return [(r[0], str(r[1])) for r in self.conn.execute(q)]

    def calendar_days(self) -> list[tuple[date, str]]:
        c = t.calendar_days.c
        return [(date.fromisoformat(d), k) for d, k in self.conn.execute(select(c.day, c.kind))]

    def replace_calendar_days(self, days: Iterable[tuple[date, str, str | None]]) -> None:
        self.conn.execute(delete(t.calendar_days))
        rows = [{"day": d.isoformat(), "kind": k, "note": n} for d, k, n in days]
        if rows:
            self.conn.execute(insert(t.calendar_days), rows)
