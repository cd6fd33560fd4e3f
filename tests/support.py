"""Shared test helpers: the small org, a scenario driving the application's handlers, the CLI
run in-process, and a real HTTP server on loopback."""

from __future__ import annotations

import builtins
import copy
import email
import io
import json
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from email.message import EmailMessage, Message
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession

import cli
from engine.app import (
    audit,
    briefing,
    dispatch,
    extensions,
    importing,
    issues,
    setup,
    supervision,
)
from engine.app.evidence import path_of
from engine.app.session import App, Definitions, Session
from engine.bootstrap import build
from engine.domain.escalation import Escalation, Extension
from engine.domain.events import Event
from engine.domain.issue import Issue, Move, NewIssue
from engine.store.escalations import EscalationFilter
from engine.store.outbox import OutboxEntry
from engine.store.unit_of_work import Store
from engine.words import LANGS, PHRASES
from notifications.config import Config

SMALL_ORG_FILE = Path(__file__).resolve().parent / "data" / "small-org.yaml"
"""The small org (also what the benchmarks initialise their databases with)."""
SMALL_ORG: dict[str, Any] = yaml.safe_load(SMALL_ORG_FILE.read_text(encoding="utf-8"))


def small_org_led(kind: str, leader: str) -> dict[str, Any]:
    """The small org with its group of `kind` led by `leader`, one of its members (in the
    small org the party secretary leads quality supervision: with qs1 leading it, the one
    who decides an accountability case and the one it is copied to are two people)."""
    org = copy.deepcopy(SMALL_ORG)
    [group] = [g for g in org["groups"] if g["kind"] == kind]
    assert leader in group["members"]
    group["leader"] = leader
    return org


