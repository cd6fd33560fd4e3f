"""The counts behind `rectify stats`, in SQL: GROUP BY in the database over issues, history
events, escalations and extension requests; nothing is read issue by issue.

Four statements, each one pass:

1. the issues: per key, found (created in the window, not voided at the cut), and the
   open, overdue and cleared issues at the cut, grouped further by the days the domain needs
   (creation and clearing day of the cleared; due day of the overdue), so the mean working
   days and the days past due are computed from a small histogram, not from every issue;
2. the history's transitions in the window: `fix`, `reopen`, issues entering `rectified`;
3. the escalations raised in the window by level, and accountability decisions by outcome;
4. the extension requests made in the window.

Without a cut (`Window.cut` None) the state of each issue is its row (the ledger as it stands,
checked at `Window.moment`). With one, the state, its entry and its due moment are those of
the issue's last events at or before the cut (`history` alone: the row may have moved on).
Days are town days: `AT TIME ZONE` on PostgreSQL, the zone's offset at the moment on SQLite
(exact for a zone without summer time, as the towns' Asia/Shanghai).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine.domain.stats import OUTCOMES, Tally
from engine.store.repository import Repository

KEY_COLUMN = {"village": "i.village", "category": "i.category", "group": "i.grp",
              "person": "i.assignee"}
"""The issue's column each kind of row is keyed by."""
DUE_SETTERS = ("created", "imported", "transition", "extension_approved", "reassigned")
"""The events that set an issue's due moment (engine.domain.issue.changes)."""


@dataclass(frozen=True)
class Window:
    start: datetime | None
    """Events at or after this count (None: from the beginning)."""
    cut: datetime | None
    """Events after this do not count, and the state is the one at this moment (None: the
    rows as they stand)."""
    moment: datetime
    """When open issues are checked against their due moment: the cut, else the clock."""
    final: Sequence[str]
    cleared: str
    voided: str
    zone: str
    """The town's time zone name (PostgreSQL's days)."""
    offset_minutes: int
    """Its offset from UTC at the moment (SQLite's days)."""


