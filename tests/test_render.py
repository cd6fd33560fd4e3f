"""Messages rendered from templates: every kind in both locales, overrides, inert user text."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from notifications.errors import ConfigError
from notifications.render import (
    KINDS,
    SUBJECT_MAX,
    Renderer,
    RenderError,
    check,
    due_text,
    inert,
    locales,
    sample_context,
)

LOCALES = ("zh_CN", "en")
EVIL = ("@all <@U123> [点我](http://evil) ![x](http://evil/x.png) # 标题 {{ 7*7 }} "
        "<script>alert(1)</script> @13800000001")


def with_title(kind: str, locale: str, title: str) -> dict[str, Any]:
    ctx = copy.deepcopy(sample_context(kind, locale))
    if kind == "briefing":
        for issue in ctx["briefing"]["newly_overdue"]:
            issue["title"] = title
    else:
        ctx["issue"]["title"] = title
    return ctx


def test_both_locales_are_packaged() -> None:
    assert {"zh_CN", "en"} <= set(locales())


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_against_its_sample(kind: str, locale: str) -> None:
    out = Renderer(locale).render(kind, sample_context(kind, locale))
    for form in (out.subject, out.text, out.markdown, out.html):
        assert form.strip()
    assert "\n" not in out.subject and len(out.subject) <= SUBJECT_MAX
    assert out.html.startswith("<!DOCTYPE html>")
    assert "黄家镇" in out.text and "黄家镇" in out.html


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "briefing"])
@pytest.mark.parametrize("locale", LOCALES)
def test_a_message_says_what_a_cadre_needs(kind: str, locale: str) -> None:
    ctx = sample_context(kind, locale)
    out = Renderer(locale).render(kind, ctx)
    issue = ctx["issue"]
    for body in (out.text, out.markdown, out.html):
        stage = ("作废" if locale == "zh_CN" else "voided") if kind == "voided" else "研究"
        for fact in ("#42", "房屋漏雨", "石板村", "张某某户", stage, issue["due"], "陈支书"):
            assert fact in body, (kind, fact)
    assert "房屋漏雨" in out.subject and "#42" in out.subject


def test_the_chinese_notices_are_formal() -> None:
    zh = Renderer("zh_CN")
    interview = zh.render("interview", sample_context("interview"))
    assert "约谈" in interview.subject
    assert interview.subject.startswith("关于") and "约谈通知" in interview.subject
    assert "约谈通知" in interview.text and "已超期 1 个工作日" in interview.text
    assert "约谈对象：刘副镇长、陈支书" in interview.text
    accountability = zh.render("accountability", sample_context("accountability"))
    assert "问责" in accountability.subject and accountability.subject.startswith("关于")
    assert "已超期 5 个工作日" in accountability.text
    reminder = zh.render("reminder", sample_context("reminder"))
    assert "2020-10-12 止" in reminder.text and "下一步：" in reminder.text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", ["reminder", "interview", "accountability",
                                  "interview_recorded"])
def test_a_message_queued_before_subjects_roles_and_attendees_still_renders(
        kind: str, locale: str) -> None:
    """A snapshot queued before stage owners (rectification@3): no `role`, no `attendees`, an
    escalation without subjects, conductors or outcome. It renders (it would die at dispatch
    otherwise), and an interview record names those told as the ones interviewed."""
    ctx = copy.deepcopy(sample_context(kind, locale))
    ctx.pop("role", None)
    ctx.pop("attendees", None)
    ctx["escalation"] = {k: ctx["escalation"][k]
                         for k in ("id", "level", "level_label", "recipients")}
    out = Renderer(locale).render(kind, ctx)
    assert "房屋漏雨" in out.subject and "房屋漏雨" in out.text
    if kind == "interview_recorded":
        assert ("约谈对象：刘副镇长、陈支书\n约谈情况：" if locale == "zh_CN"
                else "Interviewed: 刘副镇长, 陈支书\nRecord: ") in out.text
        assert "约谈人" not in out.text and "Held by" not in out.text


def test_the_english_interview_says_interview() -> None:
    out = Renderer("en").render("interview", sample_context("interview", "en"))
    assert "Interview notice" in out.subject and "1 working day late" in out.text


@pytest.mark.parametrize("locale", LOCALES)
def test_an_accountability_notice_names_whom_it_proposes_to_hold_answerable(
        locale: str) -> None:
    ctx = sample_context("accountability", locale)
    ctx["escalation"]["subjects"] = ["陈支书", "赵主任"]
    out = Renderer(locale).render("accountability", ctx)
    line = ("问责对象（拟）：陈支书、赵主任" if locale == "zh_CN"
            else "Answerable (proposed): 陈支书, 赵主任")
    for body in (out.text, out.markdown, out.html):
        assert line in body, body


def test_the_briefing_counts_by_village_and_lists_the_overdue() -> None:
    out = Renderer("zh_CN").render("briefing", sample_context("briefing"))
    assert "石板村：发现 1，上报 2，研究 3，整改 1，验收 0，销号 5（合计 12）" in out.text
    assert "本期新增超期问题（1 个）" in out.text and "已超期 3 个工作日" in out.text
    assert "<th>研究</th>" in out.html


def test_a_missing_key_is_a_clear_error() -> None:
    ctx = copy.deepcopy(sample_context("reminder"))
    del ctx["issue"]["household"]
    with pytest.raises(RenderError, match=r"reminder: .*\.j2:\d+: .*household"):
        Renderer().render("reminder", ctx)
    ctx = copy.deepcopy(sample_context("rejection"))
    del ctx["reason"]
    with pytest.raises(RenderError, match="rejection: the context lacks reason"):
        Renderer().render("rejection", ctx)


def test_an_unknown_locale_or_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match="'fr'"):
        Renderer("fr")
    with pytest.raises(ConfigError, match=r"'\.\./zh_CN'"):
        Renderer("../zh_CN")
    with pytest.raises(RenderError, match="'memo'"):
        Renderer().render("memo", sample_context("reminder"))
    with pytest.raises(ConfigError, match="not found"):
        Renderer("zh_CN", Path("/nonexistent/templates"))


def test_an_override_wins_for_its_file_and_the_rest_falls_back(tmp_path: Path) -> None:
    (tmp_path / "reminder.subject.j2").write_text(
        "【黄家镇提醒】#{{ issue.id }} {{ issue.title|inert }}", encoding="utf-8"
    )
    plain = Renderer("zh_CN")
    local = Renderer("zh_CN", tmp_path)
    ctx = sample_context("reminder")
    mine, theirs = local.render("reminder", ctx), plain.render("reminder", ctx)
    assert mine.subject == "【黄家镇提醒】#42 房屋漏雨"
    assert (mine.text, mine.markdown, mine.html) == (theirs.text, theirs.markdown, theirs.html)
    assert local.render("interview", sample_context("interview")) == plain.render(
        "interview", sample_context("interview")
    )


def test_an_overridden_partial_reaches_every_kind(tmp_path: Path) -> None:
    (tmp_path / "_issue.txt.j2").write_text("问题：{{ issue.title|inert }}（本地格式）\n",
                                            encoding="utf-8")
    local = Renderer("zh_CN", tmp_path)
    for kind in ("reminder", "assignment"):
        assert "问题：房屋漏雨（本地格式）" in local.render(kind, sample_context(kind)).text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_hostile_title_stays_inert(kind: str, locale: str) -> None:
    out = Renderer(locale).render(kind, with_title(kind, locale, EVIL))
    for name, body in (("subject", out.subject), ("text", out.text), ("markdown", out.markdown)):
        for bad in ("@all", "<@", "](", "@13800000001", "<script", "49"):
            assert bad not in body, (name, bad)
    assert "{{ 7*7 }}" in out.text
    assert kind == "briefing" or "{{ 7*7 }}" in out.subject  # a briefing's subject has no title
    assert "{{ 7\\*7 }}" in out.markdown  # the literal text, Markdown-escaped
    assert "\n# 标题" not in out.markdown and "\\[点我\\]\\(http://evil\\)" in out.markdown
    assert "<script" not in out.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in out.html
    assert "49" not in out.html and "{{ 7*7 }}" in out.html


def test_every_user_value_is_inert_not_only_the_title() -> None:
    ctx = sample_context("interview_recorded")
    ctx["note"] = "@所有人 <!channel> @everyone\n# 标题\n[a](b)"
    ctx["recipient"]["name"] = "<@U1>"
    ctx["escalation"]["recipients"] = ["@all", "[x](y)"]
    out = Renderer().render("interview_recorded", ctx)
    for body in (out.text, out.markdown):
        for bad in ("@所有人", "<!", "@everyone", "<@", "@all", "]("):
            assert bad not in body, bad
    assert "\n# 标题" not in out.markdown


def test_inert() -> None:
    assert inert(None) == ""
    assert inert(42) == "42"
    assert inert("a\x00b\x1bc\u202ed\u200be") == "abcde"
    assert inert("a\r\nb", "text") == "a\nb"
    assert inert("@all @所有人 <@U1> <!here> [a](b)", "text") == (
        "＠all ＠所有人 ＜＠U1＞ ＜!here＞ ［a］(b)"
    )
    assert inert("# h\n- i\n1. j\n    k\n===", "md") == "\\# h  \n\\- i  \n1\\. j  \nk  \n\\==="
    assert inert("*b* _i_ `c` ![x](y) a|b ~s~ \\ & <t>", "md") == (
        "\\*b\\* \\_i\\_ \\`c\\` \\!\\[x\\]\\(y\\) a\\|b \\~s\\~ \\\\ &amp; &lt;t&gt;"
    )
    assert inert("<b>@all</b>", "html") == "<b>@all</b>"  # the environment escapes HTML
    with pytest.raises(ValueError, match="mode"):
        inert("x", "rtf")


def test_the_subject_is_one_line_of_at_most_200_characters() -> None:
    out = Renderer().render("reminder", with_title("reminder", "zh_CN", "漏雨\n\t" * 200))
    assert "\n" not in out.subject and "\t" not in out.subject and "  " not in out.subject
    assert len(out.subject) == SUBJECT_MAX and out.subject.endswith("…")


def test_autoescape_is_for_html_only() -> None:
    out = Renderer().render("reminder", with_title("reminder", "zh_CN", "R&D"))
    assert "R&D" in out.text and "R&D" in out.subject
    assert "R&amp;D" in out.html and "R&amp;D" in out.markdown  # an entity in Markdown


def test_the_sandbox_refuses_unsafe_templates(tmp_path: Path) -> None:
    (tmp_path / "reminder.txt.j2").write_text("{{ ''.__class__.__mro__ }}", encoding="utf-8")
    with pytest.raises(RenderError, match=r"reminder\.txt\.j2"):
        Renderer("zh_CN", tmp_path).render("reminder", sample_context("reminder"))


@pytest.mark.parametrize("locale", LOCALES)
def test_check_passes_for_the_packaged_templates(locale: str) -> None:
    assert check(locale) == []


def test_check_reports_broken_and_leaky_overrides(tmp_path: Path) -> None:
    (tmp_path / "interview.md.j2").write_text("### 约谈通知\n{% if %}\n", encoding="utf-8")
    (tmp_path / "reminder.txt.j2").write_text("{{ issue.title }} {{ next_step|inert }}\n",
                                              encoding="utf-8")
    (tmp_path / "assignment.html.j2").write_text("<p>{{ issue.nope }}</p>\n", encoding="utf-8")
    (tmp_path / "remindr.txt.j2").write_text("typo\n", encoding="utf-8")
    problems = check("zh_CN", tmp_path)
    text = "\n".join(problems)
    assert "interview: interview.md.j2 (override):2:" in text
    assert "reminder: reminder.txt.j2 (override) lets user text through" in text
    assert "assignment: assignment.html.j2 (override):1:" in text and "nope" in text
    assert "remindr.txt.j2 (override): not a template of zh_CN" in text
    assert len(problems) == 4, problems
    assert check("fr") == [
        f"locale: unknown locale 'fr' (available: {', '.join(locales())})"
    ]


def test_due_text() -> None:
    tz = timezone(timedelta(hours=8))
    midnight = datetime(2020, 10, 13, 0, 0, tzinfo=tz)
    assert due_text(midnight, tz) == "2020-10-12 止"
    assert due_text(midnight, tz, "en") == "by 2020-10-12"
    assert due_text(midnight.astimezone(UTC), tz) == "2020-10-12 止"
    assert due_text(datetime(2020, 10, 13, 15, 30, tzinfo=tz), tz) == "2020-10-13 15:30 前"
    assert due_text(None, tz) == ""


def test_a_briefing_queued_before_its_columns_were_named_still_renders() -> None:
    """A snapshot written before `stages` existed takes the first village's stages."""
    ctx = copy.deepcopy(sample_context("briefing"))
    del ctx["briefing"]["stages"]
    html = Renderer("zh_CN").render("briefing", ctx).html
    assert "<th>研究</th>" in html and "<td>河口村</td>" in html


