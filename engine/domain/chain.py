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


def canonical(
    seq: int, issue_id: int, version: int, type: str, transition: str | None,
    from_state: str | None, to_state: str | None, actor: str, at: str, recorded_at: str,
    payload: str, workflow: str, prev_hash: str,
) -> str:
    """The encoding hashed for one event; `at`/`recorded_at` in the fixed time format and
    `payload` already canonical JSON text (as the store keeps it)."""
    return row_canonical((seq, issue_id, version, type, transition, from_state, to_state,
                          actor, None, None, payload, workflow, prev_hash), at, recorded_at)


def row_canonical(row: Sequence[Any], at: str, recorded_at: str, seq: int | None = None
                  ) -> str:
    """canonical() of a history row (HISTORY_COLUMNS order up to prev_hash), its times given
    in the fixed format; `seq` overrides the row's own. The one place the layout is written."""
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


def sqlite_row_hash(row: Sequence[Any], seq: int | None = None) -> str:
    """event_hash of a history row as SQLite returns it (HISTORY_COLUMNS order, times as the
    stored text), in one call: the audit's hot loop. `seq` overrides the row's own."""
    at, recorded = row[8], row[9]
    if len(at) == 26 == len(recorded) and at[10] == " " == recorded[10]:
        at, recorded = f"{at[:10]}T{at[11:]}Z", f"{recorded[:10]}T{recorded[11:]}Z"
    else:
        at, recorded = sqlite_time_text(at), sqlite_time_text(recorded)
    return sha256(row_canonical(row, at, recorded, seq).encode()).hexdigest()


def event_hash(*fields: Any) -> str:
    """hash = SHA-256 of canonical(*fields), hex."""
    return sha256(canonical(*fields).encode()).hexdigest()


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
