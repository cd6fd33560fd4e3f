"""Corrections: another person answers for an issue's stage (reassign), or fields typed wrong
are put right (edit). Each is an event with who, when, why and the old and new values, one
transaction, taken by the people the workflow's `actions` allow (by default: the rectification
group leader and the party secretary reassign; they and information verification edit).
"""

from __future__ import annotations

from datetime import date

from engine.app import issues, notify
from engine.app.session import Session
from engine.app.supervision import acting_on, next_escalation, record
from engine.domain import campaign, text
from engine.domain.decide import fact_event
from engine.domain.events import Edited, EventType, Reassigned
from engine.domain.guards import check_new_due, edit_open, may_act, reassign_open
from engine.domain.issue import Edit, Issue, Move, check_edit, evolve
from engine.errors import MissingField, NotFound, Refused


def reassign(s: Session, issue_id: int, to: str, reason: str, due: date | None = None
             ) -> Issue:
    """Give a studied or rectified issue another assignee; the stage's due moment stays
    unless `due` is given (within the stage's cap counted from now); the ladder's pointer is
    computed again (levels already raised in this stage visit stay raised). The old and the
    new assignee are told."""
    text.check("--to", to, text.LINE)
    text.check("--reason", reason, text.TEXT)
    if not reason.strip():
        raise MissingField("issue reassign needs --reason")
    with s.transaction(write=True) as tx:
        org = s.org(tx)
        actor = s.actor_in(org)
        issue = acting_on(tx, issue_id)
        wf = s.workflow(tx, issue.workflow)
        may_act(org, wf, "reassign", actor, issue.village, issue.assignee)
        reassign_open(issue)
        if to not in org.people:
            raise NotFound(f"unknown person {to!r} for --to")
        if to == issue.assignee:
            raise Refused(f"{to} is already the assignee of issue {issue.id}")
        now = s.now(tx)
        cal = s.calendar(tx)
        due_at = issue.due_at
        if due is not None:
            check_new_due(cal, wf.state(issue.state).deadline, now, due)
            campaign.check_due(org.campaign, due)
            due_at = cal.end_of(due)
        nxt = next_escalation(s, tx, issue, due_at, issue.supervised)
        event = fact_event(issue, EventType.REASSIGNED, actor, now, Reassigned(
            old=issue.assignee, new=to, reason=reason, due_at=due_at, next_escalation_at=nxt,
            due=due))
        after = record(s, tx, issue, event)
        notify.tell(tx, notify.Notifier(s, tx).reassigned(wf, after, issue.assignee, reason,
                                                          now), now)
        s.warn_calendar()
    return after


def edit(s: Session, command: Edit) -> Issue:
    """Put right fields of an issue that is not closed; a village changed brings its listing
    (and the ladder that goes with it)."""
    given = check_edit(command)
    with s.transaction(write=True) as tx:
        org = s.org(tx)
        actor = s.actor_in(org)
        issue = acting_on(tx, command.issue_id)
        wf = s.workflow(tx, issue.workflow)
        may_act(org, wf, "edit", actor, issue.village, issue.assignee)
        edit_open(issue, wf.final)
        village = given.get("village")
        if village is not None and village not in org.units:
            raise NotFound(f"unknown village {village!r}")
        group = given.get("group")
        if group is not None and group not in org.groups:
            raise NotFound(f"unknown group {group!r}")
        changes = {name: (getattr(issue, name), new) for name, new in given.items()
                   if getattr(issue, name) != new}
        if not changes:
            raise Refused(f"issue {issue.id} already has these values: nothing to change")
        listed = issue.listed_by_village
        if village is not None and "village" in changes:
            listed = org.units[village].listed
        nxt = issue.next_escalation_at
        if listed != issue.listed_by_village:
            nxt = next_escalation(s, tx, issue, issue.due_at, issue.listed or listed)
        now = s.now(tx)
        event = fact_event(issue, EventType.EDITED, actor, now, Edited(
            changes=changes, reason=command.reason, listed_by_village=listed,
            next_escalation_at=nxt))
        after = evolve(issue, event)
        tx.issues.update_all(after, issue.version)
        tx.append(event, s.recorded_at())
        s.warn_calendar()
    return after


def void(s: Session, issue_id: int, reason: str, duplicate_of: int | None = None,
         note: str | None = None) -> Issue:
    """Void an issue found in error or twice (作废): the workflow's `void` transition, which
    decides who may and from which stages; `duplicate_of` must be another issue (checked in
    the move's transaction)."""
    return issues.move(s, Move(issue_id=issue_id, transition="void", reason=reason, note=note,
                               duplicate_of=duplicate_of))