def write_org(path: Path, org: dict[str, Any] | None = None) -> Path:
    path.write_text(yaml.safe_dump(org or SMALL_ORG, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class Scenario:
    """What a test plays: who acts now and what the clock says, both set by the test (as
    people take turns at a terminal); each call is one command, a session of the app's by that
    person at that moment, calling the same handler the CLI calls."""

    app: App
    actor: str | None = None
    now: datetime | None = None
    defs: Definitions = field(default_factory=Definitions)
    warnings: list[str] = field(default_factory=list)
    backfill: str | None = None
    """Why the next commands enter the past (a live database)."""

    # --- the script's state ------------------------------------------------------------------
    def set_now(self, now: datetime | None) -> None:
        self.now = now

    def session(self) -> Session:
        s = self.app.session(self.actor, self.now, "cli", self.defs, self.backfill)
        s.warnings = self.warnings
        return s

    @property
    def store(self) -> Store:
        return self.app.store

    @property
    def data_dir(self) -> Path:
        return self.app.data_dir

    @property
    def town_tz(self) -> tzinfo:
        return self.session().zone()

    def evidence_path(self, sha256: str) -> Path:
        return path_of(self.app.data_dir, sha256)

    def configure(self, config: Config) -> None:
        """Use this notification configuration from now on."""
        self.app.config_given = config

    def close(self) -> None:
        self.app.close()

    # --- commands ------------------------------------------------------------------------------
    def init(self, org: Path, workflow_path: Path | None = None,
             holidays_path: Path | None = None, drill: bool = True) -> setup.Initialised:
        """init; a test script simulates time, so its database is a drill unless told."""
        return setup.init(self.session(), org, workflow_path, holidays_path, drill)

    def add_issue(self, new: NewIssue) -> Issue:
        return issues.add(self.session(), new)

    def move(self, command: Move, files: Sequence[Path] | None = None) -> Issue:
        return issues.move(self.session(), command, files or ())

    def show(self, issue_id: int) -> Issue:
        return issues.show(self.session(), issue_id)

    def history(self, issue_id: int) -> list[Event]:
        return issues.history(self.session(), issue_id)

    def list(self, state: str | None = None, village: str | None = None,
             assignee: str | None = None, overdue: bool = False, search: str | None = None,
             household: str | None = None) -> builtins.list[Issue]:
        def some(value: str | None) -> tuple[str, ...]:
            return () if value is None else (value,)
        return issues.listing(self.session(), some(state), some(village), some(assignee),
                              overdue, search, household)

    def lights(self, found: Sequence[Issue]) -> dict[int, str | None]:
        return issues.lights(self.session(), found)

    def permitted(self, issue_id: int) -> builtins.list[str]:
        return issues.permitted(self.session(), issue_id)

    def summary(self) -> builtins.list[tuple[str, str, int]]:
        return issues.summary(self.session())

    def import_csv(self, path: Path) -> builtins.list[int]:
        return importing.import_csv(self.session(), path)

    def escalate(self, batch: int = 200) -> builtins.list[Escalation]:
        return supervision.escalate(self.session(), batch)

    def escalations(self, f: EscalationFilter) -> builtins.list[Escalation]:
        return supervision.escalations(self.session(), f)

    def escalation(self, escalation_id: int) -> Escalation:
        return supervision.escalation(self.session(), escalation_id)

    def record_escalation(self, escalation_id: int, note: str,
                          attendees: Sequence[str] = (), decide: bool = False) -> Escalation:
        if decide:
            return supervision.decide_accountability(self.session(), escalation_id, note)
        return supervision.record_interview(self.session(), escalation_id, note, attendees)

    def extend(self, issue_id: int, to: date, reason: str) -> Extension:
        return extensions.request(self.session(), issue_id, to, reason)

    def decide_extension(self, extension_id: int, approve: bool,
                         note: str | None = None) -> Extension:
        return extensions.decide(self.session(), extension_id, approve, note)

    def extensions(self, issue_id: int | None = None,
                   pending_only: bool = False) -> builtins.list[Extension]:
        return extensions.listing(self.session(), issue_id, pending_only)

    def list_village(self, village: str, listed: bool) -> builtins.list[int]:
        return supervision.list_village(self.session(), village, listed)

    def outbox(self, statuses: Sequence[str] = (),
               issue_id: int | None = None) -> builtins.list[OutboxEntry]:
        return dispatch.messages(self.session(), statuses, issue_id)

    def outbox_retry(self, row_id: int) -> OutboxEntry:
        return dispatch.retry(self.session(), row_id)

    def outbox_retry_all(self, dead: bool = False) -> builtins.list[OutboxEntry]:
        return dispatch.retry_all(self.session(), dead)

    def dispatch(self, console: bool = False) -> dict[str, builtins.list[int]]:
        return dispatch.dispatch(self.session(), console=console).to_dict()

    def route(self, console: bool = False) -> builtins.list[int]:
        """Route what is queued (a dispatch pass's first step); the ids held."""
        s = self.session()
        return dispatch.route(s, dispatch.sender(s, console), 100)

    def briefing(self, since: datetime | None = None) -> dict[str, Any]:
        return briefing.briefing(self.session(), since).to_dict("各位领导")

    def send_briefing(self) -> int:
        return len(briefing.send(self.session()))

    def verify(self, anchor: tuple[int, str] | None = None) -> audit.Verdict:
        return audit.verify(self.session(), anchor)


def scenario(url: str, data_dir: Path, actor: str | None = None,
             now: datetime | None = None, config: Path | Config | None = None) -> Scenario:
    """A scenario on the database at `url`, wired by the composition root."""
    return Scenario(build(url, config=config, data_dir=data_dir), actor, now)


def one_line_refusal(error: type[Exception], action: Callable[[], object]) -> str:
    """`action` raises `error`, a malformed-input error (exit 2) told on one line; that line."""
    import pytest

    with pytest.raises(error) as caught:
        action()
    assert getattr(caught.value, "exit_code", None) == 2
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- the command line, in this process ----------------------------------------------------------
DRILL_BANNERS = tuple(PHRASES[lang]["drill banner"] + "\n" for lang in LANGS)
"""What a drill database's human output starts its stderr with, in each language."""


@dataclass
class Ran:
    code: int
    out: str
    err: str
    """stderr, without the drill banner (tests of other things run on drills)."""
    drill: bool = False
    """Whether stderr began with the drill banner."""

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(*args: str) -> Ran:
    """`rectify ARGS…` in this process: its exit code, stdout and stderr."""

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(args))
    text = err.getvalue()
    banner = next((b for b in DRILL_BANNERS if text.startswith(b)), "")
    return Ran(code, out.getvalue(), text.removeprefix(banner), bool(banner))


# --- a real HTTP server on loopback: the webhook receiver and the robots -------------------------
OK_REPLY = b'{"errcode":0,"errmsg":"ok"}'
"""What the robots answer when all went well."""


@dataclass
class Seen:
    """One POST the server received (header names compare without case)."""

    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Script:
    """How the server answers a path: status, body, and how long to hold the answer (or until
    `HttpServer.release` is set)."""

    status: int = 200
    body: bytes = OK_REPLY
    delay: float = 0.0


@dataclass
class HttpServer:
    """A ThreadingHTTPServer on 127.0.0.1 that keeps every POST and answers as scripted."""

    base: str = ""
    received: list[Seen] = field(default_factory=list)
    scripts: dict[str, Script] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)
    release: threading.Event = field(default_factory=threading.Event)

    def script(self, path: str, status: int = 200, body: bytes | str | None = None,
               delay: float = 0.0) -> str:
        """Answer POSTs to `path` so from now on; the URL of `path`."""
        raw = body.encode("utf-8") if isinstance(body, str) else body
        with self.cond:
            self.scripts[path] = Script(status, OK_REPLY if raw is None else raw, delay)
        return self.base + path

    def seen(self, path: str) -> list[Seen]:
        with self.cond:
            return [r for r in self.received if r.path == path]

    def last(self, path: str) -> Seen:
        return self.seen(path)[-1]

    def wait_for(self, path: str, count: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(
                lambda: sum(r.path == path for r in self.received) >= count, timeout)


class _Handler(BaseHTTPRequestHandler):
    server_state: HttpServer  # set on a subclass per server

    def do_POST(self) -> None:
        where = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        state = self.server_state
        with state.cond:
            state.received.append(Seen(where.path, parse_qs(where.query), self.headers, body))
            answer = state.scripts.get(where.path, Script())
            state.cond.notify_all()
        if answer.delay:
            state.release.wait(answer.delay)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:  # the client gave up (a timeout) or was killed
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running_http_server() -> Iterator[HttpServer]:
    """An HttpServer on 127.0.0.1 for the duration of the block."""
    state = HttpServer()
    handler = type("BoundHandler", (_Handler,), {"server_state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
"""Debian's chromium, which the browser tests drive (None: they are skipped)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- a real SMTP server on loopback (aiosmtpd) ---------------------------------------------
class Inbox:
    """aiosmtpd handler: keeps every message it accepts; refuses mailboxes named unknown@…
    for good (550) and busy@… for now (451)."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(self, server: SMTP, session: SmtpSession, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.startswith("unknown@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def mails(self) -> list[EmailMessage]:
        return [mail_of(e) for e in self.envelopes]


def mail_of(envelope: Envelope) -> EmailMessage:
    """The message an envelope carries, parsed."""
    assert isinstance(envelope.content, bytes)
    parsed = email.message_from_bytes(envelope.content, policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int


@contextmanager
def running_smtp_server(port: int | None = None) -> Iterator[SmtpServer]:
    """An aiosmtpd server on 127.0.0.1 (on `port`, or a free one) for the block."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(inbox, port)
    finally:
        controller.stop()


def _head_revision() -> str:
    """The newest schema revision (the name of the last migration file)."""
    from importlib.resources import files

    versions = files("engine.store").joinpath("migrations", "versions")
    return max(p.name.split("_", 1)[0] for p in versions.iterdir()
               if p.name[:4].isdigit() and p.name.endswith(".py"))


HEAD = _head_revision()
"""The schema revision `init` upgrades to."""


def as_decided(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A stored payload without the door it came through (`via`): what the decision wrote."""
    return {k: v for k, v in payload.items() if k != "via"}
