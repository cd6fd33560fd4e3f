"""Spot checks (调研督查): a draw of cleared issues reproducible from its seed and kept in the
history, results recorded by the quality-supervision group, a failure reopening the issue
(回头看) through the workflow's reopen transition, and `audit verify` accepting all of it; on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.app import spotcheck
from engine.domain.events import TOWN, EventType, Evidence
from engine.domain.issue import Move, NewIssue
from engine.domain.spotcheck import percent_of, sample_size
from engine.errors import BadOption, NotFound, NotPermitted, Refused
from tests.support import Scenario, run_cli, scenario

START = datetime(2020, 9, 28, 9, 0)  # Monday, town time
PHOTO = (Evidence(sha256="ab" * 32, name="photo.jpg", size=10),)


def _cleared(s: Scenario, village: str, n: int, at: datetime) -> list[int]:
    """n issues of `village`, fixed on the spot, verified and cleared."""
    ids = []
    for k in range(n):
        s.actor, s.now = "sa1", at
        i = s.add_issue(NewIssue(title=f"问题{k}", category="housing_safety",
                                 village=village, group="sa-01")).id
        s.move(Move(issue_id=i, transition="fix", note="现场整改", evidence=PHOTO))
        s.actor, s.now = "qs1", at + timedelta(minutes=10)
        s.move(Move(issue_id=i, transition="verify", note="核实"))
        s.actor, s.now = "wang", at + timedelta(minutes=20)
        s.move(Move(issue_id=i, transition="clear"))
        ids.append(i)
    return ids


class Town(Scenario):
    cleared: dict[str, list[int]]

    @property
    def everyone(self) -> list[int]:
        return sorted(self.cleared["v-shiban"] + self.cleared["c-jiezi"])


@pytest.fixture
def town(db_url: str, org_file: Path, tmp_path: Path) -> Iterator[Town]:
    """The small org with 12 cleared issues (8 of 石板村, 4 of 街子社区) and one open."""
    base = scenario(db_url, tmp_path / "data", actor="wang", now=START)
    s = Town(base.app, base.actor, base.now)
    s.init(org_file)
    shiban = _cleared(s, "v-shiban", 8, START)
    jiezi = _cleared(s, "c-jiezi", 4, START + timedelta(hours=1))
    s.actor, s.now = "sa1", START + timedelta(hours=2)
    s.add_issue(NewIssue(title="未清零", category="food", village="v-shiban", group="sa-01"))
    s.cleared = {"v-shiban": shiban, "c-jiezi": jiezi}
    s.actor, s.now = "qs1", START + timedelta(days=1)
    yield s
    s.store.close()


def _draw(s: Scenario, percent: str, seed: int | None = None,
          villages: tuple[str, ...] = ()) -> spotcheck.Drawn:
    return spotcheck.draw(s.session(), villages, percent_of(percent), seed)


def _without_via(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload without the door's stamp every event carries."""
    return {k: v for k, v in payload.items() if k != "via"}


def _ok(s: Scenario) -> None:
    verdict = s.verify()
    assert verdict.ok, verdict


def test_a_draw_with_a_seed_is_the_plain_re_computation(town: Town) -> None:
    everyone = town.everyone
    made = _draw(town, "25", seed=20201001)
    expected = sorted(random.Random(20201001).sample(everyone, 3))  # ceil(12 × 25%) = 3
    assert list(made.draw.sample) == expected
    assert [i.id for i in made.issues] == expected
    again = _draw(town, "25", seed=20201001)
    assert again.draw.sample == made.draw.sample and again.draw.draw == made.draw.draw + 1


def test_a_draw_of_villages_and_its_rounding(town: Town) -> None:
    jiezi = sorted(town.cleared["c-jiezi"])
    made = _draw(town, "10", seed=5, villages=("c-jiezi",))
    assert made.draw.population == 4
    assert list(made.draw.sample) == sorted(random.Random(5).sample(jiezi, 1))  # at least one
    assert sample_size(4, Decimal("10")) == 1
    assert sample_size(12, Decimal("100")) == 12
    assert sample_size(12, Decimal("8.4")) == 2  # 1.008 rounded up
    assert sample_size(0, Decimal("50")) == 0


def test_the_draw_is_recorded_in_the_history(town: Town) -> None:
    made = _draw(town, "50", seed=7, villages=("v-shiban", "c-jiezi"))
    [event] = [e for e in town.history(TOWN) if e.type == EventType.SPOTCHECK_DRAWN]
    assert event.actor == "qs1"
    assert _without_via(event.payload) == {"draw": 1, "seed": 7, "percent": "50",
                             "villages": ["c-jiezi", "v-shiban"], "population": 12,
                             "sample": list(made.draw.sample)}
    _ok(town)


