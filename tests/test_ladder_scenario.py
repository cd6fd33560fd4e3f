"""A whole ladder, stage by stage (docs/domain.md §5 and §8).

For each of the five stages an issue is left overdue there. The sweep runs at the moments the
issue's ladder names, and raises the reminder, then the interview, then the accountability case;
the village's liaison leader records the interview with its attendees (`--with`); the party
secretary decides the case with an outcome and its subjects. Every message the ladder queues
is dispatched to a file channel and read as its recipient reads it (the HTML form rendered from
the outbox row, as the dispatcher renders it): exactly who gets it, and what it says to each
role.

Who should get what is worked out here from the org file's roles and the domain's tables, never
from what the engine answered. The org is the tests' small org with the quality-supervision
group led by qs1 instead of the party secretary, so that each role of the ladder is held by a
person of its own: the party secretary decides, the quality-supervision leader is copied.

Times given to the scenario are naive town time (Asia/Shanghai).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.domain.escalation import OUTCOMES, Escalation
from engine.domain.issue import Issue, Move, NewIssue
from engine.store.escalations import EscalationFilter
from notifications.render import Renderer
from tests.support import Scenario, scenario, small_org_led, write_org
from tests.test_messages_arrive import configure, dispatch_at, lines, log_channels
from tests.test_stage_owners import decide

WORKFLOW: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "workflows" / "rectification.yaml").read_text("utf-8"))

# --- the org, and the roles read from it ----------------------------------------------------
ORG = small_org_led("quality_supervision", "qs1")

PEOPLE: dict[str, dict[str, Any]] = {p["id"]: p for p in ORG["people"]}
UNITS: dict[str, dict[str, Any]] = {u["id"]: u for u in ORG["units"]}
PARTY_SECRETARY: str = ORG["town"]["party_secretary"]

VILLAGE = "v-shiban"
GROUP = "sa-01"
"""The self-assessment group that finds the issue."""
ASSIGNEE = "sa2"
"""Given the issue at `study`: a cadre of 石板村 (so the village secretary answers with him)."""
TITLE = "房屋漏雨"
STAGES = ("found", "reported", "studied", "rectified", "verified")
LABELS = {"found": "发现", "reported": "上报", "studied": "研究", "rectified": "整改",
          "verified": "验收"}
OUTCOME = "admonish"


def name(person: str) -> str:
    return str(PEOPLE[person]["name"])


def leaders(kind: str) -> list[str]:
    return [g["leader"] for g in ORG["groups"] if g["kind"] == kind]


def members(group: str) -> list[str]:
    [found] = [g for g in ORG["groups"] if g["id"] == group]
    return [found["leader"], *(m for m in found["members"] if m != found["leader"])]


def village_cadre(person: str) -> bool:
    return PEOPLE[person]["unit"] in UNITS


def once(*people: str) -> list[str]:
    return list(dict.fromkeys(people))


LIAISON: str = UNITS[VILLAGE]["liaison"]
SECRETARY: str = UNITS[VILLAGE]["secretary"]
QS_LEADER = leaders("quality_supervision")
DECIDERS = [PARTY_SECRETARY]
"""Who may decide an accountability case (the workflow's `decide_accountability`)."""
assert WORKFLOW["actions"]["decide_accountability"] == ["party_secretary"]
assert WORKFLOW["actions"]["request_extension"] == ["assignee|village_secretary"]


@dataclass(frozen=True)
class Ladder:
    """Who each rung of one stage reaches, by the domain's tables (docs/domain.md §5, §8)."""

    stage: str

    @property
    def owners(self) -> list[str]:
        return {"found": members(GROUP), "reported": leaders("rectification"),
                "studied": [ASSIGNEE], "rectified": QS_LEADER,
                "verified": once(*QS_LEADER, PARTY_SECRETARY)}[self.stage]

    @property
    def assignee(self) -> str | None:
        return None if self.stage in ("found", "reported") else ASSIGNEE

    @property
    def may_ask_for_time(self) -> str:
        """The one person who may request an extension (`assignee|village_secretary`)."""
        return self.assignee or SECRETARY

    @property
    def interviewed(self) -> list[str]:
        """The owners, and the village secretary when an owner is a village cadre."""
        cadre = any(village_cadre(p) for p in self.owners)
        return once(*self.owners, *([SECRETARY] if cadre else []))

    @property
    def answerable(self) -> list[str]:
        return once(*self.owners, *self.interviewed)

    @property
    def referred(self) -> list[str]:
        """Whom the accountability case is raised to: the decider, then the copy."""
        return once(PARTY_SECRETARY, *QS_LEADER)


# --- the issue's path to its stage ----------------------------------------------------------
PATH: tuple[tuple[str, datetime, str, dict[str, Any]], ...] = (
    ("reported", datetime(2020, 9, 30, 10, 5), "sa1", {"transition": "report"}),
    ("studied", datetime(2020, 10, 9, 10, 0), "rc1",
     {"transition": "study", "plan": "维修屋面", "assignee": ASSIGNEE, "due": date(2020, 10, 16)}),
    ("rectified", datetime(2020, 10, 12, 10, 0), ASSIGNEE,
     {"transition": "rectify", "note": "屋面已修复"}),
    ("verified", datetime(2020, 10, 13, 10, 0), "qs2",
     {"transition": "verify", "note": "验收合格"}),
)
"""Each move (the stage it enters, when, by whom): a member of the self-assessment group
reports, the rectification group studies, the assignee rectifies, a quality-supervision
member who never held it verifies."""


def left_in(svc: Scenario, stage: str, evidence: Path) -> Issue:
    svc.set_now(datetime(2020, 9, 30, 10, 0))
    svc.actor = "sa1"
    issue = svc.add_issue(NewIssue(title=TITLE, category="housing_safety", village=VILLAGE,
                                   group=GROUP))
    for entered, at, actor, fields in PATH[:STAGES.index(stage)]:
        svc.set_now(at)
        svc.actor = actor
        issue = svc.move(Move(issue_id=issue.id, **fields),
                         [evidence] if entered == "rectified" else None)
    assert issue.state == stage
    return issue


# --- what each person read ------------------------------------------------------------------
KINDS = ("reminder", "interview", "interview_recorded", "accountability")
"""What the ladder tells (routed to the file channel; the study's assignment is not read)."""


@dataclass(frozen=True)
class Read:
    """One message as its recipient got it."""

    kind: str
    person: str
    subject: str
    text: str
    markdown: str
    html: str

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.subject, self.text, self.markdown, self.html)


