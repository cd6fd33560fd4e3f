"""The ledger out and back in: `ledger export` of a campaign, then `issue import` of that
workbook (or CSV) into a fresh town with the same org, gives the same issues — by title,
village, household, category and stage (voided issues are not in a ledger). On SQLite and
PostgreSQL (the town imported into)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

import cli
from tests.support import run_cli

NOW = "2020-10-30T18:00"


def issues_of(url: str) -> list[tuple[str, str, str | None, str, str]]:
    ran = run_cli("--db", url, "--json", "issue", "list")
    assert ran.code == 0, ran.err
    return sorted((i["title"], i["village"], i["household"], i["category"], i["state"])
                  for i in ran.json())


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The drill demo (60 issues in every stage, fixed on the spot, voided) and its org."""
    folder = tmp_path_factory.mktemp("roundtrip")
    url = f"sqlite:///{folder / 'demo.db'}"
    org = folder / "org.yaml"
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert cli.main(["--db", url, "--data-dir", str(folder / "data"), "demo", "--issues",
                         "60", "--write-org", str(org)]) == 0
    return url, org


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_then_import_gives_the_same_issues(campaign: tuple[str, Path], db_url: str,
                                                  tmp_path: Path, fmt: str) -> None:
    source, org = campaign
    out = tmp_path / f"ledger.{fmt}"
    ran = run_cli("--db", source, "--now", NOW, "ledger", "export", "--format", fmt,
                  "--out", str(out))
    assert ran.code == 0, ran.err
    assert run_cli("--db", db_url, "init", "--org", str(org), "--drill").code == 0
    ran = run_cli("--db", db_url, "--data-dir", str(tmp_path / "data"), "--as", "wang",
                  "--now", NOW, "issue", "import", str(out))
    assert ran.code == 0, ran.err
    before = issues_of(source)
    states = {s for *_, s in before}
    assert {"found", "reported", "studied", "rectified", "cleared"} <= states
    assert issues_of(db_url) == before
    assert len(before) >= 50
    assert run_cli("--db", db_url, "audit", "verify").code == 0
