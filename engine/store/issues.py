"""The issues table: load, insert, update with a version check, list, and the sweep's claim.

The hot statements (load by id, versioned update, insert) are raw SQL on the driver cursor,
like eventsourcing's recorders; listing goes through SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import compress
from operator import attrgetter, itemgetter, ne
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select, text

from engine.domain.issue import Issue
from engine.errors import VersionConflict
from engine.store import rows
from engine.store import tables as t
from engine.store.dialect import decode_time
from engine.store.repository import Repository, stored_time

_COLUMNS = rows.select_list(rows.ISSUE_COLUMNS)
_SELECT = f"SELECT {_COLUMNS} FROM issues WHERE id = :id"
_SELECT_TO_MOVE = (
    f"SELECT {_COLUMNS}, CASE WHEN version = stage_version THEN NULL ELSE (SELECT h.at"
    " FROM history h WHERE h.issue_id = issues.id AND h.version = issues.version) END"
    " FROM issues WHERE id = ?"
)
"""An issue with its last event's time (the chain's admission checks the next is not before
it), in one statement. When the issue is still at the version that entered its stage, the
last event is that entry (a transition, dated `stage_entered_at`; or the first event, dated
`created_at`) and the row tells it: the history is read only when something happened since."""
_MOVING = ("state", "version", "assignee", "plan", "due_at", "stage_entered_at", "workflow",
           "stage_version", "next_escalation_at", "listed_by_village")
"""The columns a move or a listing may change (`update`)."""
_MOVING_OF = attrgetter(*("group" if c == "grp" else c for c in _MOVING))
"""An issue's values of the columns of _MOVING, in that order."""
_ALL_MOVING = tuple(range(len(_MOVING)))
_UPDATES: dict[tuple[int, ...], tuple[str, tuple[int, ...], int]] = {}
"""`update`'s statement for each set of columns written, by their positions in _MOVING (a
handful: moves of one kind change the same ones), with the positions of its parameters that
are moments and of the flag (-1: not written)."""
_TIMES = frozenset({4, 5, 8})
"""The positions of _MOVING that hold moments."""
_UPDATE_ALL = (
    "UPDATE issues SET "
    + ", ".join(f"{c} = :{c}" for c in rows.ISSUE_COLUMNS[1:])
    + " WHERE id = :id AND version = :expected"
)
_INSERT = (
    f"INSERT INTO issues ({rows.select_list(rows.ISSUE_COLUMNS[1:])}) VALUES"
    f" ({', '.join(':' + c for c in rows.ISSUE_COLUMNS[1:])}) RETURNING id"
)
_INSERT_MANY = (
    f"INSERT INTO issues ({_COLUMNS}) VALUES ({', '.join('?' * len(rows.ISSUE_COLUMNS))})"
)
_CONVERTED_NAMES = ("due_at", "stage_entered_at", "created_at", "next_escalation_at",
                    "listed", "listed_by_village")
"""The fields given to the database converted (moments, flags): appended in this order to an
issue's fields (in the order of `Issue`'s), from which `_INSERTED` picks the columns' values."""
_FIELD_AT = {f.name: k for k, f in enumerate(fields(Issue))}
_CONVERTED = tuple(_FIELD_AT[n] for n in _CONVERTED_NAMES)
_INSERTED = itemgetter(*(
    len(_FIELD_AT) + _CONVERTED_NAMES.index(c) if c in _CONVERTED_NAMES
    else _FIELD_AT["group" if c == "grp" else c] for c in rows.ISSUE_COLUMNS))
_ADVANCE = (
    "UPDATE issues SET version = :version, next_escalation_at = :next"
    " WHERE id = :id AND version = :expected"
)


class _Converted(dict[Any, Any]):
    """Values as the database is given them, each converted once (rows share a few)."""

    def __init__(self, convert: Callable[[Any], Any]) -> None:
        super().__init__()
        self.convert = convert
        self.get_ = self.__getitem__

    def __missing__(self, value: Any) -> Any:
        out = self[value] = self.convert(value)
        return out


