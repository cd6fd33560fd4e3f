"""Run the benchmarks and print a summary: `.venv/bin/python -m benchmarks [--quick]`."""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime
from time import perf_counter

from benchmarks import (
    Aim,
    Bench,
    bench_audit,
    bench_charts,
    bench_evidence,
    bench_import,
    bench_lifecycle,
    bench_memory,
    bench_show,
    bench_stats,
    bench_sweep,
    bench_sweep_load,
    bench_transitions,
    bench_web,
    bench_xlsx_export,
    bench_xlsx_import,
)

BENCHES: dict[str, tuple[Bench, Aim]] = {
    "transitions": (bench_transitions.run, bench_transitions.AIM),
    "import": (bench_import.run, bench_import.AIM),
    "show": (bench_show.run, bench_show.AIM),
    "sweep": (bench_sweep.run, bench_sweep.AIM),
    "sweep_load": (bench_sweep_load.run, bench_sweep_load.AIM),
    "audit": (bench_audit.run, bench_audit.AIM),
    "evidence": (bench_evidence.run, bench_evidence.AIM),
    "web": (bench_web.run, bench_web.AIM),
    "stats": (bench_stats.run, bench_stats.AIM),
    "charts": (bench_charts.run, bench_charts.AIM),
    "xlsx_export": (bench_xlsx_export.run, bench_xlsx_export.AIM),
    "xlsx_import": (bench_xlsx_import.run, bench_xlsx_import.AIM),
    "lifecycle": (bench_lifecycle.run, bench_lifecycle.AIM),
    "memory": (bench_memory.run, bench_memory.AIM),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a quick look)")
    parser.add_argument("--profile", action="store_true",
                        help="also print where the engine spends its time")
    parser.add_argument("--only", nargs="+", choices=list(BENCHES), metavar="NAME",
                        help=f"run only these ({', '.join(BENCHES)})")
    args = parser.parse_args(argv)

    print(f"rectify benchmarks{' (quick)' if args.quick else ''}, "
          f"{datetime.now().astimezone():%Y-%m-%d %H:%M %z}")
    print(f"  Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
          f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")

    results: dict[str, tuple[dict[str, float], Aim, float]] = {}
    for name in args.only or BENCHES:
        run, aim = BENCHES[name]
        t0 = perf_counter()
        figures = run(args.quick, args.profile)
        results[name] = (figures, aim, perf_counter() - t0)

    print("\n== summary (ratios are against the baseline timed in the same run;"
          f" load average now {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
    print(f"  {'benchmark':<12} {'figure':<26} {'value':>12}  aim")
    for name, (figures, aim, took) in results.items():
        for key, value in figures.items():
            note = ""
            if key == aim.key:
                note = f"{aim.op} {aim.target:g}: {'met' if aim.met(figures) else 'MISSED'}"
            print(f"  {name:<12} {key:<26} {value:>12,.2f}  {note}")
        print(f"  {name:<12} {'(seconds for this bench)':<26} {took:>12,.1f}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
