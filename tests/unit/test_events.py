"""The stored form of every payload class (keys present only when they should be), the stored
names of the event types, and events built from payloads folding back into the issue."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pytest

from engine.domain.events import (
    FIRST,
    Created,
    Edited,
    Escalated,
    EscalationClosed,
    Event,
    EventType,
    Evidence,
    ExtensionDecided,
    ExtensionRequested,
    Imported,
    Moved,
    Payload,
    Reassigned,
    Rescheduled,
    VillageListing,
    moment_text,
)
from engine.domain.issue import fold
from tests.unit.support import ISSUE_ID, WORKFLOW_KEY, town, utc

DUE = utc(2020, 10, 12, 16)        # 2020-10-13 00:00 town time
POINTER = utc(2020, 10, 11, 16)    # 2020-10-12 00:00 town time
EVIDENCE = Evidence(sha256="ab" * 32, name="照片.jpg", size=2048)


def _created(**changes: Any) -> Created:
    fields: dict[str, Any] = {
        "title": "自来水管漏水", "category": "drinking_water", "village": "v-shiban",
        "description": None, "group": "sa-01", "household": "张三", "severity": "high",
        "listed": False, "listed_by_village": False, "due_at": DUE,
        "next_escalation_at": POINTER}
    fields.update(changes)
    return Created(**fields)


def test_event_types_are_the_stored_strings() -> None:
    assert {t.name: t.value for t in EventType} == {
        "CREATED": "created", "IMPORTED": "imported", "TRANSITION": "transition",
        "ESCALATED": "escalated", "RESCHEDULED": "rescheduled",
        "EXTENSION_REQUESTED": "extension_requested",
        "EXTENSION_APPROVED": "extension_approved", "EXTENSION_DENIED": "extension_denied",
        "INTERVIEW_RECORDED": "interview_recorded",
        "ACCOUNTABILITY_DECIDED": "accountability_decided",
        "VILLAGE_LISTED": "village_listed", "VILLAGE_UNLISTED": "village_unlisted",
        "REASSIGNED": "reassigned", "EDITED": "edited",
        "DATABASE_MARKED": "database_marked", "ORG_LOADED": "org_loaded",
        "WORKFLOW_REGISTERED": "workflow_registered",
        "CALENDAR_INSTALLED": "calendar_installed",
        "SPOTCHECK_RECORDED": "spotcheck_recorded", "SPOTCHECK_DRAWN": "spotcheck_drawn",
    }
    stored: str = EventType.TRANSITION  # rows read back carry plain text, which compares equal
    assert stored == "transition"
    assert EventType("transition") is EventType.TRANSITION
    assert {EventType.CREATED, EventType.IMPORTED} == FIRST


def test_moment_text_is_iso_with_offset() -> None:
    assert moment_text(None) is None
    assert moment_text(DUE) == "2020-10-12T16:00:00+00:00"


def test_evidence() -> None:
    assert EVIDENCE.to_dict() == {"sha256": "ab" * 32, "name": "照片.jpg", "size": 2048}


def test_created_leaves_listed_by_village_out_when_false() -> None:
    assert _created().to_payload() == {
        "title": "自来水管漏水", "category": "drinking_water", "village": "v-shiban",
        "description": None, "group": "sa-01", "household": "张三", "severity": "high",
        "listed": False, "due_at": "2020-10-12T16:00:00+00:00",
        "next_escalation_at": "2020-10-11T16:00:00+00:00"}


def test_created_writes_listed_by_village_when_true() -> None:
    payload = _created(listed_by_village=True, due_at=None, next_escalation_at=None).to_payload()
    assert payload["listed_by_village"] is True
    assert payload["due_at"] is None and payload["next_escalation_at"] is None
    assert len(payload) == 11


def test_imported_is_created_plus_entry() -> None:
    created = _created()
    payload = Imported(created, utc(2020, 9, 30, 2), "zhang").to_payload()
    assert payload == {**created.to_payload(), "entered_at": "2020-09-30T02:00:00+00:00",
                       "assignee": "zhang"}
    assert Imported(created, utc(2020, 9, 30, 2), None).to_payload()["assignee"] is None


def test_moved_with_nothing_given() -> None:
    assert Moved(due_at=None, listed_by_village=False, next_escalation_at=None).to_payload() == {
        "due_at": None, "listed_by_village": False, "next_escalation_at": None}


def test_moved_writes_what_was_given() -> None:
    moved = Moved(due_at=DUE, listed_by_village=True, next_escalation_at=POINTER, note="会商",
                  plan="更换水管", assignee="zhang", reason="未修好", due=date(2020, 10, 12),
                  evidence=(EVIDENCE,))
    assert moved.to_payload() == {
        "note": "会商", "plan": "更换水管", "assignee": "zhang", "reason": "未修好",
        "evidence": [{"sha256": "ab" * 32, "name": "照片.jpg", "size": 2048}],
        "due": "2020-10-12", "due_at": "2020-10-12T16:00:00+00:00",
        "listed_by_village": True, "next_escalation_at": "2020-10-11T16:00:00+00:00"}


def test_moved_writes_only_the_texts_given() -> None:
    payload = Moved(due_at=DUE, listed_by_village=False, next_escalation_at=POINTER,
                    reason="整改不到位").to_payload()
    assert set(payload) == {"reason", "due_at", "listed_by_village", "next_escalation_at"}


@pytest.mark.parametrize(("escalations", "extensions"), [
    ((4, 5), ()), ((), (2,)), ((4,), (2, 3))])
def test_moved_writes_both_superseded_lists_when_either_has_ids(
        escalations: tuple[int, ...], extensions: tuple[int, ...]) -> None:
    payload = Moved(due_at=None, listed_by_village=False, next_escalation_at=None,
                    superseded_escalations=escalations,
                    superseded_extensions=extensions).to_payload()
    assert payload["superseded_escalations"] == list(escalations)
    assert payload["superseded_extensions"] == list(extensions)


def test_escalated() -> None:
    payload = Escalated(escalation=3, level="interview", stage="studied",
                        recipients=("liu", "chen"), moment=utc(2020, 10, 13, 16), due_at=DUE,
                        next_escalation_at=None).to_payload()
    assert payload == {"escalation": 3, "level": "interview", "stage": "studied",
                       "recipients": ["liu", "chen"], "moment": "2020-10-13T16:00:00+00:00",
                       "due_at": "2020-10-12T16:00:00+00:00", "next_escalation_at": None}


def test_rescheduled() -> None:
    assert Rescheduled(DUE, POINTER).to_payload() == {
        "due_at": "2020-10-12T16:00:00+00:00", "next_escalation_at": "2020-10-11T16:00:00+00:00"}


def test_extension_requested() -> None:
    assert ExtensionRequested(2, date(2020, 10, 20), "雨季施工").to_payload() == {
        "extension": 2, "to": "2020-10-20", "reason": "雨季施工"}


def test_extension_approved_writes_the_new_due_moment_and_pointer() -> None:
    approved = ExtensionDecided(2, "同意", True, due_at=utc(2020, 10, 20, 16),
                                next_escalation_at=utc(2020, 10, 19, 16))
    assert approved.type == EventType.EXTENSION_APPROVED
    assert approved.to_payload() == {"extension": 2, "note": "同意",
                                     "due_at": "2020-10-20T16:00:00+00:00",
                                     "next_escalation_at": "2020-10-19T16:00:00+00:00"}


def test_extension_denied_writes_no_due_moment() -> None:
    denied = ExtensionDecided(2, None, False, due_at=utc(2020, 10, 20, 16),
                              next_escalation_at=utc(2020, 10, 19, 16))
    assert denied.type == EventType.EXTENSION_DENIED
    assert denied.to_payload() == {"extension": 2, "note": None}


def test_escalation_closed_writes_attendees_as_with() -> None:
    assert EscalationClosed(3, "已约谈", ("chen", "zhang")).to_payload() == {
        "escalation": 3, "note": "已约谈", "with": ["chen", "zhang"]}
    assert EscalationClosed(4, "通报批评", ()).to_payload()["with"] == []


def test_village_listing() -> None:
    assert VillageListing("v-shiban", None).to_payload() == {
        "village": "v-shiban", "next_escalation_at": None}
    assert VillageListing("v-shiban", POINTER).to_payload()["next_escalation_at"] == (
        "2020-10-11T16:00:00+00:00")


@pytest.mark.parametrize("payload", [
    _created(listed_by_village=True),
    Imported(_created(), utc(2020, 9, 30, 2), "zhang"),
    Moved(due_at=DUE, listed_by_village=False, next_escalation_at=POINTER, note="n",
          due=date(2020, 10, 12), evidence=(EVIDENCE,), superseded_escalations=(1,)),
    Escalated(1, "reminder", "found", ("chen",), POINTER, DUE, None),
    Rescheduled(None, None),
    ExtensionRequested(1, date(2020, 10, 20), "r"),
    ExtensionDecided(1, "n", True, DUE, POINTER),
    EscalationClosed(1, "n", ("chen",)),
    VillageListing("v-shiban", POINTER),
    Reassigned("zhang", "li", "调岗", DUE, POINTER, date(2020, 10, 12)),
    Edited({"title": ("旧", "新"), "household": ("张三", None)}, "录错", False, POINTER),
], ids=lambda p: type(p).__name__)
def test_every_payload_is_a_json_object_that_reads_back_equal(payload: Payload) -> None:
    stored = payload.to_payload()
    assert json.loads(json.dumps(stored, ensure_ascii=False)) == stored


# --- folding back ----------------------------------------------------------------------------
def _event(version: int, type: EventType, payload: Payload, at: datetime, actor: str = "system",
           transition: str | None = None, from_state: str | None = None,
           to_state: str | None = None) -> Event:
    return Event(issue_id=ISSUE_ID, version=version, type=type, actor=actor, at=at,
                 payload=payload.to_payload(), workflow=WORKFLOW_KEY, transition=transition,
                 from_state=from_state, to_state=to_state)


def test_events_built_from_payloads_fold_back_to_what_they_carry() -> None:
    found_due, found_ptr = utc(2020, 10, 9, 16), utc(2020, 10, 8, 16)
    studied_due, studied_ptr = utc(2020, 10, 16, 16), utc(2020, 10, 15, 16)
    extended_due, extended_ptr = utc(2020, 10, 22, 16), utc(2020, 10, 23, 16)
    events = [
        _event(1, EventType.CREATED, _created(due_at=found_due, next_escalation_at=found_ptr),
               town(2020, 9, 30, 10), actor="sa1", to_state="found"),
        _event(2, EventType.TRANSITION,
               Moved(due_at=DUE, listed_by_village=False, next_escalation_at=POINTER),
               town(2020, 10, 9, 9), actor="sa1", transition="report", from_state="found",
               to_state="reported"),
        _event(3, EventType.TRANSITION,
               Moved(due_at=studied_due, listed_by_village=False,
                     next_escalation_at=studied_ptr, plan="更换水管", assignee="zhang",
                     due=date(2020, 10, 16)),
               town(2020, 10, 10, 9), actor="rc1", transition="study", from_state="reported",
               to_state="studied"),
        _event(4, EventType.ESCALATED,
               Escalated(1, "reminder", "studied", ("zhang",), studied_ptr, studied_due,
                         utc(2020, 10, 19, 16)),
               town(2020, 10, 16, 0)),
        _event(5, EventType.EXTENSION_REQUESTED, ExtensionRequested(1, date(2020, 10, 22), "雨"),
               town(2020, 10, 16, 9), actor="zhang"),
        _event(6, EventType.EXTENSION_APPROVED,
               ExtensionDecided(1, None, True, extended_due, extended_ptr),
               town(2020, 10, 16, 10), actor="liu"),
        _event(7, EventType.VILLAGE_LISTED, VillageListing("v-shiban", utc(2020, 10, 22, 16)),
               town(2020, 10, 19, 10), actor="wang"),
        _event(8, EventType.RESCHEDULED, Rescheduled(extended_due, utc(2020, 10, 21, 16)),
               town(2020, 10, 20, 10)),
    ]
    issue = fold(events)
    assert issue is not None
    assert (issue.id, issue.title, issue.category, issue.village, issue.severity,
            issue.group, issue.household, issue.description, issue.listed) == (
        ISSUE_ID, "自来水管漏水", "drinking_water", "v-shiban", "high", "sa-01", "张三", None,
        False)
    assert issue.state == "studied"
    assert issue.version == 8
    assert issue.stage_version == 3
    assert issue.stage_entered_at == town(2020, 10, 10, 9)
    assert issue.created_at == town(2020, 9, 30, 10) and issue.created_by == "sa1"
    assert (issue.assignee, issue.plan) == ("zhang", "更换水管")
    assert issue.due_at == extended_due  # the approval moved it; the reschedule did not
    assert issue.next_escalation_at == utc(2020, 10, 21, 16)
    assert issue.listed_by_village is True and issue.supervised is True
    assert issue.workflow == WORKFLOW_KEY

    unlisted = fold([*events, _event(9, EventType.VILLAGE_UNLISTED,
                                     VillageListing("v-shiban", None), town(2020, 10, 21),
                                     actor="wang")])
    assert unlisted is not None
    assert unlisted.listed_by_village is False and unlisted.next_escalation_at is None
    assert unlisted.version == 9 and unlisted.due_at == extended_due


def test_fold_of_nothing_is_no_issue() -> None:
    assert fold([]) is None


def test_reassigned_and_edited_payloads() -> None:
    assert Reassigned("zhang", "li", "调岗", DUE, POINTER).to_payload() == {
        "from": "zhang", "to": "li", "reason": "调岗", "due_at": "2020-10-12T16:00:00+00:00",
        "next_escalation_at": "2020-10-11T16:00:00+00:00"}
    assert Reassigned(None, "li", "r", DUE, None, date(2020, 10, 12)).to_payload()["due"] == (
        "2020-10-12")
    assert Edited({"village": ("v-shiban", "c-jiezi")}, "录错", True, None).to_payload() == {
        "changes": {"village": {"old": "v-shiban", "new": "c-jiezi"}}, "reason": "录错",
        "listed_by_village": True, "next_escalation_at": None}


def test_corrections_fold_into_the_issue_and_the_replay_alike() -> None:
    from engine.domain.audit import Replay

    studied_due, studied_ptr = utc(2020, 10, 16, 16), utc(2020, 10, 15, 16)
    new_due, new_ptr = utc(2020, 10, 20, 16), utc(2020, 10, 19, 16)
    events = [
        _event(1, EventType.CREATED, _created(), town(2020, 9, 30, 10), actor="sa1",
               to_state="found"),
        _event(2, EventType.TRANSITION,
               Moved(due_at=studied_due, listed_by_village=False,
                     next_escalation_at=studied_ptr, plan="p", assignee="zhang",
                     due=date(2020, 10, 16)),
               town(2020, 10, 9, 9), actor="rc1", transition="study", from_state="found",
               to_state="studied"),
        _event(3, EventType.REASSIGNED,
               Reassigned("zhang", "li", "调岗", new_due, new_ptr, date(2020, 10, 20)),
               town(2020, 10, 12, 9), actor="rc1"),
        _event(4, EventType.EDITED,
               Edited({"title": ("自来水管漏水", "水管漏水"), "household": ("张三", None),
                       "village": ("v-shiban", "c-jiezi"), "group": ("sa-01", None)},
                      "录错", True, new_ptr),
               town(2020, 10, 12, 10), actor="iv1"),
    ]
    issue = fold(events)
    assert issue is not None
    assert (issue.assignee, issue.due_at, issue.next_escalation_at) == ("li", new_due, new_ptr)
    assert (issue.title, issue.household, issue.village, issue.group) == (
        "水管漏水", None, "c-jiezi", None)
    assert issue.listed_by_village is True
    assert (issue.state, issue.stage_version, issue.version) == ("studied", 2, 4)
    assert (issue.category, issue.severity) == ("drinking_water", "high")
    replay = Replay()
    for e in events:
        replay.apply(e)
    assert replay.issue == issue
