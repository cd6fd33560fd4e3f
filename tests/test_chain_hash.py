"""The row hash is the SHA-256 of the canonical encoding's UTF-8, however its text is made:
the hash of a stored row is computed from its parts (the payload encoded apart), and must be
byte for byte the hash of `canonical`, which is plain JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.chain import GENESIS, canonical, row_hash, sqlite_time_text, time_text

_NAME = st.one_of(st.none(), st.text(max_size=12))
_PAYLOAD = st.dictionaries(st.text(max_size=8), st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=20),
    st.lists(st.text(max_size=5), max_size=3)), max_size=5)


def _row(seq: int, issue: int, version: int, names: list[str | None], payload: Any,
         at: Any, recorded: Any) -> tuple[Any, ...]:
    kind, transition, source, to, actor, workflow = names
    return (seq, issue, version, kind, transition, source, to, actor, at, recorded, payload,
            workflow, GENESIS, "")


@settings(max_examples=200, deadline=None)
@given(seq=st.integers(1, 10**9), issue=st.integers(0, 10**6), version=st.integers(1, 500),
       names=st.lists(_NAME, min_size=6, max_size=6), payload=_PAYLOAD,
       moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
       renumbered=st.one_of(st.none(), st.integers(1, 9)))
def test_the_hash_of_a_row_is_the_hash_of_its_canonical_encoding(
        seq: int, issue: int, version: int, names: list[str | None], payload: dict[str, Any],
        moment: datetime, renumbered: int | None) -> None:
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    stored = moment.isoformat(" ", "microseconds")
    row = _row(seq, issue, version, names, text, stored, stored)
    at = sqlite_time_text(stored)
    shift = None if renumbered is None else seq + renumbered
    want = sha256(canonical(row, at, at, shift).encode()).hexdigest()
    assert row_hash(row, shift, sqlite=True) == want
    aware = moment.replace(tzinfo=UTC)
    pg = _row(seq, issue, version, names, text, aware, aware)
    assert row_hash(pg, shift, sqlite=False) == sha256(
        canonical(pg, time_text(aware), time_text(aware), shift).encode()).hexdigest()
    # plain JSON: what anyone recomputes with a JSON library
    fields = dict(zip(("seq", "issue_id", "version", "type", "transition", "from_state",
                       "to_state", "actor"), row[:8], strict=True))
    if shift is not None:
        fields["seq"] = shift
    plain = json.dumps({**fields, "at": at, "recorded_at": at, "payload": payload,
                        "workflow": row[11], "prev_hash": GENESIS}, sort_keys=True,
                       ensure_ascii=False, separators=(",", ":"))
    assert row_hash(row, shift, sqlite=True) == sha256(plain.encode()).hexdigest()


def test_a_payload_that_is_not_text_hashes_as_its_text_in_the_encoding() -> None:
    """A tampered SQLite row may hold a number or bytes where the payload's text was: it
    hashes as the encoding spells it (and so matches no hash the engine wrote)."""
    names: list[str | None] = ["transition", "study", "reported", "studied", "rc1", "d@3"]
    payloads: tuple[Any, ...] = (b'{"a":1}', 42, 4.5)
    for payload in payloads:
        row = _row(7, 3, 2, names, payload, "2024-01-02 03:04:05.000006",
                   "2024-01-02 03:04:05.000007")
        want = canonical(row, "2024-01-02T03:04:05.000006Z", "2024-01-02T03:04:05.000007Z")
        assert str(payload) in want
        assert row_hash(row, sqlite=True) == sha256(want.encode()).hexdigest()
