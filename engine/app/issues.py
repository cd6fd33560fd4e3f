"""Issues: add one, move one through the workflow, look at them, and ask what a person may do.

A move is one transaction: lock the issue, ask the workflow's machine (its guards check the
rules), end what the stage visit left open, write the row and the event, queue the messages
the workflow names, and keep the evidence files by content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from engine.app import evidence
from engine.app.session import Session
from engine.domain import campaign
from engine.domain.decide import Context, context_of, created_event, decide_move
from engine.domain.escalation import issue_light
from engine.domain.events import Event
from engine.domain.issue import Issue, Move, NewIssue, check_new_issue, check_text, evolve
from engine.domain.org import Org
from engine.domain.tally import Counts, moved
from engine.domain.workflow import Workflow
from engine.errors import BadOption, NotFound, NotPermitted, RectifyError
from engine.store.issues import IssueFilter
from engine.store.unit_of_work import Tx


def add(s: Session, new: NewIssue) -> Issue:
    """A problem found: the issue starts in the workflow's first stage."""
    check_new_issue(new)
    with s.transaction(write=True, fast=True) as tx:
        org = s.org(tx)
        actor = s.actor_in(org)
        if not org.may_add_issues(actor):
            raise NotPermitted(f"{actor} may not add issues: not a member of any group")
        check_refs(org, new.village, new.group)
        ctx = context(s, tx, s.current_workflow(tx), actor, org.roles_of(actor))
        event = created_event(0, new, ctx, village_listed=org.units[new.village].listed)
        issue = evolve(None, event)
        issue_id = tx.issues.insert(issue)
        tx.append(replace(event, issue_id=issue_id), s.recorded_at())
        s.warn_calendar()
    return replace(issue, id=issue_id)


def check_refs(org: Org, village: str, group: str | None) -> None:
    if village not in org.units:
        raise NotFound(f"unknown village {village!r}")
    if group is not None and group not in org.groups:
        raise NotFound(f"unknown group {group!r}")


def context(s: Session, tx: Tx, wf: Workflow, actor: str, roles: frozenset[str],
            prior: dict[str, frozenset[str]] | None = None,
            village: str | None = None) -> Context:
    """What a decision by `actor` (the session's, known to the org) needs, now."""
    unit = s.org(tx).units.get(village) if village else None
    return context_of((  # Context's fields in their order
        wf, s.machine(wf), s.calendar(tx), s.now(tx), actor, roles, bool(unit and unit.listed),
        prior or {}))


def move(s: Session, command: Move, files: Sequence[Path] = ()) -> Issue:
    """Fire a transition on an issue, with its evidence files."""
    if not files:  # nothing to store, nothing to keep or abandon
        return _fire(s, command)
    staged = evidence.stage(s.app.data_dir, files, s.app.evidence_limit)  # stored as hashed
    if staged.held:
        command = replace(command, evidence=staged.records)
    try:
        after = _fire(s, command)
    except BaseException:
        staged.abandon()
        raise
    staged.kept()
    return after


def _fire(s: Session, command: Move) -> Issue:
    """One move's transaction (its evidence already stored, named in the command)."""
    with s.transaction(write=True, fast=True) as tx:
        org = s.org(tx)
        actor = s.actor_in(org)
        issue = tx.issues.get(command.issue_id, for_update=True)
        if issue is None:
            raise NotFound(f"no issue {command.issue_id}")
        if command.assignee is not None and command.assignee not in org.people:
            raise NotFound(f"unknown person {command.assignee!r} for --assignee")
        if command.duplicate_of is not None:
            if command.duplicate_of == issue.id:
                raise BadOption(f"issue {issue.id} cannot be a duplicate of itself")
            if tx.issues.get(command.duplicate_of) is None:
                raise NotFound(f"no issue {command.duplicate_of} for --duplicate-of")
        after = fire_in(s, tx, org, actor, issue, command)
        s.warn_calendar()
    return after


