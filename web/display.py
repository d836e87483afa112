"""What every page shows the same way: local times, Chinese labels for states and events, and who
holds a task. Read-only helpers, installed on the app by ``create_app`` (see ``install``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import Flask, g
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine import deadlines, notify
from engine.calendar import LOCAL_TZ
from engine.queues import queue_counts
from models import Group, HumanTask, ItemStatus, Organisation, RectificationItem, TaskStatus, User

from .db import ctx, db
from .errors import locale

LABELS: dict[str, dict[str, str]] = {
    "instance": {"running": "办理中", "completed": "已办结", "cancelled": "已撤销", "suspended": "已挂起",
                 "error": "出错"},
    "task": {"ready": "待办", "completed": "已办", "cancelled": "已取消"},
    "clue": {"handing_over": "移交中", "returned": "被退回", "acknowledged": "已签收", "in_progress": "处置中",
             "result_reported": "结果已反馈", "closed": "已办结销号", "withdrawn": "已撤销"},
    "item": {"pending": "待制定方案", "in_progress": "整改中", "submitted": "待核查", "rejected": "核查驳回",
             "verified": "核查通过待销号", "struck_off": "已销号"},
    "event": {"instance_started": "启动", "task_created": "生成任务", "task_claimed": "签收任务",
              "task_unclaimed": "退回任务", "task_assigned": "分派", "task_completed": "办理完成",
              "task_cancelled": "任务取消", "case_updated": "台账更新", "instance_completed": "办结",
              "timer_fired": "定时触发", "clue_viewed": "查阅线索", "task_delegated": "委派",
              "script_refused": "脚本被沙箱拦下",
              "comment_added": "发表评论", "attachment_added": "上传材料", "attachment_removed": "撤回材料",
              "attachment_downloaded": "下载材料", "task_resolved": "委派办结交回", "task_returned": "退回",
              "saved_filter_created": "保存常用筛选", "saved_filter_replaced": "更新常用筛选",
              "saved_filter_deleted": "删除常用筛选", "locale_changed": "切换语言",
              "escalated": "逾期督办", "instance_migrated": "迁移到新版本", "instance_suspended": "中止/挂起",
              "instance_resumed": "恢复办理", "extension_requested": "申请延期", "extension_approved": "批准延期",
              "extension_refused": "不予延期", "extension_withdrawn": "撤回延期申请", "revisit_opened": "发起回头看",
              "revisit_started": "回头看整改", "ledger_item_added": "台账新增事项", "ledger_reconciled": "对账",
              "clues_recorded": "录入问题线索", "inspection_report_saved": "保存巡察报告",
              "definition_deployed": "部署流程", "definition_released": "设为当前版本",
              "definition_rolled_back": "回滚流程版本", "definition_kept_current": "部署但不切换版本",
              "migration_run": "批量迁移", "form_saved": "保存表单", "report_generated": "生成报告",
              "promotion_check": "凡提必用查询", "publication_published": "发布公开信息",
              "publication_withdrawn": "撤回公开信息", "round_created": "新建巡察轮次", "round_updated": "修改巡察轮次",
              "inspection_added": "安排巡察单位", "inspection_updated": "修改巡察安排",
              "plan_unit_updated": "调整规划", "calendar_day_set": "设置工作日历",
              "calendar_day_removed": "删除日历条目", "calendar_year_loaded": "载入年度日历",
              "calendar_year_confirmed": "确认年度日历", "login_failed": "登录失败", "login_refused": "拒绝登录",
              "account_locked": "账号锁定", "password_changed": "修改密码", "audit_exported": "导出审计记录"},
    "entity": {"clue": "问题线索", "rectification_item": "整改事项"},
    "case_kind": {"clue": "问题线索", "rectification": "巡察整改"},
}


def label(value: Any, kind: str) -> str:
    """The Chinese word for a stored code; unknown codes are shown as they are."""
    if value is None or value == "":
        return "—"
    return LABELS.get(kind, {}).get(str(value), str(value))


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Stored times are UTC; people read Beijing time."""
    if value is None:
        return "—"
    return value.astimezone(LOCAL_TZ).strftime(fmt)


def is_overdue(task: HumanTask) -> bool:
    return due_colour(task) == deadlines.RED


def due_colour(row: Any) -> str | None:
    """red / yellow / green for the deadline of an open task, rectification item or clue
    (engine.deadlines); None once it is done, or without a deadline."""
    if isinstance(row, HumanTask):
        open_ = row.status == TaskStatus.READY
    elif isinstance(row, RectificationItem):
        open_ = row.status != ItemStatus.STRUCK_OFF
    else:
        open_ = getattr(row, "closed_at", None) is None
    return deadlines.colour(row.due_at, ctx().clock.now()) if open_ else None


DUE_BADGES = {deadlines.RED: ("danger", "已逾期", "Overdue"), deadlines.YELLOW: ("warning", "即将到期", "Due soon")}


def due_badge(task: Any) -> Markup:
    """The badge beside a deadline: 已逾期 (red) or 即将到期 (yellow); nothing while green."""
    badge = DUE_BADGES.get(due_colour(task) or "")
    if badge is None:
        return Markup("")
    css, zh, en = badge
    return Markup(' <span class="badge {}" data-colour="{}">{}</span>').format(
        css, due_colour(task), en if locale().startswith("en") else zh)


def holders(session: Session, tasks: Iterable[HumanTask]) -> dict[int, str]:
    """Task id → who holds it: the assignee, whoever completed it, or the candidate group (one query
    per kind of name, not per row)."""
    tasks = list(tasks)
    user_ids = {i for t in tasks for i in (t.assignee_id, t.completed_by_id, t.candidate_user_id) if i}
    org_ids = {t.candidate_org_id for t in tasks if t.candidate_org_id}
    users = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all()) \
        if user_ids else {}
    orgs = dict(session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids)))
                .all()) if org_ids else {}
    groups = dict(session.execute(select(Group.key, Group.name)).all())
    result: dict[int, str] = {}
    for task in tasks:
        if task.status != TaskStatus.READY:
            result[task.id] = users.get(task.completed_by_id or 0, "—")
        elif task.assignee_id:
            result[task.id] = users.get(task.assignee_id, "—")
        elif task.candidate_user_id:
            result[task.id] = f"{users.get(task.candidate_user_id, '—')}（待签收）"
        else:
            group = groups.get(task.candidate_group or "", task.candidate_group or "—")
            org = orgs.get(task.candidate_org_id or 0)
            result[task.id] = f"{group}·{org}（待签收）" if org else f"{group}（待签收）"
    return result


def _nav_counts() -> dict[str, int]:
    if g.get("actor") is None:
        return {}
    try:
        return {**queue_counts(db(), g.actor), "unread": notify.unread_count(db(), g.actor)}
    except SQLAlchemyError:
        # An error page after a failed transaction must still render; the counts are decoration.
        return {}


def install(app: Flask) -> None:
    """Register the template filters, globals and the navigation counts on the app."""
    app.add_template_filter(label, "label")
    app.add_template_filter(local_time, "local_time")
    app.add_template_global(is_overdue, "is_overdue")
    app.add_template_global(due_badge, "due_badge")
    app.context_processor(lambda: {"nav_counts": _nav_counts()})