@dataclass
class Walk:
    """The scenario with its file channel: each round dispatches what was queued and reads the
    new lines, one per person."""

    svc: Scenario
    log: Path
    locale: str
    seen: int = 0

    def round(self, at: datetime) -> dict[tuple[str, str], Read]:
        queued = {e.id: e for e in self.svc.outbox(statuses=["pending"]) if e.kind in KINDS}
        assert queued, "nothing was queued"
        sent = dispatch_at(self.svc, at)
        assert sent["sent"] == sorted(queued) and not sent["dead"], sent
        new = lines(self.log)[self.seen:]
        self.seen += len(new)
        renderer = Renderer(self.locale)
        out: dict[tuple[str, str], Read] = {}
        for line in new:
            row = queued[line["id"]]
            person = line["recipient"]["person"]
            assert (row.person, row.kind) == (person, line["kind"])
            assert line["recipient"]["name"] == name(person)
            assert (line["kind"], person) not in out, f"{person} got {line['kind']} twice"
            html = renderer.render(row.kind, row.context).html
            out[(line["kind"], person)] = Read(line["kind"], person, line["subject"],
                                               line["text"], line["markdown"], html)
        return out


@pytest.fixture
def walk(request: pytest.FixtureRequest, sqlite_url: str, tmp_path: Path) -> Iterator[Walk]:
    locale: str = request.param
    svc = scenario(sqlite_url, tmp_path / "data", actor=PARTY_SECRETARY,
                   now=datetime(2020, 9, 28, 9, 0))
    svc.init(write_org(tmp_path / "org.yaml", ORG))
    configure(svc, tmp_path / "rectify.toml", f'locale = "{locale}"\n' + log_channels(
        tmp_path, "\n".join(f'{k} = ["log"]' for k in KINDS), "log"))
    yield Walk(svc, tmp_path / "log.jsonl", locale)
    svc.close()


