"""`issue import` of a ledger as a township office keeps it: an Excel workbook with a merged
title row and a row of notes above Chinese headers in an order of its own, villages and people
by name, Chinese labels, dates written every way; a GBK CSV and a UTF-8 CSV with BOM; every
mistake of a sheet told at once, each at its cell, and nothing imported; --dry-run writes
nothing; --sheet picks a sheet. On SQLite and PostgreSQL where the database matters."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from engine.config.columns import default as default_aliases
from engine.domain.sheet_columns import FIELDS, columns_of, header_row
from engine.domain.sheet_values import Dates
from engine.errors import BadOption
from tests.support import SMALL_ORG, Ran, Scenario, run_cli, scenario, write_org

NOW = "2020-10-12T10:00"
"""The importer's moment (a Monday after the National Day holiday)."""

TITLE_ROW = "黄家镇问题整改台账"
NOTES_ROW = "填表说明：村写村名，责任人写姓名，日期可写 2020/9/29 或 9月29日"


@pytest.fixture
def town(db_url: str, tmp_path: Path) -> Iterator[Scenario]:
    """The small org, but qs2 has the same name as rc2 (整改二): two people of one name."""
    org: dict[str, Any] = copy.deepcopy(SMALL_ORG)
    [qs2] = [p for p in org["people"] if p["id"] == "qs2"]
    qs2["name"] = "整改二"
    s = scenario(db_url, tmp_path / "data", actor="wang", now=datetime(2020, 9, 28, 9, 0))
    s.init(write_org(tmp_path / "org.yaml", org))
    s.set_now(datetime(2020, 10, 12, 10, 0))
    URLS[id(s)] = db_url
    yield s
    del URLS[id(s)]
    s.store.close()


def run(town: Scenario, *args: str, who: str = "wang") -> Ran:
    return run_cli("--db", URLS[id(town)], "--data-dir", str(town.data_dir), "--as", who,
                   "--now", NOW, *args)


URLS: dict[int, str] = {}
"""Each scenario's database URL (for the CLI runs)."""


def count(town: Scenario) -> int:
    return len(town.list())


def workbook(path: Path, rows: list[list[Any]], sheet: str = "台账",
             before: tuple[str, ...] = ()) -> Path:
    """A workbook as offices make them: a merged title row, a row of notes, then `rows` (the
    header first); sheets named in `before` come first (a cover sheet, say)."""
    book = Workbook()
    first = book.active
    assert first is not None
    for k, name in enumerate(before):
        ws = first if k == 0 else book.create_sheet(name)
        ws.title = name
        ws.append(["本台账由黄家镇整改组填报"])
    ws = book.create_sheet(sheet) if before else first
    ws.title = sheet
    width = max(len(r) for r in rows)
    ws.append([TITLE_ROW])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.append([NOTES_ROW])
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    for r in rows:
        ws.append(r)
    book.save(path)
    return path


# Chinese headers in an order of the office's own (not the order of FIELDS)
HEADER = ["序号", "村（社区）", "户主姓名", "问题", "问题类别", "程度", "挂牌", "整改状态",
          "进入状态时间", "责任人", "整改措施", "整改时限", "自查组"]
GOOD = [
    [1, "石板村", "李四", "房屋漏雨", "住房安全", "严重", "是", "发现", None, None, None, None,
     "自查一"],
    [2, "街子社区", "张三", "饮水不稳定", "饮水安全", "一般", "否", "研究",
     datetime(2020, 10, 9, 10, 0), "整改一", "修水管", datetime(2020, 10, 20), "sa-01"],
    [3, "c-jiezi", None, "辍学风险", "义务教育", None, None, "上报", "2020年9月30日", None,
     None, None, "sa-01（组长自查一）"],
    [4, "石板村", "王五", "医保未参保", "基本医疗", "较重", "否", "研究", "2020/10/9", "rc2",
     "补缴医保", "10月20日", None],
    [5, "石板村", "赵六", "住房待鉴定", "housing_safety", "high", "yes", "studied",
     "2020-10-09T10:00", "整改一", "鉴定", "2020/10/20", None],
]