def test_a_seed_is_chosen_when_none_is_given(town: Town) -> None:
    made = _draw(town, "50")
    assert made.draw.seed >= 0
    everyone = town.everyone
    assert list(made.draw.sample) == sorted(random.Random(made.draw.seed).sample(everyone, 6))


@pytest.mark.parametrize("percent", ["0", "-5", "100.5", "abc", "nan"])
def test_percent_out_of_bounds_is_malformed(percent: str) -> None:
    with pytest.raises(BadOption):
        percent_of(percent)


def test_record_pass_keeps_it_cleared(town: Town) -> None:
    [i] = _draw(town, "5", seed=1).draw.sample
    after = spotcheck.record_result(town.session(), i, True, "入户回访，整改到位")
    assert after.state == "cleared"
    last = town.history(i)[-1]
    assert last.type == EventType.SPOTCHECK_RECORDED
    assert _without_via(last.payload) == {"draw": 1, "result": "pass", "note": "入户回访，整改到位"}
    [listed] = spotcheck.listing(town.session())
    assert listed.results == {i: "pass"}
    _ok(town)


def test_record_fail_reopens_the_issue(town: Town, tmp_path: Path) -> None:
    photo = tmp_path / "leak.jpg"
    photo.write_bytes(b"\xff\xd8 still leaking")
    [i] = _draw(town, "5", seed=2).draw.sample
    after = spotcheck.record_result(town.session(), i, False, "屋面仍漏雨", [photo])
    assert after.state == "reported"
    checked, reopened = town.history(i)[-2:]
    assert checked.type == EventType.SPOTCHECK_RECORDED
    assert checked.payload["result"] == "fail"
    assert checked.payload["evidence"][0]["name"] == "leak.jpg"
    assert town.evidence_path(checked.payload["evidence"][0]["sha256"]).exists()
    assert (reopened.type, reopened.transition) == (EventType.TRANSITION, "reopen")
    assert (reopened.from_state, reopened.to_state) == ("cleared", "reported")
    assert reopened.payload["reason"] == "屋面仍漏雨" and reopened.actor == "qs1"
    assert town.show(i).state == "reported"
    assert spotcheck.listing(town.session())[0].results == {i: "fail"}
    _ok(town)


def test_refusals_change_nothing(town: Town) -> None:
    sample = _draw(town, "25", seed=3).draw.sample
    drawn = set(sample)
    other = next(i for i in town.cleared["v-shiban"] if i not in drawn)
    before = len(town.history(other))
    with pytest.raises(Refused, match="not drawn in any spot check"):
        spotcheck.record_result(town.session(), other, True, "x")
    assert len(town.history(other)) == before
    first = sample[0]
    spotcheck.record_result(town.session(), first, True, "ok")
    with pytest.raises(Refused, match="already recorded"):
        spotcheck.record_result(town.session(), first, False, "again")
    assert town.show(first).state == "cleared"
    town.actor = "rc1"
    with pytest.raises(NotPermitted, match="needs the role quality_supervision"):
        spotcheck.record_result(town.session(), sample[1], True, "x")
    with pytest.raises(NotPermitted):
        _draw(town, "10")
    town.actor = "qs1"
    with pytest.raises(NotFound, match="unknown village"):
        _draw(town, "10", villages=("v-nowhere",))
    _ok(town)


def test_an_issue_in_two_draws_answers_each_in_turn(town: Town) -> None:
    _draw(town, "100", seed=1, villages=("c-jiezi",))
    _draw(town, "100", seed=2, villages=("c-jiezi",))
    i = town.cleared["c-jiezi"][0]
    spotcheck.record_result(town.session(), i, True, "first")
    spotcheck.record_result(town.session(), i, True, "second")
    with pytest.raises(Refused, match="spot check of draw 2 is already recorded"):
        spotcheck.record_result(town.session(), i, True, "third")
    assert [x.results.get(i) for x in spotcheck.listing(town.session())] == ["pass", "pass"]
    _ok(town)


def test_a_drawn_issue_reopened_is_no_longer_cleared(town: Town) -> None:
    sample = _draw(town, "25", seed=4).draw.sample
    town.actor = "iv1"
    town.move(Move(issue_id=sample[0], transition="reopen", reason="回访反弹"))
    town.actor = "qs1"
    with pytest.raises(Refused, match="not cleared"):
        spotcheck.record_result(town.session(), sample[0], True, "x")


def test_nothing_to_draw_is_refused(town: Town) -> None:
    town.actor = "iv1"
    for i in town.cleared["c-jiezi"]:
        town.move(Move(issue_id=i, transition="reopen", reason="回访"))
    town.actor = "qs1"
    with pytest.raises(NotFound, match="no cleared issues to draw from in c-jiezi"):
        _draw(town, "10", villages=("c-jiezi",))
    assert not spotcheck.listing(town.session())


