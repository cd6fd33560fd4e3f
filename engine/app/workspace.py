"""What a signed-in person has to do now (我的待办): the open issues whose current stage they
own (engine.domain.owners), the open escalations that reach them (to act on or to answer
for), and the extension requests waiting for their decision; the most urgent first.

One read transaction; the web workspace's first page and `GET /api/me/queue` show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.app.issues import lights_in, permitted_in
from engine.app.session import Session
from engine.domain.escalation import Escalation, Extension
from engine.domain.events import Event
from engine.domain.guards import may_act
from engine.domain.issue import Issue
from engine.domain.org import Org
from engine.domain.owners import stage_owners
from engine.domain.workflow import Workflow
from engine.errors import NotFound, NotPermitted
from engine.store.escalations import EscalationFilter
from engine.store.unit_of_work import Tx

URGENCY = {"red": 0, "yellow": 1, "green": 2, None: 3}
"""Lights in the order a person should look at them."""
FAR = datetime.max.replace(tzinfo=None)


@dataclass(frozen=True)
class Queue:
    """A person's queue: each list sorted most urgent first."""

    person: str
    issues: list[Issue]
    escalations: list[Escalation]
    extensions: list[Extension]
    lights: dict[int, str | None]
    """Every issue named by the three lists: its light now."""
    issues_by_id: dict[int, Issue]
    """The issues the escalations and extensions are about (titles for the page)."""


def my_queue(s: Session) -> Queue:
    """The queue of the session's actor at the session's time."""
    with s.transaction(write=False) as tx:
        org = s.org(tx)
        person = s.actor_in(org)
        mine = [i for i in _candidates(s, tx, org, person)
                if person in stage_owners(org, s.workflow(tx, i.workflow), i)]
        by_id = {i.id: i for i in mine}
        escalations = tx.escalations.matching(EscalationFilter(open_only=True, to=person))
        extensions = []
        for x in tx.extensions.matching(pending_only=True):
            issue = by_id.get(x.issue_id) or tx.issues.get(x.issue_id)
            if issue is None or x.requested_by == person:
                continue
            try:
                may_act(org, s.workflow(tx, issue.workflow), "decide_extension", person,
                        issue.village, issue.assignee)
            except NotPermitted:
                continue
            by_id[issue.id] = issue
            extensions.append(x)
        for e in escalations:
            if e.issue_id not in by_id:
                found = tx.issues.get(e.issue_id)
                if found is not None:
                    by_id[found.id] = found

        lights = lights_in(s, tx, list(by_id.values()))

    def urgency(i: Issue) -> tuple[int, datetime, int]:
        due = i.due_at.replace(tzinfo=None) if i.due_at is not None else FAR
        return URGENCY.get(lights.get(i.id), 3), due, i.id

    mine.sort(key=urgency)
    escalations.sort(key=lambda e: (e.due_at.replace(tzinfo=None), e.id))
    extensions.sort(key=lambda x: (x.old_due_at.replace(tzinfo=None)
                                   if x.old_due_at else FAR, x.id))
    return Queue(person, mine, escalations, extensions, lights, by_id)


def _candidates(s: Session, tx: Tx, org: Org, person: str) -> list[Issue]:
    """A superset of the open issues whose stage `person` owns, read by SQL rather than
    every open issue: those in a stage whose owners include a town-wide role the person
    holds (a rectification leader's *reported*), and those tied to the person — the
    assignee, who added it, their group, their village (the roles that depend on the issue:
    assignee, added_by, finders, village_secretary, liaison). The owners are told exactly
    after."""
    town_wide: set[str] = set()
    final: set[str] = set()
    for key, _digest, _body in tx.definitions.workflow_rows():
        wf = s.workflow(tx, key)
        final.update(wf.final)
        town_wide.update(st.name for st in wf.states
                         if st.owners and person in org.reach(st.owners, "", None))
    me = org.people[person]
    villages = {me.unit, *(u.id for u in org.units.values()
                           if person in (u.secretary, u.liaison))}
    return tx.issues.tied_to(person, town_wide - final, [g.id for g in org.groups_of(person)],
                             villages, final)


@dataclass(frozen=True)
class IssueView:
    """What an issue's page shows, read in one transaction."""

    issue: Issue
    light: str | None
    events: list[Event]
    allowed: list[str]
    """What the reader may do now (issues.permitted)."""
    workflow: Workflow
    pending: list[Extension]
    """Extension requests waiting for a decision."""


def issue_view(s: Session, issue_id: int) -> IssueView:
    """An issue, its light, its history, what the session's actor may do on it and its open
    extension requests, in one read."""
    with s.transaction(write=False) as tx:
        issue = tx.issues.get(issue_id)
        if issue is None:
            raise NotFound(f"no issue {issue_id}")
        wf = s.workflow(tx, issue.workflow)
        light = lights_in(s, tx, [issue])[issue.id]
        return IssueView(issue, light, tx.history.of_issue(issue_id),
                         permitted_in(s, tx, issue), wf,
                         tx.extensions.matching(issue_id, pending_only=True))
