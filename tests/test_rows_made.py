"""The mappers that fill a record's fields directly (an issue's slots, an escalation's dict)
make the record its `__init__` makes: equal, the same repr and hash, every field; and stored
JSON reads as the standard library reads it."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.escalation import Escalation
from engine.domain.issue import Issue
from engine.store import rows
from engine.store.dialect import decode_time

ISSUE_ROWS = [
    (7, "第7户 饮水", "说明", "drinking_water", "v-shiban", "sa-01", "户主0007", "high", 1,
     "studied", 5, "rc2", "入户核实", "2023-03-04 16:00:00.000000",
     "2023-03-01 02:00:00.000000", "2023-02-28 02:00:00.000000", "sa1", "default@3", 4,
     "2023-03-03 16:00:00.000000", 0),
    (8, "t", None, "housing_safety", "c-jiezi", None, None, "medium", 0, "found", 1, None,
     None, None, "2023-02-28 02:00:00.000000", "2023-02-28 02:00:00.000000", "sa1",
     "default@3", 1, None, 1),
]


@pytest.mark.parametrize("row", ISSUE_ROWS)
def test_an_issue_row_maps_to_the_issue_init_makes(row: tuple[Any, ...]) -> None:
    when: Any = decode_time
    want = Issue(
        id=row[0], title=row[1], description=row[2], category=row[3], village=row[4],
        group=row[5], household=row[6], severity=row[7], listed=bool(row[8]), state=row[9],
        version=row[10], assignee=row[11], plan=row[12], due_at=when(row[13]),
        stage_entered_at=when(row[14]), created_at=when(row[15]), created_by=row[16],
        workflow=row[17], stage_version=row[18], next_escalation_at=when(row[19]),
        listed_by_village=bool(row[20]))
    got = rows.issue(row)
    assert type(got) is Issue and got == want
    assert (repr(got), hash(got)) == (repr(want), hash(want))
    assert all(getattr(got, f.name) == getattr(want, f.name) for f in fields(Issue))


@pytest.mark.parametrize("row", [
    (3, 7, "studied", 4, "interview", "2023-03-04 16:00:00.000000",
     "2023-03-05 02:00:00.000000", "2023-03-05 02:05:00.000000", '["liu","zhou"]', "recorded",
     "2023-03-06 02:00:00.000000", "liu", "谈话", '["zhou"]', '["rc2"]', None),
    (4, 7, "found", 1, "reminder", "2023-03-04 16:00:00.000000",
     "2023-03-05 02:00:00.000000", "2023-03-05 02:05:00.000000", '["chen"]', "open",
     None, None, None, None, None, None),
])
def test_an_escalation_row_maps_to_the_escalation_init_makes(row: tuple[Any, ...]) -> None:
    when: Any = decode_time
    want = Escalation(
        id=row[0], issue_id=row[1], stage=row[2], stage_version=row[3], level=row[4],
        due_at=when(row[5]), moment=when(row[6]), raised_at=when(row[7]),
        recipients=tuple(rows.json_value(row[8])), status=row[9], closed_at=when(row[10]),
        closed_by=row[11], note=row[12],
        attendees=tuple(rows.json_value(row[13])) if row[13] else (),
        subjects=tuple(rows.json_value(row[14])) if row[14] else (),
        outcome=row[15])
    got = rows.escalation(row)
    assert type(got) is Escalation and got == want
    assert (repr(got), hash(got)) == (repr(want), hash(want))
    assert vars(got) == vars(want) and list(vars(got)) == list(vars(want))
    assert got.due_at == datetime(2023, 3, 4, 16, tzinfo=UTC)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(value=_JSON, canonical=st.booleans())
def test_stored_json_reads_as_the_standard_library_reads_it(value: Any, canonical: bool) -> None:
    """The fast decoder reads any JSON the engine writes (and any other) as json.loads does:
    the same value, of the same types (integers past 64 bits stay integers)."""
    text = (json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            if canonical else json.dumps(value, indent=1))
    got = rows.json_value(text)
    assert got == json.loads(text) and repr(got) == repr(json.loads(text))


@pytest.mark.parametrize("text", ["NaN", "[1E400]", '"\\ud800"', '{"a":1} trailing', " [2]",
                                  str(2**70), '{"a":1,"a":2}'])
def test_what_the_fast_decoder_refuses_is_read_as_before(text: str) -> None:
    """What msgspec refuses and the standard library takes is read by the standard library
    (the scanner, which stops at the end of the first value, then json.loads)."""
    try:
        want = json.JSONDecoder().scan_once(text, 0)[0]  # type: ignore[attr-defined]
    except StopIteration:
        want = json.loads(text)
    got = rows.json_value(text)
    assert repr(got) == repr(want)


def test_what_nothing_reads_says_why() -> None:
    with pytest.raises(json.JSONDecodeError, match="Expecting value"):
        rows.json_value("not json")
