"""The context every kind of message is rendered with, as frozen dataclasses.

This is the contract between whoever tells (the application, when it queues a message) and the
templates (see notifications.render). A message dataclass per kind holds what its templates
read; `to_dict(recipient)` gives the plain dict they are rendered with, which is also what a
queue stores as a JSON snapshot: lists as lists, the keys below and nothing else.

    kind                                     dataclass
    reminder, interview, accountability      EscalationMessage (kind: escalation.level; `role`
                                             conductor, subject or copy for an interview's,
                                             a case's and a decision's own wording; an
                                             accountability decision carries
                                             escalation.outcome)
    assignment                               AssignmentMessage
    rejection                                RejectionMessage
    extension                                ExtensionMessage (a request decided)
    interview_recorded                       InterviewRecordedMessage
    briefing                                 BriefingMessage
    reassignment                             ReassignmentMessage
    voided                                   VoidedMessage
    extension_request                        ExtensionRequestMessage (a request to decide)

The recipient is not part of a message: one message goes to several people, so the caller
names the person when it makes the dict, `message.to_dict("陈支书")`, which adds
`recipient: {name}`. `to_dict()` without a name gives the shared part, the same for everyone.

Every text is plain text, never markup: the templates make it inert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

ESCALATION_LEVELS = ("reminder", "interview", "accountability")
ROLES = ("", "conductor", "subject", "copy")
"""How a recipient stands to an escalation (EscalationMessage.role)."""


@dataclass(frozen=True)
class TownContext:
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name}


@dataclass(frozen=True)
class RecipientContext:
    name: str
    """The name of the person the message goes to."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name}


@dataclass(frozen=True)
class IssueContext:
    """An issue as it stood when the message was queued."""

    id: int
    title: str
    village: str
    """The unit id (e.g. v-shiban)."""
    village_name: str
    household: str | None
    category: str
    """The category id (e.g. housing_safety); templates label it per locale."""
    stage: str
    """The state id (e.g. studied)."""
    stage_label: str
    """The workflow's label of the state (e.g. 研究)."""
    due: str
    """The due moment as text (notifications.render.due_text); "" when there is none."""
    late_working_days: int
    """Working days past due when queued; 0 when not late."""
    assignee_name: str | None
    listed: bool
    """挂牌督战: the issue or its village is under listed supervision."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "village": self.village,
            "village_name": self.village_name, "household": self.household,
            "category": self.category, "stage": self.stage, "stage_label": self.stage_label,
            "due": self.due, "late_working_days": self.late_working_days,
            "assignee_name": self.assignee_name, "listed": self.listed,
        }


@dataclass(frozen=True)
class EscalationContext:
    id: int
    level: str
    """reminder | interview | accountability"""
    level_label: str
    """The level as the locale says it (e.g. 约谈)."""
    recipients: tuple[str, ...]
    """The names of everyone the escalation goes to."""
    subjects: tuple[str, ...] = ()
    """The names of those answerable for it (约谈对象, 问责对象; none before stage owners)."""
    conductors: tuple[str, ...] = ()
    """The names of those who act on it (the interview's conductor; who decides an
    accountability case)."""
    outcome: str = ""
    """An accountability decision's outcome (no_action … refer); empty until decided."""
    outcome_label: str = ""
    """The outcome as the locale says it (e.g. 诫勉谈话)."""
    note: str = ""
    """The decision's note."""

    def alike(self) -> tuple[Any, ...]:
        """Every field but the id: the same for escalations alike but for their number."""
        return (self.level, self.level_label, self.recipients, self.subjects,
                self.conductors, self.outcome, self.outcome_label, self.note)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "level": self.level, "level_label": self.level_label,
                "recipients": list(self.recipients), "subjects": list(self.subjects),
                "conductors": list(self.conductors), "outcome": self.outcome,
                "outcome_label": self.outcome_label, "note": self.note}


