"""The sign-in core of the web workspace: passwords, web sessions, API tokens.

Passwords are hashed with argon2id (argon2-cffi; the cost is the app's `account_policy`).
A session's token and an API token are 256 random bits handed out once; only their SHA-256 is
stored. Every time here is the app's `account_clock` (the real time, also in a drill), never a
session's `--now`. The rules (password, lockout, throttle, expiry) are in
engine.domain.accounts; what happened is written to the append-only `sign_in_log`, not to the
hash-chained history (credentials are not records of the town's work).

The hashing (tens of milliseconds by design) runs outside any transaction, so a sign-in never
holds SQLite's write lock while it hashes; the failure count is then updated in a transaction
of its own, which commits before the refusal is raised.

    set_password(s, person, password)                      NotFound, Refused
    sign_in(s, person_or_name, password, address) -> SignedIn
                                                           NotSignedIn, LockedOut, Refused
    resolve_session(s, token) -> Principal                 NotSignedIn
    sign_out(s, token) -> bool
    change_password(s, person, old, new, keep=None)        Refused, LockedOut
    create_token(s, person, name=None) -> NewToken         NotFound, Refused
    revoke_token(s, token_id_or_name, person=None) -> ApiToken
                                                           NotFound, Refused, BadOption
    list_tokens(s, person) -> list[ApiToken]               NotFound
    resolve_token(s, plain) -> Principal                   NotSignedIn
    check_csrf(principal, token)                           NotPermitted
    sign_ins(s, person=None) -> the log
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from engine.app import passwords
from engine.app.session import Session
from engine.domain import accounts as rules
from engine.domain import text
from engine.domain.accounts import ApiToken, Credential, LogEntry, Principal, WebSession
from engine.domain.org import Org
from engine.errors import BadOption, LockedOut, NotFound, NotPermitted, NotSignedIn, Refused
from engine.store.unit_of_work import Tx

__all__ = [
    "NewToken", "Principal", "SignedIn", "change_password", "check_csrf", "create_token",
    "list_tokens", "resolve_session", "resolve_token", "revoke_token", "set_password",
    "sign_in", "sign_ins", "sign_out",
]

TOKEN_NAME = 64
"""The longest name of an API token."""
LONGEST_TOKEN = 256
"""A presented token longer than this is nobody's (no hashing of whatever a client sends)."""


@dataclass(frozen=True)
class SignedIn:
    """A web session just made: `token` (the cookie's value) is handed out only here."""

    token: str
    csrf: str
    expires_at: datetime
    """The absolute end; the session ends sooner when unused for the policy's idle time."""
    person: str
    session: str
    """The session's id (the SHA-256 of its token)."""


@dataclass(frozen=True)
class NewToken:
    """An API token just made: `token` is shown once and never stored."""

    id: int
    name: str
    person: str
    token: str
    created_at: datetime


# --- passwords --------------------------------------------------------------------------------
def set_password(s: Session, person: str, password: str) -> None:
    """Give `person` a (new) password: the operator's tool. Their lock and failures end, and
    so do their web sessions."""
    _check_password(password)
    hashed = passwords.hasher(s.app.account_policy).hash(password)
    now = _now(s)
    with s.transaction(write=True) as tx:
        _known(s.org(tx), person)
        tx.accounts.set_password(person, hashed, now)
        ended = tx.accounts.revoke_sessions(person, now)
        tx.accounts.log(now, person, None, "password_set", _ended(ended))


