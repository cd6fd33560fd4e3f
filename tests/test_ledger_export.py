"""`rectify ledger export` and the web ledger's export button: the workbook an office expects
(title, headers, frozen header, filter, dates as dates, the light as a fill, the summary with
its counts, clearance rate and chart), CSV with a BOM and formulas made inert, the ledger as of
a moment equal to `audit replay`, filters, refusals that leave no file, and the download for a
signed-in person only. Data: the demo campaign (SQLite and PostgreSQL) and a small town."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

import cli
from engine.app import accounts, issues
from engine.clock import DrillClock
from engine.domain.accounts import CHEAP
from engine.domain.issue import Move, NewIssue
from engine.ledger_sheet import FILLS, HEADERS
from engine.web.app import create_app
from tests.support import Scenario, run_cli, scenario

NOW = "2020-10-30T18:00"
"""The end of the demo's campaign (town time): every light is told at this moment."""
AS_OF = "2020-10-09T12:00"
VOIDED = "voided"


def make_demo(url: str, folder: Path, count: int) -> str:
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert cli.main(["--db", url, "--data-dir", str(folder / "data"), "--json", "demo",
                         "--issues", str(count)]) == 0
    return url


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("ledger")
    return make_demo(f"sqlite:///{folder / 'demo.db'}", folder, 120)


@pytest.fixture
def any_demo(db_url: str, tmp_path: Path) -> str:
    """A smaller demo on each back end."""
    return make_demo(db_url, tmp_path, 40)


def export(url: str, out: Path, *more: str, fmt: str = "xlsx") -> None:
    ran = run_cli("--db", url, "--now", NOW, "ledger", "export", "--format", fmt,
                  "--out", str(out), *more)
    assert ran.code == 0, ran.err