@dataclass(frozen=True)
class IssueFilter:
    """Each tuple matches any of its values (empty: no condition); the conditions all hold."""

    states: tuple[str, ...] = ()
    villages: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    search: str | None = None
    """A substring of the title, household or description (case-insensitive where the
    database folds case: PostgreSQL fully, SQLite for ASCII letters)."""
    household: str | None = None
    """A substring of the household, as `search`."""
    overdue_at: datetime | None = None
    """Only issues whose due moment has passed at this time."""
    final_states: tuple[str, ...] = ()
    hidden_states: tuple[str, ...] = ()
    """States left out unless `states` names them (the voided)."""
    limit: int | None = None
    categories: tuple[str, ...] = ()
    supervised: bool = False
    """Only issues listed for supervision, themselves or by their village."""
    offset: int = 0

_CLAIM_WHERE = f"SELECT {_COLUMNS} FROM issues WHERE next_escalation_at <= :now"
_CLAIM = _CLAIM_WHERE + " ORDER BY next_escalation_at, id LIMIT :most"
_CLAIM_AFTER = (_CLAIM_WHERE + " AND next_escalation_at >= :moment"
                " AND (next_escalation_at > :moment OR id > :id)"
                " ORDER BY next_escalation_at, id LIMIT :most")
_COUNTED_AT = ("SELECT village, state, count(*), (SELECT max(seq) FROM history)"
               " FROM issues GROUP BY village, state")


