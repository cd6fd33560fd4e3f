"""Escalations (督办): the ladder, the sweep, interviews, accountability, extensions, listing.

Every test here runs on SQLite and on PostgreSQL (the `svc` fixture). Times given to
`set_now` are naive town time (Asia/Shanghai); expected moments are aware (+08:00) and compare
equal to the UTC values the store gives back.

2020: 1–8 October is the National Day holiday; Sunday 27 September and Saturday 10 October are
make-up working days (调休).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engine.domain.escalation import Escalation, Extension
from engine.domain.events import Event
from engine.domain.issue import Issue, Move, NewIssue, fold
from engine.errors import (
    DeadlineRefused,
    MissingField,
    NotFound,
    NotPermitted,
    RectifyError,
    Refused,
)
from engine.store.escalations import EscalationFilter
from tests.conftest import START
from tests.support import Ran, Scenario, as_decided, run_cli, scenario

CST = timezone(timedelta(hours=8))
MINUTE = timedelta(minutes=1)

RECIPIENTS = {
    "v-shiban": {"reminder": ("rc1",), "interview": ("liu", "rc1"),
                 "accountability": ("wang",)},
    "c-jiezi": {"reminder": ("rc1",), "interview": ("liu", "rc1"),
                "accountability": ("wang",)},
}
"""In *reported* (whose owner is the rectification group leader, rc1, a town cadre): reminder
→ rc1; interview → conducted by the liaison leader, rc1 summoned (no village secretary: the
owner is no village cadre); accountability → the party secretary and the quality-supervision
leader, who are both wang in the small org (so wang appears once), its subject rc1."""
FOUND_RECIPIENTS = {
    "v-shiban": {"reminder": ("sa1", "sa2"), "interview": ("liu", "sa1", "sa2", "chen"),
                 "accountability": ("wang",)},
    "c-jiezi": {"reminder": ("sa1", "sa2"), "interview": ("liu", "sa1", "sa2", "zhou"),
                "accountability": ("wang",)},
}
"""In *found*: its owners are the group that found it (sa-01: sa1, sa2); sa2 belongs to
石板村, so the interview summons the village's secretary too."""
SUBJECTS = {"reminder": ("rc1",), "interview": ("rc1",), "accountability": ("rc1",)}
"""Who answers in *reported*: the owner, also the one interviewed."""

INITIAL_STATUS = {"reminder": "done", "interview": "open", "accountability": "open"}


