"""The sign-in core of the web workspace (engine.app.accounts), on SQLite and PostgreSQL:
argon2id passwords, lockout and throttle, web sessions that end, API tokens, CSRF, and the
`rectify user` commands. The accounts' clock is the test's (never the drill's `--now`), the
hashing cheap."""

from __future__ import annotations

import copy
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

import cli
from engine.app import accounts
from engine.app.session import Session
from engine.domain.accounts import CHEAP, WRONG, Policy, Principal
from engine.errors import (
    BadOption,
    LockedOut,
    NotFound,
    NotPermitted,
    NotSignedIn,
    Refused,
    StoreUnavailable,
)
from engine.store import tables as t
from tests.support import SMALL_ORG, Ran, Scenario, run_cli, scenario, write_org

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00 town time (Asia/Shanghai)
PASSWORD = "roof-mended-2020"
HOME = "10.0.0.7"


class Hands:
    """The accounts' clock, moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t

    def move(self, **by: float) -> None:
        self.t += timedelta(**by)


@dataclass
class Town:
    svc: Scenario
    clock: Hands

    def s(self) -> Session:
        return self.svc.session()

    def passwd(self, person: str = "chen", password: str = PASSWORD) -> None:
        accounts.set_password(self.s(), person, password)

    def sign_in(self, who: str = "chen", password: str = PASSWORD,
                address: str = HOME) -> accounts.SignedIn:
        return accounts.sign_in(self.s(), who, password, address)

    def refused(self, error: type[Exception], who: str = "chen", password: str = "wrong-pass",
                address: str = HOME) -> str:
        with pytest.raises(error) as caught:
            self.sign_in(who, password, address)
        return str(caught.value)

    def resolve(self, token: str) -> Principal:
        return accounts.resolve_session(self.s(), token)

    def rows(self, table: Any) -> list[dict[str, Any]]:
        with self.svc.store.transaction(write=False) as tx:
            return [dict(r._mapping) for r in tx.conn.execute(select(table))]

    def outcomes(self) -> list[str]:
        return [e.outcome for e in accounts.sign_ins(self.s())]


@pytest.fixture
def town(svc: Scenario) -> Town:
    clock = Hands(T0)
    svc.app.account_clock = clock
    svc.app.account_policy = CHEAP
    return Town(svc, clock)


# --- passwords --------------------------------------------------------------------------------
def test_a_password_is_kept_as_an_argon2id_hash_and_signs_in(town: Town) -> None:
    town.passwd()
    [row] = town.rows(t.credentials)
    assert row["person"] == "chen" and row["hash"].startswith("$argon2id$")
    assert PASSWORD not in row["hash"] and row["set_at"] == T0
    made = town.sign_in()
    assert made.person == "chen" and made.expires_at == T0 + timedelta(hours=12)
    assert made.token != made.csrf and len(made.token) >= 43
    me = town.resolve(made.token)
    assert me == Principal("chen", session=made.session, csrf=made.csrf)
    [w] = town.rows(t.web_sessions)
    assert w["id"] == made.session != made.token  # only the token's SHA-256 is stored
    assert town.outcomes() == ["password_set", "ok"]


def test_a_password_must_be_long_enough_and_not_one_character(town: Town) -> None:
    for bad, said in (("short", "at least 8 characters"), ("aaaaaaaaaaa", "one character"),
                      ("x" * 1024 + "y", "at most 1024 characters")):
        with pytest.raises(Refused, match=said):
            town.passwd(password=bad)
    with pytest.raises(NotFound, match="ghost"):
        town.passwd("ghost")
    assert town.rows(t.credentials) == []


def test_the_length_counts_characters(town: Town) -> None:
    with pytest.raises(Refused):
        town.passwd(password="七个汉字的密码")
    town.passwd(password="八个汉字的好密码")
    assert town.sign_in(password="八个汉字的好密码").person == "chen"


def test_an_unknown_name_and_a_wrong_password_are_answered_alike(town: Town) -> None:
    town.passwd()
    assert town.refused(NotSignedIn) == WRONG
    assert town.refused(NotSignedIn, who="ghost") == WRONG
    assert town.refused(NotSignedIn, who="zhou", password=PASSWORD) == WRONG  # no password
    assert town.refused(NotSignedIn, password=PASSWORD + "x" * 2000) == WRONG
    assert town.outcomes() == ["password_set", "wrong_password", "unknown_name", "no_password",
                               "wrong_password"]
    log = accounts.sign_ins(town.s())
    assert [e.person for e in log[1:]] == ["chen", None, "zhou", "chen"]
    assert all(e.address == HOME for e in log[1:])
    assert "ghost" not in str(log)  # a name typed is not kept (it may be a password)


def test_a_person_signs_in_by_id_or_exact_name_and_a_shared_name_is_refused(
        svc: Scenario, town: Town, tmp_path: Path) -> None:
    town.passwd()
    assert town.sign_in("陈支书").person == "chen"
    org = copy.deepcopy(SMALL_ORG)
    next(p for p in org["people"] if p["id"] == "qs2")["name"] = "督查一"
    svc.init(write_org(tmp_path / "twins.yaml", org))
    town.passwd("qs1")
    with pytest.raises(Refused, match="2 people are named '督查一': sign in with your id"):
        town.sign_in("督查一")
    assert town.sign_in("qs1").person == "qs1"


# --- lockout and throttle ---------------------------------------------------------------------
def test_five_failures_in_a_row_lock_the_account_for_fifteen_minutes(town: Town) -> None:
    town.passwd()
    for _ in range(4):
        town.refused(NotSignedIn)
    town.sign_in()  # the right password: the count starts again
    for _ in range(5):
        assert town.refused(NotSignedIn) == WRONG
    said = town.refused(LockedOut, password=PASSWORD)  # even the right one
    assert said == ("too many failed sign-ins: the account is locked until 2026-11-30 09:15"
                    " (town time)")
    [row] = town.rows(t.credentials)
    assert row["locked_until"] == T0 + timedelta(minutes=15) and row["failed"] == 0
    town.clock.move(minutes=14, seconds=59)
    town.refused(LockedOut, password=PASSWORD)
    town.clock.move(seconds=1)
    assert town.sign_in().person == "chen"
    assert town.outcomes()[-3:] == ["locked", "locked", "ok"]
    [row] = town.rows(t.credentials)
    assert row["failed"] == 0 and row["locked_until"] is None


def test_a_locked_account_is_locked_from_every_address(town: Town) -> None:
    town.passwd()
    for n in range(5):
        town.refused(NotSignedIn, address=f"10.0.0.{n}")
    assert "locked until" in town.refused(LockedOut, password=PASSWORD, address="10.9.9.9")


def test_an_address_that_fails_twenty_times_in_fifteen_minutes_waits(town: Town) -> None:
    town.passwd()
    for n in range(20):
        town.refused(NotSignedIn, who=f"guess{n}")
        town.clock.move(seconds=30)
    said = town.refused(LockedOut, password=PASSWORD)  # the right password, the wrong place
    assert said == ("too many failed sign-ins from this address: try again after 2026-11-30"
                    " 09:15 (town time)")
    assert town.sign_in(address="10.0.0.8").person == "chen"  # another address may
    town.clock.t = T0 + timedelta(minutes=15)  # the first failure has left the window
    assert town.sign_in().person == "chen"
    assert town.outcomes().count("throttled") == 1


# --- web sessions -----------------------------------------------------------------------------
def test_a_session_ends_after_two_idle_hours(town: Town) -> None:
    town.passwd()
    made = town.sign_in()
    town.clock.move(seconds=30)
    town.resolve(made.token)
    assert town.rows(t.web_sessions)[0]["last_seen_at"] == T0  # at most once a minute
    town.clock.move(seconds=30)
    town.resolve(made.token)
    assert town.rows(t.web_sessions)[0]["last_seen_at"] == T0 + timedelta(minutes=1)
    town.clock.move(hours=1, minutes=59, seconds=59)
    town.resolve(made.token)  # used again just in time
    town.clock.move(hours=2)
    with pytest.raises(NotSignedIn, match="unused too long"):
        town.resolve(made.token)


def test_a_session_ends_twelve_hours_after_sign_in_however_busy(town: Town) -> None:
    town.passwd()
    made = town.sign_in()
    for _ in range(11):
        town.clock.move(hours=1)
        assert town.resolve(made.token).person == "chen"
    town.clock.move(minutes=59, seconds=59)
    town.resolve(made.token)
    town.clock.move(seconds=1)
    with pytest.raises(NotSignedIn) as ended:
        town.resolve(made.token)
    assert str(ended.value) == "not signed in: the session has expired"


def test_signing_out_ends_the_session(town: Town) -> None:
    town.passwd()
    made, other = town.sign_in(), town.sign_in()
    assert accounts.sign_out(town.s(), made.token) is True
    with pytest.raises(NotSignedIn, match="signed out"):
        town.resolve(made.token)
    assert accounts.sign_out(town.s(), made.token) is False
    assert accounts.sign_out(town.s(), "nobody's token") is False
    assert town.resolve(other.token).person == "chen"
    for nobody in ("", "x", "rct_" + "y" * 43, "z" * 100_000):
        with pytest.raises(NotSignedIn):
            town.resolve(nobody)


def test_changing_a_password_ends_the_other_sessions(town: Town) -> None:
    town.passwd()
    here, there = town.sign_in(), town.sign_in(address="10.0.0.8")
    with pytest.raises(Refused, match="current password is wrong"):
        accounts.change_password(town.s(), "chen", "not-the-one", "new-password-1",
                                 keep=here.session)
    with pytest.raises(Refused, match="same as the current"):
        accounts.change_password(town.s(), "chen", PASSWORD, PASSWORD)
    with pytest.raises(Refused, match="at least 8"):
        accounts.change_password(town.s(), "chen", PASSWORD, "short")
    accounts.change_password(town.s(), "chen", PASSWORD, "new-password-1", keep=here.session)
    assert town.resolve(here.token).person == "chen"
    with pytest.raises(NotSignedIn):
        town.resolve(there.token)
    assert town.refused(NotSignedIn, password=PASSWORD) == WRONG
    assert town.sign_in(password="new-password-1").person == "chen"
    assert "password_changed" in town.outcomes()


def test_a_wrong_current_password_counts_towards_the_lock(town: Town) -> None:
    town.passwd()
    for _ in range(5):
        with pytest.raises(Refused):
            accounts.change_password(town.s(), "chen", "guess-guess", "new-password-1")
    with pytest.raises(LockedOut):
        accounts.change_password(town.s(), "chen", PASSWORD, "new-password-1")
    town.refused(LockedOut, password=PASSWORD)


def test_the_operator_setting_a_password_ends_sessions_and_the_lock(town: Town) -> None:
    town.passwd()
    made = town.sign_in()
    for _ in range(5):
        town.refused(NotSignedIn)
    town.passwd(password="reset-by-operator")
    with pytest.raises(NotSignedIn):
        town.resolve(made.token)
    assert town.sign_in(password="reset-by-operator").person == "chen"


def test_a_hash_made_with_other_parameters_is_made_again_at_sign_in(town: Town) -> None:
    town.passwd()
    before = town.rows(t.credentials)[0]["hash"]
    assert "$m=8,t=1,p=1$" in before
    town.svc.app.account_policy = Policy(hash_time_cost=2, hash_memory_kib=16,
                                         hash_parallelism=1)
    town.sign_in()
    after = town.rows(t.credentials)[0]["hash"]
    assert after.startswith("$argon2id$") and "$m=16,t=2,p=1$" in after
    assert town.sign_in().person == "chen"
    assert town.rows(t.credentials)[0]["hash"] == after  # once


def test_a_person_who_left_the_org_holds_nothing(svc: Scenario, town: Town,
                                                 tmp_path: Path) -> None:
    town.passwd("nobody")
    made = town.sign_in("nobody")
    token = accounts.create_token(town.s(), "nobody").token
    org = copy.deepcopy(SMALL_ORG)
    org["people"] = [p for p in org["people"] if p["id"] != "nobody"]
    svc.init(write_org(tmp_path / "left.yaml", org))
    with pytest.raises(NotSignedIn):
        town.resolve(made.token)
    with pytest.raises(NotSignedIn):
        accounts.resolve_token(town.s(), token)
    assert town.refused(NotSignedIn, who="nobody", password=PASSWORD) == WRONG


def test_accounts_keep_the_real_time_not_the_drills(svc: Scenario, town: Town) -> None:
    assert svc.now is not None and svc.now.year == 2020  # the drill's --now
    town.passwd()
    made = town.sign_in()
    assert made.expires_at == T0 + timedelta(hours=12)
    assert town.rows(t.web_sessions)[0]["created_at"] == T0


# --- CSRF -------------------------------------------------------------------------------------
def test_a_sessions_forms_carry_its_csrf_token(town: Town) -> None:
    town.passwd()
    me = town.resolve(town.sign_in().token)
    assert me.csrf is not None
    accounts.check_csrf(me, me.csrf)
    for wrong in (None, "", me.csrf[:-1], me.csrf + "x", "蛇" * 10):
        with pytest.raises(NotPermitted, match="CSRF"):
            accounts.check_csrf(me, wrong)
    bearer = accounts.resolve_token(town.s(), accounts.create_token(town.s(), "chen").token)
    accounts.check_csrf(bearer, None)  # an API token needs none


# --- API tokens -------------------------------------------------------------------------------
def test_an_api_token_resolves_until_it_is_revoked(town: Town) -> None:
    made = accounts.create_token(town.s(), "chen", "phone")
    assert made.token.startswith("rct_") and made.name == "phone" and made.created_at == T0
    me = accounts.resolve_token(town.s(), made.token)
    assert me == Principal("chen", token=made.id)
    [row] = town.rows(t.api_tokens)
    assert row["hash"] != made.token and made.token not in str(row)
    assert row["last_used_at"] == T0
    town.clock.move(seconds=59)
    accounts.resolve_token(town.s(), made.token)
    assert town.rows(t.api_tokens)[0]["last_used_at"] == T0
    town.clock.move(seconds=1)
    accounts.resolve_token(town.s(), made.token)
    assert town.rows(t.api_tokens)[0]["last_used_at"] == T0 + timedelta(minutes=1)
    done = accounts.revoke_token(town.s(), made.id)
    assert done.revoked_at == town.clock.t
    with pytest.raises(NotSignedIn, match="revoked"):
        accounts.resolve_token(town.s(), made.token)
    with pytest.raises(Refused, match="already revoked"):
        accounts.revoke_token(town.s(), made.id)
    for nobody in ("", "rct_", "rct_" + "x" * 43, made.token[4:], "rct_" + "x" * 10_000):
        with pytest.raises(NotSignedIn):
            accounts.resolve_token(town.s(), nobody)


def test_tokens_are_named_listed_and_revoked_by_name(town: Town) -> None:
    first = accounts.create_token(town.s(), "chen")
    second = accounts.create_token(town.s(), "chen", "laptop")
    assert (first.name, second.name) == ("token-1", "laptop")
    with pytest.raises(Refused, match="already has a token named 'laptop'"):
        accounts.create_token(town.s(), "chen", "laptop")
    with pytest.raises(Refused, match="number"):
        accounts.create_token(town.s(), "chen", "42")
    with pytest.raises(Refused, match="control character"):
        accounts.create_token(town.s(), "chen", "a\x1bb")
    with pytest.raises(NotFound):
        accounts.create_token(town.s(), "ghost")
    with pytest.raises(BadOption, match="say whose"):
        accounts.revoke_token(town.s(), "laptop")
    with pytest.raises(NotFound):
        accounts.revoke_token(town.s(), "laptop", "zhou")
    with pytest.raises(NotFound):
        accounts.revoke_token(town.s(), second.id, "zhou")
    assert accounts.revoke_token(town.s(), "laptop", "chen").id == second.id
    again = accounts.create_token(town.s(), "chen", "laptop")  # the name is free again
    listed = accounts.list_tokens(town.s(), "chen")
    assert [(k.id, k.name, k.revoked_at is not None) for k in listed] == [
        (first.id, "token-1", False), (second.id, "laptop", True), (again.id, "laptop", False)]
    assert accounts.list_tokens(town.s(), "zhou") == []
    with pytest.raises(NotFound):
        accounts.list_tokens(town.s(), "ghost")
    assert town.outcomes() == ["token_created", "token_created", "token_revoked",
                               "token_created"]


# --- the stored form --------------------------------------------------------------------------
def test_the_sign_in_log_is_append_only(town: Town) -> None:
    town.passwd()
    for statement in ("UPDATE sign_in_log SET outcome = 'ok'", "DELETE FROM sign_in_log"):
        with pytest.raises(StoreUnavailable, match="append-only"), \
                town.svc.store.transaction() as tx:
            tx.conn.execute(text(statement))
    assert town.outcomes() == ["password_set"]


@pytest.fixture
def sqlite_town(sqlite_url: str, org_file: Path, tmp_path: Path) -> Iterator[Town]:
    s = scenario(sqlite_url, tmp_path / "data", actor="wang", now=datetime(2020, 9, 28, 9))
    s.init(org_file)
    clock = s.app.account_clock = Hands(T0)
    s.app.account_policy = CHEAP
    yield Town(s, clock)
    s.close()


def test_no_secret_is_anywhere_in_the_database_file(sqlite_town: Town, tmp_path: Path) -> None:
    town = sqlite_town
    town.passwd()
    made = town.sign_in()
    token = accounts.create_token(town.s(), "chen", "phone").token
    town.resolve(made.token)
    accounts.resolve_token(town.s(), token)
    town.svc.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("rectify.db*"))
    assert len(stored) > 10_000
    for secret in (PASSWORD, made.token, token, token.removeprefix("rct_")):
        assert secret.encode() not in stored


# --- the commands -----------------------------------------------------------------------------
@pytest.fixture
def db(sqlite_url: str, org_file: Path) -> str:
    r = run_cli("--db", sqlite_url, "--now", "2020-09-28T09:00", "init", "--drill", "--org",
                str(org_file))
    assert r.code == 0, r.err
    return sqlite_url


def user(db: str, *args: str, stdin: bytes | None = None,
         monkeypatch: pytest.MonkeyPatch | None = None) -> Ran:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), "utf-8"))
    return run_cli("--db", db, "user", *args)


def error_line(r: Ran, code: int) -> str:
    assert r.code == code, (r.out, r.err)
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.err
    return lines[0]


def signs_in(db: str, password: str, who: str = "chen") -> bool:
    from engine.bootstrap import build

    app = build(db)
    app.account_policy = CHEAP
    try:
        accounts.sign_in(app.session(), who, password, HOME)
        return True
    except NotSignedIn:
        return False
    finally:
        app.close()


def test_passwd_reads_one_line_from_stdin(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    r = user(db, "passwd", "chen", "--stdin", stdin=b"with trailing space \r\n",
             monkeypatch=monkeypatch)
    assert r.code == 0 and r.out.startswith("password set for chen"), r.err
    assert signs_in(db, "with trailing space ")
    for given, code, said in (
            (b"", 2, "no password on stdin"), (b"\xff\xfeabcdefgh\n", 2, "not UTF-8"),
            (b"short\n", 1, "at least 8 characters"), (b"aaaaaaaaaa\n", 1, "one character")):
        r = user(db, "passwd", "chen", "--stdin", stdin=given, monkeypatch=monkeypatch)
        assert said in error_line(r, code)
    r = user(db, "passwd", "ghost", "--stdin", stdin=b"long enough\n", monkeypatch=monkeypatch)
    assert "unknown person 'ghost'" in error_line(r, 1)
    assert signs_in(db, "with trailing space ")


def prompted(db: str, typed: str) -> tuple[int, str]:
    runner = CliRunner()
    with runner.isolation(input=typed) as (out, err, *_):
        code = cli.main(["--db", db, "user", "passwd", "chen"])
        return code, out.getvalue().decode() + err.getvalue().decode()


def test_passwd_asks_twice_without_showing_it(db: str) -> None:
    code, shown = prompted(db, "kept-secret-1\nkept-secret-1\n")
    assert code == 0 and "password set for chen" in shown
    assert "kept-secret-1" not in shown and shown.count("password") >= 2
    assert signs_in(db, "kept-secret-1")
    code, shown = prompted(db, "kept-secret-2\nkept-secret-3\n")
    assert code == 1 and "do not match" in shown and "error: aborted" in shown
    assert signs_in(db, "kept-secret-1")


def test_token_is_printed_once_and_listed_never(db: str) -> None:
    r = user(db, "token", "chen", "--name", "phone")
    assert r.code == 0, r.err
    token, notice = r.out.splitlines()
    assert token.startswith("rct_") and "shown only this once" in notice
    made = run_cli("--db", db, "--json", "user", "token", "chen").json()
    assert set(made) == {"id", "name", "person", "token", "created_at"}
    assert (made["name"], made["person"]) == ("token-2", "chen")
    listed = run_cli("--db", db, "--json", "user", "tokens", "chen")
    assert [k["name"] for k in listed.json()] == ["phone", "token-2"]
    human = user(db, "tokens", "chen")
    for shown in (listed.out, human.out):
        assert token not in shown and made["token"] not in shown
        assert token[4:12] not in shown
    assert "phone" in human.out and "never" in human.out
    assert "zhou has no API tokens" in user(db, "tokens", "zhou").out
    assert "ghost" in error_line(user(db, "tokens", "ghost"), 1)
    assert "ghost" in error_line(user(db, "token", "ghost"), 1)
    assert "already has a token" in error_line(user(db, "token", "chen", "--name", "phone"), 1)


def test_revoke_token_by_id_or_by_name(db: str) -> None:
    first = run_cli("--db", db, "--json", "user", "token", "chen").json()
    user(db, "token", "chen", "--name", "laptop")
    r = user(db, "revoke-token", str(first["id"]))
    assert r.code == 0 and "revoked token 1 (token-1) of chen" in r.out, r.err
    assert "already revoked" in error_line(user(db, "revoke-token", "1"), 1)
    assert "no API token 99" in error_line(user(db, "revoke-token", "99"), 1)
    assert "say whose" in error_line(user(db, "revoke-token", "laptop"), 2)
    error_line(user(db, "revoke-token", "0"), 2)
    assert "no live token" in error_line(user(db, "revoke-token", "laptop", "--person",
                                              "zhou"), 1)
    done = run_cli("--db", db, "--json", "user", "revoke-token", "laptop", "--person", "chen")
    assert done.code == 0 and done.json()["revoked_at"] is not None
    assert "token" not in done.json()
    listed = run_cli("--db", db, "--json", "user", "tokens", "chen").json()
    assert all(k["revoked_at"] for k in listed)


def test_user_commands_without_a_database_say_init(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert "init" in error_line(user(missing, "tokens", "chen"), 1)
