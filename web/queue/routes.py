"""我的待办 / 组待办 / 已办 / 全部任务: the handler's work queues."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine.queues import list_tasks

from .. import display
from ..auth.routes import login_required
from ..db import db
from ..params import page_number

bp = Blueprint("queue", __name__, template_folder="templates")

QUEUE_TITLES = {"mine": "我的待办", "group": "组待办", "done": "已办", "all": "全部任务"}
SORT_CHOICES = {"due": "期限由近到远", "-due": "期限由远到近", "priority": "优先级", "created": "创建时间（最早）",
                "-created": "创建时间（最新）"}
PER_PAGE = 20


@bp.route("/")
@login_required
def index() -> Response:
    return redirect(url_for("queue.tasks", queue="mine"))


@bp.route("/tasks")
@login_required
def tasks() -> str:
    queue = request.args.get("queue", "mine")
    q = request.args.get("q", "").strip()
    sort = request.args.get("sort", "due")
    listing = list_tasks(db(), g.actor, queue, q=q or None, sort=sort, page=page_number(request.args.get("page")),
                         per_page=PER_PAGE)
    return render_template("queue/tasks.html", queue=queue, titles=QUEUE_TITLES, q=q, sort=sort,
                           sorts=SORT_CHOICES, listing=listing, holders=display.holders(db(), listing.items))
