"""Messages from templates: each kind in four forms (subject, text, Markdown, HTML), per locale.

Templates live in `notifications/templates/<locale>/`, one file per kind and form:
`<kind>.subject.j2`, `<kind>.txt.j2`, `<kind>.md.j2`, `<kind>.html.j2`, plus partials whose name
starts with `_` (`_issue.*.j2`, `_layout.html.j2`). A town may override any of them: a file of
the same name in the `overrides` directory wins, the others fall back to the packaged ones.
The environment is sandboxed, undefined names raise (StrictUndefined), HTML is autoescaped
(`*.html.j2` only). Context values are data: they are never rendered as templates.

Context contract -- `notifications.contexts` holds it as dataclasses, one message per kind, whose
`to_dict(recipient)` gives exactly these keys (the samples below are made that way). The
renderer takes any mapping with these keys: a queue keeps them as JSON snapshots. Every text
value is plain text, never markup; the templates pass each one through `|inert` (see `inert`).

every kind
    town            {name}
    recipient       {name}                  the person this message goes to
every kind but briefing
    issue           {id: int, title, village (unit id), village_name,
                     household (str | None; "" also means none),
                     category (id, e.g. housing_safety), stage (state id, e.g. studied),
                     stage_label (the workflow's label, e.g. 研究),
                     due (text, see `due_text`: "2020-10-12 止" / "by 2020-10-12"; "" if none),
                     late_working_days (int: working days past due now, 0 when not late),
                     assignee_name (str | None; "" also means none),
                     listed (bool: 挂牌督战, the issue or its village)}
    next_step       text: what the recipient should do now
reminder, interview, accountability, interview_recorded
    escalation      {id: int, level (reminder | interview | accountability),
                     level_label (e.g. 约谈), recipients: [names],
                     subjects: [names] (who answer for it: 约谈对象, 问责对象),
                     conductors: [names] (who act on it: the interview's conductor),
                     outcome, outcome_label, note (an accountability decision's)}
                    (a message queued before subjects existed reads the last five as empty)
assignment
    plan            the plan decided at `study`
rejection
    reason          the verifier's reason for sending the issue back
interview_recorded
    note            the interview record
    attendees       [names]: who took part (`--with`); empty in a message queued before it
reminder, interview, accountability
    role            how the recipient stands to it: conductor (holds the interview), subject
                    (answers for it), copy (an accountability case copied to them), or ""
                    (told; decides an accountability case); "" in a message queued before it
extension, extension_request
    reason          the request's reason
    extension       {to (date text, e.g. 2020-10-20), status (pending | approved | denied |
                     superseded), note (str | None: the decision's note),
                     id (int: the request's number), requested_by, decided_by (names; ""
                     while pending), requested_at, decided_at (to the minute in town time,
                     e.g. 2020-10-09 10:00; "" while pending)}
                    (messages queued before the last five keys existed lack them: the
                    packaged templates test `is defined`)
extension
    note            the decision's note again ("" when none)
briefing
    briefing        {since, until (text),
                     stages: [stage id] (the stages any village has open issues in, in order),
                     by_village: [{village_name, counts: {stage id: int}}] (stages in order),
                     newly_overdue: [issue], cleared: [issue]  (issue: the dict above),
                     open_interviews: [{issue, recipients: [names], raised (text)}],
                     open_accountability: [{issue, recipients: [names], raised (text)}]}

Templates also see `locale` and the filters `inert`, `category_label`, `stage_label`,
`level_label` (labels of the built-in ids in the template's locale; unknown ids pass through).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from notifications.contexts import (
    AssignmentMessage,
    BriefingContext,
    BriefingMessage,
    CaseContext,
    EscalationContext,
    EscalationMessage,
    ExtensionContext,
    ExtensionMessage,
    ExtensionRequestMessage,
    InterviewRecordedMessage,
    IssueContext,
    Message,
    ReassignmentMessage,
    RejectionMessage,
    TownContext,
    VillageCounts,
    VoidedMessage,
)
from notifications.errors import ConfigError
from notifications.labels import LABELS
from notifications.message import KINDS, Rendered

FORMS = {"subject": "subject", "text": "txt", "markdown": "md", "html": "html"}
"""Rendered field -> the form's part of the template name (`<kind>.<form>.j2`)."""

