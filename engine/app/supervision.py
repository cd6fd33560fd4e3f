"""Supervision: the sweep that raises escalations, the board, the records that close them, and
listing a village (挂牌督战).

The sweep works through the due issues in batches, one transaction each; several processes may
sweep at once (PostgreSQL: FOR UPDATE SKIP LOCKED; the unique key on (issue, stage visit,
level) makes each escalation exactly once whatever the interleaving).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.app import notify
from engine.app.session import Session
from engine.app.sweep import BATCH, sweep
from engine.domain import ladder, text
from engine.domain.decide import fact_event
from engine.domain.escalation import OUTCOMES, Escalation
from engine.domain.events import (
    EscalationClosed,
    Event,
    EventType,
    VillageListing,
)
from engine.domain.guards import may_act
from engine.domain.issue import Issue, evolve
from engine.errors import BadOption, MissingField, NotFound, RectifyError, Refused
from engine.store.escalations import EscalationFilter
from engine.store.unit_of_work import Tx


def escalate(s: Session, batch: int = BATCH) -> list[Escalation]:
    """One sweep at the session's time: raise every level that has come due, once; all it
    raised, as a list (for a few; `engine.app.sweep.sweep` hands a large sweep back batch by
    batch)."""
    return [e for done in sweep(s, batch) for e in done.raised]


# --- the board ---------------------------------------------------------------------------------
def escalations(s: Session, f: EscalationFilter) -> list[Escalation]:
    with s.transaction(write=False) as tx:
        s.timezone(tx)
        return tx.escalations.matching(f)


def escalation(s: Session, escalation_id: int) -> Escalation:
    with s.transaction(write=False) as tx:
        s.timezone(tx)
        found = tx.escalations.get(escalation_id)
    if found is None:
        raise NotFound(f"no escalation {escalation_id}")
    return found


# --- closing an escalation ----------------------------------------------------------------------
def record_interview(s: Session, escalation_id: int, note: str,
                     attendees: Sequence[str] = ()) -> Escalation:
    """Record the interview (约谈) an interview escalation asked for."""
    return _close(s, escalation_id, note, attendees, decide=False)


def decide_accountability(s: Session, escalation_id: int, note: str,
                          outcome: str | None = None,
                          subjects: Sequence[str] | None = None) -> Escalation:
    """Record the party secretary's accountability decision (问责): its outcome (OUTCOMES)
    and, when given, who answers for it (else the subjects it was raised with). The
    subjects and the quality-supervision leaders are told."""
    if outcome is not None and outcome not in OUTCOMES:
        raise BadOption(f"unknown outcome {outcome!r} (one of {', '.join(OUTCOMES)})")
    return _close(s, escalation_id, note, (), decide=True, outcome=outcome,
                  subjects=None if subjects is None else tuple(dict.fromkeys(subjects)))


def a_level(level: str) -> str:
    """A level with its article, as a sentence names it: `a reminder`, `an interview`, `an
    accountability case`."""
    noun = "accountability case" if level == "accountability" else level
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _close(s: Session, escalation_id: int, note: str, attendees: Sequence[str],
           decide: bool, outcome: str | None = None,
           subjects: tuple[str, ...] | None = None) -> Escalation:
    if not note.strip():
        raise MissingField("--note is required")
    text.check("--note", note, text.TEXT)
    with s.transaction(write=True) as tx:
        org = s.org(tx)
        actor = s.actor_in(org)  # who asks is checked first
        found = tx.escalations.get(escalation_id, for_update=True)
        if found is None:
            raise NotFound(f"no escalation {escalation_id}")
        issue = acting_on(tx, found.issue_id)
        wf = s.workflow(tx, issue.workflow)
        if decide:
            if found.level != "accountability":
                raise Refused(f"escalation {escalation_id} is {a_level(found.level)}: only"
                              " an accountability case takes a decision")
            may_act(org, wf, "decide_accountability", actor, issue.village, issue.assignee)
            status, kind = "decided", EventType.ACCOUNTABILITY_DECIDED
        else:
            if found.level != "interview":
                raise Refused(f"escalation {escalation_id} is {a_level(found.level)}, not"
                              " an interview" + (": use `escalation decide`"
                                              if found.level == "accountability" else ""))
            may_act(org, wf, "record_interview", actor, issue.village, issue.assignee)
            status, kind = "recorded", EventType.INTERVIEW_RECORDED
        if found.status != "open":
            raise Refused(f"escalation {escalation_id} is {found.status}, not open")
        for person in attendees:
            if person not in org.people:
                raise NotFound(f"unknown person {person!r} for --with")
        for person in subjects or ():
            if person not in org.people:
                raise NotFound(f"unknown person {person!r} for --subject")
        now = s.now(tx)
        tx.escalations.close(escalation_id, status, now, actor, note, attendees, outcome,
                             subjects)
        record(s, tx, issue, fact_event(issue, kind, actor, now, EscalationClosed(
            escalation_id, note, tuple(attendees), outcome, subjects)))
        closed = tx.escalations.get(escalation_id)
        assert closed is not None
        told = notify.Notifier(s, tx)
        if decide:
            notify.tell(tx, told.accountability_decided(issue, wf, closed, actor, now), now)
        else:
            notify.tell(tx, told.interview_recorded(issue, wf, closed, note, actor, now), now)
    assert closed is not None
    return closed


def acting_on(tx: Tx, issue_id: int) -> Issue:
    """The issue a leader's command acts on, locked."""
    issue = tx.issues.get(issue_id, for_update=True)
    if issue is None:
        raise NotFound(f"no issue {issue_id}")
    return issue


