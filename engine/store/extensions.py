"""The extensions table: requests for more time (延期申请) and their decisions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, insert, select, update

from engine.domain.escalation import Extension
from engine.store import rows
from engine.store import tables as t
from engine.store.repository import Repository

_SUPERSEDE = (
    "UPDATE extensions SET status = 'superseded', decided_at = :at, decided_by = :by"
    " WHERE issue_id = :id AND stage_version = :sv AND status = 'pending' RETURNING id"
)


class ExtensionRepository(Repository):
    def insert(self, x: Extension) -> int:
        """Store a new request; its id (`x.id` is not used)."""
        got = self.conn.execute(insert(t.extensions).values(
            issue_id=x.issue_id, stage=x.stage, stage_version=x.stage_version,
            requested_by=x.requested_by, requested_at=x.requested_at, old_due_at=x.old_due_at,
            to_date=x.to_date, reason=x.reason, status=x.status,
        ).returning(t.extensions.c.id)).first()
        assert got is not None
        return int(got[0])

    def get(self, extension_id: int, for_update: bool = False) -> Extension | None:
        q = _select().where(t.extensions.c.id == extension_id)
        if for_update and not self.d.sqlite:
            q = q.with_for_update()
        r = self.conn.execute(q).first()
        return None if r is None else rows.extension(r)

    def pending(self, issue_id: int, stage_version: int) -> Extension | None:
        x = t.extensions.c
        r = self.conn.execute(_select().where(
            x.issue_id == issue_id, x.stage_version == stage_version,
            x.status == "pending")).first()
        return None if r is None else rows.extension(r)

    def matching(self, issue_id: int | None = None, pending_only: bool = False) -> list[Extension]:
        x = t.extensions.c
        q = _select().order_by(x.id)
        if issue_id is not None:
            q = q.where(x.issue_id == issue_id)
        if pending_only:
            q = q.where(x.status == "pending")
        return [rows.extension(r) for r in self.conn.execute(q)]

    def decide(self, extension_id: int, status: str, at: datetime, by: str,
               note: str | None) -> None:
        self.conn.execute(update(t.extensions).where(t.extensions.c.id == extension_id).values(
            status=status, decided_at=at, decided_by=by, note=note))

    def supersede_pending(self, issue_id: int, stage_version: int, at: datetime,
                          by: str) -> list[int]:
        """End the pending request of a stage visit the issue leaves; the ids ended."""
        cur = self.run(_SUPERSEDE, {"id": issue_id, "sv": stage_version,
                                    "at": self.d.time(at), "by": by})
        return sorted(int(r[0]) for r in cur.fetchall())


def _select() -> Select[tuple[object, ...]]:
    return select(*(getattr(t.extensions.c, n) for n in rows.EXTENSION_COLUMNS))