SUBJECT_MAX = 200

TEMPLATES = Path(__file__).resolve().parent / "templates"

_ISSUE_KEYS = ("town", "recipient", "issue", "next_step")
REQUIRED: dict[str, tuple[str, ...]] = {
    "reminder": (*_ISSUE_KEYS, "escalation"),
    "interview": (*_ISSUE_KEYS, "escalation"),
    "accountability": (*_ISSUE_KEYS, "escalation"),
    "assignment": _ISSUE_KEYS,
    "rejection": (*_ISSUE_KEYS, "reason"),
    "extension": (*_ISSUE_KEYS, "reason", "extension"),
    "extension_request": (*_ISSUE_KEYS, "reason", "extension"),
    "interview_recorded": (*_ISSUE_KEYS, "escalation", "note"),
    "briefing": ("town", "recipient", "briefing"),
    "reassignment": (*_ISSUE_KEYS, "reason"),
    "voided": (*_ISSUE_KEYS, "reason", "duplicate_of"),
}
"""The top-level context keys each kind needs."""


LATER_ESCALATION_KEYS: dict[str, Any] = {"subjects": [], "conductors": [], "outcome": "",
                                         "outcome_label": "", "note": ""}
"""What an escalation's context gained with stage owners (rectification@3): a message queued
before them (it keeps the snapshot it was queued with) reads them as empty."""
LATER_KEYS: dict[str, dict[str, Any]] = {
    "reminder": {"role": ""}, "interview": {"role": ""}, "accountability": {"role": ""},
    "interview_recorded": {"attendees": []},
}
"""Top-level keys a kind gained after messages of it were queued, and their value then."""


def with_later_keys(kind: str, context: Mapping[str, Any]) -> Mapping[str, Any]:
    """`context` with the keys its kind gained since it was queued, empty where it lacks them
    (the templates read every key of the contract, whenever the message was queued)."""
    later = LATER_KEYS.get(kind)
    if later is None:
        return context
    out = {**later, **context}
    escalation = out.get("escalation")
    if isinstance(escalation, Mapping):
        out["escalation"] = {**LATER_ESCALATION_KEYS, **escalation}
    return out


class RenderError(ConfigError):
    """A template that cannot be loaded or rendered, or a context that lacks a key (exit 2)."""


# --- making user text inert ------------------------------------------------------------------
_NEWLINES = re.compile(r"\r\n|[\r\u2028\u2029\x85]")
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069"
    "\ufeff]"
)
"""Control characters (tab and newline stay), zero-width spaces and bidirectional overrides."""
_TEXT = str.maketrans({"@": "＠", "<": "＜", ">": "＞", "[": "［", "]": "］"})
_MD_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "@": "＠"})
_MD_INLINE = re.compile(r"([\\`*_\[\]()!|~])")
_MD_LINE_START = re.compile(r"^(?:([#+=-])|(\d+)([.)]))")
MODES = ("md", "text", "html")


def inert(value: Any, mode: str = "md") -> str:
    """User text made harmless for a message of `mode` (md, text or html).

    Always: control characters, zero-width spaces and bidi overrides removed, newlines unified.
    text: `@` becomes the full-width `＠` (no @all/@所有人/@everyone/@mobile mention), and
    `< > [ ]` full-width (no `<@U…>`, `<!here>`, `<at …>` or `[a](b)` link).
    md: `@` -> `＠`; `& < >` as entities; `\\ ` * _ [ ] ( ) ! | ~` backslash-escaped; at the start
    of each line (and of the value) `#`, `-`, `+`, `=`, `1.` escaped; leading indentation dropped;
    line breaks kept as hard breaks: no link, image, heading, list, quote, table, code block or
    HTML can come from the value (a bare URL stays text that a renderer may still linkify).
    html: only the common cleaning (the environment autoescapes).
    None is the empty string.
    """
    if mode not in MODES:
        raise ValueError(f"inert: unknown mode {mode!r} (one of {', '.join(MODES)})")
    if value is None:
        return ""
    s = _CONTROL.sub("", _NEWLINES.sub("\n", str(value)))
    if mode == "html":
        return s
    if mode == "text":
        return s.translate(_TEXT)
    lines = []
    for line in s.split("\n"):
        line = _MD_INLINE.sub(r"\\\1", line.lstrip().translate(_MD_ENTITIES))
        lines.append(_MD_LINE_START.sub(_escape_line_start, line))
    return "  \n".join(lines)


