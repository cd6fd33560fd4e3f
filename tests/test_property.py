"""Property tests: random transition sequences against a real database, through the handlers.

Each hypothesis example creates one or two fresh issues in a database initialised once per
test (the small org), then fires a random sequence of moves at them: random actors (including
people without roles and people outside the org), random transitions (including an unknown
one), random fields (empty, valid, unknown assignees, due dates in the past, inside, at and
just past the 15-working-day limit, malformed due dates, evidence files, missing evidence
files) and a random `--expect-version`, while the clock moves forward in random steps.

After every step these must hold:

1. No illegal state: the issue's state is a state of workflows/rectification.yaml, and every
   accepted move is a transition of that file from the state the issue was in.
2. A refusal (any RectifyError) changes nothing: the issue rows, their histories, the
   per-village counts and the evidence store are as before; an accepted move adds exactly one
   event and raises the version by exactly one.
3. The history is the truth: folding it gives the stored row.
4. The engine agrees with an independent model of who may fire what: it accepts a move
   exactly when the model (roles from the org, the issue's assignee, the state, the required
   and allowed fields, separation of duties - verify is refused to anyone who ever fired
   rectify or fix on the issue -, the due-date limit counted in working days of the official
   2020-2021 holiday schedule, the expected version) says it should, and when it refuses, it
   raises one of the errors the model predicts. The due moment of every stage is checked
   exactly against the same calendar.

SQLite runs many examples, PostgreSQL fewer (the `svc` fixture runs both). Texts are any
Unicode but NUL, which PostgreSQL cannot store: `test_nul_in_a_plan_is_kept_or_refused`.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.app.moments import parse_day
from engine.domain.events import Event
from engine.domain.issue import CATEGORIES, Issue, Move, NewIssue, fold
from engine.errors import (
    BadFile,
    BadOption,
    DeadlineRefused,
    InvalidTransition,
    MissingField,
    NotFound,
    NotPermitted,
    RectifyError,
    Refused,
    SeparationOfDuties,
    VersionConflict,
)
from tests.support import SMALL_ORG, Scenario, scenario, write_org

SQLITE_EXAMPLES = 150
POSTGRES_EXAMPLES = 50
MAX_STEPS = 30

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2020, 9, 28, 9, 0)  # Monday before the 2020 National Day holiday, town time

# --- the workflow, read straight from the YAML (not through the engine's loader) -----------
WORKFLOW_FILE = Path(__file__).resolve().parents[1] / "workflows" / "rectification.yaml"
_WF: dict[str, Any] = yaml.safe_load(WORKFLOW_FILE.read_text(encoding="utf-8"))
WORKFLOW_KEY = f"{_WF['name']}@{_WF['version']}"
STATES: frozenset[str] = frozenset(s["name"] for s in _WF["states"])
INITIAL: str = _WF["initial"]
DEADLINES: dict[str, dict[str, int | str]] = {
    s["name"]: s["deadline"] for s in _WF["states"] if s.get("deadline")
}
FIELDS = ("note", "plan", "assignee", "due", "evidence", "reason")


def _names(value: str | list[str]) -> frozenset[str]:
    return frozenset([value] if isinstance(value, str) else value)


@dataclass(frozen=True)
class Spec:
    name: str
    source: frozenset[str]
    dest: str
    roles: frozenset[str]
    requires: frozenset[str]
    optional: frozenset[str]
    forbid: tuple[str, ...]


SPECS: dict[str, Spec] = {
    t["name"]: Spec(
        name=t["name"],
        source=_names(t["from"]),
        dest=t["to"],
        roles=frozenset(t["roles"]),
        requires=frozenset(t.get("requires", ())),
        optional=frozenset(t.get("optional", ())),
        forbid=tuple(t.get("forbid_actors_of", ())),
    )
    for t in _WF["transitions"]
}
UNKNOWN_TRANSITION = "escalate"
TRANSITIONS = (*SPECS, UNKNOWN_TRANSITION)

# --- the org, as the model sees it (the small org of tests/support.py) ----------------------
PEOPLE = ("wang", "liu", "chen", "zhou", "sa1", "sa2", "rc1", "rc2", "qs1", "qs2", "iv1",
          "nobody")
GROUPS: dict[str, tuple[str, ...]] = {
    "self_assessment": ("sa1", "sa2"),
    "rectification": ("rc1", "rc2"),
    "quality_supervision": ("wang", "qs1", "qs2"),
    "information_verification": ("iv1",),
}
LEADERS = {"self_assessment": "sa1", "rectification": "rc1", "quality_supervision": "wang",
           "information_verification": "iv1"}
PARTY_SECRETARY = "wang"
VILLAGES = {"v-shiban": ("liu", "chen"), "c-jiezi": ("liu", "zhou")}  # liaison, secretary
ACTORS: tuple[str | None, ...] = (*PEOPLE, "ghost", None)


def roles_of(person: str, village: str, assignee: str | None) -> frozenset[str]:
    roles: set[str] = set()
    for kind, members in GROUPS.items():
        if person in members:
            roles.add(kind)
        if LEADERS[kind] == person:
            roles.add(f"{kind}_leader")
    if person == PARTY_SECRETARY:
        roles.add("party_secretary")
    liaison, secretary = VILLAGES[village]
    if person == liaison:
        roles.add("liaison")
    if person == secretary:
        roles.add("village_secretary")
    if assignee is not None and person == assignee:
        roles.add("assignee")
    return frozenset(roles)


def may_add_issues(person: str | None) -> bool:
    return person is not None and (
        person == PARTY_SECRETARY or any(person in m for m in GROUPS.values())
    )


# --- working days, as the State Council announced them for 2020 and 2021 ---------------------
def _span(first: str, last: str) -> set[date]:
    day, end, out = date.fromisoformat(first), date.fromisoformat(last), set()
    while day <= end:
        out.add(day)
        day += timedelta(days=1)
    return out


HOLIDAYS: frozenset[date] = frozenset().union(
    *(_span(a, b) for a, b in (
        ("2020-01-01", "2020-01-01"), ("2020-01-24", "2020-02-02"), ("2020-04-04", "2020-04-06"),
        ("2020-05-01", "2020-05-05"), ("2020-06-25", "2020-06-27"), ("2020-10-01", "2020-10-08"),
        ("2021-01-01", "2021-01-03"), ("2021-02-11", "2021-02-17"), ("2021-04-03", "2021-04-05"),
        ("2021-05-01", "2021-05-05"), ("2021-06-12", "2021-06-14"), ("2021-09-19", "2021-09-21"),
        ("2021-10-01", "2021-10-07"),
    ))
)
MAKE_UP_DAYS: frozenset[date] = frozenset(date.fromisoformat(d) for d in (
    "2020-01-19", "2020-04-26", "2020-05-09", "2020-06-28", "2020-09-27", "2020-10-10",
    "2021-02-07", "2021-02-20", "2021-04-25", "2021-05-08", "2021-09-18", "2021-09-26",
    "2021-10-09",
))
CALENDAR_YEARS = (2020, 2021)


def is_working_day(day: date) -> bool:
    assert day.year in CALENDAR_YEARS, f"the model's calendar does not cover {day}"
    return day in MAKE_UP_DAYS or (day not in HOLIDAYS and day.weekday() < 5)


def nth_working_day_after(day: date, n: int) -> date:
    while n > 0:
        day += timedelta(days=1)
        n -= is_working_day(day)
    return day


def end_of_day(day: date) -> datetime:
    """The due moment of a day: 00:00 town time of the next day."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=TZ).astimezone(UTC)


