"""The accounts of the web workspace: credentials, web sessions, API tokens, the sign-in log.

A session or token is found by the SHA-256 of its plain token and only while its person is
still in the org (a person who left can no longer use what they held).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, exists, func, insert, or_, select, update

from engine.domain.accounts import ApiToken, Credential, LogEntry, WebSession
from engine.store import rows
from engine.store import tables as t
from engine.store.dialect import decode_time
from engine.store.repository import Repository

FAILURES = ("wrong_password", "unknown_name", "no_password")
"""The outcomes of the log that are guesses: what the throttle per address counts."""


class AccountRepository(Repository):
    # --- credentials ------------------------------------------------------------------------
    def credential(self, person: str, for_update: bool = False) -> Credential | None:
        q = _select(t.credentials, rows.CREDENTIAL_COLUMNS).where(
            t.credentials.c.person == person)
        if for_update and not self.d.sqlite:
            q = q.with_for_update()
        r = self.conn.execute(q).first()
        return None if r is None else rows.credential(r)

    def set_password(self, person: str, hashed: str, at: datetime) -> None:
        """A new password hash; the failures and the lock end with it."""
        values = {"hash": hashed, "set_at": at, "failed": 0, "locked_until": None}
        done = self.conn.execute(update(t.credentials).where(
            t.credentials.c.person == person).values(**values))
        if done.rowcount == 0:
            self.conn.execute(insert(t.credentials).values(person=person, **values))

    def rehash(self, person: str, hashed: str) -> None:
        """The same password under new hashing parameters (`set_at` stays)."""
        self.conn.execute(update(t.credentials).where(
            t.credentials.c.person == person).values(hash=hashed))

    def failures(self, person: str, failed: int, locked_until: datetime | None) -> None:
        self.conn.execute(update(t.credentials).where(t.credentials.c.person == person).values(
            failed=failed, locked_until=locked_until))

    # --- the log ------------------------------------------------------------------------------
    def log(self, at: datetime, person: str | None, address: str | None, outcome: str,
            detail: str | None = None) -> None:
        self.conn.execute(insert(t.sign_in_log).values(
            at=at, person=person, address=address, outcome=outcome, detail=detail))

    def failures_from(self, address: str, since: datetime) -> tuple[int, datetime | None]:
        """Failed sign-ins (guesses) from `address` after `since`: how many, the oldest."""
        c = t.sign_in_log.c
        n, oldest = self.conn.execute(select(func.count(), func.min(c.at)).where(
            c.address == address, c.at > since, c.outcome.in_(FAILURES))).one()
        return int(n), decode_time(oldest)

    def entries(self, person: str | None = None) -> list[LogEntry]:
        """The log, oldest first (all of it, or one person's)."""
        c = t.sign_in_log.c
        q = select(c.at, c.person, c.address, c.outcome, c.detail).order_by(c.id)
        if person is not None:
            q = q.where(c.person == person)
        return [LogEntry(*r) for r in self.conn.execute(q)]

    # --- web sessions -------------------------------------------------------------------------
    def add_session(self, w: WebSession) -> None:
        self.conn.execute(insert(t.web_sessions).values(
            {n: getattr(w, n) for n in rows.WEB_SESSION_COLUMNS}))

    def session(self, session_id: str) -> WebSession | None:
        """A session by its id, if its person is still in the org."""
        w = t.web_sessions.c
        r = self.conn.execute(_select(t.web_sessions, rows.WEB_SESSION_COLUMNS).where(
            w.id == session_id, _known(w.person))).first()
        return None if r is None else rows.web_session(r)

    def touch_session(self, session_id: str, at: datetime) -> None:
        self.conn.execute(update(t.web_sessions).where(
            t.web_sessions.c.id == session_id).values(last_seen_at=at))

    def revoke_sessions(self, person: str, at: datetime, keep: str | None = None,
                        only: str | None = None) -> int:
        """End a person's live sessions (all, all but `keep`, or just `only`); how many."""
        w = t.web_sessions.c
        q = update(t.web_sessions).where(w.person == person, w.revoked_at.is_(None))
        if keep is not None:
            q = q.where(w.id != keep)
        if only is not None:
            q = q.where(w.id == only)
        return int(self.conn.execute(q.values(revoked_at=at)).rowcount)

    def purge_sessions(self, person: str, now: datetime, idle_since: datetime) -> None:
        """Forget a person's sessions that can no longer be used (the log keeps the story)."""
        w = t.web_sessions.c
        self.conn.execute(delete(t.web_sessions).where(w.person == person, or_(
            w.revoked_at.is_not(None), w.expires_at <= now, w.last_seen_at <= idle_since)))

    # --- API tokens ---------------------------------------------------------------------------
    def add_token(self, person: str, name: str, hashed: str, at: datetime) -> int:
        got = self.conn.execute(insert(t.api_tokens).values(
            person=person, name=name, hash=hashed, created_at=at,
        ).returning(t.api_tokens.c.id)).first()
        assert got is not None
        return int(got[0])

    def token_by_hash(self, hashed: str) -> ApiToken | None:
        """A token by its hash, if its person is still in the org."""
        k = t.api_tokens.c
        r = self.conn.execute(_select(t.api_tokens, rows.API_TOKEN_COLUMNS).where(
            k.hash == hashed, _known(k.person))).first()
        return None if r is None else rows.api_token(r)

    def token(self, token_id: int) -> ApiToken | None:
        r = self.conn.execute(_select(t.api_tokens, rows.API_TOKEN_COLUMNS).where(
            t.api_tokens.c.id == token_id)).first()
        return None if r is None else rows.api_token(r)

    def tokens(self, person: str, name: str | None = None) -> list[ApiToken]:
        """A person's tokens, oldest first (those of one name, if given)."""
        k = t.api_tokens.c
        q = _select(t.api_tokens, rows.API_TOKEN_COLUMNS).where(k.person == person)
        if name is not None:
            q = q.where(k.name == name)
        return [rows.api_token(r) for r in self.conn.execute(q.order_by(k.id))]

    def touch_token(self, token_id: int, at: datetime) -> None:
        self.conn.execute(update(t.api_tokens).where(
            t.api_tokens.c.id == token_id).values(last_used_at=at))

    def revoke_token(self, token_id: int, at: datetime) -> None:
        self.conn.execute(update(t.api_tokens).where(
            t.api_tokens.c.id == token_id).values(revoked_at=at))


def _select(table: Any, columns: Sequence[str]) -> Select[tuple[object, ...]]:
    return select(*(getattr(table.c, n) for n in columns))


def _known(person: Any) -> Any:
    """The person is in the org now."""
    return exists().where(t.people.c.id == person)
