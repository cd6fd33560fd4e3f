"""The ledger export's reads: the issues table in batches by id (keyset: `id > last ORDER BY
id LIMIT n`, never an OFFSET), and the history rows of a batch that say who verified an issue
and when its rectification was due, all in one snapshot (REPEATABLE READ on PostgreSQL; a
SQLite read transaction is one already).

Memory holds one batch: a ledger of 100,000 issues is read 2,000 at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from engine.domain.issue import Issue
from engine.store import rows
from engine.store.repository import Repository, Transaction

BATCH = 2000
FACT_TYPES = ("imported", "transition", "extension_approved", "reassigned")
"""The events that can set a stage, a due moment or a verifier."""

_ISSUES = f"SELECT {rows.select_list(rows.ISSUE_COLUMNS)} FROM issues"
_HISTORY = rows.select_list(rows.HISTORY_COLUMNS)


class LedgerReads(Repository):
    def __init__(self, tx: Transaction) -> None:
        super().__init__(tx)
        if not self.d.sqlite:  # every batch reads the same snapshot
            tx.conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def issue_batches(self, states: Sequence[str] = (), villages: Sequence[str] = (),
                      hidden: Sequence[str] = (), categories: Sequence[str] = (),
                      supervised: bool = False, search: str | None = None,
                      batch: int = BATCH) -> Iterator[list[Issue]]:
        """The issues in id order, `batch` at a time: of `states`, `villages` and
        `categories` when given, without the `hidden` states unless `states` names them;
        `supervised`: listed, themselves or by their village; `search`: a substring of the
        title, household or description, in any case."""
        where: list[str] = ["id > ?"]
        params: list[Any] = []
        for column, values in (("state", states), ("village", villages),
                               ("category", categories)):
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params += list(values)
        if hidden and not states:
            where.append(f"state NOT IN ({', '.join('?' * len(hidden))})")
            params += list(hidden)
        if supervised:
            where.append("(listed OR listed_by_village)")
        if search:
            like = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            where.append("(" + " OR ".join(f"lower({c}) LIKE ? ESCAPE '\\'" for c in (
                "title", "household", "description")) + ")")
            params += [like] * 3
        sql = f"{_ISSUES} WHERE {' AND '.join(where)} ORDER BY id LIMIT {int(batch)}"
        last = 0
        mapper = rows.issue
        while True:
            found = [mapper(r) for r in self.rows(sql, (last, *params))]
            if not found:
                return
            yield found
            if len(found) < batch:
                return
            last = found[-1].id

    def facts_of(self, issue_ids: Sequence[int]) -> list[Sequence[Any]]:
        """History rows (HISTORY_COLUMNS) of these issues that can set a stage, a due moment
        or a verifier, issue by issue in version order."""
        if not issue_ids:
            return []
        kinds = ", ".join(f"'{k}'" for k in FACT_TYPES)
        marks = ", ".join("?" * len(issue_ids))
        return self.rows(f"SELECT {_HISTORY} FROM history WHERE issue_id IN ({marks})"
                         f" AND type IN ({kinds}) ORDER BY issue_id, version",
                         tuple(issue_ids))
