"""Demo data: the accounts of API.md, an organisation tree, a term plan, a round, and cases at
different stages — built through the same service functions people use, so the audit trail and
projections are real. Idempotent: a database that already has the demo city is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import (
    Finding,
    Inspection,
    Membership,
    Organisation,
    OrgKind,
    PublicationKind,
    Round,
    RoundKind,
    TermPlan,
    TermPlanUnit,
    User,
)

from . import cases, disclosure, runtime
from .accounts import hash_password
from .actors import Actor, actor_for
from .bootstrap import add_missing_groups
from .context import EngineContext

DEMO_PASSWORD = "xuncha-demo"
CITY_CODE = "CITY"


# code, name, kind, sector
CITY_ORGS = [
    ("LG", "市委巡察工作领导小组", OrgKind.OFFICE, None),
    ("OFFICE", "市委巡察办", OrgKind.OFFICE, None),
    ("JW", "市纪委监委", OrgKind.RECEIVING_BODY, None),
    ("ZZB", "市委组织部", OrgKind.RECEIVING_BODY, "市委工作部门"),
    ("TEAM1", "市委第一巡察组", OrgKind.INSPECTION_TEAM, None),
    ("TEAM2", "市委第二巡察组", OrgKind.INSPECTION_TEAM, None),
    ("U-EDU", "市教育局", OrgKind.UNIT, "市政府组成部门"),
    ("U-HEALTH", "市卫生健康委员会", OrgKind.UNIT, "市政府组成部门"),
    ("U-HOUSING", "市住房和城乡建设局", OrgKind.UNIT, "市政府组成部门"),
    ("U-SASAC", "市国有资产监督管理委员会", OrgKind.UNIT, "市政府组成部门"),
    ("U-FED", "市总工会", OrgKind.UNIT, "群团"),
    ("U-WATER", "市水务投资集团", OrgKind.UNIT, "企事业单位"),
]

# username, display name, org code, [(group key, scope org code)]
USERS = [
    ("office1", "巡察办 王明", "OFFICE", [("office", CITY_CODE)]),
    ("group1", "第一巡察组 李强", "TEAM1", [("inspection_group", "TEAM1")]),
    ("jw1", "纪委监委 赵敏", "JW", [("discipline", "JW"), ("receiving_body", "JW")]),
    ("zzb1", "组织部 孙磊", "ZZB", [("organization", "ZZB"), ("receiving_body", "ZZB")]),
    ("unit1", "教育局联络员 周洁", "U-EDU", [("unit", "U-EDU")]),
    ("unit2", "卫健委联络员 吴刚", "U-HEALTH", [("unit", "U-HEALTH")]),
    ("unitlead1", "教育局分管领导 钱峰", "U-EDU", [("unit_leader", "U-EDU")]),
    ("leader1", "领导小组 郑华", "LG", [("leading_group", CITY_CODE)]),
    ("designer1", "流程管理员 陈晨", "OFFICE", [("supervisor", CITY_CODE)]),
    ("auditor1", "审计员 何静", "OFFICE", [("auditor", CITY_CODE)]),
    ("county1", "某县巡察办 马军", "COUNTY-A-OFFICE", [("office", "COUNTY-A")]),
    ("county2", "某区巡察办 冯丽", "COUNTY-B-OFFICE", [("office", "COUNTY-B")]),
]

# Each county (市县联动): code, name, its 巡察办, its 巡察组, townships/streets (the county's term plan).
COUNTIES = [
    ("COUNTY-A", "某县", "某县县委巡察办", "某县县委第一巡察组",
     ["城关镇", "东关镇", "西湖乡", "南坡镇", "北山乡", "县教育局", "县财政局", "县住建局"]),
    ("COUNTY-B", "某区", "某区区委巡察办", "某区区委第一巡察组",
     ["中山街道", "解放街道", "新华街道", "光明镇", "区卫健局", "区城管局"]),
]

# The term's 96 city units in the six categories of DOMAIN.md; the first ones already exist above
# (CITY_ORGS: 教育局, 卫健委, 住建局, 国资委, 总工会, 水务集团), the rest are added by ``seed_plan``.
TERM_UNITS: list[tuple[str, str, list[str]]] = [
    ("U-PW", "市委工作部门", [
        "市委办公室", "市委宣传部", "市委统战部", "市委政法委员会", "市委政策研究室", "市委机构编制委员会办公室",
        "市直机关工委", "市委网络安全和信息化委员会办公室", "市委老干部局", "市委党校"]),
    ("U-PC", "人大政协", ["市人大常委会机关", "市政协机关"]),
    ("U-GV", "市政府组成部门", [
        "市政府办公室", "市发展和改革委员会", "市科学技术局", "市工业和信息化局", "市民族宗教事务局", "市公安局",
        "市民政局", "市司法局", "市财政局", "市人力资源和社会保障局", "市自然资源和规划局", "市生态环境局",
        "市交通运输局", "市水利局", "市农业农村局", "市商务局", "市文化广电和旅游局", "市退役军人事务局",
        "市应急管理局", "市审计局", "市市场监督管理局", "市统计局", "市医疗保障局", "市城市管理局", "市林业局",
        "市信访局", "市机关事务管理局", "市行政审批服务局", "市粮食和物资储备局", "市地方金融监督管理局",
        "市体育局", "市乡村振兴局", "市人民防空办公室", "市外事办公室", "市数据管理局"]),
    ("U-CT", "法院检察院", ["市中级人民法院", "市人民检察院"]),
    ("U-MO", "群团", ["共青团市委", "市妇女联合会", "市科学技术协会", "市文学艺术界联合会", "市归国华侨联合会",
                    "市残疾人联合会"]),
    ("U-EN", "企事业单位", [
        "市投资集团", "市交通投资集团", "市城市建设投资集团", "市文化旅游投资集团", "市公共交通集团", "市热力公司",
        "市燃气公司", "市供销合作社", "市农业发展投资公司", "市产业投资集团", "市第一人民医院", "市第二人民医院",
        "市中医院", "市妇幼保健院", "市疾病预防控制中心", "市职业技术学院", "市第一高级中学", "市实验高级中学",
        "市广播电视台", "市日报社", "市住房公积金管理中心", "市公共资源交易中心", "市不动产登记中心",
        "市社会保险中心", "市政务服务中心", "市园林绿化中心", "市国有资本运营公司", "市粮食储备公司", "市担保集团",
        "市农村商业银行", "市物流集团", "市建工集团", "市水利建设公司", "市科技创新发展中心", "市档案馆"]),
]
# Existing city units keep their sector names; the six categories are spelled as in engine.planning.SECTORS.
PLAN_START, PLAN_END = 2022, 2026
# The units of the demo's 2026 round are planned for 2026; the rest spread over the term.
CURRENT_ROUND_UNITS = ("U-EDU", "U-HEALTH", "U-HOUSING")


@dataclass
class Demo:
    """Handles on the demo objects, for tests and for people reading the code."""

    orgs: dict[str, Organisation] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    inspections: dict[str, Inspection] = field(default_factory=dict)
    created: bool = False

    def actor(self, username: str) -> Actor:
        return actor_for(self.users[username])


def _org(session: Session, code: str, name: str, kind: str, sector: str | None, parent: Organisation | None
         ) -> Organisation:
    org = Organisation(code=code, name=name, kind=kind, sector=sector, parent_id=parent.id if parent else None)
    session.add(org)
    session.flush()
    org.path = f"{parent.path if parent else '/'}{org.id}/"
    return org


def seed_reference_data(session: Session, password_hash: str | None = None) -> Demo:
    """Groups, organisations and accounts only (fast; used by most tests)."""
    demo = Demo()
    existing = session.execute(select(Organisation).where(Organisation.code == CITY_CODE)).scalar_one_or_none()
    if existing is not None:
        demo.orgs = {o.code: o for o in session.execute(select(Organisation)).scalars()}
        demo.users = _users_with_roles(session)
        # A unit inspected in several rounds: the handle is its latest inspection.
        demo.inspections = {i.unit.code: i for i in session.execute(
            select(Inspection).join(Round, Round.id == Inspection.round_id)
            .order_by(Round.year, Round.number, Inspection.id)).scalars()}
        return demo
    demo.created = True
    groups = add_missing_groups(session)
    city = _org(session, CITY_CODE, "某市", OrgKind.CITY, None, None)
    demo.orgs[CITY_CODE] = city
    for code, name, kind, sector in CITY_ORGS:
        demo.orgs[code] = _org(session, code, name, kind, sector, city)
    for code, name, office, team, _towns in COUNTIES:
        county = _org(session, code, name, OrgKind.COUNTY, None, city)
        demo.orgs[code] = county
        demo.orgs[f"{code}-OFFICE"] = _org(session, f"{code}-OFFICE", office, OrgKind.OFFICE, None, county)
        demo.orgs[f"{code}-TEAM1"] = _org(session, f"{code}-TEAM1", team, OrgKind.INSPECTION_TEAM, None, county)
        if code == "COUNTY-A":  # the county unit the earlier issues' tests use
            demo.orgs["COUNTY-A-TOWN"] = _org(session, "COUNTY-A-TOWN", "某县城关镇", OrgKind.TOWNSHIP, "乡镇街道",
                                              county)
    secret = password_hash or hash_password(DEMO_PASSWORD)
    session.flush()
    for username, display, org_code, roles in USERS:
        user = User(username=username, display_name=display, password_hash=secret, org_id=demo.orgs[org_code].id)
        session.add(user)
        session.flush()
        for group_key, scope in roles:
            session.add(Membership(user_id=user.id, group_id=groups[group_key].id, org_id=demo.orgs[scope].id))
        demo.users[username] = user
    session.flush()
    demo.users = _users_with_roles(session)
    return demo


def _users_with_roles(session: Session) -> dict[str, User]:
    """The accounts with their memberships loaded: ``Demo.actor`` makes actors of them after the session."""
    users = session.execute(select(User).options(selectinload(User.memberships))
                            .execution_options(populate_existing=True)).scalars()
    return {user.username: user for user in users}


def _add_orgs(session: Session, parent: Organisation, rows: Sequence[tuple[str, str, str, str | None]]
              ) -> list[Organisation]:
    """Many organisations under one parent in two statements (ids first, then their paths)."""
    orgs = [Organisation(code=code, name=name, kind=kind, sector=sector, parent_id=parent.id)
            for code, name, kind, sector in rows]
    session.add_all(orgs)
    session.flush()
    for org in orgs:
        org.path = f"{parent.path}{org.id}/"
    return orgs


PAST_ROUND_DATES = ((3, 1, 4, 30), (6, 1, 7, 31), (9, 1, 10, 31))


def _past_rounds(session: Session, plan: TermPlan, org: Organisation, teams: list[Organisation],
                 by_year: dict[int, list[Organisation]], per_year: int) -> None:
    """Archived rounds of the term's past years inspecting the units planned for each (一托N: one group,
    several units); every tenth unit slipped, which the coverage page shows as a gap."""
    inspections = []
    for year in range(plan.start_year, 2026):
        units = [u for n, u in enumerate(by_year.get(year, []), start=1) if n % 10]
        for number in range(1, per_year + 1):
            m1, d1, m2, d2 = PAST_ROUND_DATES[number - 1]
            round_ = Round(plan_id=plan.id, org_id=org.id, year=year, number=number, kind=RoundKind.REGULAR,
                           name=f"{org.name if org.kind == OrgKind.COUNTY else ''}{year}年第{number}轮常规巡察",
                           method="板块轮动" if org.kind == OrgKind.CITY else "一托N",
                           starts_on=date(year, m1, d1), ends_on=date(year, m2, d2), stage="立卷归档")
            session.add(round_)
            session.flush()
            for n, unit in enumerate(units[number - 1::per_year]):
                inspections.append(Inspection(round_id=round_.id, unit_id=unit.id, team_id=teams[n % len(teams)].id,
                                              feedback_on=date(year, m2, d2) + timedelta(days=30), announced=False))
    session.add_all(inspections)


def seed_plan(session: Session, demo: Demo) -> None:
    """The term plans (city and each county) with their past rounds, and the city's 2026 round."""
    city = demo.orgs[CITY_CODE]
    plan = TermPlan(name="市委第九届巡察规划（2022—2026年）", org_id=city.id, start_year=PLAN_START, end_year=PLAN_END)
    session.add(plan)
    session.flush()
    rows = [(f"{prefix}{n:02d}", name, OrgKind.UNIT, sector) for prefix, sector, names in TERM_UNITS
            for n, name in enumerate(names, start=1)]
    existing = {name for _code, name, kind, _sector in CITY_ORGS if kind == OrgKind.UNIT}
    for org in _add_orgs(session, city, [r for r in rows if r[1] not in existing]):
        demo.orgs[org.code] = org
    units = sorted((o for o in demo.orgs.values() if o.kind == OrgKind.UNIT and o.path.startswith(city.path)
                    and o.parent_id == city.id), key=lambda o: o.id)
    by_year: dict[int, list[Organisation]] = {}
    others = [u for u in units if u.code not in CURRENT_ROUND_UNITS]
    for unit in units:
        year = PLAN_END if unit.code in CURRENT_ROUND_UNITS else PLAN_START + others.index(unit) % 5
        by_year.setdefault(year, []).append(unit)
        session.add(TermPlanUnit(plan_id=plan.id, unit_id=unit.id, planned_year=year))
    _past_rounds(session, plan, city, [demo.orgs["TEAM1"], demo.orgs["TEAM2"]], by_year, 3)
    round_ = Round(plan_id=plan.id, org_id=city.id, year=2026, number=1, name="2026年第一轮常规巡察",
                   kind=RoundKind.REGULAR, method="板块轮动", starts_on=date(2026, 3, 2), ends_on=date(2026, 5, 29),
                   stage="整改")
    session.add(round_)
    session.flush()
    for code, team in (("U-EDU", "TEAM1"), ("U-HEALTH", "TEAM1"), ("U-HOUSING", "TEAM2")):
        inspection = Inspection(round_id=round_.id, unit_id=demo.orgs[code].id, team_id=demo.orgs[team].id,
                                feedback_on=date(2026, 6, 15), announced=True, contact_phone="0000-12345678",
                                contact_mailbox="某市邮政信箱 001 号", contact_address="某市人民路 1 号")
        session.add(inspection)
        demo.inspections[code] = inspection
    for code, _name, _office, _team, towns in COUNTIES:
        _seed_county_plan(session, demo, code, towns)
    session.flush()
    for inspection in demo.inspections.values():
        session.refresh(inspection)


