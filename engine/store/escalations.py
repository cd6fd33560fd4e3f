"""The escalations table: one row per rung raised in a stage visit, closed by a record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select, update

from engine.domain.escalation import Escalation
from engine.store import rows
from engine.store import tables as t
from engine.store.repository import Repository

_INSERT_COLUMNS = (*rows.ESCALATION_COLUMNS[1:10], "subjects")
_INSERT = (
    f"INSERT INTO escalations ({rows.select_list(_INSERT_COLUMNS)})"
    f" VALUES ({', '.join(':' + c for c in _INSERT_COLUMNS)})"
    " ON CONFLICT (issue_id, stage_version, level) DO NOTHING RETURNING id"
)
_RAISED = "SELECT level FROM escalations WHERE issue_id = :id AND stage_version = :sv"
_OF_ISSUES = ("SELECT issue_id, stage_version, level, subjects FROM escalations"
              " WHERE issue_id IN ({ids}) ORDER BY id")
_INSERT_ROWS = (
    f"INSERT INTO escalations ({rows.select_list(_INSERT_COLUMNS)}) VALUES {{values}}"
    " ON CONFLICT (issue_id, stage_version, level) DO NOTHING RETURNING id, issue_id, level"
)
_UNNEST = (
    f"INSERT INTO escalations ({rows.select_list(_INSERT_COLUMNS)})"
    " SELECT i, s, v, l, d, m, r, p, st, sj FROM unnest(?::bigint[], ?::text[],"
    " ?::integer[], ?::text[], ?::timestamptz[], ?::timestamptz[], ?::timestamptz[],"
    " ?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS x(i, s, v, l, d, m, r, p, st, sj, n)"
    " ORDER BY n"
    " ON CONFLICT (issue_id, stage_version, level) DO NOTHING RETURNING id, issue_id, level"
)
"""The same rows on PostgreSQL, each column one array: a short statement the driver parses
once (a multi-row VALUES of 5,000 placeholders it parses again each time: a fifth of a
sweep's client time), the rows inserted in the order given."""
_JSON = json.JSONEncoder(ensure_ascii=False)
CHUNK = 500
"""Rows per multi-row statement (SQLite allows 32,766 parameters in one)."""
_SUPERSEDE = (
    "UPDATE escalations SET status = 'superseded', closed_at = :at, closed_by = :by"
    " WHERE issue_id = :id AND stage_version = :sv AND status = 'open' RETURNING id"
)


@dataclass(frozen=True)
class EscalationFilter:
    open_only: bool = False
    level: str | None = None
    to: str | None = None
    issue_id: int | None = None
    limit: int | None = None


class EscalationRepository(Repository):
    def raised_levels(self, issue_id: int, stage_version: int) -> set[str]:
        return {r[0] for r in self.rows(_RAISED, {"id": issue_id, "sv": stage_version})}

    def insert(self, e: Escalation) -> int | None:
        """The new escalation's id, or None when (issue, stage visit, level) already exists
        (raised by another worker meanwhile). `e.id` is not used."""
        time = self.d.time
        got = self.run(_INSERT, {
            "issue_id": e.issue_id, "stage": e.stage, "stage_version": e.stage_version,
            "level": e.level, "due_at": time(e.due_at), "moment": time(e.moment),
            "raised_at": time(e.raised_at),
            "recipients": json.dumps(list(e.recipients), ensure_ascii=False),
            "status": e.status,
            "subjects": json.dumps(list(e.subjects), ensure_ascii=False) if e.subjects else None,
        }).fetchone()
        return None if got is None else int(got[0])

    def raised_in(self, issue_ids: Sequence[int]
                  ) -> dict[tuple[int, int], list[tuple[str, tuple[str, ...]]]]:
        """What was raised on these issues: (issue, stage visit) → [(level, subjects)] in
        the order raised; read in a few statements (a sweep's batch)."""
        out: dict[tuple[int, int], list[tuple[str, tuple[str, ...]]]] = {}
        for k in range(0, len(issue_ids), CHUNK):
            part = issue_ids[k:k + CHUNK]
            sql = _OF_ISSUES.format(ids=", ".join("?" * len(part)))
            for issue_id, visit, level, subjects in self.rows(sql, list(part)):
                out.setdefault((int(issue_id), int(visit)), []).append(
                    (str(level), tuple(json.loads(subjects)) if subjects else ()))
        return out

    def insert_many(self, made: Sequence[Escalation]) -> dict[tuple[int, str], int]:
        """New escalations in multi-row statements: (issue, level) → the new id of each
        written; one whose (issue, stage visit, level) already exists is left out (raised by
        another worker meanwhile). Ids follow the order given. `e.id` is not used."""
        when = self.d.remembering_time()
        texts: dict[tuple[str, ...], str] = {}

        def dumps(people: tuple[str, ...]) -> str:  # a sweep names the same people again
            found = texts.get(people)
            if found is None:
                found = texts[people] = _JSON.encode(list(people))
            return found

        out: dict[tuple[int, str], int] = {}
        width = len(_INSERT_COLUMNS)
        cur = self.tx.cursor()
        if not self.d.sqlite:
            columns: list[list[object]] = [[] for _ in range(width)]
            for e in made:
                for column, value in zip(columns, (
                        e.issue_id, e.stage, e.stage_version, e.level, when(e.due_at),
                        when(e.moment), when(e.raised_at), dumps(e.recipients), e.status,
                        dumps(e.subjects) if e.subjects else None), strict=True):
                    column.append(value)
            cur.execute(self.d.sql(_UNNEST), columns)
            for new_id, issue_id, level in cur.fetchall():
                out[(int(issue_id), str(level))] = int(new_id)
            return out
        for k in range(0, len(made), CHUNK):
            part = made[k:k + CHUNK]
            params: list[object] = []
            for e in part:
                params += (e.issue_id, e.stage, e.stage_version, e.level, when(e.due_at),
                           when(e.moment), when(e.raised_at),
                           dumps(e.recipients), e.status,
                           dumps(e.subjects) if e.subjects else None)
            one = f"({', '.join('?' * width)})"
            cur.execute(self.d.sql(_INSERT_ROWS.format(values=", ".join([one] * len(part)))),
                        params)
            for new_id, issue_id, level in cur.fetchall():
                out[(int(issue_id), str(level))] = int(new_id)
        return out

    def supersede_open(self, issue_id: int, stage_version: int, at: datetime,
                       by: str) -> list[int]:
        """End what is open of a stage visit the issue leaves; the ids ended."""
        cur = self.run(_SUPERSEDE, {"id": issue_id, "sv": stage_version,
                                    "at": self.d.time(at), "by": by})
        return sorted(int(r[0]) for r in cur.fetchall())

    def get(self, escalation_id: int, for_update: bool = False) -> Escalation | None:
        q = _select().where(t.escalations.c.id == escalation_id)
        if for_update and not self.d.sqlite:
            q = q.with_for_update()
        r = self.conn.execute(q).first()
        return None if r is None else rows.escalation(r)

    def close(self, escalation_id: int, status: str, at: datetime, by: str, note: str,
              attendees: Sequence[str], outcome: str | None = None,
              subjects: Sequence[str] | None = None) -> None:
        values: dict[str, object] = {
            "status": status, "closed_at": at, "closed_by": by, "note": note,
            "attendees": json.dumps(list(attendees), ensure_ascii=False), "outcome": outcome}
        if subjects is not None:
            values["subjects"] = json.dumps(list(subjects), ensure_ascii=False)
        self.conn.execute(
            update(t.escalations).where(t.escalations.c.id == escalation_id).values(**values))

    def matching(self, f: EscalationFilter) -> list[Escalation]:
        e = t.escalations.c
        q = _select().order_by(e.id)
        if f.open_only:
            q = q.where(e.status == "open")
        if f.level:
            q = q.where(e.level == f.level)
        if f.issue_id is not None:
            q = q.where(e.issue_id == f.issue_id)
        if f.to:
            # recipients and subjects are JSON lists of ids: narrow by text, then match
            # exactly (either list)
            quoted = json.dumps(f.to, ensure_ascii=False)
            q = q.where(e.recipients.contains(quoted, autoescape=True)
                        | e.subjects.contains(quoted, autoescape=True))
        found = [rows.escalation(r) for r in self.conn.execute(q)]
        if f.to:
            found = [x for x in found if f.to in x.recipients or f.to in x.subjects]
        return found[: f.limit] if f.limit else found


def _select() -> Select[tuple[object, ...]]:
    return select(*(getattr(t.escalations.c, n) for n in rows.ESCALATION_COLUMNS))