def expected_due_at(state: str, today: date, due: date | None) -> datetime | None:
    """When a stage entered today is due (`due`: the date given with the move)."""
    deadline = DEADLINES.get(state)
    if deadline is None:
        return None
    if deadline.get("from_field") == "due" and due is not None:
        return end_of_day(due)
    days = deadline.get("working_days") or deadline.get("default_working_days")
    assert isinstance(days, int)
    return end_of_day(nth_working_day_after(today, days))


def due_refused(state: str, today: date, due: date) -> bool:
    """Whether a due date given for a stage is out of bounds (past, beyond the limit, or not a
    working day)."""
    deadline = DEADLINES.get(state, {})
    if deadline.get("from_field") != "due":
        return False
    limit = deadline.get("max_working_days")
    assert isinstance(limit, int)
    return not today <= due <= nth_working_day_after(today, limit) or not is_working_day(due)


# Due dates are drawn as days from today (0-15 is always inside 15 working days; -5 to 40
# straddles both ends of the limit), as the last allowed day or the day after it, or as text
# that does not parse.
SURE_DUE = (0, 15)
NEAR_DUE = (-5, 40)
AT_LIMIT, PAST_LIMIT = "@limit", "@limit+1"
BAD_DUE_TEXT = ("2020-02-30", "2021-13-01", "tomorrow", "10/01/2020", "2020-1-5x")
DUE_LIMIT = next(
    int(d["max_working_days"]) for d in DEADLINES.values() if d.get("from_field") == "due"
)


