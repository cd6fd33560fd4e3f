"""Refusals on a page in the reader's words: each shape of the rules' messages, as the rules
write it (made by the code that raises it, not copied), told in Chinese with names."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest

from engine.app import issues
from engine.domain.issue import Move, NewIssue
from engine.domain.org import Names
from engine.errors import RectifyError
from engine.refusals import refusal
from engine.words import ENGLISH, Words
from tests.support import scenario

W = Words("zh_CN", Names({"sa1": "自查一", "rc2": "整改二"}, {}, {}))
START = datetime(2020, 9, 28, 9, 0)


@pytest.mark.parametrize(("message", "said"), [
    ("sa1 may not study issue 7: needs one of the roles rectification",
     "自查一无权对问题 #7 办理“研究”"),
    ("rc2 may not verify issue 7: they were its assignee when rectify was fired",
     "整改二是问题 #7 整改时的责任人，不能再办理“验收”（不相容职责分离）"),
    ("rc2 may not verify issue 7: they fired rectify on it",
     "整改二已对问题 #7 办理过“整改”，不能再办理“验收”（不相容职责分离）"),
    ("sa1 may not list village: party_secretary may", "自查一无权办理“挂牌督战”"),
    ("cannot clear an issue in state 'reported'; allowed: study, void",
     "问题处于“上报”阶段，不能办理“销号”"),
    ("study needs --plan, --assignee", "办理“研究”需要填写：整改措施、责任人"),
    ("issue reassign needs --reason", "需要填写：理由"),
    ("issue 7 was changed by someone else; try again", "问题 #7 刚被他人修改，请刷新页面后重试"),
    ("due date 2020-10-01 is in the past (today is 2020-10-09)",
     "截止日期 2020-10-01 已过（今天是 2020-10-09）"),
    ("due date 2020-10-03 is not a working day (the working day before it is 2020-09-30)",
     "截止日期 2020-10-03 不是工作日（前一个工作日是 2020-09-30）"),
    ("due date 2021-03-01 is more than 15 working days out (latest 2020-10-30)",
     "截止日期 2021-03-01 超过本阶段 15 个工作日的时限（最晚 2020-10-30）"),
    ("the form's CSRF token is missing or wrong: reload the page and try again",
     "页面已过期，请刷新后重试"),
    ("no issue 99", "没有编号为 99 的问题"),
    ("wrong name or password", "姓名或密码不对"),
    ("something new the rules say", "something new the rules say"),
])
def test_each_shape_in_chinese(message: str, said: str) -> None:
    assert refusal(W, message) == said
    assert refusal(ENGLISH, message) == message


def test_the_shapes_match_what_the_rules_raise(sqlite_url: str, org_file: Path,
                                               tmp_path: Path) -> None:
    """The messages as the code makes them (refused moves on a real database), so that a
    reworded rule fails here rather than reaching a page in English."""
    svc = scenario(sqlite_url, tmp_path / "data", actor="wang", now=START)
    svc.init(org_file)
    s = svc.app.session("sa1", START)
    i = issues.add(s, NewIssue(title="漏雨", category="food", village="v-shiban")).id
    issues.move(svc.app.session("sa1", START), Move(issue_id=i, transition="report"))
    tries = [
        ("sa1", Move(issue_id=i, transition="study", plan="p", assignee="rc2",
                     due=date(2020, 10, 9))),
        ("rc1", Move(issue_id=i, transition="study", assignee="rc2", due=date(2020, 10, 9))),
        ("wang", Move(issue_id=i, transition="clear")),
        ("rc1", Move(issue_id=i, transition="study", plan="p", assignee="rc2",
                     due=date(2020, 9, 1))),
        ("rc1", Move(issue_id=i, transition="study", plan="p", assignee="rc2",
                     due=date(2020, 10, 3))),
        ("rc1", Move(issue_id=i, transition="study", plan="p", assignee="rc2",
                     due=date(2021, 3, 1))),
        ("rc1", Move(issue_id=i, transition="study", plan="p", assignee="rc2",
                     due=date(2020, 10, 9), expect_version=1)),
    ]
    for who, move in tries:
        with pytest.raises(RectifyError) as caught:
            issues.move(svc.app.session(who, START), move)
        message = str(caught.value)
        said = refusal(W, message)
        assert said != message and not re.search(r"[a-z]{4,}", said), (message, said)
    svc.store.close()