# --- helpers ------------------------------------------------------------------------------
def town(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """An aware town-time moment (+08:00)."""
    return datetime(y, m, d, h, mi, tzinfo=CST)


def aware(naive: datetime) -> datetime:
    return naive.replace(tzinfo=CST)


def add(svc: Scenario, at: datetime, village: str = "v-shiban", listed: bool = False,
        actor: str = "sa1") -> Issue:
    svc.set_now(at)
    svc.actor = actor
    return svc.add_issue(NewIssue(title="房屋漏雨", category="housing_safety", village=village,
                                  group="sa-01", listed=listed))


def move(svc: Scenario, actor: str, issue_id: int, transition: str, *,
         note: str | None = None, plan: str | None = None, assignee: str | None = None,
         due: date | None = None, reason: str | None = None,
         files: list[Path] | None = None) -> Issue:
    svc.actor = actor
    return svc.move(Move(issue_id=issue_id, transition=transition, note=note, plan=plan,
                         assignee=assignee, due=due, reason=reason), files)


def reported(svc: Scenario, village: str = "v-shiban", listed: bool = False) -> Issue:
    """The worked example: an issue that enters `reported` on 2020-09-30 10:00 town time,
    due 2020-10-13 00:00 (three working days: 9 Oct, Saturday 10 Oct, 12 Oct)."""
    new = add(svc, datetime(2020, 9, 30, 10, 0), village, listed)
    return move(svc, "sa1", new.id, "report")


def studied(svc: Scenario, due: date = date(2020, 10, 16), assignee: str = "rc2") -> Issue:
    """Reported on 30 Sep, studied on 9 Oct 10:00 with --due (end of that day)."""
    issue = reported(svc)
    svc.set_now(datetime(2020, 10, 9, 10, 0))
    return move(svc, "rc1", issue.id, "study", plan="new roof", assignee=assignee, due=due)


def sweep(svc: Scenario, at: datetime, batch: int = 200) -> list[Escalation]:
    svc.set_now(at)
    return svc.escalate(batch)


def light(svc: Scenario, issue_id: int) -> str | None:
    return svc.lights([svc.show(issue_id)])[issue_id]


def moment_of(value: Any) -> datetime | None:
    """A moment as an event payload stores it (ISO 8601 text, or None)."""
    return None if value is None else datetime.fromisoformat(value)


def levels(items: Sequence[Escalation]) -> list[tuple[int, str]]:
    return [(e.issue_id, e.level) for e in items]


def statuses(svc: Scenario, issue_id: int) -> list[tuple[str, str, str]]:
    return [(e.stage, e.level, e.status)
            for e in svc.escalations(EscalationFilter(issue_id=issue_id))]


def assert_folds(svc: Scenario, *issue_ids: int) -> None:
    """The history is the truth: replaying it gives the stored row."""
    for issue_id in issue_ids:
        assert fold(svc.history(issue_id)) == svc.show(issue_id), issue_id


def assert_versions_consecutive(events: Sequence[Event]) -> None:
    assert [e.version for e in events] == list(range(1, len(events) + 1))


@dataclass(frozen=True)
class State:
    issue: Issue
    history: list[Event]
    escalations: list[Escalation]
    extensions: list[Extension]


def state(svc: Scenario, issue_id: int) -> State:
    return State(svc.show(issue_id), svc.history(issue_id),
                 svc.escalations(EscalationFilter()), svc.extensions())


def refused(svc: Scenario, issue_id: int, actor: str, error: type[RectifyError],
            action: Callable[[], object]) -> RectifyError:
    """`action` as `actor` raises exactly `error` and changes nothing."""
    before = state(svc, issue_id)
    svc.actor = actor
    with pytest.raises(RectifyError) as caught:
        action()
    assert type(caught.value) is error, (type(caught.value), caught.value)
    assert state(svc, issue_id) == before
    return caught.value


# --- 1 & 2: the worked example, sweep by sweep ----------------------------------------------
SWEEP_TIMES = [
    datetime(2020, 10, 11, 23, 59), datetime(2020, 10, 12, 0, 0),
    datetime(2020, 10, 12, 23, 59), datetime(2020, 10, 13, 0, 0),
    datetime(2020, 10, 13, 23, 59), datetime(2020, 10, 14, 0, 0),
    datetime(2020, 10, 15, 23, 59), datetime(2020, 10, 16, 0, 0),
    datetime(2020, 10, 19, 23, 59), datetime(2020, 10, 20, 0, 0),
]
WORKED_LADDER = {
    False: {"reminder": datetime(2020, 10, 12), "interview": datetime(2020, 10, 14),
            "accountability": datetime(2020, 10, 20)},
    True: {"reminder": datetime(2020, 10, 12), "interview": datetime(2020, 10, 13),
           "accountability": datetime(2020, 10, 16)},
}


def worked_light(now: datetime) -> str:
    """Green until the start of the last working day (12 Oct), yellow on it, red from due."""
    if now < datetime(2020, 10, 12):
        return "green"
    return "yellow" if now < datetime(2020, 10, 13) else "red"


@pytest.mark.parametrize("listed", [False, True], ids=["default", "listed"])
def test_the_worked_example_sweep_by_sweep(svc: Scenario, listed: bool) -> None:
    issue = reported(svc, listed=listed)
    due = town(2020, 10, 13)
    assert issue.state == "reported" and issue.version == 2 and issue.stage_version == 2
    assert issue.due_at == due
    assert issue.next_escalation_at == town(2020, 10, 12)
    ladder = WORKED_LADDER[listed]
    by_moment = {moment: level for level, moment in ladder.items()}

    seen: list[Escalation] = []
    for now in SWEEP_TIMES:
        svc.set_now(now)
        assert light(svc, issue.id) == worked_light(now), now
        raised = svc.escalate()
        level = by_moment.get(now)
        if level is None:
            assert raised == [], now
        else:
            [e] = raised
            assert (e.issue_id, e.stage, e.stage_version, e.level, e.recipients, e.due_at,
                    e.moment, e.raised_at, e.status) == (
                issue.id, "reported", 2, level, RECIPIENTS["v-shiban"][level], due,
                aware(now), aware(now), INITIAL_STATUS[level]), now
            assert (e.closed_at, e.closed_by, e.note, e.attendees) == (None, None, None, ())
            assert svc.escalation(e.id) == e
            seen.append(e)
        assert svc.escalate() == [], f"the same sweep twice raised again at {now}"

        current = svc.show(issue.id)
        pending = [aware(m) for m in ladder.values() if m > now]
        assert current.next_escalation_at == (min(pending) if pending else None), now
        assert current.due_at == due
        assert svc.lights([current]) == {issue.id: worked_light(now)}, now
        assert svc.escalations(EscalationFilter(issue_id=issue.id)) == seen
        assert statuses(svc, issue.id) == [
            ("reported", e.level, INITIAL_STATUS[e.level]) for e in seen]

        events = svc.history(issue.id)
        assert_versions_consecutive(events)
        assert [e.type for e in events] == ["created", "transition"] + ["escalated"] * len(seen)

    assert [e.level for e in seen] == ["reminder", "interview", "accountability"]
    escalated = svc.history(issue.id)[2:]
    nexts = [*(aware(m) for m in list(ladder.values())[1:]), None]
    for event, esc, nxt in zip(escalated, seen, nexts, strict=True):
        assert event.actor == "system"
        assert event.at == esc.raised_at
        p = event.payload
        assert p["escalation"] == esc.id and p["level"] == esc.level
        assert p["stage"] == "reported"
        assert p["recipients"] == list(esc.recipients)
        assert moment_of(p["moment"]) == esc.moment
        assert moment_of(p["due_at"]) == due
        assert moment_of(p["next_escalation_at"]) == nxt
    assert_folds(svc, issue.id)


# --- 3: across the National Day holiday and the make-up days ------------------------------
@dataclass(frozen=True)
class HolidayCase:
    name: str
    entered: datetime  # added (state `found`, one working day) at this town time
    village: str
    listed: bool
    due: datetime
    ladder: dict[str, datetime]


HOLIDAY_CASES = [
    # Friday 25 Sep: the one working day is Sunday 27 Sep (make-up); the reminder is at its
    # start; the accountability counts 28, 29, 30 Sep, 9 Oct and Saturday 10 Oct.
    HolidayCase("sunday-make-up", datetime(2020, 9, 25, 10), "v-shiban", False,
                datetime(2020, 9, 28),
                {"reminder": datetime(2020, 9, 27), "interview": datetime(2020, 9, 29),
                 "accountability": datetime(2020, 10, 11)}),
    # due at the end of 30 Sep: the interview is the end of 9 Oct, after the holiday week
    HolidayCase("due-end-of-sep-30", datetime(2020, 9, 29, 10), "c-jiezi", False,
                datetime(2020, 10, 1),
                {"reminder": datetime(2020, 9, 30), "interview": datetime(2020, 10, 10),
                 "accountability": datetime(2020, 10, 15)}),
    HolidayCase("due-end-of-sep-30-listed", datetime(2020, 9, 29, 10), "c-jiezi", True,
                datetime(2020, 10, 1),
                {"reminder": datetime(2020, 9, 30), "interview": datetime(2020, 10, 1),
                 "accountability": datetime(2020, 10, 13)}),
    # entered 30 Sep: due the end of 9 Oct; the interview falls on Saturday 10 Oct (make-up)
    HolidayCase("interview-on-saturday", datetime(2020, 9, 30, 10), "v-shiban", False,
                datetime(2020, 10, 10),
                {"reminder": datetime(2020, 10, 9), "interview": datetime(2020, 10, 11),
                 "accountability": datetime(2020, 10, 16)}),
    HolidayCase("interview-on-saturday-listed", datetime(2020, 9, 30, 10), "v-shiban", True,
                datetime(2020, 10, 10),
                {"reminder": datetime(2020, 10, 9), "interview": datetime(2020, 10, 10),
                 "accountability": datetime(2020, 10, 14)}),
]
QUIET_SWEEPS = [datetime(2020, 10, 1, 12), datetime(2020, 10, 5, 12), datetime(2020, 10, 8, 23)]
"""Sweeps inside the holiday week: nothing new has come due then."""


def test_ladders_across_the_holiday_week_and_make_up_days(svc: Scenario) -> None:
    # a timeline: each issue is added at its time; a sweep one minute before and one exactly
    # at every ladder moment, in time order
    timeline: list[tuple[datetime, int, HolidayCase | None]] = [
        (c.entered, 0, c) for c in HOLIDAY_CASES]
    moments = sorted({m for c in HOLIDAY_CASES for m in c.ladder.values()})
    timeline += [(t, 1, None) for m in moments for t in (m - MINUTE, m)]
    timeline += [(t, 1, None) for t in QUIET_SWEEPS]
    ids: dict[str, int] = {}
    for when, _, case in sorted(timeline, key=lambda a: (a[0], a[1])):
        if case is not None:
            issue = add(svc, when, case.village, case.listed)
            assert issue.state == "found"
            assert issue.due_at == aware(case.due), case.name
            assert issue.next_escalation_at == aware(case.ladder["reminder"]), case.name
            ids[case.name] = issue.id
            continue
        raised = sweep(svc, when)
        expected = sorted(
            (ids[c.name], lv) for c in HOLIDAY_CASES if c.name in ids
            for lv, m in c.ladder.items() if m == when)
        assert sorted(levels(raised)) == expected, when
        for e in raised:
            case = next(c for c in HOLIDAY_CASES if ids[c.name] == e.issue_id)
            assert e.moment == e.raised_at == aware(when)
            assert e.due_at == aware(case.due)
            # in *found*, the finders (group sa-01: sa1, and sa2 of 石板村, a village cadre,
            # which summons its secretary to the interview)
            assert e.recipients == FOUND_RECIPIENTS[case.village][e.level]
            assert e.stage == "found"
        assert svc.escalate() == []

    for case in HOLIDAY_CASES:
        mine = svc.escalations(EscalationFilter(issue_id=ids[case.name]))
        assert [(e.level, e.moment) for e in mine] == [
            (lv, aware(m)) for lv, m in case.ladder.items()], case.name
        assert svc.show(ids[case.name]).next_escalation_at is None
    assert_folds(svc, *ids.values())


def test_lights_through_the_holiday_week(svc: Scenario) -> None:
    # due at the end of Friday 9 Oct (entered 30 Sep): green through the holiday, yellow on
    # 9 Oct (its last working day), red from Saturday 10 Oct 00:00 (a make-up working day)
    issue = add(svc, datetime(2020, 9, 30, 10))
    expected = [
        (datetime(2020, 9, 30, 10), "green"), (datetime(2020, 10, 5, 12), "green"),
        (datetime(2020, 10, 8, 23, 59), "green"), (datetime(2020, 10, 9), "yellow"),
        (datetime(2020, 10, 9, 23, 59), "yellow"), (datetime(2020, 10, 10), "red"),
    ]
    for now, colour in expected:
        svc.set_now(now)
        assert light(svc, issue.id) == colour, now
    # the reminder out makes it yellow however far the due moment is (see the extension test)
    assert levels(sweep(svc, datetime(2020, 10, 9))) == [(issue.id, "reminder")]
    assert light(svc, issue.id) == "yellow"


# --- 4: idempotence and late sweeps -------------------------------------------------------
def test_a_late_sweep_raises_every_level_once_in_ladder_order(svc: Scenario) -> None:
    issue = reported(svc)
    late = datetime(2020, 11, 30, 10, 0)
    raised = sweep(svc, late)
    assert [(e.level, e.moment, e.raised_at, e.recipients, e.status) for e in raised] == [
        ("reminder", town(2020, 10, 12), aware(late), ("rc1",), "done"),
        ("interview", town(2020, 10, 14), aware(late), ("liu", "rc1"), "open"),
        ("accountability", town(2020, 10, 20), aware(late), ("wang",), "open"),
    ]
    assert [e.subjects for e in raised] == [("rc1",)] * 3
    assert [e.id for e in raised] == sorted(e.id for e in raised)
    assert svc.escalate() == []
    assert sweep(svc, datetime(2020, 12, 31, 10)) == []
    assert svc.escalations(EscalationFilter(issue_id=issue.id)) == raised

    events = svc.history(issue.id)
    assert_versions_consecutive(events)
    assert [e.type for e in events] == ["created", "transition"] + ["escalated"] * 3
    assert [e.payload["level"] for e in events[2:]] == [
        "reminder", "interview", "accountability"]
    assert [moment_of(e.payload["next_escalation_at"]) for e in events[2:]] == [
        town(2020, 10, 14), town(2020, 10, 20), None]
    assert svc.show(issue.id).next_escalation_at is None
    assert light(svc, issue.id) == "red"
    assert_folds(svc, issue.id)


def test_a_late_sweep_in_small_batches_covers_every_issue(svc: Scenario) -> None:
    ids = [reported(svc).id, reported(svc, village="c-jiezi").id, reported(svc, listed=True).id]
    raised = sweep(svc, datetime(2020, 11, 30, 10, 0), batch=1)
    assert sorted(levels(raised)) == sorted(
        (i, lv) for i in ids for lv in ("reminder", "interview", "accountability"))
    for i in ids:  # ladder order within each issue
        assert [e.level for e in raised if e.issue_id == i] == [
            "reminder", "interview", "accountability"]
    assert [e.recipients for e in raised if e.issue_id == ids[1]] == [
        ("rc1",), ("liu", "rc1"), ("wang",)]
    assert [e.moment for e in raised if e.issue_id == ids[2]] == [
        town(2020, 10, 12), town(2020, 10, 13), town(2020, 10, 16)]
    assert svc.escalate(batch=1) == []
    assert_folds(svc, *ids)


def test_an_issue_without_a_due_moment_is_never_escalated(svc: Scenario, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"the new roof")
    issue = add(svc, datetime(2020, 9, 28, 10))
    move(svc, "sa1", issue.id, "fix", note="done", files=[photo])
    move(svc, "qs1", issue.id, "verify", note="checked")
    cleared = move(svc, "wang", issue.id, "clear")
    assert cleared.due_at is None and cleared.next_escalation_at is None
    assert sweep(svc, datetime(2020, 12, 31)) == []
    assert light(svc, issue.id) is None


# --- 5: moving on ------------------------------------------------------------------------
def test_moving_on_supersedes_the_open_interview_and_starts_a_fresh_ladder(
        svc: Scenario) -> None:
    issue = reported(svc)
    raised = sweep(svc, datetime(2020, 10, 14, 0, 0))
    assert levels(raised) == [(issue.id, "reminder"), (issue.id, "interview")]
    reminder, interview = raised

    svc.set_now(datetime(2020, 10, 14, 10, 0))
    moved = move(svc, "rc1", issue.id, "study", plan="new roof", assignee="rc2",
                 due=date(2020, 10, 20))
    assert moved.state == "studied" and moved.stage_version == moved.version == 5
    assert moved.due_at == town(2020, 10, 21)
    assert moved.next_escalation_at == town(2020, 10, 20)  # the new stage's reminder

    transition = svc.history(issue.id)[-1]
    assert transition.type == "transition" and transition.transition == "study"
    assert transition.payload["superseded_escalations"] == [interview.id]
    assert transition.payload["superseded_extensions"] == []
    gone = svc.escalation(interview.id)
    assert (gone.status, gone.closed_by, gone.closed_at) == (
        "superseded", "rc1", town(2020, 10, 14, 10))
    assert svc.escalation(reminder.id) == reminder  # a done reminder stays done
    assert svc.escalations(EscalationFilter(open_only=True)) == []
    refused(svc, issue.id, "liu", Refused,
            lambda: svc.record_escalation(interview.id, "too late"))

    # the stage it left raises nothing more (its accountability was due 20 Oct 00:00)
    assert sweep(svc, datetime(2020, 10, 14, 10, 0)) == []
    assert sweep(svc, datetime(2020, 10, 19, 23, 59)) == []
    [fresh] = sweep(svc, datetime(2020, 10, 20, 0, 0))
    assert (fresh.stage, fresh.stage_version, fresh.level, fresh.recipients, fresh.moment,
            fresh.due_at) == (
        "studied", 5, "reminder", ("rc2",), town(2020, 10, 20), town(2020, 10, 21))
    assert sweep(svc, datetime(2020, 10, 21, 23, 59)) == []
    [second] = sweep(svc, datetime(2020, 10, 22, 0, 0))
    assert (second.stage, second.level, second.recipients, second.moment) == (
        "studied", "interview", ("liu", "rc2"), town(2020, 10, 22))
    assert second.subjects == ("rc2",)  # the assignee answers for *studied*
    assert statuses(svc, issue.id) == [
        ("reported", "reminder", "done"), ("reported", "interview", "superseded"),
        ("studied", "reminder", "done"), ("studied", "interview", "open")]
    assert_folds(svc, issue.id)


def test_a_move_without_open_escalations_records_no_supersession(svc: Scenario) -> None:
    issue = reported(svc)
    assert levels(sweep(svc, datetime(2020, 10, 12))) == [(issue.id, "reminder")]
    svc.set_now(datetime(2020, 10, 12, 10))
    move(svc, "rc1", issue.id, "study", plan="p", assignee="rc2", due=date(2020, 10, 20))
    assert "superseded_escalations" not in svc.history(issue.id)[-1].payload
    assert statuses(svc, issue.id) == [("reported", "reminder", "done")]


# --- 6: interviews and accountability ------------------------------------------------------
def test_recording_interviews_and_deciding_accountability(svc: Scenario) -> None:
    issue = reported(svc)
    other = reported(svc, village="c-jiezi")
    raised = sweep(svc, datetime(2020, 10, 20, 0, 0))
    mine = {e.level: e for e in raised if e.issue_id == issue.id}
    theirs = {e.level: e for e in raised if e.issue_id == other.id}
    reminder, interview, account = (mine["reminder"], mine["interview"],
                                    mine["accountability"])

    # who may not record the interview (the village secretary is only interviewed)
    for who in ("chen", "sa1", "qs1", "rc1", "zhou", "nobody"):
        refused(svc, issue.id, who, NotPermitted,
                lambda: svc.record_escalation(interview.id, "talked", ["chen"]))
    # wrong level, missing note, unknown person, unknown escalation
    refused(svc, issue.id, "wang", Refused,
            lambda: svc.record_escalation(reminder.id, "talked"))
    refused(svc, issue.id, "wang", Refused,
            lambda: svc.record_escalation(account.id, "talked"))
    refused(svc, issue.id, "wang", Refused,
            lambda: svc.record_escalation(interview.id, "decided", decide=True))
    refused(svc, issue.id, "liu", MissingField,
            lambda: svc.record_escalation(interview.id, "  "))
    refused(svc, issue.id, "liu", NotFound,
            lambda: svc.record_escalation(interview.id, "talked", ["ghost"]))
    refused(svc, issue.id, "liu", NotFound, lambda: svc.record_escalation(9999, "talked"))
    with pytest.raises(NotFound):
        svc.escalation(9999)

    # the liaison leader records it
    svc.set_now(datetime(2020, 10, 20, 15, 0))
    svc.actor = "liu"
    done = svc.record_escalation(interview.id, "约谈陈支书", ["chen"])
    assert (done.status, done.closed_by, done.closed_at, done.note, done.attendees) == (
        "recorded", "liu", town(2020, 10, 20, 15), "约谈陈支书", ("chen",))
    assert svc.escalation(interview.id) == done
    event = svc.history(issue.id)[-1]
    assert (event.type, event.actor, event.at) == (
        "interview_recorded", "liu", town(2020, 10, 20, 15))
    assert as_decided(event.payload) == {"escalation": interview.id, "note": "约谈陈支书",
                                   "with": ["chen"]}
    refused(svc, issue.id, "wang", Refused,
            lambda: svc.record_escalation(interview.id, "again"))

    # the party secretary may record an interview too
    svc.actor = "wang"
    assert svc.record_escalation(theirs["interview"].id, "约谈", []).status == "recorded"

    # accountability: only the party secretary decides
    for who in ("liu", "chen", "qs1"):
        refused(svc, issue.id, who, NotPermitted,
                lambda: svc.record_escalation(account.id, "问责", decide=True))
    svc.actor = "wang"
    decided = svc.record_escalation(account.id, "通报批评", decide=True)
    assert (decided.status, decided.closed_by, decided.note) == ("decided", "wang", "通报批评")
    event = svc.history(issue.id)[-1]
    assert (event.type, event.actor) == ("accountability_decided", "wang")
    assert event.payload["escalation"] == account.id
    refused(svc, issue.id, "wang", Refused,
            lambda: svc.record_escalation(account.id, "again", decide=True))

    assert statuses(svc, issue.id) == [
        ("reported", "reminder", "done"), ("reported", "interview", "recorded"),
        ("reported", "accountability", "decided")]
    # recorded and decided escalations are not superseded by moving on
    svc.set_now(datetime(2020, 10, 21, 10))
    move(svc, "rc1", issue.id, "study", plan="p", assignee="rc2", due=date(2020, 10, 23))
    assert "superseded_escalations" not in svc.history(issue.id)[-1].payload
    assert statuses(svc, issue.id)[1:] == [
        ("reported", "interview", "recorded"), ("reported", "accountability", "decided")]
    # the open accountability of the other issue is superseded when it moves on
    moved = move(svc, "rc1", other.id, "study", plan="p", assignee="rc2",
                 due=date(2020, 10, 23))
    assert svc.history(other.id)[-1].payload["superseded_escalations"] == [
        theirs["accountability"].id]
    assert moved.stage_version == moved.version
    assert statuses(svc, other.id) == [
        ("reported", "reminder", "done"), ("reported", "interview", "recorded"),
        ("reported", "accountability", "superseded")]
    assert_folds(svc, issue.id, other.id)


def test_escalation_filters(svc: Scenario) -> None:
    issue = reported(svc)
    other = reported(svc, village="c-jiezi")
    raised = sweep(svc, datetime(2020, 10, 14, 0, 0))
    assert levels(raised) == [(issue.id, "reminder"), (issue.id, "interview"),
                              (other.id, "reminder"), (other.id, "interview")]

    def ids(**kw: Any) -> list[tuple[int, str]]:
        return levels(svc.escalations(EscalationFilter(**kw)))

    assert ids() == levels(raised)
    assert ids(open_only=True) == [(issue.id, "interview"), (other.id, "interview")]
    assert ids(level="reminder") == [(issue.id, "reminder"), (other.id, "reminder")]
    assert ids(to="rc1") == levels(raised)  # the owner of *reported* in both villages
    assert ids(to="rc1", open_only=True) == [(issue.id, "interview"), (other.id, "interview")]
    assert ids(to="chen") == []  # the village secretary neither owns nor answers for it
    assert ids(to="liu", level="interview", open_only=True) == [
        (issue.id, "interview"), (other.id, "interview")]
    assert ids(to="li") == []  # a person id is matched whole, not as a prefix
    assert ids(to="wang") == []
    assert ids(issue_id=other.id) == [(other.id, "reminder"), (other.id, "interview")]
    assert ids(limit=1) == [(issue.id, "reminder")]


def test_escalation_filter_to_matches_the_person_id_literally(svc: Scenario) -> None:
    reported(svc)
    assert len(sweep(svc, datetime(2020, 10, 14, 0, 0))) == 2
    assert svc.escalations(EscalationFilter(to="c_en")) == []
    assert svc.escalations(EscalationFilter(to="%")) == []


def test_escalation_filter_to_is_case_sensitive_on_sqlite(
        sqlite_url: str, org_file: Path, tmp_path: Path) -> None:
    svc = scenario(sqlite_url, tmp_path / "data", actor="wang", now=START)
    svc.init(org_file)
    try:
        reported(svc)
        assert len(sweep(svc, datetime(2020, 10, 14, 0, 0))) == 2
        assert svc.escalations(EscalationFilter(to="CHEN")) == []
    finally:
        svc.store.close()


# --- 6: extensions -------------------------------------------------------------------------
def test_an_approved_extension_moves_the_due_moment_and_the_ladder(svc: Scenario) -> None:
    issue = studied(svc)  # due the end of Friday 16 Oct
    assert issue.due_at == town(2020, 10, 17)
    assert issue.next_escalation_at == town(2020, 10, 16)
    [reminder] = sweep(svc, datetime(2020, 10, 16, 0, 0))
    assert (reminder.level, reminder.recipients) == ("reminder", ("rc2",))  # the assignee

    svc.set_now(datetime(2020, 10, 16, 10, 0))
    for who in ("liu", "wang", "chen", "rc1", "sa1"):
        refused(svc, issue.id, who, NotPermitted,
                lambda: svc.extend(issue.id, date(2020, 10, 23), "rain"))
    refused(svc, issue.id, "rc2", MissingField,
            lambda: svc.extend(issue.id, date(2020, 10, 23), " "))
    refused(svc, issue.id, "rc2", DeadlineRefused,
            lambda: svc.extend(issue.id, date(2020, 10, 16), "not later"))

    svc.actor = "rc2"
    asked = svc.extend(issue.id, date(2020, 10, 23), "rain for a week")
    assert (asked.status, asked.requested_by, asked.to_date, asked.old_due_at, asked.stage,
            asked.stage_version) == (
        "pending", "rc2", "2020-10-23", town(2020, 10, 17), "studied", issue.stage_version)
    event = svc.history(issue.id)[-1]
    assert (event.type, event.actor) == ("extension_requested", "rc2")
    assert as_decided(event.payload) == {"extension": asked.id, "to": "2020-10-23",
                                   "reason": "rain for a week"}
    assert svc.show(issue.id).due_at == town(2020, 10, 17)  # not yet moved
    refused(svc, issue.id, "rc2", Refused,
            lambda: svc.extend(issue.id, date(2020, 10, 22), "another"))
    assert svc.extensions(pending_only=True) == [asked]

    for who in ("rc2", "chen", "qs1"):
        refused(svc, issue.id, who, NotPermitted,
                lambda: svc.decide_extension(asked.id, True, "ok"))
    refused(svc, issue.id, "liu", NotFound, lambda: svc.decide_extension(9999, True))

    svc.set_now(datetime(2020, 10, 16, 11, 0))
    svc.actor = "liu"
    approved = svc.decide_extension(asked.id, True, "同意")
    assert (approved.status, approved.decided_by, approved.decided_at, approved.note) == (
        "approved", "liu", town(2020, 10, 16, 11), "同意")
    now_issue = svc.show(issue.id)
    assert now_issue.due_at == town(2020, 10, 24)
    # the reminder stays raised: next is the new interview, the end of Monday 26 Oct
    assert now_issue.next_escalation_at == town(2020, 10, 27)
    event = svc.history(issue.id)[-1]
    assert (event.type, event.actor) == ("extension_approved", "liu")
    assert event.payload["extension"] == asked.id
    assert moment_of(event.payload["due_at"]) == town(2020, 10, 24)
    assert moment_of(event.payload["next_escalation_at"]) == town(2020, 10, 27)
    refused(svc, issue.id, "wang", Refused, lambda: svc.decide_extension(asked.id, False))
    assert svc.extensions(pending_only=True) == []
    assert svc.extensions(issue.id) == [approved]
    assert light(svc, issue.id) == "yellow"  # a reminder is out

    # the old ladder is gone; the new one (less the raised reminder) applies
    for quiet in (datetime(2020, 10, 20, 0, 0), datetime(2020, 10, 23, 0, 0),
                  datetime(2020, 10, 26, 23, 59)):
        assert sweep(svc, quiet) == [], quiet
    svc.set_now(datetime(2020, 10, 23, 12))
    assert light(svc, issue.id) == "yellow"
    svc.set_now(datetime(2020, 10, 24, 0, 0))
    assert light(svc, issue.id) == "red"
    [interview] = sweep(svc, datetime(2020, 10, 27, 0, 0))
    assert (interview.level, interview.due_at, interview.moment, interview.recipients) == (
        "interview", town(2020, 10, 24), town(2020, 10, 27), ("liu", "rc2"))
    # accountability: 26, 27, 28, 29, 30 Oct
    assert sweep(svc, datetime(2020, 10, 30, 23, 59)) == []
    assert levels(sweep(svc, datetime(2020, 10, 31, 0, 0))) == [(issue.id, "accountability")]
    assert [e.level for e in svc.escalations(EscalationFilter(issue_id=issue.id))] == [
        "reminder", "interview", "accountability"]
    # and after the new due moment, no more extensions
    refused(svc, issue.id, "rc2", DeadlineRefused,
            lambda: svc.extend(issue.id, date(2020, 11, 6), "more"))
    assert_folds(svc, issue.id)


def test_a_denied_extension_keeps_the_due_moment_and_requests_end_at_due(
        svc: Scenario, tmp_path: Path) -> None:
    issue = studied(svc)  # due 2020-10-17 00:00
    svc.set_now(datetime(2020, 10, 15, 10, 0))
    svc.actor = "rc2"
    asked = svc.extend(issue.id, date(2020, 10, 23), "rain")
    svc.actor = "wang"
    denied = svc.decide_extension(asked.id, False, "不同意")
    assert (denied.status, denied.decided_by, denied.note) == ("denied", "wang", "不同意")
    event = svc.history(issue.id)[-1]
    assert (event.type, as_decided(event.payload)) == (
        "extension_denied", {"extension": asked.id, "note": "不同意"})
    after = svc.show(issue.id)
    assert (after.due_at, after.next_escalation_at) == (town(2020, 10, 17), town(2020, 10, 16))

    # a new request is possible until the due moment, not at it
    svc.set_now(datetime(2020, 10, 17, 0, 0))
    refused(svc, issue.id, "rc2", DeadlineRefused,
            lambda: svc.extend(issue.id, date(2020, 10, 23), "late"))
    svc.set_now(datetime(2020, 10, 16, 23, 59))
    svc.actor = "rc2"
    again = svc.extend(issue.id, date(2020, 10, 22), "just in time")
    assert again.status == "pending"

    # the old ladder applies: reminder 16 Oct, interview the end of 19 Oct
    assert levels(sweep(svc, datetime(2020, 10, 20, 0, 0))) == [
        (issue.id, "reminder"), (issue.id, "interview")]

    # moving on supersedes the pending request and the open interview
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"the new roof")
    svc.set_now(datetime(2020, 10, 20, 10, 0))
    move(svc, "rc2", issue.id, "rectify", note="done", files=[photo])
    payload = svc.history(issue.id)[-1].payload
    assert payload["superseded_extensions"] == [again.id]
    interview_id = svc.escalations(EscalationFilter(issue_id=issue.id, level="interview"))[0].id
    assert payload["superseded_escalations"] == [interview_id]
    assert [x.status for x in svc.extensions(issue.id)] == ["denied", "superseded"]
    refused(svc, issue.id, "liu", Refused, lambda: svc.decide_extension(again.id, True))
    assert_folds(svc, issue.id)


