"""The ledger's village × stage counts kept up to date from the events written since they
were counted, instead of counting every issue again.

An issue's (village, stage) changes only by the events that put it somewhere (created,
imported: +1 where it starts) or move it (a transition: −1 where it was, +1 where it goes).
The kinds below change neither; any other kind (an edit may move an issue to another village;
a kind this module does not know) means the counts must be read afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine.domain.events import EventType

Counts = dict[tuple[str, str], int]
"""(village, state) → how many issues."""

NEUTRAL = frozenset({
    EventType.ESCALATED, EventType.RESCHEDULED, EventType.EXTENSION_REQUESTED,
    EventType.EXTENSION_APPROVED, EventType.EXTENSION_DENIED, EventType.INTERVIEW_RECORDED,
    EventType.ACCOUNTABILITY_DECIDED, EventType.VILLAGE_LISTED, EventType.VILLAGE_UNLISTED,
    EventType.REASSIGNED, EventType.DATABASE_MARKED, EventType.ORG_LOADED,
    EventType.WORKFLOW_REGISTERED, EventType.CALENDAR_INSTALLED,
})
"""Event kinds that leave every issue in its village and stage."""
PLACING = frozenset({EventType.CREATED, EventType.IMPORTED})


def moved(counts: Mapping[tuple[str, str], int],
          events: Iterable[tuple[str, str | None, str | None, str | None]]) -> Counts | None:
    """`counts` after `events` (type, from state, to state, the issue's village), or None
    when one of them may have changed what cannot be told from these four (read afresh)."""
    out = dict(counts)
    for kind, before, after, village in events:
        if kind in NEUTRAL:
            continue
        if village is None or after is None:
            return None
        if kind in PLACING:
            out[(village, after)] = out.get((village, after), 0) + 1
        elif kind == EventType.TRANSITION and before is not None:
            out[(village, before)] = out.get((village, before), 0) - 1
            out[(village, after)] = out.get((village, after), 0) + 1
        else:
            return None
    return out
