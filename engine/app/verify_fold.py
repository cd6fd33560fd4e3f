"""Verify's second pass over one span of issues: every event matches its hash, the town's
events give the configuration in force, each issue's events kept the rules in force, and
folding them gives the issue row, its escalations and its extension requests.

A span is a run of issue ids (`Span`); `audit verify` folds the whole history as one span,
or cuts it into several folded side by side (`engine.app.verify`), each giving a `Part`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import tzinfo
from functools import partial
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import Any

from engine.app.cycles import no_cycle_collection
from engine.domain import audit as a
from engine.domain import chain
from engine.domain.configuration import InForce, Stored, stored_problem
from engine.domain.conformance import Rules
from engine.domain.escalation import Escalation
from engine.domain.events import TOWN
from engine.domain.issue import Issue
from engine.store.audit_reads import Reads, Span, written
from engine.store.rows import json_value

ISSUE_ID = itemgetter(1)
"""A history row's issue id (the streams are grouped by it)."""
UNREADABLE = (KeyError, ValueError, TypeError, AttributeError, StopIteration)
"""What reading a damaged stored event can raise."""
EVERY: Span = (None, None)


@dataclass
class Part:
    """What folding one span gave."""

    content_bad: int | None = None
    """The first event (by seq) that does not match its own hash."""
    issues: int = 0
    backdated: int = 0
    checked: int = 0
    """Events checked against the rules in force."""
    finding: tuple[int, a.Finding] | None = None
    """The first finding in issue order, with its issue."""
    orphan: int | None = None
    """The first issue of the span with rows but no history (asked only if no finding)."""


def fold_span(r: Reads, tz: tzinfo, copies: Callable[[], Stored] | None,
              span: Span = EVERY) -> Part:
    """Fold the issues of `span`. The town's events (issue 0) come first in the span that
    holds it; another span reads them apart. `copies`: the stored configuration the town's
    events must match (None: another span checks it)."""
    with no_cycle_collection():
        return _fold_span(r, tz, copies, span)


def _fold_span(r: Reads, tz: tzinfo, copies: Callable[[], Stored] | None, span: Span) -> Part:
    part = Part()
    row_hash = partial(chain.row_hash, sqlite=r.sqlite)  # r.row_hash, one call less a row
    rows = _Merge(r.issues(span), attrgetter("id"))
    escalations = _Merge(r.escalations(span), attrgetter("issue_id"))
    extensions = _Merge(r.extensions(span), attrgetter("issue_id"))
    fold = r.fold
    in_force = InForce()
    rules: Rules | None = None
    lo = span[0]
    if lo is not None and lo > TOWN:  # the configuration in force, from the town's events
        part.finding = _configuration(in_force, list(r.events(issue_id=TOWN)), None)
    finding = part.finding
    content_bad: int | None = None
    for issue_id, group in groupby(r.events(span=span), key=ISSUE_ID):
        events = list(group)
        for row in events:
            if row_hash(row) != row[13] and (content_bad is None or row[0] < content_bad):
                content_bad = row[0]
        if issue_id == TOWN:
            finding = _configuration(in_force, events, copies)
            continue
        if rules is None:
            rules = Rules(in_force, tz, written)
        replay = a.Replay()
        issue_rules = rules.issue() if rules.active else None
        broken: tuple[int, str] | None = None
        try:
            problem, broken = fold(replay, events, issue_rules)
            replay.make_all()  # what a fold without the rules left unmade
        except UNREADABLE as e:
            problem = f"issue {issue_id}'s history cannot be replayed: {e}"
        if issue_rules is not None:
            part.checked += len(events)
        if broken is not None and finding is None and problem is None:
            finding = (issue_id, a.Finding(broken[0], "rule", f"issue {issue_id}: {broken[1]}"))
        part.issues += 1
        part.backdated += replay.backdated
        stored = rows.take(issue_id)
        if finding is not None:
            escalations.take_all(issue_id)
            extensions.take_all(issue_id)
            continue
        if problem is None:
            problem = _compare(issue_id, stored, replay, escalations.take_all(issue_id),
                               extensions.take_all(issue_id))
        if problem is not None:
            finding = (issue_id, a.Finding(replay.last_seq, "disagrees", problem))
    if finding is None and in_force.empty and copies is not None:
        finding = _configuration(in_force, [], copies)
    part.content_bad, part.finding = content_bad, finding
    if finding is None:
        part.orphan = rows.rest() or escalations.rest() or extensions.rest()
    return part


def _configuration(in_force: InForce, events: list[tuple[Any, ...]],
                   stored: Callable[[], Stored] | None) -> tuple[int, a.Finding] | None:
    """Take the town's events into `in_force`; a finding if one cannot be read or a stored
    copy disagrees with them (when `stored` is given)."""
    for row in events:
        try:
            in_force.add(row[0], row[3], json_value(row[10]))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            return (TOWN, a.Finding(row[0], "configuration", str(e)))
    if in_force.empty or stored is None:
        return None  # a history from before the configuration was chained
    problem = stored_problem(in_force, stored())
    if problem is None:
        return None
    return (TOWN, a.Finding(events[-1][0] if events else None, "disagrees", problem))


class _Merge:
    """Walks a stream sorted by issue id alongside the history's issues."""

    def __init__(self, items: Iterable[Any], key: Callable[[Any], int]) -> None:
        self.it = iter(items)
        self.key = key
        self.head: Any = next(self.it, None)
        self.orphan: int | None = None

    def _skip_below(self, issue_id: int) -> None:
        while self.head is not None and self.key(self.head) < issue_id:
            if self.orphan is None:
                self.orphan = self.key(self.head)
            self.head = next(self.it, None)

    def take(self, issue_id: int) -> Any:
        self._skip_below(issue_id)
        if self.head is not None and self.key(self.head) == issue_id:
            found, self.head = self.head, next(self.it, None)
            return found
        return None

    def take_all(self, issue_id: int) -> list[Any]:
        self._skip_below(issue_id)
        out = []
        while self.head is not None and self.key(self.head) == issue_id:
            out.append(self.head)
            self.head = next(self.it, None)
        return out

    def rest(self) -> int | None:
        """The first id that had rows but no history, if any."""
        if self.orphan is not None:
            return self.orphan
        return None if self.head is None else int(self.key(self.head))


def _compare(issue_id: int, stored: Issue | None, replay: a.Replay,
             escalations: list[Escalation], extensions: list[Any]) -> str | None:
    if replay.issue is None:
        return f"issue {issue_id} has events but no created event"
    if stored is None:
        return f"issue {issue_id} has a history but no row in the issues table"
    diff = a.differences(stored, replay.issue)
    if diff:
        return f"issue {issue_id}'s row disagrees with its history: {diff[0]}"
    for kind, rows, folded in (("escalation", escalations, replay.escalations),
                               ("extension request", extensions, replay.extensions)):
        seen = set()
        for x in rows:
            seen.add(x.id)
            other = folded.get(x.id)
            if other is None:
                return f"{kind} {x.id} of issue {issue_id} is not in its history"
            diff = a.differences(x, other)
            if diff:
                return f"{kind} {x.id} of issue {issue_id} disagrees with its history: {diff[0]}"
        missing = sorted(set(folded) - seen)
        if missing:
            return f"{kind} {missing[0]} of issue {issue_id} is in its history but not stored"
    return None