# --- 6: listing a village ------------------------------------------------------------------
def test_listing_a_village_switches_its_open_issues_to_the_listed_ladder(
        svc: Scenario) -> None:
    a = reported(svc)  # v-shiban, default ladder
    b = reported(svc, village="c-jiezi")
    c = reported(svc, listed=True)  # v-shiban, listed itself
    assert levels(sweep(svc, datetime(2020, 10, 12, 0, 0))) == [
        (a.id, "reminder"), (b.id, "reminder"), (c.id, "reminder")]

    svc.set_now(datetime(2020, 10, 12, 10, 0))
    for who in ("liu", "chen", "qs1", "sa1"):
        refused(svc, a.id, who, NotPermitted, lambda: svc.list_village("v-shiban", True))
    refused(svc, a.id, "wang", NotFound, lambda: svc.list_village("v-nowhere", True))
    refused(svc, a.id, "wang", Refused, lambda: svc.list_village("v-shiban", False))

    svc.actor = "wang"
    assert svc.list_village("v-shiban", True) == [a.id, c.id]
    listed_a = svc.show(a.id)
    assert listed_a.listed_by_village and listed_a.supervised
    assert listed_a.next_escalation_at == town(2020, 10, 13)  # the interview at due
    event = svc.history(a.id)[-1]
    assert (event.type, event.actor) == ("village_listed", "wang")
    assert event.payload["village"] == "v-shiban"
    assert moment_of(event.payload["next_escalation_at"]) == town(2020, 10, 13)
    assert svc.history(c.id)[-1].type == "village_listed"
    assert svc.show(b.id).next_escalation_at == town(2020, 10, 14)  # other village unchanged
    assert svc.history(b.id)[-1].type == "escalated"
    refused(svc, a.id, "wang", Refused, lambda: svc.list_village("v-shiban", True))
    # a new issue of a listed village starts on the listed ladder
    fresh = add(svc, datetime(2020, 10, 12, 11, 0))
    assert fresh.listed_by_village and not fresh.listed

    assert sweep(svc, datetime(2020, 10, 12, 23, 59)) == []
    # the new issue (found, due the end of 13 Oct) has its reminder at the start of 13 Oct
    assert sorted(levels(sweep(svc, datetime(2020, 10, 13, 0, 0)))) == [
        (a.id, "interview"), (c.id, "interview"), (fresh.id, "reminder")]
    assert sweep(svc, datetime(2020, 10, 13, 23, 59)) == []
    assert sorted(levels(sweep(svc, datetime(2020, 10, 14, 0, 0)))) == [
        (b.id, "interview"), (fresh.id, "interview")]

    # unlisting: a goes back to the default ladder (accountability +5), c stays listed
    svc.set_now(datetime(2020, 10, 14, 10, 0))
    svc.actor = "wang"
    assert svc.list_village("v-shiban", False) == [a.id, c.id, fresh.id]
    assert svc.show(a.id).next_escalation_at == town(2020, 10, 20)
    assert svc.show(c.id).next_escalation_at == town(2020, 10, 16)
    assert svc.history(a.id)[-1].type == "village_unlisted"
    assert not svc.show(fresh.id).listed_by_village
    # fresh: default accountability, +5 working days from its due (14–20 Oct)
    assert svc.show(fresh.id).next_escalation_at == town(2020, 10, 21)
    assert levels(sweep(svc, datetime(2020, 10, 16, 0, 0))) == [(c.id, "accountability")]
    assert levels(sweep(svc, datetime(2020, 10, 20, 0, 0))) == [
        (a.id, "accountability"), (b.id, "accountability")]
    assert levels(sweep(svc, datetime(2020, 10, 21, 0, 0))) == [(fresh.id, "accountability")]
    for i in (a.id, b.id, c.id, fresh.id):
        assert [e.level for e in svc.escalations(EscalationFilter(issue_id=i))] == [
            "reminder", "interview", "accountability"]
    assert_folds(svc, a.id, b.id, c.id, fresh.id)


