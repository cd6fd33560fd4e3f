"""Output a cadre can read: names not ids and Chinese labels by default (`--lang en` /
RECTIFY_LANG for English, `--json` unchanged), `issue evidence` (listed and saved), the light as
a word that survives a pipe, times to the minute in town time with a due moment read as the end
of its day, errors in plain English, the demo's evidence as real pictures, and the README's lists.

The commands run end to end in-process (tests.support.run_cli) on SQLite."""

from __future__ import annotations

import hashlib
import io
import json
import re
import sqlite3
import struct
import zlib
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import cli
from engine import demo_photos
from engine.app import issues, supervision
from engine.app.evidence_files import FALLBACK, NAME_BYTES, Attached, file_names, safe_name
from engine.app.supervision import a_level
from engine.domain.decide import decide_move
from engine.domain.issue import CATEGORIES, SEVERITIES, Move, NewIssue
from engine.present import light_text, size_text, town_time
from engine.words import ENGLISH, Words
from notifications.channels import REGISTRY
from notifications.labels import LABELS
from tests.support import Ran, run_cli, scenario, write_org
from tests.test_cli import T0, T_RECTIFY, T_REPORT, T_STUDY, Town

REPO = Path(__file__).resolve().parents[1]
CST = timezone(timedelta(hours=8))
"""Asia/Shanghai, the small org's town time."""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RECTIFY_DB", "RECTIFY_USER", "RECTIFY_NOW", "RECTIFY_DATA_DIR",
                 "RECTIFY_DEBUG", "NO_COLOR", "RECTIFY_LANG"):
        monkeypatch.delenv(name, raising=False)


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
def town(tmp_path: Path, capsys: pytest.CaptureFixture[str], template: Path) -> Town:
    made = Town(tmp_path, capsys)
    src, dst = sqlite3.connect(template), sqlite3.connect(made.db_path)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return made


def human(town: Town, *args: str, who: str | None = None, now: str | None = None) -> str:
    """A command's human output (stdout), which must have worked."""
    r = town.run(*args, who=who, now=now, as_json=False)
    assert r.code == 0, r.err
    return r.out


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def on_terminal(town: Town, monkeypatch: pytest.MonkeyPatch, *args: str,
                now: str | None = None, no_color: bool = False) -> str:
    """A command's human output when stdout is a terminal (colour allowed unless
    `no_color`: NO_COLOR set)."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "160")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    argv = ["--db", town.url, "--data-dir", str(town.data)]
    argv += ["--now", now] if now else []
    out, err = Terminal(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main([*argv, *args])
    assert code == 0, err.getvalue()
    return out.getvalue()


# --- 1. issue evidence ------------------------------------------------------------------------
def rectified_twice(town: Town) -> tuple[int, dict[str, bytes]]:
    """An issue rectified, rejected and rectified again: three files over two events (two of
    them named roof.jpg, with other bytes), and the files' bytes by the name they were given."""
    i = town.studied()
    first = {"roof.jpg": b"the roof, mended" * 100, "before.png": b"the roof, leaking"}
    town.move(i, "rectify", "--note", "done",
              "--evidence", str(town.evidence("roof.jpg", first["roof.jpg"])),
              "--evidence", str(town.evidence("before.png", first["before.png"])),
              who="rc2", now=T_RECTIFY)
    town.move(i, "reject", "--reason", "gutter missing", who="qs1", now="2020-10-13T10:00")
    (town.dir / "again").mkdir()
    town.move(i, "rectify", "--note", "gutter added",
              "--evidence", str(town.evidence("again/roof.jpg", b"the gutter")),
              who="rc2", now="2020-10-14T11:30")
    return i, {**first, "roof (2).jpg": b"the gutter"}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_issue_evidence_lists_every_file_its_events_attached(town: Town) -> None:
    i, files = rectified_twice(town)
    listed = town.ok("issue", "evidence", str(i))
    assert listed == [
        {"name": "roof.jpg", "sha256": digest(files["roof.jpg"]), "size": 1600, "event": 4,
         "transition": "rectify", "at": "2020-10-12T10:00:00+08:00"},
        {"name": "before.png", "sha256": digest(files["before.png"]), "size": 17, "event": 4,
         "transition": "rectify", "at": "2020-10-12T10:00:00+08:00"},
        {"name": "roof.jpg", "sha256": digest(b"the gutter"), "size": 10, "event": 6,
         "transition": "rectify", "at": "2020-10-14T11:30:00+08:00"},
    ]
    text = human(town, "issue", "evidence", str(i))
    assert text.splitlines()[0] == f"问题 #{i}：3 个佐证文件"
    assert "  roof.jpg  1.6 KiB  第 4 条（整改）  2020-10-12 10:00" in text
    assert "  before.png  17 B  第 4 条（整改）  2020-10-12 10:00" in text
    assert "  roof.jpg  10 B  第 6 条（整改）  2020-10-14 11:30" in text
    for data in files.values():
        assert f"      sha256 {digest(data)}" in text