def fire_in(s: Session, tx: Tx, org: Org, actor: str, issue: Issue, command: Move) -> Issue:
    """A transition on `issue` (read for update) in a write transaction the caller holds: the
    machine asked, the stage visit's escalations and requests ended, the row and the event
    written, the workflow's messages queued (a move; a failed spot check's reopen)."""
    wf = s.workflow(tx, issue.workflow)
    t = wf.transition(command.transition)
    prior = tx.history.prior_actors(issue.id, t.forbid_actors_of) if t and t.forbid_actors_of \
        else {}
    roles = org.roles_for_issue(actor, issue.village, issue.assignee)
    ctx = context(s, tx, wf, actor, roles, prior, issue.village)
    event = decide_move(issue, command, ctx, supersede(tx, issue, ctx.now, actor))
    if command.due is not None:
        campaign.check_due(org.campaign, command.due)
    after = evolve(issue, event)
    tx.issues.update(after, issue.version, issue)
    tx.append(event, s.recorded_at())
    if t is not None and t.notify:
        from engine.app import notify  # here: a command that only reads never loads it

        notify.tell(tx, notify.Notifier(s, tx).transition(wf, t, after, event), event.at)
    return after


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one issue of a bulk move: the issue moved, or the error that refused it
    (nothing of that issue changed)."""

    issue_id: int
    issue: Issue | None = None
    error: RectifyError | None = None


def move_each(s: Session, issue_ids: Sequence[int], command: Move,
              files: Sequence[Path] = ()) -> list[Outcome]:
    """Fire the same transition on each issue, each in its own transaction (the evidence
    stored once for all of them); an issue refused does not stop the others.
    `--expect-version` names one issue's version, so it is refused here."""
    if command.expect_version is not None and len(issue_ids) != 1:
        raise BadOption("--expect-version is only for a move of a single issue")
    staged = evidence.stage(s.app.data_dir, files, s.app.evidence_limit)
    if staged.held:
        command = replace(command, evidence=staged.records)
    out: list[Outcome] = []
    try:
        for issue_id in issue_ids:
            try:
                out.append(Outcome(issue_id, issue=_fire(s, replace(command,
                                                                    issue_id=issue_id))))
            except RectifyError as e:
                out.append(Outcome(issue_id, error=e))
    finally:  # the blobs stay if any move named them
        if any(o.issue is not None for o in out):
            staged.kept()
        else:
            staged.abandon()
    return out