def change_password(s: Session, person: str, old: str, new: str,
                    keep: str | None = None) -> None:
    """A signed-in person changes their own password; their other sessions end (all but
    `keep`, the id of the session asking). A wrong current password counts as a failed
    sign-in (towards the lock)."""
    _check_password(new)
    if new == old:
        raise Refused("the new password is the same as the current one")
    policy = s.app.account_policy
    now = _now(s)
    with s.transaction(write=False) as tx:
        cred = tx.accounts.credential(person)
        tz = s.timezone(tx)
    if cred is None:
        raise Refused(f"{person} has no password to change (`rectify user passwd`)")
    if rules.is_locked(cred, now):
        assert cred.locked_until is not None
        raise LockedOut(rules.locked_message(cred.locked_until, tz))
    if not passwords.verify(policy, cred.hash, old):
        _failed(s, person, None, now, "change_password")
        raise Refused("the current password is wrong")
    hashed = passwords.hasher(policy).hash(new)
    with s.transaction(write=True) as tx:
        fresh = tx.accounts.credential(person, for_update=True)
        if fresh is None or fresh.hash != cred.hash:
            raise Refused("the password was changed meanwhile: sign in again")
        tx.accounts.set_password(person, hashed, now)
        ended = tx.accounts.revoke_sessions(person, now, keep=keep)
        tx.accounts.log(now, person, None, "password_changed", _ended(ended))


def _check_password(password: str) -> None:
    problem = rules.password_problem(password)
    if problem is not None:
        raise Refused(problem)


# --- signing in and out -----------------------------------------------------------------------
def sign_in(s: Session, who: str, password: str, address: str) -> SignedIn:
    """A person signs in with their id or their exact name and their password, from the
    client address `address`; a web session for them.

    Refused (NotSignedIn) with the same words for a name that is nobody's, a person without a
    password and a wrong password. LockedOut when the account is locked (after `lock_after`
    failures in a row, for `lock_for`; even with the right password) or the address has
    failed too often lately. A name several people share is refused: sign in with the id.
    """
    policy = s.app.account_policy
    address = address[:64]
    now = _now(s)
    with s.transaction(write=False) as tx:
        tz = s.timezone(tx)
        person = _person_named(s.org(tx), who)
        failures, oldest = tx.accounts.failures_from(address, now - policy.address_window)
        cred = tx.accounts.credential(person) if person is not None else None
    if rules.throttled(failures, policy):
        assert oldest is not None
        _log(s, now, person, address, "throttled")
        raise LockedOut(rules.throttled_message(oldest + policy.address_window, tz))
    if cred is not None and rules.is_locked(cred, now):
        assert cred.locked_until is not None
        _log(s, now, person, address, "locked")
        raise LockedOut(rules.locked_message(cred.locked_until, tz))
    fits = len(password) <= rules.MAX_PASSWORD  # else nobody's: not worth hashing
    right = passwords.verify(policy, cred.hash if cred is not None and fits else None, password)
    if cred is None or not right:
        _failed(s, person, address, now, "sign_in" if cred is not None else None)
        raise NotSignedIn(rules.WRONG)
    return _open_session(s, cred, password, address, now)


def _open_session(s: Session, cred: Credential, password: str, address: str,
                  now: datetime) -> SignedIn:
    policy, person = s.app.account_policy, cred.person
    hasher = passwords.hasher(policy)
    rehashed = hasher.hash(password) if hasher.check_needs_rehash(cred.hash) else None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    w = WebSession(id=rules.digest(token), person=person, created_at=now, last_seen_at=now,
                   expires_at=now + policy.absolute, csrf=csrf, revoked_at=None)
    with s.transaction(write=True) as tx:
        fresh = tx.accounts.credential(person, for_update=True)
        if fresh is None or fresh.hash != cred.hash:  # the password changed meanwhile
            raise NotSignedIn(rules.WRONG)
        if rules.is_locked(fresh, now):
            assert fresh.locked_until is not None
            raise LockedOut(rules.locked_message(fresh.locked_until, s.timezone(tx)))
        tx.accounts.failures(person, 0, None)
        if rehashed is not None:
            tx.accounts.rehash(person, rehashed)
        tx.accounts.purge_sessions(person, now, now - policy.idle)
        tx.accounts.add_session(w)
        tx.accounts.log(now, person, address, "ok", "rehashed" if rehashed else None)
    return SignedIn(token, csrf, w.expires_at, person, w.id)


