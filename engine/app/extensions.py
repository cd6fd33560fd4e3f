"""Extension requests (延期申请): asked before the due moment by whoever answers for the
stage, decided by the village's liaison leader or the party secretary (as the workflow says).
Those who may decide are told of a request, whoever asked of the decision."""

from __future__ import annotations

from datetime import date

from engine.app import notify
from engine.app.session import Session
from engine.app.supervision import acting_on, next_escalation, record
from engine.domain import campaign, text
from engine.domain.decide import fact_event
from engine.domain.escalation import Extension
from engine.domain.events import EventType, ExtensionDecided, ExtensionRequested
from engine.domain.guards import extension_open, may_act
from engine.errors import DeadlineRefused, MissingField, NotFound, Refused


def request(s: Session, issue_id: int, to: date, reason: str) -> Extension:
    """Ask to move the issue's due date to `to`."""
    if not reason.strip():
        raise MissingField("--reason is required")
    text.check("--reason", reason, text.TEXT)
    with s.transaction(write=True) as tx:
        org = s.org(tx)
        actor = s.actor_in(org)
        issue = acting_on(tx, issue_id)
        wf = s.workflow(tx, issue.workflow)
        may_act(org, wf, "request_extension", actor, issue.village, issue.assignee)
        now = s.now(tx)
        extension_open(issue, now, s.timezone(tx))
        assert issue.due_at is not None
        if s.calendar(tx).end_of(to) <= issue.due_at:
            raise DeadlineRefused(f"{to} is not later than the current due date")
        campaign.check_due(org.campaign, to, "the new due date")
        pending = tx.extensions.pending(issue.id, issue.stage_version)
        if pending is not None:
            raise Refused(f"extension {pending.id} for issue {issue_id} is still pending")
        new_id = tx.extensions.insert(Extension(
            id=0, issue_id=issue.id, stage=issue.state, stage_version=issue.stage_version,
            requested_by=actor, requested_at=now, old_due_at=issue.due_at,
            to_date=to.isoformat(), reason=reason, status="pending"))
        after = record(s, tx, issue, fact_event(issue, EventType.EXTENSION_REQUESTED, actor,
                                                now, ExtensionRequested(new_id, to, reason)))
        made = tx.extensions.get(new_id)
        assert made is not None
        notify.tell(tx, notify.Notifier(s, tx).extension_requested(after, wf, made, now), now)
    return made


def decide(s: Session, extension_id: int, approve: bool, note: str | None = None) -> Extension:
    """Approve (the due moment moves, the ladder is computed again) or deny a request."""
    text.check("--note", note, text.TEXT)
    with s.transaction(write=True) as tx:
        org = s.org(tx)
        actor = s.actor_in(org)  # who asks is checked first
        ext = tx.extensions.get(extension_id, for_update=True)
        if ext is None:
            raise NotFound(f"no extension request {extension_id}")
        issue = acting_on(tx, ext.issue_id)
        wf = s.workflow(tx, issue.workflow)
        may_act(org, wf, "decide_extension", actor, issue.village, issue.assignee)
        if ext.status != "pending":
            raise Refused(f"extension {extension_id} is {ext.status}, not pending")
        now = s.now(tx)
        decided = ExtensionDecided(extension_id, note, approve)
        if approve:
            due = s.calendar(tx).end_of(date.fromisoformat(ext.to_date))
            decided = ExtensionDecided(
                extension_id, note, approve, due_at=due,
                next_escalation_at=next_escalation(s, tx, issue, due, issue.supervised))
        status = "approved" if approve else "denied"
        tx.extensions.decide(extension_id, status, now, actor, note)
        after = record(s, tx, issue, fact_event(issue, decided.type, actor, now, decided))
        out = tx.extensions.get(extension_id)
        assert out is not None
        notify.tell(tx, notify.Notifier(s, tx).extension(after, wf, out, now), now)
        s.warn_calendar()
    return out


def listing(s: Session, issue_id: int | None = None,
            pending_only: bool = False) -> list[Extension]:
    with s.transaction(write=False) as tx:
        s.timezone(tx)
        return tx.extensions.matching(issue_id, pending_only)