def direct_counts(url: str) -> Counter[tuple[str, str]]:
    """(village name, state) → issues, counted by SQL on the tables, the voided left out."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return Counter({(str(name), str(state)): int(n) for name, state, n in conn.execute(
                text("SELECT u.name, i.state, count(*) FROM issues i JOIN units u"
                     " ON u.id = i.village WHERE i.state <> 'voided'"
                     " GROUP BY u.name, i.state"))})
    finally:
        engine.dispose()


STAGES = {"found": "发现", "reported": "上报", "studied": "研究", "rectified": "整改",
          "verified": "验收", "cleared": "销号"}


def ledger_rows(path: Path) -> list[dict[str, object]]:
    ws = load_workbook(path)["台账"]
    rows = list(ws.iter_rows(min_row=4, values_only=True))
    return [dict(zip(HEADERS, r, strict=True)) for r in rows]


# --- the workbook -------------------------------------------------------------------------
def test_the_workbook_is_what_an_office_expects(demo: str, tmp_path: Path) -> None:
    out = tmp_path / "台账.xlsx"
    export(demo, out)
    wb = load_workbook(out)
    assert wb.sheetnames == ["台账", "汇总"]
    ws = wb["台账"]
    assert ws["A1"].value == "黄家镇问题整改台账"
    assert "A1:T1" in {str(r) for r in ws.merged_cells.ranges}
    assert str(ws["A2"].value).startswith("导出时间：")
    assert tuple(c.value for c in ws[3]) == HEADERS
    assert ws.freeze_panes == "A4"
    assert ws.auto_filter.ref == f"A3:T{ws.max_row}"
    assert ws.column_dimensions["C"].width and ws.column_dimensions["C"].width > 20
    body = list(ws.iter_rows(min_row=4))
    assert len(body) == sum(direct_counts(demo).values())
    col = {h: k for k, h in enumerate(HEADERS)}
    entered = [r[col["进入状态时间"]] for r in body]
    assert all(isinstance(c.value, datetime) and c.number_format == "yyyy-mm-dd hh:mm"
               for c in entered)
    rectify_by = [r[col["整改时限"]] for r in body if r[col["整改时限"]].value is not None]
    assert rectify_by and all(isinstance(c.value, datetime) and c.number_format == "yyyy-mm-dd"
                              for c in rectify_by)
    seen: Counter[str] = Counter()
    for r in body:
        light, fill = r[col["灯"]].value, r[col["灯"]].fill
        label = {"红": "red", "黄": "yellow", "绿": "green"}.get(str(light))
        if label is None:
            assert light is None and fill.fill_type is None
            continue
        seen[label] += 1
        assert fill.fill_type == "solid" and fill.fgColor.rgb.endswith(FILLS[label])
        overdue = r[col["逾期天数"]].value
        assert (overdue is not None) == (label == "red")
    assert seen["red"] and seen["green"]
    # names and labels, never ids (but the issue's number and its group's)
    values = {v for r in ws.iter_rows(min_row=4, values_only=True) for v in r}
    assert not values & {"v-shiban", "found", "cleared", "housing_safety", "high"}
    assert "销号" in values and "石板村" in values


def test_the_verifier_and_the_rectification_deadline_come_from_the_history(
        demo: str, tmp_path: Path) -> None:
    out = tmp_path / "l.xlsx"
    export(demo, out)
    rows = ledger_rows(out)
    engine = create_engine(demo)
    with engine.connect() as conn:
        verifiers = {int(i): str(a) for i, a in conn.execute(text(
            "SELECT issue_id, actor FROM history WHERE transition = 'verify'"
            " ORDER BY issue_id, version"))}
        names = {str(i): str(n) for i, n in conn.execute(text("SELECT id, name FROM people"))}
    engine.dispose()
    checked = 0
    for r in rows:
        if r["状态"] in ("验收", "销号"):
            assert r["验收人"] == names[verifiers[int(str(r["编号"]))]]
            assert isinstance(r["验收时间"], datetime)
            checked += 1
        else:
            assert r["验收人"] is None and r["验收时间"] is None
        if r["状态"] == "研究":
            assert isinstance(r["整改时限"], datetime)
    assert checked


def test_the_summary_counts_the_ledger_and_its_clearance_rate(any_demo: str,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "l.xlsx"
    export(any_demo, out)
    ws = load_workbook(out)["汇总"]
    header = [c.value for c in ws[3]]
    assert header == ["村", *STAGES.values(), "合计", "销号率"]
    direct = direct_counts(any_demo)
    lines = {str(r[0]): r for r in ws.iter_rows(min_row=4, values_only=True) if r[0]}
    assert "全镇" in lines
    for name, line in lines.items():
        counts = dict(zip(STAGES, line[1:7], strict=True))
        if name == "全镇":
            want = {st: sum(n for (_, s), n in direct.items() if s == st) for st in STAGES}
        else:
            want = {st: direct.get((name, st), 0) for st in STAGES}
        assert counts == want, name
        total = sum(want.values())
        assert line[7] == total
        if total:
            assert line[8] == pytest.approx(want["cleared"] / total)
        else:
            assert line[8] is None
    charts: list[Any] = getattr(ws, "_charts")  # noqa: B009 (openpyxl keeps them so)
    assert len(charts) == 1
    chart = charts[0]
    assert chart.tagname == "barChart" and chart.grouping == "stacked"
    assert len(chart.series) == len(STAGES)


# --- CSV ----------------------------------------------------------------------------------
START = datetime(2020, 9, 28, 1, 0, tzinfo=UTC)  # 09:00 town time, a Monday


@pytest.fixture
def town(db_url: str, org_file: Path, tmp_path: Path) -> Iterator[Scenario]:
    s = scenario(db_url, tmp_path / "data", actor="wang", now=START)
    s.init(org_file)
    yield s
    s.store.close()


def added(town: Scenario, title: str, village: str = "v-shiban", report: bool = True) -> int:
    s = town.app.session("sa1", START)
    issue = issues.add(s, NewIssue(title=title, category="housing_safety", village=village,
                                   household="=cmd|' /C calc'!A0"))
    if report:
        issues.move(town.app.session("sa1", START + timedelta(minutes=5)),
                    Move(issue_id=issue.id, transition="report"))
    return issue.id


def test_csv_has_a_bom_the_headers_and_formulas_made_inert(town: Scenario, db_url: str,
                                                          tmp_path: Path) -> None:
    added(town, "=HYPERLINK(\"http://evil\",\"点我\")")
    added(town, "+1 房屋漏雨")
    out = tmp_path / "l.csv"
    export(db_url, out, fmt="csv")
    raw = out.read_bytes()
    assert raw.startswith("\ufeff".encode())
    lines = csv_lines(out)
    assert lines[0] == list(HEADERS)
    first, second = (dict(zip(HEADERS, line, strict=True)) for line in lines[1:])
    assert first["问题"] == "'=HYPERLINK(\"http://evil\",\"点我\")"
    assert second["问题"] == "'+1 房屋漏雨"
    assert first["户主"] == "'=cmd|' /C calc'!A0"
    assert first["村"] == "石板村" and first["状态"] == "上报" and first["挂牌"] == "否"


def csv_lines(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


# --- as of a moment -----------------------------------------------------------------------
def test_as_of_is_the_replay_of_the_history(any_demo: str, tmp_path: Path) -> None:
    out = tmp_path / "l.xlsx"
    export(any_demo, out, "--as-of", AS_OF)
    ran = run_cli("--db", any_demo, "--json", "audit", "replay", "--as-of", AS_OF)
    assert ran.code == 0, ran.err
    replayed = {r["id"]: r["state"] for r in ran.json() if r["state"] != VOIDED}
    got = {int(str(r["编号"])): str(r["状态"]) for r in ledger_rows(out)}
    assert got == {k: STAGES[v] for k, v in replayed.items()}
    assert "截至：2020-10-09 12:00" in str(load_workbook(out)["台账"]["A2"].value)
    now = tmp_path / "now.xlsx"
    export(any_demo, now)
    assert {int(str(r["编号"])): r["状态"] for r in ledger_rows(now)} != got


def test_filters_by_village_name_or_id_and_stage_label_or_id(demo: str, tmp_path: Path
                                                             ) -> None:
    out = tmp_path / "l.csv"
    export(demo, out, "--village", "石板村", "--village", "v-heping", "--state", "销号",
           "--state", "studied", fmt="csv")
    lines = csv_lines(out)[1:]
    direct = direct_counts(demo)
    assert len(lines) == sum(direct[(v, s)] for v in ("石板村", "和平村")
                             for s in ("cleared", "studied"))
    for cells in lines:
        assert cells[3] in ("石板村", "和平村") and cells[10] in ("销号", "研究")
    asof = tmp_path / "a.csv"
    export(demo, asof, "--as-of", AS_OF, "--village", "石板村", fmt="csv")
    assert all(cells[3] == "石板村" for cells in csv_lines(asof)[1:])


@pytest.mark.parametrize("bad", [
    ("--village", "没有这个村"),
    ("--state", "完成"),
    ("--as-of", "yesterday-ish"),
    ("--format", "pdf"),
])
def test_bad_options_exit_2_on_one_line_and_leave_no_file(demo: str, tmp_path: Path,
                                                          bad: tuple[str, str]) -> None:
    out = tmp_path / "l.xlsx"
    args = ["--db", demo, "ledger", "export", "--out", str(out)]
    if bad[0] != "--format":
        args += ["--format", "xlsx"]
    ran = run_cli(*args, *bad)
    assert ran.code == 2
    assert ran.err.startswith("error: ") and ran.err.count("\n") == 1, ran.err
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_keeps_what_was_there(demo: str, tmp_path: Path) -> None:
    out = tmp_path / "l.xlsx"
    out.write_bytes(b"before")
    ran = run_cli("--db", demo, "ledger", "export", "--format", "xlsx", "--out", str(out),
                  "--state", "nothing")
    assert ran.code == 2
    assert out.read_bytes() == b"before"
    missing = tmp_path / "no" / "such" / "l.xlsx"
    ran = run_cli("--db", demo, "ledger", "export", "--format", "csv", "--out", str(missing))
    assert ran.code == 2 and ran.err.startswith("error: cannot write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.xlsx"]


# --- the web ledger's button --------------------------------------------------------------
PASSWORD = "correct horse 2020"


def test_the_ledger_page_downloads_its_view_for_a_signed_in_person(
        sqlite_url: str, org_file: Path, tmp_path: Path) -> None:
    town = scenario(sqlite_url, tmp_path / "data", actor="wang", now=START)
    town.init(org_file)
    town.app.account_policy = CHEAP
    town.app.clock = DrillClock(START + timedelta(hours=1))
    accounts.set_password(town.app.session(), "wang", PASSWORD)
    first = added(town, "房屋漏雨")
    added(town, "饮水不达标", report=False)
    web = TestClient(create_app(town.app), follow_redirects=False)
    refused = web.get("/ledger/export?format=xlsx")
    assert refused.status_code in (303, 401) and not refused.content.startswith(b"PK")
    assert web.post("/login", data={"who": "wang", "password": PASSWORD,
                                    "next": "/"}).status_code == 303
    page = web.get("/ledger?state=reported").text
    assert "/ledger/export?format=xlsx&amp;state=reported" in page.replace(
        "state=reported&amp;format=xlsx", "format=xlsx&amp;state=reported")
    got = web.get("/ledger/export?format=xlsx&state=reported")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/vnd.openxmlformats")
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    path = tmp_path / "got.xlsx"
    path.write_bytes(got.content)
    rows = ledger_rows(path)
    assert [r["编号"] for r in rows] == [first]
    csv_got = web.get("/ledger/export?format=csv")
    assert csv_got.content.startswith("\ufeff".encode())
    assert len(list(csv.reader(io.StringIO(csv_got.content.decode("utf-8-sig"))))) == 3
    assert web.get("/ledger/export?format=pdf").status_code == 422
    town.store.close()


def test_dates_in_the_csv_read_as_dates(demo: str, tmp_path: Path) -> None:
    out = tmp_path / "l.csv"
    export(demo, out, fmt="csv")
    for cells in csv_lines(out)[1:21]:
        datetime.strptime(cells[11], "%Y-%m-%d %H:%M")
        if cells[14]:
            date.fromisoformat(cells[14])


def test_an_out_file_in_no_folder_is_refused_before_the_ledger_is_read(
        demo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine import ledger_sheet

    read: list[int] = []
    real = ledger_sheet.xlsx

    def counting(*args: object, **kwargs: object) -> int:
        read.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger_sheet, "xlsx", counting)
    out = tmp_path / "no-such-folder" / "台账.xlsx"
    ran = run_cli("--db", demo, "--now", NOW, "ledger", "export", "--format", "xlsx",
                  "--out", str(out))
    assert ran.code == 2 and ran.err.startswith("error: cannot write ")
    assert "no such folder" in ran.err
    assert read == [] and not out.parent.exists()