def _seed_county_plan(session: Session, demo: Demo, code: str, towns: list[str]) -> None:
    county = demo.orgs[code]
    plan = TermPlan(name=f"{county.name}第九届巡察规划（2022—2026年）", org_id=county.id, start_year=PLAN_START,
                    end_year=PLAN_END)
    session.add(plan)
    session.flush()
    known = {o.name: o for o in demo.orgs.values() if o.parent_id == county.id}
    rows = [(f"{code}-U{n:02d}", f"{county.name}{town}", OrgKind.TOWNSHIP if town.endswith(("镇", "乡", "街道"))
             else OrgKind.UNIT, "乡镇街道" if town.endswith(("镇", "乡", "街道")) else "县直部门")
            for n, town in enumerate(towns, start=1) if f"{county.name}{town}" not in known]
    units = [known[f"{county.name}{t}"] for t in towns if f"{county.name}{t}" in known]
    for org in _add_orgs(session, county, rows):
        demo.orgs[org.code] = org
        units.append(org)
    by_year: dict[int, list[Organisation]] = {}
    for n, unit in enumerate(units):
        year = PLAN_START + 1 + n % 4
        by_year.setdefault(year, []).append(unit)
        session.add(TermPlanUnit(plan_id=plan.id, unit_id=unit.id, planned_year=year))
    _past_rounds(session, plan, county, [demo.orgs[f"{code}-TEAM1"]], by_year, 1)


