"""`issue move IDS`: several issues (`1,4,7-20`), each in its own transaction; one refused does
not stop the others (exit 1); `--json` a list of outcomes; a single id keeps the single-issue
contract; `--expect-version` only with a single id; evidence stored for each move.

Every test runs on SQLite and on PostgreSQL (the `svc` fixture)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from engine.domain.issue import NewIssue
from tests.support import Ran, Scenario, run_cli

NOW = "2020-09-28T10:00"
LATER = "2020-09-29T10:00"


def cli(svc: Scenario, db_url: str, *args: str, who: str = "sa1", now: str = LATER) -> Ran:
    return run_cli("--db", db_url, "--data-dir", str(svc.data_dir), "--as", who, "--now", now,
                   *args)


def found(svc: Scenario, n: int) -> list[int]:
    svc.actor = "sa1"
    return [svc.add_issue(NewIssue(title=f"问题{k}", category="food", village="v-shiban")).id
            for k in range(n)]


def test_several_ids_each_move_in_json(svc: Scenario, db_url: str) -> None:
    ids = found(svc, 5)
    ran = cli(svc, db_url, "--json", "issue", "move", f"{ids[0]},{ids[2]}-{ids[4]}", "report")
    assert (ran.code, ran.err) == (0, "")
    out = ran.json()
    assert [o["id"] for o in out] == [ids[0], ids[2], ids[3], ids[4]]
    assert all(o["ok"] and o["issue"]["state"] == "reported" for o in out)
    assert [o["issue"]["id"] for o in out] == [o["id"] for o in out]
    assert {i.id: i.state for i in svc.list()} == {
        ids[0]: "reported", ids[1]: "found", ids[2]: "reported", ids[3]: "reported",
        ids[4]: "reported"}
    assert svc.verify().ok


def test_one_refused_does_not_stop_the_others(svc: Scenario, db_url: str) -> None:
    a, b, c = found(svc, 3)
    assert cli(svc, db_url, "issue", "move", str(b), "report").code == 0
    before = [(e.seq, e.hash) for e in svc.history(b)]
    ran = cli(svc, db_url, "--json", "issue", "move", f"{a},{b},{c},999", "report")
    assert (ran.code, ran.err) == (1, "")
    out = ran.json()
    assert [(o["id"], o["ok"]) for o in out] == [(a, True), (b, False), (c, True),
                                                (999, False)]
    assert "report" in out[1]["error"] and "reported" in out[1]["error"]
    assert out[3]["error"] == "no issue 999"
    assert "issue" not in out[1]
    assert [(e.seq, e.hash) for e in svc.history(b)] == before  # nothing of b changed
    assert svc.show(a).state == svc.show(c).state == "reported"
    assert svc.verify().ok


def test_human_output_is_a_line_per_id(svc: Scenario, db_url: str) -> None:
    a, b = found(svc, 2)
    ran = cli(svc, db_url, "issue", "move", f"{a}-{b},{b + 1}", "report")
    assert ran.code == 1
    lines = ran.out.splitlines()
    assert lines[0] == f"#{a} ok: reported, version 2"
    assert lines[1] == f"#{b} ok: reported, version 2"
    assert lines[2] == f"#{b + 1} refused: no issue {b + 1}"
    assert lines[3] == "2 of 3 moved"
    assert ran.err == ""


def test_refused_by_role_for_all_is_exit_1(svc: Scenario, db_url: str) -> None:
    a, b = found(svc, 2)
    ran = cli(svc, db_url, "--json", "issue", "move", f"{a},{b}", "report", who="nobody")
    assert ran.code == 1
    assert [o["ok"] for o in ran.json()] == [False, False]
    assert all(i.state == "found" for i in svc.list())


def test_a_single_id_keeps_the_single_issue_contract(svc: Scenario, db_url: str) -> None:
    (a,) = found(svc, 1)
    ran = cli(svc, db_url, "--json", "issue", "move", str(a), "report",
              "--expect-version", "1")
    assert ran.code == 0
    assert ran.json()["id"] == a and ran.json()["state"] == "reported"
    ran = cli(svc, db_url, "--json", "issue", "move", str(a), "study")
    assert (ran.code, ran.out) == (1, "")
    assert ran.err.startswith("error: ")


@pytest.mark.parametrize("ids", ["1,", "1,,2", "3-1", "a", "1-b", "0", "1-20000", "1;2", ""])
def test_a_malformed_id_list_is_exit_2(svc: Scenario, db_url: str, ids: str) -> None:
    found(svc, 2)
    ran = cli(svc, db_url, "issue", "move", ids, "report")
    assert (ran.code, ran.out) == (2, "")
    assert ran.err.startswith("error: ") and len(ran.err.splitlines()) == 1
    assert all(i.state == "found" for i in svc.list())


def test_expect_version_only_with_a_single_id(svc: Scenario, db_url: str) -> None:
    a, b = found(svc, 2)
    for ids in (f"{a},{b}", f"{a}-{b}"):
        ran = cli(svc, db_url, "issue", "move", ids, "report", "--expect-version", "1")
        assert (ran.code, ran.out) == (2, "")
        assert ran.err == "error: --expect-version is only for a move of a single issue\n"
    assert all(i.state == "found" for i in svc.list())


def test_evidence_is_stored_for_each_move(svc: Scenario, db_url: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.app import evidence

    a, b, c = found(svc, 3)
    photo = tmp_path / "roof.jpg"
    photo.write_bytes(b"the new roof")
    digest = hashlib.sha256(b"the new roof").hexdigest()
    staged: list[object] = []
    real_stage = evidence.stage

    def stage(*args: Any, **kwargs: Any) -> evidence.Staged:
        staged.append(args)
        return real_stage(*args, **kwargs)

    monkeypatch.setattr(evidence, "stage", stage)
    ran = cli(svc, db_url, "--json", "issue", "move", f"{a}-{c}", "fix", "--note", "修好",
              "--evidence", str(photo))
    assert len(staged) == 1  # the file copied and hashed once for the three moves
    assert ran.code == 0, ran.err
    for i in (a, b, c):
        last = svc.history(i)[-1]
        assert [e["sha256"] for e in last.payload["evidence"]] == [digest]
    assert svc.evidence_path(digest).read_bytes() == b"the new roof"
    ran = run_cli("--db", db_url, "--data-dir", str(svc.data_dir), "--json", "audit", "verify",
                  "--evidence")
    assert ran.code == 0, ran.out
