"""Shared test helpers: a small org, and a service on a given database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from engine.service import Rectify
from engine.store.db import make_engine
from engine.store.uow import Store

SMALL_ORG: dict[str, Any] = {
    "town": {"id": "huangjia", "name": "黄家镇", "timezone": "Asia/Shanghai",
             "party_secretary": "wang"},
    "units": [
        {"id": "v-shiban", "name": "石板村", "kind": "village", "liaison": "liu",
         "secretary": "chen"},
        {"id": "c-jiezi", "name": "街子社区", "kind": "community", "liaison": "liu",
         "secretary": "zhou"},
    ],
    "people": [
        {"id": "wang", "name": "王书记", "unit": "huangjia", "email": "wang@huangjia.example",
         "mobile": "13800000001"},
        {"id": "liu", "name": "刘镇长", "unit": "huangjia"},
        {"id": "chen", "name": "陈支书", "unit": "v-shiban"},
        {"id": "zhou", "name": "周支书", "unit": "c-jiezi"},
        {"id": "sa1", "name": "自查一", "unit": "huangjia"},
        {"id": "sa2", "name": "自查二", "unit": "v-shiban"},
        {"id": "rc1", "name": "整改一", "unit": "huangjia"},
        {"id": "rc2", "name": "整改二", "unit": "huangjia"},
        {"id": "qs1", "name": "督查一", "unit": "huangjia"},
        {"id": "qs2", "name": "督查二", "unit": "huangjia"},
        {"id": "iv1", "name": "核查一", "unit": "huangjia"},
        {"id": "nobody", "name": "群众", "unit": "v-shiban"},
    ],
    "groups": [
        {"id": "sa-01", "kind": "self_assessment", "leader": "sa1", "members": ["sa1", "sa2"]},
        {"id": "rect", "kind": "rectification", "leader": "rc1", "members": ["rc1", "rc2"]},
        {"id": "qs", "kind": "quality_supervision", "leader": "wang",
         "members": ["wang", "qs1", "qs2"]},
        {"id": "iv", "kind": "information_verification", "leader": "iv1", "members": ["iv1"]},
    ],
}


def write_org(path: Path, org: dict[str, Any] | None = None) -> Path:
    path.write_text(yaml.safe_dump(org or SMALL_ORG, allow_unicode=True), encoding="utf-8")
    return path


def service(url: str, data_dir: Path, actor: str | None = None,
            now: datetime | None = None) -> Rectify:
    return Rectify(Store(make_engine(url)), actor=actor, now=now, data_dir=data_dir)
