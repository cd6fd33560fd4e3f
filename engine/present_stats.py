"""What `rectify stats` shows: the rows as JSON (ids, and a name for people to read) and as
tables in the reader's language (Chinese by default)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

from engine.app.stats import Numbers
from engine.domain.stats import FIELDS, OUTCOMES, TOTAL, Row, Score
from engine.present import town_time
from engine.words import Words

HEADERS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "village": "村", "category": "类别", "group": "组", "person": "责任人",
        "found": "发现", "fixed_on_spot": "立行立改", "rectified": "整改", "cleared": "销号",
        "open": "在办", "overdue": "超期", "clearance_rate": "销号率",
        "avg_working_days_to_clear": "平均销号工作日", "reminders": "提醒",
        "interviews": "约谈", "accountability": "问责", "extensions": "延期申请",
        "reopened": "回头看", "total": "全镇", "unassigned": "未指派", "ungrouped": "未分组",
        "title": "整改统计（按{by}）", "window": "{start} 至 {end}",
        "as of": "截至 {at}", "rank": "名次", "score": "得分", "on_time_rate": "按时率",
        "overdue_working_days": "超期工作日", "scoreboard": "考核排名（按{by}）",
    },
    "en": {
        "village": "village", "category": "category", "group": "group", "person": "assignee",
        "found": "found", "fixed_on_spot": "fixed on spot", "rectified": "rectified",
        "cleared": "cleared", "open": "open", "overdue": "overdue",
        "clearance_rate": "clearance", "avg_working_days_to_clear": "avg days to clear",
        "reminders": "reminders", "interviews": "interviews",
        "accountability": "accountability", "extensions": "extensions",
        "reopened": "reopened", "total": "town", "unassigned": "unassigned",
        "ungrouped": "no group", "title": "Numbers by {by}", "window": "{start} to {end}",
        "as of": "as of {at}", "rank": "rank", "score": "score",
        "on_time_rate": "on time", "overdue_working_days": "days overdue",
        "scoreboard": "Scoreboard by {by}",
    },
}


def _h(w: Words, key: str, **values: object) -> str:
    text = HEADERS.get(w.lang, HEADERS["en"]).get(key, key)
    return text.format(**values) if values else text


def _name_cell(by: str, key: str | None, w: Words) -> str:
    from rich.markup import escape

    return escape(name_of(by, key, w))


def name_of(by: str, key: str | None, w: Words) -> str:
    """The row's key as people read it."""
    if key == TOTAL:
        return _h(w, "total")
    if key is None:
        return _h(w, "ungrouped" if by == "group" else "unassigned")
    if by == "village":
        return w.village(key)
    if by == "category":
        return w.category(key)
    if by == "group":
        return w.group(key)
    return w.person(key)


def stats_json(n: Numbers, w: Words) -> list[dict[str, Any]]:
    """A row per key, then the town's total (key "*")."""
    return [{"key": r.key, "name": name_of(n.by, r.key, w), **r.numbers()} for r in n.rows]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _cell(row: Row, name: str) -> str:
    value = getattr(row, name)
    if name == "clearance_rate":
        return _percent(value)
    if value is None:
        return "—"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _caption(n: Numbers, tz: tzinfo, w: Words) -> str:
    end = town_time(n.moment, tz)
    if n.start is None:
        return _h(w, "as of", at=end)
    return _h(w, "window", start=town_time(n.start, tz), end=end)


def stats_table(n: Numbers, tz: tzinfo, w: Words) -> Any:
    from rich.table import Table

    table = Table(title=_h(w, "title", by=_h(w, n.by)), caption=_caption(n, tz, w))
    table.add_column(_h(w, n.by))
    for name in FIELDS:
        table.add_column(_h(w, name), justify="right")
    for r in n.rows:
        table.add_row(_name_cell(n.by, r.key, w), *(_cell(r, f) for f in FIELDS),
                      end_section=r is n.rows[-2] if len(n.rows) > 1 else False)
    return table


def scoreboard_json(n: Numbers, scores: Sequence[Score], w: Words) -> list[dict[str, Any]]:
    return [{**s.to_dict(), "name": name_of(n.by, s.key, w)} for s in scores]


def scoreboard_table(n: Numbers, scores: Sequence[Score], tz: tzinfo, w: Words) -> Any:
    from rich.table import Table

    table = Table(title=_h(w, "scoreboard", by=_h(w, n.by)), caption=_caption(n, tz, w))
    for head in ("rank", n.by, "score", "on_time_rate", "overdue", "overdue_working_days",
                 "interviews", "accountability", "reopened"):
        table.add_column(_h(w, head), justify="left" if head in (n.by, "accountability")
                         else "right", no_wrap=head == n.by)
    for s in scores:
        table.add_row(str(s.rank), _name_cell(n.by, s.key, w), f"{s.score:.2f}",
                      _percent(s.on_time_rate), str(s.overdue), str(s.overdue_working_days),
                      str(s.interviews), _outcomes(s, w), str(s.reopened))
    return table


def _outcomes(s: Score, w: Words) -> str:
    """The accountability cases decided, by outcome (提醒谈话×1、通报批评×2), or 0: one column
    (the JSON keeps a count per outcome)."""
    told = [f"{w.outcome(o)}×{s.accountability[o]}" for o in OUTCOMES
            if s.accountability.get(o)]
    return ("、" if w.zh else ", ").join(told) or "0"
