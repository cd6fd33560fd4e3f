"""The hash chain over the history: what an event's `hash` is computed from.

One chain per database, in commit order. Each event's hash is the SHA-256 (hex) of its
canonical encoding: a JSON object of every stored field plus the previous event's hash, with
keys sorted, no spaces, UTF-8 (non-ASCII kept as is), times as UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`
and the payload as its own canonical JSON. Anyone can recompute it with a JSON library:

    json.dumps({**fields, "payload": payload, "prev_hash": prev}, sort_keys=True,
               ensure_ascii=False, separators=(",", ":")).encode("utf-8")

The first event's `prev_hash` is GENESIS. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from hashlib import sha256
from json.encoder import encode_basestring
from typing import Any

GENESIS = "0" * 64
_encode_str = encode_basestring
"""A JSON string, non-ASCII kept (what json.dumps does with ensure_ascii=False)."""


def time_text(moment: datetime) -> str:
    """The fixed time format of the encoding: UTC with microseconds and a Z."""
    u = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return (f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:"
            f"{u.second:02d}.{u.microsecond:06d}Z")


def sqlite_time_text(stored: str) -> str:
    """The same from SQLite's stored text (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC). Anything else
    is kept as it is, so that it can never hash like a time the engine wrote."""
    if len(stored) == 26 and stored[10] == " ":
        return f"{stored[:10]}T{stored[11:]}Z"
    return stored


class _Names(dict[Any, str]):
    """The JSON text of each name a row repeats (actor, type, states, transition, workflow),
    made once: a history of a million events names a few dozen."""

    def __missing__(self, name: Any) -> str:
        if len(self) > _NAMES_MAX:
            self.clear()
            self[None] = "null"
        text = self[name] = _encode_str(name)
        return text


_NAMES_MAX = 4096
_NAMES = _Names({None: "null"})


def canonical(row: Sequence[Any], at: str, recorded_at: str, seq: int | None = None) -> str:
    """The encoding hashed for one history row (HISTORY_COLUMNS order up to prev_hash), its
    times given in the fixed format and its payload the canonical JSON text the store keeps;
    `seq` overrides the row's own."""
    before, after = _around(row, at, recorded_at, seq)
    return f"{before}{row[10]}{after}"


def _around(row: Sequence[Any], at: str, recorded_at: str, seq: int | None) -> tuple[str, str]:
    """The encoding before the payload and after it: the one place the layout is written.
    Apart, so that a hash encodes the payload (the only long text, often not ASCII) once and
    the rest as ASCII text."""
    e = _NAMES
    return (
        f'{{"actor":{e[row[7]]},"at":"{at}","from_state":{e[row[5]]},'
        f'"issue_id":{row[1]},"payload":',
        f',"prev_hash":"{row[12]}",'
        f'"recorded_at":"{recorded_at}","seq":{row[0] if seq is None else seq},'
        f'"to_state":{e[row[6]]},"transition":{e[row[4]]},'
        f'"type":{e[row[3]]},"version":{row[2]},"workflow":{e[row[11]]}}}'
    )


def row_hash(row: Sequence[Any], seq: int | None = None, *, sqlite: bool) -> str:
    """The hash of a history row as the store holds it: on SQLite its times are the stored
    text, on PostgreSQL aware datetimes. `seq` overrides the row's own (to test renumbering).
    The UTF-8 of the encoding is the UTF-8 of its three parts one after the other."""
    if sqlite:  # sqlite_time_text of both, written out: the audit hashes a million rows
        at, recorded = row[8], row[9]
        if len(at) == 26 and at[10] == " ":
            at = f"{at[:10]}T{at[11:]}Z"
        if len(recorded) == 26 and recorded[10] == " ":
            recorded = f"{recorded[:10]}T{recorded[11:]}Z"
    else:
        at, recorded = time_text(row[8]), time_text(row[9])
    before, after = _around(row, at, recorded, seq)
    payload = row[10]
    if payload.__class__ is not str:  # not as the store writes it: as the f-string has it
        payload = f"{payload}"
    return _sha256(before.encode() + payload.encode() + after.encode()).hexdigest()


_sha256 = sha256


def parse_anchor(text: str) -> tuple[int, str]:
    """`SEQ:HASH` as printed by `rectify audit anchor`; ValueError when malformed."""
    seq, sep, digest = text.strip().partition(":")
    if not sep or not seq.isdigit() or int(seq) < 1 or len(digest) != 64:
        raise ValueError(f"anchor {text!r} is not SEQ:HASH (a number, a colon, 64 hex digits)")
    try:
        int(digest, 16)
    except ValueError:
        raise ValueError(f"anchor {text!r}: the hash is not hexadecimal") from None
    return int(seq), digest.lower()