def resolve_session(s: Session, token: str) -> Principal:
    """Who holds the session `token` (a request's cookie); NotSignedIn when it is nobody's,
    signed out, idle too long or past its end, or its person has left the org. Its last use
    is written at most once per `touch_every`."""
    policy = s.app.account_policy
    now = _now(s)
    w = None
    if len(token) <= LONGEST_TOKEN:
        with s.transaction(write=False) as tx:
            w = tx.accounts.session(rules.digest(token))
    if w is None:
        raise NotSignedIn("not signed in")
    ended = rules.session_ended(w, now, policy)
    if ended is not None:
        raise NotSignedIn(f"not signed in: the session has {ended}")
    if rules.due_touch(w.last_seen_at, now, policy):
        with s.transaction(write=True) as tx:
            tx.accounts.touch_session(w.id, now)
    return Principal(w.person, session=w.id, csrf=w.csrf)


def sign_out(s: Session, token: str) -> bool:
    """End the session `token`; whether there was a live one to end (signing out twice, or
    with a token that is nobody's, is no error)."""
    if len(token) > LONGEST_TOKEN:
        return False
    now = _now(s)
    with s.transaction(write=True) as tx:
        w = tx.accounts.session(rules.digest(token))
        if w is None or w.revoked_at is not None:
            return False
        tx.accounts.revoke_sessions(w.person, now, only=w.id)
        tx.accounts.log(now, w.person, None, "signed_out")
    return True


def check_csrf(principal: Principal, token: str | None) -> None:
    """A form or a request signed in by a web session must carry the session's CSRF token
    (compared in constant time); a request with an API token needs none (a browser never
    sends a bearer token by itself)."""
    if principal.csrf is None:
        return
    given = (token or "").encode("utf-8", "replace")
    if not given or not hmac.compare_digest(principal.csrf.encode("ascii"), given):
        raise NotPermitted("the form's CSRF token is missing or wrong: reload the page and"
                           " try again")


# --- API tokens -------------------------------------------------------------------------------
def create_token(s: Session, person: str, name: str | None = None) -> NewToken:
    """A new API token for `person` (a bearer token for API clients), named `name` (default
    `token-N`); the plain token is in the answer and nowhere else."""
    if name is not None:
        _check_name(name)
    now = _now(s)
    plain = rules.TOKEN_PREFIX + secrets.token_urlsafe(32)
    with s.transaction(write=True) as tx:
        _known(s.org(tx), person)
        mine = tx.accounts.tokens(person)
        live = {k.name for k in mine if k.revoked_at is None}
        if name is None:
            n = len(mine) + 1
            while f"token-{n}" in live:
                n += 1
            name = f"token-{n}"
        elif name in live:
            raise Refused(f"{person} already has a token named {name!r}: revoke it or choose"
                          " another name")
        token_id = tx.accounts.add_token(person, name, rules.digest(plain), now)
        tx.accounts.log(now, person, None, "token_created", f"token {token_id} {name}")
    return NewToken(token_id, name, person, plain, now)


def _check_name(name: str) -> None:
    if not name.strip():
        raise BadOption("a token's name may not be empty")
    text.check("--name", name, text.LINE)
    if len(name) > TOKEN_NAME:
        raise Refused(f"a token's name has at most {TOKEN_NAME} characters")
    if name.isdigit():
        raise Refused(f"a token's name may not be a number ({name!r} would read as an id)")


def revoke_token(s: Session, token: int | str, person: str | None = None) -> ApiToken:
    """Revoke an API token, by its id (of `person`, if given) or by its name (then `person`
    is needed); the token as it is now."""
    now = _now(s)
    with s.transaction(write=True) as tx:
        found = _token(tx, token, person)
        if found.revoked_at is not None:
            raise Refused(f"token {found.id} of {found.person} is already revoked")
        tx.accounts.revoke_token(found.id, now)
        tx.accounts.log(now, found.person, None, "token_revoked",
                        f"token {found.id} {found.name}")
    return replace(found, revoked_at=now)


