"""`issue list`'s filters: repeated `--state`, `--village`, `--assignee` match any of their
values; `--search` (title, household, description) and `--household` a substring, any case.

Every test runs on SQLite and on PostgreSQL (the `svc` fixture)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from engine.domain.issue import Move, NewIssue
from tests.support import Scenario, run_cli

NOW = "2020-09-28T10:00"


def ids(svc: Scenario, db_url: str, *args: str) -> list[int]:
    ran = run_cli("--db", db_url, "--data-dir", str(svc.data_dir), "--as", "wang", "--now",
                  NOW, "--json", "issue", "list", *args)
    assert ran.code == 0, ran.err
    return [i["id"] for i in ran.json()]


def seed(svc: Scenario) -> list[int]:
    """Four issues: two villages, three states, two assignees, households and descriptions."""
    svc.actor = "sa1"
    made = [
        svc.add_issue(NewIssue(title="Roof leaks", category="housing_safety",
                               village="v-shiban", household="张三户")).id,
        svc.add_issue(NewIssue(title="饮水不稳定", category="drinking_water", village="c-jiezi",
                               household="李四户", description="水管 LEAKS at night")).id,
        svc.add_issue(NewIssue(title="学籍未核", category="compulsory_education",
                               village="v-shiban", household="王五户")).id,
        svc.add_issue(NewIssue(title="100% 完成？", category="other", village="c-jiezi")).id,
    ]
    svc.set_now(datetime(2020, 9, 30, 10, 0))
    for i in made[:3]:
        svc.move(Move(issue_id=i, transition="report"))
    svc.set_now(datetime(2020, 10, 9, 10, 0))
    svc.actor = "rc1"
    svc.move(Move(issue_id=made[0], transition="study", plan="p", assignee="rc2",
                  due=date(2020, 10, 16)))
    svc.move(Move(issue_id=made[1], transition="study", plan="p", assignee="chen",
                  due=date(2020, 10, 16)))
    return made


def test_repeated_options_match_any_of_their_values(svc: Scenario, db_url: str) -> None:
    a, b, c, d = seed(svc)
    assert ids(svc, db_url, "--state", "studied") == [a, b]
    assert ids(svc, db_url, "--state", "studied", "--state", "found") == [a, b, d]
    assert ids(svc, db_url, "--state", "reported", "--state", "reported") == [c]
    assert ids(svc, db_url, "--village", "v-shiban", "--village", "c-jiezi") == [a, b, c, d]
    assert ids(svc, db_url, "--assignee", "rc2", "--assignee", "chen") == [a, b]
    assert ids(svc, db_url, "--assignee", "rc2", "--assignee", "nobody") == [a]
    # options of different kinds must all hold
    assert ids(svc, db_url, "--state", "studied", "--state", "reported",
               "--village", "v-shiban") == [a, c]
    assert ids(svc, db_url, "--state", "cleared") == []


def test_search_looks_in_title_household_and_description(svc: Scenario, db_url: str) -> None:
    a, b, c, d = seed(svc)
    assert ids(svc, db_url, "--search", "leaks") == [a, b]   # title (any case), description
    assert ids(svc, db_url, "--search", "LEAKS") == [a, b]
    assert ids(svc, db_url, "--search", "王五") == [c]       # household
    assert ids(svc, db_url, "--search", "学籍") == [c]
    assert ids(svc, db_url, "--search", "%") == [d]          # a wildcard is a character
    assert ids(svc, db_url, "--search", "_") == []
    assert ids(svc, db_url, "--search", "leaks", "--village", "c-jiezi") == [b]
    assert ids(svc, db_url, "--search", "nothing like it") == []


def test_household_is_a_substring_of_the_household(svc: Scenario, db_url: str) -> None:
    a, b, c, _ = seed(svc)
    assert ids(svc, db_url, "--household", "李四") == [b]
    assert ids(svc, db_url, "--household", "户") == [a, b, c]
    assert ids(svc, db_url, "--household", "户", "--state", "reported") == [c]
    assert ids(svc, db_url, "--household", "leaks") == []   # not the description


def test_search_text_follows_the_text_rule(svc: Scenario, db_url: str) -> None:
    ran = run_cli("--db", db_url, "--as", "wang", "issue", "list", "--search", "a\x1bb")
    assert ran.code == 1
    assert ran.err.startswith("error: --search contains a control character")
    ran = run_cli("--db", db_url, "--as", "wang", "issue", "list", "--household", "x" * 201)
    assert (ran.code, ran.err) == (1, "error: --household is longer than 200 characters"
                                      " (201)\n")


def test_the_ledger_counts_follow_every_write_without_counting_again(
        svc: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    """The village × stage counts are kept by the app and brought up to date by the events
    written since; after each kind of write they equal a fresh count, and they are counted
    again only after an event that may move an issue in a way events do not tell (an edit)."""
    from engine.app import corrections, issues
    from engine.domain.issue import Edit
    from engine.store.issues import IssueRepository

    counted: list[int] = []
    real = IssueRepository.counted_at

    def counting(self: IssueRepository) -> tuple[int, list[tuple[str, str, int]]]:
        counted.append(1)
        return real(self)

    monkeypatch.setattr(IssueRepository, "counted_at", counting)

    def kept() -> list[tuple[str, str, int]]:
        return issues.summary(svc.session())

    def fresh() -> list[tuple[str, str, int]]:
        svc.app.memo.pop("summary", None)
        return issues.summary(svc.session())

    made = seed(svc)
    first = kept()
    assert ("v-shiban", "studied", 1) in first and len(counted) == 1
    assert kept() == first and len(counted) == 1  # nothing written: not counted again
    svc.set_now(datetime(2020, 10, 9, 11, 0))
    svc.actor = "sa1"
    svc.move(Move(issue_id=made[3], transition="report"))            # a transition
    extra = svc.add_issue(NewIssue(title="新问题", category="other", village="v-shiban")).id
    after = kept()
    assert ("c-jiezi", "reported", 1) in after and ("c-jiezi", "found", 1) not in after
    assert ("v-shiban", "found", 1) in after and len(counted) == 1
    svc.actor = "iv1"
    svc.move(Move(issue_id=extra, transition="void", reason="重复"))  # voided: out of the counts
    assert kept() == fresh() and len(counted) == 2  # the fresh count is the second
    assert not any(st == "voided" for _, st, _ in kept())
    corrections.edit(svc.session(), Edit(issue_id=made[2], reason="录错村", village="c-jiezi"))
    mark = len(counted)
    edited = kept()                                                    # an edit: counted again
    assert len(counted) == mark + 1 and ("c-jiezi", "reported", 2) in edited
    assert edited == fresh()
