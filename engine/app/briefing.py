"""The meeting briefing (定期例会): where things stand, what came overdue and what was cleared
since the last briefing, the open interviews and accountability cases — printed, or queued
for the configured leaders (the scheduler's cron job)."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.app import notify
from engine.app.session import Session, configuration_errors
from engine.domain.escalation import Escalation
from engine.errors import BadConfig
from engine.store.escalations import EscalationFilter
from engine.store.issues import IssueFilter
from notifications.contexts import (
    BriefingContext,
    BriefingMessage,
    CaseContext,
    TownContext,
    VillageCounts,
)


def briefing(s: Session, since: datetime | None = None) -> BriefingMessage:
    """The briefing at the session's time, from `since` (naive: town time; default the last
    briefing, else a week ago)."""
    with s.transaction(write=False) as tx:
        org, tz, now = s.org(tx), s.timezone(tx), s.now(tx)
        if since is None:
            last = tx.definitions.get_meta("last_briefing_at")
            since = datetime.fromisoformat(last) if last else now - timedelta(days=7)
        elif since.tzinfo is None:
            since = since.replace(tzinfo=tz)
        wf = s.current_workflow(tx)
        told = notify.Notifier(s, tx)
        issues = tx.issues.matching(IssueFilter())
        by_village: dict[str, dict[str, int]] = {}
        newly_overdue, cleared = [], []
        for i in issues:
            if not wf.is_final(i.state):
                counts = by_village.setdefault(i.village, {})
                counts[i.state] = counts.get(i.state, 0) + 1
                if i.due_at is not None and since <= i.due_at <= now:
                    newly_overdue.append(told.issue_context(i, wf, now))
            elif since <= i.stage_entered_at <= now:
                cleared.append(told.issue_context(i, wf, now))
        open_cases = tx.escalations.matching(EscalationFilter(open_only=True))
        by_id = {i.id: i for i in issues}

        def case(e: Escalation) -> CaseContext:
            return CaseContext(told.issue_context(by_id[e.issue_id], wf, now),
                               told.names(e.subjects or e.recipients), _local(e.raised_at, s))

        return BriefingMessage(TownContext(org.town.name), BriefingContext(
            since=_local(since, s), until=_local(now, s),
            by_village=tuple(
                VillageCounts(org.units[v].name if v in org.units else v,
                              {x.name: by_village[v][x.name] for x in wf.states
                               if x.name in by_village[v]})
                for v in sorted(by_village)),
            newly_overdue=tuple(newly_overdue), cleared=tuple(cleared),
            open_interviews=tuple(case(e) for e in open_cases
                                  if e.level == "interview" and e.issue_id in by_id),
            open_accountability=tuple(case(e) for e in open_cases
                                      if e.level == "accountability" and e.issue_id in by_id),
            stages=tuple(x.name for x in wf.states
                         if any(x.name in counts for counts in by_village.values()))))


def printed(s: Session, message: BriefingMessage) -> str:
    """The briefing as text, addressed to everyone at the meeting."""
    from notifications.render import Renderer

    cfg = s.app.config()
    everyone = "各位领导" if cfg.locale == "zh_CN" else "all"
    with configuration_errors():
        return Renderer(cfg.locale, cfg.templates).render(
            "briefing", message.to_dict(everyone)).text


def check_templates(s: Session) -> str:
    """Render every template of the configured locale against a sample; its locale."""
    from notifications.render import check

    cfg = s.app.config()
    with configuration_errors():
        problems = check(cfg.locale, cfg.templates)
    if problems:
        raise BadConfig(f"{len(problems)} template problem(s): {'; '.join(problems)}")
    return cfg.locale


def send(s: Session, since: datetime | None = None) -> list[str]:
    """Queue the briefing (from `since`, as `briefing`) for the configured leaders, one
    message each; the people it is addressed to. The same minute queues it once."""
    message = briefing(s, since)
    with s.transaction(write=True) as tx:
        org, now = s.org(tx), s.now(tx)
        cfg = s.app.config()
        people: list[str] = []
        for who in cfg.briefing.to:
            found = [who] if who in org.people else [
                p for u in org.units.values() for p in org.holders(who, u.id, None)]
            people += [p for p in found if p not in people]
        # the minute of the cron slot: schedulers firing the same slot queue it once
        stamp = now.astimezone(s.timezone(tx)).strftime("%Y-%m-%dT%H:%M")
        rows = notify.Notifier(s, tx).messages("briefing", people, f"briefing:{stamp}",
                                               message, None)
        notify.tell(tx, rows, now)
        tx.definitions.set_meta("last_briefing_at", now.isoformat())
    return [row.person for row in rows]


def _local(moment: datetime, s: Session) -> str:
    return moment.astimezone(s.town_tz).strftime("%Y-%m-%d %H:%M")
