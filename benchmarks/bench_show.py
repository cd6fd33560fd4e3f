"""`rectify issue show ID` as a person types it: a new interpreter each time.

Wall time of `.venv/bin/python cli.py --db sqlite:///FILE issue show 1` (cwd: the project)
against `.venv/bin/python -c "import sqlalchemy"`, the floor of any command that touches the
database; medians of interleaved runs after a warm-up. `python -c pass` is timed too, for the
interpreter's own start.

Both commands run with the bytecode cache on, in a private folder (PYTHONPYCACHEPREFIX in the
run's temporary folder, PYTHONDONTWRITEBYTECODE unset), as on an installed machine; the warm-up
run fills it. Without that, an environment with PYTHONDONTWRITEBYTECODE=1 would recompile the
project's own modules on every run and charge it to the command. RECTIFY_* variables are
removed so that only the command line counts.

When the ratio misses its aim (or with --profile) the `-X importtime` top contributors of the
show command are printed.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

from benchmarks import ACTOR, ROOT, Aim, figure, heading, main_for, new_app, show_ratio
from engine.app import issues
from engine.domain.issue import Move, NewIssue

RUNS_FULL = 7
RUNS_QUICK = 5
AIM = Aim("ratio", "<=", 1.5)
TOP = 15


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def bench_env(pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RECTIFY_") and k not in ("PYTHONDONTWRITEBYTECODE",
                                                         "PYTHONPROFILEIMPORTTIME")}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def wall(cmd: Sequence[str], env: Mapping[str, str]) -> float:
    t0 = perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    took = perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {done.returncode}: {done.stderr.strip()}")
    return took


@dataclass(frozen=True)
class ImportTime:
    name: str
    depth: int
    self_us: int
    cumulative_us: int


_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_times(cmd: Sequence[str], env: Mapping[str, str]) -> list[ImportTime]:
    """`python -X importtime` of a command, parsed."""
    done = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    out = []
    for line in done.stderr.splitlines():
        m = _LINE.match(line)
        if m:
            out.append(ImportTime(m[4], (len(m[3]) - 1) // 2, int(m[1]), int(m[2])))
    return out


def print_import_times(cmd: Sequence[str], baseline: Sequence[str],
                       env: Mapping[str, str]) -> None:
    """Where the show command's imports go, and what it imports beyond the baseline."""
    times = import_times(cmd, env)
    total = sum(t.self_us for t in times)
    print(f"\n  -X importtime of the show command: {len(times)} modules, {total / 1000:.0f} ms"
          " of imports")
    print("    top-level imports by cumulative time:")
    for t in sorted((t for t in times if t.depth == 0), key=lambda t: -t.cumulative_us)[:TOP]:
        print(f"      {t.cumulative_us / 1000:8.1f} ms  {t.cumulative_us / total:6.1%}  {t.name}")
    by_package: dict[str, int] = {}
    for t in times:
        top = t.name.split(".")[0]
        by_package[top] = by_package.get(top, 0) + t.self_us
    print("    packages by own time (all their modules):")
    for name, us in sorted(by_package.items(), key=lambda kv: -kv[1])[:TOP]:
        print(f"      {us / 1000:8.1f} ms  {us / total:6.1%}  {name}")
    seen = {t.name for t in import_times(baseline, env)}
    extra = [t for t in times if t.name not in seen]
    extra_us = sum(t.self_us for t in extra)
    print(f"    beyond `import sqlalchemy`: {len(extra)} modules, {extra_us / 1000:.0f} ms"
          " own time; the largest:")
    for t in sorted(extra, key=lambda t: -t.self_us)[:TOP]:
        print(f"      {t.self_us / 1000:8.1f} ms  {t.self_us / total:6.1%}  {t.name}")


def run(quick: bool, profile: bool = False) -> dict[str, float]:
    runs = RUNS_QUICK if quick else RUNS_FULL
    heading(f"show: `rectify issue show 1` in a new process, median of {runs} runs")
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        folder = Path(tmp)
        app = new_app(folder, "show.db")
        try:
            issue = issues.add(app.session(ACTOR), NewIssue(
                title="饮水不稳定", category="drinking_water", village="v-shiban",
                group="sa-01", household="户主"))
            issues.move(app.session(ACTOR), Move(issue_id=issue.id, transition="report",
                                                 note="上报镇整改组"))
        finally:
            app.close()
        env = bench_env(folder / "pycache")
        py = python()
        commands = {
            "show": [py, "cli.py", "--db", f"sqlite:///{folder / 'show.db'}", "issue", "show",
                     str(issue.id)],
            "sqlalchemy": [py, "-c", "import sqlalchemy"],
            "bare": [py, "-c", "pass"],
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for cmd in commands.values():
            wall(cmd, env)  # warm-up: fills the bytecode cache and the page cache
        for k in range(runs):
            names = list(commands) if k % 2 == 0 else list(reversed(commands))
            for name in names:
                walls[name].append(wall(commands[name], env))
        ms = {name: statistics.median(w) * 1000 for name, w in walls.items()}
        figures = {"show_ms": ms["show"], "import_sqlalchemy_ms": ms["sqlalchemy"],
                   "python_pass_ms": ms["bare"], "ratio": ms["show"] / ms["sqlalchemy"]}
        spread = {n: ", ".join(f"{s * 1000:.0f}" for s in sorted(w)) for n, w in walls.items()}
        figure("engine `issue show 1`", f"{ms['show']:,.0f} ms", f"(runs {spread['show']})")
        figure("baseline `import sqlalchemy`", f"{ms['sqlalchemy']:,.0f} ms",
               f"(runs {spread['sqlalchemy']})")
        show_ratio(figures, AIM, "show/import sqlalchemy")
        figure("(info) `python -c pass`", f"{ms['bare']:,.0f} ms", f"(runs {spread['bare']})")
        if profile or not AIM.met(figures):
            print_import_times(commands["show"], commands["sqlalchemy"], env)
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
