"""The campaign (百日大会战): read from the org file (bad values refused at their line), kept
with the org and in its chained body (audit verify agrees), counted down above the CLI's state
views and in the web workspace's header, and the rule that no due date is given past its end
(refused with nothing changed; told in Chinese on a page); on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.app import accounts, configuration, extensions, issues
from engine.clock import DrillClock
from engine.config.org import parse
from engine.domain.accounts import CHEAP
from engine.domain.campaign import Campaign
from engine.domain.configuration import org_body
from engine.domain.events import TOWN, EventType
from engine.domain.issue import Move, NewIssue
from engine.errors import DeadlineRefused, OrgError
from engine.refusals import refusal
from engine.web.app import create_app
from engine.words import Words
from tests.support import SMALL_ORG, Scenario, run_cli, scenario, write_org

START = datetime(2020, 9, 28, 9, 0)  # Monday, town time
END = date(2020, 10, 20)  # a Tuesday: the campaign's last day
CAMPAIGN = {"name": "百日大会战", "start": date(2020, 9, 28), "end": END}


def org_with(campaign: dict[str, Any] | None = CAMPAIGN) -> dict[str, Any]:
    org = copy.deepcopy(SMALL_ORG)
    if campaign is not None:
        org["campaign"] = campaign
    return org


@pytest.fixture
def campaign_org(tmp_path: Path) -> Path:
    return write_org(tmp_path / "campaign-org.yaml", org_with())


@pytest.fixture
def town(db_url: str, campaign_org: Path, tmp_path: Path) -> Iterator[Scenario]:
    s = scenario(db_url, tmp_path / "data", actor="wang", now=START)
    s.init(campaign_org)
    yield s
    s.store.close()


def reported(s: Scenario) -> int:
    s.actor, s.now = "sa1", START
    i = s.add_issue(NewIssue(title="房屋漏雨", category="housing_safety", village="v-shiban",
                             group="sa-01")).id
    s.move(Move(issue_id=i, transition="report"))
    s.actor, s.now = "rc1", START + timedelta(hours=1)
    return i


# --- the org file -----------------------------------------------------------------------------
ORG_TEXT = """\
town: {id: t, name: 镇, party_secretary: w}
units: []
people: [{id: w, name: 王, unit: t}]
groups: []
campaign:
  name: 百日大会战
  start: START
  end: END