@dataclass(frozen=True)
class ExtensionContext:
    to: str
    """The date asked for, as text (e.g. 2020-10-20)."""
    status: str
    """pending | approved | denied | superseded"""
    note: str | None
    """The decision's note."""
    id: int | None = None
    """The request's number (what `extension approve|deny` takes)."""
    requested_by: str = ""
    """The name of the person who asked."""
    requested_at: str = ""
    """When it was asked, to the minute in town time (e.g. 2020-10-09 10:00)."""
    decided_by: str = ""
    """The name of the person who decided ("" while pending)."""
    decided_at: str = ""
    """When it was decided, to the minute in town time ("" while pending)."""

    def to_dict(self) -> dict[str, Any]:
        return {"to": self.to, "status": self.status, "note": self.note, "id": self.id,
                "requested_by": self.requested_by, "requested_at": self.requested_at,
                "decided_by": self.decided_by, "decided_at": self.decided_at}


# --- the briefing ---------------------------------------------------------------------------
@dataclass(frozen=True)
class VillageCounts:
    village_name: str
    counts: dict[str, int]
    """Open issues by state id, the states in the workflow's order."""

    def to_dict(self) -> dict[str, Any]:
        return {"village_name": self.village_name, "counts": dict(self.counts)}


@dataclass(frozen=True)
class CaseContext:
    """An open interview or accountability case."""

    issue: IssueContext
    recipients: tuple[str, ...]
    raised: str
    """When it was raised, as text (e.g. 2020-10-14 00:00)."""

    def to_dict(self) -> dict[str, Any]:
        return {"issue": self.issue.to_dict(), "recipients": list(self.recipients),
                "raised": self.raised}


@dataclass(frozen=True)
class BriefingContext:
    since: str
    until: str
    by_village: tuple[VillageCounts, ...]
    newly_overdue: tuple[IssueContext, ...]
    cleared: tuple[IssueContext, ...]
    open_interviews: tuple[CaseContext, ...]
    open_accountability: tuple[CaseContext, ...]
    stages: tuple[str, ...] = ()
    """The stages any village has open issues in, in the workflow's order: the columns of a
    table of `by_village` (a village's counts hold only its own stages)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since, "until": self.until, "stages": list(self.stages),
            "by_village": [v.to_dict() for v in self.by_village],
            "newly_overdue": [i.to_dict() for i in self.newly_overdue],
            "cleared": [i.to_dict() for i in self.cleared],
            "open_interviews": [c.to_dict() for c in self.open_interviews],
            "open_accountability": [c.to_dict() for c in self.open_accountability],
        }


# --- one message per kind ---------------------------------------------------------------------
def _with_recipient(context: dict[str, Any], recipient: str | None) -> dict[str, Any]:
    if recipient is not None:
        context["recipient"] = RecipientContext(recipient).to_dict()
    return context


@dataclass(frozen=True)
class IssueMessage:
    """A message about one issue: the town, the issue and the next step first, then what
    its kind adds (`details`), then the recipient."""

    town: TownContext
    issue: IssueContext
    next_step: str
    """What the recipient should do now."""

    def details(self) -> dict[str, Any]:
        """What the kind adds after the town, the issue and the next step."""
        return {}

    def to_dict(self, recipient: str | None = None) -> dict[str, Any]:
        return _with_recipient({"town": self.town.to_dict(), "issue": self.issue.to_dict(),
                                "next_step": self.next_step, **self.details()}, recipient)


@dataclass(frozen=True)
class EscalationMessage(IssueMessage):
    """A rung of the escalation ladder: kind reminder, interview or accountability."""

    escalation: EscalationContext
    role: str = ""
    """How the recipient stands to it: `conductor` (holds the interview), `subject` (is
    summoned, or answers for a decision), `copy` (an accountability case copied to them, for
    another to decide), or empty (told; who decides an accountability case)."""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"escalation role {self.role!r} is not conductor, subject or copy")
        if self.escalation.level not in ESCALATION_LEVELS:
            raise ValueError(f"escalation level {self.escalation.level!r} is not one of "
                             f"{', '.join(ESCALATION_LEVELS)}")

    @property
    def kind(self) -> str:
        return self.escalation.level

    def details(self) -> dict[str, Any]:
        return {"escalation": self.escalation.to_dict(),
                "role": self.role}


@dataclass(frozen=True)
class AssignmentMessage(IssueMessage):
    """The issue's plan is decided and it is the recipient's to carry out."""

    kind: ClassVar[str] = "assignment"
    plan: str

    def details(self) -> dict[str, Any]:
        return {"plan": self.plan}


@dataclass(frozen=True)
class RejectionMessage(IssueMessage):
    """The verifier sent the issue back."""

    kind: ClassVar[str] = "rejection"
    reason: str

    def details(self) -> dict[str, Any]:
        return {"reason": self.reason}


@dataclass(frozen=True)
class ExtensionMessage(IssueMessage):
    """A request for more time, and what became of it."""

    kind: ClassVar[str] = "extension"
    reason: str
    """The request's reason."""
    extension: ExtensionContext
    note: str
    """The decision's note again ("" when there is none)."""

    def details(self) -> dict[str, Any]:
        return {"extension": self.extension.to_dict(),
                "reason": self.reason, "note": self.note}


