"""engine.domain.tally: the village × stage counts moved by the events written since."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from engine.domain.tally import moved

STATES = ("found", "reported", "studied", "rectified", "verified", "cleared", "voided")
VILLAGES = ("v-a", "v-b")


def test_placing_and_moving_events_move_the_counts() -> None:
    counts = {("v-a", "found"): 2}
    after = moved(counts, [("created", None, "found", "v-b"),
                           ("transition", "found", "reported", "v-a"),
                           ("escalated", None, None, "v-a"),
                           ("imported", None, "cleared", "v-a")])
    assert after == {("v-a", "found"): 1, ("v-a", "reported"): 1, ("v-b", "found"): 1,
                     ("v-a", "cleared"): 1}
    assert counts == {("v-a", "found"): 2}  # the kept counts are not changed in place


def test_an_edit_or_an_unknown_kind_means_counting_again() -> None:
    assert moved({}, [("edited", None, None, "v-a")]) is None
    assert moved({}, [("spot_checked", None, None, "v-a")]) is None
    assert moved({}, [("transition", "found", None, "v-a")]) is None
    assert moved({}, [("created", None, "found", None)]) is None  # no such issue now


@given(st.lists(st.tuples(st.sampled_from(VILLAGES), st.lists(
    st.sampled_from(STATES), min_size=1, max_size=6)), max_size=12), st.integers(0, 30))
def test_counts_moved_from_any_point_equal_the_counts_of_the_end(
        issues: list[tuple[str, list[str]]], cut: int) -> None:
    """Issues, each created in its first state then moved through the rest: the counts kept at
    any event and moved by the events after it equal the counts of the issues at the end."""
    events: list[tuple[str, str | None, str | None, str | None]] = []
    for village, path in issues:
        events.append(("created", None, path[0], village))
        events.extend(("transition", a, b, village) for a, b in pairwise(path))
    cut = min(cut, len(events))
    start = moved({}, events[:cut])
    assert start is not None
    end = moved(start, events[cut:])
    assert end is not None
    expected: dict[tuple[str, str], int] = {}
    for village, path in issues:
        expected[(village, path[-1])] = expected.get((village, path[-1]), 0) + 1
    assert {k: n for k, n in end.items() if n} == expected
