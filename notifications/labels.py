"""Names of stages, transitions, levels, categories, severities, lights, statuses, outcomes
and event kinds as cadres read them, per locale (zh_CN, the default of every human output, and
en). An id not listed (a custom workflow's state) is shown as it is.

Plain data, so that the write path (outbox rows) and the CLI use them without loading Jinja2.
"""

from __future__ import annotations

LABELS: dict[str, dict[str, dict[str, str]]] = {
    "zh_CN": {
        "stage": {"found": "发现", "reported": "上报", "studied": "研究", "rectified": "整改",
                  "verified": "验收", "cleared": "销号"},
        "level": {"reminder": "提醒", "interview": "约谈", "accountability": "问责"},
        "category": {"food": "吃", "clothing": "穿", "compulsory_education": "义务教育",
                     "basic_medical": "基本医疗", "housing_safety": "住房安全",
                     "drinking_water": "饮水安全", "industry": "产业", "employment": "就业",
                     "data_quality": "数据质量", "other": "其他"},
        "light": {"red": "红", "yellow": "黄", "green": "绿"},
        "transition": {"fix": "立行立改", "report": "上报", "study": "研究", "rectify": "整改",
                       "verify": "验收", "reject": "退回整改", "clear": "销号", "void": "作废",
                       "reopen": "回头看", "request_extension": "申请延期",
                       "decide_extension": "审批延期", "reassign": "改派", "edit": "更正",
                       "record_interview": "记录约谈", "decide_accountability": "问责决定",
                       "list_village": "挂牌督战"},
        "severity": {"low": "一般", "medium": "较重", "high": "严重"},
        "outcome": {"no_action": "不予问责", "talk": "提醒谈话", "admonish": "诫勉谈话",
                    "criticize": "通报批评", "refer": "移交纪委"},
        "status": {"open": "待办", "done": "已发", "recorded": "已约谈", "decided": "已决定",
                   "superseded": "已转段", "pending": "待审批", "approved": "已同意",
                   "denied": "未同意"},
        "event": {"created": "新增", "imported": "导入", "transition": "流转",
                  "escalated": "督办", "rescheduled": "改期",
                  "extension_requested": "申请延期", "extension_approved": "同意延期",
                  "extension_denied": "不同意延期", "interview_recorded": "记录约谈",
                  "accountability_decided": "问责决定", "village_listed": "挂牌督战",
                  "village_unlisted": "摘牌", "reassigned": "改派", "edited": "更正",
                  "database_marked": "标记数据库", "org_loaded": "载入组织",
                  "workflow_registered": "登记流程", "calendar_installed": "载入工作日历"},
    },
    "en": {
        "stage": {"found": "found", "reported": "reported", "studied": "studied",
                  "rectified": "rectified", "verified": "verified", "cleared": "cleared"},
        "level": {"reminder": "reminder", "interview": "interview",
                  "accountability": "accountability"},
        "category": {"food": "food", "clothing": "clothing",
                     "compulsory_education": "compulsory education",
                     "basic_medical": "basic medical care", "housing_safety": "housing safety",
                     "drinking_water": "drinking water", "industry": "industry",
                     "employment": "employment", "data_quality": "data quality",
                     "other": "other"},
        "light": {"red": "red", "yellow": "yellow", "green": "green"},
        "transition": {"fix": "fix on the spot", "reject": "send back"},
        "severity": {"low": "low", "medium": "medium", "high": "high"},
        "outcome": {"no_action": "no action", "talk": "a reminding talk",
                    "admonish": "an admonition", "criticize": "a notice of criticism",
                    "refer": "referral to the discipline inspection commission"},
        "status": {"done": "sent"},
        "event": {"extension_requested": "extension requested",
                  "extension_approved": "extension approved",
                  "extension_denied": "extension denied",
                  "interview_recorded": "interview recorded",
                  "accountability_decided": "accountability decided",
                  "village_listed": "village listed", "village_unlisted": "village unlisted",
                  "database_marked": "database marked", "org_loaded": "org loaded",
                  "workflow_registered": "workflow registered",
                  "calendar_installed": "calendar installed"},
    },
}