def moves(svc: Scenario, person: str, issue_id: int) -> set[str]:
    """The transitions out of the issue's stage that `person` may fire now."""
    svc.actor = person
    stage = svc.show(issue_id).state
    out = {t["name"] for t in WORKFLOW["transitions"]
           if stage in ([t["from"]] if isinstance(t["from"], str) else t["from"])}
    return out & set(svc.permitted(issue_id))


def raise_next(svc: Scenario, issue_id: int, level: str) -> Escalation:
    """Sweep a minute before the issue's next ladder moment (nothing comes), then at it: the
    one level that comes then."""
    moment = svc.show(issue_id).next_escalation_at
    assert moment is not None
    svc.set_now(moment - timedelta(minutes=1))
    assert svc.escalate() == []
    svc.set_now(moment)
    [raised] = svc.escalate()
    assert (raised.issue_id, raised.level, raised.moment) == (issue_id, level, moment)
    return raised


# --- the wording, per locale and role -------------------------------------------------------
@dataclass(frozen=True)
class Wording:
    """What each role must read (and must not), in one locale."""

    zh: bool

    def names(self, people: list[str]) -> str:
        return ("、" if self.zh else ", ").join(name(p) for p in people)

    def due(self, day: str) -> str:
        return f"{day} 止" if self.zh else f"by {day}"

    def greeting(self, person: str, formal: bool) -> str:
        if self.zh:
            return f"{name(person)}{'同志' if formal else ''}："
        return f"{'To' if formal else 'Dear'} {name(person)},"

    def stage(self, stage: str) -> str:
        """The issue's stage, as its details say it."""
        return f"当前环节：{LABELS[stage]}\n" if self.zh else f"Stage: {stage} ({LABELS[stage]})\n"

    def late_in(self, stage: str) -> str:
        """The stage it is late in, as an interview's or a case's notice says it."""
        return f"在“{LABELS[stage]}”环节" if self.zh else f"at the stage {stage} ({LABELS[stage]})"

    # the reminder -----------------------------------------------------------------------
    def ask_for_time(self) -> str:
        return "提出延期申请" if self.zh else "ask for an extension"

    # the interview ----------------------------------------------------------------------
    def to_conductor(self, interviewed: list[str]) -> str:
        if self.zh:
            return f"约谈主持：{name(LIAISON)}（包村领导）\n请您约谈：{self.names(interviewed)}\n"
        return f"You hold the interview (liaison leader) with: {self.names(interviewed)}\n"

    def to_subject(self, interviewed: list[str]) -> str:
        if self.zh:
            return (f"约谈人：{name(LIAISON)}（包村领导）\n"
                    f"约谈对象：{self.names(interviewed)}（含您本人）\n")
        return (f"You are summoned by: {name(LIAISON)} (liaison leader)\n"
                f"To be interviewed: {self.names(interviewed)}\n")

    @property
    def summoned(self) -> tuple[str, ...]:
        """What only a subject reads (attend it, who summons them)."""
        return (("请按时参加约谈", "约谈人：") if self.zh
                else ("Attend the interview", "You are summoned by"))

    @property
    def summoning(self) -> tuple[str, ...]:
        """What only the conductor reads (whom to summon)."""
        return ("请您约谈", "约谈主持") if self.zh else ("You hold the interview",)

    # the interview recorded --------------------------------------------------------------
    def record(self, interviewed: list[str], attended: list[str], note: str) -> str:
        if self.zh:
            return (f"约谈人：{name(LIAISON)}（包村领导）\n约谈对象：{self.names(interviewed)}\n"
                    f"参加约谈：{self.names(attended)}\n约谈情况：{note}\n")
        return (f"Held by: {name(LIAISON)} (liaison leader)\n"
                f"Interviewed: {self.names(interviewed)}\n"
                f"Attended: {self.names(attended)}\nRecord: {note}\n")

    # the accountability case --------------------------------------------------------------
    def referral(self, case: Ladder) -> str:
        copied = [p for p in case.referred if p not in DECIDERS]
        if self.zh:
            return (f"提请对象：{self.names(DECIDERS)}\n抄送：{self.names(copied)}\n"
                    f"问责对象（拟）：{self.names(case.answerable)}\n")
        return (f"Referred to: {self.names(DECIDERS)}\nCopied to: {self.names(copied)}\n"
                f"Answerable (proposed): {self.names(case.answerable)}\n")

    @property
    def to_decide(self) -> str:
        return "作出问责决定并在整改系统中记录" if self.zh else "decide on accountability"

    def decision(self, answerable: list[str], subject: bool, note: str) -> str:
        if self.zh:
            mine = "（含您本人）" if subject else ""
            return f"问责对象：{self.names(answerable)}{mine}\n决定说明：{note}\n"
        mine = " (you are one of them)" if subject else ""
        return f"Answerable: {self.names(answerable)}{mine}\nNote: {note}\n"

    @property
    def outcome(self) -> str:
        return OUTCOMES[OUTCOME] if self.zh else "an admonition"


