"""Output a cadre can read: `issue evidence` (listed and saved), the light as a word that
survives a pipe, times to the minute in town time with a due moment read as the end of its
day, errors in plain English, the demo's evidence as real pictures, and the README's lists.

The commands run end to end in-process (tests.support.run_cli) on SQLite."""

from __future__ import annotations

import io
import re
import sqlite3
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import cli
from engine.app.supervision import a_level
from engine.present import LIGHT_WORDS, light_text, town_time
from notifications.labels import LABELS
from tests.support import write_org
from tests.test_cli import T0, T_REPORT, T_STUDY, Town

REPO = Path(__file__).resolve().parents[1]
CST = timezone(timedelta(hours=8))
"""Asia/Shanghai, the small org's town time."""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RECTIFY_DB", "RECTIFY_USER", "RECTIFY_NOW", "RECTIFY_DATA_DIR",
                 "RECTIFY_DEBUG", "NO_COLOR"):
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


# --- 2. the light as a word -------------------------------------------------------------------
def test_the_light_is_a_word_that_survives_a_pipe(town: Town) -> None:
    i = town.add()  # found at T0: due at the end of Tuesday 2020-09-29
    for now, word in (("2020-09-28T10:00", "绿"), ("2020-09-29T10:00", "黄"),
                      ("2020-09-30T10:00", "红")):
        show = human(town, "issue", "show", str(i), now=now)
        assert f"          light: {word}\n" in show
        listing = human(town, "issue", "list", now=now)
        assert re.search(rf"│ {i}\s+│ {word}\s+│ found", listing), listing
        assert "\x1b" not in show + listing
    assert town.ok("issue", "show", str(i))["light"] == "red"  # JSON as before


def test_the_light_keeps_its_colour_on_a_terminal(town: Town,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    i = town.add()
    show = on_terminal(town, monkeypatch, "issue", "show", str(i), now="2020-09-30T10:00")
    assert "light: \x1b[31m红\x1b[0m" in show
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
    assert "light: 红\n" in show
    assert "红" in listing and not re.search(r"\x1b\[[0-9;]*m红", listing)


def test_the_light_in_words() -> None:
    assert LIGHT_WORDS == LABELS["zh_CN"]["light"] == {"red": "红", "yellow": "黄",
                                                       "green": "绿"}
    assert set(LABELS["en"]["light"]) == set(LIGHT_WORDS)
    assert [light_text(x) for x in ("red", "yellow", "green", None)] == ["红", "黄", "绿", ""]
    assert light_text("green", colour=True) == "\x1b[32m绿\x1b[0m"
    assert light_text("\x1bodd", colour=True) == "\\x1bodd"


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
    assert "            due: 2020-10-23 24:00\n" in show
    assert " in stage since: 2020-10-09 10:00\n" in show
    assert "          found: 2020-09-28 09:00 by sa1\n" in show
    assert "next escalation: 2020-10-23 00:00\n" in show  # the reminder: a start of day
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
    assert "raised 3 escalation(s)" in board
    listing = human(town, "escalation", "list", "--issue", str(i))
    assert listing.count("2020-10-12 24:00") == 3 and "2020-10-20 09:00" in listing
    first = town.ok("escalation", "list", "--issue", str(i))[0]
    assert first["due_at"] == "2020-10-13T00:00:00+08:00"
    shown = human(town, "escalation", "show", str(first["id"]))
    assert "(due 2020-10-12 24:00)" in shown and "raised: 2020-10-20 09:00" in shown
    for text in (board, listing, shown):
        assert not ISO.search(text), text

    j = town.studied()
    asked = human(town, "issue", "extend", str(j), "--to", "2020-10-30", "--reason", "rain",
                  who="rc2", now="2020-10-20T09:30")
    assert "due: 2020-10-23 24:00 → 2020-10-30 24:00" in asked
    assert "asked: 2020-10-20 09:30 by rc2" in asked


def test_the_person_report_reads_town_time(town: Town) -> None:
    town.reported()
    town.ok("escalate", now="2020-10-20T09:00")
    text = human(town, "report", "person", "chen", "--from", "2020-10-01", "--to",
                 "2020-10-31")
    assert "2020-10-01 00:00 – 2020-10-31 23:59" in text
    assert "raised 2020-10-20 09:00" in text
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
    line = town.refused("escalation", "decide", str(interview), "--note", "x", who="wang",
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