def test_an_office_workbook_goes_in(town: Scenario, tmp_path: Path) -> None:
    path = workbook(tmp_path / "ledger.xlsx", [HEADER, *GOOD])
    ran = run(town, "--json", "issue", "import", str(path))
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["imported"] == 5
    assert "warning" not in ran.err  # 序号 is ignored without a word
    got = {i.title: i for i in town.list()}
    leak, water, school, medical, house = (got[t] for t in (
        "房屋漏雨", "饮水不稳定", "辍学风险", "医保未参保", "住房待鉴定"))
    assert (leak.village, leak.category, leak.severity, leak.listed, leak.state,
            leak.household, leak.group) == ("v-shiban", "housing_safety", "high", True, "found",
                                            "李四", "sa-01")
    assert (water.village, water.category, water.severity, water.state, water.assignee,
            water.plan) == ("c-jiezi", "drinking_water", "low", "studied", "rc1", "修水管")
    tz = town.town_tz
    assert water.stage_entered_at == datetime(2020, 10, 9, 10, 0, tzinfo=tz)
    assert water.due_at == datetime(2020, 10, 21, tzinfo=tz)  # the end of Oct 20
    assert (school.village, school.state, school.group, school.severity) == (
        "c-jiezi", "reported", "sa-01", "medium")
    assert school.stage_entered_at == datetime(2020, 9, 30, tzinfo=tz)
    assert (medical.assignee, medical.state) == ("rc2", "studied")
    assert medical.stage_entered_at == datetime(2020, 10, 9, tzinfo=tz)
    assert medical.due_at == datetime(2020, 10, 21, tzinfo=tz)  # 10月20日: this year's
    assert (house.category, house.severity, house.listed, house.state) == (
        "housing_safety", "high", True, "studied")
    assert house.due_at == datetime(2020, 10, 21, tzinfo=tz)
    assert all(e.type == "imported" for i in got.values() for e in town.history(i.id))
    assert town.verify().ok


def test_a_gbk_csv_goes_in(town: Scenario, tmp_path: Path) -> None:
    path = tmp_path / "台账.csv"
    path.write_bytes(("问题,村,类别,户主,整改状态,挂牌\n"
                      "房屋漏雨,石板村,住房安全,李四,发现,是\n"
                      "饮水不稳定,街子社区,饮水安全,,上报,否\n").encode("gbk"))
    ran = run(town, "issue", "import", str(path), who="sa1")
    assert ran.code == 0, ran.err
    got = sorted((i.title, i.village, i.category, i.state, i.listed) for i in town.list())
    assert got == [("房屋漏雨", "v-shiban", "housing_safety", "found", True),
                   ("饮水不稳定", "c-jiezi", "drinking_water", "reported", False)]