def _do(session: Session, ctx: EngineContext, actor: Actor, instance_id: int, bpmn_id: str,
        data: dict[str, Any]) -> None:
    """Claim and complete the open task ``bpmn_id`` of an instance as ``actor``."""
    from .projection import open_tasks

    task = next(t for t in open_tasks(session, instance_id) if t.bpmn_id == bpmn_id)
    runtime.claim_task(session, ctx, actor, task.id)
    runtime.complete_task(session, ctx, actor, task.id, data)


def seed_cases(session: Session, ctx: EngineContext, demo: Demo) -> None:
    office, jw, zzb = demo.actor("office1"), demo.actor("jw1"), demo.actor("zzb1")
    edu, health, housing = demo.inspections["U-EDU"], demo.inspections["U-HEALTH"], demo.inspections["U-HOUSING"]
    handover = {"handover_list": "问题线索报告及附件 1 份", "handover_note": "请按规定及时签收办理"}

    # A clue waiting for the office to hand it over.
    cases.hand_over_clue(session, ctx, office, inspection=edu, receiving_org=demo.orgs["JW"],
                         number="XS-2026-001", summary="反映某科室负责人在教材采购中收受供应商财物。",
                         persons=[{"name": "张某", "post": "科长", "rank": "正科级"}], category="廉洁纪律")
    # A clue handed over and waiting for 组织部 to sign for it.
    clue = cases.hand_over_clue(session, ctx, office, inspection=health, receiving_org=demo.orgs["ZZB"],
                                number="XS-2026-002", summary="反映某副职领导干部在选人用人中违规操作。",
                                persons=[{"name": "钱某", "post": "副主任", "rank": "副处级"}], category="选人用人")
    assert clue.instance_id is not None
    _do(session, ctx, office, clue.instance_id, "handover", handover)
    # A clue being handled by 纪委监委 (signed for, disposed, one progress report).
    clue = cases.hand_over_clue(session, ctx, office, inspection=housing, receiving_org=demo.orgs["JW"],
                                number="XS-2026-003", summary="反映工程项目招投标中存在围标串标问题。",
                                persons=[{"name": "孙某", "post": "处长", "rank": "正处级"}], category="廉洁纪律")
    assert clue.instance_id is not None
    _do(session, ctx, office, clue.instance_id, "handover", handover)
    _do(session, ctx, jw, clue.instance_id, "acknowledge", {"ack_decision": "签收"})
    _do(session, ctx, jw, clue.instance_id, "dispose", {"disposition_method": "初步核实",
                                                        "disposition_opinion": "成立核查组开展初步核实。"})
    _do(session, ctx, jw, clue.instance_id, "progress_report", {"progress_text": "已调取相关招投标资料。",
                                                                "handling_finished": False})
    # A closed clue.
    clue = cases.hand_over_clue(session, ctx, office, inspection=edu, receiving_org=demo.orgs["ZZB"],
                                number="XS-2026-004", summary="反映某校党组织书记履行管党治党责任不力。",
                                persons=[{"name": "李某", "post": "党委书记", "rank": "正处级"}], category="党的建设")
    assert clue.instance_id is not None
    _do(session, ctx, office, clue.instance_id, "handover", handover)
    _do(session, ctx, zzb, clue.instance_id, "acknowledge", {"ack_decision": "签收"})
    _do(session, ctx, zzb, clue.instance_id, "dispose", {"disposition_method": "谈话函询",
                                                         "disposition_opinion": "约谈本人。"})
    _do(session, ctx, zzb, clue.instance_id, "progress_report", {"progress_text": "已完成谈话。",
                                                                 "handling_finished": True})
    _do(session, ctx, zzb, clue.instance_id, "result_feedback", {"four_forms": "第一种形态",
                                                                 "result_summary": "予以谈话提醒。"})
    _do(session, ctx, office, clue.instance_id, "verify_result", {"verify_decision": "销号"})

    # 教育局: feedback given, the unit's liaison has the first task.
    findings = _findings(session, edu, [
        ("党的领导", "落实意识形态工作责任制不到位。"),
        ("全面从严治党", "“三重一大”决策制度执行不严格。"),
        ("选人用人", "干部档案管理不规范。"),
    ])
    cases.open_rectification(session, ctx, office, inspection=edu, findings=findings)
    # 卫健委: plan approved, items being rectified.
    findings = _findings(session, health, [
        ("党的建设", "基层党组织“三会一课”制度落实不到位。"),
        ("其他", "公务用车管理存在漏洞。"),
    ])
    instance = cases.open_rectification(session, ctx, office, inspection=health, findings=findings)
    unit2 = demo.actor("unit2")
    _do(session, ctx, unit2, instance.id, "receive_feedback", {"feedback_received_on": "2026-06-15"})
    _do(session, ctx, unit2, instance.id, "draft_plan", {
        "plan_summary": "对照问题清单逐项制定整改措施。",
        "plan_measures": [
            {"item_number": f.number, "measures": "建立台账，逐项整改。", "responsible_leader": "吴某",
             "responsible_department": "办公室", "responsible_person": "郑某", "due_date": "2026-12-31",
             "rectification_type": "限期整改"} for f in findings],
        "pledge_signed": True, "pledge_signer": "卫健委党组书记"})
    _do(session, ctx, office, instance.id, "review_plan", {"plan_decision": "通过"})

    # The 2026 round's 巡察公告, published by the office for the public page.
    for inspection in (edu, health, housing):
        disclosure.publish(session, ctx, office, kind=PublicationKind.ANNOUNCEMENT, source_id=inspection.id, values={})


def _findings(session: Session, inspection: Inspection, rows: list[tuple[str, str]]) -> list[Finding]:
    findings = []
    for n, (category, text) in enumerate(rows, start=1):
        finding = Finding(inspection_id=inspection.id, number=f"{inspection.unit.code}-{n:02d}", category=category,
                          description=text)
        session.add(finding)
        findings.append(finding)
    session.flush()
    return findings


def load(session: Session, ctx: EngineContext) -> Demo:
    """Everything `make run` shows. Returns the handles; ``created`` says whether anything was added."""
    demo = seed_reference_data(session)
    if demo.created:
        seed_plan(session, demo)
        seed_cases(session, ctx, demo)
    return demo
