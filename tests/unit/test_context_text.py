"""ContextText: a context's stored text made from shared parts is exactly
json.dumps(context.to_dict(name), ensure_ascii=False), however many messages share a maker."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from notifications.context_text import ContextText
from notifications.contexts import (
    AssignmentMessage,
    BriefingContext,
    BriefingMessage,
    EscalationContext,
    EscalationMessage,
    IssueContext,
    Message,
    TownContext,
    VoidedMessage,
)

TOWN = TownContext("黄家镇")
TRICKY = ('"id": -1', '{"id": -1}', 'a "quoted" name', "\\", "整改一", "", "x\ny")
"""Texts that would fool a careless splice (the mark itself, quotes, a backslash)."""


def issue(n: int, title: str = "第1户 饮水不稳定") -> IssueContext:
    return IssueContext(id=n, title=title, village="v-shiban", village_name="石板村",
                        household=None if n % 2 else "户主0001", category="drinking_water",
                        stage="reported", stage_label="上报", due="2020-10-12 止",
                        late_working_days=n % 7, assignee_name="整改一", listed=n % 3 == 0)


def escalation(n: int, level: str = "interview", note: str = "",
               people: tuple[str, ...] = ("整改一", "陈支书")) -> EscalationContext:
    return EscalationContext(id=n, level=level, level_label="约谈", recipients=people,
                             subjects=people[:1], conductors=people[1:], note=note)


def stored(maker: ContextText, context: Message, names: list[str]) -> list[str]:
    head = maker.head(context)
    return [maker.text(head, context, name) for name in names]


def expected(context: Message, names: list[str]) -> list[str]:
    return [json.dumps(context.to_dict(name), ensure_ascii=False) for name in names]


def test_escalations_alike_but_for_their_number_share_one_text() -> None:
    maker = ContextText()
    i = issue(1)
    for n in (1, 2, 10, 12345, 0):
        for role in ("", "conductor", "subject", "copy"):
            m = EscalationMessage(TOWN, i, "请约谈", escalation(n), role)
            assert stored(maker, m, ["整改一", "陈支书"]) == expected(m, ["整改一", "陈支书"])


def test_other_kinds_and_a_briefing() -> None:
    maker = ContextText()
    i = issue(2)
    briefing = BriefingContext(since="2020-10-01", until="2020-10-08", by_village=(),
                               newly_overdue=(i,), cleared=(), open_interviews=(),
                               open_accountability=(), stages=("found",))
    for m in (AssignmentMessage(TOWN, i, "请整改", plan='修"房"'),
              VoidedMessage(TOWN, i, "无需再办", reason="重复", duplicate_of=1),
              BriefingMessage(TOWN, briefing)):
        assert stored(maker, m, ["王书记", *TRICKY]) == expected(m, ["王书记", *TRICKY])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.integers(min_value=1, max_value=3), st.integers(min_value=0, max_value=10**9),
    st.sampled_from(("reminder", "interview", "accountability")),
    st.sampled_from(TRICKY) | st.text(max_size=8), st.sampled_from(TRICKY) | st.text(max_size=8),
    st.sampled_from(("", "conductor", "subject", "copy"))), min_size=1, max_size=12))
def test_any_sequence_of_messages_through_one_maker(
        made: list[tuple[int, int, str, str, str, str]]) -> None:
    """Messages in any order through one maker (so that what it keeps is reused): each text
    is the plain encoding, whatever the notes, names and next steps hold."""
    maker = ContextText()
    issues = {k: issue(k, title=f"问题{k}") for k in (1, 2, 3)}
    for k, n, level, note, step, role in made:
        m = EscalationMessage(TOWN, issues[k], step, escalation(n, level, note, (note, "陈支书")),
                              role)
        assert stored(maker, m, [note, "陈支书"]) == expected(m, [note, "陈支书"])