# --- the command line -------------------------------------------------------------------------
def _cli(url: str, *args: str, who: str = "qs1") -> tuple[int, str, str]:
    ran = run_cli("--db", url, "--as", who, "--now", "2020-09-30T10:00", *args)
    return ran.code, ran.out, ran.err


def test_the_commands(town: Town, db_url: str, tmp_path: Path) -> None:
    town.store.close()
    code, out, err = _cli(db_url, "--json", "spotcheck", "draw", "--percent", "20",
                          "--seed", "11")
    assert code == 0, err
    data = json.loads(out)
    everyone = town.everyone
    assert data["draw"] == 1 and data["seed"] == 11
    assert data["sample"] == sorted(random.Random(11).sample(everyone, 3))
    first, second = data["sample"][:2]
    assert _cli(db_url, "spotcheck", "record", str(first), "--pass", "--note", "好")[0] == 0
    code, _, err = _cli(db_url, "spotcheck", "record", str(second), "--fail", "--note", "漏雨")
    assert code == 0, err
    code, out, _ = _cli(db_url, "spotcheck", "list")
    assert code == 0 and "合格 1" in out and "不合格 1" in out and "待查" in out
    code, out, _ = _cli(db_url, "--json", "spotcheck", "list")
    results = json.loads(out)[0]["results"]
    assert results[str(first)] == "pass" and results[str(second)] == "fail"
    # refusals: exit 1 (a rule), exit 2 (malformed)
    code, _, err = _cli(db_url, "spotcheck", "record", str(first), "--pass", "--note", "x")
    assert code == 1 and err.startswith("error: ") and "already recorded" in err
    code, _, err = _cli(db_url, "spotcheck", "record", str(data["sample"][2]), "--pass",
                        "--note", "x", who="rc1")
    assert code == 1 and "quality_supervision" in err
    for flags in ([], ["--pass", "--fail"]):
        code, _, err = _cli(db_url, "spotcheck", "record", str(first), *flags, "--note", "x")
        assert code == 2 and "exactly one of --pass and --fail" in err
    for percent in ("0", "101", "x"):
        code, _, err = _cli(db_url, "spotcheck", "draw", "--percent", percent)
        assert code == 2 and "--percent" in err
    # without --seed, one is chosen and printed
    code, out, _ = _cli(db_url, "spotcheck", "draw", "--percent", "20", "--village",
                        "v-shiban")
    assert code == 0 and "随机种子" in out and "石板村" in out
    ran = run_cli("--db", db_url, "audit", "verify")
    assert ran.code == 0, ran.err


# --- what verify checks -------------------------------------------------------------------------
def test_verify_rules_on_draws_and_results(town: Town) -> None:
    from engine.domain.configuration import InForce
    from engine.domain.conformance import Rules

    [i] = _draw(town, "5", seed=9).draw.sample
    in_force = InForce()
    for e in town.history(TOWN):
        assert e.seq is not None
        in_force.add(e.seq, e.type, e.payload)
    assert in_force.draws[1][1] == frozenset({i})
    rules = Rules(in_force, town.town_tz, lambda v: v)
    at = START + timedelta(days=2)
    before = {"id": i, "state": "cleared", "village": "v-shiban", "assignee": None}
    late = 1 << 40  # a seq after every town event

    def check(actor: str, p: dict[str, Any], state: str = "cleared",
              issue_rules: Any = None) -> str | None:
        r = issue_rules or rules.issue()
        return r.check(late, EventType.SPOTCHECK_RECORDED.value, None, None, None, actor, at,
                       p, "rectification@3", {**before, "state": state})

    assert check("qs1", {"draw": 1, "result": "pass", "note": "ok"}) is None
    assert "may not record spot checks" in (check("rc1", {"draw": 1, "result": "pass"}) or "")
    assert "not drawn in spot check 2" in (check("qs1", {"draw": 2, "result": "pass"}) or "")
    assert "unknown spot-check result" in (check("qs1", {"draw": 1, "result": "maybe"}) or "")
    assert "not cleared" in (check("qs1", {"draw": 1, "result": "pass"}, "reported") or "")
    twice = rules.issue()
    assert check("qs1", {"draw": 1, "result": "pass"}, issue_rules=twice) is None
    assert "recorded twice" in (check("qs1", {"draw": 1, "result": "pass"},
                                      issue_rules=twice) or "")
    # a draw whose sample is not what its percent of its population gives
    [drawn] = [e for e in town.history(TOWN) if e.type == EventType.SPOTCHECK_DRAWN]
    forged = {**drawn.payload, "draw": 2, "sample": []}
    with pytest.raises(ValueError, match="holds 0 issue"):
        in_force.add(late, EventType.SPOTCHECK_DRAWN.value, forged)
    with pytest.raises(ValueError, match="draw 2 is the draw numbered 1"):
        InForce().add(1, EventType.SPOTCHECK_DRAWN.value, {**drawn.payload, "draw": 2})
