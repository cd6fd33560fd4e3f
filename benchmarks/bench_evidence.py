"""Evidence check: `audit verify --evidence` (engine.app.evidence_audit.check) against
`sha256sum` of the same files, in MB/s.

An SQLite database is initialised with the small org; 200 issues (50 with --quick) are added
and each fixed with one evidence file of 1 MiB of random bytes, through the handlers the CLI
calls (so the store holds 200 distinct blobs and the history names each once). Each side reads
the store once untimed first, so that both find the files in the page cache: what is compared
is the hashing and the reading from memory, not the disk.

Timed, alternating which side goes first, median of 3: the engine's check (one read of the
history for its evidence lists, then each blob rehashed in 1 MiB pieces) against one
`sha256sum` process given every blob's path (its start included). Both must find every blob
sound, or the benchmark stops. The ratio is the engine's MB/s over sha256sum's; the aim is
>= 0.8.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from benchmarks import (
    ACTOR,
    Aim,
    Profiler,
    Took,
    figure,
    heading,
    main_for,
    new_app,
    show_ratio,
    stopwatch,
)
from engine.app import evidence_audit, issues
from engine.app.evidence import MIB, path_of
from engine.app.session import App
from engine.domain.issue import Move, NewIssue

BLOBS_FULL = 200
BLOBS_QUICK = 50
SIZE = MIB
REPEATS = 3
AIM = Aim("ratio", ">=", 0.8)


def fill(app: App, folder: Path, blobs: int) -> list[Path]:
    """`blobs` issues, each fixed with a file of SIZE random bytes; the stored blobs."""
    for k in range(blobs):
        s = app.session(ACTOR)
        issue = issues.add(s, NewIssue(title=f"第{k + 1}户 住房安全", category="housing_safety",
                                       village="v-shiban", group="sa-01"))
        photo = folder / f"photo-{k}.jpg"
        photo.write_bytes(os.urandom(SIZE))
        moved = issues.move(s.next(ACTOR), Move(issue_id=issue.id, transition="fix",
                                                note="修好了"), [photo])
        photo.unlink()
        if moved.state != "rectified":
            raise RuntimeError(f"issue {issue.id} is {moved.state}")
    stored = sorted((app.data_dir / "evidence").glob("*/*"))
    if len(stored) != blobs:
        raise RuntimeError(f"{len(stored)} blobs stored of {blobs}")
    return stored


def engine_check(app: App, blobs: int, prof: Profiler | None = None) -> Took:
    with stopwatch() as took:
        if prof is None:
            report = evidence_audit.check(app.session(ACTOR))
        else:
            with prof.on():
                report = evidence_audit.check(app.session(ACTOR))
    if not report.ok or report.checked != blobs or report.bytes != blobs * SIZE:
        raise RuntimeError(f"engine: {report.to_json()}")
    return took


def sha256sum(paths: list[Path]) -> Took:
    """One sha256sum process over every blob; CPU time is the child's."""
    tool = shutil.which("sha256sum")
    if tool is None:
        raise RuntimeError("sha256sum is not installed")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with stopwatch() as took:
        done = subprocess.run([tool, *map(str, paths)], capture_output=True, text=True,
                              check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    took.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for line, path in zip(done.stdout.splitlines(), paths, strict=True):
        if line.split()[0] != path.name:
            raise RuntimeError(f"sha256sum: {path} does not match its name")
    return took


def run(quick: bool, profile: bool = False) -> dict[str, float]:
    blobs = BLOBS_QUICK if quick else BLOBS_FULL
    megabytes = blobs * SIZE / 1e6
    heading(f"evidence: {blobs} blobs of {SIZE // MIB} MiB rehashed (page cache warm),"
            f" median of {REPEATS}")
    times: dict[str, list[Took]] = {"engine": [], "sha256sum": []}
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        folder = Path(tmp)
        app = new_app(folder, "evidence.db")
        try:
            paths = fill(app, folder, blobs)
            assert all(p == path_of(app.data_dir, p.name) for p in paths)
            engine_check(app, blobs)  # warm: both sides read the files from memory
            sha256sum(paths)
            for k in range(REPEATS):
                order = ("engine", "sha256sum") if k % 2 == 0 else ("sha256sum", "engine")
                for side in order:
                    took = engine_check(app, blobs) if side == "engine" else sha256sum(paths)
                    times[side].append(took)
            prof = Profiler(profile)
            if profile:
                engine_check(app, blobs, prof)
        finally:
            app.close()

    wall = {side: statistics.median(t.wall for t in ts) for side, ts in times.items()}
    cpu = {side: statistics.median(t.cpu for t in ts) for side, ts in times.items()}
    figures = {"engine_mb_per_s": megabytes / wall["engine"],
               "sha256sum_mb_per_s": megabytes / wall["sha256sum"]}
    figures["ratio"] = figures["engine_mb_per_s"] / figures["sha256sum_mb_per_s"]
    figures["ratio_cpu"] = cpu["sha256sum"] / cpu["engine"]
    spread = {side: ", ".join(f"{t.wall:.3f}" for t in ts) for side, ts in times.items()}
    figure("engine evidence_audit.check", f"{figures['engine_mb_per_s']:,.0f} MB/s",
           f"({wall['engine']:.3f} s; runs {spread['engine']} s)")
    figure("sha256sum of the same files", f"{figures['sha256sum_mb_per_s']:,.0f} MB/s",
           f"({wall['sha256sum']:.3f} s; runs {spread['sha256sum']} s)")
    show_ratio(figures, AIM, "engine/sha256sum")
    figure("(info) ratio by CPU time", f"{figures['ratio_cpu']:.2f}", "(medians)")
    prof.report(f"evidence_audit.check of {blobs} blobs")
    return figures


if __name__ == "__main__":
    raise SystemExit(main_for(run))
