"""What human output calls things: people, villages and groups by their names, and stages,
transitions, categories, severities, levels, statuses, outcomes and event kinds by their labels,
in the reader's language (zh_CN by default; `--lang en` or `RECTIFY_LANG=en` for English).

`--json` keeps ids (the contract); every table, `issue show`, history, report and export a
person reads goes through a `Words`. Pure: the names come from the org (engine.domain.org.Names)
read by the caller; an id the org does not hold (a person since removed) is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from engine.domain.org import NO_NAMES, Names
from notifications.labels import LABELS

LANGS = ("zh_CN", "en")
"""The languages of human output: Chinese first, English on request."""
ALIASES = {"zh": "zh_CN", "zh_cn": "zh_CN", "zh-cn": "zh_CN", "cn": "zh_CN", "en": "en",
           "en_us": "en", "en-us": "en", "en_gb": "en", "en-gb": "en"}


def lang_of(given: str | None) -> str | None:
    """A language as typed (`zh`, `zh_CN`, `en`, `en_US`) as one of LANGS; None when it is not
    one (the caller refuses it)."""
    if not given:
        return "zh_CN"
    return ALIASES.get(given.strip().lower().split(".")[0])


PHRASES: dict[str, dict[str, str]] = {
    "zh_CN": {
        # columns and row keys
        "id": "编号", "light": "灯", "state": "阶段", "village": "村", "category": "类别",
        "assignee": "责任人", "due": "截止", "title": "问题", "issue": "问题",
        "sheet row": "行", "would import": "将导入 {n} 条（试导入，未写入）",
        "severity": "程度", "listed": "挂牌督战", "group": "自查组", "household": "户",
        "plan": "整改措施", "next escalation": "下次督办", "in stage since": "进入本阶段",
        "found": "发现", "description": "描述", "v": "版本", "at": "时间", "actor": "操作人",
        "via": "渠道", "what": "事项", "details": "详情", "level": "层级", "stage": "阶段",
        "raised": "发起", "to": "送达", "status": "状态", "escalation": "督办",
        "closed": "办结", "with": "参加人员", "note": "备注", "reason": "理由",
        "from": "原", "answerable": "对象", "outcome": "结果", "evidence": "佐证",
        "extension": "延期申请", "asked": "申请", "decided": "审批", "total": "合计",
        "all": "全镇", "duplicate_of": "重复于", "new due": "新截止",
        # values and phrases
        "yes": "是", "no": "否", "by its village": "随村挂牌", "version": "第 {n} 版",
        "by": "{who}", "at by": "{at}，{who}", "issues": "共 {n} 个问题",
        "escalations": "共 {n} 次督办", "raised n": "发起 {n} 次督办",
        "summary": "各村问题所处阶段（村 × 阶段）", "back-dated": "补录",
        "written": "实际录入于 {at}", "back-fill": "补录说明",
        "group leader": "{group}（组长{leader}）",
        "list sep": "、", "colon": "：", "no extensions": "没有延期申请",
        "esc on": "{id} 号{level}，问题 #{issue}", "stage due": "{stage}（截止 {due}）",
        "ext on": "{id} 号，问题 #{issue}（{stage}）", "due moved": "{old} → {new} 24:00",
        "no evidence": "问题 #{id} 没有佐证材料", "evidence n": "问题 #{id}：{n} 个佐证文件",
        "event what": "第 {n} 条（{what}）", "saved as": "已存为",
        "saved n": "已保存 {n} 个文件",
        "channel cli": "命令行", "channel scheduler": "定时任务", "channel web": "网页",
        "channel api": "接口",
        "export title": "整改台账审计导出", "generated": "导出时间", "period": "期间",
        "from the start": "开始", "until now": "现在", "issues / events": "问题 / 事件",
        "back-dated events": "补录事件", "chain head": "哈希链头", "chain verified": "链校验",
        "sound": "完好", "sound detail": "{n} 条事件，每个哈希和每一行均已核对",
        "not sound": "不完好", "first bad": "第一条有误的事件 {seq}", "seq": "序号",
        "hash": "哈希",
        "chain note": "每条事件的哈希为其各字段与前一哈希的 SHA-256；请保存链头，日后核对：",
        "drill banner": "演练 DRILL：演练数据库，时间为模拟，内容均非真实",
        "countdown": "{name}：剩余 {n} 天（{end} 结束）",
        "countdown ended": "{name}：已结束（{end}）",
        "countdown one": "{name}：剩余 1 天（{end} 结束）",
        "spotcheck drawn": "调研督查第 {draw} 批：随机种子 {seed}，从{where}已销号的 {population}"
                           " 个问题中抽取 {percent}%，抽中 {n} 个：",
        "spotcheck row": "第 {draw} 批（{at}，{who}）：种子 {seed}，{where} {percent}%，抽中 {n}"
                         " 个；待查 {pending}，合格 {passed}，不合格 {failed}",
        "spotcheck pending": "待查", "spotcheck pass": "合格",
        "spotcheck fail": "不合格（已回头看）",
        "no spotchecks": "还没有调研督查抽查", "whole town": "全镇",
        "spotcheck result": "{result}（第 {draw} 批抽查）",
        "refused campaign": "{what} {due} 晚于{name}的结束日期（{end}）",
        "due date": "截止日期", "the new due date": "新的截止日期",
        "refused spotcheck role": "{who}无权{act}：需是质量督查组成员",
        "draw spot checks": "抽取调研督查", "record spot checks": "记录调研督查结果",
        "refused not drawn": "问题 #{id} 未被调研督查抽中",
        "refused spotcheck done": "问题 #{id} 第 {draw} 批的调研督查结果已记录",
        "refused not cleared": "问题 #{id} 尚未销号，不能调研督查",
        "drill times": "演练数据库：事件时间均为模拟时间，不逐条标注补录",
        "person title": "专项述职 · {name}",
        "did head": "本人办理 {n} 步（按时 {on_time}，超期 {late}，无时限 {none}）：",
        "did row": "按时 {on_time}，超期 {late}", "did none": "，无时限 {n}",
        "nothing in period": "本期间无办理记录",
        "received head": "收到督办：提醒 {reminders} 次，约谈 {interviews} 次，问责 {cases} 次",
        "received row": "#{id} {level}，问题 #{issue}（{stage}），发起于 {at}：{status}",
        "answered head": "作为问责对象：{n} 件", "semicolon": "；",
        "answered row": "#{id} 问题 #{issue}（{stage}），决定于 {at}：{outcome}",
        "recorded head": "记录的约谈和作出的决定：{n} 件",
        "recorded row": "督办 #{id}，问题 #{issue}，{at}：",
        "recorded with": "（参加人员：{names}）",
        "person backdated": "其 {total} 条事件中有 {n} 条为补录"
                            "（事件时间与实际录入时间相差一分钟以上）。",
        "state version": "{stage}（第 {n} 版）", "door user": "{channel}（{user}）",
        "system": "系统",
        "nothing allowed": "现在无可办理事项",
        "village listed": "{village}已挂牌督战；{n} 个未结问题改按挂牌时限督办",
        "village unlisted": "{village}已摘牌；{n} 个未结问题恢复原督办时限",
        "briefing queued": "简报已排队发送给 {n} 人：{names}", "nobody": "无人",
        "app name": "问题整改", "nav queue": "我的待办", "nav ledger": "台账",
        "nav new": "新增问题", "nav board": "督战", "nav audit": "审计", "sign in": "登录",
        "sign out": "退出", "your name or id": "姓名或编号", "password": "密码",
        "refused": "未能办理", "back": "返回", "queue issues": "待我办理的问题（{n}）",
        "queue escalations": "督办与约谈（{n}）", "queue extensions": "待我审批的延期（{n}）",
        "nothing waiting": "暂无", "all villages": "全部村", "all stages": "全部阶段",
        "all categories": "全部类别", "all lights": "全部灯色",
        "search hint": "搜索标题、户主、描述", "filter": "筛选", "page of": "第 {n}/{of} 页",
        "replay as of": "按日期回放", "previous": "上一页", "next": "下一页",
        "what you may do": "我可以办理", "also allowed": "还可以", "timeline": "办理记录",
        "fix on the spot": "立行立改（现场已整改）", "add issue": "提交",
        "account": "我的账户", "password changed": "密码已修改",
        "current password": "当前密码", "new password": "新密码",
        "new password again": "再输一次新密码", "change password": "修改密码",
        "passwords differ": "两次输入的新密码不一致", "approve": "同意", "deny": "不同意",
        "on the board": "约谈和问责在督战页办理",
        "case by": "由{who}办理",
        "refused role": "{who}无权对问题 #{id} 办理“{act}”",
        "refused sod assignee": "{who}是问题 #{id} {other}时的责任人，"
                                "不能再办理“{act}”（不相容职责分离）",
        "refused sod": "{who}已对问题 #{id} 办理过“{other}”，不能再办理“{act}”（不相容职责分离）",
        "refused action": "{who}无权办理“{act}”",
        "refused state": "问题处于“{stage}”阶段，不能办理“{act}”",
        "refused missing": "办理“{act}”需要填写：{fields}",
        "refused missing field": "需要填写：{fields}",
        "refused version": "问题 #{id} 刚被他人修改，请刷新页面后重试",
        "refused past": "截止日期 {due} 已过（今天是 {today}）",
        "refused holiday": "截止日期 {due} 不是工作日（前一个工作日是 {before}）",
        "refused cap": "截止日期 {due} 超过本阶段 {days} 个工作日的时限（最晚 {latest}）",
        "refused time": "问题 #{id}：时间 {at} 早于该问题上一条记录的时间（{previous}）",
        "refused csrf": "页面已过期，请刷新后重试", "refused sign in": "姓名或密码不对",
        "verify chain": "校验全部历史",
        "refused no issue": "没有编号为 {id} 的问题",
        "as of": "截至 {at} 共 {n} 个问题", "backdated included": "（含补录事件 {n} 条）",
        "case closed": "{id} 号督办已办结", "board cases": "约谈与问责（{n}）",
        "record interview": "记录约谈", "decide case": "作出问责决定",
        "board villages": "挂牌督战的村", "issues overdue": "超期 {n} 个",
        "list": "挂牌", "unlist": "摘牌", "board overdue": "超期问题（{n}）",
        "audit chain": "历史校验",
        "chain sound": "完好：{events} 条事件链接无误，{issues} 个问题与历史一致",
        "chain not sound": "不完好：第 {seq} 条事件起有误（{reason}）",
        "as of date": "回放日期", "replay": "回放", "person report": "专项述职",
        "show report": "查看", "export": "导出", "export html": "下载 HTML 报告",
        "export csv": "下载 CSV",
        # the charts of the board and the ledger page
        "charts": "图表", "chart burndown": "清零进度：每日日终未销号问题数",
        "chart open": "未销号", "chart ideal": "清零进度线",
        "chart stages": "各村未销号问题所处阶段", "chart lights": "各村红黄绿灯",
        "chart light": "{light}灯", "chart empty": "暂无数据",
        "chart scoreboard": "各村考核得分（排名）", "chart scored at": "统计于 {at}",
        "export xlsx": "导出 Excel",
        # a sweep's summary (escalate)
        "sweep more": "另有 {n} 次督办未列出（--all 列出全部）",
    },
    "en": {
        "version": "version {n}", "by": "by {who}", "at by": "{at} by {who}",
        "sheet row": "row",
        "would import": "would import {n} issue(s) (a dry run: nothing written)",
        "issues": "{n} issue(s)", "escalations": "{n} escalation(s)",
        "raised n": "raised {n} escalation(s)",
        "sweep more": "{n} more not listed (--all lists every one)",
        "summary": "where the issues stand (village × stage)", "back-dated": "back-dated",
        "written": "written {at}", "back-fill": "back-fill",
        "group leader": "{group} (leader {leader})", "list sep": ", ",
        "colon": ": ", "no extensions": "no extension requests",
        "esc on": "{id}: {level} on issue #{issue}", "stage due": "{stage} (due {due})",
        "ext on": "{id} on issue #{issue} ({stage})", "due moved": "{old} → {new} 24:00",
        "no evidence": "issue #{id} has no evidence",
        "evidence n": "issue #{id}: {n} evidence file(s)", "event what": "event {n} ({what})",
        "saved as": "saved as", "saved n": "{n} file(s) saved", "duplicate_of": "duplicate of",
        "channel cli": "cli", "channel scheduler": "scheduler", "channel web": "web",
        "channel api": "api",
        "export title": "audit export of the rectification ledger", "period": "period",
        "from the start": "from the start", "until now": "now",
        "back-dated events": "back-dated events", "chain head": "chain head",
        "chain verified": "chain verified", "sound": "sound",
        "sound detail": "{n} events, every hash and every row checked",
        "not sound": "NOT SOUND", "first bad": "first bad event {seq}",
        "chain note": "Each event's hash is SHA-256 over its fields and the hash before it;"
                      " keep the chain head and check a database later:",
        "drill banner": "演练 DRILL: a drill database; its times are simulated, nothing in it"
                        " is real",
        "countdown": "{name}: {n} days left (ends {end})",
        "countdown one": "{name}: 1 day left (ends {end})",
        "spotcheck drawn": "spot check draw {draw}: seed {seed}, {percent}% of the {population}"
                           " cleared issue(s) of {where}; {n} drawn:",
        "spotcheck row": "draw {draw} ({at}, {who}): seed {seed}, {where} {percent}%, {n}"
                         " drawn; {pending} pending, {passed} passed, {failed} failed",
        "spotcheck pending": "pending", "spotcheck pass": "pass",
        "spotcheck fail": "fail (reopened)", "no spotchecks": "no spot checks drawn yet",
        "whole town": "the whole town", "spotcheck result": "{result} (draw {draw})",
        "countdown ended": "{name}: ended ({end})",
        "drill times": "a drill: every time is simulated, so no event is marked back-dated",
        "person title": "专项述职 · {name}",
        "did head": "What they did ({n} step(s); {on_time} on time, {late} late,"
                    " {none} without a deadline):",
        "did row": "on time {on_time}, late {late}", "did none": ", no deadline {n}",
        "nothing in period": "nothing in this period",
        "received head": "Escalations received: {reminders} reminder(s), {interviews}"
                         " interview(s), {cases} accountability case(s)",
        "received row": "#{id} {level} on issue #{issue} ({stage}), raised {at}: {status}",
        "answered head": "Accountability cases answered for (问责): {n}", "semicolon": "; ",
        "answered row": "#{id} on issue #{issue} ({stage}), decided {at}: {outcome}",
        "recorded head": "Interviews recorded and decisions taken: {n}",
        "recorded row": "escalation #{id} on issue #{issue}, {at}: ",
        "recorded with": " (with {names})",
        "person backdated": "{n} of their {total} event(s) are back-dated (clock time more than"
                            " a minute from when they were written).",
        "state version": "{stage} (version {n})", "door user": "{channel} ({user})",
        "nothing allowed": "nothing",
        "village listed": "{village} listed; {n} open issue(s) now follow the listed ladder",
        "village unlisted": "{village} unlisted; {n} open issue(s) back on their own ladder",
        "briefing queued": "briefing queued for {n} recipient(s): {names}",
        "app name": "rectify", "nav queue": "my queue", "nav ledger": "ledger",
        "nav new": "new issue", "nav board": "board", "nav audit": "audit",
        "sign in": "sign in", "sign out": "sign out", "your name or id": "your name or id",
        "refused": "refused", "queue issues": "issues waiting for me ({n})",
        "queue escalations": "escalations ({n})",
        "queue extensions": "extension requests to decide ({n})",
        "nothing waiting": "nothing", "all villages": "all villages",
        "all stages": "all stages", "all categories": "all categories",
        "all lights": "all lights", "search hint": "title, household, description",
        "page of": "page {n} of {of}", "replay as of": "replay as of a date",
        "what you may do": "what you may do", "also allowed": "also allowed",
        "fix on the spot": "fixed on the spot", "add issue": "add",
        "passwords differ": "the two new passwords differ",
        "on the board": "interviews and accountability are recorded on the board",
        "case by": "for {who} to act on", "verify chain": "verify the whole history",
        "as of": "{n} issue(s) as of {at}",
        "backdated included": " ({n} back-dated event(s) included)",
        "case closed": "escalation {id} closed",
        "board cases": "interviews and accountability ({n})",
        "record interview": "record the interview", "decide case": "decide",
        "board villages": "villages listed for supervision", "issues overdue": "{n} overdue",
        "list": "list", "unlist": "unlist", "board overdue": "overdue issues ({n})",
        "audit chain": "the history's check",
        "chain sound": "sound: {events} events chained, {issues} issues agree with their history",
        "chain not sound": "NOT SOUND from event {seq} ({reason})",
        "as of date": "replay date", "replay": "replay", "person report": "person report",
        "show report": "show", "export": "export", "export html": "download the HTML report",
        "export csv": "download CSV",
        # the charts of the board and the ledger page
        "charts": "charts", "chart burndown": "toward zero: open issues at each day's end",
        "chart open": "open", "chart ideal": "pace to zero",
        "chart stages": "open issues by village and stage",
        "chart lights": "lights by village", "chart light": "{light}",
        "chart empty": "nothing yet",
        "chart scoreboard": "villages' assessment scores (rank)",
        "chart scored at": "counted at {at}",
        "export xlsx": "export to Excel",
    },
}
"""The program's own words in human output; English keys (a missing English phrase is its
key)."""

@dataclass(frozen=True)
class Words:
    """Names and labels for one reader: `lang` (LANGS) and the org's `names`."""

    lang: str = "zh_CN"
    names: Names = field(default=NO_NAMES)

    @property
    def zh(self) -> bool:
        return self.lang == "zh_CN"

    def __call__(self, key: str, **values: object) -> str:
        """A phrase of the program's, its `{…}` filled from `values`."""
        text = PHRASES[self.lang].get(key) or PHRASES["en"].get(key) or key
        return text.format(**values) if values else text

    def _label(self, kind: str, value: str | None) -> str:
        if value is None:
            return ""
        table = LABELS[self.lang][kind]
        if value in table:
            return table[value]
        return value if self.zh else value.replace("_", " ")

    # --- who and where ---------------------------------------------------------------------
    def person(self, pid: str | None) -> str:
        """A person's name (the id when the org does not hold it)."""
        if pid is None:
            return ""
        name = self.names.people.get(pid)
        if name is None and pid == "system":
            return self("system")
        return pid if name is None else name

    def people(self, ids: Iterable[str]) -> str:
        return self("list sep").join(self.person(p) for p in ids)

    def village(self, vid: str | None) -> str:
        return "" if vid is None else self.names.units.get(vid, vid)

    def group(self, gid: str | None) -> str:
        """A self-assessment group by its id and its leader's name: `g07（组长王某）`."""
        if gid is None:
            return ""
        leader = self.names.leaders.get(gid)
        return self("group leader", group=gid, leader=self.person(leader)) if leader else gid

    # --- labels ---------------------------------------------------------------------------
    def stage(self, value: str | None) -> str:
        return self._label("stage", value)

    def transition(self, value: str | None) -> str:
        return self._label("transition", value)

    def category(self, value: str | None) -> str:
        return self._label("category", value)

    def severity(self, value: str | None) -> str:
        return self._label("severity", value)

    def level(self, value: str | None) -> str:
        return self._label("level", value)

    def status(self, value: str | None) -> str:
        return self._label("status", value)

    def outcome(self, value: str | None) -> str:
        return self._label("outcome", value)

    def light(self, value: str | None) -> str:
        return self._label("light", value)

    def event(self, value: str | None) -> str:
        return self._label("event", value)

    def countdown(self, name: str, end: object, left: int | None) -> str:
        """The campaign's countdown line: `百日大会战：剩余 61 天（2020-12-29 结束）`, or ended."""
        if left is None:
            return self("countdown ended", name=name, end=end)
        return self("countdown one" if left == 1 else "countdown", name=name, end=end, n=left)

    def channel(self, value: str) -> str:
        return self(f"channel {value}") if f"channel {value}" in PHRASES["en"] else value

    def field_value(self, name: str, value: object) -> str:
        """A field's stored value as people read it: a village, person or group by name, a
        category or severity by its label, anything else as it is; None as `—`."""
        if value is None:
            return "—"
        shown: Mapping[str, Callable[[str | None], str]] = {
            "village": self.village, "assignee": self.person, "group": self.group,
            "category": self.category, "severity": self.severity, "state": self.stage,
        }
        how = shown.get(name)
        return how(str(value)) if how else str(value)


ENGLISH = Words("en")
"""English labels with ids as they are: for outputs that have no reader's choice (tests, logs)."""
