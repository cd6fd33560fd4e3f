"""Malformed values of every kind thrown at every option and file reader of the command line.

Times, dates, ids, versions, anchors, people, and the org, workflow, holidays, notification and
ledger files, broken in every way we could think of (a table of hand-picked nasty values) and in
ways hypothesis thinks of: each is refused with exit 2 (or 1, where a rule or the data says no)
and exactly one line `error: …` on stderr, never an "unexpected" error or a traceback.

The CLI runs in this process (tests.support.run_cli) on one SQLite database of the small org,
with one issue in it (#1, reported).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.app.moments import FIRST_YEAR, LAST_YEAR
from notifications.toml_lines import KeyLines
from tests.support import SMALL_ORG, Ran, run_cli, write_org
from workflows import default_path

EXAMPLES = int(os.environ.get("RECTIFY_MALFORMED_EXAMPLES", "20"))
"""Examples hypothesis tries per option or file (more: RECTIFY_MALFORMED_EXAMPLES=200)."""

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


# --- the town ------------------------------------------------------------------------------------
@dataclass
class Town:
    dir: Path
    url: str
    data: Path
    org: Path

    def run(self, *args: str) -> Ran:
        return run_cli("--db", self.url, "--data-dir", str(self.data), *args)

    def file(self, name: str, content: bytes | str) -> Path:
        path = self.dir / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    d = tmp_path_factory.mktemp("malformed")
    t = Town(d, f"sqlite:///{d / 'town.db'}", d / "data", write_org(d / "org.yaml"))
    for args in (("init", "--org", str(t.org)),
                 ("--as", "sa1", "issue", "add", "--title", "t", "--category", "food",
                  "--village", "v-shiban"),
                 ("--as", "sa1", "issue", "move", "1", "report")):
        ran = t.run(*args)
        assert ran.code == 0, ran.err
    yield t


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Town:
    """A database of its own for the file readers of `init` (a file that happens to be sound
    initialises it)."""
    d = tmp_path_factory.mktemp("scratch")
    return Town(d, f"sqlite:///{d / 'scratch.db'}", d / "data", write_org(d / "org.yaml"))


def told(ran: Ran, codes: tuple[int, ...] = (0, 1, 2)) -> str:
    """The run ended with one of `codes`; refused, it said so on exactly one line `error: …`
    and said nothing unexpected. The error line ('' when it worked, or when `audit verify`
    found the history not sound: a verdict, on stdout)."""
    assert not ran.err.startswith("error: unexpected ") and "RECTIFY_DEBUG" not in ran.err
    assert "Traceback" not in ran.err, ran.err
    assert ran.code in codes, f"exit {ran.code}: {ran.err}"
    if ran.code == 0 or (ran.code == 1 and not ran.err and "NOT SOUND" in ran.out):
        return ""
    lines = ran.err.splitlines()  # an import tells each problem on an indented line below
    assert lines and lines[0].startswith("error: "), ran.err
    assert all(x.startswith("  ") for x in lines[1:]), ran.err
    return "\n".join(lines)


# --- the values ----------------------------------------------------------------------------------
ARGV_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=()),
                    max_size=40)
"""What a command line can hold: any characters but NUL (surrogates stand for bytes that are
not UTF-8, as Python decodes argv)."""

OFFSETS = st.builds(timezone, st.timedeltas(min_value=timedelta(hours=-23, minutes=-59),
                                            max_value=timedelta(hours=23, minutes=59)))
TIMES = st.one_of(
    st.datetimes(timezones=st.one_of(st.none(), OFFSETS)).map(lambda t: t.isoformat()),
    st.datetimes(min_value=datetime(FIRST_YEAR - 1, 1, 1),
                 max_value=datetime(LAST_YEAR + 1, 12, 31),
                 timezones=st.one_of(st.none(), OFFSETS)).map(
                     lambda t: t.isoformat(timespec="minutes")),
    st.dates().map(date.isoformat),
    st.dates().map(lambda d: d.strftime("%Y%m%d")),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}([+-][0-9]{2}:[0-9]{2})?)?\Z"),
    st.integers().map(str),
    ARGV_TEXT,
)
DAYS = st.one_of(
    st.dates().map(date.isoformat),
    st.dates(min_value=date(FIRST_YEAR - 1, 1, 1),
             max_value=date(LAST_YEAR + 1, 12, 31)).map(date.isoformat),
    st.from_regex(r"\A[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}\Z"),
    st.datetimes().map(lambda t: t.isoformat()),
    ARGV_TEXT,
)
NUMBERS = st.one_of(
    st.integers().map(str),
    st.integers(min_value=2**31 - 3, max_value=2**64 + 3).map(str),
    st.from_regex(r"\A[0-9]{1,30}\Z"),
    st.floats().map(str),
    ARGV_TEXT,
)
ANCHORS = st.one_of(
    st.from_regex(r"\A-?[0-9]{0,25}:[0-9a-fA-F]{0,70}\Z"),
    st.tuples(st.integers(), st.text("0123456789abcdef", min_size=64, max_size=64)).map(
        lambda p: f"{p[0]}:{p[1]}"),
    ARGV_TEXT,
)

# Each slot: an argument list with X where the value goes, and the values to try there.
MOVE_STUDY = ["--as", "rc1", "issue", "move", "1", "study", "--plan", "p", "--assignee", "rc1"]
ADD = ["--as", "sa1", "issue", "add", "--title", "t", "--category", "food", "--village",
       "v-shiban"]
SLOTS: dict[str, tuple[list[str], st.SearchStrategy[str]]] = {
    "--now": (["--now", "X", "issue", "list", "--overdue"], TIMES),
    "--now of a write": (["--now", "X", *ADD], TIMES),
    "--now of a sweep": (["--now", "X", "escalate"], TIMES),
    "--now of a move": (["--now", "X", *MOVE_STUDY, "--due", "2020-10-20"], TIMES),
    "--as": (["--as", "X", "issue", "allowed", "1"], ARGV_TEXT),
    "--as of a write": (["--as", "X", *ADD[2:]], ARGV_TEXT),
    "--due": ([*MOVE_STUDY, "--due", "X"], DAYS),
    "--to of extend": (["--as", "rc1", "issue", "extend", "1", "--to", "X", "--reason", "r"],
                       DAYS),
    "--from of export": (["audit", "export", "--format", "jsonl", "--from", "X"], TIMES),
    "--to of export": (["audit", "export", "--format", "csv", "--to", "X"], TIMES),
    "--from of report": (["report", "person", "wang", "--from", "X"], TIMES),
    "--to of report": (["report", "person", "wang", "--to", "X"], TIMES),
    "--as-of": (["audit", "replay", "--as-of", "X"], TIMES),
    "--since": (["briefing", "--since", "X"], TIMES),
    "--anchor": (["audit", "verify", "--anchor", "X"], ANCHORS),
    "--expect-version": (["--as", "sa1", "issue", "move", "1", "report", "--expect-version",
                          "X"], NUMBERS),
    "--batch": (["escalate", "--batch", "X"], NUMBERS),
    "issue show": (["issue", "show", "X"], NUMBERS),
    "issue history": (["issue", "history", "X"], NUMBERS),
    "issue allowed": (["--as", "wang", "issue", "allowed", "X"], NUMBERS),
    "issue move": (["--as", "sa1", "issue", "move", "X", "report"], NUMBERS),
    "issue extend": (["--as", "rc1", "issue", "extend", "X", "--to", "2020-10-20",
                      "--reason", "r"], NUMBERS),
    "extension approve": (["--as", "wang", "extension", "approve", "X"], NUMBERS),
    "extension deny": (["--as", "wang", "extension", "deny", "X"], NUMBERS),
    "extension list --issue": (["extension", "list", "--issue", "X"], NUMBERS),
    "escalation show": (["escalation", "show", "X"], NUMBERS),
    "escalation record": (["--as", "wang", "escalation", "record", "X", "--note", "n"],
                          NUMBERS),
    "escalation decide": (["--as", "wang", "escalation", "decide", "X", "--note", "n",
                           "--outcome", "talk"],
                          NUMBERS),
    "escalation list --issue": (["escalation", "list", "--issue", "X"], NUMBERS),
    "outbox retry": (["outbox", "retry", "X"], NUMBERS),
    "outbox list --issue": (["outbox", "list", "--issue", "X"], NUMBERS),
    "audit replay --issue": (["audit", "replay", "--as-of", "2020-10-01", "--issue", "X"],
                             NUMBERS),
}


def put(args: list[str], value: str) -> list[str]:
    return [value if a == "X" else a for a in args]


@pytest.mark.parametrize("slot", list(SLOTS))
def test_any_value_of_an_option_is_taken_or_refused_on_one_line(town: Town, slot: str) -> None:
    args, values = SLOTS[slot]

    @FUZZ
    @given(values)
    def check(value: str) -> None:
        told(town.run(*put(args, value)))

    check()


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    """A drill database (its clock may run anywhere, so that any time accepted reaches the
    sums of due moments and ladders), with issue #1 reported and #2 studied, due on the first
    working day after the National Day holiday."""
    d = tmp_path_factory.mktemp("drill")
    t = Town(d, f"sqlite:///{d / 'drill.db'}", d / "data", write_org(d / "org.yaml"))
    now = "2020-09-28T09:00"
    for args in (("init", "--drill", "--org", str(t.org)),
                 ("--now", now, *ADD), ("--now", now, *ADD),
                 ("--now", now, "--as", "sa1", "issue", "move", "1", "report"),
                 ("--now", now, "--as", "sa1", "issue", "move", "2", "report"),
                 ("--now", now, "--as", "rc1", "issue", "move", "2", "study", "--plan", "p",
                  "--assignee", "rc1", "--due", "2020-10-09")):
        ran = t.run(*args)
        assert ran.code == 0, ran.err
    yield t


DRILL_SLOTS: dict[str, list[str]] = {
    "--now of an add": ["--now", "X", *ADD],
    "--now of a move": ["--now", "X", *MOVE_STUDY, "--due", f"{LAST_YEAR}-12-31"],
    "--now of a sweep": ["--now", "X", "escalate"],
    "--now of an extension": ["--now", "X", "--as", "rc1", "issue", "extend", "2", "--to",
                              f"{LAST_YEAR}-12-31", "--reason", "r"],
    "--now of the board": ["--now", "X", "issue", "list", "--overdue"],
    "--now of a briefing": ["--now", "X", "briefing"],
}


@pytest.mark.parametrize("slot", list(DRILL_SLOTS))
def test_any_time_in_a_drill_is_taken_or_refused_on_one_line(drill: Town, slot: str) -> None:
    @FUZZ
    @given(TIMES | st.sampled_from([
        f"{FIRST_YEAR}-01-01T00:00+23:59", f"{FIRST_YEAR}-01-01T00:00",
        f"{LAST_YEAR}-12-31T23:59-23:59", f"{LAST_YEAR}-12-31T23:59:59.999999"]))
    def check(value: str) -> None:
        told(drill.run(*put(DRILL_SLOTS[slot], value)))

    check()



# --- the hand-picked nasty values ------------------------------------------------------------
BAD_TIMES = [
    "9999-12-31T23:59", "9999-12-31T23:59:59.999999-23:59", "0001-01-01T00:00",
    "0001-01-01T00:00+23:59", "1969-12-31T23:59:59", f"{LAST_YEAR + 1}-01-01",
    f"{FIRST_YEAR - 1}-12-31", "2020-02-30T10:00", "2020-09-30T24:00", "2020-09-30T10:00+24:00",
    "2020-13-01", "next tuesday", " ", "\udcff", "2020-09-30T10:00\udcff", "9" * 5000,
    "１９７０-０１-０１", "2020-09-30T10:00Z[Asia/Shanghai]", "2020-W40-3T10:00x",
]
BAD_DAYS = [
    "9999-12-30", "9999-12-31", "0001-01-01", "1969-12-31", f"{LAST_YEAR + 1}-01-01",
    "2020-02-30", "2020-13-01", "20201301", "2020-1-1x", "23/10/2020", "\udcff", "9" * 5000,
    "2020-10-20T10:00+25:00",
]
BAD_IDS = [
    "18446744073709551616", "9223372036854775808", "0", "-1", "1e3", "0x10", "1.0", "+1",
    " ", "", "١", "٣", "1_000", "NaN", "inf", "\udcff", "9" * 5000, "7 7",
]
BAD_VERSIONS = ["0", "2147483648", "18446744073709551616", "-1", "v1", "1.5", "", "\udcff"]
BAD_BATCHES = ["0", "100001", "18446744073709551616", "-5", "nan", "1e3", ""]
BAD_ANCHORS = [
    "", ":", "1:", "x:" + "0" * 64, "18446744073709551616:" + "0" * 64,
    "99999999999999999999999999:" + "0" * 64, "-1:" + "0" * 64, "1:" + "g" * 64,
    "1:" + "0" * 63, "1:" + "0" * 65, "\udcff", "1:" + "\udcff" * 64,
]
BAD_INTERVALS = ["nan", "-nan", "inf", "-inf", "1e309", "0", "0.01", "86401", "x", ""]
"""Every one refused before `serve` starts (one that was taken would serve forever)."""


def nasty() -> Iterator[Any]:
    for v in BAD_TIMES:
        yield pytest.param(["--now", v, "issue", "list"], 2, id=f"--now {v[:20]!r}")
        yield pytest.param(["audit", "replay", "--as-of", v], 2, id=f"--as-of {v[:20]!r}")
        yield pytest.param(["audit", "export", "--format", "jsonl", "--from", v], 2,
                           id=f"--from {v[:20]!r}")
        yield pytest.param(["report", "person", "wang", "--to", v], 2, id=f"--to {v[:20]!r}")
        yield pytest.param(["briefing", "--since", v], 2, id=f"--since {v[:20]!r}")
    for v in BAD_DAYS:
        yield pytest.param([*MOVE_STUDY, "--due", v], 2, id=f"--due {v[:20]!r}")
        yield pytest.param(["--as", "rc1", "issue", "extend", "1", "--to", v, "--reason", "r"],
                           2, id=f"extend --to {v[:20]!r}")
    for v in BAD_IDS:
        for args in (["issue", "show", "X"], ["--as", "sa1", "issue", "move", "X", "report"],
                     ["--as", "wang", "extension", "approve", "X"],
                     ["escalation", "show", "X"], ["outbox", "retry", "X"],
                     ["outbox", "list", "--issue", "X"]):
            yield pytest.param(put(args, v), 2, id=f"{' '.join(args[-3:])} {v[:20]!r}")
    for v in BAD_VERSIONS:
        yield pytest.param(["--as", "sa1", "issue", "move", "1", "report", "--expect-version",
                            v], 2, id=f"--expect-version {v!r}")
    for v in BAD_BATCHES:
        yield pytest.param(["escalate", "--batch", v], 2, id=f"--batch {v!r}")
    for v in BAD_ANCHORS:
        yield pytest.param(["audit", "verify", "--anchor", v], 2, id=f"--anchor {v[:20]!r}")
    for v in BAD_INTERVALS:
        yield pytest.param(["serve", "--interval", v], 2, id=f"--interval {v!r}")
    for v in ("x" * 100_000, "'; DROP TABLE issues; --", "wang\n", "WANG"):
        yield pytest.param(["--as", v, "issue", "allowed", "1"], 1, id=f"--as {v[:20]!r}")
    yield pytest.param(["--as", "\udcff", "issue", "allowed", "1"], 2,
                       id="--as not UTF-8")  # refused before anything reads it
    yield pytest.param(["--as", "", "issue", "allowed", "1"], 2, id="--as ''")
    yield pytest.param(["--db", "nonsense", "issue", "list"], 2, id="--db nonsense")
    yield pytest.param(["--db", "sqlite:////no/such/folder/x.db", "issue", "list"], 2,
                       id="--db no folder")


@pytest.mark.parametrize(("args", "code"), list(nasty()))
def test_a_nasty_value_is_refused_on_one_line(town: Town, args: list[str], code: int) -> None:
    line = told(town.run(*args), (code,))
    assert line


@pytest.mark.parametrize(("args", "needle"), [
    (["issue", "show", "18446744073709551616"], "from 1 to 9223372036854775807"),
    (["--now", "9999-12-31T23:59", "issue", "list"],
     f"--now '9999-12-31T23:59' is out of range (years {FIRST_YEAR} to {LAST_YEAR})"),
    ([*MOVE_STUDY, "--due", "9999-12-30"], "--due '9999-12-30' is out of range"),
    (["--as", "sa1", "issue", "move", "1", "report", "--expect-version", "2147483648"],
     "2147483648 is not a version"),
])
def test_what_the_refusal_says(town: Town, args: list[str], needle: str) -> None:
    assert needle in told(town.run(*args), (2,))


# --- the files -----------------------------------------------------------------------------------
BILLION_LAUGHS = "".join(
    [f"a0: &a0 [{', '.join(['lol'] * 9)}]\n"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)]
    + ["town: {id: t, name: t, party_secretary: w}\nunits: []\npeople: []\n",
       "groups: [{id: g, kind: self_assessment, members: *a9}]\n"])

BROKEN_FILES: dict[str, bytes] = {
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10",
    "gbk": "town: {id: 黄家镇, name: 黄家镇}\nholidays: [2027-02-05]  # 春节\n".encode("gbk"),
    "utf-16": "holidays: [2027-02-05]\n".encode("utf-16"),
    "utf-32": "holidays: [2027-02-05]\n".encode("utf-32"),
    "huge": b"# " + b"x" * (1 << 20) + b"\n",
    "nul": b"holidays: []\n\x00\n",
    "aliases": b"holidays: &h [2027-02-05]\nworkdays: *h\n",
    "billion laughs": BILLION_LAUGHS.encode(),
    "not a mapping": b"- 1\n- 2\n",
    "a number": b"42\n",
    "wrong types": (b"town: [1, 2]\nunits: 5\npeople: {a: b}\ngroups: [{members: {x: 1}}]\n"
                    b"holidays: {a: 1}\nworkdays: 7\nyears: [true, 1.5, 20277]\nname: [x]\n"
                    b"version: {a: 1}\nstates: 3\n"),
    "impossible dates": b"holidays: [2020-02-30]\nworkdays: ['2021-13-01', 0000-01-01]\n",
    "far dates": b"holidays: [9999-12-31]\nworkdays: [0001-01-01]\nyears: [99999]\n",
    "python tags": b"holidays: !!python/object/apply:os.system [echo hi]\n",
    "huge int": b"version: " + b"9" * 5000 + b"\n",
    "sexagesimal": b"version: !!int " + b"1:" * 3000 + b"1\n",
    "deep": b"holidays: " + b"[" * 3000 + b"]" * 3000 + b"\n",
    "duplicate keys": b"holidays: []\nholidays: []\n",
    "two documents": b"holidays: []\n---\nholidays: []\n",
    "tabs": b"holidays:\n\t- 2027-02-05\n",
}


def org_with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    at: Any = o
    for key in path[:-1]:
        at = at[key]
    at[path[-1]] = value
    return o


def yaml_of(data: Any) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True).encode("utf-8")


def reader_args(town: Town, reader: str, path: Path) -> list[str]:
    """The command that reads `path` as the given kind of file. An org or workflow file that
    happens to be sound meets a holidays file that never is (nothing is written)."""
    never = town.file("never.yaml", "holidays: [2020-02-30]\n")
    return {
        "org": ["init", "--org", str(path), "--holidays", str(never)],
        "workflow": ["workflow", "validate", str(path)],
        "workflow of init": ["init", "--org", str(town.org), "--workflow", str(path),
                             "--holidays", str(never)],
        "holidays": ["init", "--org", str(town.org), "--holidays", str(path)],
    }[reader]


YAML_READERS = ["org", "workflow", "workflow of init", "holidays"]


@pytest.mark.parametrize("reader", YAML_READERS)
@pytest.mark.parametrize("broken", list(BROKEN_FILES))
def test_a_broken_yaml_file_is_refused_on_one_line(scratch: Town, reader: str,
                                                   broken: str) -> None:
    path = scratch.file(f"{broken}.yaml", BROKEN_FILES[broken])
    line = told(scratch.run(*reader_args(scratch, reader, path)), (2,))
    assert str(path) in line or "never.yaml" in line, line


def test_a_file_of_too_many_values_is_refused(scratch: Town) -> None:
    path = scratch.file("many.yaml", "holidays: [" + "2027-02-05, " * 60_000 + "]\n")
    assert "more than 50000 values" in told(
        scratch.run(*reader_args(scratch, "holidays", path)), (2,))


@pytest.mark.parametrize("reader", YAML_READERS)
def test_a_missing_file_or_a_folder_is_refused(scratch: Town, reader: str) -> None:
    for path in (scratch.dir / "missing.yaml", scratch.dir):
        line = told(scratch.run(*reader_args(scratch, reader, path)), (2,))
        assert str(path) in line


def test_the_alias_bomb_of_the_report(scratch: Town) -> None:
    path = scratch.file("bomb.yaml", BILLION_LAUGHS)
    assert told(scratch.run("init", "--org", str(path)), (2,)) == (
        f"error: {path}:1: aliases are not allowed (&a0; write the value out where it is used)")


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ARGV_TEXT | st.dates()
    | st.datetimes() | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.integers(), children, max_size=4),
    max_leaves=12)
ORG_PLACES = [("town",), ("town", "id"), ("town", "timezone"), ("town", "party_secretary"),
              ("units",), ("units", 0), ("units", 0, "kind"), ("units", 0, "liaison"),
              ("people",), ("people", 0), ("people", 0, "id"), ("people", 0, "mobile"),
              ("groups",), ("groups", 0, "members"), ("groups", 0, "members", 0),
              ("groups", 0, "leader")]


@FUZZ
@given(place=st.sampled_from(ORG_PLACES), value=YAML_VALUES)
def test_an_org_with_a_value_of_any_type_anywhere(scratch: Town, place: tuple[Any, ...],
                                                  value: Any) -> None:
    path = scratch.file("fuzzed-org.yaml", yaml_of(org_with(place, value)))
    leader = place[-1] in ("liaison", "secretary")  # none at all: a rule of init, exit 1
    line = told(scratch.run(*reader_args(scratch, "org", path)), (1, 2) if leader else (2,))
    if line and leader and "every village needs" in line:
        assert value in (None, "", [], {}) or value is False, (place, value)


@FUZZ
@given(data=st.binary(max_size=300) | YAML_VALUES.map(yaml_of)
       | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_as_a_workflow(scratch: Town, data: bytes) -> None:
    path = scratch.file("fuzzed-workflow.yaml", data)
    told(scratch.run("workflow", "validate", str(path)), (2,))


@FUZZ
@given(data=st.binary(max_size=200) | YAML_VALUES.map(yaml_of)
       | st.dictionaries(st.sampled_from(["holidays", "workdays", "years"]),
                         st.lists(YAML_VALUES, max_size=3), min_size=1).map(yaml_of))
def test_any_bytes_as_a_holidays_file(scratch: Town, data: bytes) -> None:
    path = scratch.file("fuzzed-holidays.yaml", data)
    told(scratch.run(*reader_args(scratch, "holidays", path)), (0, 2))


@FUZZ
@given(place=st.sampled_from(["version", "initial", "states", "transitions", "escalation"]),
       value=YAML_VALUES)
def test_a_workflow_with_a_value_of_any_type(scratch: Town, place: str, value: Any) -> None:
    wf = yaml.safe_load(default_path().read_text(encoding="utf-8"))
    wf[place] = value
    path = scratch.file("fuzzed-workflow.yaml", yaml_of(wf))
    told(scratch.run("workflow", "validate", str(path)), (0, 2))


# --- the notification configuration (TOML) -------------------------------------------------------
BROKEN_TOML: dict[str, bytes] = {
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00",
    "gbk": '[briefing]\ncron = "30 8 * * mon"  # 例会\n'.encode("gbk"),
    "utf-16": b"\xff\xfe" + 'locale = "en"\n'.encode("utf-16-le"),
    "huge": b"# " + b"x" * (1 << 20) + b"\n",
    "not toml": b"locale = \n",
    "nul": b'locale = "en"\x00\n',
    "long int": b"[dispatch]\nbatch = " + b"9" * 5000 + b"\n",
    "nested arrays": b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "nested tables": b"a = " + b"{b = " * 3000 + b"1" + b"}" * 3000 + b"\n",
    "long dotted key": b".".join([b"a"] * 20_000) + b" = 1\n",
    "long header": b"[" + b".".join([b"a"] * 20_000) + b"]\n",
    "batch 2^63": b"[dispatch]\nbatch = 9223372036854775807\n",
    "max_tries 10^18": b"[dispatch]\nmax_tries = 1000000000000000000\n",
    "backoff inf": b"[dispatch]\nbackoff_seconds = inf\n",
    "backoff nan": b"[dispatch]\nbackoff_seconds = nan\n",
    "lease 1e308": b"[dispatch]\nlease_seconds = 1e308\n",
    "lease -inf": b"[dispatch]\nlease_seconds = -inf\n",
    "locale": b'locale = "fr"\n',
    "cron": b'[briefing]\ncron = "99 99 * * *"\n',
    "channel type": b'[channels.x]\ntype = "pigeon"\n',
    "routing": b"[routing]\nreminder = [1, 2]\n",
    "templates": b'templates = "/no/such/dir"\n',
}


@pytest.mark.parametrize("broken", list(BROKEN_TOML))
def test_a_broken_configuration_is_refused_on_one_line(town: Town, broken: str) -> None:
    path = town.file(f"{broken}.toml", BROKEN_TOML[broken])
    line = told(town.run("--config", str(path), "dispatch"), (2,))
    assert str(path) in line, line


def test_where_keys_are_past_deep_nesting_and_long_keys() -> None:
    deep = "a = " + "[" * 5000 + "]" * 5000 + "\n[t]\nc = [1, {d = 2}]\n"
    assert KeyLines(deep).line(("t", "c", 1, "d")) == 3
    long = "x = 1\n" + ".".join(["a"] * 20_000) + " = 1\ny = 2\n"
    lines = KeyLines(long)
    assert lines.too_long == 2 and lines.line(("y",)) == 3
    assert KeyLines("a.b.c = 1\n").too_long is None


def test_a_missing_configuration_or_a_folder_is_refused(town: Town) -> None:
    for path in (town.dir / "missing.toml", town.dir):
        assert str(path) in told(town.run("--config", str(path), "dispatch"), (2,))


TOML_SCALARS = st.one_of(
    st.integers().map(str), st.floats().map(lambda f: str(f).lower().replace("inf", "inf")),
    st.sampled_from(["inf", "-inf", "nan", "+nan", "true", "1e308", "9" * 30, "0x7fffffffffffffff",
                     "1979-05-27T07:32:00Z", "[]", "{}", '""']),
    ARGV_TEXT.map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
)


@FUZZ
@given(key=st.sampled_from(["max_tries", "backoff_seconds", "lease_seconds", "batch"]),
       value=TOML_SCALARS)
def test_any_dispatch_value(town: Town, key: str, value: str) -> None:
    path = town.file("fuzzed.toml", f"[dispatch]\n{key} = {value}\n".encode("utf-8",
                                                                           "surrogatepass"))
    told(town.run("--config", str(path), "dispatch"), (0, 2))


@FUZZ
@given(data=st.binary(max_size=300)
       | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_as_a_configuration(town: Town, data: bytes) -> None:
    path = town.file("fuzzed.toml", data)
    told(town.run("--config", str(path), "dispatch"), (0, 2))


# --- the ledger (CSV) ----------------------------------------------------------------------------
HEADER = "title,category,village,state,entered_at,assignee,plan,due\n"
BROKEN_CSV: dict[str, bytes] = {
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "utf-16": (HEADER + "t,food,v-shiban,,,,,\n").encode("utf-16"),
    "empty": b"",
    "header only": HEADER.encode(),
    "no village column": b"title,category\nt,food\n",
    "huge field": (HEADER + '"' + "x" * 200_000 + '",food,v-shiban,,,,,\n').encode(),
    "due 9999-12-30": (HEADER + "t,food,v-shiban,studied,,rc1,p,9999-12-30\n").encode(),
    "due 2020-02-30": (HEADER + "t,food,v-shiban,studied,,rc1,p,2020-02-30\n").encode(),
    "entered_at year 1": (HEADER + "t,food,v-shiban,,0001-01-01T00:00,,,\n").encode(),
    "entered_at 9999": (HEADER + "t,food,v-shiban,,9999-12-31T23:59,,,\n").encode(),
}


@pytest.mark.parametrize("broken", list(BROKEN_CSV))
def test_a_broken_ledger_is_refused_on_one_line(town: Town, broken: str) -> None:
    path = town.file(f"{broken}.csv", BROKEN_CSV[broken])
    told(town.run("--as", "sa1", "issue", "import", str(path)), (2,))


def test_a_control_character_in_a_ledger_is_refused_by_the_text_rule(town: Town) -> None:
    path = town.file("nul.csv", HEADER + "t\x00,food,v-shiban,,,,,\n")
    line = told(town.run("--as", "sa1", "issue", "import", str(path)), (1,))
    assert "nul.csv!A2 (title)" in line and "title contains a control character (U+0000)" in line


@FUZZ
@given(cells=st.lists(st.tuples(ARGV_TEXT, TIMES, DAYS), min_size=1, max_size=3))
def test_any_times_and_dates_in_a_ledger(town: Town, cells: list[tuple[str, str, str]]) -> None:
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["title", "category", "village", "state", "entered_at", "assignee", "plan",
                "due"])
    for title, entered, due in cells:
        w.writerow([title or "t", "food", "v-shiban", "studied", entered, "rc1", "p", due])
    path = town.file("fuzzed.csv", out.getvalue().encode("utf-8", "surrogatepass"))
    told(town.run("--as", "sa1", "issue", "import", str(path)))


# --- text that is not UTF-8 on the command line, a channel's wait beyond any clock ---------------
@pytest.mark.parametrize("args", [
    ["issue", "list", "--village", "\udcff"],
    ["issue", "list", "--state", "\udcff"],
    ["issue", "list", "--assignee", "\udcff"],
    ["escalation", "list", "--to", "\udcff"],
])
def test_an_argument_that_is_not_utf8(town: Town, args: list[str]) -> None:
    told(town.run(*args), (2,))


def test_a_channel_timeout_beyond_any_clock(town: Town) -> None:
    path = town.file("timeout.toml", '[channels.hook]\ntype = "webhook"\n'
                                     'url = "http://127.0.0.1:1/x"\ntimeout = 1e308\n')
    told(town.run("--config", str(path), "dispatch"), (2,))
