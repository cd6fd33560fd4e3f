"""`rectify stats`: every number of every row equals a count made here directly from the
history (each issue's events read plainly and folded), on a seeded campaign (the drill demo,
with an accountability decision, an extension request, a reopen and a void added after it),
on SQLite and PostgreSQL, by village, category, group and person, with and without a window
and an as-of cut; the scoreboard ranks by its documented formula; bad options exit 2."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import cli
from engine.app import extensions, issues, stats, supervision
from engine.app.moments import moment_option, period
from engine.bootstrap import build
from engine.domain.events import Event
from engine.domain.issue import Issue, Move, fold
from engine.domain.stats import OUTCOMES, TOTAL, Row, Weights, ranked, score_of
from engine.errors import RectifyError
from engine.store.escalations import EscalationFilter
from engine.store.issues import IssueFilter
from tests.conftest import fresh_pg_database

NOW = "2020-11-04T18:00"
AFTER = datetime(2020, 11, 2, 10, 0)  # the demo's campaign ends 2020-10-30 18:00


def _run(url: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(["--db", url, *args])
    return code, out.getvalue(), err.getvalue()


def _extras(url: str) -> dict[str, int]:
    """What the demo never does: decide accountability, ask for more time, reopen, void."""
    app = build(url)
    done = dict.fromkeys(("decided", "extension", "reopened", "voided"), 0)
    supervision.escalate(app.session(channel="scheduler", at=AFTER))  # the weekend's levels
    s = app.session("wang", AFTER)
    with s.transaction(write=False) as tx:
        org = s.org(tx)
        every = tx.issues.matching(IssueFilter())
        cases = tx.escalations.matching(EscalationFilter(open_only=True,
                                                         level="accountability"))
    for k, case in enumerate(cases):
        supervision.decide_accountability(app.session("wang", AFTER), case.id, "通报",
                                          OUTCOMES[(k + 3) % len(OUTCOMES)])
        done["decided"] += 1
    verifier = org.groups["information-verification"].leader or ""
    at = AFTER + timedelta(hours=1)
    for i in every:
        try:
            if i.state == "cleared" and done["reopened"] < 2:
                issues.move(app.session("qs1", at), Move(i.id, "reopen", reason="回头看发现反弹"))
                done["reopened"] += 1
            elif i.state in ("found", "reported") and done["voided"] < 1:
                issues.move(app.session(verifier, at), Move(i.id, "void", reason="重复录入"))
                done["voided"] += 1
            elif (i.state in ("studied", "rectified") and i.assignee and i.due_at
                  and i.due_at > at.astimezone() and done["extension"] < 2):
                extensions.request(app.session(i.assignee, at), i.id, date(2020, 11, 20),
                                   "雨天无法施工")
                done["extension"] += 1
        except RectifyError:
            continue
    app.close()
    return done


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def campaign(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[str, dict[str, int]]]:
    folder = tmp_path_factory.mktemp(f"stats-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'demo.db'}"
    else:
        url = fresh_pg_database(request.getfixturevalue("pg_server_url"))
    code, _, err = _run(url, "--data-dir", str(folder / "data"), "--json", "demo",
                        "--issues", "70")
    assert code == 0, err
    yield url, _extras(url)


# --- the direct count ------------------------------------------------------------------------
@dataclass
class Ledger:
    rows: list[Issue]
    events: dict[int, list[Event]]


def _ledger(url: str) -> tuple[Ledger, Any]:
    app = build(url)
    s = app.session("wang", datetime(2020, 11, 4, 18, 0))
    with s.transaction(write=False) as tx:
        rows = tx.issues.matching(IssueFilter())
        events = {i.id: tx.history.of_issue(i.id) for i in rows}
        cal = s.calendar(tx)
        tz = s.timezone(tx)
    app.close()
    return Ledger(rows, events), (cal, tz)


KEY = {"village": "village", "category": "category", "group": "group", "person": "assignee"}


def _direct(ledger: Ledger, cal: Any, by: str, lo: datetime | None, cut: datetime | None,
            moment: datetime) -> dict[str | None, dict[str, Any]]:
    """Each number of each key, from the events alone (the definitions of
    engine.domain.stats, applied issue by issue)."""
    out: dict[str | None, dict[str, Any]] = {}

    def inside(t: datetime) -> bool:
        return (lo is None or t >= lo) and (cut is None or t <= cut)

    for row in ledger.rows:
        evs = [e for e in ledger.events[row.id] if cut is None or e.at <= cut]
        if not evs:
            continue
        now = fold(evs)
        assert now is not None
        c = out.setdefault(getattr(row, KEY[by]), {"days": []})

        def bump(name: str, n: int = 1, c: dict[str, Any] = c) -> None:
            c[name] = c.get(name, 0) + n

        entered = [e for e in evs if e.to_state][-1].at
        if inside(evs[0].at) and now.state != "voided":
            bump("found")
        if now.state not in ("cleared", "voided"):
            bump("open")
            if now.due_at is not None and now.due_at <= moment:
                bump("overdue")
                bump("overdue_working_days", max(0, cal.working_days_between(
                    cal.local_date(now.due_at) - timedelta(days=1), cal.local_date(moment))))
        if now.state == "cleared" and (lo is None or entered >= lo):
            bump("cleared")
            c["days"].append(cal.working_days_between(cal.local_date(evs[0].at),
                                                      cal.local_date(entered)))
        rectified = False
        for e in evs:
            if not inside(e.at):
                continue
            if e.transition == "fix":
                bump("fixed_on_spot")
            if e.transition == "reopen":
                bump("reopened")
            if e.type == "transition" and e.to_state == "rectified":
                rectified = True
            if e.type == "escalated":
                bump({"reminder": "reminders", "interview": "interviews",
                      "accountability": "accountability"}[e.payload["level"]])
            if e.type == "extension_requested":
                bump("extensions")
        for e in evs:  # decisions count when made in the window
            if e.type == "accountability_decided" and inside(e.at):
                bump("outcome:" + e.payload["outcome"])
        if rectified:
            bump("rectified")
    return out


NUMBERS = ("found", "fixed_on_spot", "rectified", "cleared", "open", "overdue", "reminders",
           "interviews", "accountability", "extensions", "reopened")


def _expected_row(c: dict[str, Any]) -> dict[str, Any]:
    row = {n: c.get(n, 0) for n in NUMBERS}
    row["clearance_rate"] = (None if row["found"] == 0
                             else round(row["cleared"] / row["found"], 4))
    days = c["days"]
    row["avg_working_days_to_clear"] = round(sum(days) / len(days), 2) if days else None
    return row


def _total(direct: dict[str | None, dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"days": []}
    for c in direct.values():
        for k, v in c.items():
            total[k] = total[k] + v if k in total else (list(v) if k == "days" else v)
    return total


WINDOWS: list[dict[str, str]] = [
    {},
    {"from": "2020-10-01", "to": "2020-10-20"},
    {"as-of": "2020-10-15T12:00"},
    {"from": "2020-10-10", "as-of": "2020-11-03T12:00"},
    {"to": "2020-10-31"},
]


@pytest.mark.parametrize("by", ["village", "category", "group", "person"])
def test_every_number_equals_a_direct_count_of_the_history(
        campaign: tuple[str, dict[str, int]], by: str) -> None:
    url, extras = campaign
    assert extras["decided"] and extras["extension"] and extras["reopened"] and extras["voided"]
    ledger, (cal, tz) = _ledger(url)
    assert len(ledger.rows) >= 60
    seen_nonzero: set[str] = set()
    for window in WINDOWS:
        args = [f"--{k}={v}" for k, v in window.items()]
        code, out, err = _run(url, "--now", NOW, "--json", "stats", "--by", by, *args)
        assert code == 0, err
        got = json.loads(out)
        lo, to = period(window.get("from"), window.get("to"), tz)
        as_of = moment_option(window["as-of"], "--as-of", tz) if "as-of" in window else None
        cuts = [t for t in (to, as_of) if t is not None]
        cut = min(cuts) if cuts else None
        moment = cut or moment_option(NOW, "--now", tz)
        direct = _direct(ledger, cal, by, lo, cut, moment)
        assert got[-1]["key"] == TOTAL
        by_key = {r["key"]: r for r in got[:-1]}
        assert len(by_key) == len(got) - 1
        for key, c in direct.items():
            want = _expected_row(c)
            have = {k: v for k, v in by_key[key].items() if k not in ("key", "name")}
            assert have == want, (window, key)
            seen_nonzero |= {k for k, v in want.items() if v}
        for key, r in by_key.items():  # rows with nothing to count count nothing
            if key not in direct:
                assert all(not r[n] for n in NUMBERS), (window, key)
        total = {k: v for k, v in got[-1].items() if k not in ("key", "name")}
        assert total == _expected_row(_total(direct)), window
    assert seen_nonzero >= set(NUMBERS)


def test_scoreboard_components_are_the_direct_counts(
        campaign: tuple[str, dict[str, int]]) -> None:
    url, _ = campaign
    ledger, (cal, tz) = _ledger(url)
    lo = moment_option("2020-10-05", "--from", tz)
    code, out, err = _run(url, "--now", NOW, "--json", "stats", "--scoreboard",
                          "--from", "2020-10-05")
    assert code == 0, err
    got = json.loads(out)
    direct = _direct(ledger, cal, "village", lo, None, moment_option(NOW, "--now", tz))
    weights = stats.weights()
    assert [r["rank"] for r in got] == sorted(r["rank"] for r in got)
    for r in got:
        c = direct.get(r["key"], {"days": []})
        assert r["overdue_working_days"] == c.get("overdue_working_days", 0)
        assert r["interviews"] == c.get("interviews", 0)
        assert r["reopened"] == c.get("reopened", 0)
        assert r["accountability"] == {o: c.get("outcome:" + o, 0) for o in OUTCOMES}
        row = Row(key=r["key"], open=c.get("open", 0), overdue=c.get("overdue", 0),
                  cleared=c.get("cleared", 0), interviews=r["interviews"],
                  reopened=r["reopened"], overdue_working_days=r["overdue_working_days"],
                  outcomes=r["accountability"])
        assert r["score"] == score_of(row, weights)
        assert r["name"]


# --- the scoreboard's formula on a hand-built case --------------------------------------------
def test_scoreboard_ranks_by_the_documented_formula_ties_share_a_rank() -> None:
    w = Weights(on_time=100, overdue_day=0.5, interview=2,
                accountability={"no_action": 0, "talk": 3, "admonish": 5, "criticize": 8,
                                "refer": 15}, reopened=3)
    rows = [
        Row(key="a", open=4, overdue=1, cleared=6, overdue_working_days=4, interviews=1),
        # 100 × 9/10 − 0.5 × 4 − 2 × 1 = 86
        Row(key="b", open=0, cleared=10, reopened=2, outcomes={"talk": 1}),
        # 100 − 3 × 2 − 3 = 91
        Row(key="c", open=5, overdue=0, cleared=5, interviews=2, outcomes={"no_action": 1},
            overdue_working_days=0, reopened=1),
        # 100 − 4 − 0 − 3 = 93
        Row(key="d", open=2, overdue=2, cleared=0, overdue_working_days=10,
            outcomes={"refer": 1, "criticize": 1}),
        # 0 − 5 − 15 − 8 = −28
        Row(key="e"),  # nothing to answer for: 100
        Row(key="f", open=1, cleared=9, interviews=3, reopened=1),  # 100 − 6 − 3 = 91
        Row(key=None, open=9, overdue=9),  # unassigned: not ranked
        Row(key=TOTAL),
    ]
    got = [(s.key, s.rank, s.score) for s in ranked(rows, w)]
    assert got == [("e", 1, 100.0), ("c", 2, 93.0), ("b", 3, 91.0), ("f", 3, 91.0),
                   ("a", 5, 86.0), ("d", 6, -28.0)]


def test_the_packaged_weights_are_the_documented_defaults() -> None:
    assert stats.weights() == Weights()


def test_a_weights_file_with_a_mistake_is_named_at_its_line(tmp_path: Path) -> None:
    from engine.errors import DefinitionError

    bad = tmp_path / "scoreboard.yaml"
    bad.write_text("on_time: 100\noverdue_day: -1\ninterview: 2\naccountability: {}\n"
                   "reopened: 3\nextra: 1\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as e:
        stats.weights(bad)
    assert "scoreboard.yaml:2" in str(e.value)


# --- the doors ---------------------------------------------------------------------------------
def test_the_human_table_names_villages_and_the_town(campaign: tuple[str, dict[str, int]]
                                                     ) -> None:
    url, _ = campaign
    if not url.startswith("sqlite"):
        pytest.skip("the door is the same on both back ends")
    code, out, err = _run(url, "--now", NOW, "stats")
    assert code == 0, err
    assert "石板村" in out and "全镇" in out and "销号率" in out
    code, out, err = _run(url, "--now", NOW, "stats", "--scoreboard", "--by", "person")
    assert code == 0, err
    assert "名次" in out and "得分" in out


@pytest.mark.parametrize("args", [
    ["--by", "household"],
    ["--from", "2020-10-20", "--to", "2020-10-01"],
    ["--from", "2020-10-20", "--as-of", "2020-10-01"],
    ["--as-of", "yesterday"],
    ["--from", "2020-13-01"],
    ["--scoreboard", "--by", "category"],
])
def test_bad_options_exit_2_with_one_error_line(campaign: tuple[str, dict[str, int]],
                                                args: list[str]) -> None:
    url, _ = campaign
    if not url.startswith("sqlite"):
        pytest.skip("options are read before the database")
    code, out, err = _run(url, "--now", NOW, "stats", *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len([x for x in lines if x.startswith("error:")]) == 1
    assert all(x.startswith(("error:", "演练")) for x in lines), lines


def test_the_scoreboard_table_tells_decided_cases_by_outcome_in_one_column() -> None:
    from datetime import UTC, datetime

    from rich.console import Console

    from engine.app.stats import Numbers
    from engine.domain.stats import Score
    from engine.present_stats import scoreboard_table
    from engine.words import Words

    def score(key: str, rank: int, outcomes: dict[str, int]) -> Score:
        return Score(key=key, rank=rank, score=90.0, on_time_rate=1.0, open=1, overdue=0,
                     cleared=1, overdue_working_days=0, interviews=0, accountability=outcomes,
                     reopened=0)

    moment = datetime(2020, 10, 30, 10, tzinfo=UTC)
    n = Numbers(by="village", rows=[], start=None, cut=None, moment=moment)
    console = Console(width=200, record=True)
    console.print(scoreboard_table(n, [score("v-a", 1, {"talk": 1, "criticize": 2}),
                                       score("v-b", 2, {})], UTC, Words("zh_CN")))
    text = console.export_text()
    assert "提醒谈话×1、通报批评×2" in text and "问责" in text
    assert "诫勉谈话" not in text  # no column per outcome
