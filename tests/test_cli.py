"""The command line, end to end: `cli.main([...])` in-process, and a few real subprocesses.

Every refusal is checked three ways: its exit code, exactly one `error: ` line on stderr, and
a database (a full SQL dump), evidence store and `issue show/history --json` unchanged.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import cli
from tests.support import SMALL_ORG, Ran, run_cli, write_org
from workflows import default_path

REPO = Path(__file__).resolve().parents[1]

# The clock, town time (Asia/Shanghai). 2020-10-01..08 is the National Day holiday and
# Saturday 2020-10-10 a make-up working day (调休).
T0 = "2020-09-28T09:00"  # Monday
T_REPORT = "2020-09-30T10:00"
T_STUDY = "2020-10-09T10:00"  # the first working day after the holiday
T_RECTIFY = "2020-10-12T10:00"
T_VERIFY = "2020-10-13T10:00"
T_CLEAR = "2020-10-14T10:00"


@dataclass(frozen=True)
class Snapshot:
    dump: tuple[str, ...]
    files: tuple[str, ...]


def one_error_line(err: str) -> str:
    """stderr holds exactly one line, `error: …`, and no traceback; that line (with the
    indented lines under it of an error told a problem per line, as a refused import)."""
    lines = err.splitlines()
    assert len(lines) >= 1 and all(x.startswith("  ") for x in lines[1:]), \
        f"expected one line on stderr, got {err!r}"
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return "\n".join(lines)


class Town:
    """A database of the small org and the CLI to drive it (in-process, output captured)."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.dir = tmp_path
        self.db_path = tmp_path / "x.db"
        self.url = f"sqlite:///{self.db_path}"
        self.data = tmp_path / "data"
        self.org = write_org(tmp_path / "org.yaml")
        self.capsys = capsys

    # --- running ------------------------------------------------------------------------
    def run(self, *args: str, who: str | None = None, now: str | None = None,
            as_json: bool = True) -> Ran:
        argv = ["--db", self.url, "--data-dir", str(self.data)]
        if who is not None:
            argv += ["--as", who]
        if now is not None:
            argv += ["--now", now]
        if as_json:
            argv.append("--json")
        return run_cli(*argv, *args)

    def ok(self, *args: str, who: str | None = None, now: str | None = None) -> Any:
        r = self.run(*args, who=who, now=now)
        assert r.code == 0, r.err
        assert r.err == "", r.err
        return r.json()

    def init(self, org: Path | None = None) -> Any:
        return self.ok("init", "--drill", "--org", str(org or self.org), now=T0)

    def add(self, *extra: str, title: str = "roof leaks", village: str = "v-shiban",
            who: str = "sa1", now: str = T0, category: str = "housing_safety") -> int:
        new = self.ok("issue", "add", "--title", title, "--category", category,
                      "--village", village, *extra, who=who, now=now)
        issue_id: int = new["id"]
        return issue_id

    def move(self, issue_id: int, transition: str, *opts: str, who: str, now: str) -> Any:
        return self.ok("issue", "move", str(issue_id), transition, *opts, who=who, now=now)

    def show(self, issue_id: int) -> Any:
        return self.ok("issue", "show", str(issue_id))

    def history(self, issue_id: int) -> Any:
        return self.ok("issue", "history", str(issue_id))

    # --- state --------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        dump: tuple[str, ...] = ()
        if self.db_path.exists():
            con = sqlite3.connect(self.db_path)
            try:
                dump = tuple(con.iterdump())
            finally:
                con.close()
        files: tuple[str, ...] = ()
        if self.data.exists():
            files = tuple(sorted(str(p.relative_to(self.data)) for p in self.data.rglob("*")))
        return Snapshot(dump, files)

    def count(self, table: str) -> int:
        con = sqlite3.connect(self.db_path)
        try:
            n: int = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            con.close()
        return n

    def refused(self, *args: str, code: int = 1, who: str | None = None,
                now: str | None = None, issue: int | None = None) -> str:
        """Run a command that must be refused: its error line; nothing may have changed."""
        before = self.snapshot()
        views = (self.show(issue), self.history(issue)) if issue is not None else None
        r = self.run(*args, who=who, now=now)
        assert r.code == code, (r.code, r.err)
        assert r.out == ""
        line = one_error_line(r.err)
        assert "unexpected" not in line, line
        assert self.snapshot() == before, "a refused command changed the database or files"
        if issue is not None:
            assert (self.show(issue), self.history(issue)) == views
        return line

    def evidence(self, name: str = "photo.jpg", content: bytes = b"the new roof") -> Path:
        path = self.dir / name
        path.write_bytes(content)
        return path

    # --- walking an issue along ---------------------------------------------------------
    def reported(self) -> int:
        i = self.add()
        self.move(i, "report", who="sa1", now=T_REPORT)
        return i

    def studied(self, assignee: str = "rc2") -> int:
        i = self.reported()
        self.move(i, "study", "--plan", "new roof", "--assignee", assignee,
                  "--due", "2020-10-23", who="rc1", now=T_STUDY)
        return i

    def rectified(self, rectifier: str = "rc2", assignee: str = "rc2") -> int:
        i = self.studied(assignee)
        self.move(i, "rectify", "--note", "done", "--evidence", str(self.evidence()),
                  who=rectifier, now=T_RECTIFY)
        return i

    def verified(self) -> int:
        i = self.rectified()
        self.move(i, "verify", "--note", "checked", who="qs1", now=T_VERIFY)
        return i

    def cleared(self) -> int:
        i = self.verified()
        self.move(i, "clear", who="wang", now=T_CLEAR)
        return i


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RECTIFY_DB", "RECTIFY_USER", "RECTIFY_NOW", "RECTIFY_DATA_DIR",
                 "RECTIFY_DEBUG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Town:
    """No database yet."""
    return Town(tmp_path, capsys)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database initialised by `rectify init` (the small org), copied by `town`."""
    folder = tmp_path_factory.mktemp("template")
    db = folder / "x.db"
    org = write_org(folder / "org.yaml")
    assert cli.main(["--db", f"sqlite:///{db}", "--now", T0, "init", "--drill", "--org",
                     str(org)]) == 0
    return db


@pytest.fixture
def town(bare: Town, template: Path) -> Town:
    """An initialised database of the small org (a copy of the template: init is slow)."""
    src, dst = sqlite3.connect(template), sqlite3.connect(bare.db_path)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return bare


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def org_with(**changes: Any) -> dict[str, Any]:
    org = copy.deepcopy(SMALL_ORG)
    org.update(changes)
    return org


# --- init -------------------------------------------------------------------------------
def test_init_creates_the_database_and_reinit_keeps_issues(bare: Town) -> None:
    assert not bare.db_path.exists()
    result = bare.init()
    assert result["town"] == "huangjia"
    assert (result["units"], result["people"], result["groups"]) == (2, 12, 4)
    assert result["workflow"] == "rectification@3"
    assert result["calendar_years"][0] <= 2020 <= result["calendar_years"][1]
    assert bare.count("people") == 12

    issue = bare.add()
    again = bare.init()
    assert again == result
    assert bare.count("people") == 12
    assert bare.show(issue)["state"] == "found"
    assert len(bare.history(issue)) == 1

    text = bare.run("init", "--org", str(bare.org), as_json=False)
    assert text.code == 0, text.err
    assert text.out.startswith(f"initialised {bare.url}: town huangjia, 2 units, 12 people")


def test_init_with_a_missing_org_file_is_malformed_and_creates_nothing(bare: Town) -> None:
    line = bare.refused("init", "--org", str(bare.dir / "missing.yaml"), code=2)
    assert "missing.yaml" in line
    assert not bare.db_path.exists()
    # and the database really is not there
    r = bare.run("issue", "list")
    assert r.code == 1
    assert "init" in one_error_line(r.err)


def test_init_with_an_org_naming_an_unknown_person_loads_nothing(bare: Town) -> None:
    bad = org_with()
    bad["groups"][0]["members"].append("ghost")
    bad_path = write_org(bare.dir / "bad.yaml", bad)

    line = bare.refused("init", "--org", str(bad_path), code=2)
    assert "bad.yaml" in line and "ghost" in line
    assert not bare.db_path.exists()

    # over an existing database: refused whole, the old org stays
    bare.init()
    issue = bare.add()
    line = bare.refused("init", "--org", str(bad_path), code=2, issue=issue)
    assert "ghost" in line
    assert bare.count("people") == 12


def test_init_with_an_org_that_is_not_yaml_is_malformed(town: Town) -> None:
    broken = town.dir / "broken.yaml"
    broken.write_text("town: [unclosed\n", encoding="utf-8")
    line = town.refused("init", "--org", str(broken), code=2)
    assert "broken.yaml" in line


def test_reinit_may_not_drop_the_assignee_of_an_open_issue(town: Town) -> None:
    issue = town.studied(assignee="rc2")
    org = org_with()
    org["people"] = [p for p in org["people"] if p["id"] != "rc2"]
    for g in org["groups"]:
        g["members"] = [m for m in g["members"] if m != "rc2"]
    dropped = write_org(town.dir / "dropped.yaml", org)
    line = town.refused("init", "--org", str(dropped), code=1, issue=issue)
    assert "rc2" in line
    assert "`rectify issue list --assignee rc2` finds them" in line
    assert "issue reassign ID --to PERSON --reason TEXT" in line
    town.ok("issue", "reassign", str(issue), "--to", "rc1", "--reason", "调离",
            who="rc1", now=T_CLEAR)
    assert town.ok("init", "--org", str(dropped), now=T_CLEAR)


def test_reinit_with_a_changed_workflow_of_the_same_version_is_refused(town: Town) -> None:
    changed = town.dir / "wf.yaml"
    changed.write_text(
        default_path().read_text(encoding="utf-8").replace("label: 上报", "label: 报告", 1),
        encoding="utf-8",
    )
    line = town.refused("init", "--org", str(town.org), "--workflow", str(changed), code=1)
    assert "rectification@3" in line


# --- the life of an issue -----------------------------------------------------------------
def test_the_full_life_of_an_issue(town: Town) -> None:
    added = town.ok(
        "issue", "add", "--title", "王家房屋漏雨", "--category", "housing_safety",
        "--village", "v-shiban", "--group", "sa-01", "--household", "王大", "--severity",
        "high", "--description", "the roof leaks", "--listed", who="sa1", now=T0,
    )
    i = added["id"]
    assert isinstance(i, int)
    assert added["title"] == "王家房屋漏雨"
    assert added["state"] == "found" and added["version"] == 1
    assert added["village"] == "v-shiban" and added["category"] == "housing_safety"
    assert added["assignee"] is None and added["listed"] is True
    assert added["group"] == "sa-01" and added["household"] == "王大"
    assert added["severity"] == "high" and added["description"] == "the roof leaks"
    assert added["created_by"] == "sa1"
    assert added["created_at"] == "2020-09-28T09:00:00+08:00"
    assert added["due_at"] == "2020-09-30T00:00:00+08:00"  # 1 working day

    reported = town.move(i, "report", "--note", "up it goes", who="sa1", now=T_REPORT)
    assert (reported["state"], reported["version"]) == ("reported", 2)
    assert reported["due_at"] == "2020-10-13T00:00:00+08:00"  # 3 working days

    studied = town.move(i, "study", "--plan", "new roof", "--assignee", "rc2",
                        "--due", "2020-10-23", "--note", "agreed", who="rc1", now=T_STUDY)
    assert (studied["state"], studied["version"]) == ("studied", 3)
    assert studied["assignee"] == "rc2" and studied["plan"] == "new roof"
    assert studied["due_at"] == "2020-10-24T00:00:00+08:00"  # the end of the given day

    photo = town.evidence("photo.jpg", b"\x89PNG the new roof")
    receipt = town.evidence("receipt.pdf", b"%PDF tiles, 300 yuan")
    rectified = town.move(i, "rectify", "--note", "roof replaced", "--evidence", str(photo),
                          "--evidence", str(receipt), who="rc2", now=T_RECTIFY)
    assert (rectified["state"], rectified["version"]) == ("rectified", 4)
    assert rectified["due_at"] == "2020-10-20T00:00:00+08:00"  # 5 working days

    verified = town.move(i, "verify", "--note", "checked on site", who="qs1", now=T_VERIFY)
    assert (verified["state"], verified["version"]) == ("verified", 5)
    assert verified["due_at"] == "2020-10-16T00:00:00+08:00"  # 2 working days

    cleared = town.move(i, "clear", "--note", "closed", who="wang", now=T_CLEAR)
    assert (cleared["state"], cleared["version"]) == ("cleared", 6)
    assert cleared["due_at"] is None
    assert cleared["stage_entered_at"] == "2020-10-14T10:00:00+08:00"
    assert town.show(i) == cleared

    events = town.history(i)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert len({e["seq"] for e in events}) == 6
    assert [e["type"] for e in events] == ["created"] + ["transition"] * 5
    assert [e["transition"] for e in events] == [
        None, "report", "study", "rectify", "verify", "clear"]
    assert [e["from_state"] for e in events] == [
        None, "found", "reported", "studied", "rectified", "verified"]
    assert [e["to_state"] for e in events] == [
        "found", "reported", "studied", "rectified", "verified", "cleared"]
    assert [e["actor"] for e in events] == ["sa1", "sa1", "rc1", "rc2", "qs1", "wang"]
    assert [e["at"] for e in events] == [
        "2020-09-28T09:00:00+08:00", "2020-09-30T10:00:00+08:00", "2020-10-09T10:00:00+08:00",
        "2020-10-12T10:00:00+08:00", "2020-10-13T10:00:00+08:00", "2020-10-14T10:00:00+08:00",
    ]
    for e in events:
        assert e["recorded_at"] is not None and e["recorded_at"][-6:] == "+08:00"
        assert isinstance(e["payload"], dict)
    assert events[1]["payload"]["note"] == "up it goes"
    study = events[2]["payload"]
    assert (study["plan"], study["assignee"], study["due"]) == ("new roof", "rc2", "2020-10-23")
    assert events[4]["payload"]["note"] == "checked on site"

    rect = events[3]["payload"]
    assert rect["note"] == "roof replaced"
    assert [(ev["name"], ev["sha256"], ev["size"]) for ev in rect["evidence"]] == [
        ("photo.jpg", sha256(photo), photo.stat().st_size),
        ("receipt.pdf", sha256(receipt), receipt.stat().st_size),
    ]
    for source in (photo, receipt):
        digest = sha256(source)
        stored = town.data / "evidence" / digest[:2] / digest
        assert stored.read_bytes() == source.read_bytes()

    listed = town.ok("issue", "list", "--state", "cleared")
    assert listed == [cleared]


def test_fix_on_the_spot_then_verify_and_clear(town: Town) -> None:
    i = town.add()
    proof = town.evidence("fixed.jpg", b"fixed at once")
    fixed = town.move(i, "fix", "--note", "fixed at once", "--evidence", str(proof),
                      who="sa2", now="2020-09-28T10:00")
    assert (fixed["state"], fixed["version"]) == ("rectified", 2)
    digest = sha256(proof)
    assert (town.data / "evidence" / digest[:2] / digest).read_bytes() == b"fixed at once"
    town.move(i, "verify", "--note", "ok", who="qs2", now="2020-09-29T10:00")
    line = town.refused("issue", "move", str(i), "clear", who="qs1", now=T_CLEAR, issue=i)
    assert "quality_supervision_leader" in line
    assert town.move(i, "clear", who="wang", now=T_CLEAR)["state"] == "cleared"


def test_clear_by_the_quality_supervision_leader_and_fix_separation(bare: Town) -> None:
    """qs2 leads quality supervision (not party secretary) and sits in self-assessment."""
    town = bare
    org = org_with()
    org["groups"][0]["members"].append("qs2")
    org["groups"][2]["leader"] = "qs2"
    town.init(write_org(town.dir / "dual.yaml", org))
    i = town.add()
    town.move(i, "fix", "--note", "fixed", "--evidence", str(town.evidence()), who="qs2",
              now="2020-09-28T10:00")
    line = town.refused("issue", "move", str(i), "verify", "--note", "mine", who="qs2",
                        now=T_VERIFY, issue=i)
    assert "qs2" in line and "fix" in line
    town.move(i, "verify", "--note", "ok", who="qs1", now=T_VERIFY)
    assert town.move(i, "clear", who="qs2", now=T_CLEAR)["state"] == "cleared"


def test_reject_and_reopen_need_a_reason(town: Town) -> None:
    i = town.rectified()
    line = town.refused("issue", "move", str(i), "reject", who="qs1", now=T_VERIFY, issue=i)
    assert "--reason" in line
    rejected = town.move(i, "reject", "--reason", "gutter missing", who="qs1", now=T_VERIFY)
    assert rejected["state"] == "studied"
    # no new date given: 5 working days from the reject (Oct 13 → 14, 15, 16, 19, 20)
    assert rejected["due_at"] == "2020-10-21T00:00:00+08:00"
    assert town.history(i)[-1]["payload"]["reason"] == "gutter missing"

    town.move(i, "rectify", "--note", "gutter added", "--evidence",
              str(town.evidence("gutter.jpg", b"gutter")), who="rc2", now="2020-10-14T10:00")
    town.move(i, "verify", "--note", "ok", who="qs1", now="2020-10-15T10:00")
    town.move(i, "clear", who="wang", now="2020-10-15T11:00")
    line = town.refused("issue", "move", str(i), "reopen", who="iv1", now="2020-10-16T10:00",
                        issue=i)
    assert "--reason" in line
    reopened = town.move(i, "reopen", "--reason", "leaks again", who="iv1",
                         now="2020-10-16T10:00")
    assert (reopened["state"], reopened["version"]) == ("reported", 9)
    assert reopened["due_at"] == "2020-10-22T00:00:00+08:00"


def test_human_output(town: Town) -> None:
    i = town.reported()
    show = town.run("issue", "show", str(i), as_json=False)
    assert show.code == 0 and f"#{i} roof leaks" in show.out and "阶段：上报" in show.out
    listing = town.run("issue", "list", as_json=False)
    assert listing.code == 0 and "共 1 个问题" in listing.out
    history = town.run("issue", "history", str(i), as_json=False)
    assert history.code == 0 and "上报：发现 → 上报" in history.out


# --- refusals: exit 1, nothing changed ---------------------------------------------------
def test_not_permitted(town: Town) -> None:
    i = town.rectified()
    line = town.refused("issue", "move", str(i), "verify", "--note", "x", who="rc1",
                        now=T_VERIFY, issue=i)
    assert "rc1" in line and "quality_supervision" in line
    line = town.refused("issue", "move", str(i), "verify", "--note", "x", who="ghost",
                        now=T_VERIFY, issue=i)
    assert "ghost" in line
    j = town.add()
    line = town.refused("issue", "move", str(j), "report", who="nobody", now=T_REPORT, issue=j)
    assert "nobody" in line
    line = town.refused("issue", "add", "--title", "t", "--category", "food", "--village",
                        "v-shiban", who="nobody", now=T0)
    assert "nobody" in line


def test_invalid_transition_names_the_allowed_ones(town: Town) -> None:
    i = town.add()
    line = town.refused("issue", "move", str(i), "verify", "--note", "x", who="qs1",
                        now=T_VERIFY, issue=i)
    assert "verify" in line and "found" in line and "allowed: fix, report" in line
    j = town.cleared()
    line = town.refused("issue", "move", str(j), "clear", who="wang", now=T_CLEAR, issue=j)
    assert "allowed: reopen" in line


def test_unknown_transition_names_the_allowed_ones(town: Town) -> None:
    i = town.add()
    line = town.refused("issue", "move", str(i), "repot", who="sa1", now=T_REPORT, issue=i)
    assert "repot" in line
    assert "allowed: fix, report" in line


@pytest.mark.parametrize(
    ("state", "transition", "opts", "who", "missing"),
    [
        ("found", "fix", ["--note", "n"], "sa1", "--evidence"),
        ("found", "fix", ["--evidence", "EVIDENCE"], "sa1", "--note"),
        ("reported", "study", ["--assignee", "rc2", "--due", "2020-10-23"], "rc1", "--plan"),
        ("reported", "study", ["--plan", "p", "--assignee", "rc2"], "rc1", "--due"),
        ("reported", "study", ["--plan", "p", "--due", "2020-10-23"], "rc1", "--assignee"),
        ("studied", "rectify", ["--note", "n"], "rc2", "--evidence"),
        ("studied", "rectify", ["--evidence", "EVIDENCE"], "rc2", "--note"),
        ("rectified", "verify", [], "qs1", "--note"),
    ],
)
def test_missing_required_field(town: Town, state: str, transition: str, opts: list[str],
                                who: str, missing: str) -> None:
    walk = {"found": town.add, "reported": town.reported, "studied": town.studied,
            "rectified": town.rectified}
    i = walk[state]()
    args = [str(town.evidence("e.jpg", b"e")) if o == "EVIDENCE" else o for o in opts]
    now = T_VERIFY if transition == "verify" else T_STUDY
    line = town.refused("issue", "move", str(i), transition, *args, who=who, now=now, issue=i)
    assert transition in line and missing in line


def test_separation_of_duties_verify_after_rectify(town: Town) -> None:
    i = town.rectified(rectifier="qs1", assignee="qs1")  # qs1 rectifies as the assignee
    line = town.refused("issue", "move", str(i), "verify", "--note", "fine", who="qs1",
                        now=T_VERIFY, issue=i)
    assert "qs1" in line and "rectify" in line
    assert town.move(i, "verify", "--note", "fine", who="qs2", now=T_VERIFY)["state"] == (
        "verified")


def test_unknown_issue(town: Town) -> None:
    town.add()
    for args in (("issue", "show", "99"), ("issue", "history", "99"),
                 ("issue", "move", "99", "report")):
        line = town.refused(*args, who="sa1", now=T_REPORT)
        assert "no issue 99" in line


def test_unknown_village_group_or_person(town: Town) -> None:
    add = ("issue", "add", "--title", "t", "--category", "food")
    line = town.refused(*add, "--village", "v-nowhere", who="sa1", now=T0)
    assert "v-nowhere" in line
    line = town.refused(*add, "--village", "v-shiban", "--group", "g-none", who="sa1", now=T0)
    assert "g-none" in line
    i = town.reported()
    line = town.refused("issue", "move", str(i), "study", "--plan", "p", "--assignee", "ghost",
                        "--due", "2020-10-23", who="rc1", now=T_STUDY, issue=i)
    assert "ghost" in line


def test_version_conflict(town: Town) -> None:
    i = town.add()
    line = town.refused("issue", "move", str(i), "report", "--expect-version", "2", who="sa1",
                        now=T_REPORT, issue=i)
    assert "version 1" in line
    moved = town.move(i, "report", "--expect-version", "1", who="sa1", now=T_REPORT)
    assert moved["version"] == 2
    town.refused("issue", "move", str(i), "study", "--plan", "p", "--assignee", "rc2",
                 "--due", "2020-10-23", "--expect-version", "1", who="rc1", now=T_STUDY,
                 issue=i)


def test_study_due_at_most_15_working_days_out(town: Town) -> None:
    i = town.reported()
    base = ("issue", "move", str(i), "study", "--plan", "p", "--assignee", "rc2")
    # from Friday 2020-10-09: Sat 10 (make-up), 12–16, 19–23, 26–29 → the 15th is Oct 29
    line = town.refused(*base, "--due", "2020-10-30", who="rc1", now=T_STUDY, issue=i)
    assert "2020-10-29" in line
    line = town.refused(*base, "--due", "2020-10-08", who="rc1", now=T_STUDY, issue=i)
    assert "past" in line
    studied = town.move(i, "study", "--plan", "p", "--assignee", "rc2", "--due", "2020-10-29",
                        who="rc1", now=T_STUDY)
    assert studied["due_at"] == "2020-10-30T00:00:00+08:00"


# --- malformed input: exit 2, nothing changed --------------------------------------------
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["issue", "move", "ID", "study", "--plan", "p", "--assignee", "rc2", "--due",
          "2020-10-32"], "--due"),
        (["issue", "move", "ID", "study", "--plan", "p", "--assignee", "rc2", "--due",
          "23/10/2020"], "--due"),
        (["--now", "next tuesday", "issue", "move", "ID", "report"], "--now"),
        (["--now", "2020-13-01T10:00", "issue", "list"], "--now"),
        (["--bogus", "issue", "list"], "--bogus"),
        (["issue", "list", "--bogus"], "--bogus"),
        (["issue", "show", "ID", "--json"], "--json"),  # global options come first
        (["issue", "show", "abc"], "abc"),
        (["issue", "move", "ID", "report", "--expect-version", "two"], "two"),
        (["issue", "move", "ID", "rectify", "--note", "n", "--evidence", "EVIDENCE", "--plan",
          "p"], "--plan"),
        (["issue", "move", "ID", "rectify", "--note", "n", "--evidence", "MISSING"],
         "missing.jpg"),
        (["issue", "add", "--title", "t", "--category", "nope", "--village", "v-shiban"],
         "nope"),
        (["issue", "add", "--title", "t", "--category", "food", "--village", "v-shiban",
          "--severity", "extreme"], "extreme"),
        (["issue", "add", "--title", " ", "--category", "food", "--village", "v-shiban"],
         "title"),
    ],
)
def test_malformed_input(town: Town, args: list[str], needle: str) -> None:
    i = town.studied()
    (town.dir / "adir").mkdir()
    subst = {"ID": str(i), "MISSING": str(town.dir / "missing.jpg"),
             "DIR": str(town.dir / "adir"), "EVIDENCE": str(town.evidence())}
    argv = [subst.get(a, a) for a in args]
    line = town.refused(*argv, code=2, who="rc2", now=T_STUDY, issue=i)
    assert needle in line


def test_a_directory_as_evidence_is_refused_as_not_a_regular_file(town: Town) -> None:
    i = town.studied()
    (town.dir / "adir").mkdir()
    line = town.refused("issue", "move", str(i), "rectify", "--note", "n", "--evidence",
                        str(town.dir / "adir"), code=1, who="rc2", now=T_STUDY, issue=i)
    assert "adir" in line and "not a regular file" in line


def test_saying_who_you_are_is_required(town: Town) -> None:
    i = town.add()
    line = town.refused("issue", "move", str(i), "report", code=2, now=T_REPORT, issue=i)
    assert "--as" in line


def test_a_refused_move_stores_no_evidence(town: Town) -> None:
    i = town.studied()
    photo = town.evidence("late.jpg", b"not yet")
    town.refused("issue", "move", str(i), "rectify", "--note", "n", "--evidence", str(photo),
                 who="qs2", now=T_RECTIFY, issue=i)
    assert not (town.data / "evidence").exists()


def test_an_evidence_store_that_cannot_be_written_rolls_the_move_back(town: Town) -> None:
    i = town.add()
    town.data = town.dir / "not-a-folder"
    town.data.write_text("a file where the data folder should be", encoding="utf-8")
    line = town.refused("issue", "move", str(i), "fix", "--note", "n", "--evidence",
                        str(town.evidence()), code=2, who="sa1", now=T_REPORT, issue=i)
    assert "not-a-folder" in line
    assert town.show(i)["state"] == "found"


# --- workflow validate / show -------------------------------------------------------------
def test_validate_the_packaged_workflow(town: Town) -> None:
    packaged = REPO / "workflows" / "rectification.yaml"
    r = town.run("workflow", "validate", str(packaged), as_json=False)
    assert (r.code, r.err) == (0, "")
    assert r.out.strip() == "ok: rectification@3: 7 states, 9 transitions"
    assert town.ok("workflow", "validate", str(packaged)) == {
        "ok": True, "workflow": "rectification@3", "states": 7, "transitions": 9}


_EXTRA_STATE = "  - name: {name}\n    label: 额外\n    deadline: {{working_days: 1}}\n"
_EXTRA_TRANSITION = ("  - name: {name}\n    from: {source}\n    to: {dest}\n"
                     "    roles: [party_secretary]\n")


def _broken(kind: str) -> tuple[str, str, str]:
    """The packaged workflow broken one way: (text, the marker line, what the error says)."""
    text = default_path().read_text(encoding="utf-8")
    states_end, transitions_end = "\ntransitions:\n", "\n# The ladder"

    def add_state(name: str) -> str:
        return text.replace(states_end, "\n" + _EXTRA_STATE.format(name=name) + states_end[1:])

    if kind == "unknown state":
        return (text.replace("    to: rectified\n", "    to: rectifed\n", 1),
                "to: rectifed", "unknown state 'rectifed'")
    if kind == "unreachable state":
        text = add_state("limbo")
        text = text.replace(transitions_end, _EXTRA_TRANSITION.format(
            name="settle", source="limbo", dest="cleared") + transitions_end)
        return text, "- name: limbo", "state 'limbo' is unreachable"
    if kind == "dead end":
        text = add_state("stuck")
        text = text.replace(transitions_end, _EXTRA_TRANSITION.format(
            name="park", source="found", dest="stuck") + transitions_end)
        return text, "- name: stuck", "state 'stuck' is a dead end"
    if kind == "zero deadline":
        return (text.replace("deadline: {working_days: 3}", "deadline: {working_days: 0}"),
                "working_days: 0", "working_days must be between 1 and 250")
    if kind == "deadline both ways":
        return (text.replace("deadline: {working_days: 2}",
                             "deadline: {working_days: 2, from_field: due}"),
                "from_field: due}", "not both")
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["unknown state", "unreachable state", "dead end", "zero deadline", "deadline both ways"],
)
def test_validate_a_broken_workflow_names_file_and_line(town: Town, kind: str) -> None:
    text, marker, message = _broken(kind)
    path = town.dir / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    hits = [n for n, line in enumerate(lines, start=1) if marker in line]
    assert len(hits) == 1, marker
    line = town.refused("workflow", "validate", str(path), code=2)
    assert line.startswith(f"error: {path}:{hits[0]}: "), line
    assert message in line


def test_validate_a_missing_file(town: Town) -> None:
    line = town.refused("workflow", "validate", str(town.dir / "nope.yaml"), code=2)
    assert "nope.yaml" in line


def test_workflow_show(town: Town) -> None:
    r = town.run("workflow", "show", "--mermaid", as_json=False)
    assert (r.code, r.err) == (0, "")
    lines = r.out.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert "    [*] --> found" in lines
    assert "    cleared --> [*]" in lines
    for edge in ("found --> rectified: fix", "found --> reported: report",
                 "reported --> studied: study", "studied --> rectified: rectify",
                 "rectified --> verified: verify", "rectified --> studied: reject",
                 "verified --> cleared: clear", "cleared --> reported: reopen"):
        assert f"    {edge}" in lines
    plain = town.run("workflow", "show", as_json=False)
    assert plain.code == 0 and "rectification@3" in plain.out and "studied" in plain.out
    shown = town.ok("workflow", "show")
    assert shown["initial"] == "found" and shown["final"] == ["cleared", "voided"]


# --- import -------------------------------------------------------------------------------
GOOD_CSV = (
    "title,category,village,severity,listed,state,entered_at,assignee,due,plan\n"
    "A 户饮水,drinking_water,v-shiban,high,是,,,,,\n"
    "B 户住房,housing_safety,c-jiezi,low,no,studied,2020-10-09T10:00,rc2,2020-10-20,修缮\n"
)


def test_import_a_good_csv(town: Town) -> None:
    before = town.add()
    path = town.dir / "ledger.csv"
    path.write_text(GOOD_CSV, encoding="utf-8-sig")
    result = town.ok("issue", "import", str(path), who="rc1", now=T_RECTIFY)
    assert result == {"imported": 2, "first_id": before + 1, "last_id": before + 2}
    a, b = town.show(before + 1), town.show(before + 2)
    assert (a["title"], a["state"], a["listed"], a["severity"]) == ("A 户饮水", "found", True,
                                                                    "high")
    assert a["due_at"] == "2020-10-14T00:00:00+08:00"  # 1 working day from Oct 12
    assert (b["state"], b["assignee"], b["village"]) == ("studied", "rc2", "c-jiezi")
    assert b["due_at"] == "2020-10-21T00:00:00+08:00"
    assert b["stage_entered_at"] == "2020-10-09T10:00:00+08:00"
    assert [e["type"] for e in town.history(before + 2)] == ["imported"]
    assert len(town.ok("issue", "list")) == 3


@pytest.mark.parametrize(
    ("row", "code", "needle"),
    [
        ("C,food,nowhere,,,,,,", 1, "nowhere"),
        ("C,food,v-shiban,,,,,ghost,", 1, "ghost"),
        ("C,nonsense,v-shiban,,,,,,", 2, "nonsense"),
        ("C,food,v-shiban,,,,,,2020-13-45", 2, "2020-13-45"),
        ("C,food,v-shiban,,,limbo,,,", 2, "limbo"),
        ("C,food,v-shiban,,maybe,,,,", 2, "maybe"),
        ("C,food,v-shiban,,,,2030-01-01T00:00,,", 2, "future"),
    ],
)
def test_import_with_a_bad_row_imports_nothing(town: Town, row: str, code: int,
                                               needle: str) -> None:
    town.add()
    path = town.dir / "ledger.csv"
    # row 1 the header, rows 2–3 good, row 4 blank, row 5 bad, row 6 good
    header, good_a, good_b = GOOD_CSV.splitlines()
    path.write_text("\n".join([header, good_a, good_b, "", row, good_a]) + "\n",
                    encoding="utf-8")
    line = town.refused("issue", "import", str(path), code=code, who="sa1", now=T_RECTIFY)
    [told] = [x for x in line.splitlines() if re.match(r"  ledger\.csv(![A-Z]+5 | row 5:)", x)]
    assert needle in told
    assert town.count("issues") == 1


def test_import_of_a_file_that_is_neither_utf8_nor_gbk(town: Town) -> None:
    path = town.dir / "ledger.csv"
    path.write_bytes("title,category,village\n户,food,v-shiban\n".encode("utf-16"))
    line = town.refused("issue", "import", str(path), code=2, who="sa1", now=T_RECTIFY)
    assert "UTF-8" in line and "GBK" in line


def test_refused_import_prints_only_the_error(town: Town) -> None:
    path = town.dir / "ledger.csv"
    path.write_text("title,category,village,remark\nA,food,nowhere,x\n", encoding="utf-8")
    line = town.refused("issue", "import", str(path), code=1, who="sa1", now=T_RECTIFY)
    assert "ledger.csv!C2 (village) 'nowhere'" in line


# --- deadlines and overdue ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "due_at"),
    [
        ("2020-09-30T10:00", "2020-10-13T00:00:00+08:00"),  # the spec's example
        ("2020-09-30T10:00:00+08:00", "2020-10-13T00:00:00+08:00"),
        ("2020-09-30T02:00:00+00:00", "2020-10-13T00:00:00+08:00"),
        ("2020-09-30T02:00Z", "2020-10-13T00:00:00+08:00"),
        # town time: Tuesday 29th → 30, Oct 9, Sat Oct 10 (make-up day)
        ("2020-09-29T23:30", "2020-10-11T00:00:00+08:00"),
        # the same clock reading in UTC is already Wednesday 30th in town
        ("2020-09-29T23:30:00+00:00", "2020-10-13T00:00:00+08:00"),
    ],
)
def test_reported_deadline(town: Town, now: str, due_at: str) -> None:
    i = town.add()
    moved = town.move(i, "report", who="sa1", now=now)
    assert moved["due_at"] == due_at
    assert town.show(i)["due_at"] == due_at
    assert town.ok("issue", "list", "--state", "reported")[0]["due_at"] == due_at


def test_overdue(town: Town) -> None:
    a = town.add(title="A")  # found at T0: due 2020-09-30 00:00
    b = town.add(title="B", village="c-jiezi")
    town.move(b, "report", who="sa1", now=T_REPORT)  # due 2020-10-13 00:00
    c = town.add(title="C")
    town.move(c, "fix", "--note", "n", "--evidence", str(town.evidence()), who="sa1",
              now="2020-09-28T10:00")
    town.move(c, "verify", "--note", "ok", who="qs1", now="2020-09-28T11:00")
    town.move(c, "clear", who="wang", now="2020-09-28T12:00")

    def overdue(now: str, *extra: str) -> list[int]:
        return [x["id"] for x in town.ok("issue", "list", "--overdue", *extra, now=now)]

    assert overdue("2020-09-29T23:59") == []
    assert overdue("2020-09-30T00:00") == [a]
    assert overdue("2020-10-12T23:59") == [a]
    assert overdue("2020-10-13T00:00") == [a, b]
    assert overdue("2021-06-01T00:00") == [a, b]
    assert overdue("2021-06-01T00:00", "--village", "c-jiezi") == [b]
    assert overdue("2021-06-01T00:00", "--state", "found") == [a]
    assert [x["id"] for x in town.ok("issue", "list")] == [a, b, c]
    assert [x["id"] for x in town.ok("issue", "list", "--state", "cleared")] == [c]
    assert [x["id"] for x in town.ok("issue", "list", "--village", "c-jiezi")] == [b]


def test_list_by_assignee(town: Town) -> None:
    i = town.studied(assignee="rc2")
    town.add()
    assert [x["id"] for x in town.ok("issue", "list", "--assignee", "rc2")] == [i]
    assert town.ok("issue", "list", "--assignee", "rc1") == []


# --- the database itself -----------------------------------------------------------------
def test_no_database_yet(bare: Town) -> None:
    line = bare.refused("issue", "show", "1", code=1)
    assert "init" in line
    assert not bare.db_path.exists()


@pytest.mark.parametrize("which", ["not-a-database-file", "postgres-refused"])
def test_an_unreachable_database_is_a_store_error(tmp_path: Path, which: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    if which == "not-a-database-file":
        garbage = tmp_path / "garbage.db"
        garbage.write_text("this is not sqlite\n" * 100, encoding="utf-8")
        url = f"sqlite:///{garbage}"
    else:
        url = "postgresql://rectify@127.0.0.1:1/rectify"
    code = cli.main(["--db", url, "issue", "show", "1"])
    out, err = capsys.readouterr()
    assert out == ""
    assert code in (1, 2)
    line = one_error_line(err)
    assert "unexpected" not in line and "RECTIFY_DEBUG" not in line, line


# --- as a real process: never a traceback -------------------------------------------------
def test_as_a_subprocess_errors_are_one_line(town: Town) -> None:
    i = town.studied()
    base = [sys.executable, "cli.py", "--db", town.url, "--data-dir", str(town.data)]
    cases: list[tuple[list[str], int, str]] = [
        (["--json", "issue", "show", str(i)], 0, ""),
        (["--now", "yesterday", "issue", "list"], 2, "--now"),
        (["issue", "show", "99"], 1, "no issue 99"),
        (["--bogus", "issue", "list"], 2, "--bogus"),
        (["--as", "rc2", "--now", T_RECTIFY, "issue", "move", str(i), "rectify", "--note", "n",
          "--evidence", str(town.dir / "missing.jpg")], 2, "missing.jpg"),
        (["--as", "qs1", "--now", T_RECTIFY, "issue", "move", str(i), "verify", "--note",
          "n"], 1, "allowed: rectify"),
    ]
    before = town.snapshot()
    procs = [subprocess.Popen([*base, *args], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args, _, _ in cases]
    try:
        results = [(p.communicate(timeout=60), p.returncode) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for (args, code, needle), ((out, err), rc) in zip(cases, results, strict=True):
        assert rc == code, (args, rc, err)
        assert "Traceback" not in err
        if code == 0:
            assert err == ""
            assert json.loads(out)["id"] == i
        else:
            assert out == ""
            assert needle in one_error_line(err)
    assert town.snapshot() == before