def _token(tx: Tx, token: int | str, person: str | None) -> ApiToken:
    if isinstance(token, int):
        found = tx.accounts.token(token)
        if found is None or (person is not None and found.person != person):
            raise NotFound(f"no API token {token}" + (f" of {person}" if person else ""))
        return found
    if person is None:
        raise BadOption(f"a token named {token!r}: say whose (--person P), or give its id")
    live = [k for k in tx.accounts.tokens(person, token) if k.revoked_at is None]
    if not live:
        raise NotFound(f"{person} has no live token named {token!r}")
    return live[0]


def list_tokens(s: Session, person: str) -> list[ApiToken]:
    """A person's API tokens, revoked ones too, oldest first (never the tokens themselves)."""
    with s.transaction(write=False) as tx:
        found = tx.accounts.tokens(person)
        if not found:
            _known(s.org(tx), person)
    return found


def resolve_token(s: Session, plain: str) -> Principal:
    """Who holds the API token `plain` (a request's `Authorization: Bearer`); NotSignedIn
    when it is nobody's or revoked, or its person has left the org. Its last use is written
    at most once per `touch_every`."""
    found = None
    if plain.startswith(rules.TOKEN_PREFIX) and len(plain) <= LONGEST_TOKEN:
        with s.transaction(write=False) as tx:
            found = tx.accounts.token_by_hash(rules.digest(plain))
    if found is None:
        raise NotSignedIn("not signed in: unknown API token")
    if rules.token_ended(found) is not None:
        raise NotSignedIn(f"not signed in: API token {found.id} was revoked")
    now = _now(s)
    if rules.due_touch(found.last_used_at, now, s.app.account_policy):
        with s.transaction(write=True) as tx:
            tx.accounts.touch_token(found.id, now)
    return Principal(found.person, token=found.id)


# --- the log ----------------------------------------------------------------------------------
def sign_ins(s: Session, person: str | None = None) -> list[LogEntry]:
    """The sign-in log, oldest first (all of it, or one person's)."""
    with s.transaction(write=False) as tx:
        return tx.accounts.entries(person)


# --- helpers ----------------------------------------------------------------------------------
def _now(s: Session) -> datetime:
    return s.app.account_clock.now()


def _known(org: Org, person: str) -> None:
    if person not in org.people:
        raise NotFound(f"unknown person {person!r}: not in the org")


def _person_named(org: Org, who: str) -> str | None:
    """The person whose id, else whose exact name, is `who` (None: nobody's)."""
    if who in org.people:
        return who
    named = [p.id for p in org.people.values() if p.name == who]
    if len(named) > 1:
        raise Refused(f"{len(named)} people are named {who!r}: sign in with your id")
    return named[0] if named else None


def _ended(sessions: int) -> str | None:
    return f"{sessions} web session(s) ended" if sessions else None


def _log(s: Session, now: datetime, person: str | None, address: str | None,
         outcome: str, detail: str | None = None) -> None:
    with s.transaction(write=True) as tx:
        tx.accounts.log(now, person, address, outcome, detail)


def _failed(s: Session, person: str | None, address: str | None, now: datetime,
            counted: str | None) -> None:
    """A wrong password (`counted`: where, and it counts towards the person's lock) or a
    sign-in with a name that has no password; committed before the refusal is raised."""
    with s.transaction(write=True) as tx:
        if counted is not None and person is not None:
            fresh = tx.accounts.credential(person, for_update=True)
            if fresh is not None:
                failed, until = rules.after_failure(fresh.failed, now, s.app.account_policy)
                tx.accounts.failures(person, failed, until)
                locked = f"locked until {until.isoformat()}" if until else None
                tx.accounts.log(now, person, address, "wrong_password",
                                ", ".join(x for x in (counted, locked) if x))
                return
        tx.accounts.log(now, person, address, "unknown_name" if person is None
                        else "no_password")
