"""Several OS processes move the same issue at the same moment: exactly one wins.

Each racer is a separate Python process that imports the CLI once, then for every round
signals that it is ready, waits for the round's start file, and runs `cli.main(argv)` with its
own stdout and stderr (file descriptors 1 and 2) sent to files. The test starts a round only
when every racer is ready, so the commands really overlap; processes are reused across rounds
because starting Python with SQLAlchemy costs more than a round.

Losers must exit 1 with one `error: ` line (never 'database is locked', never a traceback),
and the history must hold exactly one new event.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import run_cli, write_org

REPO = Path(__file__).resolve().parents[1]
RACERS = 4
ROUNDS = 6
T0 = "2020-09-28T09:00"
T_MOVE = "2020-09-30T10:00"
WAIT = 60.0

RACER = r"""
import json, os, sys, time, traceback
from pathlib import Path

sys.path.insert(0, os.getcwd())
import cli
# the imports a move needs, so that the round races on the database, not on import time
import engine.present, engine.bootstrap, engine.app.issues, engine.statemachine, engine.store.db

job = json.loads(Path(sys.argv[1]).read_text())
for r in job["rounds"]:
    Path(r["ready"]).touch()
    limit = time.monotonic() + float(job["wait"])
    while not os.path.exists(r["go"]):
        if time.monotonic() > limit:
            sys.exit(98)
        time.sleep(0.0005)
    started = time.time()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(r["out"], "wb") as out, open(r["err"], "wb") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            code = cli.main(r["argv"])
        except BaseException:
            traceback.print_exc()
            code = 99
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    tmp = Path(r["result"] + ".tmp")
    tmp.write_text(json.dumps({"code": code, "started": started, "ended": time.time()}))
    tmp.replace(r["result"])