class IssueRepository(Repository):
    def get(self, issue_id: int, for_update: bool = False) -> Issue | None:
        """One issue; `for_update` locks its row (PostgreSQL; SQLite's write lock is held)
        and reads its last event's time with it (kept in the transaction's event times)."""
        if not for_update:
            row = self.run(_SELECT, {"id": issue_id}).fetchone()
            return None if row is None else rows.issue(row)
        sql = _SELECT_TO_MOVE if self.d.sqlite else _SELECT_TO_MOVE + " FOR UPDATE OF issues"
        row = self.run(sql, (issue_id,)).fetchone()
        if row is None:
            return None
        issue = rows.issue(row)
        at: datetime | None
        if issue.version == issue.stage_version:  # the stage's entry is the last event
            at = issue.created_at if issue.version == 1 else issue.stage_entered_at
        else:
            at = decode_time(row[-1])
        if at is not None:  # None only if another transaction moved it meanwhile
            self.tx.event_times[(issue.id, issue.version)] = at
        return issue

    def insert(self, issue: Issue) -> int:
        params = self._params(issue)
        del params["id"]
        return int(self.run(_INSERT, params).fetchone()[0])

    def update(self, issue: Issue, expected_version: int, before: Issue | None = None
               ) -> None:
        """Write the issue's changing fields, if it is still at `expected_version`; given the
        issue as it was read at that version (`before`), only the fields that differ from it
        (an index whose columns are not written is left alone)."""
        sqlite = self.d.sqlite
        new = _MOVING_OF(issue)
        if before is None:
            picked: tuple[int, ...] = _ALL_MOVING
        else:
            old = _MOVING_OF(before)
            picked = tuple(compress(_ALL_MOVING, map(ne, new, old)))  # those that differ
            if 1 not in picked:  # the version is always written
                picked = tuple(sorted((1, *picked)))
        plan = _UPDATES.get(picked)
        if plan is None:
            plan = _UPDATES[picked] = (
                f"UPDATE issues SET {', '.join(_MOVING[k] + ' = ?' for k in picked)}"
                " WHERE id = ? AND version = ?",
                tuple(j for j, k in enumerate(picked) if k in _TIMES),
                picked.index(9) if 9 in picked else -1)
        sql, times, flag_at = plan
        params: list[Any] = [new[k] for k in picked]
        for j in times:
            params[j] = stored_time(params[j], sqlite)
        if flag_at >= 0:
            params[flag_at] = self.d.flag(params[flag_at])
        params += (issue.id, expected_version)
        if self.run(sql, params).rowcount != 1:
            raise VersionConflict(f"issue {issue.id} was changed by someone else; try again")

    def update_all(self, issue: Issue, expected_version: int) -> None:
        """Write every field of the issue (a correction changes its title, village, …), if
        it is still at `expected_version`."""
        params = self._params(issue)
        params["expected"] = expected_version
        if self.run(_UPDATE_ALL, params).rowcount != 1:
            raise VersionConflict(f"issue {issue.id} was changed by someone else; try again")

    def advance(self, issue: Issue, expected_version: int) -> None:
        """The sweep's update: only the version and the ladder's pointer change."""
        cur = self.run(_ADVANCE, {"id": issue.id, "version": issue.version,
                                  "expected": expected_version,
                                  "next": self.d.time(issue.next_escalation_at)})
        if cur.rowcount != 1:
            raise VersionConflict(f"issue {issue.id} was changed by someone else; try again")

    def _params(self, i: Issue) -> dict[str, Any]:
        time, flag = self.d.time, self.d.flag
        return {
            "id": i.id, "title": i.title, "description": i.description,
            "category": i.category, "village": i.village, "grp": i.group,
            "household": i.household, "severity": i.severity, "listed": flag(i.listed),
            "state": i.state, "version": i.version, "assignee": i.assignee, "plan": i.plan,
            "due_at": time(i.due_at), "stage_entered_at": time(i.stage_entered_at),
            "created_at": time(i.created_at), "created_by": i.created_by,
            "workflow": i.workflow, "stage_version": i.stage_version,
            "next_escalation_at": time(i.next_escalation_at),
            "listed_by_village": flag(i.listed_by_village),
        }

    # --- many at once (import) ---------------------------------------------------------------
    def allocate_ids(self, count: int) -> list[int]:
        """Reserve `count` ids; safe because the write transaction holds the lock."""
        if self.d.sqlite:
            top = self.conn.execute(select(func.coalesce(func.max(t.issues.c.id), 0))).scalar()
            first = int(top or 0) + 1
            return list(range(first, first + count))
        found = self.rows("SELECT nextval(pg_get_serial_sequence('issues', 'id'))"
                          " FROM generate_series(1, :n)", {"n": count})
        return [int(r[0]) for r in found]

    def insert_many(self, issues: Sequence[Sequence[Any]]) -> None:
        """New issues with their ids, each given as its fields in the order of `Issue`'s (an
        import's rows, made without an Issue each), as positional rows, each moment converted
        once."""
        when, flag = _Converted(self.d.time).get_, _Converted(self.d.flag).get_
        due, entered, created, later, listed, by_village = _CONVERTED
        self.tx.cursor().executemany(self.d.sql(_INSERT_MANY), [
            _INSERTED([*f, when(f[due]), when(f[entered]), when(f[created]), when(f[later]),
                       flag(f[listed]), flag(f[by_village])])
            for f in issues])

    # --- reading many ------------------------------------------------------------------------
    def matching(self, f: IssueFilter) -> list[Issue]:
        """The issues `f` matches, by id. A page far in (an offset) skips ids only, then reads
        its rows (the ids from an index where one serves: ix_issues_shown for the ledger)."""
        c = t.issues.c
        q = select(*(getattr(c, n) for n in rows.ISSUE_COLUMNS)).order_by(c.id)
        conds = self._conditions(f)
        if f.offset:
            ids = select(c.id).order_by(c.id).offset(f.offset)
            if conds:
                ids = ids.where(and_(*conds))
            if f.limit:
                ids = ids.limit(f.limit)
            q = q.where(c.id.in_(ids))
        else:
            if conds:
                q = q.where(and_(*conds))
            if f.limit:
                q = q.limit(f.limit)
        return [rows.issue(r) for r in self.conn.execute(q)]

    def tied_to(self, person: str, states: Iterable[str], groups: Iterable[str],
                villages: Iterable[str], final_states: Iterable[str]) -> list[Issue]:
        """Open issues in `states`, or tied to `person`: their assignee, who added them, of
        one of their `groups` or `villages` (a superset of those whose stage they own)."""
        c = t.issues.c
        q = (select(*(getattr(c, n) for n in rows.ISSUE_COLUMNS))
             .where(c.state.not_in(sorted(set(final_states))),
                    or_(c.state.in_(sorted(set(states))), c.assignee == person,
                        c.created_by == person, c.grp.in_(sorted(set(groups))),
                        c.village.in_(sorted(set(villages)))))
             .order_by(c.id))
        return [rows.issue(r) for r in self.conn.execute(q)]

    def count(self, f: IssueFilter) -> int:
        """How many issues `f` matches (its limit and offset aside)."""
        q = select(func.count()).select_from(t.issues)
        conds = self._conditions(f)
        if conds:
            q = q.where(and_(*conds))
        return int(self.conn.execute(q).scalar_one())

    def _conditions(self, f: IssueFilter) -> list[ColumnElement[bool]]:
        c = t.issues.c
        conds: list[ColumnElement[bool]] = []
        for column, values in ((c.state, f.states), (c.village, f.villages),
                               (c.assignee, f.assignees), (c.category, f.categories)):
            if values:
                conds.append(column.in_(sorted(set(values))))
        if f.search:
            conds.append(or_(*(col.icontains(f.search, autoescape=True)
                               for col in (c.title, c.household, c.description))))
        if f.household:
            conds.append(c.household.icontains(f.household, autoescape=True))
        if f.hidden_states and not f.states:
            conds.append(c.state != literal_column("'voided'")  # ix_issues_shown's term
                         if tuple(f.hidden_states) == ("voided",)
                         else c.state.not_in(f.hidden_states))
        if f.overdue_at is not None:
            conds.append(c.due_at <= f.overdue_at)
            if f.final_states:
                conds.append(c.state.not_in(f.final_states))
        if f.supervised:
            conds.append(or_(c.listed, c.listed_by_village))
        return conds

    def counted_at(self) -> tuple[int, list[tuple[str, str, int]]]:
        """(village, state, count) of every issue and the last event's seq, in one statement
        (one snapshot: the counts are those of the history up to that seq)."""
        got = self.run(_COUNTED_AT).fetchall()
        if not got:
            row = self.run("SELECT max(seq) FROM history").fetchone()
            return (int(row[0]) if row is not None and row[0] is not None else 0), []
        return int(got[0][3] or 0), [(str(v), str(st), int(n)) for v, st, n, _ in got]

    def claim_due(self, now: datetime, limit: int,
                  after: tuple[datetime, int] | None = None) -> list[Issue]:
        """Issues whose next ladder moment has come, by (moment, id) after `after` (the last
        of the batch before: a keyset, so a batch never reads past what earlier ones left);
        on PostgreSQL locked, skipping rows that another worker holds (FOR UPDATE SKIP
        LOCKED)."""
        sql = _CLAIM
        params: dict[str, Any] = {"now": self.d.time(now), "most": limit}
        if after is not None:
            sql = _CLAIM_AFTER
            params.update(moment=self.d.time(after[0]), id=after[1])
        if not self.d.sqlite:
            sql += " FOR UPDATE SKIP LOCKED"
        # through Core (one statement a batch): what it sends can be watched (benchmarks)
        return [rows.issue(r) for r in self.conn.execute(text(sql), params)]

    def advance_many(self, moved: Sequence[tuple[Issue, int]]) -> None:
        """The sweep's updates of a batch (each issue with the version it was read at), in one
        executemany: only the version and the ladder's pointer change."""
        if not moved:
            return
        when = self.d.remembering_time()
        cur = self.tx.cursor()
        cur.executemany(self.d.sql(_ADVANCE), [
            {"id": i.id, "version": i.version, "expected": expected,
             "next": when(i.next_escalation_at)} for i, expected in moved])
        if cur.rowcount >= 0 and cur.rowcount != len(moved):
            raise VersionConflict("an issue of the sweep's batch was changed by someone else;"
                                  " try again")

    def open_ids(self, village: str, final_states: Sequence[str]) -> list[int]:
        c = t.issues.c
        q = select(c.id).where(c.village == village, c.state.not_in(final_states)).order_by(c.id)
        return [int(r[0]) for r in self.conn.execute(q)]

    def open_references(self, final_states: Sequence[str]) -> tuple[set[str], set[str]]:
        """Assignees and villages of issues still open (an org update must keep them)."""
        c = t.issues.c
        q = select(c.assignee, c.village).where(c.state.not_in(final_states)).distinct()
        people, villages = set(), set()
        for a, v in self.conn.execute(q):
            if a:
                people.add(a)
            villages.add(v)
        return people, villages
