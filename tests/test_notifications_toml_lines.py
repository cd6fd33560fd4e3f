"""The TOML line locator: every way TOML writes a key is placed on its line, and what it cannot
place falls back to the table header, then line 1."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifications.toml_lines import KeyLines

DOCUMENT = '''\
# the notification configuration
locale = "zh_CN"   # a comment with key = "value" in it

[dispatch]
max_tries = 5
backoff_seconds = 30

[channels.mail]
type = "smtp"
host = "127.0.0.1"
headers = { Authorization = "Bearer x", "X-Two" = "y" }

[channels."my.hook"]
type = 'webhook'
url = "http://h/in"

[routing]
reminder = ["mail"]
interview = [
  "mail",   # first
  "my.hook",
]
site.name = "黄家镇"
'quoted' = 1
"esc\\u0061ped" = 2

[[groups]]
id = "a"

[[groups]]
id = "b"

[groups.extra]
note = """
fake = "not a key"
[not.a.header]
"""
after = 'x'
literal = \'\'\'
[also.not]
\'\'\'
last = 1
'''


@pytest.fixture(scope="module")
def lines() -> KeyLines:
    tomllib.loads(DOCUMENT)  # the locator is for documents tomllib accepts
    return KeyLines(DOCUMENT)


@pytest.mark.parametrize(("path", "line"), [
    (("locale",), 2),
    (("dispatch",), 4),
    (("dispatch", "max_tries"), 5),
    (("dispatch", "backoff_seconds"), 6),
    (("channels",), 8),  # first mentioned by [channels.mail]
    (("channels", "mail"), 8),
    (("channels", "mail", "type"), 9),
    (("channels", "mail", "host"), 10),
    (("channels", "mail", "headers"), 11),
    (("channels", "mail", "headers", "Authorization"), 11),
    (("channels", "mail", "headers", "X-Two"), 11),
    (("channels", "my.hook"), 13),
    (("channels", "my.hook", "type"), 14),
    (("channels", "my.hook", "url"), 15),
    (("routing",), 17),
    (("routing", "reminder"), 18),
    (("routing", "reminder", 0), 18),
    (("routing", "interview"), 19),
    (("routing", "interview", 0), 20),
    (("routing", "interview", 1), 21),
    (("routing", "site"), 23),
    (("routing", "site", "name"), 23),
    (("routing", "quoted"), 24),
    (("routing", "escaped"), 25),
    (("groups",), 27),
    (("groups", 0), 27),
    (("groups", 0, "id"), 28),
    (("groups", 1), 30),
    (("groups", 1, "id"), 31),
    (("groups", 1, "extra"), 33),
    (("groups", 1, "extra", "note"), 34),
    (("groups", 1, "extra", "after"), 38),
    (("groups", 1, "extra", "literal"), 39),
    (("groups", 1, "extra", "last"), 42),
])
def test_every_written_key_is_on_its_line(lines: KeyLines, path: tuple[str | int, ...],
                                          line: int) -> None:
    assert lines.line(path) == line


def test_text_inside_strings_and_comments_is_not_a_key(lines: KeyLines) -> None:
    placed = set(lines.lines)
    for ghost in (("fake",), ("not",), ("also",), ("groups", 1, "extra", "fake"), ("key",)):
        assert ghost not in placed, ghost


def test_what_is_not_written_falls_back_to_its_table_then_line_1(lines: KeyLines) -> None:
    assert lines.line(("dispatch", "lease_seconds")) == 4  # not written: the [dispatch] header
    assert lines.line(("channels", "mail", "port")) == 8
    assert lines.line(("channels", "sms", "type")) == 8  # [channels.…] first seen on line 8
    assert lines.line(("briefing", "cron")) == 1  # no [briefing] at all
    assert lines.line(()) == 1


def test_windows_newlines_and_a_dotted_header_with_spaces() -> None:
    text = ('a = 1\r\n[ x . "y z" ]\r\nb = [\r\n  1,\r\n  2 ]\r\n'
            'when = 1979-05-27 07:32:00\r\nc = 3\r\n')
    tomllib.loads(text)
    lines = KeyLines(text)
    assert lines.line(("a",)) == 1
    assert lines.line(("x", "y z")) == 2
    assert lines.line(("x", "y z", "b", 1)) == 5
    assert lines.line(("x", "y z", "when")) == 6
    assert lines.line(("x", "y z", "c")) == 7


def test_inline_tables_in_arrays_and_nested_arrays() -> None:
    text = 'rows = [\n  {name = "a", n = [1, 2]},\n  {name = "b"},\n]\n'
    tomllib.loads(text)
    lines = KeyLines(text)
    assert lines.line(("rows", 0, "name")) == 2
    assert lines.line(("rows", 0, "n", 1)) == 2
    assert lines.line(("rows", 1, "name")) == 3


@pytest.mark.parametrize("text", [
    "", "[", "[[", "= 1", 'a = "unterminated\nb = 1\n', "a = '''\nnever closed", "a = [1, {",
    "}}}\n]]]\n", "a.b. = 1", '"a', "[a\nb = 2",
])
def test_broken_text_never_fails(text: str) -> None:
    lines = KeyLines(text)
    assert lines.line(("a", "b")) >= 1


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='ab=[]{}.,"\'#\n \\-1', max_size=60))
def test_any_text_is_placed_without_failing(text: str) -> None:
    lines = KeyLines(text)
    for path, line in lines.lines.items():
        assert 1 <= line <= text.count("\n") + 1, (path, line)
