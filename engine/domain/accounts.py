"""The rules of the web workspace's accounts, pure: what a password must be, when an account is
locked and released, when an address is throttled, when a web session or an API token stops
working. The clock is always given (the application passes the real time: a drill's `--now`
is a fiction for the rules of issues, not for credentials).

Accounts are credentials, not records: nothing here is part of the hash-chained history. What
happened to them (sign-ins, failures, passwords set, tokens made and revoked) is kept in the
append-only `sign_in_log`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
WRONG = "wrong name or password"
"""The one answer for an unknown name, a person without a password and a wrong password, so
that a sign-in does not tell who has an account."""

TOKEN_PREFIX = "rct_"
"""What every API token starts with (so a leaked one is recognisable; a session token never
does)."""


@dataclass(frozen=True)
class Policy:
    """The numbers of the rules (the defaults are the township's; tests use cheaper hashing)."""

    lock_after: int = 5
    """Consecutive failed sign-ins that lock an account."""
    lock_for: timedelta = timedelta(minutes=15)
    address_failures: int = 20
    """Failed sign-ins from one client address within `address_window` that make it wait."""
    address_window: timedelta = timedelta(minutes=15)
    idle: timedelta = timedelta(hours=2)
    """A web session unused this long has ended."""
    absolute: timedelta = timedelta(hours=12)
    """A web session ends this long after sign-in, however busy."""
    touch_every: timedelta = timedelta(minutes=1)
    """`last_seen_at` / `last_used_at` are written at most this often (fewer writes)."""
    hash_time_cost: int = 3
    hash_memory_kib: int = 65536
    hash_parallelism: int = 4
    """argon2id's parameters (argon2-cffi's defaults, RFC 9106's second recommendation)."""


CHEAP = Policy(hash_time_cost=1, hash_memory_kib=8, hash_parallelism=1)
"""Hashing cheap enough for a test suite; never for a real town."""


@dataclass(frozen=True)
class Credential:
    person: str
    hash: str
    set_at: datetime
    failed: int
    locked_until: datetime | None


@dataclass(frozen=True)
class WebSession:
    id: str
    """The SHA-256 (hex) of the session's token: the token itself is never stored."""
    person: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    """The absolute end (sign-in + `Policy.absolute`); the idle end is `last_seen_at` + idle."""
    csrf: str
    revoked_at: datetime | None


@dataclass(frozen=True)
class ApiToken:
    id: int
    person: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class LogEntry:
    """One line of the sign-in log: a sign-in and its outcome (ok, wrong_password,
    unknown_name, no_password, locked, throttled), a sign-out, a password set or changed, a
    token made or revoked."""

    at: datetime
    person: str | None
    """None when the name given was nobody's (the name itself is not kept: it may have been
    a password typed in the wrong box)."""
    address: str | None
    outcome: str
    detail: str | None


@dataclass(frozen=True)
class Principal:
    """Who a request is from: a person signed in through a web session (`session` is its id,
    `csrf` the token its forms carry) or through an API token (`token` is its id; no CSRF:
    a browser never sends a bearer token by itself)."""

    person: str
    session: str | None = None
    csrf: str | None = None
    token: int | None = None


def digest(token: str) -> str:
    """What is stored of a session or API token: its SHA-256, hex. (A token is 256 random
    bits, so a plain hash suffices; a password is what needs argon2.)"""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def password_problem(password: str) -> str | None:
    """Why a password cannot be used, or None."""
    if len(password) < MIN_PASSWORD:
        return f"a password needs at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"a password has at most {MAX_PASSWORD} characters"
    if len(set(password)) == 1:
        return "a password may not be one character repeated"
    if "\x00" in password:
        return "a password may not hold a NUL character"
    return None


def is_locked(c: Credential, now: datetime) -> bool:
    return c.locked_until is not None and now < c.locked_until


def after_failure(failed: int, now: datetime, policy: Policy) -> tuple[int, datetime | None]:
    """The count and the lock after one more failure following `failed` in a row: the
    `lock_after`th locks the account for `lock_for` and starts the count again."""
    failed += 1
    if failed >= policy.lock_after:
        return 0, now + policy.lock_for
    return failed, None


def throttled(recent_failures: int, policy: Policy) -> bool:
    """Whether an address that failed `recent_failures` times within the window must wait."""
    return recent_failures >= policy.address_failures


def session_ended(w: WebSession, now: datetime, policy: Policy) -> str | None:
    """Why a web session no longer works (revoked, idle, past its absolute end), or None."""
    if w.revoked_at is not None:
        return "ended (signed out, or the password changed)"
    if now >= w.expires_at:
        return "expired"
    if now >= w.last_seen_at + policy.idle:
        return "expired (unused too long)"
    return None


def token_ended(t: ApiToken) -> str | None:
    return "revoked" if t.revoked_at is not None else None


def due_touch(last: datetime | None, now: datetime, policy: Policy) -> bool:
    """Whether a last-seen moment is old enough to be written again."""
    return last is None or now - last >= policy.touch_every


def town_minute(moment: datetime, tz: tzinfo) -> str:
    """A moment to the minute in town time, as every message shows one."""
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M}"


def locked_message(until: datetime, tz: tzinfo) -> str:
    return (f"too many failed sign-ins: the account is locked until {town_minute(until, tz)}"
            " (town time)")


def throttled_message(until: datetime, tz: tzinfo) -> str:
    return (f"too many failed sign-ins from this address: try again after"
            f" {town_minute(until, tz)} (town time)")
