"""engine.present.indented: the text of json.dumps(…, ensure_ascii=False, indent=2), made
without the pure-Python encoder, for any object (flat ones by its own path)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.present import indented

SCALARS = (st.none() | st.booleans() | st.integers() | st.text(max_size=6)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.sampled_from(['"quoted"', "\\", "整改一", "line\nbreak", "\u2028", "\x00"]))
FLAT = st.dictionaries(st.text(max_size=5), SCALARS | st.lists(SCALARS, max_size=4),
                       max_size=8)
NESTED = st.dictionaries(st.text(max_size=3), st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=6), max_size=4)


def expected(obj: dict[str, Any], pad: str) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2).replace("\n", f"\n{pad}")


@settings(max_examples=300, deadline=None)
@given(FLAT, st.sampled_from(["", "    ", "\t"]))
def test_a_flat_object_as_json_dumps_writes_it(obj: dict[str, Any], pad: str) -> None:
    assert indented(obj, pad) == expected(obj, pad)


@settings(max_examples=200, deadline=None)
@given(NESTED, st.sampled_from(["", "    "]))
def test_any_other_object_too(obj: dict[str, Any], pad: str) -> None:
    assert indented(obj, pad) == expected(obj, pad)


def test_an_escalation_as_escalate_json_writes_it() -> None:
    shown = {"id": 7, "issue": 3, "level": "interview", "stage": "studied",
             "recipients": ["chen", "zhou"], "subjects": [], "due_at": "2020-10-12T24:00+08:00",
             "raised_at": None, "moment": "2020-10-13T00:00+08:00", "status": "open"}
    assert indented(shown, "    ") == expected(shown, "    ")
    assert indented({}, "    ") == "{}"