def due_day(due: int | str | None, today: date) -> date | str | None:
    """The date a step's due stands for, on `today`; text to parse stays text."""
    if isinstance(due, int):
        day = today + timedelta(days=due)
        while due >= 0 and day > today and not is_working_day(day):
            day -= timedelta(days=1)  # mostly a working day, as people give them
        return day
    if due in (AT_LIMIT, PAST_LIMIT):
        limit = nth_working_day_after(today, DUE_LIMIT)
        return limit if due == AT_LIMIT else limit + timedelta(days=1)
    return due


# --- steps ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    issue: int
    actor: str | None
    transition: str
    advance: timedelta
    note: str | None = None
    plan: str | None = None
    assignee: str | None = None
    due: int | str | None = None
    """Days from today (town time, at the moment of the move), a limit mark, or text."""
    evidence: tuple[bytes | None, ...] = ()
    """File contents; None names a file that does not exist."""
    reason: str | None = None
    expect: str = "none"
    """none | right | wrong: whether to pass --expect-version, and which."""

    def given(self, name: str) -> bool:
        value = getattr(self, name)
        if name == "evidence":
            return bool(value)
        return value.strip() != "" if isinstance(value, str) else value is not None


@dataclass
class ModelIssue:
    id: int
    village: str
    state: str
    version: int = 1
    assignee: str | None = None
    plan: str | None = None
    fired_by: dict[str, set[str]] = field(default_factory=dict)
    """Everyone who fired each transition on the issue (for separation of duties)."""


# no NUL: PostgreSQL cannot store it (see test_nul_in_a_plan_is_kept_or_refused)
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12
)
MAYBE_TEXT = st.one_of(st.none(), st.just(""), TEXT)
ADVANCE = st.builds(
    lambda minutes, micros: timedelta(minutes=minutes, microseconds=micros),
    st.one_of(st.integers(0, 180), st.integers(0, 5 * 24 * 60)),
    st.integers(0, 999_999),
)
ANY_DUE: st.SearchStrategy[int | str | None] = st.one_of(
    st.none(),
    st.integers(*NEAR_DUE),
    st.sampled_from((AT_LIMIT, PAST_LIMIT, *BAD_DUE_TEXT)),
)
EVIDENCE = st.lists(st.one_of(st.binary(max_size=8), st.none()), max_size=2).map(tuple)


def guided_value(data: st.DataObject, spec: Spec, name: str) -> Any:
    """A value for field `name` that the transition accepts (or None if it takes none)."""
    if name not in spec.requires and (
        name not in spec.optional or not data.draw(st.booleans(), label=f"{name}?")
    ):
        return () if name == "evidence" else None
    if name == "assignee":
        return data.draw(st.sampled_from(PEOPLE), label=name)
    if name == "due":
        return data.draw(st.one_of(st.integers(*SURE_DUE), st.just(AT_LIMIT)), label=name)
    if name == "evidence":
        return tuple(data.draw(st.lists(st.binary(max_size=8), min_size=1, max_size=2),
                               label=name))
    return data.draw(TEXT, label=name)


MUTATIONS = ("actor", "transition", "drop", "extra", "due", "evidence", "expect", "assignee")


