"""The Huangjia demo: the town of docs/domain.md and a seeded hundred-day campaign.

10 villages and communities, 101 cadres, 38 two-person self-assessment groups and the four
special groups. Issues are found over the first weeks of the campaign (which runs across the
2020 National Day holiday and its make-up Saturday) and moved through the stages by the right
people at simulated times, through the same handlers every command uses: each step is a
session of its own, by the cadre who acts, at the simulated moment.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine import demo_photos
from engine.app import issues, setup, supervision
from engine.app.session import Session
from engine.domain.calendar import WorkingCalendar
from engine.domain.issue import Move, NewIssue
from engine.errors import RectifyError, Refused

TOWN = {"id": "huangjia", "name": "黄家镇", "timezone": "Asia/Shanghai", "party_secretary": "wang"}
CAMPAIGN = {"name": "百日大会战", "start": date(2020, 9, 21), "end": date(2020, 12, 29)}
"""The demo's campaign: a hundred days (both ends counted) from the Monday the drill starts."""
UNITS = [
    ("v-shiban", "石板村", "village"), ("v-heping", "和平村", "village"),
    ("v-qingshan", "青山村", "village"), ("v-liujia", "刘家村", "village"),
    ("v-shuikou", "水口村", "village"), ("v-baiyan", "白岩村", "village"),
    ("v-dawan", "大湾村", "village"), ("v-xinqiao", "新桥村", "village"),
    ("c-jiezi", "街子社区", "community"), ("c-nanmen", "南门社区", "community"),
]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许"
    "韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = "建国明华丽军芳强敏静勇艳杰娟涛超秀霞平刚桂英红梅玉兰志伟海燕文斌"
PROBLEMS = [
    ("housing_safety", "房屋漏雨，需维修屋面"), ("housing_safety", "危房鉴定资料缺失"),
    ("compulsory_education", "适龄儿童辍学未劝返"), ("compulsory_education", "教育资助未落实"),
    ("basic_medical", "未参加城乡居民医疗保险"), ("basic_medical", "慢性病卡未办理"),
    ("drinking_water", "饮水管道破损"), ("drinking_water", "水质检测报告缺失"),
    ("food", "口粮储备不足"), ("clothing", "冬季衣被不足"),
    ("industry", "产业奖补未兑现"), ("employment", "外出务工信息未更新"),
    ("data_quality", "家庭人口信息与户籍不符"), ("data_quality", "收入测算有误"),
    ("other", "帮扶手册填写不规范"),
]


@dataclass(frozen=True)
class Cast:
    org: dict[str, Any]
    sa_groups: list[tuple[str, str, list[str]]]
    """(group id, village, members)"""
    rectifiers: list[str]
    verifiers: list[str]
    secretaries: dict[str, str]


