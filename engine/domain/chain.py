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


def canonical(row: Sequence[Any], at: str, recorded_at: str, seq: int | None = None) -> str:
    """The encoding hashed for one history row (HISTORY_COLUMNS order up to prev_hash), its
    times given in the fixed format and its payload the canonical JSON text the store keeps;
    `seq` overrides the row's own. The one place the layout is written."""
    e = _encode_str
    transition, from_state, to_state = row[4], row[5], row[6]
    return (
        f'{{"actor":{e(row[7])},"at":"{at}",'
        f'"from_state":{"null" if from_state is None else e(from_state)},'
        f'"issue_id":{row[1]},"payload":{row[10]},"prev_hash":"{row[12]}",'
        f'"recorded_at":"{recorded_at}","seq":{row[0] if seq is None else seq},'
        f'"to_state":{"null" if to_state is None else e(to_state)},'
        f'"transition":{"null" if transition is None else e(transition)},'
        f'"type":{e(row[3])},"version":{row[2]},"workflow":{e(row[11])}}}'
    )


def row_hash(row: Sequence[Any], seq: int | None = None, *, sqlite: bool) -> str:
    """The hash of a history row as the store holds it: on SQLite its times are the stored
    text, on PostgreSQL aware datetimes. `seq` overrides the row's own (to test renumbering)."""
    if sqlite:
        at, recorded = sqlite_time_text(row[8]), sqlite_time_text(row[9])
    else:
        at, recorded = time_text(row[8]), time_text(row[9])
    return sha256(canonical(row, at, recorded, seq).encode()).hexdigest()


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
