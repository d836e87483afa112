"""Start-up work: the standard groups lanes name, and the shipped diagrams when their content is new."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import Group

from .context import EngineContext
from .db import transaction
from .definitions import DeployResult, deploy
from .errors import Conflict

SHIPPED = ("clue_disposition.bpmn", "rectification.bpmn")

# key, Chinese name, description. BPMN lanes name a group by key or by Chinese name.
STANDARD_GROUPS = [
    ("office", "巡察办", "市委巡察办工作人员"),
    ("inspection_group", "巡察组", "巡察组组长和成员"),
    ("discipline", "纪委监委", "市纪委监委承办人员"),
    ("organization", "组织部", "市委组织部承办人员"),
    ("receiving_body", "受理机关", "问题线索的接收单位承办人员（纪委监委、组织部等）"),
    ("unit", "被巡察单位", "被巡察单位党组织联络员"),
    ("unit_leader", "被巡察单位负责人", "被巡察单位整改责任领导（督办提醒抄送）"),
    ("leading_group", "领导小组", "市委巡察工作领导小组成员"),
    ("supervisor", "流程管理员", "编辑和部署流程定义"),
    ("auditor", "审计员", "查阅和核验审计记录"),
]


def add_missing_groups(session: Session) -> dict[str, Group]:
    """Add the standard groups the database lacks; return every group by key."""
    groups = {g.key: g for g in session.execute(select(Group)).scalars()}
    for key, name, description in STANDARD_GROUPS:
        if key not in groups:
            groups[key] = Group(key=key, name=name, description=description)
            session.add(groups[key])
    return groups


def ensure_groups(factory: sessionmaker[Session]) -> None:
    """Create the standard groups that are missing (another process doing the same is harmless)."""
    try:
        with transaction(factory) as session:
            add_missing_groups(session)
    except IntegrityError:
        pass


def deploy_shipped(factory: sessionmaker[Session], ctx: EngineContext) -> list[DeployResult]:
    """Each file in its own transaction; a concurrent deploy of the same file by another process wins."""
    ensure_groups(factory)
    results = []
    for name in SHIPPED:
        path = ctx.workflows_dir / name
        try:
            with transaction(factory) as session:
                results.append(deploy(session, path.read_bytes(), None, ctx.forms, at=ctx.clock.now(),
                                      comment=f"随产品发布：{name}"))
        except Conflict:
            continue
    return results