def supersede(tx: Tx, issue: Issue, at: datetime, by: str
              ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """End what is still open of the stage visit the issue leaves: (escalations, extension
    requests). Only events after entering the stage can have left something open: when the
    issue's version is still the stage's, nothing is run."""
    if issue.version == issue.stage_version:
        return (), ()
    return (tuple(tx.escalations.supersede_open(issue.id, issue.stage_version, at, by)),
            tuple(tx.extensions.supersede_pending(issue.id, issue.stage_version, at, by)))


# --- reading ------------------------------------------------------------------------------------
def show(s: Session, issue_id: int) -> Issue:
    with s.transaction(write=False) as tx:
        s.timezone(tx)
        return shown_in(tx, issue_id)


def shown_in(tx: Tx, issue_id: int) -> Issue:
    """`show` in a transaction the caller holds."""
    issue = tx.issues.get(issue_id)
    if issue is None:
        raise NotFound(f"no issue {issue_id}")
    return issue


def history(s: Session, issue_id: int) -> list[Event]:
    with s.transaction(write=False) as tx:
        s.timezone(tx)
        events = tx.history.of_issue(issue_id)
    if not events:
        raise NotFound(f"no issue {issue_id}")
    return events


VOIDED = ("voided",)
"""Issues voided (作废: found in error or twice) leave the ledger's counts and lists unless
asked for by state."""


def listing(s: Session, states: Sequence[str] = (), villages: Sequence[str] = (),
            assignees: Sequence[str] = (), overdue: bool = False, search: str | None = None,
            household: str | None = None) -> list[Issue]:
    """The ledger (台账), filtered: each of `states`, `villages`, `assignees` any of its values
    (none given: no condition); `search` a substring of the title, household or description,
    `household` of the household; `overdue`: open issues past their due moment now."""
    for name, value in (("--search", search), ("--household", household)):
        check_text(name, value)
    with s.transaction(write=False) as tx:
        s.timezone(tx)
        final: tuple[str, ...] = ()
        now = None
        if overdue:
            final = s.current_workflow(tx).final
            now = s.now(tx)
        return tx.issues.matching(IssueFilter(
            states=tuple(states), villages=tuple(villages), assignees=tuple(assignees),
            search=search or None, household=household or None, overdue_at=now,
            final_states=final, hidden_states=VOIDED))


@dataclass(frozen=True)
class Page:
    """One page of the ledger: its issues (with their lights) and how many match in all; the
    village × stage counts of the whole town and the workflow's stages (the voided aside)."""

    issues: list[Issue]
    lights: dict[int, str | None]
    total: int
    counts: list[tuple[str, str, int]]
    states: list[str]


def ledger_page(s: Session, f: IssueFilter, offset: int, size: int) -> Page:
    """A page of the ledger filtered by `f` (voided left out unless asked for by state), in
    one read: the rows of the page and the count (the town's counts when nothing is filtered),
    lights for those rows only, and the town's village × stage counts (`summary`)."""
    check_text("--search", f.search)
    with s.transaction(write=False) as tx:
        counts = summary_in(s, tx)
        states = [st.name for st in s.current_workflow(tx).states if st.name not in VOIDED]
        f = replace(f, hidden_states=VOIDED, limit=size, offset=max(0, offset))
        unfiltered = f == IssueFilter(hidden_states=VOIDED, limit=size, offset=f.offset)
        total = sum(n for _, _, n in counts) if unfiltered else tx.issues.count(f)
        found = tx.issues.matching(f)
        return Page(found, lights_in(s, tx, found), total, counts, states)


def summary(s: Session) -> list[tuple[str, str, int]]:
    """(village, state, count) of every issue but the voided."""
    with s.transaction(write=False) as tx:
        return summary_in(s, tx)


SUMMARY_CATCH_UP = 2_000
"""At most this many events since the counts were last told are applied to them (more:
counted again)."""


def summary_in(s: Session, tx: Tx) -> list[tuple[str, str, int]]:
    """`summary` in a transaction the caller holds. Kept by the app with the seq of the last
    event it tells: brought up to date by the events written since (engine.domain.tally),
    counted again when one of those may have moved an issue in a way they do not tell."""
    s.timezone(tx)
    kept: tuple[int, Counts] | None = s.app.memo.get("summary")
    mark, counts = 0, None
    if kept is not None:
        since = tx.history.placing_since(kept[0], SUMMARY_CATCH_UP)
        if since is not None:
            mark, events = since
            counts = moved(kept[1], events) if events else kept[1]
    if counts is None:
        mark, rows = tx.issues.counted_at()
        counts = {(v, st): n for v, st, n in rows}
    if kept is None or kept[0] < mark:
        s.app.memo["summary"] = (mark, counts)
    return sorted((v, st, n) for (v, st), n in counts.items() if n and st not in VOIDED)


def lights(s: Session, issues: Sequence[Issue]) -> dict[int, str | None]:
    """Each issue's light at the session's time (green, yellow, red; None when closed)."""
    if not issues:
        return {}
    with s.transaction(write=False) as tx:
        return lights_in(s, tx, issues)


def lights_in(s: Session, tx: Tx, issues: Sequence[Issue]) -> dict[int, str | None]:
    """`lights` in a transaction the caller holds."""
    cal = s.calendar(tx)
    now = s.now(tx)
    out: dict[int, str | None] = {}
    for i in issues:
        wf = s.workflow(tx, i.workflow)
        out[i.id] = issue_light(cal, wf.ladder, i, now, wf.is_final(i.state))
    return out


def permitted(s: Session, issue_id: int) -> list[str]:
    """What the session's actor may fire on the issue now: its transitions and actions (the
    buttons of a page), as the workflow's machine answers."""

    with s.transaction(write=False) as tx:
        issue = tx.issues.get(issue_id)
        if issue is None:
            raise NotFound(f"no issue {issue_id}")
        return permitted_in(s, tx, issue)


def permitted_in(s: Session, tx: Tx, issue: Issue) -> list[str]:
    """`permitted` in a transaction the caller holds (a page reading all it shows at once)."""
    from engine.statemachine import Asked

    org = s.org(tx)
    actor = s.actor_in(org)
    wf = s.workflow(tx, issue.workflow)
    forbidding = {o for t in wf.transitions for o in t.forbid_actors_of}
    prior = tx.history.prior_actors(issue.id, sorted(forbidding))
    roles = org.roles_for_issue(actor, issue.village, issue.assignee)
    return s.machine(wf).permitted(Asked(issue, actor, roles, org, s.calendar(tx), prior,
                                         s.now(tx)))