def _escape_line_start(m: re.Match[str]) -> str:
    return f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}"


@pass_context
def _inert_filter(context: Context, value: Any, mode: str | None = None) -> str:
    """`|inert`: the mode follows the template: html when autoescaping, text in `*.txt.j2` and
    `*.subject.j2`, md otherwise (the strictest)."""
    if mode is None:
        name = context.name or ""
        if context.eval_ctx.autoescape:
            mode = "html"
        elif name.endswith((".txt.j2", ".subject.j2")):
            mode = "text"
        else:
            mode = "md"
    return inert(value, mode)


def due_text(due: datetime | None, tz: tzinfo, locale: str = "zh_CN") -> str:
    """A due moment as a cadre reads it: 2020-10-13 00:00 is "2020-10-12 止" / "by 2020-10-12"."""
    if due is None:
        return ""
    local = due.astimezone(tz)
    zh = locale.startswith("zh")
    if local.hour == local.minute == local.second == 0:
        day = f"{local - timedelta(days=1):%Y-%m-%d}"
        return f"{day} 止" if zh else f"by {day}"
    moment = f"{local:%Y-%m-%d %H:%M}"
    return f"{moment} 前" if zh else f"by {moment}"


# --- the renderer ----------------------------------------------------------------------------
def locales() -> list[str]:
    """The locales with packaged templates."""
    return sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir() and not p.name.startswith("_"))


class Renderer:
    """Renders a kind of message in one locale, a local override directory first."""

    def __init__(self, locale: str = "zh_CN", overrides: Path | None = None) -> None:
        available = locales()
        if locale not in available:
            raise ConfigError(
                f"locale: unknown locale {locale!r} (available: {', '.join(available)})"
            )
        self.locale = locale
        self.packaged = TEMPLATES / locale
        self.overrides = overrides
        loaders: list[BaseLoader] = []
        if overrides is not None:
            if not overrides.is_dir():
                raise ConfigError(f"templates: override directory {str(overrides)!r} not found")
            loaders.append(FileSystemLoader(str(overrides)))
        loaders.append(FileSystemLoader(str(self.packaged)))
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=select_autoescape(
                enabled_extensions=("html.j2",), disabled_extensions=(),
                default_for_string=False, default=False,
            ),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        labels = LABELS.get(locale, LABELS["en"])
        self.env.filters["inert"] = _inert_filter
        for what in ("stage", "level", "category"):
            self.env.filters[f"{what}_label"] = _labeller(labels[what])
        self.env.globals["locale"] = locale

    def render(self, kind: str, context: Mapping[str, Any]) -> Rendered:
        """The message of `kind` for `context` (see the contract at the top of this module)."""
        if kind not in KINDS:
            raise RenderError(f"unknown message kind {kind!r} (one of {', '.join(KINDS)})")
        missing = [k for k in REQUIRED[kind] if k not in context]
        if missing:
            raise RenderError(f"{kind}: the context lacks {', '.join(missing)}")
        context = with_later_keys(kind, context)
        out = {field: self._one(kind, form, context) for field, form in FORMS.items()}
        subject = " ".join(out["subject"].split())
        if len(subject) > SUBJECT_MAX:
            subject = subject[: SUBJECT_MAX - 1].rstrip() + "…"
        return Rendered(
            subject=subject,
            text=_tidy(out["text"]),
            markdown=_tidy(out["markdown"]),
            html=out["html"].strip(),
        )

    def _one(self, kind: str, form: str, context: Mapping[str, Any]) -> str:
        name = f"{kind}.{form}.j2"
        try:
            return self.env.get_template(name).render(dict(context))
        except TemplateNotFound as e:
            raise RenderError(f"{kind}: template {e.name} not found") from e
        except TemplateSyntaxError as e:
            where = self._where(e.filename or e.name or name)
            raise RenderError(f"{kind}: {where}:{e.lineno}: {e.message}") from e
        except Exception as e:  # the template failed: name where, whatever the cause
            raise RenderError(f"{kind}: {self._traceback_where(e, name)}: {e}") from e

    def _where(self, filename: str) -> str:
        """A template file as the user knows it: its name, marked when it is an override."""
        path = Path(filename)
        if self.overrides is not None and path.parent.resolve() == self.overrides.resolve():
            return f"{path.name} (override)"
        return path.name

    def _traceback_where(self, e: BaseException, fallback: str) -> str:
        where = fallback
        for frame in traceback.extract_tb(e.__traceback__):
            if frame.filename.endswith(".j2"):
                where = f"{self._where(frame.filename)}:{frame.lineno}"
        return where

    def label(self, name: str) -> str:
        """A template's name, marked when the override directory supplies it."""
        if self.overrides is not None and (self.overrides / name).is_file():
            return f"{name} (override)"
        return name

    def template_names(self) -> list[str]:
        """The packaged templates of this locale (what an override file may be called)."""
        return sorted(p.name for p in self.packaged.glob("*.j2"))


