"""Who answers for an issue's stage (its owners), and whom each escalation reaches: those who
act on it (the interview's conductor, the accountability's decider) and those answerable for
it (its subjects). Pure: the org, the workflow and the issue as they stand.

The workflow says both as data: each state's `owners`, each rung's `recipients` and
`subjects` (see `ladder.Rung`). A version without owners (before they existed) names its
recipients directly and no subjects, and is read as it always was.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from engine.domain.issue import Issue
from engine.domain.ladder import Rung
from engine.domain.org import Org
from engine.domain.workflow import Workflow

TOLD_WHEN_DECIDED = frozenset({"accountability"})
"""Levels whose subjects are told of the decision, not of the raise."""


def stage_owners(org: Org, wf: Workflow, issue: Issue) -> tuple[str, ...]:
    """Who must act on the issue in its stage now (none in a stage without owners)."""
    if not wf.has_state(issue.state):
        return ()
    return org.reach(wf.state(issue.state).owners, issue.village, issue.assignee,
                     issue.group, issue.created_by)


def reached(org: Org, wf: Workflow, issue: Issue, rung: Rung,
            interviewed: Sequence[str] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(everyone told when the rung is raised, its subjects), each person once.
    `interviewed`: the subjects of the stage visit's interview (for `interviewed`)."""
    owners = stage_owners(org, wf, issue)
    unit = org.units.get(issue.village)
    secretary = [unit.secretary] if unit is not None and unit.secretary and any(
        org.village_cadre(p) for p in owners) else []
    known = {"owners": owners, "interviewed": interviewed, "owners_secretary": secretary}

    def reach(specs: Iterable[str]) -> tuple[str, ...]:
        return org.reach(specs, issue.village, issue.assignee, issue.group, issue.created_by,
                         known)

    subjects, acting = reach(rung.subjects), reach(rung.recipients)
    told = acting if rung.level in TOLD_WHEN_DECIDED else (
        *acting, *(p for p in subjects if p not in acting))
    return told, subjects