def guided_step(data: st.DataObject, index: int, issue: ModelIssue, advance: timedelta) -> Step:
    """A transition legal from here, someone holding one of its roles (perhaps barred by
    separation of duties), the fields it takes, valid."""
    # none from a final state without a way out (voided): any, each refused
    legal = [s for s in SPECS.values() if issue.state in s.source] or list(SPECS.values())
    spec = data.draw(st.sampled_from(legal), label="transition")
    holders = [p for p in PEOPLE if roles_of(p, issue.village, issue.assignee) & spec.roles]
    actor = data.draw(st.sampled_from(holders or PEOPLE), label="actor")
    values = {name: guided_value(data, spec, name) for name in FIELDS}
    expect = data.draw(st.sampled_from(("none", "right")), label="expect")
    return Step(issue=index, actor=actor, transition=spec.name, advance=advance,
                expect=expect, **values)


def mutate(data: st.DataObject, step: Step) -> Step:
    """The step with one thing wrong (or, by chance, still right)."""
    spec = SPECS[step.transition]
    # a due date is wrong in many ways for the transitions that take one: weigh them more
    takes_due = "due" in spec.requires | spec.optional
    kind = data.draw(st.sampled_from(MUTATIONS + ("due",) * 4 * takes_due), label="mutation")
    if kind == "actor":
        return replace(step, actor=data.draw(st.sampled_from(ACTORS), label="actor"))
    if kind == "transition":
        return replace(step, transition=data.draw(st.sampled_from(TRANSITIONS), label="to"))
    if kind == "drop" and spec.requires:
        name = data.draw(st.sampled_from(sorted(spec.requires)), label="drop")
        empty: Any = () if name == "evidence" else None
        if name in ("note", "plan", "reason"):
            empty = data.draw(st.sampled_from((None, "")), label="empty")
        return replace(step, **{name: empty})
    extra = sorted(set(FIELDS) - spec.requires - spec.optional)
    if kind == "extra" and extra:
        name = data.draw(st.sampled_from(extra), label="extra")
        value: Any = data.draw(TEXT, label="value")
        if name == "assignee":
            value = data.draw(st.sampled_from(PEOPLE), label="value")
        elif name == "due":
            value = data.draw(st.integers(*SURE_DUE), label="value")
        elif name == "evidence":
            value = (data.draw(st.binary(max_size=8), label="value"),)
        return replace(step, **{name: value})
    if kind == "due":
        bad: st.SearchStrategy[int | str] = st.one_of(
            st.just(-1), st.just(PAST_LIMIT), st.just(PAST_LIMIT), st.integers(NEAR_DUE[0], -1),
            st.integers(SURE_DUE[1] + 1, NEAR_DUE[1]), st.sampled_from(BAD_DUE_TEXT),
        )
        return replace(step, due=data.draw(bad, label="due"))
    if kind == "evidence":
        return replace(step, evidence=(*step.evidence, None))
    if kind == "expect":
        return replace(step, expect="wrong")
    if kind == "assignee":
        return replace(step, assignee=data.draw(st.sampled_from(("ghost", "")), label="who"))
    return step


def random_step(data: st.DataObject, index: int, advance: timedelta) -> Step:
    return Step(
        issue=index,
        actor=data.draw(st.sampled_from(ACTORS), label="actor"),
        transition=data.draw(st.sampled_from(TRANSITIONS), label="transition"),
        advance=advance,
        note=data.draw(MAYBE_TEXT, label="note"),
        plan=data.draw(MAYBE_TEXT, label="plan"),
        assignee=data.draw(st.one_of(st.none(), st.sampled_from((*PEOPLE, "ghost", ""))),
                           label="assignee"),
        due=data.draw(ANY_DUE, label="due"),
        evidence=data.draw(EVIDENCE, label="evidence"),
        reason=data.draw(MAYBE_TEXT, label="reason"),
        expect=data.draw(st.sampled_from(("none", "right", "wrong")), label="expect"),
    )


def draw_step(data: st.DataObject, issues: Sequence[ModelIssue]) -> Step:
    """Half guided and valid, three in ten guided with one thing wrong, the rest random."""
    index = data.draw(st.integers(0, len(issues) - 1), label="issue")
    advance = data.draw(ADVANCE, label="advance")
    mode = data.draw(st.integers(0, 9), label="mode")
    if mode >= 8:
        return random_step(data, index, advance)
    step = guided_step(data, index, issues[index], advance)
    return step if mode < 5 else mutate(data, step)


