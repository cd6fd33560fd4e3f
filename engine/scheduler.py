"""`rectify serve`: APScheduler runs the sweep on an interval until SIGINT or SIGTERM.

No APScheduler job per deadline and no pickled job store: deadlines live in the issues table
(`next_escalation_at`), and one interval job sweeps what has come due. Each run is a fresh
session of the same app, so an org updated meanwhile is seen at the next sweep.

In a drill (`serve --now T`) the app's clock starts at T and runs on with the real time; the
briefing's cron is read on that clock (`OnTheClock`): it fires when the drill clock reaches
its time, not the wall clock.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.triggers.base import BaseTrigger

from engine.app.session import App, Session
from engine.clock import Clock, DrillClock
from engine.errors import RectifyError


class OnTheClock(BaseTrigger):  # type: ignore[misc]  # (apscheduler is untyped)
    """Another trigger's times read on `clock` (a drill clock: ahead of or behind the real time
    by the same amount all along): it fires at the real moment `clock` reaches them, so that a
    cron trigger of `30 8 * * mon` fires when the drill's Monday 08:30 comes."""

    def __init__(self, trigger: Any, clock: Clock) -> None:
        self.trigger = trigger
        self.shift: timedelta = clock.now() - datetime.now(UTC)
        """How far the clock runs from the real time (fixed when the trigger is made)."""

    def on_clock(self, real: datetime) -> datetime:
        """What the clock reads at the real moment `real`."""
        return real + self.shift

    def get_next_fire_time(self, previous_fire_time: datetime | None,
                           now: datetime) -> datetime | None:
        previous = None if previous_fire_time is None else self.on_clock(previous_fire_time)
        found: datetime | None = self.trigger.get_next_fire_time(previous, self.on_clock(now))
        return None if found is None else found - self.shift

    def __str__(self) -> str:
        return f"{self.trigger} on a clock {self.shift} from the real time"


def serve(
    command: Session,
    interval: float,
    echo: Callable[[str], None] | None = None,
    emit_json: Callable[[dict[str, Any]], None] | None = None,
    console: bool = False,
) -> None:
    """Run the sweep, the dispatcher and the briefing on the command's app until a signal.

    `command.at` (serve --now) starts a drill clock there that runs on with the real time.
    Without a notification configuration it does not start unless `console` (serve
    --console) says to print every message on stdout."""
    say = echo or (lambda _text: None)
    scheduler, app = scheduled(command, interval, echo, emit_json, console)
    tz = command.zone()
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
        drill = ("" if command.at is None else
                 f"; the clock starts at {app.clock.now().astimezone(tz):%Y-%m-%d %H:%M:%S}"
                 " and runs on")
        say(f"serving {app.store.engine.url.render_as_string(hide_password=True)}: a sweep"
            f" every {interval:g} s (town time {tz}){drill}; Ctrl-C stops")
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
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        app.store.close()
    say("stopped")


def on_its_clock(command: Session) -> App:
    """The app a long-running door (`serve`, `web`) runs on: the command's, or with `--now`
    (a drill) the same app on a clock that starts there and runs on with the real time."""
    app = command.app
    if command.at is None:
        return app
    tz = command.zone()
    start = command.at.replace(tzinfo=tz) if command.at.tzinfo is None else command.at
    return replace(app, clock=DrillClock(start.astimezone(UTC)))


def scheduled(command: Session, interval: float,
              echo: Callable[[str], None] | None = None,
              emit_json: Callable[[dict[str, Any]], None] | None = None,
              console: bool = False) -> tuple[Any, App]:
    """The scheduler of `serve` and `rectify web` (not started): the sweep and the dispatcher
    every `interval` seconds, the briefing on its cron; and the app its jobs run on (on a
    drill clock from `command.at` when given). A bad configuration is refused here."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from engine.app import briefing, dispatch
    from engine.app.sweep import Batch
    from engine.app.sweep import sweep as sweeping

    say = echo or (lambda _text: None)
    config = command.app.config()  # a bad configuration is refused here, before anything runs
    sender = dispatch.sender(command, console)
    tz = command.zone()
    command.app.store.release()
    app = on_its_clock(command)

    def job(what: str, work: Callable[[Session], Any]) -> Any:
        """One run: a fresh session (an org updated meanwhile is seen), its connection given
        back after; a refusal is said, not raised."""
        try:
            return work(app.session(channel="scheduler"))
        except RectifyError as problem:
            say(f"error: {what}: {problem}")
            return None
        finally:
            app.store.release()

    def told(done: Batch) -> None:
        """One committed batch of a sweep, told as it comes (nothing is kept): with --json
        a line `{"swept_at", "raised"}` per batch."""
        at = app.clock.now().astimezone(tz)
        if emit_json is not None:
            from engine.present import escalation_json

            emit_json({"swept_at": at.isoformat(),
                       "raised": [escalation_json(e, tz) for e in done.raised]})
        for e in done.raised:
            say(f"{at:%Y-%m-%d %H:%M:%S} raised {e.level} #{e.id} on issue {e.issue_id}"
                f" ({e.stage}) to {', '.join(e.recipients) or 'nobody'}")

    def sweep() -> None:
        def run(s: Session) -> None:
            for done in sweeping(s):
                told(done)

        job("sweep", run)

    def send() -> None:
        result = job("dispatch", lambda s: dispatch.dispatch(s, sender))
        if result is not None and any(result.to_dict().values()):
            say(f"dispatched: sent {len(result.sent)}, retrying {len(result.retrying)},"
                f" dead {len(result.dead)}, recovered {len(result.recovered)}"
                + (f", {len(result.waiting)} waiting" if result.waiting else ""))

    def brief() -> None:
        queued = job("briefing", briefing.send)
        if queued is not None:
            say(f"briefing queued for {len(queued)} message(s)")

    scheduler = BlockingScheduler(timezone=tz)
    common: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    scheduler.add_job(sweep, "interval", seconds=interval, id="sweep",
                      next_run_time=datetime.now(tz), **common)
    scheduler.add_job(send, "interval", seconds=interval, id="dispatch",
                      next_run_time=datetime.now(tz) + timedelta(seconds=min(1.0, interval / 2)),
                      **common)
    if config.briefing.cron:
        from apscheduler.triggers.cron import CronTrigger

        cron = CronTrigger.from_crontab(config.briefing.cron, timezone=tz)
        scheduler.add_job(brief, cron if command.at is None else OnTheClock(cron, app.clock),
                          id="briefing", **common)

    return scheduler, app
