"""`escalate --json` writes its escalations' moments through `remembered_when`: the same text
as `when` for every moment (offsets of any zone, microseconds, None), and an escalation's
JSON the same either way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from engine.domain.escalation import Escalation
from engine.present import escalation_json, remembered_when, when

ZONES = (ZoneInfo("Asia/Shanghai"), UTC, timezone(timedelta(hours=-3, minutes=-30)))
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1),
                       timezones=st.sampled_from(ZONES))


@given(st.lists(st.one_of(st.none(), moments), max_size=30), st.sampled_from(ZONES))
def test_remembered_when_writes_what_when_writes(values: list[datetime | None],
                                                 tz: ZoneInfo) -> None:
    at = remembered_when(tz)
    for value in values + values:  # the second time from memory
        assert at(value) == when(value, tz)


@given(moments, moments, moments, st.sampled_from(ZONES))
def test_an_escalation_is_written_the_same(due: datetime, moment: datetime, raised: datetime,
                                           tz: ZoneInfo) -> None:
    e = Escalation(7, 3, "reported", 2, "interview", due, moment, raised, ("rc1", "wang"),
                   "open", subjects=("rc1",))
    at = remembered_when(tz)
    assert escalation_json(e, tz, at) == escalation_json(e, tz)
    assert escalation_json(e, tz, at)["moment"] == moment.astimezone(tz).isoformat()
