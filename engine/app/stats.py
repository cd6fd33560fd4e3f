"""`rectify stats`: the numbers by village, category, group or person, and the assessment
scoreboard (考核). One read transaction; the counting is SQL (engine.store.stats), the rules of
each number and of the score are in engine.domain.stats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.app.session import Session
from engine.domain.issue import CATEGORIES
from engine.domain.stats import BY, Row, Score, Weights, ranked, rows_of
from engine.errors import BadOption
from engine.store.stats import StatsRepository, Window

VOIDED = "voided"
CLEARED = "cleared"
SCORED = ("village", "person")
"""What the scoreboard ranks."""


@dataclass(frozen=True)
class Numbers:
    by: str
    rows: list[Row]
    """A row per key, the town's total last."""
    start: datetime | None
    cut: datetime | None
    moment: datetime
    """The moment open and overdue are told at."""


def numbers(s: Session, by: str = "village", start: datetime | None = None,
            end: datetime | None = None, as_of: datetime | None = None) -> Numbers:
    """The numbers of the window [start, end], as they stood at as_of (or now)."""
    if by not in BY:
        raise BadOption(f"unknown --by {by!r} (one of {', '.join(BY)})")
    cuts = [t for t in (end, as_of) if t is not None]
    cut = min(cuts) if cuts else None
    if start is not None and cut is not None and start > cut:
        raise BadOption("--from is after the end of the window (--to or --as-of)")
    with s.transaction(write=False) as tx:
        org = s.org(tx)
        tz = s.timezone(tx)
        cal = s.calendar(tx)
        moment = cut if cut is not None else s.now(tx)
        final = sorted({*s.final_states(tx), CLEARED, VOIDED})
        offset = moment.astimezone(tz).utcoffset()
        window = Window(start=start, cut=cut, moment=moment.astimezone(UTC),
                        final=final, cleared=CLEARED, voided=VOIDED,
                        zone=str(getattr(tz, "key", "UTC")),
                        offset_minutes=int(offset.total_seconds() // 60) if offset else 0)
        tallies = StatsRepository(tx).tallies(by, window)
        order: Sequence[str | None] = {
            "village": list(org.units), "category": list(CATEGORIES),
            "group": list(org.groups), "person": [p for p in org.people if p in tallies],
        }[by]
        rows = rows_of(tallies, order, cal.working_days_between, cal.local_date(moment))
        s.warn_calendar()
    return Numbers(by=by, rows=rows, start=start, cut=cut, moment=moment)


def weights(path: Path | None = None) -> Weights:
    """The scoreboard's weights: the file given, else workflows/scoreboard.yaml."""
    from engine.config.scoreboard import load
    from workflows import scoreboard_path

    return load(path or scoreboard_path())


def scoreboard(s: Session, by: str = "village", start: datetime | None = None,
               end: datetime | None = None, as_of: datetime | None = None,
               path: Path | None = None) -> tuple[Numbers, list[Score]]:
    """The units ranked by the documented formula (engine.domain.stats.score_of)."""
    if by not in SCORED:
        raise BadOption(f"--scoreboard ranks {' or '.join(SCORED)}, not {by!r}")
    w = weights(path)
    got = numbers(s, by, start, end, as_of)
    return got, ranked(got.rows, w)


SCOREBOARD_FRESH_FOR = 60.0
"""Seconds the board's scoreboard is kept before it is counted again (it reads every issue
and event; an assessment figure a minute old is what the board shows, with its moment)."""


def scoreboard_kept(s: Session, clock: float) -> tuple[datetime, list[Score]]:
    """The villages' scoreboard at the session's time, kept by the app for
    SCOREBOARD_FRESH_FOR seconds of `clock` (a monotonic reading the caller gives)."""
    kept: tuple[float, tuple[datetime, list[Score]]] | None = s.app.memo.get("scoreboard")
    if kept is not None and 0 <= clock - kept[0] < SCOREBOARD_FRESH_FOR:
        return kept[1]
    got, scores = scoreboard(s, "village")
    s.app.memo["scoreboard"] = (clock, (got.moment, scores))
    return got.moment, scores
