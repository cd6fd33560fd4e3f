"""The YAML files (org, workflow, holidays) are read safely: no anchors or aliases, a bounded
size and number of values, UTF-8 only; each refusal is one line naming the file (and line)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.config import holidays, org, workflow
from engine.config.source import MAX_BYTES, MAX_VALUES, kind_of, parse_yaml
from engine.errors import BadFile, DefinitionError, Malformed, OrgError
from tests.support import SMALL_ORG_FILE, one_line_refusal
from workflows import default_path

READERS: list[tuple[str, Callable[[Path], object], type[Malformed]]] = [
    ("org", org.load, OrgError),
    ("workflow", workflow.load, DefinitionError),
    ("holidays", holidays.local_adjustments, BadFile),
]
"""Each reader of a town's YAML file and the error it refuses with."""

reader = pytest.mark.parametrize(("load", "error"), [(r[1], r[2]) for r in READERS],
                                 ids=[r[0] for r in READERS])


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def billion_laughs(levels: int = 9) -> str:
    """Ten lines standing for 9^9 (387 million) values, hung on a group's members."""
    lines = ["lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"lol{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]"
              for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_org_is_refused_at_once(tmp_path: Path) -> None:
    text = SMALL_ORG_FILE.read_text(encoding="utf-8")
    padding = "".join(f"# {'padding ' * 11}\n" for _ in range(140))  # some 15 KB, as reported
    bomb = text.replace("groups:", billion_laughs() + padding + "groups:", 1)
    bomb = bomb.replace("  members:\n  - sa1\n", "  members: *a9\n", 1)
    assert "members: *a9" in bomb and len(bomb.encode()) > 14_000
    path = write(tmp_path / "bomb.yaml", bomb)
    started = time.perf_counter()
    message = one_line_refusal(OrgError, lambda: org.load(path))
    took = time.perf_counter() - started
    assert message.startswith(f"{path}:{bomb[:bomb.index('&a0')].count(chr(10)) + 1}:"
                              " aliases are not allowed")
    assert took < 0.5, f"the alias bomb took {took:.2f} s to refuse"


@reader
def test_an_anchor_is_refused_at_its_line(tmp_path: Path, load: Callable[[Path], object],
                                          error: type[Malformed]) -> None:
    path = write(tmp_path / "f.yaml", "# a file\nholidays: &days [2027-02-05]\n"
                                      "workdays: *days\n")
    assert one_line_refusal(error, lambda: load(path)) == (
        f"{path}:2: aliases are not allowed (&days; write the value out where it is used)")


@reader
def test_an_alias_is_refused_at_its_line(tmp_path: Path, load: Callable[[Path], object],
                                         error: type[Malformed]) -> None:
    # an alias of an anchor not given is also an alias: refused before YAML says it is unknown
    path = write(tmp_path / "f.yaml", "holidays: []\n\nworkdays: *nowhere\n")
    assert one_line_refusal(error, lambda: load(path)).startswith(
        f"{path}:3: aliases are not allowed (*nowhere")


@reader
def test_a_merge_of_an_alias_is_refused(tmp_path: Path, load: Callable[[Path], object],
                                        error: type[Malformed]) -> None:
    path = write(tmp_path / "f.yaml", "base: &base {id: x}\nunit:\n  <<: *base\n")
    assert one_line_refusal(error, lambda: load(path)).startswith(
        f"{path}:1: aliases are not allowed (&base")


@reader
def test_a_file_larger_than_the_limit_is_refused_unread(
        tmp_path: Path, load: Callable[[Path], object], error: type[Malformed]) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * MAX_BYTES + b"\n")
    started = time.perf_counter()
    assert one_line_refusal(error, lambda: load(path)) == (
        f"{path}: larger than 1 MiB, the limit for this file")
    assert time.perf_counter() - started < 0.5


def test_a_file_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    text = "holidays: [2027-02-05]\n"
    path = tmp_path / "just.yaml"
    path.write_bytes(text.encode() + b"#" * (MAX_BYTES - len(text) - 1) + b"\n")
    assert path.stat().st_size == MAX_BYTES
    assert holidays.local_adjustments(path)["holidays"] == ["2027-02-05"]