def _labeller(table: Mapping[str, str]) -> Any:
    def label(value: Any) -> Any:
        return table.get(value, value) if isinstance(value, str) else value

    return label


def _tidy(s: str) -> str:
    """No trailing spaces on a line but a Markdown hard break, at most one blank line."""
    lines = [ln if ln.endswith("  ") and ln.strip() else ln.rstrip() for ln in s.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- samples and the check -------------------------------------------------------------------
def _issue(locale: str, **changes: Any) -> IssueContext:
    zh = locale.startswith("zh")
    issue = IssueContext(
        id=42,
        title="房屋漏雨",
        village="v-shiban",
        village_name="石板村",
        household="张某某户",
        category="housing_safety",
        stage="studied",
        stage_label="研究",
        due="2020-10-12 止" if zh else "by 2020-10-12",
        late_working_days=3,
        assignee_name="陈支书",
        listed=False,
    )
    return replace(issue, **changes)


def sample_message(kind: str, locale: str = "zh_CN") -> tuple[Message, str]:
    """A realistic message of `kind` and the name of the person it goes to: 黄家镇, 石板村,
    张某某户, issue #42 房屋漏雨 in `studied` (研究), due 2020-10-13 00:00 +08:00, with 陈支书
    (the village secretary) responsible."""
    if kind not in KINDS:
        raise RenderError(f"unknown message kind {kind!r} (one of {', '.join(KINDS)})")
    zh = locale.startswith("zh")
    town = TownContext("黄家镇")

    def esc(id: int, level: str, names: tuple[str, ...]) -> EscalationContext:
        label = LABELS["zh_CN" if zh else "en"]["level"][level]
        return EscalationContext(id=id, level=level, level_label=label, recipients=names)

    if kind == "reminder":
        return EscalationMessage(
            town=town, issue=_issue(locale, late_working_days=0),
            escalation=esc(101, "reminder", ("陈支书",)),
            next_step="今天内完成屋面维修，拍摄整改前后照片，在系统中提交“整改”并上传佐证材料"
            if zh else "finish repairing the roof today, photograph it before and after, and"
            " submit the rectification with the photos as evidence",
        ), "陈支书"
    if kind == "interview":
        return EscalationMessage(
            town=town, issue=_issue(locale, late_working_days=1),
            escalation=esc(102, "interview", ("刘副镇长", "陈支书")),
            next_step="包村领导于 1 个工作日内约谈村党支部书记，查明超期原因、明确完成时限，"
            "并在系统中记录约谈情况" if zh else "the liaison leader interviews the village"
            " secretary within one working day, finds out why the stage is late, sets a new"
            " completion date and records the interview in the system",
        ), "刘副镇长"
    if kind == "accountability":
        return EscalationMessage(
            town=town, issue=_issue(locale, late_working_days=5),
            escalation=esc(103, "accountability", ("王书记", "孙组长")),
            next_step="镇党委研究提出问责意见，在系统中记录问责决定，并督促责任人立即完成整改"
            if zh else "the town Party committee decides on accountability, records the"
            " decision in the system and sees that the repair is done at once",
        ), "王书记"
    if kind == "assignment":
        return AssignmentMessage(
            town=town, issue=_issue(locale, late_working_days=0),
            plan="维修屋面" if zh else "repair the roof",
            next_step="按整改方案“维修屋面”组织整改，2020-10-12 前在系统中提交“整改”并上传"
            "整改前后照片" if zh else "carry out the plan \"repair the roof\" and submit"
            " the rectification with before-and-after photos by 2020-10-12",
        ), "陈支书"
    if kind == "rejection":
        return RejectionMessage(
            town=town, issue=_issue(locale, late_working_days=0,
                                    due="2020-10-19 止" if zh else "by 2020-10-19"),
            reason="屋面西侧仍有渗水，照片未见整改后全貌" if zh
            else "the west side of the roof still leaks; the photos do not show the whole roof",
            next_step="重新组织维修，补拍整改后全貌照片，2020-10-19 前再次提交“整改”" if zh
            else "repair again, photograph the whole roof and submit the rectification again by"
            " 2020-10-19",
        ), "陈支书"
    if kind == "extension":
        note = "同意延期，请按新时限完成" if zh else "approved; finish by the new date"
        return ExtensionMessage(
            town=town, issue=_issue(locale, late_working_days=0,
                                    due="2020-10-20 止" if zh else "by 2020-10-20"),
            reason="瓦片材料未到货" if zh else "the roof tiles have not been delivered",
            extension=ExtensionContext(
                to="2020-10-20", status="approved", note=note, id=7, requested_by="陈支书",
                requested_at="2020-10-09 10:00", decided_by="刘副镇长",
                decided_at="2020-10-10 15:30"),
            note=note,
            next_step="2020-10-20 前完成屋面维修并在系统中提交“整改”" if zh
            else "finish the repair and submit the rectification by 2020-10-20",
        ), "陈支书"
    if kind == "extension_request":
        return ExtensionRequestMessage(
            town=town, issue=_issue(locale, late_working_days=0),
            reason="瓦片材料未到货" if zh else "the roof tiles have not been delivered",
            extension=ExtensionContext(
                to="2020-10-20", status="pending", note=None, id=7, requested_by="陈支书",
                requested_at="2020-10-09 10:00"),
            next_step="请及时审批该延期申请（同意或不同意，可附审批意见）" if zh
            else "approve or deny the request, with a note if you like",
        ), "刘副镇长"
    if kind == "interview_recorded":
        return InterviewRecordedMessage(
            town=town, issue=_issue(locale),
            escalation=replace(esc(102, "interview", ("刘副镇长", "陈支书")),
                               subjects=("陈支书",), conductors=("刘副镇长",)),
            attendees=("陈支书", "张某某"),
            note="已约谈石板村党支部书记，明确 10 月 16 日前完成屋面维修" if zh
            else "interviewed the secretary of 石板村; the roof is to be repaired by 16 October",
            next_step="按约谈要求 10 月 16 日前完成屋面维修并提交“整改”" if zh
            else "repair the roof by 16 October as agreed and submit the rectification",
        ), "陈支书"
    if kind == "reassignment":
        return ReassignmentMessage(
            town=town, issue=_issue(locale, late_working_days=0, assignee_name="赵主任"),
            reason="原责任人调岗，改由村委会主任负责" if zh
            else "the previous assignee moved to another post",
            next_step="请将已掌握的情况和材料移交新的责任人" if zh
            else "hand what you know and have over to the new assignee",
        ), "陈支书"
    if kind == "voided":
        return VoidedMessage(
            town=town, issue=_issue(locale, late_working_days=0, stage="voided",
                                    stage_label="作废" if zh else "voided", due=""),
            reason="与 #12 为同一户同一问题" if zh else "the same household and problem as #12",
            duplicate_of=12,
            next_step="无需再办；如有异议请联系信息核查组" if zh
            else "nothing more to do; if you disagree, ask the information verification group",
        ), "陈支书"
    overdue = _issue(locale)
    cleared = _issue(locale, id=37, title="饮水不稳定", village="v-hekou", village_name="河口村",
                     household="李某某户", category="drinking_water", stage="cleared",
                     stage_label="销号", due="", late_working_days=0, assignee_name="赵主任")
    return BriefingMessage(
        town=town,
        briefing=BriefingContext(
            since="2020-10-12", until="2020-10-19",
            by_village=(
                VillageCounts("石板村", {"found": 1, "reported": 2, "studied": 3,
                                         "rectified": 1, "verified": 0, "cleared": 5}),
                VillageCounts("河口村", {"found": 0, "reported": 1, "studied": 2,
                                         "rectified": 2, "verified": 1, "cleared": 8}),
            ),
            stages=("found", "reported", "studied", "rectified", "verified", "cleared"),
            newly_overdue=(overdue,),
            cleared=(cleared,),
            open_interviews=(CaseContext(overdue, ("刘副镇长", "陈支书"), "2020-10-14 00:00"),),
            open_accountability=(),
        ),
    ), "王书记"


def sample_context(kind: str, locale: str = "zh_CN") -> dict[str, Any]:
    """The context of `sample_message(kind, locale)` for its recipient, as a template sees it."""
    message, recipient = sample_message(kind, locale)
    return message.to_dict(recipient)


HOSTILE = ("@all @所有人 @everyone <@U123> <!channel> [点我](http://evil) ![x](http://evil/x.png)"
           "\n# 标题 {{ 7*7 }} <script>alert(1)</script> @13800000001")
"""What a user might type; every template must keep it inert."""
_LEAKS = {
    "subject": ("@all", "@所有人", "@everyone", "<@", "<!", "](", "@138"),
    "text": ("@all", "@所有人", "@everyone", "<@", "<!", "](", "@138"),
    "markdown": ("@all", "@所有人", "@everyone", "<@", "<!", "](", "@138", "<script",
                 "\n# 标题"),
    "html": ("<script", "<@", "<!channel"),
}


def hostile(value: Any) -> Any:
    """`value` with every text (not the keys) replaced by HOSTILE."""
    if isinstance(value, str):
        return HOSTILE
    if isinstance(value, Mapping):
        return {k: hostile(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [hostile(v) for v in value]
    return value


def check(locale: str = "zh_CN", overrides: Path | None = None) -> list[str]:
    """Render every kind against its sample, and against a hostile one; the problems found
    (empty: all good). For `rectify template check`."""
    try:
        renderer = Renderer(locale, overrides)
    except ConfigError as e:
        return [str(e)]
    problems: list[str] = []
    if overrides is not None:
        known = set(renderer.template_names())
        for path in sorted(overrides.glob("*.j2")):
            if path.name not in known and not path.name.startswith("_"):
                problems.append(f"{path.name} (override): not a template of {locale}; unused")
    for kind in KINDS:
        try:
            out = renderer.render(kind, sample_context(kind, locale))
        except Exception as e:
            problems.append(str(e) if isinstance(e, RenderError) else f"{kind}: {e}")
            continue
        for field, form in FORMS.items():
            if not getattr(out, field).strip():
                problems.append(f"{kind}: {renderer.label(f'{kind}.{form}.j2')} renders nothing")
        try:
            bad = renderer.render(kind, hostile(sample_context(kind, locale)))
        except Exception as e:
            problems.append(f"{kind}: fails on hostile user text: {e}")
            continue
        for field, form in FORMS.items():
            leaks = [s for s in _LEAKS[field] if s in getattr(bad, field)]
            if leaks:
                problems.append(
                    f"{kind}: {renderer.label(f'{kind}.{form}.j2')} lets user text through"
                    f" ({', '.join(map(repr, leaks))}): apply |inert to every value"
                )
    return problems


__all__ = [
    "KINDS",
    "ConfigError",
    "RenderError",
    "Renderer",
    "check",
    "due_text",
    "inert",
    "locales",
    "sample_context",
    "sample_message",
]
