"""我的待办 / 组待办 / 已办 / 全部任务: the handler's work queues, their filters, and 常用筛选."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import handling, saved_filters
from engine.deadlines import GREEN, RED, YELLOW
from engine.errors import Conflict, InvalidInput
from engine.queues import PARAMS, QUEUES, TaskFilter, filter_options, list_tasks
from models import TaskStatus

from .. import display
from ..auth.routes import login_required
from ..db import ctx, db
from ..i18n import N_
from ..pages import refused
from ..params import page_number

bp = Blueprint("queue", __name__, template_folder="templates")

QUEUE_TITLES = {"mine": N_("我的待办"), "group": N_("组待办"), "done": N_("已办"), "all": N_("全部任务")}
SORT_CHOICES = {"due": N_("期限由近到远"), "-due": N_("期限由远到近"), "priority": N_("优先级"),
                "created": N_("创建时间（最早）"), "-created": N_("创建时间（最新）")}
STATUS_CHOICES = {TaskStatus.READY: N_("待办"), TaskStatus.COMPLETED: N_("已办"), TaskStatus.CANCELLED: N_("已取消")}
COLOUR_CHOICES = {RED: N_("红色（已逾期）"), YELLOW: N_("黄色（临近期限）"), GREEN: N_("绿色（期限充裕）")}
PER_PAGE = 20


@bp.route("/")
@login_required
def index() -> Response:
    return redirect(url_for("queue.tasks", queue="mine"))


@bp.route("/tasks")
@login_required
def tasks() -> str:
    queue = request.args.get("queue", "mine")
    sort = request.args.get("sort", "due")
    filters = TaskFilter.from_args(request.args)
    listing = list_tasks(db(), g.actor, queue, filters=filters, sort=sort, page=page_number(request.args.get("page")),
                         per_page=PER_PAGE, now=ctx().clock.now())
    return render_template(
        "queue/tasks.html", queue=queue, titles=_translated(QUEUE_TITLES), sort=sort, sorts=_translated(SORT_CHOICES),
        listing=listing, holders=display.holders(db(), listing.items), params=filters.as_args(),
        filtered=not filters.is_empty(), options=filter_options(db(), ctx().forms, g.actor, queue),
        statuses=_translated(STATUS_CHOICES), colours=_translated(COLOUR_CHOICES),
        saved=saved_filters.list_filters(db(), g.actor))


def _translated(choices: dict[str, str]) -> dict[str, str]:
    return {key: _(text) for key, text in choices.items()}


def _submitted_params() -> dict[str, Any]:
    """The filter a page posts to be saved: its parameters came along as hidden fields."""
    return {k: v for k, v in request.form.items() if (k in PARAMS or k == "sort") and v.strip()}


@bp.post("/tasks/next")
@login_required
def claim_next() -> Response:
    """签收下一件 from the group queue page: the first free task with the filters and order it shows."""
    params = _submitted_params()
    back = url_for("queue.tasks", queue="group", **params)
    try:
        task = handling.claim_next(db(), ctx(), g.actor, filters=TaskFilter.from_args(params),
                                   sort=params.get("sort", "due"))
    except InvalidInput as exc:
        return refused(exc, back)
    if task is None:
        flash(_("组待办中已没有可签收的任务。"), "error")
        return redirect(back)
    db().commit()
    flash(_("已签收“%(name)s”，请办理。", name=task.name), "success")
    return redirect(url_for("tasks.show", task_id=task.id))


@bp.route("/tasks/saved-filters", methods=["POST"])
@login_required
def save_filter() -> Response:
    queue = request.form.get("queue", "mine")
    params = _submitted_params()
    back = url_for("queue.tasks", queue=queue if queue in QUEUES else "mine", **params)
    try:
        row, created = saved_filters.save_filter(db(), ctx(), g.actor, request.form.get("name"), queue, params,
                                                 replace=request.form.get("replace") == "1")
    except (Conflict, InvalidInput) as exc:
        return refused(exc, back)
    db().commit()
    flash(_("已保存常用筛选“%(name)s”。", name=row.name) if created else _("已覆盖常用筛选“%(name)s”。", name=row.name),
          "success")
    return redirect(back)


@bp.route("/tasks/saved-filters/<int:filter_id>/delete", methods=["POST"])
@login_required
def delete_filter(filter_id: int) -> Response:
    row = saved_filters.get_filter(db(), g.actor, filter_id)
    name, queue = row.name, row.queue
    saved_filters.delete_filter(db(), ctx(), g.actor, filter_id)
    db().commit()
    flash(_("已删除常用筛选“%(name)s”。", name=name), "success")
    back = request.form.get("back_queue")
    return redirect(url_for("queue.tasks", queue=back if back in QUEUES else queue))
