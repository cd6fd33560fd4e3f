"""Who is told what: outbox messages written in the same transaction as the event they tell of.

One row per recipient, each with a stable idempotency key and the context its template will be
rendered with (the typed contexts of `notifications.contexts`): a snapshot of the issue as it
stood when the event happened. The channels are not chosen here: a dispatcher routes each
message with the configuration in force when it sends it (engine.app.dispatch). Which
transition tells whom is the workflow's data (`TransitionDef.notify`); how each kind of message
is made is here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from engine.app.session import Session
from engine.domain.escalation import Escalation, Extension
from engine.domain.events import Event
from engine.domain.issue import Issue
from engine.domain.workflow import Notice, TransitionDef, Workflow
from engine.store.outbox import Message
from engine.store.unit_of_work import Tx
from notifications.context_text import ContextText
from notifications.contexts import (
    AssignmentMessage,
    EscalationContext,
    EscalationMessage,
    ExtensionContext,
    ExtensionMessage,
    ExtensionRequestMessage,
    InterviewRecordedMessage,
    IssueContext,
    ReassignmentMessage,
    RejectionMessage,
    TownContext,
    VoidedMessage,
)
from notifications.contexts import Message as Context
from notifications.labels import LABELS

NEXT_STEP = {
    "zh_CN": {
        "reminder": "请在截止前完成本阶段工作；确有困难的，请在截止前提出延期申请。",
        "reminder_no_extension": "请在截止前完成本阶段工作。",
        "reminder_late": "本阶段已超过办理时限，不能再申请延期，请立即完成。",
        "interview": "请约谈上述责任人，听取超期原因和整改措施，约谈后在整改系统中如实记录。",
        "interview_subject": "请按时参加约谈，说明未按期完成的原因，并提出限期整改措施。",
        "accountability": "请按考核问责制度研究处理意见，并督促立即整改到位。",
        "accountability_copy": "请知悉，并督促责任人立即整改到位。",
        "assignment": "请按整改方案在截止日前完成整改，并上传佐证材料。",
        "rejection": "请按退回意见重新整改，并在截止日前重新上传佐证材料。",
        "extension": "请按现行办理时限完成本阶段工作。",
        "extension_request": "请及时审批该延期申请（同意或不同意，可附审批意见）；"
                             "审批前仍按现行办理时限督办。",
        "interview_recorded": "请按约谈要求抓好整改落实。",
        "accountability_decided": "请按问责决定抓好落实，并督促立即整改到位。",
        "reassignment": "请将已掌握的情况和材料移交新的责任人。",
        "voided": "该问题无需再办；如有异议，请联系信息核查组或整改组组长。",
    },
    "en": {
        "reminder": "Finish this stage before the deadline, or ask for an extension before it.",
        "reminder_no_extension": "Finish this stage before the deadline.",
        "reminder_late": "This stage is past its deadline and can no longer be extended:"
                         " finish it now.",
        "interview": "Hold the interview with those named, then record it in the system.",
        "interview_subject": "Attend the interview, explain the delay and commit to a date.",
        "accountability": "Decide on accountability and see that it is put right at once.",
        "accountability_copy": "For your information; see that it is put right at once.",
        "assignment": "Carry out the plan before the due date and upload the evidence.",
        "rejection": "Rectify again as the rejection says and upload new evidence in time.",
        "extension": "Finish by the due date now in force.",
        "extension_request": "Approve or deny the request (a note may say why); until then"
                             " the current due date stands.",
        "interview_recorded": "See that what the interview asked for is done.",
        "accountability_decided": "Act on the decision and see that the issue is put right.",
        "reassignment": "Hand what you know and have over to the new assignee.",
        "voided": "Nothing more to do on it; if you disagree, ask information verification.",
    },
}


def tell(tx: Tx, messages: Sequence[Message], now: datetime) -> None:
    if messages:
        tx.outbox.add(messages, now)


class Notifier:
    """Makes outbox messages; knows the org, the calendar and the language."""

    def __init__(self, s: Session, tx: Tx) -> None:
        cfg = s.app.config()
        self.org = s.org(tx)
        self.calendar = s.calendar(tx)
        self.tz = s.timezone(tx)
        self.locale = cfg.locale if cfg.locale in NEXT_STEP else "zh_CN"
        self._reach: dict[tuple[str, str, str, str | None], tuple[str, ...]] = {}
        self._dues: dict[tuple[datetime, datetime], tuple[str, int]] = {}
        self._names: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._texts = ContextText()
        self._town = TownContext(self.org.town.name)
        self._shapes: dict[tuple[object, ...], tuple[tuple[str, str, str], ...]] = {}

    # --- contexts -------------------------------------------------------------------------------
    def issue_context(self, issue: Issue, wf: Workflow, now: datetime) -> IssueContext:
        unit = self.org.units.get(issue.village)
        assignee = self.org.people.get(issue.assignee or "")
        due_text, late = self._due(issue.due_at, now)
        label = wf.state(issue.state).label if wf.has_state(issue.state) else issue.state
        return IssueContext(
            id=issue.id, title=issue.title, village=issue.village,
            village_name=unit.name if unit else issue.village,
            household=issue.household or "", category=issue.category, stage=issue.state,
            stage_label=label or issue.state, due=due_text, late_working_days=late,
            assignee_name=assignee.name if assignee else "", listed=issue.supervised)

    def _due(self, due: datetime | None, now: datetime) -> tuple[str, int]:
        """The due moment as text and the working days past it at `now` (remembered: the
        issues of a sweep share their due moments)."""
        if due is None:
            return "", 0
        found = self._dues.get((due, now))
        if found is None:
            last_day = (due.astimezone(self.tz) - timedelta(seconds=1)).date()
            due_text = (f"{last_day.isoformat()} 止" if self.locale == "zh_CN"
                        else f"by {last_day.isoformat()}")
            late = 0
            if now >= due:  # working days fully past the due moment (at least 1)
                yesterday = self.calendar.local_date(now) - timedelta(days=1)
                late = max(1, self.calendar.working_days_between(last_day, yesterday))
            found = self._dues[(due, now)] = (due_text, late)
        return found

    def names(self, people: Iterable[str]) -> tuple[str, ...]:
        if isinstance(people, tuple):  # remembered: a sweep names the same people again
            found = self._names.get(people)
            if found is None:
                found = self._names[people] = tuple(
                    self.org.people[p].name for p in people if p in self.org.people)
            return found
        return tuple(self.org.people[p].name for p in people if p in self.org.people)

    def name(self, person: str | None) -> str:
        """A person's name ("" for none; the id of someone no longer in the org)."""
        if not person:
            return ""
        found = self.org.people.get(person)
        return found.name if found is not None else person

    def minute(self, moment: datetime | None) -> str:
        """A moment to the minute in town time ("" for none)."""
        return "" if moment is None else moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def _extension_context(self, ext: Extension) -> ExtensionContext:
        return ExtensionContext(
            to=ext.to_date, status=ext.status, note=ext.note or "", id=ext.id,
            requested_by=self.name(ext.requested_by), requested_at=self.minute(ext.requested_at),
            decided_by=self.name(ext.decided_by), decided_at=self.minute(ext.decided_at))

    def _escalation(self, e: Escalation) -> EscalationContext:
        return EscalationContext(
            id=e.id, level=e.level,
            level_label=LABELS[self.locale]["level"].get(e.level, e.level),
            recipients=self.names(e.recipients), subjects=self.names(e.subjects),
            conductors=self.names(self._acting(e)))

    @staticmethod
    def _acting(e: Escalation) -> tuple[str, ...]:
        """Those told who are not its subjects: who act on it."""
        return tuple(p for p in e.recipients if p not in e.subjects)

    def _base(self, kind: str, issue: Issue, wf: Workflow, now: datetime,
              context: IssueContext | None = None) -> tuple[TownContext, IssueContext, str]:
        return (self._town,
                self.issue_context(issue, wf, now) if context is None else context,
                NEXT_STEP[self.locale].get(kind, ""))

    def messages(self, kind: str, people: Iterable[str], base_key: str, context: Context,
                 issue_id: int | None, escalation_id: int | None = None) -> list[Message]:
        """One message per person (each once, known to the org), to be routed when sent."""
        out: list[Message] = []
        seen: set[str] = set()
        head: str | None = None
        for person in people:
            if person in seen or person not in self.org.people:
                continue
            seen.add(person)
            if head is None:  # the context made once, each recipient's name added last
                head = self._texts.head(context)
            text = self._texts.text(head, context, self.org.people[person].name)
            out.append(Message(key=f"{base_key}:{person}", kind=kind, channel=None,
                               person=person, issue_id=issue_id, escalation_id=escalation_id,
                               context=text))
        return out

    # --- what is told -----------------------------------------------------------------------------
    def transition(self, wf: Workflow, t: TransitionDef, after: Issue,
                   event: Event) -> list[Message]:
        """The notices the workflow attaches to the transition just fired."""
        out: list[Message] = []
        for notice in t.notify:
            if notice.if_given and not event.payload.get(notice.if_given):
                continue
            people = self.org.reach(notice.to, after.village, after.assignee, after.group,
                                    after.created_by)
            out += self._notice(notice, wf, after, event, people)
        return out

    def _notice(self, notice: Notice, wf: Workflow, issue: Issue, event: Event,
                people: Sequence[str]) -> list[Message]:
        town, ctx, step = self._base(notice.kind, issue, wf, event.at)
        key = f"{notice.kind}:{issue.id}:{issue.version}"
        if notice.kind == "assignment":
            message: Context = AssignmentMessage(town, ctx, step, plan=issue.plan or "")
        elif notice.kind == "voided":
            dup = event.payload.get("duplicate_of")
            message = VoidedMessage(town, ctx, step, reason=str(event.payload.get("reason", "")),
                                    duplicate_of=int(dup) if dup else None)
        else:
            message = RejectionMessage(town, ctx, step,
                                       reason=str(event.payload.get("reason", "")))
        return self.messages(notice.kind, people, key, message, issue.id)

    def escalation(self, issue: Issue, wf: Workflow, e: Escalation, now: datetime,
                   context: IssueContext | None = None) -> list[Message]:
        """The escalation's messages; `context`: the issue's context made once for all the
        levels raised on it at `now` (the sweep), else made here.

        Who is told what depends only on the escalation's shape (its level, recipients and
        subjects, whether it was raised late, and the issue's workflow, village and
        assignee), so each shape's messages are worked out once per Notifier (one
        transaction: a sweep's batch) as texts split where the escalation's number goes, and
        each escalation alike stamps its number and its issue's part in."""
        ctx = self.issue_context(issue, wf, now) if context is None else context
        shape_key = (wf.key, e.level, e.recipients, e.subjects, issue.village, issue.assignee,
                     e.raised_late)
        shape = self._shapes.get(shape_key)
        if shape is None:
            shape = self._shapes[shape_key] = self._shape(self._addressed(issue, wf, e, ctx))
        if not shape:  # a text that could not be split: each made whole
            return [self._message(e, issue.id, person, message)
                    for person, message in self._addressed(issue, wf, e, ctx)]
        head = self._texts.issue_part(self._town, ctx)
        number = str(e.id)
        key = f"escalation:{number}:"
        return [Message(key=f"{key}{person}", kind=e.level, channel=None, person=person,
                        issue_id=issue.id, escalation_id=e.id,
                        context=f"{head}{before}{number}{after}")
                for person, before, after in shape]

    def _shape(self, addressed: list[tuple[str, EscalationMessage]]
               ) -> tuple[tuple[str, str, str], ...]:
        """Each recipient with the text of their message after the issue's part, split where
        the escalation's number goes; () when a text cannot be split."""
        out = []
        for person, message in addressed:
            tail = self._texts.escalation_tail(message, self.org.people[person].name)
            if tail is None:
                return ()
            out.append((person, *tail))
        return tuple(out)

    def _message(self, e: Escalation, issue_id: int, person: str,
                 message: EscalationMessage) -> Message:
        texts = self._texts
        return Message(key=f"escalation:{e.id}:{person}", kind=e.level, channel=None,
                       person=person, issue_id=issue_id, escalation_id=e.id,
                       context=texts.text(texts.head(message), message,
                                          self.org.people[person].name))

    def _addressed(self, issue: Issue, wf: Workflow, e: Escalation, ctx: IssueContext
                   ) -> list[tuple[str, EscalationMessage]]:
        """Each recipient of the escalation (once, known to the org, in its order) with the
        message they get: the interview's conductor is told whom to summon and each subject
        why they are summoned; an accountability case goes to who may decide it and is
        copied to the others; a reminder tells only who may ask for more time to ask, and
        nobody once the due moment has passed (asking is open only before it)."""
        steps = NEXT_STEP[self.locale]
        town, step, about = self._town, steps.get(e.level, ""), self._escalation(e)
        if e.level == "interview" and e.subjects:
            def part(person: str) -> tuple[str, str]:
                if person in e.subjects:
                    return "subject", steps.get("interview_subject", step)
                return "conductor", step
        elif e.level == "accountability" and (deciders := [
                p for p in e.recipients if p in self._holders(wf, "decide_accountability",
                                                              issue)]):
            about = replace(about, conductors=self.names(tuple(deciders)))

            def part(person: str) -> tuple[str, str]:
                if person in deciders:
                    return "", step
                return "copy", steps["accountability_copy"]
        elif e.level == "reminder" and e.raised_late:  # nobody may ask for more time now
            def part(person: str) -> tuple[str, str]:
                return "", steps["reminder_late"]
        elif e.level == "reminder":
            askers = self._holders(wf, "request_extension", issue)

            def part(person: str) -> tuple[str, str]:
                return "", step if person in askers else steps["reminder_no_extension"]
        else:
            def part(person: str) -> tuple[str, str]:
                return "", step
        made: dict[tuple[str, str], EscalationMessage] = {}
        out = []
        for person in dict.fromkeys(e.recipients):
            if person not in self.org.people:
                continue
            role, said = part(person)
            message = made.get((role, said))
            if message is None:
                message = made[(role, said)] = EscalationMessage(town, ctx, said, about, role)
            out.append((person, message))
        return out

    def _holders(self, wf: Workflow, action: str, issue: Issue) -> tuple[str, ...]:
        """Who may take a workflow action on the issue (its `actions`); remembered for the
        Notifier's life (one transaction: the org does not change under it)."""
        key = (wf.key, action, issue.village, issue.assignee)
        found = self._reach.get(key)
        if found is None:
            found = self._reach[key] = self.org.reach(wf.action_roles(action), issue.village,
                                                      issue.assignee)
        return found

    def extension(self, issue: Issue, wf: Workflow, ext: Extension,
                  now: datetime) -> list[Message]:
        """A request decided (`ext` as decided), told to whoever asked."""
        town, ctx, step = self._base("extension", issue, wf, now)
        message = ExtensionMessage(town, ctx, step, reason=ext.reason,
                                   extension=self._extension_context(ext), note=ext.note or "")
        return self.messages("extension", [ext.requested_by],
                             f"extension:{issue.id}:{issue.version}", message, issue.id)

    def extension_requested(self, issue: Issue, wf: Workflow, ext: Extension,
                            now: datetime) -> list[Message]:
        """A request to decide, told to those the workflow lets decide it (`decide_extension`)
        for this issue, except whoever asked."""
        town, ctx, step = self._base("extension_request", issue, wf, now)
        message = ExtensionRequestMessage(town, ctx, step, reason=ext.reason,
                                          extension=self._extension_context(ext))
        people = [p for p in self._holders(wf, "decide_extension", issue)
                  if p != ext.requested_by]
        return self.messages("extension_request", people, f"extension_request:{ext.id}",
                             message, issue.id)

    def accountability_decided(self, issue: Issue, wf: Workflow, e: Escalation, actor: str,
                               now: datetime) -> list[Message]:
        """The decision (its outcome and note) to its subjects and to those the case was
        raised to (the workflow's rung: the party secretary, the quality-supervision leader
        who keeps the scoreboard), not to who decided it."""
        town, ctx, step = self._base("accountability_decided", issue, wf, now)
        label = LABELS[self.locale]["outcome"].get(e.outcome or "", e.outcome or "")
        about = replace(self._escalation(e), outcome=e.outcome or "", outcome_label=label,
                        note=e.note or "")
        key = f"decided:{e.id}"
        keepers = [p for p in e.recipients if p not in e.subjects]
        return [*self.messages("accountability", [p for p in e.subjects if p != actor], key,
                               EscalationMessage(town, ctx, step, about, "subject"),
                               issue.id, e.id),
                *self.messages("accountability", [p for p in keepers if p != actor], key,
                               EscalationMessage(town, ctx, step, about), issue.id, e.id)]

    def interview_recorded(self, issue: Issue, wf: Workflow, e: Escalation, note: str,
                           actor: str, now: datetime) -> list[Message]:
        """To those interviewed and the party secretary (not to who recorded it); `e` as
        recorded, with its attendees."""
        town, ctx, step = self._base("interview_recorded", issue, wf, now)
        message = InterviewRecordedMessage(town, ctx, step, note=note,
                                           escalation=self._escalation(e),
                                           attendees=self.names(e.attendees))
        people = [p for p in e.recipients if p != actor]
        if self.org.town.party_secretary != actor:
            people.append(self.org.town.party_secretary)
        return self.messages("interview_recorded", people, f"recorded:{e.id}", message,
                             issue.id, e.id)

    def reassigned(self, wf: Workflow, after: Issue, old: str | None, reason: str,
                   now: datetime) -> list[Message]:
        """A reassign: the new assignee gets an `assignment` (the plan is theirs now), the old
        one a `reassignment` (whose it is now, and why)."""
        town, ctx, step = self._base("assignment", after, wf, now)
        message = AssignmentMessage(town, ctx, step, plan=after.plan or "")
        out = self.messages("assignment", [after.assignee or ""],
                            f"assignment:{after.id}:{after.version}", message, after.id)
        if old is not None:
            town, ctx, step = self._base("reassignment", after, wf, now)
            out += self.messages("reassignment", [old],
                                 f"reassignment:{after.id}:{after.version}",
                                 ReassignmentMessage(town, ctx, step, reason=reason), after.id)
        return out
