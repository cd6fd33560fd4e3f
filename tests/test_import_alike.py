"""Rows alike of a ledger share what was worked out for the first of them (`import_rows`):
the same ledger imported with the shared answers and with each row worked out on its own gives
the same issues, the same `imported` events (payload bytes, times, states; the chain verifies)
and, for a sheet with mistakes, the same problems told at the same cells. On SQLite and
PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from engine.app import importing
from engine.domain.events import Event
from engine.domain.records import slotted
from engine.domain.sheet_values import remembered, yes_no
from engine.errors import BadOption, NotFound, RectifyError
from engine.store.history import PAYLOAD, payload_text
from tests.support import Scenario, scenario, write_org

HEADER = ("title,category,village,group,household,severity,description,listed,state,"
          "entered_at,assignee,plan,due")
KINDS = (
    # found: ids or labels, any severity, listed or not, a group or none
    "{t},housing_safety,v-shiban,sa-01,李某户,high,屋面,yes,,,,,",
    "{t},住房安全,石板村,,,,,,发现,,,,",
    "{t},饮水安全,c-jiezi,sa-01（组长自查一）,张三,一般,,否,,,,,",
    "{t},food,街子社区,,王五,low,需核实,no,found,,,,",
    # reported since a day of the ledger's
    "{t},compulsory_education,c-jiezi,,,,,,reported,2020年9月30日,,,",
    "{t},义务教育,v-shiban,sa-01,,medium,,yes,上报,2020/10/9,,,",
    # studied: an assignee, a plan (free text) and a due date
    "{t},basic_medical,v-shiban,,赵六,较重,,,研究,2020/10/9,rc1,补缴医保,10月20日",
    "{t},drinking_water,c-jiezi,,,high,,yes,studied,2020-10-09T10:00,整改一,修水管,2020/10/20",
)
BAD = (
    "{t},weather,v-shiban,,,,,,,,,,",  # no such category
    "{t},food,v-nowhere,,,,,,,,,,",  # no such village
    ",food,v-shiban,,,,,,,,,,",  # no title
    "{t},food,v-shiban,,,,,maybe,,,,,",  # not yes or no
    "{t},food,v-shiban,,,,,,reported,2020-13-40,,,",  # not a time
    "{t},food,v-shiban,,,,,,reported,2020-10-30,,,",  # in the future
    "{t},food,v-shiban,,,,,,studied,2020/10/9,,,",  # studied needs plan, assignee, due
    "{t},food,v-shiban,,,,,,studied,2020/10/9,rc1,修,2020/10/10",  # due not a working day
    "{t},food,c-jiezi,,,,,,,,某人,,",  # no such person
    "{t}\x07,weather,v-nowhere,,,,,,,,,,",  # three cells wrong: told in the columns' order
    "{t},food",  # a short row: no village
)


@pytest.fixture
def town(db_url: str, tmp_path: Path) -> Iterator[Scenario]:
    """The small org (石板村 listed, so that rows follow the listed ladder too), the clock on
    Monday 2020-10-12 10:00, the party secretary importing."""
    s = scenario(db_url, tmp_path / "data", actor="wang", now=datetime(2020, 9, 28, 9, 0))
    s.init(write_org(tmp_path / "org.yaml"))
    s.list_village("v-shiban", True)
    s.set_now(datetime(2020, 10, 12, 10, 0))
    yield s
    s.store.close()


def ledger(path: Path, kinds: tuple[str, ...], rows: int, seed: int = 14) -> Path:
    rng = random.Random(seed)
    lines = [HEADER]
    for k in range(rows):
        kind = rng.choice(kinds)
        lines.append(kind.format(t=f"第{k + 1}户 {rng.choice(('漏雨', '断水', '辍学'))}"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_rows_alike_make_the_same_issues_and_events(town: Scenario, tmp_path: Path) -> None:
    path = ledger(tmp_path / "ledger.csv", KINDS, 240)
    plain = importing.import_ledger(town.session(), path, alike=False)
    shared = importing.import_ledger(town.session(), path, alike=True)
    assert len(plain.issues) == len(shared.issues) == 240
    assert {i.state for i in plain.issues} == {"found", "reported", "studied"}
    assert {i.listed_by_village for i in plain.issues} == {True, False}
    for a, b in zip(plain.issues, shared.issues, strict=True):
        assert b.id == a.id + 240
        assert replace(b, id=a.id) == a
        assert town.show(b.id) == b and town.show(a.id) == a
        [ea] = town.history(a.id)
        [eb] = town.history(b.id)
        assert PAYLOAD.encode(eb.payload) == PAYLOAD.encode(ea.payload)
        assert (eb.type, eb.version, eb.actor, eb.at, eb.workflow, eb.to_state) == (
            ea.type, ea.version, ea.actor, ea.at, ea.workflow, ea.to_state)
    assert town.verify().ok


def test_a_workbooks_rows_alike_make_the_same_issues(town: Scenario, tmp_path: Path) -> None:
    """A workbook's cells may be flags, numbers and dates (True == 1): each read as it is."""
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["问题", "问题类别", "村", "挂牌", "整改状态", "进入状态时间", "责任人", "整改措施",
               "整改时限"])
    rng = random.Random(3)
    kinds: list[list[Any]] = [
        ["住房安全", "石板村", True, None, None, None, None, None],
        ["饮水安全", "c-jiezi", 1, "发现", None, None, None, None],
        ["food", "街子社区", 0, "上报", datetime(2020, 9, 30, 10, 0), None, None, None],
        ["义务教育", "v-shiban", "否", "研究", datetime(2020, 10, 9), "rc1", "补缴",
         datetime(2020, 10, 20)],
    ]
    for k in range(120):
        ws.append([f"第{k + 1}户", *rng.choice(kinds)])
    path = tmp_path / "ledger.xlsx"
    book.save(path)
    plain = importing.import_ledger(town.session(), path, alike=False)
    shared = importing.import_ledger(town.session(), path, alike=True)
    assert len(plain.issues) == len(shared.issues) == 120
    assert {i.listed for i in plain.issues} == {True, False}
    for a, b in zip(plain.issues, shared.issues, strict=True):
        assert replace(b, id=a.id) == a
        [ea], [eb] = town.history(a.id), town.history(b.id)
        assert PAYLOAD.encode(eb.payload) == PAYLOAD.encode(ea.payload)


