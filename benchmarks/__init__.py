"""Benchmarks of the engine against raw baselines timed in the same run.

    .venv/bin/python -m benchmarks [--quick] [--profile] [--only transitions import show]
    .venv/bin/python -m benchmarks.bench_import --quick          # one benchmark alone

Run them from the project folder. Each engine side is wired by the composition root
(`engine.bootstrap.build`) and initialised with the small org of `tests/data/small-org.yaml`,
and calls the same handlers the CLI calls. They print figures and assert nothing. The absolute
rates depend on the machine; the ratios compare the
engine with a hand-written `sqlite3` (or bare interpreter) baseline measured in the same run, on
the same kind of file, so they travel better. `--profile` adds a cProfile table of the engine's
side (from a separate pass, so the timed figures are not distorted) or, for `show`, the
`python -X importtime` top contributors.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from time import perf_counter, process_time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.app.session import App

ROOT = Path(__file__).resolve().parent.parent
"""The project folder (where cli.py is)."""
if str(ROOT) not in sys.path:  # run as `python -m benchmarks` from elsewhere
    sys.path.insert(0, str(ROOT))
SMALL_ORG = ROOT / "tests" / "data" / "small-org.yaml"
"""The org every benchmark database is initialised with."""

ACTOR = "sa1"
"""Who acts in every benchmark: a member of the self-assessment group of the small org."""
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
"""How the engine stores a moment on SQLite: naive UTC text."""

Bench = Callable[[bool, bool], dict[str, float]]
"""run(quick, profile) -> figures."""


@dataclass(frozen=True)
class Aim:
    """What a figure should reach (a goal to report against, never an assertion)."""

    key: str
    op: str  # ">=" or "<="
    target: float

    def met(self, figures: Mapping[str, float]) -> bool | None:
        value = figures.get(self.key)
        if value is None:
            return None
        return value >= self.target if self.op == ">=" else value <= self.target

    def text(self) -> str:
        return f"aim {self.key} {self.op} {self.target:g}"


@dataclass
class Took:
    """Wall-clock and CPU seconds (CPU time is less disturbed by other work on the machine;
    it counts the helper processes the timed code started and waited for)."""

    wall: float = 0.0
    cpu: float = 0.0

    def add(self, other: Took) -> None:
        self.wall += other.wall
        self.cpu += other.cpu


@contextmanager
def stopwatch() -> Iterator[Took]:
    took = Took()
    wall, cpu, helpers = perf_counter(), process_time(), _children_cpu()
    try:
        yield took
    finally:
        took.wall = perf_counter() - wall
        took.cpu = process_time() - cpu + _children_cpu() - helpers


def _children_cpu() -> float:
    """CPU seconds of the child processes waited for so far."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


# --- databases ------------------------------------------------------------------------------
def peak_rss_kib() -> int:
    """This process's peak resident set so far, in KiB.

    VmHWM from /proc (Linux): ru_maxrss would not do, because Linux carries it over a fork and
    an exec, so a child started by a large parent reports the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def report_peak_rss(work: Callable[[], dict[str, Any]]) -> None:
    """In a child: run `work`, print its figures with the wall time and the peak RSS before
    and after it, as the one JSON line run_child reads."""
    import json

    before = peak_rss_kib()
    with stopwatch() as took:
        figures = work()
    after = peak_rss_kib()
    print(json.dumps({"peak_rss_before_kib": before, "peak_rss_after_kib": after,
                      "wall": took.wall, **figures}))


def run_child(module: str, path: Path, what: str) -> dict[str, Any]:
    """Run `benchmarks.<module>.child()` on `path` in a new interpreter (the venv's python, no
    RECTIFY_* settings) and return the JSON object its last line prints."""
    import json
    import os
    import subprocess

    venv = ROOT / ".venv" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
    code = f"from benchmarks.{module} import child; child()"
    done = subprocess.run([str(venv) if venv.exists() else sys.executable, "-c", code,
                           str(path)], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child {what}: exit {done.returncode}: {done.stderr.strip()}")
    got: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return got


def new_app(folder: Path, name: str, at: datetime | None = None) -> App:
    """The engine on a new SQLite file folder/name, initialised with the small org (at `at`,
    town time; None: now)."""
    from engine.app import setup

    app = open_app(folder / name)
    setup.init(app.session("wang", at), SMALL_ORG, drill=True)
    return app


def open_app(path: Path) -> App:
    """The engine on an SQLite file, wired by the composition root."""
    from engine.bootstrap import build

    return build(f"sqlite:///{path}", data_dir=path.with_name(f"{path.stem}-data"))


def raw_connect(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with the engine's pragmas; transactions are ours to begin."""
    from engine.store.db import BUSY_TIMEOUT_MS

    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    for pragma in (
        f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA foreign_keys = ON",
    ):
        conn.execute(pragma)
    return conn


