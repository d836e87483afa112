"""延期 on the task page, the approvers' list 延期审批, and 中止/恢复 on the case page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response

from engine import extensions, suspension
from engine.errors import XunchaError
from models import HumanTask, ProcessInstance, TaskStatus

from ..auth.routes import login_required
from ..db import ctx, db
from ..display import local_time
from ..pages import refused

bp = Blueprint("extensions", __name__, template_folder="templates")


@bp.app_template_global("extension_panel")
def extension_panel(task: HumanTask) -> dict[str, Any]:
    """What the task page's 延期 section shows: the task's requests and whether the reader may ask."""
    views = extensions.for_task(db(), ctx(), g.actor, task)
    pending = any(v.request.status == "pending" for v in views)
    may_ask = (task.status == TaskStatus.READY and task.assignee_id == g.actor.user_id and task.due_at is not None
               and not pending)
    return {"requests": views, "may_ask": may_ask}


@bp.app_template_global("suspension_panel")
def suspension_panel(instance: ProcessInstance) -> dict[str, Any]:
    return {"may_act": suspension.may_suspend(g.actor, instance), "instance": instance}


@bp.app_template_global("moved_deadline")
def moved_deadline(row: Any, fmt: str = "%Y-%m-%d %H:%M") -> Markup:
    """原定期限 … 已延期至 … for a deadline an extension or a suspension moved; the plain deadline otherwise."""
    due, original = getattr(row, "due_at", None), getattr(row, "original_due_at", None)
    if original is None or original == due:
        return Markup("{}").format(local_time(due, fmt))
    return Markup('<span class="moved-deadline">{}</span>').format(
        _("原定期限 %(original)s，已延期至 %(due)s", original=local_time(original, fmt), due=local_time(due, fmt)))


def _step(action: Any, done: str, then: str) -> Response:
    """Run an engine action; commit and say ``done``, or roll back and say why (in the reader's language)."""
    try:
        action()
    except XunchaError as exc:
        return refused(exc, then)
    db().commit()
    flash(done, "success")
    return redirect(then)


@bp.post("/tasks/<int:task_id>/extension")
@login_required
def ask(task_id: int) -> Response:
    def action() -> None:
        due = extensions.due_from_text(request.form.get("requested_due_at"))
        extensions.request_extension(db(), ctx(), g.actor, task_id, due, request.form.get("reason", ""))
    return _step(action, _('延期申请已提交，等待审批。'),
                 url_for("tasks.show", task_id=task_id))


@bp.route("/extensions")
@login_required
def index() -> str:
    status = request.args.get("status") or "pending"
    status = status if status in extensions.STATUSES else "pending"
    mine = request.args.get("mine") == "1"
    views = extensions.list_requests(db(), ctx(), g.actor, status=status, mine=mine)
    return render_template("extensions/index.html", views=views, status=status, mine=mine,
                           statuses=extensions.STATUSES)


def _back(default: str) -> str:
    target = request.form.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else default


@bp.post("/extensions/<int:request_id>/approve")
@login_required
def approve(request_id: int) -> Response:
    return _step(lambda: extensions.approve(db(), ctx(), g.actor, request_id, request.form.get("note")),
                 _('已批准延期，期限已调整。'),
                 _back(url_for("extensions.index")))


@bp.post("/extensions/<int:request_id>/refuse")
@login_required
def refuse(request_id: int) -> Response:
    return _step(lambda: extensions.refuse(db(), ctx(), g.actor, request_id, request.form.get("note")),
                 _('已驳回延期申请。'), _back(url_for("extensions.index")))


@bp.post("/extensions/<int:request_id>/withdraw")
@login_required
def withdraw(request_id: int) -> Response:
    return _step(lambda: extensions.withdraw(db(), ctx(), g.actor, request_id),
                 _('已撤回延期申请。'), _back(url_for("extensions.index")))


@bp.post("/cases/<int:instance_id>/suspend")
@login_required
def suspend(instance_id: int) -> Response:
    return _step(lambda: suspension.suspend(db(), ctx(), g.actor, instance_id, request.form.get("reason", "")),
                 _('案件已中止，期限暂停计算。'),
                 url_for("cases.show", instance_id=instance_id))


@bp.post("/cases/<int:instance_id>/resume")
@login_required
def resume(instance_id: int) -> Response:
    return _step(lambda: suspension.resume(db(), ctx(), g.actor, instance_id, request.form.get("note")),
                 _('案件已恢复办理，期限已顺延。'),
                 url_for("cases.show", instance_id=instance_id))