def has_line(text: str, line: str) -> bool:
    return f"\n{line}\n" in f"\n{text}\n"


NOT_SHOWN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|[+-]\d\d:\d\d\b|\b00:00\b")
"""An ISO moment, a UTC offset, a midnight: a due moment reads as the day it ends."""


def reads_well(read: Read, due_at: datetime, tz: Any) -> None:
    """Names, never ids; the due moment as the last day it covers."""
    ids = {*PEOPLE, *UNITS, ORG["town"]["id"]} - {"nobody"}  # `nobody` is an English word too
    for form in read.forms:
        for an_id in ids:
            assert not re.search(rf"(?<![\w-]){re.escape(an_id)}(?![\w-])", form), (
                read.kind, read.person, an_id, form)
        assert not NOT_SHOWN.search(form), (read.kind, read.person, form)
        assert f"{due_at.astimezone(tz):%Y-%m-%d}" not in form, (read.kind, read.person)
    assert TITLE in read.subject


# --- the walk -------------------------------------------------------------------------------
CASES = [pytest.param(stage, "zh_CN", id=stage) for stage in STAGES] + [
    pytest.param("studied", "en", id="studied-en")]


@pytest.mark.parametrize(("stage", "walk"), [c.values for c in CASES], indirect=["walk"],
                         ids=[c.id for c in CASES])