def test_rows_alike_tell_the_same_problems(town: Scenario, tmp_path: Path) -> None:
    path = ledger(tmp_path / "bad.csv", KINDS + BAD, 200, seed=7)
    told: list[tuple[type[RectifyError], tuple[str, ...]]] = []
    for alike in (False, True):
        with pytest.raises(RectifyError) as e:
            importing.import_ledger(town.session(), path, alike=alike)
        told.append((type(e.value), e.value.details))
    assert told[0] == told[1]
    kind, details = told[0]
    assert kind is BadOption and len(details) > 40
    assert any("in the future" in d for d in details)
    assert any("needs plan, assignee, due" in d for d in details)
    assert any("village missing" in d for d in details)
    assert town.list() == []


def test_a_remembered_reader_asks_once_per_text_and_keeps_its_refusals() -> None:
    asked: list[object] = []

    def village(cell: object) -> str:
        asked.append(cell)
        if cell == "nowhere":
            raise NotFound("no village of that id or name")
        return f"id:{cell}"

    read = remembered(village)
    assert [read("a"), read("a"), read("b")] == ["id:a", "id:a", "id:b"]
    for _ in range(2):
        with pytest.raises(NotFound, match="no village"):
            read("nowhere")
    assert asked == ["a", "b", "nowhere"]
    assert [read(1), read(1)] == ["id:1", "id:1"]  # not text: read each time
    assert asked[-2:] == [1, 1]
    flag = remembered(yes_no)
    assert (flag(True), flag("1"), flag("否")) == (True, True, False)


def test_payload_text_is_the_stored_encoders_text() -> None:
    samples: list[dict[Any, Any]] = [
        {},
        {"title": "第1户 漏雨\n\"引号\"\u2028\t", "listed": True, "due_at": None, "n": 7},
        {"b": [1, 2.5, None, False, {"z": -0.0, "y": [float("inf"), 10**20]}], "a": "é"},
        {2: "numbers as keys", 10: {"channel": "cli", "user": "wang"}},
    ]
    for p in samples:
        assert payload_text(p) == PAYLOAD.encode(p)
    for encode in (payload_text, PAYLOAD.encode):
        with pytest.raises(TypeError):
            encode({"at": datetime(2020, 10, 12)})


def test_a_slotted_event_is_the_event_its_init_makes() -> None:
    values: list[Any] = [7, 1, "imported", "wang", datetime(2020, 10, 12, 2, 0, tzinfo=UTC),
                         {"title": "漏雨"}, "rectification@3", None, None, "found", None, None,
                         None, None]
    made = slotted(Event)(values)
    assert type(made) is Event and made == Event(*values)
    with pytest.raises(FrozenInstanceError):
        made.issue_id = 8  # type: ignore[misc]
    with pytest.raises(ValueError):
        slotted(Event)(values[:-1])
