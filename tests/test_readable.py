"""Output a cadre can read: `issue evidence` (listed and saved), the light as a word that
survives a pipe, times to the minute in town time with a due moment read as the end of its
day, errors in plain English, the demo's evidence as real pictures, and the README's lists.

The commands run end to end in-process (tests.support.run_cli) on SQLite."""

from __future__ import annotations

import io
import re
import sqlite3
from contextlib import redirect_stderr, redirect_stdout
from datetime import timedelta, timezone
from pathlib import Path

import pytest

import cli
from engine.app.supervision import a_level
from tests.support import write_org
from tests.test_cli import T0, Town

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