def copy_db(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite database (its WAL included), by the backup API."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def scalar(path: Path, sql: str, params: Sequence[Any] = ()) -> Any:
    """One value read from a database file (for checking what a run wrote)."""
    with closing(sqlite3.connect(path)) as conn:
        row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


# --- printing ----------------------------------------------------------------------------------
def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


def figure(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<38} {value:>14}  {note}".rstrip(), flush=True)


def show_ratio(figures: Mapping[str, float], aim: Aim, what: str) -> None:
    met = aim.met(figures)
    status = "" if met is None else ("met" if met else "MISSED")
    figure(f"ratio {what}", f"{figures[aim.key]:.2f}", f"({aim.text()}: {status})")


# --- profiling -----------------------------------------------------------------------------
class Profiler:
    """cProfile switched on only around the code of interest; a no-op when not enabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._prof = cProfile.Profile() if enabled else None

    @contextmanager
    def on(self) -> Iterator[None]:
        if self._prof is None:
            yield
            return
        self._prof.enable()
        try:
            yield
        finally:
            self._prof.disable()

    def report(self, title: str, limit: int = 18) -> None:
        """The functions with the most own time, and the most time below them, with shares."""
        if self._prof is None:
            return
        st = pstats.Stats(self._prof)
        raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = vars(st)["stats"]
        total = max(sum(v[2] for v in raw.values()), *(v[3] for v in raw.values()), 1e-9)
        rows = [(_where(k), v[1], v[2], v[3]) for k, v in raw.items()]
        print(f"\n  cProfile: {title} (total {total:.3f} s under the profiler)")
        areas: dict[str, float] = {}
        for k, v in raw.items():
            areas[_area(k)] = areas.get(_area(k), 0.0) + v[2]
        print("    own time by area:  " + ", ".join(
            f"{name} {own / total:.0%}" for name, own in sorted(areas.items(), key=lambda a: -a[1])
            if own / total >= 0.005
        ))
        for by_own in (True, False):
            print(f"    by {'own' if by_own else 'cumulative'} time:"
                  "   share   own s   cum s     calls  function")
            for name, calls, own, cum in sorted(
                rows, key=lambda r: r[2] if by_own else r[3], reverse=True
            )[:limit]:
                share = (own if by_own else cum) / total
                print(f"    {'':<20}{share:6.1%} {own:7.3f} {cum:7.3f} {calls:9d}  {name}")


def _area(key: tuple[str, int, str]) -> str:
    """Which layer a function belongs to: a package, the project's folder, or the stdlib."""
    file, _, func = key
    if file == "~":
        return "sqlite3 (C)" if "sqlite3" in func else "builtins (C)"
    path = Path(file)
    if "site-packages" in path.parts:
        return path.parts[path.parts.index("site-packages") + 1]
    if path.is_relative_to(ROOT):
        return "/".join(path.relative_to(ROOT).parts[:2]).removesuffix(".py")
    return "stdlib"


def _where(key: tuple[str, int, str]) -> str:
    file, line, func = key
    if file == "~":
        return func  # a builtin: {method 'execute' of 'sqlite3.Cursor' objects}
    path = Path(file)
    if "site-packages" in path.parts:
        path = Path(*path.parts[path.parts.index("site-packages") + 1 :])
    elif path.is_relative_to(ROOT):
        path = path.relative_to(ROOT)
    else:
        path = Path(path.name)  # the standard library
    return f"{path}:{line}({func})"


# --- running one benchmark alone -------------------------------------------------------------
def main_for(run: Bench, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--profile", action="store_true", help="where the engine spends time")
    args = parser.parse_args(argv)
    figures = run(args.quick, args.profile)
    print()
    for key, value in figures.items():
        print(f"{key} = {value:.4g}")
    return 0