def test_an_issue_reopened_in_a_listed_village_follows_the_listed_ladder(
        svc: Scenario, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"the new roof")
    issue = add(svc, datetime(2020, 9, 28, 10))
    move(svc, "sa1", issue.id, "fix", note="done", files=[photo])
    move(svc, "qs1", issue.id, "verify", note="checked")
    move(svc, "wang", issue.id, "clear")
    svc.actor = "wang"
    assert svc.list_village("v-shiban", True) == []  # no open issue there now

    svc.set_now(datetime(2020, 9, 30, 10, 0))
    back = move(svc, "qs1", issue.id, "reopen", reason="the roof leaks again")
    assert back.state == "reported" and back.due_at == town(2020, 10, 13)
    assert levels(sweep(svc, datetime(2020, 10, 12, 0, 0))) == [(issue.id, "reminder")]
    # its village is listed: the interview comes at due (13 Oct 00:00), not a day later
    assert levels(sweep(svc, datetime(2020, 10, 13, 0, 0))) == [(issue.id, "interview")]
    assert svc.show(issue.id).supervised


def test_the_history_still_folds_to_the_row_after_a_calendar_update(
        svc: Scenario, org_file: Path, tmp_path: Path) -> None:
    issue = reported(svc)
    assert levels(sweep(svc, datetime(2020, 10, 12, 0, 0))) == [(issue.id, "reminder")]
    assert svc.show(issue.id).next_escalation_at == town(2020, 10, 14)
    holidays = tmp_path / "holidays.yaml"
    holidays.write_text("holidays: [2020-10-13]\n", encoding="utf-8")
    svc.set_now(START)
    svc.init(org_file, holidays_path=holidays)
    # 13 Oct is now off: the interview is the end of 14 Oct
    assert sweep(svc, datetime(2020, 10, 14, 0, 0)) == []
    assert svc.show(issue.id).next_escalation_at == town(2020, 10, 15)
    assert_folds(svc, issue.id)


