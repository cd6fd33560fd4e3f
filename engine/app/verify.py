"""`audit verify`: the chain recomputed, the configuration re-derived from it, every issue's
events checked against the rules in force and folded against its rows. One read transaction,
streaming: memory holds one issue at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import tzinfo
from itertools import groupby
from operator import itemgetter
from typing import Any

from engine.app.session import Session
from engine.domain import audit as a
from engine.domain.chain import GENESIS
from engine.domain.clock_rules import DRILL
from engine.domain.configuration import InForce, Stored, stored_problem
from engine.domain.conformance import Rules
from engine.domain.escalation import Escalation
from engine.domain.events import TOWN
from engine.domain.issue import Issue
from engine.domain.org import Org
from engine.errors import NotInitialized
from engine.store.audit_reads import Reads, written
from engine.store.rows import json_value
from engine.store.unit_of_work import Tx

ISSUE_ID = itemgetter(1)
"""A history row's issue id (the streams are grouped by it)."""
UNREADABLE = (KeyError, ValueError, TypeError, AttributeError, StopIteration)
"""What reading a damaged stored event can raise."""


@dataclass
class Verdict:
    ok: bool
    events: int
    first_bad: int | None
    reason: str | None
    kind: str | None = None
    head: str | None = None
    issues: int = 0
    backdated: int = 0
    issue: int | None = None
    drill: bool = False
    """The database is a drill: its times are simulated."""
    rules_checked: int = 0
    """Events checked against the rules in force (those after the chain recorded an org)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def verify(s: Session, anchor: tuple[int, str] | None = None) -> Verdict:
    """Recompute the chain and replay every issue against its rows."""
    with s.transaction(write=False) as tx:
        r = Reads(tx)  # first: on PostgreSQL it sets the snapshot
        tz = s.timezone(tx)
        verdict = verify_reads(r, anchor, tz, lambda: stored_copies(tx))
        verdict.drill = s.mode(tx) == DRILL
        return verdict


def stored_copies(tx: Tx) -> Stored:
    """The configuration's copies the commands read."""
    d = tx.definitions
    try:
        org: Org | None = tx.org.load()
    except NotInitialized:
        org = None
    versions = d.calendar_versions()
    return Stored(org=org, workflows=d.workflow_rows(),
                  calendar=versions[-1][1] if versions else None,
                  days=frozenset((day.isoformat(), kind) for day, kind in d.calendar_days()),
                  mode=d.get_meta("mode"))


def verify_reads(r: Reads, anchor: tuple[int, str] | None, tz: tzinfo,
            stored: Callable[[], Stored]) -> Verdict:
    total, last, link_break, anchored = _links(r, anchor)
    content_bad, issues, backdated, fold, checked = _fold_all(r, tz, stored)
    chain = None
    if link_break is not None:
        before, bad, after = link_break
        chain = a.diagnose(before, bad, after, r.content_ok, r.seq_of_hash, r.renumbered_by)
    found = a.chain_finding(chain, content_bad)
    if found is None and anchor is not None:
        found = a.anchor_finding(anchor[0], anchor[1], anchored, last[0])
    issue_id = None
    if found is None and fold is not None:
        issue_id, found = fold
    head = f"{last[0]}:{last[1]}" if last[0] else None
    if found is None:
        return Verdict(True, total, None, None, head=head, issues=issues,
                       backdated=backdated, rules_checked=checked)
    return Verdict(False, total, found.first_bad, f"{found.kind}: {found.reason}",
                   kind=found.kind, head=head, issues=issues, backdated=backdated,
                   issue=issue_id, rules_checked=checked)


def _links(r: Reads, anchor: tuple[int, str] | None) -> tuple[
        int, tuple[int, str], tuple[list[a.Link], a.Link, a.Link | None] | None,
        dict[int, str]]:
    """Pass 1, in the database: each event follows the one before (a join on seq - 1)."""
    total = r.count_events()
    head = r.head() or (0, GENESIS)
    anchored: dict[int, str] = {}
    if anchor is not None:
        found = r.hash_at(anchor[0])
        if found is not None:
            anchored[anchor[0]] = found
    broken = r.first_broken_link()
    if broken is None:
        return total, head, None, anchored
    before, bad, after = r.links_around(broken)
    return total, head, ([a.Link(*x) for x in before], a.Link(*bad),
                         a.Link(*after) if after else None), anchored


def _fold_all(r: Reads, tz: tzinfo, copies: Callable[[], Stored]) -> tuple[
        int | None, int, int, tuple[int, a.Finding] | None, int]:
    """Pass 2, issue by issue: every event matches its hash; the town's events (first, as
    issue 0) give the configuration in force, which the stored copies must match; each
    issue's events kept the rules in force; and folding them gives the issue row, its
    escalations and its extension requests."""
    row_hash = r.row_hash
    content_bad: int | None = None
    backdated = 0
    issues = 0
    checked = 0
    finding: tuple[int, a.Finding] | None = None
    rows = _Merge(r.issues(), lambda i: i.id)
    escalations = _Merge(r.escalations(), lambda e: e.issue_id)
    extensions = _Merge(r.extensions(), lambda x: x.issue_id)
    fold = r.fold
    in_force = InForce()
    rules: Rules | None = None
    for issue_id, group in groupby(r.events(), key=ISSUE_ID):
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
        except UNREADABLE as e:
            problem = f"issue {issue_id}'s history cannot be replayed: {e}"
        if issue_rules is not None:
            checked += len(events)
        if broken is not None and finding is None and problem is None:
            finding = (issue_id, a.Finding(broken[0], "rule", f"issue {issue_id}: {broken[1]}"))
        issues += 1
        backdated += replay.backdated
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
    if finding is None and in_force.empty:
        finding = _configuration(in_force, [], copies)
    if finding is None:
        extra = rows.rest() or escalations.rest() or extensions.rest()
        if extra is not None:
            finding = (extra, a.Finding(None, "disagrees",
                                        f"issue {extra} has rows but no history"))
    return content_bad, issues, backdated, finding, checked


def _configuration(in_force: InForce, events: list[tuple[Any, ...]],
                   stored: Callable[[], Stored]) -> tuple[int, a.Finding] | None:
    """Take the town's events into `in_force`; a finding if one cannot be read or a stored
    copy disagrees with them."""
    for row in events:
        try:
            in_force.add(row[0], row[3], json_value(row[10]))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            return (TOWN, a.Finding(row[0], "configuration", str(e)))
    if in_force.empty:
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