"""


@dataclass
class Outcome:
    argv: list[str]
    code: int
    started: float
    out: str
    err: str


class Db:
    """A database initialised with the small org, driven in-process for setup and checks."""

    def __init__(self, url: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.url = url
        self.folder = folder
        self.data = folder / "data"
        self.capsys = capsys

    def base(self) -> list[str]:
        return ["--db", self.url, "--data-dir", str(self.data)]

    def ok(self, *args: str, who: str | None = None, now: str | None = None) -> Any:
        argv = self.base()
        if who is not None:
            argv += ["--as", who]
        if now is not None:
            argv += ["--now", now]
        ran = run_cli(*argv, "--json", *args)
        assert ran.code == 0, ran.err
        return ran.json()

    def init(self) -> None:
        self.ok("init", "--drill", "--org", str(write_org(self.folder / "org.yaml")),
                now=T0)

    def add(self) -> int:
        new = self.ok("issue", "add", "--title", "well runs dry", "--category",
                      "drinking_water", "--village", "v-shiban", who="sa1", now=T0)
        issue_id: int = new["id"]
        return issue_id


@contextmanager
def racers(folder: Path, rounds: list[list[list[str]]]) -> Iterator[list[list[Outcome]]]:
    """Start one process per racer; yields a list that fills with each round's outcomes.

    rounds[r][k] is the argv of racer k in round r.
    """
    count = len(rounds[0])
    jobs: list[dict[str, Any]] = []
    for k in range(count):
        job = {"wait": WAIT, "rounds": [
            {
                "argv": rounds[r][k],
                "ready": str(folder / f"ready-{r}-{k}"),
                "go": str(folder / f"go-{r}"),
                "out": str(folder / f"out-{r}-{k}"),
                "err": str(folder / f"err-{r}-{k}"),
                "result": str(folder / f"result-{r}-{k}.json"),
            }
            for r in range(len(rounds))
        ]}
        path = folder / f"job-{k}.json"
        path.write_text(json.dumps(job), encoding="utf-8")
        jobs.append(job)
    procs = [
        subprocess.Popen([sys.executable, "-c", RACER, str(folder / f"job-{k}.json")],
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for k in range(count)
    ]
    results: list[list[Outcome]] = []

    def wait_for(paths: list[Path]) -> None:
        limit = time.monotonic() + WAIT
        while not all(p.exists() for p in paths):
            for p in procs:
                if p.poll() is not None and p.returncode != 0:
                    _, err = p.communicate()
                    raise AssertionError(f"racer died ({p.returncode}): {err.decode()}")
            assert time.monotonic() < limit, "racers did not finish in time"
            time.sleep(0.005)

    try:
        for r in range(len(rounds)):
            rs = [jobs[k]["rounds"][r] for k in range(count)]
            wait_for([Path(x["ready"]) for x in rs])
            Path(rs[0]["go"]).touch()
            wait_for([Path(x["result"]) for x in rs])
            outcomes = []
            for x in rs:
                result = json.loads(Path(x["result"]).read_text())
                outcomes.append(Outcome(
                    argv=x["argv"], code=result["code"], started=result["started"],
                    out=Path(x["out"]).read_text(encoding="utf-8"),
                    err=Path(x["err"]).read_text(encoding="utf-8"),
                ))
            results.append(outcomes)
        for p in procs:
            p.wait(timeout=WAIT)
        yield results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            assert p.stdout is not None and p.stderr is not None
            p.stdout.close()
            p.stderr.close()


def _blob(data: Path, content: bytes) -> Path:
    digest = hashlib.sha256(content).hexdigest()
    return data / "evidence" / digest[:2] / digest


def race(db: Db, folder: Path) -> None:
    """ROUNDS rounds of RACERS processes, each round on a fresh issue in state `found`.

    Round kinds, in turn: everyone `report`s; everyone reports `--expect-version 1`; half
    `fix` (with evidence of their own) and half `report`.
    """
    db.init()
    issues = [db.add() for _ in range(ROUNDS)]
    reporters = ["sa1", "sa2", "rc1", "iv1"]
    fixers = ["sa1", "sa2"]
    plan: list[list[list[str]]] = []
    evidence: dict[tuple[int, int], bytes] = {}
    for r, issue in enumerate(issues):
        argvs = []
        for k in range(RACERS):
            kind = r % 3
            move = ["issue", "move", str(issue)]
            if kind == 0:
                args = ["--as", reporters[k % len(reporters)], *move, "report"]
            elif kind == 1:
                args = ["--as", reporters[k % len(reporters)], *move, "report",
                        "--expect-version", "1"]
            elif k % 2 == 0:
                content = f"round {r} racer {k}".encode()
                evidence[r, k] = content
                photo = folder / f"photo-{r}-{k}.jpg"
                photo.write_bytes(content)
                args = ["--as", fixers[(k // 2) % len(fixers)], *move, "fix", "--note",
                        "fixed", "--evidence", str(photo)]
            else:
                args = ["--as", reporters[2 + (k // 2) % 2], *move, "report"]
            argvs.append([*db.base(), "--now", T_MOVE, *args])
        plan.append(argvs)

    with racers(folder, plan) as results:
        pass

    for r, (issue, outcomes) in enumerate(zip(issues, results, strict=True)):
        spread = max(o.started for o in outcomes) - min(o.started for o in outcomes)
        assert spread < 2.0, f"round {r}: the racers did not start together ({spread:.2f}s)"
        winners = [k for k, o in enumerate(outcomes) if o.code == 0]
        assert len(winners) == 1, [(o.code, o.err) for o in outcomes]
        won = outcomes[winners[0]]
        assert won.err.startswith("演练 DRILL") and "error" not in won.err  # a drill's banner
        for o in outcomes:
            if o.code == 0:
                continue
            assert o.code == 1, (o.code, o.err)
            assert o.out == ""
            lines = o.err.splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), o.err
            assert "locked" not in o.err and "Traceback" not in o.err, o.err
            assert "unexpected" not in o.err, o.err
            assert f"issue {issue}" in o.err or "an issue in state" in o.err, o.err

        transition = won.argv[won.argv.index(str(issue)) + 1]
        actor = won.argv[won.argv.index("--as") + 1]
        events = db.ok("issue", "history", str(issue))
        assert len(events) == 2, events
        assert (events[1]["transition"], events[1]["actor"]) == (transition, actor)
        shown = db.ok("issue", "show", str(issue))
        assert shown["version"] == 2
        assert shown["state"] == {"report": "reported", "fix": "rectified"}[transition]

        # only a winning fix stored its evidence
        for (rr, k), content in evidence.items():
            if rr == r:
                assert _blob(db.data, content).exists() == (k == winners[0]), (r, k)


def test_racing_moves_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    race(Db(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, capsys), tmp_path)


def test_racing_moves_on_postgresql(pg_url: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    race(Db(pg_url, tmp_path, capsys), tmp_path)

