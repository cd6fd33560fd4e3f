"""The text rule (engine.domain.text): what each kind of field refuses, and how text that broke
it is shown."""

from __future__ import annotations

import pytest

from engine.domain import text
from engine.domain.text import LINE, TEXT, TITLE, check, kind_of, visible
from engine.errors import Refused


def refusal(field: str, value: str, kind: text.Kind | None = None) -> str:
    with pytest.raises(Refused) as err:
        check(field, value, kind)
    assert err.value.exit_code == 1
    return str(err.value)


# --- lengths ---------------------------------------------------------------------------------
def test_a_title_takes_200_characters_not_201() -> None:
    check("title", "漏" * 200, TITLE)
    assert refusal("title", "漏" * 201, TITLE) == "title is longer than 200 characters (201)"


def test_free_text_takes_10000_characters_not_10001() -> None:
    check("--note", "x" * 10_000, TEXT)
    assert (refusal("--note", "x" * 10_001, TEXT)
            == "--note is longer than 10,000 characters (10,001)")


def test_a_short_field_takes_200_characters() -> None:
    check("household", "张" * 200, LINE)
    assert refusal("household", "张" * 201, LINE) == (
        "household is longer than 200 characters (201)")


def test_none_is_no_value() -> None:
    for kind in (TITLE, LINE, TEXT):
        check("x", None, kind)


# --- characters ------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "what", "code"), [
    ("a\rb", "a control character", "000D"),
    ("\x1b[31m红", "a control character", "001B"),
    ("a\x00", "a control character", "0000"),
    ("del\x7f", "a control character", "007F"),
    ("next\x85line", "a control character", "0085"),
    ("\x9f", "a control character", "009F"),
    ("gpj.exe\u202e", "a bidirectional control", "202E"),
    ("\u202a", "a bidirectional control", "202A"),
    ("\u2066x\u2069", "a bidirectional control", "2066"),
    ("\u200e", "a bidirectional control", "200E"),
    ("\u200f", "a bidirectional control", "200F"),
    ("\u061c", "a bidirectional control", "061C"),
    ("a\u2028b", "a line separator", "2028"),
    ("a\u2029b", "a line separator", "2029"),
    ("bad\udcff", "an invalid character", "DCFF"),
])
@pytest.mark.parametrize("kind", [TITLE, LINE, TEXT], ids=["title", "line", "text"])
def test_control_and_bidi_characters_are_refused_in_every_kind(
        value: str, what: str, code: str, kind: text.Kind) -> None:
    assert refusal("title", value, kind) == f"title contains {what} (U+{code})"


def test_the_first_character_at_fault_is_named() -> None:
    assert refusal("--plan", "ok\x07then\x1b", TEXT) == (
        "--plan contains a control character (U+0007)")


@pytest.mark.parametrize("value", ["第一行\n第二行", "列\t列", "\n", "a\n\n\tb"])
def test_newline_and_tab_are_free_text(value: str) -> None:
    check("description", value, TEXT)


@pytest.mark.parametrize(("value", "code"), [("第一行\n第二行", "000A"), ("a\tb", "0009")])
@pytest.mark.parametrize("kind", [TITLE, LINE], ids=["title", "line"])
def test_a_title_or_a_line_is_one_line(value: str, code: str, kind: text.Kind) -> None:
    assert refusal("evidence name", value, kind) == (
        f"evidence name contains a control character (U+{code})")


@pytest.mark.parametrize("value", [
    "自来水管漏水", "张三家 (3 口人)", "rm -rf / ; echo 'x' \\ \"y\"",
    "emoji 👩\u200d👩\u200d👧 ok", "\u00a0nbsp", "=HYPERLINK(\"http://x\",\"y\")", "ـ阿拉伯 עברית",
])
def test_ordinary_text_passes_in_every_kind(value: str) -> None:
    for kind in (TITLE, LINE, TEXT):
        check("title", value, kind)


def test_the_kind_follows_the_field_name() -> None:
    assert kind_of("title") is TITLE
    for name in ("description", "note", "--note", "plan", "--plan", "reason", "--reason",
                 "interview note", "decision note"):
        assert kind_of(name) is TEXT, name
    for name in ("household", "group", "village", "category", "severity", "--assignee",
                 "evidence name", "anything else"):
        assert kind_of(name) is LINE, name
    check("--note", "a\nb")
    assert refusal("--assignee", "a\nb") == "--assignee contains a control character (U+000A)"


# --- showing what slipped in ----------------------------------------------------------------
@pytest.mark.parametrize(("stored", "shown"), [
    ("\x1b[31m红\x1b[0m", "\\x1b[31m红\\x1b[0m"),
    ("a\rb", "a\\rb"),
    ("gpj.exe\u202e", "gpj.exe\\u202e"),
    ("\x85\x9f\x7f\x00", "\\x85\\x9f\\x7f\\x00"),
    ("x\u2028y\u2066", "x\\u2028y\\u2066"),
    ("bad\udcff", "bad\\udcff"),
    ("line\nnext\ttab", "line\\nnext\\ttab"),
    ("自来水管漏水", "自来水管漏水"),
])
def test_visible_writes_what_the_rule_refuses_as_escapes(stored: str, shown: str) -> None:
    assert visible(stored) == shown
    assert visible(shown) == shown, "showing is idempotent"
    check("title", shown, TITLE)  # what is shown passes the rule


def test_visible_keeps_lines_and_tabs_of_free_text() -> None:
    assert visible("第一行\n\t第二行\r\n\x1b[2J", multiline=True) == (
        "第一行\n\t第二行\\r\n\\x1b[2J")


def test_visible_returns_clean_text_itself() -> None:
    value = "干净的文字"
    assert visible(value) is value
