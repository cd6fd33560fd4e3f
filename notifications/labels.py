"""Names of stages, levels, categories and lights as cadres read them, per locale.

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
    },
}
