"""The audit's fold of stored rows (`Reads.fold`) gives what folding the same events one by one
(`Replay.apply`, the rule `evolve` shares) gives: a replay, which leaves unparsed the
transitions a later one overwrites, and verify's fold with the rules, which parses every one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.domain import audit as a
from engine.domain.chain import GENESIS
from engine.domain.configuration import InForce
from engine.domain.conformance import Rules
from engine.domain.issue import Issue
from engine.store import rows
from engine.store.audit_reads import Reads, written
from tests import audit_support as s
from tests.support import scenario, write_org

T0 = datetime(2023, 3, 1, 2, 0, tzinfo=UTC)
WF = "default@3"


def _text(moment: datetime) -> str:
    return moment.isoformat(" ", "microseconds")[:26]


Step = tuple[str, str | None, str | None, dict[str, Any]]


def _rows(events: list[Step], late: int | None = None) -> list[tuple[Any, ...]]:
    """History rows of issue 7 (HISTORY_COLUMNS): (type, transition, to_state, payload) each,
    an hour apart; event `late` written a day after its time."""
    out: list[tuple[Any, ...]] = []
    state = None
    for k, (kind, transition, to, payload) in enumerate(events, start=1):
        at = T0 + timedelta(hours=k)
        recorded = at + (timedelta(days=1) if k == late else timedelta(milliseconds=30))
        out.append((100 + k, 7, k, kind, transition, state if transition else None, to, "sa1",
                    _text(at), _text(recorded),
                    json.dumps(payload, ensure_ascii=False, sort_keys=True,
                               separators=(",", ":")), WF, GENESIS, GENESIS))
        state = to or state
    return out


def _moved(due: int | None, **more: Any) -> dict[str, Any]:
    due_at = None if due is None else (T0 + timedelta(days=due)).isoformat()
    return {"due_at": due_at, "next_escalation_at": due_at, **more}


CREATED: Step = ("created", None, "found", {
    "title": "第7户", "category": "housing_safety", "village": "v-shiban", "group": "sa-01",
    "severity": "high", "listed": False, "due_at": (T0 + timedelta(days=1)).isoformat(),
    "next_escalation_at": None})
ESCALATED: Step = ("escalated", None, None, {
    "escalation": 3, "level": "reminder", "stage": "studied", "recipients": ["rc2"],
    "moment": T0.isoformat(), "due_at": None, "next_escalation_at": None})

HISTORIES: dict[str, list[Step]] = {
    "the assignee named only before the last": [
        CREATED,
        ("transition", "report", "reported", _moved(3, listed_by_village=False)),
        ("transition", "study", "studied", _moved(10, assignee="rc2", plan="入户",
                                                  listed_by_village=True)),
        ("transition", "rectify", "rectified", _moved(5, note="好")),
        ("transition", "reject", "studied", _moved(5, assignee=None)),
        ("transition", "rectify", "rectified", _moved(5, listed_by_village=False)),
    ],
    "an escalation superseded before the last": [
        CREATED,
        ("transition", "report", "reported", _moved(3)),
        ("transition", "study", "studied", _moved(10, assignee="rc2", plan="p")),
        ESCALATED,
        ("transition", "rectify", "rectified", _moved(5, superseded_escalations=[3],
                                                      superseded_extensions=[])),
        ("transition", "reject", "studied", _moved(5)),
        ("transition", "rectify", "rectified", _moved(5)),
        ("transition", "verify", "verified", _moved(2)),
    ],
    "the last names no state": [
        CREATED,
        ("transition", "report", "reported", _moved(3)),
        ("transition", "study", None, _moved(10)),
    ],
    "a key only as a value, and a back-dated transition": [
        CREATED,
        ("transition", "report", "reported", _moved(3, note="plan")),
        ("transition", "study", "studied", _moved(10)),
    ],
}


@pytest.fixture()
def reads(tmp_path: Path) -> Any:
    svc = scenario(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "data", actor="wang",
                   now=s.START)
    svc.init(write_org(tmp_path / "org.yaml"))
    with svc.app.session().transaction(write=False) as tx:
        yield Reads(tx)
    svc.store.close()


def _by_events(history: list[tuple[Any, ...]]) -> a.Replay:
    replay = a.Replay()
    for row in history:
        replay.apply(rows.event(row))
    return replay


def _same(got: a.Replay, want: a.Replay) -> None:
    assert got.issue == want.issue
    assert got.escalations == want.escalations
    assert (got.events, got.backdated, got.last_seq) == (want.events, want.backdated,
                                                          want.last_seq)


@pytest.mark.parametrize("name", list(HISTORIES))
def test_a_replay_folds_stored_rows_as_the_events_fold(reads: Reads, name: str) -> None:
    history = _rows(HISTORIES[name], late=2)
    replay = a.Replay()
    assert reads.fold(replay, history) == (None, None)
    _same(replay, _by_events(history))


@pytest.mark.parametrize("name", list(HISTORIES))
def test_a_fold_with_the_rules_folds_as_the_events_fold(reads: Reads, name: str) -> None:
    history = _rows(HISTORIES[name])
    replay = a.Replay()
    rules = Rules(InForce(), UTC, written)  # no org in the chain: the fold alone
    assert reads.fold(replay, history, rules.issue()) == (None, None)
    _same(replay, _by_events(history))


def test_a_gap_stops_the_fold_with_what_came_before(reads: Reads) -> None:
    history = _rows(HISTORIES["the assignee named only before the last"])
    del history[3]
    replay = a.Replay()
    problem, _ = reads.fold(replay, history)
    assert problem is not None and "jumps from version 3 to 5" in problem
    _same(replay, _by_events(history[:3]))


_KEYS = {"assignee": st.sampled_from(["rc2", "rc3", None]), "plan": st.sampled_from(["p", "方案"]),
         "listed_by_village": st.booleans(),
         "note": st.sampled_from(["assignee", '"plan"', "listed_by_village 好"])}
_MOVE = st.tuples(st.sampled_from(["studied", "rectified", None]),
                  st.dictionaries(st.sampled_from(sorted(_KEYS)), st.none()).flatmap(
                      lambda d: st.fixed_dictionaries({k: _KEYS[k] for k in d})))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(_MOVE, min_size=1, max_size=6), escalate_at=st.integers(0, 6))
def test_any_run_of_transitions_folds_as_the_events_fold(
        reads: Reads, moves: list[tuple[str | None, dict[str, Any]]], escalate_at: int) -> None:
    """Whatever keys each transition names (and whatever its text holds as values), the
    replay's skipping and verify's full fold give what folding every event gives."""
    steps: list[Step] = [CREATED]
    for k, (to, given_keys) in enumerate(moves):
        if k == escalate_at:
            steps.append(ESCALATED)
        steps.append(("transition", "move", to, _moved(k + 1, **given_keys)))
    history = _rows(steps)
    want = _by_events(history)
    replay = a.Replay()
    assert reads.fold(replay, history) == (None, None)
    _same(replay, want)
    checked = a.Replay()
    assert reads.fold(checked, history, Rules(InForce(), UTC, written).issue()) == (None, None)
    _same(checked, want)


def test_an_issue_made_from_its_fields_is_the_issue_init_makes(reads: Reads) -> None:
    for name in HISTORIES:
        fields = dict(_by_events(_rows(HISTORIES[name])).fields)
        made = a.issue_of(fields)
        assert made == Issue(**fields) and type(made) is Issue
        assert repr(made) == repr(Issue(**fields)) and hash(made) == hash(Issue(**fields))
    with pytest.raises(TypeError):  # a field the issue does not have: as __init__ says
        a.issue_of({**fields, "colour": "red"})
    fewer = {k: v for k, v in fields.items() if k != "plan"}
    assert a.issue_of(fewer) == Issue(**fewer)  # the default of a field left out
    swapped = {**fewer, "colour": "red"}
    with pytest.raises(TypeError):
        a.issue_of(swapped)


_LEVELS = ("reminder", "interview", "accountability")
_STEP = st.one_of(
    st.tuples(st.just("move"), st.sampled_from(["studied", "rectified", None]),
              st.sampled_from([{}, {"assignee": "rc3"}, {"plan": "方案"}]), st.booleans()),
    st.tuples(st.just("escalate"), st.sampled_from(_LEVELS), st.booleans(), st.booleans()),
    st.tuples(st.just("close"), st.sampled_from(["interview_recorded",
                                                 "accountability_decided"]),
              st.booleans(), st.booleans()),
)


def _escalating(plan: list[tuple[Any, ...]]) -> list[Step]:
    """A history from a plan of steps: transitions that may supersede what is open,
    escalations of any level with or without their own due moment, and records that close
    one of them."""
    steps: list[Step] = [CREATED]
    open_ids: list[int] = []
    next_id = 1
    for k, (what, x, y, z) in enumerate(plan):
        if what == "move":
            more: dict[str, Any] = dict(y)
            if z and open_ids:  # leaving the stage supersedes what is open
                more.update(superseded_escalations=list(open_ids), superseded_extensions=[])
                open_ids.clear()
            steps.append(("transition", "move", x, _moved(k + 2, **more)))
        elif what == "escalate":
            due = (T0 + timedelta(days=k)).isoformat() if y else None
            later = (T0 + timedelta(days=k + 1)).isoformat() if z else None
            steps.append(("escalated", None, None, {
                "escalation": next_id, "level": x, "stage": "studied", "recipients": ["rc2"],
                "subjects": ["rc2"] if x != "reminder" else [], "moment": T0.isoformat(),
                "due_at": due, "next_escalation_at": later}))
            if x != "reminder":
                open_ids.append(next_id)
            next_id += 1
        elif open_ids:
            eid = open_ids.pop(0 if y else -1)
            steps.append((x, None, None, {"escalation": eid, "note": "已约谈", "with": ["rc2"],
                                          **({"outcome": "talk"} if z else {})}))
    return steps


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(_STEP, min_size=1, max_size=10))
def test_escalations_booked_unmade_are_the_escalations_the_events_make(
        reads: Reads, plan: list[tuple[Any, ...]]) -> None:
    """A replay books each escalated event's escalation unmade and makes it only when read:
    what it makes (all of them, or the open ones alone) is what folding every event makes,
    whatever was superseded, recorded or raised after the last transition."""
    history = _rows(_escalating(plan), late=3)
    want = _by_events(history)
    replay = a.Replay()
    assert reads.fold(replay, history) == (None, None)
    assert replay.open_escalations() == want.open_escalations()
    _same(replay, want)
    assert replay.issue is not None and replay.issue.version == len(history)


def _damaged(level: str) -> list[tuple[Any, ...]]:
    history = _rows([CREATED, ("transition", "report", "reported", _moved(3)),
                     ("escalated", None, None, {**ESCALATED[3], "level": level,
                                                "moment": "not a moment"})])
    return history


def test_a_damaged_escalation_is_told_when_it_is_made(reads: Reads) -> None:
    """The open escalation of a damaged event cannot be made: reading the open ones (what a
    replay shows) or all of them (what verify compares) raises what reading it raises."""
    replay = a.Replay()
    assert reads.fold(replay, _damaged("interview")) == (None, None)
    with pytest.raises(ValueError, match="not a moment"):
        replay.open_escalations()
    with pytest.raises(ValueError, match="not a moment"):
        replay.make_all()
    done = a.Replay()  # a reminder is done when raised: a replay does not show it
    assert reads.fold(done, _damaged("reminder")) == (None, None)
    assert done.open_escalations() == []
    with pytest.raises(ValueError, match="not a moment"):
        done.make_all()
