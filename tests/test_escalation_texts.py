"""Each escalation's messages are worked out once per shape in a sweep's batch (its level,
recipients and subjects, and the issue's workflow, village and assignee) and stamped with each
escalation's number and issue (engine.app.notify.Notifier.escalation). These tests hold the
stamped texts to the texts made for each escalation on its own: the same sweeps over the same
ledger, once in batches of one issue (every shape met first in its batch) and once in a
single batch (shapes shared by up to hundreds of escalations), must write the same outbox
rows byte for byte, with reminders raised on time, late, and both in one batch; and each
text is the context's JSON with its own escalation's number and its recipient's name, a late
reminder telling nobody to ask for more time.

The stamping is pure text work, the same on every back end, so the two databases are SQLite
files side by side.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from engine.app.notify import NEXT_STEP
from engine.app.sweep import sweep
from tests.support import scenario, write_org

INIT_AT = datetime(2020, 9, 28, 9, 0)
SWEEP_AT = datetime(2020, 10, 21, 9, 0)
ON_TIME = (datetime(2020, 10, 9, 9, 0), datetime(2020, 10, 12, 9, 0), SWEEP_AT)
"""Sweeps that raise each reminder before its due moment (the studied issues' due at the end
of 10-09, the reported ones' at the end of 10-12), then the rest; one sweep at SWEEP_AT raises
every level at once, the reminders past due."""
VILLAGES = ("v-shiban", "c-jiezi")
ASSIGNEES = ("rc1", "rc2")


def seeded(folder: Path, count: int, early: bool = False) -> str:
    """A ledger of `count` issues in both villages, reported or studied (with either
    assignee) on 2020-09-30: all levels of each are due at SWEEP_AT, to several shapes.
    `early`: a quarter of the reported ones entered on 2020-09-28 (due at the end of 09-30),
    so that a sweep on 10-12 finds reminders of the same shape both on time and late."""
    url = f"sqlite:///{folder / 'rectify.db'}"
    svc = scenario(url, folder / "data", actor="wang", now=INIT_AT)
    svc.init(write_org(folder / "org.yaml"))
    sheet = folder / "ledger.csv"
    with sheet.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["title", "category", "village", "group", "household", "state",
                    "assignee", "plan", "due", "entered_at"])
        for n in range(count):
            studied = n % 3 == 0
            w.writerow([f"危房改造 {n}", "housing_safety", VILLAGES[n % 2], "sa-01",
                        f"户主 \"{n}\"", "studied" if studied else "reported",
                        ASSIGNEES[n // 3 % 2] if studied else "",
                        "维修加固" if studied else "", "2020-10-09" if studied else "",
                        "2020-09-28 10:00" if early and n % 4 == 1 else "2020-09-30 10:00"])
    svc.actor, svc.now = "rc1", datetime(2020, 9, 30, 10, 0)
    svc.import_csv(sheet)
    svc.app.close()
    return url


def swept(url: str, folder: Path, batch: int, times: tuple[datetime, ...] = (SWEEP_AT,)
          ) -> list[tuple[object, ...]]:
    svc = scenario(url, folder / "data", actor=None, now=times[0])
    try:
        for at in times:
            for _ in sweep(svc.app.session(at=at, channel="scheduler"), batch):
                pass
    finally:
        svc.app.close()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute("SELECT key, kind, person, issue_id, escalation_id, context"
                            " FROM outbox ORDER BY id").fetchall()


@pytest.mark.parametrize(("times", "early"), [
    (ON_TIME, False), ((SWEEP_AT,), False), (ON_TIME[1:], True)],
    ids=["on time", "late", "on time and late alike"])
def test_a_batch_stamps_the_texts_each_escalation_makes_on_its_own(
        tmp_path: Path, times: tuple[datetime, ...], early: bool) -> None:
    count = 48
    alone, shared = tmp_path / "alone", tmp_path / "shared"
    for folder in (alone, shared):
        folder.mkdir()
    one_by_one = swept(seeded(alone, count, early), alone, 1, times)
    in_one = swept(seeded(shared, count, early), shared, 1000, times)
    assert len(in_one) >= 4 * count
    kinds = Counter(row[1] for row in in_one)
    assert set(kinds) == {"reminder", "interview", "accountability"}
    # the batch shares shapes: many escalations alike, each told with its own number
    shapes = Counter((tuple(json.loads(str(row[5]))["escalation"]["recipients"]), row[1], row[2])
                     for row in in_one)
    assert max(shapes.values()) >= count // 4
    assert in_one == one_by_one


@pytest.mark.parametrize("late", [False, True], ids=["on time", "late"])
def test_each_text_names_its_escalation_its_issue_and_its_recipient(
        tmp_path: Path, late: bool) -> None:
    url = seeded(tmp_path, 24)
    rows = swept(url, tmp_path, 1000, (SWEEP_AT,) if late else ON_TIME)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        names = dict(conn.execute("SELECT id, name FROM people").fetchall())
        issues = dict(conn.execute("SELECT id, household FROM issues").fetchall())
        levels = dict(conn.execute("SELECT id, level FROM escalations").fetchall())
    roles: Counter[tuple[str, str]] = Counter()
    steps: dict[str, set[str]] = {k: set() for k in ("reminder", "interview", "accountability")}
    for key, kind, person, issue_id, escalation_id, context in rows:
        text = str(context)
        told = json.loads(text)
        assert text == json.dumps(told, ensure_ascii=False)  # as json.dumps writes it
        assert key == f"escalation:{escalation_id}:{person}"
        assert told["escalation"]["id"] == escalation_id
        assert told["escalation"]["level"] == kind == levels[escalation_id]
        assert told["issue"]["id"] == issue_id
        assert told["issue"]["household"] == issues[issue_id]
        assert told["recipient"] == {"name": names[person]}
        roles[(str(kind), told["role"])] += 1
        steps[str(kind)].add(told["next_step"])
    # the shapes this ledger makes: an interview's conductor and its subject, a case to
    # decide; a reminder on time to who may ask for more time and to who may not (two next
    # steps), a reminder past due to nobody (asking is open only before the due moment)
    assert roles[("interview", "subject")] and roles[("interview", "conductor")]
    assert roles[("accountability", "")] and len(steps["interview"]) == 2
    if late:
        assert steps["reminder"] == {NEXT_STEP["zh_CN"]["reminder_late"]}
    else:
        assert steps["reminder"] == {NEXT_STEP["zh_CN"]["reminder"],
                                     NEXT_STEP["zh_CN"]["reminder_no_extension"]}
