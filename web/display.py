"""What every page shows the same way: local times, Chinese labels for states and events, and who
holds a task. Read-only helpers, installed on the app by ``create_app`` (see ``install``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import Flask, g
from flask_babel import gettext
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine import deadlines, notify
from engine.calendar import LOCAL_TZ
from engine.queues import queue_counts
from models import Group, HumanTask, ItemStatus, Organisation, RectificationItem, TaskStatus, User

from .db import ctx, db
from .i18n import N_

LABELS: dict[str, dict[str, str]] = {
    "instance": {"running": N_("办理中"), "completed": N_("已办结"), "cancelled": N_("已撤销"),
                 "suspended": N_("已挂起"), "error": N_("出错")},
    "task": {"ready": N_("待办"), "completed": N_("已办"), "cancelled": N_("已取消")},
    "clue": {"handing_over": N_("移交中"), "returned": N_("被退回"), "acknowledged": N_("已签收"),
             "in_progress": N_("处置中"), "result_reported": N_("结果已反馈"), "closed": N_("已办结销号"),
             "withdrawn": N_("已撤销")},
    "item": {"pending": N_("待制定方案"), "in_progress": N_("整改中"), "submitted": N_("待核查"),
             "rejected": N_("核查驳回"), "verified": N_("核查通过待销号"), "struck_off": N_("已销号")},
    "event": {"instance_started": N_("启动"), "task_created": N_("生成任务"), "task_claimed": N_("签收任务"),
              "task_unclaimed": N_("退回任务"), "task_assigned": N_("分派"), "task_completed": N_("办理完成"),
              "task_cancelled": N_("任务取消"), "case_updated": N_("台账更新"), "instance_completed": N_("办结"),
              "timer_fired": N_("定时触发"), "clue_viewed": N_("查阅线索"), "task_delegated": N_("委派"),
              "script_refused": N_("脚本被沙箱拦下"), "comment_added": N_("发表评论"),
              "attachment_added": N_("上传材料"), "attachment_removed": N_("撤回材料"),
              "attachment_downloaded": N_("下载材料"), "task_resolved": N_("委派办结交回"),
              "task_returned": N_("退回"), "saved_filter_created": N_("保存常用筛选"),
              "saved_filter_replaced": N_("更新常用筛选"), "saved_filter_deleted": N_("删除常用筛选"),
              "locale_changed": N_("切换语言"), "escalated": N_("逾期督办"), "instance_migrated": N_("迁移到新版本"),
              "instance_suspended": N_("中止/挂起"), "instance_resumed": N_("恢复办理"),
              "extension_requested": N_("申请延期"), "extension_approved": N_("批准延期"),
              "extension_refused": N_("不予延期"), "extension_withdrawn": N_("撤回延期申请"),
              "revisit_opened": N_("发起回头看"), "revisit_started": N_("回头看整改"),
              "ledger_item_added": N_("台账新增事项"), "ledger_reconciled": N_("对账"),
              "clues_recorded": N_("录入问题线索"), "inspection_report_saved": N_("保存巡察报告"),
              "definition_deployed": N_("部署流程"), "definition_released": N_("设为当前版本"),
              "definition_rolled_back": N_("回滚流程版本"), "definition_kept_current": N_("部署但不切换版本"),
              "migration_run": N_("批量迁移"), "form_saved": N_("保存表单"), "report_generated": N_("生成报告"),
              "promotion_check": N_("凡提必用查询"), "publication_published": N_("发布公开信息"),
              "publication_withdrawn": N_("撤回公开信息"), "round_created": N_("新建巡察轮次"),
              "round_updated": N_("修改巡察轮次"), "inspection_added": N_("安排巡察单位"),
              "inspection_updated": N_("修改巡察安排"), "plan_unit_updated": N_("调整规划"),
              "calendar_day_set": N_("设置工作日历"), "calendar_day_removed": N_("删除日历条目"),
              "calendar_year_loaded": N_("载入年度日历"), "calendar_year_confirmed": N_("确认年度日历"),
              "login_failed": N_("登录失败"), "login_refused": N_("拒绝登录"), "account_locked": N_("账号锁定"),
              "password_changed": N_("修改密码"), "audit_exported": N_("导出审计记录")},
    "entity": {"clue": N_("问题线索"), "rectification_item": N_("整改事项")},
    "case_kind": {"clue": N_("问题线索"), "rectification": N_("巡察整改")},
}


def label(value: Any, kind: str) -> str:
    """The reader's word for a stored code; unknown codes are shown as they are."""
    if value is None or value == "":
        return "—"
    word = LABELS.get(kind, {}).get(str(value))
    return gettext(word) if word else str(value)


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


DUE_BADGES = {deadlines.RED: ("danger", N_("已逾期")), deadlines.YELLOW: ("warning", N_("即将到期"))}


def due_badge(task: Any) -> Markup:
    """The badge beside a deadline: 已逾期 (red) or 即将到期 (yellow); nothing while green."""
    badge = DUE_BADGES.get(due_colour(task) or "")
    if badge is None:
        return Markup("")
    css, text = badge
    return Markup(' <span class="badge {}" data-colour="{}">{}</span>').format(css, due_colour(task), gettext(text))


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
            result[task.id] = gettext("%(holder)s（待签收）", holder=users.get(task.candidate_user_id, "—"))
        else:
            group = groups.get(task.candidate_group or "", task.candidate_group or "—")
            org = orgs.get(task.candidate_org_id or 0)
            result[task.id] = gettext("%(holder)s（待签收）", holder=f"{group}·{org}" if org else group)
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