@pytest.mark.parametrize("locale", LOCALES)
def test_an_extension_decided_names_who_asked_and_who_decided_to_the_minute(
        locale: str) -> None:
    out = Renderer(locale).render("extension", sample_context("extension", locale))
    for body in (out.text, out.markdown, out.html):
        for fact in ("陈支书", "2020-10-09 10:00", "刘副镇长", "2020-10-10 15:30", "2020-10-20"):
            assert fact in body, (fact, body)


@pytest.mark.parametrize("locale", LOCALES)
def test_an_extension_request_says_who_asked_when_to_what_date_and_its_number(
        locale: str) -> None:
    out = Renderer(locale).render("extension_request",
                                  sample_context("extension_request", locale))
    assert "2020-10-20" in out.subject and "#42" in out.subject
    assert ("延期申请待审批" if locale == "zh_CN" else "Extension to decide") in out.subject
    for body in (out.text, out.markdown, out.html):
        assert body.count("刘副镇长") == 1  # the salutation: the one who decides
        for fact in ("陈支书", "2020-10-09 10:00", "2020-10-20", "瓦片" if locale == "zh_CN"
                     else "roof tiles", "石板村"):
            assert fact in body, (fact, body)
        assert re.search(r"(延期申请编号[：\s]|Extension request )7\b", body), body


@pytest.mark.parametrize("locale", LOCALES)
def test_an_extension_decided_before_names_were_kept_still_renders(locale: str) -> None:
    """Queued before the context named who asked and who decided: only to, status, note."""
    context = sample_context("extension", locale)
    context["extension"] = {"to": "2020-10-20", "status": "denied", "note": None}
    out = Renderer(locale).render("extension", context)
    assert "2020-10-20" in out.text and "刘副镇长" not in out.text
