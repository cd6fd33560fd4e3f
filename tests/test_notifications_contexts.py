"""The typed message contexts: each kind's `to_dict` has exactly the documented shape, is plain
JSON, and renders through every template of both locales."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from notifications.contexts import (
    AssignmentMessage,
    BriefingContext,
    BriefingMessage,
    CaseContext,
    EscalationContext,
    EscalationMessage,
    ExtensionContext,
    ExtensionMessage,
    ExtensionRequestMessage,
    InterviewRecordedMessage,
    IssueContext,
    Message,
    ReassignmentMessage,
    RecipientContext,
    RejectionMessage,
    TownContext,
    VillageCounts,
    VoidedMessage,
)
from notifications.render import KINDS, REQUIRED, Renderer, RenderError, sample_message

LOCALES = ("zh_CN", "en")
TOWN = TownContext("黄家镇")
ISSUE = IssueContext(
    id=7, title="饮水不稳定", village="v-hekou", village_name="河口村", household="",
    category="drinking_water", stage="reported", stage_label="上报", due="2020-10-16 止",
    late_working_days=2, assignee_name="", listed=True)
ISSUE_KEYS = {"id", "title", "village", "village_name", "household", "category", "stage",
              "stage_label", "due", "late_working_days", "assignee_name", "listed"}
STEP = "请在截止前完成本阶段工作。"


def escalation(level: str) -> EscalationContext:
    return EscalationContext(id=5, level=level, level_label={"reminder": "提醒", "interview":
                             "约谈", "accountability": "问责"}[level],
                             recipients=("赵主任", "孙组长"))


def message(kind: str, issue: IssueContext = ISSUE) -> Message:
    """A message of `kind` as the application makes one."""
    if kind in ("reminder", "interview", "accountability"):
        return EscalationMessage(town=TOWN, issue=issue, next_step=STEP,
                                 escalation=escalation(kind))
    if kind == "assignment":
        return AssignmentMessage(town=TOWN, issue=issue, next_step=STEP, plan="更换水泵")
    if kind == "rejection":
        return RejectionMessage(town=TOWN, issue=issue, next_step=STEP, reason="水压仍不足")
    if kind == "extension":
        return ExtensionMessage(town=TOWN, issue=issue, next_step=STEP, reason="水泵缺货",
                                extension=ExtensionContext("2020-10-23", "pending", None),
                                note="")
    if kind == "extension_request":
        return ExtensionRequestMessage(
            town=TOWN, issue=issue, next_step=STEP, reason="水泵缺货",
            extension=ExtensionContext("2020-10-23", "pending", None, id=3,
                                       requested_by="孙主任", requested_at="2020-10-12 09:41"))
    if kind == "reassignment":
        return ReassignmentMessage(town=TOWN, issue=issue, next_step=STEP, reason="原责任人调岗")
    if kind == "voided":
        return VoidedMessage(town=TOWN, issue=issue, next_step=STEP, reason="重复登记",
                             duplicate_of=4)
    if kind == "interview_recorded":
        return InterviewRecordedMessage(town=TOWN, issue=issue, next_step=STEP,
                                        note="已约谈河口村党支部书记",
                                        escalation=escalation("interview"))
    return BriefingMessage(town=TOWN, briefing=BriefingContext(
        since="2020-10-12 08:30", until="2020-10-19 08:30",
        by_village=(VillageCounts("河口村", {"reported": 1, "studied": 2}),),
        newly_overdue=(issue,), cleared=(),
        open_interviews=(CaseContext(issue, ("赵主任",), "2020-10-14 00:00"),),
        open_accountability=(), stages=("reported", "studied")))


EXPECTED_KEYS = {
    "reminder": {"town", "recipient", "issue", "next_step", "escalation", "role"},
    "interview": {"town", "recipient", "issue", "next_step", "escalation", "role"},
    "accountability": {"town", "recipient", "issue", "next_step", "escalation", "role"},
    "assignment": {"town", "recipient", "issue", "next_step", "plan"},
    "rejection": {"town", "recipient", "issue", "next_step", "reason"},
    "extension": {"town", "recipient", "issue", "next_step", "reason", "extension", "note"},
    "interview_recorded": {"town", "recipient", "issue", "next_step", "note", "escalation",
                           "attendees"},
    "briefing": {"town", "recipient", "briefing"},
    "reassignment": {"town", "recipient", "issue", "next_step", "reason"},
    "voided": {"town", "recipient", "issue", "next_step", "reason", "duplicate_of"},
    "extension_request": {"town", "recipient", "issue", "next_step", "reason", "extension"},
}


@pytest.mark.parametrize("kind", KINDS)
def test_the_dict_has_exactly_the_documented_keys(kind: str) -> None:
    msg = message(kind)
    assert msg.kind == kind
    ctx = msg.to_dict("赵主任")
    assert set(ctx) == EXPECTED_KEYS[kind] and set(REQUIRED[kind]) <= set(ctx)
    assert ctx["town"] == {"name": "黄家镇"} and ctx["recipient"] == {"name": "赵主任"}
    if kind != "briefing":
        assert ctx["issue"] == {k: getattr(ISSUE, k) for k in ISSUE_KEYS}
        assert ctx["next_step"] == STEP
    if "escalation" in ctx:
        assert ctx["escalation"] == {"id": 5, "level": ctx["escalation"]["level"],
                                     "level_label": ctx["escalation"]["level_label"],
                                     "recipients": ["赵主任", "孙组长"], "subjects": [],
                                     "conductors": [], "outcome": "", "outcome_label": "",
                                     "note": ""}
    assert json.loads(json.dumps(ctx, ensure_ascii=False)) == ctx  # plain JSON, lists as lists


def test_the_kind_specific_values() -> None:
    assert message("assignment").to_dict()["plan"] == "更换水泵"
    assert message("rejection").to_dict()["reason"] == "水压仍不足"
    ext = message("extension").to_dict()
    assert ext["extension"] == {"to": "2020-10-23", "status": "pending", "note": None,
                                "id": None, "requested_by": "", "requested_at": "",
                                "decided_by": "", "decided_at": ""}
    assert (ext["reason"], ext["note"]) == ("水泵缺货", "")
    asked = message("extension_request").to_dict()
    assert asked["extension"] == {"to": "2020-10-23", "status": "pending", "note": None,
                                  "id": 3, "requested_by": "孙主任",
                                  "requested_at": "2020-10-12 09:41", "decided_by": "",
                                  "decided_at": ""}
    assert asked["reason"] == "水泵缺货"
    assert message("interview_recorded").to_dict()["note"] == "已约谈河口村党支部书记"
    briefing = message("briefing").to_dict()["briefing"]
    assert briefing == {
        "since": "2020-10-12 08:30", "until": "2020-10-19 08:30",
        "stages": ["reported", "studied"],
        "by_village": [{"village_name": "河口村", "counts": {"reported": 1, "studied": 2}}],
        "newly_overdue": [ISSUE.to_dict()], "cleared": [],
        "open_interviews": [{"issue": ISSUE.to_dict(), "recipients": ["赵主任"],
                             "raised": "2020-10-14 00:00"}],
        "open_accountability": [],
    }


def test_the_recipient_is_named_by_the_caller() -> None:
    msg = message("reminder")
    shared = msg.to_dict()
    assert "recipient" not in shared
    assert msg.to_dict("孙组长") == {**shared, "recipient": RecipientContext("孙组长").to_dict()}
    with pytest.raises(RenderError, match="reminder: the context lacks recipient"):
        Renderer().render("reminder", shared)


def test_a_dict_is_a_copy() -> None:
    counts = VillageCounts("河口村", {"reported": 1})
    counts.to_dict()["counts"]["reported"] = 99
    assert counts.counts == {"reported": 1}
    msg = EscalationMessage(town=TOWN, issue=ISSUE, next_step=STEP,
                            escalation=escalation("interview"))
    msg.to_dict()["escalation"]["recipients"].append("外人")
    assert msg.to_dict()["escalation"]["recipients"] == ["赵主任", "孙组长"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.next_step = "x"  # type: ignore[misc]


def test_an_escalation_message_is_one_of_the_three_levels() -> None:
    with pytest.raises(ValueError, match="'rejection' is not one of reminder, interview"):
        EscalationMessage(town=TOWN, issue=ISSUE, next_step=STEP,
                          escalation=EscalationContext(1, "rejection", "退回", ()))


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_through_every_template(kind: str, locale: str) -> None:
    out = Renderer(locale).render(kind, message(kind).to_dict("赵主任"))
    for form in (out.subject, out.text, out.markdown, out.html):
        assert form.strip()
    for body in (out.text, out.markdown, out.html):
        assert "黄家镇" in body and "赵主任" in body
        assert "饮水不稳定" in body and "#7" in body
    if kind != "briefing":
        assert "2020-10-16 止" in out.text and "上报" in out.text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "briefing"])
def test_none_means_no_household_and_no_assignee(kind: str, locale: str) -> None:
    issue = dataclasses.replace(ISSUE, household=None, assignee_name=None)
    out = Renderer(locale).render(kind, message(kind, issue).to_dict("赵主任"))
    for body in (out.subject, out.text, out.markdown, out.html):
        assert "None" not in body


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_samples_are_made_of_the_dataclasses(kind: str, locale: str) -> None:
    msg, recipient = sample_message(kind, locale)
    assert msg.kind == kind
    ctx: dict[str, Any] = msg.to_dict(recipient)
    assert set(ctx) == EXPECTED_KEYS[kind]
    assert Renderer(locale).render(kind, ctx).subject