@reader
def test_binary_gbk_and_utf16_are_not_utf8(tmp_path: Path, load: Callable[[Path], object],
                                           error: type[Malformed]) -> None:
    for name, data in (("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
                       ("gbk", "# 春节\nholidays: [2027-02-05]\n".encode("gbk")),
                       ("utf16", "holidays: []\n".encode("utf-16"))):
        path = tmp_path / f"{name}.yaml"
        path.write_bytes(data)
        message = one_line_refusal(error, lambda p=path: load(p))  # type: ignore[misc]
        assert message.startswith(f"{path}: not UTF-8 text (line 1, byte 0x"), message


def test_a_byte_order_mark_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfholidays: [2027-02-05]\n")
    assert holidays.local_adjustments(path)["holidays"] == ["2027-02-05"]
    bad = tmp_path / "bombad.yaml"
    bad.write_bytes(b"\xef\xbb\xbfholidays: []\n# \xff\n")
    assert one_line_refusal(BadFile, lambda: holidays.local_adjustments(bad)) == (
        f"{bad}: not UTF-8 text (line 2, byte 0xff; save it as UTF-8)")


@reader
def test_empty_control_characters_and_nul(tmp_path: Path, load: Callable[[Path], object],
                                          error: type[Malformed]) -> None:
    for name, data in (("nul", b"holidays: []\n\x00\n"), ("bell", b"a: \x07\n"),
                       ("dir", None)):
        path = tmp_path / name
        if data is None:
            path.mkdir()
        else:
            path.write_bytes(data)
        message = one_line_refusal(error, lambda p=path: load(p))  # type: ignore[misc]
        assert message.startswith(str(path)), message


def test_too_many_values_are_refused_quickly() -> None:
    text = "[" + ", ".join(["a"] * (MAX_VALUES + 10)) + "]\n"
    started = time.perf_counter()
    with pytest.raises(BadFile) as caught:
        parse_yaml(text, "many.yaml", BadFile)
    assert str(caught.value).startswith(f"many.yaml:1: more than {MAX_VALUES} values")
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("text", [
    "[" * 5000, "{a: " * 5000, "- " * 5000,
    "".join("  " * i + "- \n" for i in range(2000)),
    "".join(" " * i + "a:\n" for i in range(2000)),
])
def test_nesting_too_deep_is_refused(text: str) -> None:
    with pytest.raises(BadFile) as caught:
        parse_yaml(text, "deep.yaml", BadFile)
    assert str(caught.value).startswith("deep.yaml:"), caught.value


@pytest.mark.parametrize("text", [
    "a: !!python/object/apply:os.system [echo hi]\n",
    "a: !!python/name:os.system\n",
    "a: !!int abc\n",
    "a: !!float x\n",
    "a: " + "9" * 5000 + "\n",
    "a: 0x" + "f" * 5000 + "\n",
    "? [a, b]\n: c\n",
    "{[a]: b}\n",
    "a: b\na: c\n",
    "a: !!bool x\n",
    "a: !!timestamp [a]\n",
    "a: !!int " + "1:" * 3000 + "1\n",
    "a: !!int 0o" + "7" * 6000 + "\n",
    "a: !!float " + "1:" * 3000 + "1\n",
    "a: !!omap {a: b}\n",
    "<<: x\n",
    "%YAML 1.1\n%YAML 1.1\n---\na\n",
    "--- a\n--- b\n",
])
def test_values_yaml_cannot_build_are_refused_at_their_line(text: str) -> None:
    with pytest.raises(BadFile) as caught:
        parse_yaml(text, "odd.yaml", BadFile)
    assert str(caught.value).startswith("odd.yaml:") and "\n" not in str(caught.value)


def test_a_timestamp_that_is_no_time_stays_text() -> None:
    assert parse_yaml("a: !!timestamp nope\nb: 2020-02-30\n", "t.yaml", BadFile)[0] == {
        "a": "nope", "b": "2020-02-30"}


def test_the_default_workflow_and_the_small_org_have_no_anchors() -> None:
    workflow.load(default_path())
    org.load(SMALL_ORG_FILE)


@reader
def test_a_file_wrong_throughout_is_told_on_one_short_line(
        tmp_path: Path, load: Callable[[Path], object], error: type[Malformed]) -> None:
    path = write(tmp_path / "wrong.yaml", "".join(f"k{i}: {i}\n" for i in range(5000)))
    message = one_line_refusal(error, lambda: load(path))
    assert len(message) < 3000, len(message)
    assert "more: " in message and message.endswith("; …)")


def test_a_long_value_is_shown_short() -> None:
    assert len(kind_of("x" * 100_000)) < 100


def test_holiday_days_and_years_stay_in_the_calendar_s_years(tmp_path: Path) -> None:
    for text, line, needle in (
            ("holidays: [2020-02-30]\n", 1, "holidays[0]: not a date: 2020-02-30"),
            ("holidays:\n- 2027-01-01\n- 9999-12-31\n", 3, "9999-12-31 is out of range"),
            ("workdays: ['0001-01-01']\n", 1, "0001-01-01 is out of range"),
            ("years: [20277]\n", 1, "not a year"),
    ):
        path = write(tmp_path / "h.yaml", text)
        message = one_line_refusal(BadFile, lambda p=path: holidays.local_adjustments(p))  # type: ignore[misc]
        assert message.startswith(f"{path}:{line}: ") and needle in message, message


def test_ladder_offsets_and_versions_are_bounded(tmp_path: Path) -> None:
    text = default_path().read_text(encoding="utf-8")
    assert "offset: 5," in text
    far = write(tmp_path / "far.yaml", text.replace("offset: 5,", "offset: 1000000000,", 1))
    message = one_line_refusal(DefinitionError, lambda: workflow.load(far))
    assert "offset must be between -250 and 250 working days, not 1000000000" in message
    version = re.search(r"^version: \d+$", text, re.MULTILINE)
    assert version is not None
    line = text[:version.start()].count("\n") + 1
    big = write(tmp_path / "big.yaml", text.replace(version.group(), "version: 2147483648"))
    message = one_line_refusal(DefinitionError, lambda: workflow.load(big))
    assert message.startswith(f"{big}:{line}: version"), message
    huge = write(tmp_path / "huge.yaml",
                 text.replace(version.group(), "version: 18446744073709551616"))
    message = one_line_refusal(DefinitionError, lambda: workflow.load(huge))
    assert message == f"{huge}:{line}: not valid YAML: cannot read int value: more than 64 bits"
