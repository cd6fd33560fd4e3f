"""Record a history for the regression test: `python -m tests.data.recorded.record NAME SEED`.

Writes NAME.db (the SQLite file, compacted) and NAME.json (what the product said about it when
it was recorded: the anchor, the event count, replays at several moments, a person report).
Recorded files are never regenerated to make a test pass: a changed outcome is a regression,
or a deliberate change that needs a new recording beside the old one.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import cli
from tests import audit_support as s
from tests.support import scenario, write_org

HERE = Path(__file__).parent


def _cli(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(list(argv))
    if code != 0:
        raise SystemExit(f"{argv}: exit {code}")
    return out.getvalue()


def record(name: str, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        svc = scenario(f"sqlite:///{folder / 'work.db'}", folder / "data", actor="wang",
                      now=s.START)
        svc.init(write_org(folder / "org.yaml"))
        s.run_campaign(svc, seed=seed, issues=10, days=28, watch=False)
        svc.store.close()
        target = HERE / f"{name}.db"
        target.unlink(missing_ok=True)
        conn = sqlite3.connect(folder / "work.db")
        conn.execute(f"VACUUM INTO '{target}'")
        conn.close()
    db = f"sqlite:///{target}"
    moments = [(s.START + timedelta(days=d, hours=h)).isoformat()
               for d, h in ((0, 10), (3, 9), (8, 12), (12, 8), (19, 17), (27, 18), (40, 0))]
    expected = {
        "seed": seed,
        "anchor": _cli("--db", db, "audit", "anchor").strip(),
        "events": json.loads(_cli("--db", db, "--json", "audit", "verify"))["events"],
        "replays": {m: json.loads(_cli("--db", db, "--json", "audit", "replay", "--as-of", m))
                    for m in moments},
        "person": json.loads(_cli("--db", db, "--json", "report", "person", "chen")),
    }
    (HERE / f"{name}.json").write_text(
        json.dumps(expected, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
        encoding="utf-8")


if __name__ == "__main__":
    record(sys.argv[1], int(sys.argv[2]))