_REFUSED_IN_TEXT = frozenset([
    *range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F,
    *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029])
"""The text rule: C0 but tab and newline, DEL, C1, bidi controls, line separators."""


def _has_control(name: str, value: str | None) -> bool:
    """Whether the text rule refuses the field: free text (note, plan, reason) may hold tabs
    and newlines, an assignee not."""
    refused = _REFUSED_IN_TEXT if name != "assignee" else _REFUSED_IN_TEXT | {0x09, 0x0A}
    return value is not None and any(ord(ch) in refused for ch in value)


def expected_refusals(step: Step, issue: ModelIssue, today: date) -> set[type[RectifyError]]:
    """Every rule the model says the step breaks (empty: it must be accepted)."""
    out: set[type[RectifyError]] = set()
    due = due_day(step.due, today)
    if isinstance(due, str):
        out.add(BadOption)
    if any(content is None for content in step.evidence):
        out.add(BadFile)
    if step.actor is None:
        out.add(BadOption)
    elif step.actor not in PEOPLE:
        out.add(NotPermitted)
    if step.assignee is not None and step.assignee not in PEOPLE:
        out.add(NotFound)
    if any(_has_control(name, getattr(step, name))
           for name in ("note", "plan", "assignee", "reason")):
        out.add(Refused)
    if step.expect == "wrong":
        out.add(VersionConflict)
    spec = SPECS.get(step.transition)
    if spec is None:
        out.add(InvalidTransition)
        return out
    if issue.state not in spec.source:
        out.add(InvalidTransition)
    if step.actor is not None and not (
        roles_of(step.actor, issue.village, issue.assignee) & spec.roles
    ):
        out.add(NotPermitted)
    given = {name for name in FIELDS if step.given(name)}
    if spec.requires - given:
        out.add(MissingField)
    if given - spec.requires - spec.optional:
        out.add(BadOption)
    if any(step.actor in issue.fired_by.get(other, ()) for other in spec.forbid):
        out.add(SeparationOfDuties)
    if isinstance(due, date) and due_refused(spec.dest, today, due):
        out.add(DeadlineRefused)
    return out


# --- snapshots --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    rows: tuple[Issue, ...]
    histories: tuple[tuple[Event, ...], ...]
    summary: tuple[tuple[str, str, int], ...]


def evidence_files(svc: Scenario) -> frozenset[str]:
    root = svc.data_dir / "evidence"
    if not root.exists():
        return frozenset()
    return frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def snapshot(svc: Scenario, ids: Sequence[int]) -> Snapshot:
    return Snapshot(
        rows=tuple(svc.show(i) for i in ids),
        histories=tuple(tuple(svc.history(i)) for i in ids),
        summary=tuple(sorted(svc.summary())),
    )


def aware(naive_town_time: datetime) -> datetime:
    return naive_town_time.replace(tzinfo=TZ).astimezone(UTC)


# --- the checks -------------------------------------------------------------------------------
def check_invariants(snap: Snapshot, model: Sequence[ModelIssue]) -> None:
    """Properties 1 and 3, and the model's view of each row."""
    for row, history, m in zip(snap.rows, snap.histories, model, strict=True):
        assert row.state in STATES, row
        assert row.workflow == WORKFLOW_KEY
        assert [e.version for e in history] == list(range(1, row.version + 1)), history
        assert history[0].type == "created" and history[0].to_state == INITIAL
        for before, e in itertools.pairwise(history):
            assert e.type == "transition", e
            assert e.transition is not None
            spec = SPECS.get(e.transition)
            assert spec is not None, f"event of a transition not in the workflow: {e}"
            assert e.from_state == before.to_state, (before, e)
            assert e.from_state in spec.source and e.to_state == spec.dest, e
        assert fold(history) == row, (fold(history), row)
        assert (row.state, row.version, row.assignee, row.plan) == (
            m.state, m.version, m.assignee, m.plan), (row, m)