def test_the_whole_ladder_tells_each_role_its_part(stage: str, walk: Walk,
                                                   tmp_path: Path) -> None:
    svc, case, say = walk.svc, Ladder(stage), Wording(walk.locale == "zh_CN")
    evidence = tmp_path / "roof.jpg"
    evidence.write_bytes(b"\xff\xd8roof")
    issue = left_in(svc, stage, evidence)
    due_at, tz = issue.due_at, svc.town_tz
    assert due_at is not None
    last_day = f"{due_at.astimezone(tz) - timedelta(days=1):%Y-%m-%d}"

    def common(read: Read) -> None:
        reads_well(read, due_at, tz)
        assert say.due(last_day) in read.text and say.stage(stage) in read.text
        assert f"#{issue.id}" in read.subject

    # the reminder: the stage's owners only; who may ask for more time is told to
    reminder = raise_next(svc, issue.id, "reminder")
    assert (reminder.recipients, reminder.subjects) == (tuple(case.owners), tuple(case.owners))
    got = walk.round(reminder.moment + timedelta(hours=9))
    assert set(got) == {("reminder", p) for p in case.owners}
    for person in case.owners:  # each can move the issue on from here; the secretary cannot
        assert moves(svc, person, issue.id), person
    assert SECRETARY not in reminder.recipients and not moves(svc, SECRETARY, issue.id)
    for (_, person), read in got.items():
        common(read)
        assert has_line(read.text, say.greeting(person, formal=False))
        assert (say.ask_for_time() in read.text) == (person == case.may_ask_for_time), person

    # the interview: the liaison leader holds it, the owners (and the village secretary when
    # an owner is a village cadre) are summoned; each reads their own part
    interview = raise_next(svc, issue.id, "interview")
    assert interview.subjects == tuple(case.interviewed)
    assert interview.recipients == (LIAISON, *case.interviewed)
    got = walk.round(interview.moment + timedelta(hours=9))
    assert set(got) == {("interview", p) for p in (LIAISON, *case.interviewed)}
    for (_, person), read in got.items():
        common(read)
        assert has_line(read.text, say.greeting(person, formal=True))
        assert TITLE in read.text and say.late_in(stage) in read.text
        if person == LIAISON:
            assert say.to_conductor(case.interviewed) in read.text, read.text
            assert not any(s in read.text for s in say.summoned), read.text
        else:
            assert say.to_subject(case.interviewed) in read.text, read.text
            assert not any(s in read.text for s in say.summoning), read.text

    # the liaison leader records it, with who attended: those interviewed and the party
    # secretary are told (not the one who recorded it), the conductor not among those
    # interviewed
    svc.set_now(interview.moment + timedelta(hours=15))
    svc.actor = LIAISON
    note = "已约谈，明确10月底前完成"
    recorded = svc.record_escalation(interview.id, note, attendees=case.interviewed)
    assert (recorded.status, recorded.closed_by, recorded.attendees) == (
        "recorded", LIAISON, tuple(case.interviewed))
    got = walk.round(interview.moment + timedelta(hours=16))
    told = [p for p in once(*case.interviewed, PARTY_SECRETARY) if p != LIAISON]
    assert set(got) == {("interview_recorded", p) for p in told}
    for read in got.values():
        common(read)
        assert say.record(case.interviewed, case.interviewed, note) in read.text, read.text

    # the accountability case: raised to the party secretary, who decides, and copied to the
    # quality-supervision leader; those answerable learn of it when it is decided
    raised = raise_next(svc, issue.id, "accountability")
    assert (raised.recipients, raised.subjects) == (tuple(case.referred), tuple(case.answerable))
    got = walk.round(raised.moment + timedelta(hours=9))
    assert set(got) == {("accountability", p) for p in case.referred}
    for (_, person), read in got.items():
        common(read)
        assert say.referral(case) in read.text and say.late_in(stage) in read.text, read.text
        assert (say.to_decide in read.text) == (person in DECIDERS), (person, read.text)

    # the party secretary decides, with an outcome and those who answer: they are told, and
    # so is whom the case was copied to; not the one who decided
    svc.set_now(raised.moment + timedelta(hours=15))
    svc.actor = PARTY_SECRETARY
    ruling = "超期未办结，对相关责任人诫勉谈话"
    decided = decide(svc, raised.id, ruling, OUTCOME, case.answerable)
    assert (decided.status, decided.outcome, decided.subjects) == (
        "decided", OUTCOME, tuple(case.answerable))
    got = walk.round(raised.moment + timedelta(hours=16))
    told = [p for p in once(*case.answerable, *case.referred) if p != PARTY_SECRETARY]
    assert set(got) == {("accountability", p) for p in told}
    for (_, person), read in got.items():
        common(read)
        assert say.outcome in read.subject and say.outcome in read.text
        assert say.decision(case.answerable, person in case.answerable, ruling) in read.text, (
            person, read.text)

    assert [(e.level, e.status) for e in svc.escalations(EscalationFilter(issue_id=issue.id))
            ] == [("reminder", "done"), ("interview", "recorded"), ("accountability", "decided")]
    assert svc.show(issue.id).state == stage
    assert svc.verify().ok