# --- 7: the command line ---------------------------------------------------------------------
def test_the_command_line(db_url: str, org_file: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RECTIFY_DB", "RECTIFY_USER", "RECTIFY_NOW", "RECTIFY_DATA_DIR",
                 "RECTIFY_DEBUG"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, who: str | None = None, now: str | None = None) -> Ran:
        argv = ["--db", db_url, "--data-dir", str(tmp_path / "data"), "--json"]
        if who is not None:
            argv += ["--as", who]
        if now is not None:
            argv += ["--now", now]
        return run_cli(*argv, *args)

    def ok(*args: str, who: str | None = None, now: str | None = None) -> Any:
        r = run(*args, who=who, now=now)
        assert (r.code, r.err) == (0, ""), r
        return r.json()

    def no(*args: str, who: str | None = None, now: str | None = None) -> str:
        r = run(*args, who=who, now=now)
        assert r.code == 1 and r.out == "", r
        lines = r.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), r.err
        assert "unexpected" not in lines[0]
        return lines[0]

    ok("init", "--drill", "--org", str(org_file), now="2020-09-28T09:00")
    new = ok("issue", "add", "--title", "roof leaks", "--category", "housing_safety",
             "--village", "v-shiban", who="sa1", now="2020-09-30T10:00")
    issue_id: int = new["id"]
    ok("issue", "move", str(issue_id), "report", who="sa1", now="2020-09-30T10:00")

    shown = ok("issue", "show", str(issue_id), now="2020-10-09T10:00")
    assert (shown["light"], shown["due_at"], shown["next_escalation_at"]) == (
        "green", "2020-10-13T00:00:00+08:00", "2020-10-12T00:00:00+08:00")
    assert ok("escalate", now="2020-10-11T23:59") == {"raised": []}
    assert ok("issue", "show", str(issue_id), now="2020-10-12T09:00")["light"] == "yellow"

    raised = ok("escalate", now="2020-10-14T00:00")["raised"]
    common = {"issue": issue_id, "stage": "reported", "due_at": "2020-10-13T00:00:00+08:00",
              "raised_at": "2020-10-14T00:00:00+08:00"}
    assert [{k: e[k] for k in ("issue", "stage", "due_at", "raised_at")} for e in raised] == [
        common, common]
    assert [(e["level"], e["recipients"], e["moment"], e["status"]) for e in raised] == [
        ("reminder", ["rc1"], "2020-10-12T00:00:00+08:00", "done"),
        ("interview", ["liu", "rc1"], "2020-10-14T00:00:00+08:00", "open"),
    ]
    assert [e["subjects"] for e in raised] == [["rc1"], ["rc1"]]
    assert all(isinstance(e["id"], int) for e in raised)
    interview_id: int = raised[1]["id"]
    assert ok("escalate", now="2020-10-14T00:00") == {"raised": []}

    listed = ok("escalation", "list", "--open", "--level", "interview", "--to", "liu")
    assert [(e["id"], e["issue"], e["level"], e["status"]) for e in listed] == [
        (interview_id, issue_id, "interview", "open")]
    assert ok("escalation", "list", "--to", "rc1") == [
        ok("escalation", "show", str(raised[0]["id"])), ok("escalation", "show",
                                                            str(interview_id))]
    assert ok("escalation", "list", "--open", "--to", "rc1", "--level", "reminder") == []
    assert ok("escalation", "list", "--to", "chen") == []

    shown = ok("issue", "show", str(issue_id), now="2020-10-14T09:00")
    assert (shown["light"], shown["next_escalation_at"]) == (
        "red", "2020-10-20T00:00:00+08:00")

    before = ok("escalation", "show", str(interview_id))
    assert "sa1" in no("escalation", "record", str(interview_id), "--note", "talked",
                       "--with", "chen", who="sa1", now="2020-10-14T10:00")
    assert ok("escalation", "show", str(interview_id)) == before
    no("escalation", "decide", str(interview_id), "--note", "x", "--outcome", "talk", who="wang",
       now="2020-10-14T10:00")
    no("issue", "extend", str(issue_id), "--to", "2020-10-20", "--reason", "late",
       who="chen", now="2020-10-14T10:00")
    no("village", "list", "v-shiban", who="liu", now="2020-10-14T10:00")

    recorded = ok("escalation", "record", str(interview_id), "--note", "talked",
                  "--with", "chen", who="liu", now="2020-10-14T10:00")
    assert (recorded["status"], recorded["closed_by"], recorded["with"], recorded["note"],
            recorded["closed_at"]) == (
        "recorded", "liu", ["chen"], "talked", "2020-10-14T10:00:00+08:00")
    assert ok("escalation", "list", "--open", "--level", "interview", "--to", "liu") == []
    no("escalation", "record", str(interview_id), "--note", "again", who="liu",
       now="2020-10-14T11:00")

    history = ok("issue", "history", str(issue_id))
    assert [e["type"] for e in history] == [
        "created", "transition", "escalated", "escalated", "interview_recorded"]
    assert [e["version"] for e in history] == [1, 2, 3, 4, 5]
    shown = ok("issue", "show", str(issue_id), now="2020-10-20T00:00")
    assert shown["version"] == 5 and shown["light"] == "red"