def record(s: Session, tx: Tx, issue: Issue, event: Event,
           recorded_at: datetime | None = None) -> Issue:
    """Write an event and the issue row it gives, with the version check."""
    after = evolve(issue, event)
    tx.issues.update(after, issue.version)
    tx.append(event, recorded_at or s.recorded_at())
    return after


def next_escalation(s: Session, tx: Tx, issue: Issue, due: datetime | None,
                    listed: bool) -> datetime | None:
    """The ladder's next moment for this stage visit, levels already raised left out."""
    wf = s.workflow(tx, issue.workflow)
    steps = ladder.plan(s.calendar(tx), wf.ladder, due, listed)
    return ladder.next_moment(steps, tx.escalations.raised_levels(issue.id,
                                                                  issue.stage_version))


# --- listing a village (挂牌督战) -------------------------------------------------------------
def may_list(s: Session, tx: Tx) -> bool:
    """Whether the session's actor may list or unlist villages (the board shows the switch)."""
    org = s.org(tx)
    try:
        may_act(org, s.current_workflow(tx), "list_village", s.actor_in(org), None, None)
    except RectifyError:
        return False
    return True


def list_village(s: Session, village: str, listed: bool) -> list[int]:
    """List or unlist a village; its open issues follow the ladder that goes with it. The ids
    of the issues that changed ladder."""
    with s.transaction(write=True) as tx:
        org = s.org(tx)
        actor = s.actor_in(org)
        wf = s.current_workflow(tx)
        may_act(org, wf, "list_village", actor, None, None)
        unit = org.units.get(village)
        if unit is None:
            raise NotFound(f"unknown village {village!r}")
        if unit.listed == listed:
            raise Refused(f"{village} is already {'listed' if listed else 'not listed'}")
        tx.org.set_village_listed(village, listed)
        now = s.now(tx)
        from engine.app.configuration import TownLog, record_org

        record_org(TownLog(s, tx), now, actor)  # the listing is part of the org in force
        changed: list[int] = []
        recorded_at = s.recorded_at()
        kind = EventType.VILLAGE_LISTED if listed else EventType.VILLAGE_UNLISTED
        for issue_id in tx.issues.open_ids(village, wf.final):
            issue = acting_on(tx, issue_id)
            if issue.listed_by_village == listed:
                continue
            nxt = next_escalation(s, tx, issue, issue.due_at, issue.listed or listed)
            record(s, tx, issue, fact_event(issue, kind, actor, now,
                                            VillageListing(village, nxt)), recorded_at)
            changed.append(issue_id)
        s.defs.org = None  # the village's listing changed
        s.warn_calendar()
    return changed