def check_accepted(svc: Scenario, step: Step, result: Issue, old: Snapshot, new: Snapshot,
                   m: ModelIssue, files: Sequence[Path], due: date | None,
                   now: datetime) -> None:
    i = step.issue
    before, row = old.rows[i], new.rows[i]
    assert result == row
    assert row.version == before.version + 1
    spec = SPECS[step.transition]
    assert before.state in spec.source and row.state == spec.dest
    assert new.histories[i][:-1] == old.histories[i], "an accepted move rewrote history"
    e = new.histories[i][-1]
    assert (e.type, e.transition, e.from_state, e.to_state, e.actor, e.version, e.at) == (
        "transition", step.transition, before.state, spec.dest, step.actor, row.version, now)
    assert row.stage_entered_at == now
    for name in ("note", "plan", "reason", "assignee"):
        value = getattr(step, name)
        assert e.payload.get(name) == (value if step.given(name) else None), (name, e.payload)
    assert e.payload.get("due") == (due.isoformat() if due else None)
    stored = [(x["name"], x["size"]) for x in e.payload.get("evidence", [])]
    assert stored == [(p.name, p.stat().st_size) for p in files]
    for x in e.payload.get("evidence", []):
        content = (svc.data_dir.parent / "files" / x["name"]).read_bytes()
        assert x["sha256"] == hashlib.sha256(content).hexdigest()
        assert svc.evidence_path(x["sha256"]).read_bytes() == content
    for j, (a, b) in enumerate(zip(old.rows, new.rows, strict=True)):
        if j != i:
            assert a == b and old.histories[j] == new.histories[j]
    assert row.due_at == expected_due_at(row.state, now.astimezone(TZ).date(), due), (
        row, now, due)


class Walk:
    """One hypothesis example: fresh issues, a random walk of moves."""

    def __init__(self, svc: Scenario, data: st.DataObject, number: int) -> None:
        self.svc = svc
        self.data = data
        self.number = number
        self.files = svc.data_dir.parent / "files"
        self.files.mkdir(exist_ok=True)
        self.serial = itertools.count()
        start = data.draw(st.integers(0, 180), label="start day")
        self.now = START + timedelta(days=start, minutes=data.draw(st.integers(0, 1439)))
        self.model: list[ModelIssue] = []

    def create_issues(self) -> None:
        svc, data = self.svc, self.data
        svc.set_now(self.now)
        for _ in range(data.draw(st.integers(1, 2), label="issues")):
            village = data.draw(st.sampled_from(sorted(VILLAGES)), label="village")
            new = NewIssue(title=f"example {self.number}", village=village,
                           category=data.draw(st.sampled_from(CATEGORIES)),
                           listed=data.draw(st.booleans()))
            creator = data.draw(st.sampled_from(ACTORS), label="creator")
            svc.actor = creator
            if not may_add_issues(creator):
                counts = svc.summary()
                try:
                    svc.add_issue(new)
                except (NotPermitted, BadOption):
                    assert svc.summary() == counts
                else:
                    raise AssertionError(f"{creator} may not add issues, but did")
                svc.actor = creator = "sa1"
            issue = svc.add_issue(new)
            assert issue.state == INITIAL and issue.version == 1
            assert issue.created_by == creator and issue.created_at == aware(self.now)
            assert issue.due_at == expected_due_at(INITIAL, self.now.date(), None)
            self.model.append(ModelIssue(id=issue.id, village=village, state=INITIAL))

    def write_files(self, step: Step) -> list[Path]:
        paths = []
        for content in step.evidence:
            path = self.files / f"x{self.number}-{next(self.serial)}.bin"
            if content is not None:
                path.write_bytes(content)
            paths.append(path)
        return paths

    def run(self) -> None:
        svc, data = self.svc, self.data
        self.create_issues()
        ids = [m.id for m in self.model]
        snap = snapshot(svc, ids)
        check_invariants(snap, self.model)
        for _ in range(data.draw(st.integers(0, MAX_STEPS), label="steps")):
            step = draw_step(data, self.model)
            m = self.model[step.issue]
            self.now += step.advance
            svc.set_now(self.now)
            now = aware(self.now)
            svc.actor = step.actor
            today = self.now.date()
            expected = expected_refusals(step, m, today)
            files = self.write_files(step)
            blobs = evidence_files(svc) if step.evidence else frozenset()
            due: date | None = None
            try:
                given = due_day(step.due, today)
                due = parse_day(given, "--due") if isinstance(given, str) else given
                version = {"none": None, "right": m.version, "wrong": m.version + 1}
                move = Move(
                    issue_id=m.id, transition=step.transition, note=step.note, plan=step.plan,
                    assignee=step.assignee, due=due, reason=step.reason,
                    expect_version=version[step.expect],
                )
                result = svc.move(move, files)
            except RectifyError as err:
                event(f"refused: {type(err).__name__}")
                new = snapshot(svc, ids)
                assert expected, f"the model accepts {step} in {m}, the engine said {err!r}"
                assert isinstance(err, tuple(expected)), (
                    f"{step} in {m}: the engine said {err!r}, the model expected one of "
                    f"{sorted(e.__name__ for e in expected)}"
                )
                assert new == snap, f"a refused move ({err!r}) changed the database"
                if step.evidence:
                    assert evidence_files(svc) == blobs, "a refused move left evidence files"
            else:
                event(f"accepted: {step.transition}")
                new = snapshot(svc, ids)
                assert not expected, (
                    f"the engine accepted {step} in {m}; the model expected one of "
                    f"{sorted(e.__name__ for e in expected)}"
                )
                check_accepted(svc, step, result, snap, new, m, files, due, now)
                m.state = SPECS[step.transition].dest
                m.version += 1
                if m.assignee is not None:  # the assignee of record when it was fired
                    m.fired_by.setdefault(f"assignee@{step.transition}", set()).add(m.assignee)
                if step.assignee is not None:
                    m.assignee = step.assignee
                if step.plan:
                    m.plan = step.plan
                assert step.actor is not None
                m.fired_by.setdefault(step.transition, set()).add(step.actor)
            check_invariants(new, self.model)
            snap = new
        # the two read paths (raw `show`, Core `list`) agree
        shown = [*svc.list(), *svc.list(state="voided")]  # the ledger leaves out the voided
        listed = {row.id: row for row in shown if row.id in ids}
        assert [listed[i] for i in ids] == list(snap.rows)
        for m in self.model:
            event(f"reached: {m.state} v{min(m.version, 10)}")