def test_issue_evidence_of_an_issue_without_any(town: Town) -> None:
    i = town.reported()
    assert town.ok("issue", "evidence", str(i)) == []
    assert human(town, "issue", "evidence", str(i)) == f"问题 #{i} 没有佐证材料\n"


def test_issue_evidence_of_an_unknown_issue_is_refused(town: Town, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert town.refused("issue", "evidence", "99") == "error: no issue 99"
    assert town.refused("issue", "evidence", "99", "--save", str(out)) == "error: no issue 99"
    assert list(out.iterdir()) == []


def test_save_copies_each_file_under_its_name(town: Town, tmp_path: Path) -> None:
    i, files = rectified_twice(town)
    out = tmp_path / "out"
    out.mkdir()
    saved = town.ok("issue", "evidence", str(i), "--save", str(out))
    assert [(x["name"], x["event"], x["saved_as"]) for x in saved] == [
        ("roof.jpg", 4, str(out / "roof.jpg")), ("before.png", 4, str(out / "before.png")),
        ("roof.jpg", 6, str(out / "roof (2).jpg"))]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files

    again = tmp_path / "second"
    again.mkdir()
    text = human(town, "issue", "evidence", str(i), "--save", str(again))
    assert f"      已存为 {again / 'roof (2).jpg'}" in text
    assert text.endswith("已保存 3 个文件\n")
    assert sorted(p.name for p in again.iterdir()) == sorted(files)


def test_the_same_file_attached_twice_is_saved_once(town: Town, tmp_path: Path) -> None:
    i = town.add()
    photo = town.evidence("屋顶修缮后.png", b"png bytes")
    town.move(i, "fix", "--note", "fixed", "--evidence", str(photo), who="sa1",
              now="2020-09-28T10:00")
    town.move(i, "reject", "--reason", "not yet", who="qs1", now="2020-09-29T10:00")
    town.move(i, "rectify", "--note", "now", "--evidence", str(photo), who="rc1",
              now="2020-09-30T10:00")
    out = tmp_path / "out"
    out.mkdir()
    saved = town.ok("issue", "evidence", str(i), "--save", str(out))
    assert [x["saved_as"] for x in saved] == [str(out / "屋顶修缮后.png")] * 2
    assert [p.name for p in out.iterdir()] == ["屋顶修缮后.png"]
    assert human(town, "issue", "evidence", str(i)).count("屋顶修缮后.png") == 2


def test_save_into_something_not_a_directory_is_malformed(town: Town, tmp_path: Path) -> None:
    i, _ = rectified_twice(town)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for target in (tmp_path / "missing", a_file):
        line = town.refused("issue", "evidence", str(i), "--save", str(target), code=2)
        assert line == f"error: --save {target}: not a directory"
    assert a_file.read_text() == "x"
    assert not (tmp_path / "missing").exists()


def test_save_never_overwrites_a_file(town: Town, tmp_path: Path) -> None:
    i, _ = rectified_twice(town)
    out = tmp_path / "out"
    out.mkdir()
    (out / "roof (2).jpg").write_bytes(b"mine")
    line = town.refused("issue", "evidence", str(i), "--save", str(out))
    assert line == (f"error: {out / 'roof (2).jpg'} already exists: nothing saved (nothing is"
                    " overwritten)")
    assert [(p.name, p.read_bytes()) for p in out.iterdir()] == [("roof (2).jpg", b"mine")]


def blob(town: Town, data: bytes) -> Path:
    path = town.data / "evidence" / digest(data)[:2] / digest(data)
    assert path.read_bytes() == data
    return path


def test_save_refuses_a_missing_blob_and_leaves_nothing(town: Town, tmp_path: Path) -> None:
    i, _ = rectified_twice(town)
    blob(town, b"the gutter").unlink()  # the last of three: two were copied before
    out = tmp_path / "out"
    out.mkdir()
    line = town.refused("issue", "evidence", str(i), "--save", str(out))
    assert line == (f"error: evidence 'roof.jpg' (event 6, sha256 {digest(b'the gutter')})"
                    " is missing from the store: nothing saved")
    assert list(out.iterdir()) == []


def test_save_refuses_an_altered_blob_and_leaves_nothing(town: Town, tmp_path: Path) -> None:
    i, files = rectified_twice(town)
    altered = blob(town, files["before.png"])
    altered.chmod(0o644)
    altered.write_bytes(b"the roof, leaking!")
    out = tmp_path / "out"
    out.mkdir()
    line = town.refused("issue", "evidence", str(i), "--save", str(out))
    assert line == ("error: evidence 'before.png' (event 4): the stored blob no longer matches"
                    f" its SHA-256 {digest(files['before.png'])}: nothing saved")
    assert list(out.iterdir()) == []


def test_names_an_older_version_stored_are_made_safe(tmp_path: Path) -> None:
    """Names no door takes today (separators, controls, dots), written as an older version
    would have: saved inside the folder, under safe names, every byte checked."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    svc = scenario(url, tmp_path / "data", actor="wang", now=datetime(2020, 9, 28, 9))
    try:
        svc.init(write_org(tmp_path / "org.yaml"))
        svc.actor = "sa1"
        issue = svc.add_issue(NewIssue(title="漏雨", category="housing_safety",
                                       village="v-shiban"))
        names = ["../../escape.jpg", "..", "a\x1b[2Jb\u202e.jpg", "dir\\sub/x.png",
                 ".hidden.jpg"]
        evidence = []
        for n, name in enumerate(names):
            data = f"file {n}".encode()
            path = tmp_path / "data" / "evidence" / digest(data)[:2] / digest(data)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            evidence.append({"sha256": digest(data), "name": name, "size": len(data)})
        s = svc.session()
        with s.transaction(write=True) as tx:
            org = s.org(tx)
            ctx = issues.context(s, tx, s.workflow(tx, issue.workflow), "sa1",
                                 org.roles_for_issue("sa1", issue.village, None),
                                 village=issue.village)
            event = decide_move(issue, Move(issue_id=issue.id, transition="report"), ctx)
            supervision.record(s, tx, issue, replace(event, payload={
                **event.payload, "evidence": evidence}))
    finally:
        svc.close()
    out = tmp_path / "deep" / "out"
    out.mkdir(parents=True)
    argv = ["--db", url, "--data-dir", str(tmp_path / "data")]
    r = run(*argv, "--json", "issue", "evidence", str(issue.id), "--save", str(out))
    assert r.code == 0, r.err
    expected = ["_._escape.jpg", "evidence", "a_[2Jb_.jpg", "dir_sub_x.png",
                "hidden.jpg"]
    assert [Path(x["saved_as"]).name for x in r.json()] == expected
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["out"]
    shown = run(*argv, "issue", "evidence", str(issue.id))
    assert "\x1b" not in shown.out and "\u202e" not in shown.out
    assert "a\\x1b[2Jb\\u202e.jpg" in shown.out


def run(*args: str) -> Ran:
    return run_cli(*args)


def test_safe_name() -> None:
    assert safe_name("屋顶修缮后.jpg") == "屋顶修缮后.jpg"
    assert safe_name("../../etc/passwd") == "_._etc_passwd"
    assert safe_name("a\\b") == "a_b"
    assert safe_name("x\x00y\x7f\x85z\u2028.jpg") == "x_y__z_.jpg"
    assert safe_name(".bashrc") == "bashrc"
    assert safe_name("a...b..jpg") == "a.b.jpg"
    long = "长" * 300 + ".jpg"
    assert len(safe_name(long).encode()) <= NAME_BYTES and safe_name(long).endswith("长.jpg")
    for name in ("../x", "a/../b", "..\\..", "\x1b", "...", "a" * 400):
        made = safe_name(name)
        assert made and "/" not in made and "\\" not in made and ".." not in made
        assert not made.startswith(".") and len(made.encode()) <= NAME_BYTES


def test_safe_name_leaves_nothing_empty() -> None:
    assert safe_name("..") == FALLBACK
    assert safe_name(".") == FALLBACK
    assert safe_name("") == FALLBACK
    assert safe_name(" . ") == FALLBACK
    assert safe_name("/") == safe_name(" / ") == "_"


def attachment(name: str, sha: str) -> Attached:
    return Attached(name, sha, 1, 2, "fix", datetime(2020, 1, 1, tzinfo=UTC), "rectified")


def test_file_names_tell_files_of_one_name_apart() -> None:
    items = [attachment("a.jpg", "1"), attachment("a.jpg", "2"), attachment("a (2).jpg", "3"),
             attachment("a.jpg", "1"), attachment("a.jpg", "4"), attachment("README", "5"),
             attachment("README", "6")]
    assert file_names(items) == ["a.jpg", "a (2).jpg", "a (2) (2).jpg", "a.jpg", "a (3).jpg",
                                 "README", "README (2)"]
    long = "长" * 84 + ".jpg"  # 256 bytes: cut to fit, and again for its suffix
    first, second = file_names([attachment(long, "1"), attachment(long, "2")])
    assert len(first.encode()) <= NAME_BYTES and len(second.encode()) <= NAME_BYTES
    assert second.endswith(" (2).jpg") and first.endswith("长.jpg")


def test_size_text() -> None:
    assert [size_text(n) for n in (0, 412, 1023, 1024, 1600, 5 << 20, 3 << 30)] == [
        "0 B", "412 B", "1023 B", "1.0 KiB", "1.6 KiB", "5.0 MiB", "3.0 GiB"]


# --- 2. the light as a word -------------------------------------------------------------------
def test_the_light_is_a_word_that_survives_a_pipe(town: Town) -> None:
    i = town.add()  # found at T0: due at the end of Tuesday 2020-09-29
    for now, word in (("2020-09-28T10:00", "绿"), ("2020-09-29T10:00", "黄"),
                      ("2020-09-30T10:00", "红")):
        show = human(town, "issue", "show", str(i), now=now)
        assert f"\n        灯：{word}\n" in show
        listing = human(town, "issue", "list", now=now)
        assert re.search(rf"│ {i}\s+│ {word}\s+│ 发现", listing), listing
        assert "\x1b" not in show + listing
    assert town.ok("issue", "show", str(i))["light"] == "red"  # JSON as before


def test_the_light_keeps_its_colour_on_a_terminal(town: Town,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    i = town.add()
    show = on_terminal(town, monkeypatch, "issue", "show", str(i), now="2020-09-30T10:00")
    assert "灯：\x1b[31m红\x1b[0m" in show
    listing = on_terminal(town, monkeypatch, "issue", "list", now="2020-09-29T10:00")
    assert re.search(r"\x1b\[[0-9;]*m黄\x1b\[0m", listing), listing
    replayed = on_terminal(town, monkeypatch, "audit", "replay", "--as-of",
                           "2020-09-28T10:00")
    assert re.search(r"\x1b\[[0-9;]*m绿\x1b\[0m", replayed), replayed


def test_no_color_keeps_the_word_alone(town: Town, monkeypatch: pytest.MonkeyPatch) -> None:
    i = town.add()
    show = on_terminal(town, monkeypatch, "issue", "show", str(i), now="2020-09-30T10:00",
                       no_color=True)
    listing = on_terminal(town, monkeypatch, "issue", "list", now="2020-09-30T10:00",
                          no_color=True)
    assert "灯：红\n" in show
    assert "红" in listing and not re.search(r"\x1b\[[0-9;]*m红", listing)


def test_the_light_in_words() -> None:
    assert LABELS["zh_CN"]["light"] == {"red": "红", "yellow": "黄", "green": "绿"}
    assert set(LABELS["en"]["light"]) == set(LABELS["zh_CN"]["light"])
    zh = Words()
    assert [light_text(x, zh) for x in ("red", "yellow", "green", None)] == ["红", "黄", "绿", ""]
    assert [light_text(x, ENGLISH) for x in ("red", "green")] == ["red", "green"]
    assert light_text("green", zh, colour=True) == "\x1b[32m绿\x1b[0m"
    assert light_text("\x1bodd", zh, colour=True) == "\\x1bodd"


# --- 3. times to the minute, a due moment as the end of its day -------------------------------
def test_town_time() -> None:
    due = datetime(2020, 10, 13, 0, 0, tzinfo=CST)
    assert town_time(due, CST, due=True) == "2020-10-12 24:00"
    assert town_time(due, CST) == "2020-10-13 00:00"
    assert town_time(due.astimezone(UTC), CST, due=True) == "2020-10-12 24:00"
    assert town_time(datetime(2020, 10, 12, 8, 30, 59, tzinfo=CST), CST) == "2020-10-12 08:30"
    assert town_time(datetime(2020, 10, 13, 0, 0, 1, tzinfo=CST), CST, due=True) == (
        "2020-10-13 00:00")
    assert town_time(datetime(2020, 3, 1, tzinfo=CST), CST, due=True) == "2020-02-29 24:00"
    assert town_time(None, CST) == ""


ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\+08:00|:\d\d:\d\d")
"""A time as JSON writes it, or to the second: never in human output."""


def test_human_output_shows_town_time_to_the_minute(town: Town) -> None:
    i = town.studied()  # study at T_STUDY with --due 2020-10-23: due 2020-10-24 00:00
    show = human(town, "issue", "show", str(i), now=T_STUDY)
    assert "\n      截止：2020-10-23 24:00\n" in show
    assert "进入本阶段：2020-10-09 10:00\n" in show
    assert "\n      发现：2020-09-28 09:00，自查一\n" in show
    assert "下次督办：2020-10-23 00:00\n" in show  # the reminder: a start of day
    listing = human(town, "issue", "list", now=T_STUDY)
    assert "2020-10-23 24:00" in listing
    history = human(town, "issue", "history", str(i))
    for at in (T0, T_REPORT, T_STUDY):
        assert at.replace("T", " ") in history
    for text in (show, listing, history):
        assert not ISO.search(text), text
    assert town.ok("issue", "show", str(i))["due_at"] == "2020-10-24T00:00:00+08:00"


def test_escalations_and_extensions_read_the_same(town: Town) -> None:
    i = town.reported()  # reported 2020-09-30 10:00: due at the end of 2020-10-12
    board = human(town, "escalate", now="2020-10-20T09:00")
    assert "发起 3 次督办" in board
    listing = human(town, "escalation", "list", "--issue", str(i))
    assert listing.count("2020-10-12 24:00") == 3 and "2020-10-20 09:00" in listing
    first = town.ok("escalation", "list", "--issue", str(i))[0]
    assert first["due_at"] == "2020-10-13T00:00:00+08:00"
    shown = human(town, "escalation", "show", str(first["id"]))
    assert "（截止 2020-10-12 24:00）" in shown and "发起：2020-10-20 09:00" in shown
    for text in (board, listing, shown):
        assert not ISO.search(text), text

    j = town.studied()
    asked = human(town, "issue", "extend", str(j), "--to", "2020-10-30", "--reason", "rain",
                  who="rc2", now="2020-10-20T09:30")
    assert "截止：2020-10-23 24:00 → 2020-10-30 24:00" in asked
    assert "申请：2020-10-20 09:30，整改二" in asked


def test_the_person_report_reads_town_time(town: Town) -> None:
    town.reported()
    town.ok("escalate", now="2020-10-20T09:00")
    text = human(town, "report", "person", "rc1", "--from", "2020-10-01", "--to",
                 "2020-10-31")  # the owner of *reported*, reminded and summoned
    assert "2020-10-01 00:00 – 2020-10-31 23:59" in text
    assert "发起于 2020-10-20 09:00" in text
    assert not ISO.search(text), text


# --- 4. errors in plain English ---------------------------------------------------------------
def test_escalation_refusals_say_a_and_an(town: Town) -> None:
    i = town.reported()
    raised = {e["level"]: e["id"]
              for e in town.ok("escalate", now="2020-10-20T09:00")["raised"] if e["issue"] == i}
    reminder, interview, account = (raised["reminder"], raised["interview"],
                                    raised["accountability"])
    line = town.refused("escalation", "record", str(reminder), "--note", "x", who="wang",
                        now="2020-10-20T10:00")
    assert line == f"error: escalation {reminder} is a reminder, not an interview"
    line = town.refused("escalation", "record", str(account), "--note", "x", who="wang",
                        now="2020-10-20T10:00")
    assert line == (f"error: escalation {account} is an accountability case, not an interview:"
                    " use `escalation decide`")
    line = town.refused("escalation", "decide", str(interview), "--note", "x", "--outcome",
                        "talk", who="wang",
                        now="2020-10-20T10:00")
    assert line == (f"error: escalation {interview} is an interview: only an accountability"
                    " case takes a decision")


def test_a_level() -> None:
    assert [a_level(x) for x in ("reminder", "interview", "accountability", "inspection")] == [
        "a reminder", "an interview", "an accountability case", "an inspection"]


def test_no_message_puts_a_before_a_value() -> None:
    """`is a {…}` cannot know the word that follows: none is left in the program."""
    for path in [REPO / "cli.py", *sorted((REPO / "engine").rglob("*.py")),
                 *sorted((REPO / "notifications").rglob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\b(is|not) an? \{", text), path


# --- 5. the demo's evidence -------------------------------------------------------------------
def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, every chunk's CRC and the pixels checked."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc
        chunks.append((kind, body))
        pos += 12 + length
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(chunks[1][1])
    assert len(raw) == height * (width * 3 + 1)
    return width, height


def test_demo_photos_are_small_distinct_pngs() -> None:
    photos = {demo_photos.photo(f"seed {n}", n % 2 == 0) for n in range(20)}
    assert len(photos) == 20
    for data in photos:
        assert png_size(data) == (demo_photos.WIDTH, demo_photos.HEIGHT)
        assert 200 <= len(data) <= 1000
    assert demo_photos.names("housing_safety") == ("整改前照片.png", "屋顶修缮后.png")
    assert demo_photos.names("food") == ("整改前照片.png", "整改后照片.png")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{folder / 'demo.db'}"
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(["--db", url, "--data-dir", str(folder / "data"), "--json", "demo",
                         "--issues", "12"])
    assert code == 0, err.getvalue()
    assert json.loads(out.getvalue())["moves"] > 0
    yield url, folder


def test_the_demo_attaches_real_pictures(demo: tuple[str, Path], tmp_path: Path) -> None:
    url, folder = demo
    argv = ["--db", url, "--data-dir", str(folder / "data")]
    listed: list[dict[str, Any]] = []
    with_evidence = []
    for i in range(1, 13):
        r = run(*argv, "--json", "issue", "evidence", str(i))
        if r.code == 0 and r.json():
            listed += r.json()
            with_evidence.append(i)
    assert listed, "the demo attached no evidence"
    for item in listed:
        assert item["name"] in ("整改前照片.png", "屋顶修缮后.png", "整改后照片.png")
        data = (folder / "data" / "evidence" / item["sha256"][:2] / item["sha256"]).read_bytes()
        assert (len(data), digest(data)) == (item["size"], item["sha256"])
        assert png_size(data) == (demo_photos.WIDTH, demo_photos.HEIGHT)
    out = tmp_path / "out"
    out.mkdir()
    saved = run(*argv, "--json", "issue", "evidence", str(with_evidence[0]), "--save", str(out))
    assert saved.code == 0, saved.err
    for item in saved.json():
        assert digest(Path(item["saved_as"]).read_bytes()) == item["sha256"]
    assert {p.suffix for p in out.iterdir()} == {".png"}


# --- 6. the README ----------------------------------------------------------------------------
def readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def test_the_readme_lists_categories_and_severities_with_their_labels() -> None:
    text = readme()
    for category in CATEGORIES:
        assert f"`{category}` | {LABELS['zh_CN']['category'][category]} |" in text, category
    for severity in SEVERITIES:
        assert f"`{severity}` ({LABELS['zh_CN']['severity'][severity]}" in text, severity


def test_the_readme_lists_every_channel_type_and_its_keys() -> None:
    text = readme()
    section = text[text.index("### Channels"):]
    section = section[:section.index("\n## ")]
    for kind in REGISTRY:
        assert f"| `{kind}` |" in section, kind
    for key in ("host", "port", "sender", "security", "username", "password", "verify",
                "timeout", "per_minute", "url", "secret", "headers", "key", "more_url",
                "mention", "path"):
        assert f"`{key}`" in section, key


def test_the_readme_tells_stage_owners_and_the_drill() -> None:
    text = readme()
    assert "### Who acts in each stage" in text
    assert "### A drill and a live database" in text


# --- 4. names, not ids; Chinese labels by default, English on request --------------------------
IDS = re.compile(r"\b(?:sa1|rc1|rc2|qs1|wang|liu|v-shiban|housing_safety|reported|studied)\b")
"""Ids and English labels of the small org and the workflow that human output must not show."""


def a_walked_issue(town: Town) -> int:
    """An issue studied (assignee rc2), escalated in *studied*, with an interview recorded."""
    i = town.studied()
    town.ok("escalate", now="2020-10-27T09:00")
    open_ = [e for e in town.ok("escalation", "list", "--open") if e["issue"] == i]
    interview = next(e for e in open_ if e["level"] == "interview")
    town.ok("escalation", "record", str(interview["id"]), "--note", "已约谈", "--with", "rc2",
            who="liu", now="2020-10-27T10:00")
    return i


def test_human_output_names_people_villages_and_labels_in_chinese(town: Town) -> None:
    i = a_walked_issue(town)
    show = human(town, "issue", "show", str(i))
    assert "阶段：研究（第 6 版）" in show and "村：石板村" in show and "类别：住房安全" in show
    assert "程度：较重" in show and "责任人：整改二" in show
    assert "发现：2020-09-28 09:00，自查一" in show
    listing = human(town, "issue", "list")
    assert re.search(r"│ 研究 +│ 石板村 +│ 住房安全 +│ 整改二 ", listing), listing
    history = human(town, "issue", "history", str(i))
    assert "研究：上报 → 研究" in history and "督办：约谈" in history
    assert "责任人：整改二" in history and "参加人员：整改二" in history
    escalations = human(town, "escalation", "list")
    assert "约谈" in escalations and "刘镇长" in escalations
    person = human(town, "report", "person", "rc2")
    assert person.startswith("专项述职 · 整改二") and "约谈，问题 #" in person
    for text in (show, listing, history, escalations, person):
        assert not IDS.search(text), IDS.search(text)


def test_lang_en_and_rectify_lang_give_english_with_names(town: Town,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    i = a_walked_issue(town)
    show = human(town, "--lang", "en", "issue", "show", str(i))
    assert "state: studied (version 6)" in show and "village: 石板村" in show
    assert "category: housing safety" in show and "assignee: 整改二" in show
    monkeypatch.setenv("RECTIFY_LANG", "en")
    history = human(town, "issue", "history", str(i))
    assert "study: reported → studied" in history and "escalated: interview" in history
    assert "with: 整改二" in history and "sa1" not in history
    assert human(town, "--lang", "zh", "issue", "show", str(i)) == human(
        town, "--lang", "zh_CN", "issue", "show", str(i))


def test_json_keeps_ids_whatever_the_language(town: Town) -> None:
    i = town.studied()
    zh = town.run("issue", "show", str(i)).json()
    en = town.run("--lang", "en", "issue", "show", str(i)).json()
    assert zh == en
    assert (zh["state"], zh["village"], zh["assignee"], zh["category"]) == (
        "studied", "v-shiban", "rc2", "housing_safety")


def test_an_unknown_language_is_refused_as_malformed(town: Town) -> None:
    r = town.run("--lang", "fr", "issue", "list", as_json=False)
    assert r.code == 2 and r.err == "error: --lang: unknown language 'fr' (zh or en)\n"


def test_a_person_not_in_the_org_is_shown_by_id() -> None:
    from engine.domain.org import Names

    w = Words("zh_CN", Names({"rc2": "整改二"}, {"v-1": "一村"}, {"g1": "rc2"}))
    assert (w.person("rc2"), w.person("gone"), w.person("system")) == ("整改二", "gone", "系统")
    assert (w.village("v-1"), w.village("v-9")) == ("一村", "v-9")
    assert w.group("g1") == "g1（组长整改二）" and w.group("g2") == "g2"
    assert w.people(["rc2", "gone"]) == "整改二、gone"
    assert ENGLISH.stage("custom_state") == "custom state" and Words().stage("自定义") == "自定义"
    assert [Words().outcome(o) for o in ("talk", "refer")] == ["提醒谈话", "移交纪委"]
    assert Words().severity("high") == "严重" and ENGLISH.severity("high") == "high"


def test_every_label_kind_has_both_languages() -> None:
    assert set(LABELS["zh_CN"]) == set(LABELS["en"])
    for kind in ("stage", "transition", "category", "severity", "outcome", "level", "event"):
        assert LABELS["zh_CN"][kind], kind
    assert set(LABELS["zh_CN"]["severity"]) == set(SEVERITIES)
    assert set(LABELS["zh_CN"]["category"]) == set(CATEGORIES)


def test_the_html_export_speaks_chinese_with_names_and_says_drill_once(town: Town,
                                                                       tmp_path: Path) -> None:
    i = a_walked_issue(town)
    out = tmp_path / "x.html"
    assert town.run("audit", "export", "--format", "html", "--out", str(out),
                    as_json=False).code == 0
    page = out.read_text(encoding="utf-8")
    assert 'lang="zh-CN"' in page and "整改台账审计导出" in page
    assert "研究：上报 → 研究" in page and "整改二" in page and "石板村 · 住房安全" in page
    assert page.count('id="drill"') == 1 and 'class="backdated"' not in page
    assert f'id="issue-{i}"' in page and not re.search(r">\s*(rc2|sa1|v-shiban)\s*<", page)
    en = tmp_path / "en.html"
    assert town.run("--lang", "en", "audit", "export", "--format", "html", "--out", str(en),
                    as_json=False).code == 0
    assert "study: reported → studied" in en.read_text(encoding="utf-8")


def test_a_drill_person_report_does_not_count_every_event_back_dated(town: Town) -> None:
    a_walked_issue(town)
    text = human(town, "report", "person", "rc1")
    assert "本人办理 1 步" in text and "补录" not in text


def test_the_demo_routes_every_kind_of_message_to_its_file() -> None:
    from notifications.message import KINDS

    make = (REPO / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^KINDS := (.*?)(?<!\\)$", make, re.M | re.S)
    assert found is not None
    assert found.group(1).replace("\\\n", " ").split() == list(KINDS)