"""


def test_the_org_file_names_the_campaign() -> None:
    org = parse(ORG_TEXT.replace("START", "2020-09-28").replace("END", "2021-01-05"))
    assert org.campaign == Campaign("百日大会战", date(2020, 9, 28), date(2021, 1, 5))
    assert org.names().campaign == org.campaign
    without = parse(ORG_TEXT.split("campaign:")[0])
    assert without.campaign is None
    assert "campaign" not in org_body(without)  # an org without one keeps its old body


@pytest.mark.parametrize(("start", "end", "line", "needle"), [
    ("2020-09-28", "2020-09-27", 8, "campaign end 2020-09-27 is before its start 2020-09-28"),
    ("2020-09-28", "2020-02-30", 8, "campaign.end: not a date: '2020-02-30'"),
    ("tomorrow", "2021-01-05", 7, "campaign.start: not a date: 'tomorrow'"),
    ("2020-09-28", "[1]", 8, "campaign.end: not a date: a list"),
    ("2020-09-28", "2300-01-01", 8, "out of range"),
])
def test_bad_campaign_values_are_refused_at_their_line(start: str, end: str, line: int,
                                                       needle: str) -> None:
    with pytest.raises(OrgError) as e:
        parse(ORG_TEXT.replace("START", start).replace("END", end), "org.yaml")
    assert f"org.yaml:{line}: " in str(e.value) and needle in str(e.value), str(e.value)


def test_a_campaign_without_a_name_or_with_unknown_keys_is_refused() -> None:
    text = ORG_TEXT.replace("START", "2020-09-28").replace("END", "2021-01-05")
    with pytest.raises(OrgError, match=r"org.yaml:6: "):
        parse(text.replace("  name: 百日大会战\n", "  name: ''\n"), "org.yaml")
    with pytest.raises(OrgError, match=r"org.yaml:9: "):
        parse(text + "  goal: 清零\n", "org.yaml")


# --- kept with the org, under the chain -------------------------------------------------------
def test_the_campaign_survives_the_chain_and_its_changes_are_history(
        town: Scenario, tmp_path: Path) -> None:
    assert town.session().org_now().campaign == Campaign("百日大会战", date(2020, 9, 28), END)
    [loaded] = [e for e in town.history(TOWN) if e.type == EventType.ORG_LOADED]
    assert loaded.payload["body"]["campaign"] == {"name": "百日大会战", "start": "2020-09-28",
                                                  "end": "2020-10-20"}
    assert town.verify().ok
    town.now = START + timedelta(days=1)
    town.init(write_org(tmp_path / "longer.yaml",
                        org_with({**CAMPAIGN, "end": date(2020, 12, 31)})))
    assert town.session().org_now().campaign.end == date(2020, 12, 31)  # type: ignore[union-attr]
    changes = configuration.org_history(town.session())
    assert changes[-1].changes == ["campaign: 百日大会战 2020-09-28–2020-10-20 → 百日大会战"
                                   " 2020-09-28–2020-12-31"]
    assert town.verify().ok
    town.init(write_org(tmp_path / "none.yaml", org_with(None)))
    assert town.session().org_now().campaign is None
    assert town.verify().ok


# --- the countdown ----------------------------------------------------------------------------
def cli(url: str, now: str, *args: str) -> tuple[int, str]:
    ran = run_cli("--db", url, "--as", "wang", "--now", now, *args)
    assert ran.code == 0, ran.err
    return ran.code, ran.out


def test_the_countdown_above_issue_list_and_show_not_in_json(town: Scenario,
                                                             db_url: str) -> None:
    i = reported(town)
    town.store.close()
    _, out = cli(db_url, "2020-10-19T10:00", "issue", "list")
    assert out.splitlines()[0] == "百日大会战：剩余 2 天（2020-10-20 结束）"
    _, out = cli(db_url, "2020-10-20T23:00", "issue", "show", str(i))
    assert out.splitlines()[0] == "百日大会战：剩余 1 天（2020-10-20 结束）"  # the end day counts
    _, out = cli(db_url, "2020-10-21T00:30", "issue", "show", str(i))
    assert out.splitlines()[0] == "百日大会战：已结束（2020-10-20）"
    _, out = cli(db_url, "2020-09-28T10:00", "--lang", "en", "issue", "list")
    assert out.splitlines()[0] == "百日大会战: 23 days left (ends 2020-10-20)"
    _, out = cli(db_url, "2020-10-19T10:00", "escalation", "list")
    assert out.startswith("百日大会战：剩余 2 天")
    for args in (("issue", "list"), ("issue", "show", str(i))):
        _, out = cli(db_url, "2020-10-19T10:00", "--json", *args)
        assert "百日大会战" not in out and "剩余" not in out
    _, out = cli(db_url, "2020-10-19T10:00", "issue", "history", str(i))
    assert "剩余" not in out  # not a view of the town's state


def test_no_campaign_no_countdown(sqlite_url: str, org_file: Path, tmp_path: Path) -> None:
    s = scenario(sqlite_url, tmp_path / "data", actor="wang", now=START)
    s.init(org_file)
    s.store.close()
    _, out = cli(sqlite_url, "2020-10-19T10:00", "issue", "list")
    assert "剩余" not in out and "已结束" not in out


def test_the_countdown_in_the_web_workspace_header(sqlite_url: str, campaign_org: Path,
                                                   tmp_path: Path) -> None:
    s = scenario(sqlite_url, tmp_path / "data", actor="wang", now=START)
    s.init(campaign_org)
    s.app.account_policy = CHEAP
    s.app.clock = DrillClock(datetime(2020, 10, 10, 2, 0, tzinfo=UTC))  # 10:00 town time
    accounts.set_password(s.app.session(), "wang", "correct horse 2020")
    c = TestClient(create_app(s.app), follow_redirects=False)
    r = c.post("/login", data={"who": "wang", "password": "correct horse 2020", "next": "/"})
    assert r.status_code == 303
    for path in ("/", "/ledger"):
        page = c.get(path).text
        found = re.search(r'id="countdown">([^<]*)<', page)
        assert found and found.group(1) == "百日大会战：剩余 11 天（2020-10-20 结束）", path
    s.store.close()


# --- no due date past the end -----------------------------------------------------------------
def test_a_study_due_past_the_end_is_refused_and_nothing_changes(town: Scenario,
                                                                 db_url: str) -> None:
    i = reported(town)
    before = town.show(i)
    events = len(town.history(i))
    with pytest.raises(DeadlineRefused) as e:
        town.move(Move(issue_id=i, transition="study", plan="修屋面", assignee="rc2",
                       due=END + timedelta(days=1)))
    assert str(e.value) == ("due date 2020-10-21 is after the end of the campaign 百日大会战"
                            " (2020-10-20)")
    assert town.show(i) == before and len(town.history(i)) == events
    assert refusal(Words("zh_CN"), str(e.value)) == \
        "截止日期 2020-10-21 晚于百日大会战的结束日期（2020-10-20）"
    # the command line: exit 1, one line naming the campaign and its end
    town.store.close()
    ran = run_cli("--db", db_url, "--as", "rc1", "--now", "2020-09-28T10:00", "issue", "move",
                  str(i), "study", "--plan", "修屋面", "--assignee", "rc2", "--due",
                  "2020-10-21")
    assert ran.code == 1
    assert ran.err.strip() == ("error: due date 2020-10-21 is after the end of the campaign"
                               " 百日大会战 (2020-10-20)")
    assert town.show(i) == before
    moved = town.move(Move(issue_id=i, transition="study", plan="修屋面", assignee="rc2",
                           due=END - timedelta(days=1)))  # one day before the end: fine
    assert moved.state == "studied"
    assert town.verify().ok


def test_a_reject_and_an_extension_past_the_end_are_refused(town: Scenario) -> None:
    i = reported(town)
    town.move(Move(issue_id=i, transition="study", plan="修屋面", assignee="rc2",
                   due=date(2020, 10, 12)))
    town.actor, town.now = "rc2", START + timedelta(days=2)
    with pytest.raises(DeadlineRefused, match="the new due date 2020-10-21 is after the end of"
                                              " the campaign 百日大会战"):
        extensions.request(town.session(), i, date(2020, 10, 21), "材料未到")
    assert not town.extensions(i)
    made = extensions.request(town.session(), i, END, "材料未到")  # the end day itself: fine
    assert made.to_date == "2020-10-20"
    from engine.domain.events import Evidence

    town.move(Move(issue_id=i, transition="rectify", note="已整改",
                   evidence=(Evidence("cd" * 32, "p.jpg", 3),)))
    town.actor = "qs1"
    version = town.show(i).version
    with pytest.raises(DeadlineRefused, match="after the end of the campaign"):
        town.move(Move(issue_id=i, transition="reject", reason="不到位",
                       due=date(2020, 10, 21)))
    assert town.show(i).version == version
    assert town.move(Move(issue_id=i, transition="reject", reason="不到位",
                          due=date(2020, 10, 19))).state == "studied"


def test_the_web_tells_the_refusal_in_chinese(sqlite_url: str, campaign_org: Path,
                                              tmp_path: Path) -> None:
    s = scenario(sqlite_url, tmp_path / "data", actor="wang", now=START)
    s.init(campaign_org)
    s.app.account_policy = CHEAP
    s.app.clock = DrillClock(datetime(2020, 9, 28, 3, 0, tzinfo=UTC))
    i = reported(s)
    accounts.set_password(s.app.session(), "rc1", "correct horse 2020")
    c = TestClient(create_app(s.app), follow_redirects=False)
    c.post("/login", data={"who": "rc1", "password": "correct horse 2020", "next": "/"})
    page = c.get(f"/issues/{i}").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    r = c.post(f"/issues/{i}/move", data={"csrf": token.group(1), "transition": "study",
                                          "plan": "修", "assignee": "rc2",
                                          "due": "2020-10-21"})
    assert r.status_code == 409
    assert "截止日期 2020-10-21 晚于百日大会战的结束日期（2020-10-20）" in r.text
    assert issues.show(s.app.session(), i).state == "reported"
    s.store.close()


def test_the_burn_down_runs_over_the_campaigns_days(town: Scenario) -> None:
    """The charts' burn-down spans the campaign, start to end, its days still to come empty,
    the ideal line reaching zero on the campaign's last day."""
    from engine.app import charts

    reported(town)
    town.actor, town.now = "wang", datetime(2020, 9, 30, 9, 0)
    got = charts.pictures(town.session()).burndown
    assert got.days[0] == date(2020, 9, 28) and got.days[-1] == END
    assert len(got.days) == (END - date(2020, 9, 28)).days + 1
    assert got.open[:3] == [1, 1, 1] and set(got.open[3:]) == {None}
    assert got.ideal[0] == 1.0 and got.ideal[-1] == 0.0