def test_a_utf8_csv_with_bom_goes_in_under_a_title_row(town: Scenario, tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text(f"{TITLE_ROW},,\n"
                    "标题,行政村,问题类型,完成时限\n"
                    "房屋漏雨,石板村,住房安全,\n", encoding="utf-8-sig")
    ran = run(town, "issue", "import", str(path), who="sa1")
    assert ran.code == 0, ran.err
    [issue] = town.list()
    assert (issue.title, issue.village, issue.category) == ("房屋漏雨", "v-shiban",
                                                            "housing_safety")


MISTAKES: list[list[Any]] = [
    ["序号", "问题", "村", "类别", "责任人", "整改状态", "进入状态时间"],
    [1, "房屋漏雨", "石板村x", "住房安全", None, None, None],           # unknown village
    [2, "饮水不稳定", "石板村", "饮水安全", "整改二", "整改", "2020/10/9"],  # two 整改二
    [3, "辍学风险", "石板村", "义务教育", None, "上报", "2020/13/45"],  # no such date
    [4, "医保未参保", "街子社区", "吃饭", None, None, None],            # unknown category
    [5, None, "街子社区", "住房安全", None, None, None],                # no title
    [6, "好的一行", "石板村", "住房安全", None, None, None],            # good
]


def test_five_mistakes_are_told_at_once_and_nothing_is_imported(town: Scenario,
                                                                 tmp_path: Path) -> None:
    before = count(town)
    path = workbook(tmp_path / "ledger.xlsx", MISTAKES)
    ran = run(town, "issue", "import", str(path))
    assert ran.code == 2  # malformed cells (a date, a category, a title) among them
    assert ran.out == ""
    first, *lines = ran.err.splitlines()
    assert first == "error: 5 problems in ledger.xlsx, nothing imported"
    assert lines == [
        "  台账!C4 (村) '石板村x': no village of that id or name",
        "  台账!E5 (责任人) '整改二': 2 of that name: 整改二 (qs2, 黄家镇), 整改二 (rc2, 黄家镇)"
        " (give the id)",
        "  台账!G6 (进入状态时间) '2020/13/45': no such day (2020-09-29, 2020/9/29, 2020年9月29日"
        " or 9月29日)",
        "  台账!D7 (类别) '吃饭': no category of that name (one of 吃, 穿, 义务教育, 基本医疗,"
        " 住房安全, 饮水安全, 产业, 就业, 数据质量, 其他)",
        "  台账!B8 (问题) '': title missing",
    ]
    assert count(town) == before


def test_refusals_alone_exit_1(town: Scenario, tmp_path: Path) -> None:
    path = workbook(tmp_path / "ledger.xlsx", MISTAKES[:3])
    ran = run(town, "issue", "import", str(path))
    assert ran.code == 1, ran.err
    assert ran.err.splitlines()[0] == "error: 2 problems in ledger.xlsx, nothing imported"
    assert count(town) == 0


def test_a_dry_run_shows_and_writes_nothing(town: Scenario, tmp_path: Path) -> None:
    path = workbook(tmp_path / "ledger.xlsx", [HEADER, *GOOD])
    as_json = run(town, "--json", "issue", "import", "--dry-run", str(path))
    assert as_json.code == 0, as_json.err
    rows = json.loads(as_json.out)
    assert [r["row"] for r in rows] == [4, 5, 6, 7, 8]
    assert (rows[1]["title"], rows[1]["village"], rows[1]["category"], rows[1]["state"],
            rows[1]["assignee"]) == ("饮水不稳定", "c-jiezi", "drinking_water", "studied", "rc1")
    table = run(town, "issue", "import", "--dry-run", str(path))
    assert table.code == 0, table.err
    for shown in ("饮水不稳定", "街子社区", "饮水安全", "研究", "整改一", "试导入"):
        assert shown in table.out
    assert count(town) == 0
    with town.store.transaction(write=False) as tx:  # nor a history event
        head = tx.history.head()
    assert run(town, "issue", "import", "--dry-run", str(path)).code == 0
    with town.store.transaction(write=False) as tx:
        assert tx.history.head() == head
    assert run(town, "issue", "import", str(path)).code == 0
    assert count(town) == 5


def test_sheet_picks_a_sheet(town: Scenario, tmp_path: Path) -> None:
    path = workbook(tmp_path / "book.xlsx", [HEADER, *GOOD[:1]], sheet="台账",
                    before=("说明",))
    first = run(town, "issue", "import", str(path))
    assert first.code == 2 and "'说明': no header row" in first.err
    unknown = run(town, "issue", "import", "--sheet", "汇总", str(path))
    assert unknown.code == 2
    assert unknown.err == ("error: --sheet '汇总': no such sheet in book.xlsx (its sheets: 说明,"
                           " 台账)\n")
    assert count(town) == 0
    ran = run(town, "issue", "import", "--sheet", "台账", str(path))
    assert ran.code == 0, ran.err
    assert [i.title for i in town.list()] == ["房屋漏雨"]


# --- the columns and the values, without a database ----------------------------------------
EXPORT_HEADERS = {
    "问题": "title", "村": "village", "自查组": "group", "户主": "household", "类别": "category",
    "程度": "severity", "问题描述": "description", "挂牌": "listed", "状态": "state",
    "进入状态时间": "entered_at", "责任人": "assignee", "整改措施": "plan", "整改时限": "due",
    "验收人": "verified_by", "验收时间": "verified_at",
}


def test_the_export_headers_name_every_field_and_its_extras_are_ignored_silently() -> None:
    header = ["序号", "编号", "灯", *EXPORT_HEADERS, "到期", "逾期天数"]
    found = columns_of(header, default_aliases())
    assert {name: header[k] for name, k in found.index.items()} == {
        v: k for k, v in EXPORT_HEADERS.items()}
    assert set(found.index) == set(FIELDS)
    assert found.unknown == () and found.repeated == ()


def test_problem_description_is_the_title_only_without_a_title_column() -> None:
    aliases = default_aliases()
    both = columns_of(["问题描述", "村", "问题"], aliases)
    assert (both.index["title"], both.index["description"]) == (2, 0)
    alone = columns_of(["问题描述", "村"], aliases)
    assert alone.index == {"title": 0, "village": 1}


def test_the_header_row_is_found_under_a_title_and_notes() -> None:
    rows = [(1, (TITLE_ROW, None, None)), (2, (NOTES_ROW, None)),
            (3, ("户主", "问 题", "村(社区)")), (4, ("李四", "漏雨", "石板村"))]
    found = header_row(rows, default_aliases())
    assert found is not None and found.row == 3
    assert found.index == {"household": 0, "title": 1, "village": 2}
    assert header_row(rows[:2], default_aliases()) is None


@pytest.mark.parametrize(("cell", "day"), [
    (datetime(2020, 9, 29), date(2020, 9, 29)),
    (date(2020, 9, 29), date(2020, 9, 29)),
    ("2020-09-29", date(2020, 9, 29)),
    ("2020/9/29", date(2020, 9, 29)),
    ("2020.9.29", date(2020, 9, 29)),
    ("2020年9月29日", date(2020, 9, 29)),
    ("9月29日", date(2021, 9, 29)),  # the default year
    ("20200929", date(2020, 9, 29)),
])
def test_dates_as_offices_write_them(cell: Any, day: date) -> None:
    assert Dates(2021, 1970, 2199).day(cell) == day


@pytest.mark.parametrize("cell", ["2020/13/45", "9月31日", "明天", "2020-9", "1800/1/1", 3.5])
def test_dates_that_are_not(cell: Any) -> None:
    with pytest.raises(BadOption):
        Dates(2020, 1970, 2199).day(cell)


def test_moments_as_offices_write_them() -> None:
    dates = Dates(2020, 1970, 2199)
    assert dates.moment("2020/9/29 10:30") == datetime(2020, 9, 29, 10, 30)
    assert dates.moment("9月29日") == datetime(2020, 9, 29)
    assert dates.moment(datetime(2020, 9, 29, 8, 0)) == datetime(2020, 9, 29, 8, 0)
    assert dates.moment("2020-09-29T10:00").hour == 10


def test_a_date_without_a_year_is_in_the_campaigns_year() -> None:
    """9月29日 in a town whose campaign runs 2020-11-15 → 2021-02-20: days from 11月15日 on are
    in 2020, days before it in 2021; without a campaign, the year of the session's moment."""
    import copy

    import yaml

    from engine.config.org import parse
    from engine.domain.sheet_values import default_year, year_turns
    from tests.support import SMALL_ORG

    body = copy.deepcopy(SMALL_ORG)
    plain = parse(yaml.safe_dump(body, allow_unicode=True))
    assert default_year(plain, datetime(2022, 3, 1)) == 2022 and year_turns(plain) is None
    body["campaign"] = {"name": "冬春攻坚", "start": "2020-11-15", "end": "2021-02-20"}
    org = parse(yaml.safe_dump(body, allow_unicode=True))
    dates = Dates(default_year(org, datetime(2022, 3, 1)), 1970, 2199, year_turns(org))
    assert dates.day("12月1日") == date(2020, 12, 1)
    assert dates.day("11月15日") == date(2020, 11, 15)
    assert dates.day("1月5日") == date(2021, 1, 5)
    assert dates.day("2021/1/5") == date(2021, 1, 5)
