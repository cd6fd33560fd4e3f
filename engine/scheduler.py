"""`rectify serve`: APScheduler runs the sweep on an interval until SIGINT or SIGTERM.

No APScheduler job per deadline and no pickled job store: deadlines live in the issues table
(`next_escalation_at`), and one interval job sweeps what has come due. Each run builds a fresh
service, so an org updated meanwhile is seen at the next sweep.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from engine.clock import Clock
from engine.errors import RectifyError


class DrillClock:
    """For drills: starts at the given time and runs on with the real one."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


def serve(
    db: str,
    data_dir: Path | None,
    now: datetime | None,
    interval: float,
    config_path: Path | None = None,
    echo: Callable[[str], None] | None = None,
    emit_json: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    from apscheduler.schedulers.blocking import BlockingScheduler

    from engine.service import Rectify
    from engine.store.db import data_dir_for, make_engine
    from engine.store.uow import Store
    from notifications.config import load
    from notifications.dispatch import Pacer, build_channels, dispatch_pass
    from notifications.render import Renderer

    say = echo or (lambda _text: None)
    config = load(config_path)  # a bad configuration is refused here, before anything runs
    channels = build_channels(config)
    renderer = Renderer(config.locale, config.templates)
    pacer = Pacer()
    probe = Rectify(Store(make_engine(db)))
    try:
        with probe.store.transaction(write=False) as tx:
            tz_name = tx.town_timezone() or "Asia/Shanghai"
    finally:
        probe.store.close()
    tz = ZoneInfo(tz_name)
    clock: Clock | None = None
    if now is not None:
        start = now.replace(tzinfo=tz) if now.tzinfo is None else now
        clock = DrillClock(start.astimezone(UTC))

    engine = make_engine(db)

    def sweep() -> None:
        svc = Rectify(Store(engine), clock=clock, data_dir=data_dir or data_dir_for(db))
        try:
            raised = svc.escalate()
        except RectifyError as problem:
            say(f"error: sweep: {problem}")
            return
        finally:
            svc.store.release()
        at = (clock.now() if clock else datetime.now(UTC)).astimezone(tz)
        if emit_json is not None:
            from engine.present import escalation_json

            emit_json({"swept_at": at.isoformat(),
                       "raised": [escalation_json(e, tz) for e in raised]})
        for e in raised:
            say(f"{at:%Y-%m-%d %H:%M:%S} raised {e.level} #{e.id} on issue {e.issue_id}"
                f" ({e.stage}) to {', '.join(e.recipients) or 'nobody'}")

    def send() -> None:
        svc = Rectify(Store(engine), clock=clock, data_dir=data_dir or data_dir_for(db),
                      config_path=config_path)
        svc._config = config
        try:
            result = dispatch_pass(svc, config, channels, renderer, pacer)
        except RectifyError as problem:
            say(f"error: dispatch: {problem}")
            return
        finally:
            svc.store.release()
        if any(result.to_dict().values()):
            say(f"dispatched: sent {len(result.sent)}, retrying {len(result.retrying)},"
                f" dead {len(result.dead)}, recovered {len(result.recovered)}")

    def brief() -> None:
        svc = Rectify(Store(engine), clock=clock, data_dir=data_dir or data_dir_for(db),
                      config_path=config_path)
        svc._config = config
        try:
            queued = svc.send_briefing()
        except RectifyError as problem:
            say(f"error: briefing: {problem}")
            return
        finally:
            svc.store.release()
        say(f"briefing queued for {queued} message(s)")

    scheduler = BlockingScheduler(timezone=tz)
    common: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    scheduler.add_job(sweep, "interval", seconds=interval, id="sweep",
                      next_run_time=datetime.now(tz), **common)
    scheduler.add_job(send, "interval", seconds=interval, id="dispatch",
                      next_run_time=datetime.now(tz) + timedelta(seconds=min(1.0, interval / 2)),
                      **common)
    if config.briefing.cron:
        from apscheduler.triggers.cron import CronTrigger

        scheduler.add_job(brief, CronTrigger.from_crontab(config.briefing.cron, timezone=tz),
                          id="briefing", **common)

    # A signal handler may interrupt the main thread anywhere, even inside the scheduler while
    # it holds a lock: so the handler only records the request (repeats change nothing), the
    # scheduler runs in its own thread, and the main thread shuts it down outside the handler.
    stop_requested = threading.Event()
    received: list[str] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop_requested.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    runner = threading.Thread(target=scheduler.start, name="rectify-scheduler", daemon=True)
    try:
        runner.start()
        say(f"serving {db}: a sweep every {interval:g} s (town time {tz_name}); Ctrl-C stops")
        while not stop_requested.wait(0.5):
            if not runner.is_alive():
                raise RectifyError("the scheduler stopped unexpectedly")
        say(f"stopping ({received[0]}): finishing the sweep in hand")
        while not scheduler.running and runner.is_alive():
            time.sleep(0.01)  # a signal right at start-up: let it start, then stop it
        if scheduler.running:
            scheduler.shutdown(wait=True)
        runner.join()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        engine.dispose()
    say("stopped")
