"""Spot checks (调研督查): draw a random sample of cleared issues, record each one's result,
list the draws. A draw is a town event (issue 0, `spotcheck_drawn`); a result an event of the
issue (`spotcheck_recorded`), and a failed one reopens the issue (回头看) by the workflow's
`reopen` transition in the same transaction. The rules are in engine.domain.spotcheck.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.app import evidence, issues
from engine.app.configuration import TownLog
from engine.app.session import Session
from engine.app.supervision import acting_on, record
from engine.domain import spotcheck as sc
from engine.domain import text
from engine.domain.decide import fact_event
from engine.domain.events import TOWN, EventType, SpotChecked
from engine.domain.issue import Issue, Move
from engine.errors import MissingField, NotFound
from engine.store.issues import IssueFilter
from engine.store.unit_of_work import Tx

_DRAWN = EventType.SPOTCHECK_DRAWN.value
_RECORDED = EventType.SPOTCHECK_RECORDED.value


@dataclass(frozen=True)
class Drawn:
    """A draw as made (or read back): the draw and who drew it when."""

    draw: sc.Draw
    actor: str
    at: datetime
    issues: list[Issue] = field(default_factory=list)
    """The sample's issues (as they stand when read)."""
    results: dict[int, str] = field(default_factory=dict)
    """issue id → pass | fail, for those recorded."""

    def to_json(self) -> dict[str, Any]:
        d = self.draw
        return {"draw": d.draw, "seed": d.seed, "percent": str(d.percent),
                "villages": list(d.villages), "population": d.population,
                "sample": list(d.sample), "actor": self.actor, "at": self.at.isoformat(),
                "results": {str(i): self.results.get(i, "pending") for i in d.sample}}


def draw_sample(population: Sequence[int], percent: Decimal, seed: int) -> list[int]:
    """The sample (ascending) of the issue ids `population` for `percent` and `seed`:
    sorted(random.Random(seed).sample(sorted(population), k)), k = sample_size (see
    engine.domain.spotcheck)."""
    ids = sorted(population)
    return sorted(random.Random(seed).sample(ids, sc.sample_size(len(ids), percent)))


def _draws(tx: Tx) -> list[tuple[sc.Draw, str, datetime]]:
    return [(sc.Draw.from_payload(e.payload), e.actor, e.at)
            for e in tx.history.of_issue(TOWN) if e.type == _DRAWN]


def draw(s: Session, villages: Sequence[str], percent: Decimal,
         seed: int | None = None) -> Drawn:
    """Draw `percent` of the cleared issues (of `villages`, else of the town) with `seed`
    (chosen now when None) and record the draw in the history."""
    if seed is None:
        seed = secrets.randbelow(10**12)
    with s.transaction(write=True) as tx:
        org = s.org(tx)
        actor = s.actor_in(org)
        sc.check_role(org, actor, "draw spot checks")
        chosen = tuple(sorted(set(villages)))
        for v in chosen:
            if v not in org.units:
                raise NotFound(f"unknown village {v!r}")
        cleared = {i.id: i for i in tx.issues.matching(
            IssueFilter(states=(sc.CLEARED,), villages=chosen))}
        if not cleared:
            where = ", ".join(chosen) if chosen else "the town"
            raise NotFound(f"no cleared issues to draw from in {where}")
        number = 1 + len(_draws(tx))
        made = sc.Draw(number, seed, percent, chosen, len(cleared),
                       tuple(draw_sample(list(cleared), percent, seed)))
        now = s.now(tx)
        TownLog(s, tx).append(EventType.SPOTCHECK_DRAWN, made.to_payload(), now, actor)
    return Drawn(made, actor, now, [cleared[i] for i in made.sample])


def record_result(s: Session, issue_id: int, passed: bool, note: str,
                  files: Sequence[Path] = ()) -> Issue:
    """Record a drawn issue's spot check; a failure reopens it (the note is the reason)."""
    text.check("--note", note, text.TEXT)
    if not note.strip():
        raise MissingField("spotcheck record needs --note")
    staged = evidence.stage(s.app.data_dir, files, s.app.evidence_limit)
    try:
        after = _record(s, issue_id, passed, note, staged.records)
    except BaseException:
        staged.abandon()
        raise
    staged.kept()
    return after


def _record(s: Session, issue_id: int, passed: bool, note: str,
            files: tuple[Any, ...]) -> Issue:
    with s.transaction(write=True) as tx:
        org = s.org(tx)
        actor = s.actor_in(org)
        sc.check_role(org, actor, "record spot checks")
        issue = acting_on(tx, issue_id)
        draws = [d for d, _, _ in _draws(tx)]
        done = [int(e.payload["draw"]) for e in tx.history.of_issue(issue_id)
                if e.type == _RECORDED]
        drawn = sc.check_record(issue_id, issue.state, draws, done)
        now = s.now(tx)
        result = "pass" if passed else "fail"
        after = record(s, tx, issue, fact_event(
            issue, EventType.SPOTCHECK_RECORDED, actor, now,
            SpotChecked(drawn.draw, result, note, files)))
        if not passed:
            after = _reopen(s, tx, after, actor, note)
        s.warn_calendar()
    return after


def _reopen(s: Session, tx: Tx, issue: Issue, actor: str, reason: str) -> Issue:
    """回头看: the workflow's reopen transition, fired by the checker, the note its reason."""
    return issues.fire_in(s, tx, s.org(tx), actor, issue,
                          Move(issue.id, sc.REOPEN, reason=reason))

def listing(s: Session) -> list[Drawn]:
    """Every draw, oldest first, with each drawn issue's result (pass, fail or pending)."""
    with s.transaction(write=False) as tx:
        s.timezone(tx)
        draws = _draws(tx)
        issues_by_id: dict[int, Issue] = {}
        recorded: dict[tuple[int, int], str] = {}  # (issue, draw) → result
        for issue_id in sorted({i for d, _, _ in draws for i in d.sample}):  # each read once
            issue = tx.issues.get(issue_id)
            if issue is not None:
                issues_by_id[issue_id] = issue
            for e in tx.history.of_issue(issue_id):
                if e.type == _RECORDED:
                    recorded[(issue_id, int(e.payload["draw"]))] = str(e.payload["result"])
        return [Drawn(d, actor, at, [issues_by_id[i] for i in d.sample if i in issues_by_id],
                      {i: recorded[(i, d.draw)] for i in d.sample if (i, d.draw) in recorded})
                for d, actor, at in draws]