def build_org() -> Cast:
    """The Huangjia org: 101 cadres."""
    rng = random.Random(7)
    names: set[str] = set()

    def name() -> str:
        while True:
            n = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN + "")
            if n not in names:
                names.add(n)
                return n

    people: list[dict[str, Any]] = []

    def person(pid: str, unit: str, display: str | None = None) -> str:
        n = len(people) + 1
        people.append({
            "id": pid, "name": display or name(), "unit": unit,
            "email": f"{pid}@huangjia.example", "mobile": f"138{n:08d}",
        })
        return pid

    wang = person("wang", "huangjia", "王书记")
    zhang = person("zhang", "huangjia", "张镇长")
    leaders = [person(f"lead{i}", "huangjia") for i in range(1, 5)]
    specialists = [person(f"spec{i}", "huangjia") for i in range(1, 5)]
    rectification = [zhang] + [person(f"rc{i}", "huangjia") for i in range(1, 6)]
    verification = [person(f"iv{i}", "huangjia") for i in range(1, 7)]
    quality = [wang] + [person(f"qs{i}", "huangjia") for i in range(1, 5)]
    secretaries = {uid: person(f"sec-{uid}", uid) for uid, _, _ in UNITS}
    liaison_of = {uid: leaders[min(i * 4 // len(UNITS), 3)] for i, (uid, _, _) in enumerate(UNITS)}
    units = [
        {"id": uid, "name": uname, "kind": kind, "liaison": liaison_of[uid],
         "secretary": secretaries[uid]}
        for uid, uname, kind in UNITS
    ]
    # 38 groups: one town cadre (knows the policy) and one village cadre (knows the people)
    sa_groups: list[tuple[str, str, list[str]]] = []
    per_village = [4] * 8 + [3] * 2
    n = 0
    for (uid, _, _), count in zip(UNITS, per_village, strict=True):
        for k in range(count):
            n += 1
            policy = person(f"sa{n:02d}a", "huangjia")
            local = secretaries[uid] if k == 0 else person(f"sa{n:02d}b", uid)
            sa_groups.append((f"sa-{n:02d}", uid, [policy, local]))
    groups: list[dict[str, Any]] = [
        {"id": gid, "kind": "self_assessment", "leader": members[0], "members": members}
        for gid, _, members in sa_groups
    ]
    groups += [
        {"id": "information-verification", "kind": "information_verification",
         "leader": verification[0], "members": verification},
        {"id": "roving-guidance", "kind": "roving_guidance", "leader": leaders[0],
         "members": leaders + specialists},
        {"id": "rectification", "kind": "rectification", "leader": zhang,
         "members": rectification},
        {"id": "quality-supervision", "kind": "quality_supervision", "leader": wang,
         "members": quality},
    ]
    org = {"town": TOWN, "units": units, "people": people, "groups": groups,
           "campaign": CAMPAIGN}
    return Cast(org=org, sa_groups=sa_groups, rectifiers=rectification,
                verifiers=quality[1:], secretaries=secretaries)


def write_org(path: Path) -> Cast:
    import yaml

    cast = build_org()
    path.write_text(
        "# The Huangjia demo org: 10 villages and communities, 101 cadres, 38 groups of two\n"
        + yaml.safe_dump(cast.org, allow_unicode=True, sort_keys=False, width=100),
        encoding="utf-8",
    )
    return cast


Step = tuple[datetime, int, str, dict[str, Any]]
"""(when, issue number, action, arguments)"""


def run_demo(
    command: Session,
    count: int = 300,
    seed: int = 2020,
    write_org: Path | None = None,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    say = echo or (lambda _text: None)
    with tempfile.TemporaryDirectory(prefix="rectify-demo-") as tmp:
        work = Path(tmp)
        org_path = write_org or work / "huangjia.yaml"
        cast = globals()["write_org"](org_path)
        start = datetime(2020, 9, 21, 8, 0)  # Monday: the campaign runs across National Day
        first = command.next("wang", start)
        setup.init(first, org_path, drill=True)
        existing = sum(n for _, _, n in issues.summary(first))
        if existing:
            raise Refused(f"the database already holds {existing} issues: use a fresh --db")
        say(f"org: {len(cast.org['units'])} units, {len(cast.org['people'])} cadres,"
            f" {len(cast.org['groups'])} groups")
        rng = random.Random(seed)
        tz = ZoneInfo(TOWN["timezone"])
        end = datetime(2020, 10, 30, 18, 0)
        steps = _plan(rng, cast, count, start, end)
        ids: dict[int, int] = {}
        categories: dict[int, str] = {}
        moves = refused = 0
        raised = recorded = 0
        last_sweep: datetime | None = None
        for k, (when, number, action, args) in enumerate(
                sorted(steps, key=lambda s: (s[0], s[1]))):
            if last_sweep is None or when - last_sweep >= timedelta(hours=1):
                # the scheduler's sweep, as `rectify serve` runs it, every simulated hour
                r, n = _sweep(first.next(None, when), rng, cast)
                raised, recorded, last_sweep = raised + r, recorded + n, when
            step = first.next(args.pop("actor"), when)
            try:
                if action == "add":
                    categories[number] = args["category"]
                    ids[number] = issues.add(step, NewIssue(**args)).id
                    continue
                evidence = []
                if args.pop("evidence", False):
                    evidence = _photos(work / f"step-{k}",
                                       categories[number], f"{seed}:{number}:{action}:{when}")
                issues.move(step, Move(issue_id=ids[number], transition=action, **args),
                            evidence)
                moves += 1
            except RectifyError:
                refused += 1  # a cadre late past a rule: the demo lets the engine refuse
        last = first.next(None, end)
        r, n = _sweep(last, rng, cast)
        raised, recorded = raised + r, recorded + n
        counts = issues.summary(last)
        overdue = issues.listing(last, overdue=True)
    wf_states = ["found", "reported", "studied", "rectified", "verified", "cleared"]
    say(f"campaign 2020-09-21 – 2020-10-30: {len(ids)} issues found, {moves} moves"
        f" ({refused} refused by the rules); town time {end.replace(tzinfo=tz):%Y-%m-%d %H:%M}")
    say(f"escalations raised: {raised}; interviews (约谈) recorded by liaison leaders: {recorded}")
    say(f"overdue now: {len(overdue)} open issue(s) past their stage deadline"
        " (rectify issue list --overdue)")
    return {
        "issues": len(ids),
        "moves": moves,
        "refused": refused,
        "overdue": len(overdue),
        "escalations": raised,
        "interviews_recorded": recorded,
        "states": wf_states,
        "by_village_state": counts,
        "town_time": end.replace(tzinfo=tz).isoformat(),
    }


def _photos(folder: Path, category: str, seed: str) -> list[Path]:
    """A step's evidence: the photos before and after the work, small real pictures (PNG)
    under the names they are filed with (整改前照片.png, 屋顶修缮后.png)."""
    folder.mkdir()
    out = []
    for name, mended in zip(demo_photos.names(category), (False, True), strict=True):
        path = folder / name
        path.write_bytes(demo_photos.photo(f"{seed}:{name}", mended))
        out.append(path)
    return out


def _sweep(s: Session, rng: random.Random, cast: Cast) -> tuple[int, int]:
    """Run a sweep; liaison leaders record most interviews it raised, the same day."""
    sweep = s.app.session(channel="scheduler", at=s.at, definitions=s.defs)  # as `serve` runs it
    raised = supervision.escalate(sweep)
    recorded = 0
    liaison_of = {u["id"]: u["liaison"] for u in cast.org["units"]}
    name_of = {p["id"]: p["name"] for p in cast.org["people"]}
    for e in raised:
        if e.level != "interview" or rng.random() < 0.3:
            continue
        liaison = liaison_of.get(issues.show(s, e.issue_id).village)
        if liaison is None:
            continue
        summoned = list(e.subjects or e.recipients[-1:])  # those it summoned came
        supervision.record_interview(
            s.next(liaison, s.at), e.id,
            f"约谈{'、'.join(name_of.get(p, p) for p in summoned)}，听取超期原因，督促限期整改",
            summoned)
        recorded += 1
    return len(raised), recorded


@cache
def _calendar() -> WorkingCalendar:
    """The national calendar the engine itself is initialised with, for planning the steps."""
    from engine.config.holidays import national

    return WorkingCalendar(national(range(2020, 2022)), ZoneInfo(TOWN["timezone"]))


def _working(day: date) -> bool:
    return _calendar().is_working_day(day)


def _later(rng: random.Random, when: datetime, low: int, high: int) -> datetime:
    """A working-day moment `low`…`high` working days after `when`, in office hours."""
    days = rng.randint(low, high)
    day = when.date()
    while days > 0:
        day += timedelta(days=1)
        if _working(day):
            days -= 1
    clock = time(rng.randint(8, 17), rng.choice((0, 15, 30, 45)))
    moment = datetime.combine(day, clock)
    return moment if moment > when else when + timedelta(minutes=30)


def _plan(rng: random.Random, cast: Cast, count: int, start: datetime, end: datetime) -> list[Step]:
    steps: list[Step] = []
    qs_leader = "wang"
    for number in range(count):
        gid, village, members = rng.choice(cast.sa_groups)
        finder = rng.choice(members)
        category, title = rng.choice(PROBLEMS)
        found = _later(rng, start, 0, 26)
        household = f"{rng.choice(SURNAMES)}某某户"
        steps.append((found, number, "add", {
            "actor": finder, "title": f"{household}{title}", "category": category,
            "village": village, "group": gid, "household": household,
            "severity": rng.choices(("low", "medium", "high"), (3, 5, 2))[0],
            "listed": rng.random() < 0.05,
        }))
        t = found + timedelta(minutes=20)
        rectifier = finder
        if rng.random() < 0.6:  # fixed on the spot (立行立改)
            steps.append((t, number, "fix", {
                "actor": finder, "note": "现场整改完毕", "evidence": True}))
        else:
            t = _later(rng, t, 0, 1)
            steps.append((t, number, "report", {"actor": finder}))
            t = _later(rng, t, 1, 4)
            assignee = rng.choice([cast.secretaries[village], *cast.rectifiers[1:]])
            due = _later(rng, t, 4, 12).date()
            steps.append((t, number, "study", {
                "actor": rng.choice(cast.rectifiers), "plan": "制定整改措施，明确责任人",
                "assignee": assignee, "due": due}))
            t = _later(rng, t, 2, 14)
            rectifier = assignee
            steps.append((t, number, "rectify", {
                "actor": assignee, "note": "已按方案整改", "evidence": True}))
            if rng.random() < 0.15:
                t = _later(rng, t, 1, 2)
                steps.append((t, number, "reject", {
                    "actor": rng.choice(cast.verifiers), "reason": "整改不到位，重新整改"}))
                t = _later(rng, t, 1, 4)
                steps.append((t, number, "rectify", {
                    "actor": assignee, "note": "二次整改完毕", "evidence": True}))
        t = _later(rng, t, 1, 3)
        verifier = rng.choice([v for v in cast.verifiers if v != rectifier])
        steps.append((t, number, "verify", {"actor": verifier, "note": "入户核实，整改到位"}))
        t = _later(rng, t, 1, 3)
        steps.append((t, number, "clear", {"actor": qs_leader}))
    return [s for s in steps if s[0] <= end]


SIGN_INS = (("party secretary", "wang"), ("liaison leader", "lead1"),
            ("village secretary", "sec-v-shiban"), ("rectification member", "rc1"),
            ("quality-supervision member", "qs1"))
"""A few demo people to sign in as, one of each kind of cadre."""


def set_passwords(s: Session, password: str) -> list[tuple[str, str, str]]:
    """Give every demo person `password`; (role, id, name) of the people of SIGN_INS."""
    from engine.app import accounts

    with s.transaction(write=False) as tx:
        people = s.org(tx).people
    for pid in people:
        accounts.set_password(s, pid, password)
    return [(role, pid, people[pid].name) for role, pid in SIGN_INS if pid in people]