class StatsRepository(Repository):
    def tallies(self, by: str, w: Window) -> dict[str | None, Tally]:
        key = KEY_COLUMN[by]
        out: dict[str | None, Tally] = {}

        def tally(k: Any) -> Tally:
            found = out.get(k)
            if found is None:
                found = out[k] = Tally()
            return found

        p = self._params(w)
        for k, found, cls, cday, eday, dday, n in self.rows(self._issues_sql(key, w), p):
            t, n = tally(k), int(n)
            if found:
                t.counts["found"] = t.counts.get("found", 0) + n
            if cls in ("o", "d"):
                t.counts["open"] = t.counts.get("open", 0) + n
            if cls == "d":
                t.counts["overdue"] = t.counts.get("overdue", 0) + n
                d = _day(dday)
                t.due_days[d] = t.due_days.get(d, 0) + n
            if cls == "c":
                t.counts["cleared"] = t.counts.get("cleared", 0) + n
                pair = (_day(cday), _day(eday))
                t.clear_days[pair] = t.clear_days.get(pair, 0) + n
        for k, fixed, reopened, rectified in self.rows(self._events_sql(key, w), p):
            c = tally(k).counts
            c["fixed_on_spot"], c["reopened"] = int(fixed or 0), int(reopened or 0)
            c["rectified"] = int(rectified or 0)
        for k, *levels in self.rows(self._escalations_sql(key, w), p):
            t = tally(k)
            for name, n in zip(("reminders", "interviews", "accountability"), levels[:3],
                               strict=True):
                t.counts[name] = int(n or 0)
            for outcome, n in zip(OUTCOMES, levels[3:], strict=True):
                if n:
                    t.outcomes[outcome] = int(n)
        for k, n in self.rows(self._extensions_sql(key, w), p):
            tally(k).counts["extensions"] = int(n)
        return out

    # --- the statements ------------------------------------------------------------------------
    def _params(self, w: Window) -> dict[str, Any]:
        time = self.d.time
        p: dict[str, Any] = {"lo": time(w.start), "hi": time(w.cut), "m": time(w.moment),
                             "cleared": w.cleared, "voided": w.voided, "zone": w.zone,
                             "shift": f"{w.offset_minutes:+d} minutes"}
        for n, s in enumerate(w.final):
            p[f"f{n}"] = s
        for n, s in enumerate(DUE_SETTERS):
            p[f"ds{n}"] = s
        for n, s in enumerate(OUTCOMES):
            p[f"o{n}"] = s
        return p

    def _day(self, expr: str) -> str:
        if self.d.sqlite:
            return f"date({expr}, :shift)"
        return f"CAST(({expr}) AT TIME ZONE :zone AS date)"

    def _window(self, column: str, w: Window) -> str:
        """The condition that `column` lies in the window ("1 = 1" when it is unbounded)."""
        conds = []
        if w.start is not None:
            conds.append(f"{column} >= :lo")
        if w.cut is not None:
            conds.append(f"{column} <= :hi")
        return " AND ".join(conds) or "1 = 1"

    def _issues_sql(self, key: str, w: Window) -> str:
        finals = ", ".join(f":f{n}" for n in range(len(w.final))) or "''"
        if w.cut is None:
            source = "issues i"
            state, created = "i.state", "i.created_at"
            entered = ("(CASE WHEN i.stage_version = 1 THEN i.created_at"
                       " ELSE i.stage_entered_at END)")
            due, moment = "i.due_at", ":m"
        else:
            setters = ", ".join(f":ds{n}" for n in range(len(DUE_SETTERS)))
            if self.d.sqlite:
                # the stored text's form (UTC, to the millisecond; due moments are whole
                # minutes), compared as text like every stored time: a julianday's double
                # would round the microseconds of a moment such as --to's 23:59:59.999999
                due_of = "strftime('%Y-%m-%d %H:%M:%f', json_extract(hd.payload, '$.due_at'))"
                moment = ":m"
            else:
                due_of = "CAST(CAST(hd.payload AS json) ->> 'due_at' AS timestamptz)"
                moment = ":m"
            source = (
                "(SELECT sv.issue_id, hs.to_state AS state, hs.at AS entered,"
                f" {due_of} AS due FROM"
                " (SELECT issue_id, MAX(version) AS v FROM history WHERE issue_id > 0"
                "  AND at <= :hi AND to_state IS NOT NULL GROUP BY issue_id) sv"
                " JOIN history hs ON hs.issue_id = sv.issue_id AND hs.version = sv.v"
                " JOIN (SELECT issue_id, MAX(version) AS v FROM history WHERE issue_id > 0"
                f"  AND at <= :hi AND type IN ({setters}) GROUP BY issue_id) dv"
                "  ON dv.issue_id = sv.issue_id"
                " JOIN history hd ON hd.issue_id = dv.issue_id AND hd.version = dv.v) cur"
                " JOIN issues i ON i.id = cur.issue_id")
            state, created, entered, due = "cur.state", "i.created_at", "cur.entered", "cur.due"
        found = f"{state} <> :voided" + ("" if w.start is None else f" AND {created} >= :lo")
        cleared = f"{state} = :cleared" + ("" if w.start is None else f" AND {entered} >= :lo")
        cls = (f"CASE WHEN {cleared} THEN 'c' WHEN {state} IN ({finals}) THEN 'x'"
               f" WHEN {due} <= {moment} THEN 'd' ELSE 'o' END")
        return (
            f"SELECT k, found, cls, cday, eday, dday, COUNT(*) FROM (SELECT {key} AS k,"
            f" CASE WHEN {found} THEN 1 ELSE 0 END AS found, {cls} AS cls,"
            f" CASE WHEN {cleared} THEN {self._day(created)} END AS cday,"
            f" CASE WHEN {cleared} THEN {self._day(entered)} END AS eday,"
            f" CASE WHEN {state} NOT IN ({finals}) AND {due} <= {moment}"
            f" THEN {self._day(due)} END AS dday"
            f" FROM {source}) q GROUP BY k, found, cls, cday, eday, dday")

    def _events_sql(self, key: str, w: Window) -> str:
        return (
            f"SELECT {key} AS k,"
            " SUM(CASE WHEN h.transition = 'fix' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN h.transition = 'reopen' THEN 1 ELSE 0 END),"
            " COUNT(DISTINCT CASE WHEN h.to_state = 'rectified' THEN h.issue_id END)"
            " FROM history h JOIN issues i ON i.id = h.issue_id"
            " WHERE h.type = 'transition'"
            " AND (h.transition IN ('fix', 'reopen') OR h.to_state = 'rectified')"
            f" AND {self._window('h.at', w)} GROUP BY {key}")

    def _escalations_sql(self, key: str, w: Window) -> str:
        raised = self._window("e.raised_at", w)
        decided = self._window("e.closed_at", w)
        levels = ", ".join(
            f"SUM(CASE WHEN e.level = '{level}' AND {raised} THEN 1 ELSE 0 END)"
            for level in ("reminder", "interview", "accountability"))
        outcomes = ", ".join(
            f"SUM(CASE WHEN e.status = 'decided' AND e.outcome = :o{n} AND {decided}"
            " THEN 1 ELSE 0 END)" for n in range(len(OUTCOMES)))
        return (f"SELECT {key} AS k, {levels}, {outcomes}"
                f" FROM escalations e JOIN issues i ON i.id = e.issue_id GROUP BY {key}")

    def _extensions_sql(self, key: str, w: Window) -> str:
        return (f"SELECT {key} AS k, COUNT(*) FROM extensions x JOIN issues i"
                f" ON i.id = x.issue_id WHERE {self._window('x.requested_at', w)}"
                f" GROUP BY {key}")


def _day(value: Any) -> date:
    """A day as the database gives it (a date, or SQLite's text)."""
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