def test_model_matches_the_small_org() -> None:
    """The model's org is the one the fixtures load."""
    assert tuple(p["id"] for p in SMALL_ORG["people"]) == PEOPLE
    assert SMALL_ORG["town"]["party_secretary"] == PARTY_SECRETARY
    assert {g["kind"]: tuple(g["members"]) for g in SMALL_ORG["groups"]} == GROUPS
    assert {g["kind"]: g["leader"] for g in SMALL_ORG["groups"]} == LEADERS
    assert {u["id"]: (u["liaison"], u["secretary"]) for u in SMALL_ORG["units"]} == VILLAGES


def test_random_moves(svc: Scenario) -> None:
    """Properties 1-4 over random move sequences (fresh issues per example)."""
    sqlite = svc.store.dialect.sqlite
    numbers = itertools.count(1)

    @settings(
        max_examples=SQLITE_EXAMPLES if sqlite else POSTGRES_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def walk(data: st.DataObject) -> None:
        Walk(svc, data, next(numbers)).run()

    walk()


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        "postgresql",
    ],
)
def test_nul_in_a_plan_is_kept_or_refused(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Text with a NUL is stored as given or refused with a RectifyError, changing nothing."""
    url = (f"sqlite:///{tmp_path / 'rectify.db'}" if backend == "sqlite"
           else str(request.getfixturevalue("pg_url")))
    svc = scenario(url, tmp_path / "data", actor="wang", now=START)
    try:
        svc.init(write_org(tmp_path / "org.yaml"))
        issue = svc.add_issue(NewIssue(title="nul", category="food", village="v-shiban"))
        svc.actor = "sa1"
        svc.move(Move(issue_id=issue.id, transition="report"))
        before = snapshot(svc, [issue.id])
        svc.actor = "rc1"
        plan = "repair\x00the roof"
        try:
            svc.move(Move(issue_id=issue.id, transition="study", plan=plan, assignee="rc2",
                          due=START.date() + timedelta(days=3)))
        except RectifyError:
            assert snapshot(svc, [issue.id]) == before
        else:
            assert svc.show(issue.id).plan == plan
    finally:
        svc.store.close()
