"""`audit export --format csv` is safe to open in a spreadsheet: UTF-8 with a byte order mark,
and no cell that a spreadsheet would take for a formula (OWASP, CSV injection)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine import reports
from engine.domain.events import Event
from tests.support import SMALL_ORG, run_cli, scenario, write_org

HYPERLINK = '=HYPERLINK("http://x","y")'
AT = datetime(2020, 9, 28, 1, 0, tzinfo=UTC)


def event(**given: Any) -> Event:
    fields: dict[str, Any] = {
        "issue_id": 1, "version": 1, "type": "created", "actor": "sa1", "at": AT,
        "payload": {"title": "房屋漏雨"}, "workflow": "rectification@1", "to_state": "found",
        "recorded_at": AT, "seq": 1, "prev_hash": "0" * 64, "hash": "f" * 64}
    fields.update(given)
    return Event(**fields)


def exported(events: list[Event]) -> str:
    return "".join(reports.csv_lines(events, UTC))


def rows_of(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


# --- the cells -------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [HYPERLINK, "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx",
                                   "=1", "-"])
def test_a_cell_that_looks_like_a_formula_gets_a_quote(value: str) -> None:
    assert reports.csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["房屋漏雨", "sa1", "2020-09-28T09:00:00+08:00",
                                   '{"title":"=x"}', " =x", "'=x", ""])
def test_other_text_stays(value: str) -> None:
    assert reports.csv_cell(value) == value


def test_numbers_the_program_writes_stay_numbers_and_none_is_empty() -> None:
    assert reports.csv_cell(7) == 7
    assert reports.csv_cell(None) == ""


def test_the_export_starts_with_the_bom_and_quotes_a_formula_in_any_text_cell() -> None:
    text = exported([
        event(),
        event(seq=2, version=2, type="transition", transition="+report", from_state="found",
              to_state="@reported", actor=HYPERLINK, workflow="-wf@1",
              payload={"note": HYPERLINK}),
    ])
    first, second = rows_of(text)
    assert first["seq"] == "1" and first["actor"] == "sa1"
    assert (second["actor"], second["transition"], second["to_state"], second["workflow"]) == (
        "'" + HYPERLINK, "'+report", "'@reported", "'-wf@1")
    assert json.loads(second["payload"]) == {"note": HYPERLINK}, "the payload stays exact JSON"
    assert text.count("\ufeff") == 1


def test_an_empty_export_is_the_bom_and_the_header() -> None:
    assert exported([]) == "\ufeff" + ",".join(reports.CSV_COLUMNS) + "\n"


# --- through the command ---------------------------------------------------------------------
def test_audit_export_csv_is_bom_utf8_and_inert(db_url: str, tmp_path: Path) -> None:
    """A person whose id is a formula adds an issue whose title is one: the actor cell goes out
    as text (`'=HYPERLINK(…)`), the title inside the payload's JSON stays exact (its cell begins
    with `{`), and the file starts with the UTF-8 byte order mark."""
    org: dict[str, Any] = json.loads(json.dumps(SMALL_ORG))
    org["people"].append({"id": HYPERLINK, "name": "公式", "unit": "huangjia"})
    for group in org["groups"]:
        if group["id"] == "sa-01":
            group["members"].append(HYPERLINK)
    svc = scenario(db_url, tmp_path / "data", actor="wang",
                   now=datetime(2020, 9, 28, 9, 0))
    try:
        svc.init(write_org(tmp_path / "org.yaml", org))
    finally:
        svc.store.close()
    base = ["--db", db_url, "--data-dir", str(tmp_path / "data"), "--now", "2020-09-28T10:00"]
    ran = run_cli(*base, "--as", HYPERLINK, "issue", "add", "--title", HYPERLINK,
                  "--category", "food", "--village", "v-shiban")
    assert ran.code == 0, ran.err
    out = tmp_path / "x.csv"
    ran = run_cli(*base, "audit", "export", "--format", "csv", "--out", str(out))
    assert (ran.code, ran.err) == (0, "")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfseq,issue_id,")
    rows = rows_of(raw.decode("utf-8"))
    [row] = [r for r in rows if r["type"] == "created"]
    assert row["actor"] == "'" + HYPERLINK
    assert json.loads(row["payload"])["title"] == HYPERLINK
    for cell in (c for r in rows for c in r.values()):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    stdout = run_cli(*base, "audit", "export", "--format", "csv")
    assert stdout.code == 0 and stdout.out.startswith("\ufeffseq,")
