"""A deadline's load at a size the suite can afford: 5,000 issues reported at once, all their
levels due in one sweep, on SQLite and PostgreSQL; and what `escalate` prints for a large sweep.

The sweep works in batches (engine.app.sweep): these tests hold it to what the one-by-one
sweep did: each (issue, stage visit, level) raised once, in ladder order, one chained
`escalated` event each, one outbox row per recipient (with the recipients the pure rule
`owners.reached` gives, computed here apart from the sweep), the pointers moved on, a second
sweep empty, `audit verify` sound.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from engine.app import audit
from engine.app.sweep import Tally, sweep
from engine.domain import ladder, owners
from engine.domain.issue import Edit
from tests.support import Scenario, run_cli, scenario, write_org

INIT_AT = datetime(2020, 9, 28, 9, 0)
REPORTED_AT = datetime(2020, 9, 30, 10, 0)
SWEEP_AT = datetime(2020, 10, 21, 9, 0)
"""Town time: every level of an issue reported on 2020-09-30 has come by then."""
LEVELS = ("reminder", "interview", "accountability")
DUE = 5_000
SHOWN = 50
"""Rows of the table `escalate` prints without --all (cli.SWEEP_ROWS)."""


def seeded(url: str, folder: Path, count: int) -> tuple[Scenario, list[int]]:
    """init at INIT_AT; `count` issues imported as reported on 2020-09-30 10:00, the odd ones
    in 石板村, the even ones in 街子社区."""
    svc = scenario(url, folder / "data", actor="wang", now=INIT_AT)
    svc.init(write_org(folder / "org.yaml"))
    sheet = folder / "ledger.csv"
    with sheet.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["title", "category", "village", "group", "state", "entered_at"])
        for n in range(count):
            w.writerow([f"饮水管道破损 {n}", "drinking_water",
                        "v-shiban" if n % 2 else "c-jiezi", "sa-01", "reported",
                        "2020-09-30 10:00"])
    svc.actor, svc.now = "sa1", REPORTED_AT
    ids = svc.import_csv(sheet)
    assert len(ids) == count
    svc.actor, svc.now = None, SWEEP_AT
    return svc, ids


def test_5000_due_at_once_raise_each_level_once_told_to_each_recipient(
        db_url: str, tmp_path: Path) -> None:
    svc, ids = seeded(db_url, tmp_path, DUE)
    try:
        s = svc.app.session(at=SWEEP_AT, channel="scheduler")
        batches = list(sweep(s, 200))
        raised = [e for b in batches for e in b.raised]
        assert len(batches) == DUE // 200
        assert max(len(b.raised) for b in batches) == 3 * 200
        assert Counter(e.level for e in raised) == {level: DUE for level in LEVELS}
        assert {(e.issue_id, e.level) for e in raised} == {(i, lv) for i in ids for lv in LEVELS}
        villages = {i: b.villages[i] for b in batches for i in b.villages}
        assert Counter(villages.values()) == {"v-shiban": DUE // 2, "c-jiezi": DUE // 2}
        # a second sweep: nothing
        assert list(sweep(svc.app.session(at=SWEEP_AT, channel="scheduler"))) == []

        # the recipients and subjects, worked out here by the pure rule for a few issues
        sample = [svc.show(i) for i in (ids[0], ids[1], ids[DUE // 2], ids[-1])]
        with s.transaction(write=False) as tx:
            org, cal = s.org(tx), s.calendar(tx)
            for issue in sample:
                assert issue.next_escalation_at is None and issue.version == 1 + len(LEVELS)
                wf = s.workflow(tx, issue.workflow)
                interviewed: tuple[str, ...] = ()
                for rung, _moment in ladder.plan(cal, wf.ladder, issue.due_at,
                                                 issue.supervised):
                    want = owners.reached(org, wf, issue, rung, interviewed)
                    [got] = [e for e in raised
                             if e.issue_id == issue.id and e.level == rung.level]
                    assert (got.recipients, got.subjects) == want
                    if rung.level == "interview":
                        interviewed = got.subjects
        by_id = {e.id: e for e in raised}
    finally:
        svc.close()

    db = create_engine(db_url)
    try:
        with db.connect() as conn:
            rows = conn.execute(text(
                "SELECT id, issue_id, level FROM escalations ORDER BY id")).all()
            events = conn.execute(text(
                "SELECT issue_id, version, payload FROM history WHERE type = 'escalated'"
                " ORDER BY seq")).all()
            outbox = conn.execute(text(
                "SELECT key, kind, channel, person, issue_id, escalation_id, context, status"
                " FROM outbox ORDER BY id")).all()
    finally:
        db.dispose()
    # exactly once, in the database as handed back
    assert len(rows) == len(by_id) == 3 * DUE
    assert {(r[0], r[1], r[2]) for r in rows} == {(e.id, e.issue_id, e.level)
                                                  for e in by_id.values()}
    # each issue's events: one per level, in ladder order, versions 2, 3, 4, ids rising
    per_issue: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    for issue_id, version, payload in events:
        p = json.loads(payload)
        per_issue[int(issue_id)].append((int(version), str(p["level"]), int(p["escalation"])))
    assert len(per_issue) == DUE
    for issue_id, seen in per_issue.items():
        assert [v for v, _, _ in seen] == [2, 3, 4], issue_id
        assert [lv for _, lv, _ in seen] == list(LEVELS), issue_id
        assert [x for _, _, x in seen] == sorted(x for _, _, x in seen), issue_id
    # the outbox: one row per recipient of each escalation, not yet routed, its key and kind
    told: dict[int, list[str]] = defaultdict(list)
    for key, kind, channel, person, issue_id, escalation_id, context, status in outbox:
        e = by_id[int(escalation_id)]
        assert (kind, channel, status, int(issue_id)) == (e.level, None, "pending", e.issue_id)
        assert key == f"escalation:{e.id}:{person}"
        ctx = json.loads(context)
        assert ctx["escalation"]["id"] == e.id and ctx["issue"]["id"] == e.issue_id
        assert list(ctx)[-1] == "recipient" and ctx["recipient"]["name"]
        told[e.id].append(person)
    assert {x: sorted(p) for x, p in told.items()} == {
        e.id: sorted(e.recipients) for e in by_id.values()}
    assert len(outbox) == sum(len(e.recipients) for e in by_id.values())

    # the history chained and every event within the rules
    svc = scenario(db_url, tmp_path / "data", actor="wang", now=SWEEP_AT)
    try:
        verdict = audit.verify(svc.session())
    finally:
        svc.close()
    assert verdict.ok, verdict


def test_a_sweep_passes_issues_it_cannot_raise_on_instead_of_claiming_them_again(
        tmp_path: Path) -> None:
    """Issues whose last event is dated after the sweep's moment stay due; with a batch of
    one the sweep goes past them (the keyset) and ends, raising what it may on the others."""
    svc, ids = seeded(f"sqlite:///{tmp_path / 'rectify.db'}", tmp_path, 4)
    try:
        svc.actor, svc.now = "wang", datetime(2020, 10, 20, 9, 0)
        from engine.app import corrections

        for i in ids[:2]:  # edited on the 20th: a sweep dated the 15th has nothing for them
            corrections.edit(svc.session(), Edit(issue_id=i, reason="typo", title=f"改 {i}"))
        s = svc.app.session(at=datetime(2020, 10, 15, 9, 0), channel="scheduler")
        raised = [e for b in sweep(s, 1) for e in b.raised]
        assert {e.issue_id for e in raised} == set(ids[2:])
        assert {e.level for e in raised} == {"reminder", "interview"}
        assert all(svc.show(i).version == 2 for i in ids[:2])
    finally:
        svc.close()


def test_the_tally_keeps_counts_and_only_the_first_rows() -> None:
    from engine.app.sweep import Batch
    from engine.domain.escalation import Escalation

    at = datetime(2020, 10, 21, 1, 0, tzinfo=UTC)

    def esc(n: int, level: str) -> Escalation:
        return Escalation(n, n // 3 + 1, "reported", 1, level, at, at, at, ("rc1",), "open")

    tally = Tally(limit=4)
    for start in (0, 3, 6):
        tally.add(Batch(tuple(esc(start + k, LEVELS[k]) for k in range(3)),
                        {start // 3 + 1: "v-shiban" if start else "c-jiezi"}))
    assert tally.total == 9 and tally.more == 5 and [e.id for e in tally.shown] == [0, 1, 2, 3]
    assert tally.by_level == {lv: 3 for lv in LEVELS}
    assert tally.by_village == {"c-jiezi": {lv: 1 for lv in LEVELS},
                                "v-shiban": {lv: 2 for lv in LEVELS}}
    assert tally.levels() == list(LEVELS)


# --- what escalate prints ---------------------------------------------------------------------
@pytest.fixture
def swept(tmp_path: Path) -> tuple[str, list[int]]:
    """An SQLite database with 120 issues reported at once (360 escalations due)."""
    url = f"sqlite:///{tmp_path / 'rectify.db'}"
    svc, ids = seeded(url, tmp_path, 120)
    svc.close()
    return url, ids


def cli(url: str, folder: Path, *args: str) -> Any:
    return run_cli("--db", url, "--data-dir", str(folder / "data"),
                   "--now", SWEEP_AT.strftime("%Y-%m-%dT%H:%M"), *args)


def table_rows(out: str) -> list[str]:
    """The rows of the escalations table (they start with `│ <id>`)."""
    return [line for line in out.splitlines()
            if line.startswith("│") and line[1:].strip().split("│")[0].strip().isdigit()]


def test_the_human_output_of_a_large_sweep_is_a_summary(swept: tuple[str, list[int]],
                                                        tmp_path: Path) -> None:
    url, _ = swept
    ran = cli(url, tmp_path, "escalate", "--batch", "50")
    assert ran.code == 0, ran.err
    out = ran.out
    assert "发起 360 次督办" in out
    # the counts by village and level, by the villages' names and the levels' labels
    counts = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
              for line in out.splitlines() if line.startswith("│")
              and line.split("│")[1].strip() in ("石板村", "街子社区", "全镇")}
    assert counts == {"石板村": ["60", "60", "60", "180"], "街子社区": ["60", "60", "60", "180"],
                      "全镇": ["120", "120", "120", "360"]}
    header = next(line for line in out.splitlines() if "村" in line and "提醒" in line)
    assert header.index("提醒") < header.index("约谈") < header.index("问责")
    # the first rows, then how many more
    assert len(table_rows(out)) == SHOWN
    assert "另有 310 次督办未列出（--all 列出全部）" in out
    assert "v-shiban" not in out and "reminder" not in out


def test_all_lists_every_escalation(swept: tuple[str, list[int]], tmp_path: Path) -> None:
    url, _ = swept
    ran = cli(url, tmp_path, "--lang", "en", "escalate", "--all")
    assert ran.code == 0, ran.err
    assert len(table_rows(ran.out)) == 360
    assert "raised 360 escalation(s)" in ran.out and "more not listed" not in ran.out
    again = cli(url, tmp_path, "escalate")
    assert again.code == 0 and "发起 0 次督办" in again.out and not table_rows(again.out)


def test_json_is_one_document_with_an_object_per_escalation(
        swept: tuple[str, list[int]], tmp_path: Path) -> None:
    url, ids = swept
    ran = cli(url, tmp_path, "--json", "escalate", "--batch", "7")
    assert ran.code == 0, ran.err
    got = json.loads(ran.out)
    assert list(got) == ["raised"]
    raised = got["raised"]
    assert len(raised) == 360
    assert {(e["issue"], e["level"]) for e in raised} == {(i, lv) for i in ids for lv in LEVELS}
    assert set(raised[0]) == {"id", "issue", "level", "stage", "recipients", "subjects",
                              "due_at", "raised_at", "moment", "status"}
    assert [e["id"] for e in raised] == sorted(e["id"] for e in raised)
    # written as json.dumps(…, indent=2) writes the whole document
    assert ran.out == json.dumps(got, ensure_ascii=False, indent=2) + "\n"
    empty = cli(url, tmp_path, "--json", "escalate")
    assert empty.code == 0 and empty.out == '{\n  "raised": []\n}\n'


def test_the_commands_batch_is_the_engines() -> None:
    """`escalate --batch` defaults to the sweep's own batch size (the CLI names the number
    itself, so as not to import the sweep for every command)."""
    import cli
    from engine.app.sweep import BATCH

    [option] = [p for p in cli.escalate.params if p.name == "batch"]
    assert option.default == BATCH