@dataclass(frozen=True)
class ExtensionRequestMessage(IssueMessage):
    """A request for more time, told to those who may decide it (the issue as it stands, so
    `issue.due` is the due date the request would move)."""

    kind: ClassVar[str] = "extension_request"
    reason: str
    """The request's reason."""
    extension: ExtensionContext

    def details(self) -> dict[str, Any]:
        return {"extension": self.extension.to_dict(),
                "reason": self.reason}


@dataclass(frozen=True)
class InterviewRecordedMessage(IssueMessage):
    """The interview of an escalation was held and recorded."""

    kind: ClassVar[str] = "interview_recorded"
    note: str
    """The interview record."""
    escalation: EscalationContext
    attendees: tuple[str, ...] = ()
    """The names of those recorded as taking part (`escalation record --with`)."""

    def details(self) -> dict[str, Any]:
        return {"note": self.note,
                "escalation": self.escalation.to_dict(),
                "attendees": list(self.attendees)}


@dataclass(frozen=True)
class ReassignmentMessage(IssueMessage):
    """The issue was given to another assignee: told to the one it was taken from (the issue
    as it stands after, so `issue.assignee_name` is the new one)."""

    kind: ClassVar[str] = "reassignment"
    reason: str

    def details(self) -> dict[str, Any]:
        return {"reason": self.reason}


@dataclass(frozen=True)
class VoidedMessage(IssueMessage):
    """The issue was voided (作废: found in error or twice): told to whoever added it."""

    kind: ClassVar[str] = "voided"
    reason: str
    duplicate_of: int | None = None
    """The issue it repeats, when it is a duplicate."""

    def details(self) -> dict[str, Any]:
        return {"reason": self.reason,
                "duplicate_of": self.duplicate_of}


@dataclass(frozen=True)
class BriefingMessage:
    """The meeting briefing (定期例会)."""

    kind: ClassVar[str] = "briefing"
    town: TownContext
    briefing: BriefingContext

    def to_dict(self, recipient: str | None = None) -> dict[str, Any]:
        return _with_recipient({"town": self.town.to_dict(),
                                "briefing": self.briefing.to_dict()}, recipient)


Message = (EscalationMessage | AssignmentMessage | RejectionMessage | ExtensionMessage
           | InterviewRecordedMessage | BriefingMessage | ReassignmentMessage
           | ExtensionRequestMessage | VoidedMessage)
"""Any message; `message.kind` is the kind it renders as."""


__all__ = [
    "ESCALATION_LEVELS",
    "ROLES",
    "AssignmentMessage",
    "BriefingContext",
    "BriefingMessage",
    "CaseContext",
    "EscalationContext",
    "EscalationMessage",
    "ExtensionContext",
    "ExtensionMessage",
    "ExtensionRequestMessage",
    "InterviewRecordedMessage",
    "IssueContext",
    "IssueMessage",
    "Message",
    "RecipientContext",
    "RejectionMessage",
    "TownContext",
    "VillageCounts",
    "VoidedMessage",
]
