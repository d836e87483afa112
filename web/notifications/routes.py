"""The bell: a person's notifications, newest first; opening one marks it read."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import notify

from ..auth.routes import login_required
from ..db import ctx, db
from ..params import page_number

bp = Blueprint("notifications", __name__, template_folder="templates")
PER_PAGE = 20


@bp.route("/notifications")
@login_required
def index() -> str:
    unread_only = request.args.get("unread") == "1"
    listing = notify.list_for(db(), g.actor, unread_only=unread_only, page=page_number(request.args.get("page")),
                              per_page=PER_PAGE)
    return render_template("notifications/index.html", listing=listing, unread_only=unread_only,
                           kinds=notify.KIND_LABELS)


@bp.post("/notifications/<int:notification_id>/open")
@login_required
def open_(notification_id: int) -> Response:
    """Mark read and go to the task (the task page checks, again, that the reader may see it)."""
    row = notify.mark_read(db(), g.actor, notification_id, ctx().clock.now())
    db().commit()
    if row.task_id is not None:
        return redirect(url_for("tasks.show", task_id=row.task_id))
    return redirect(url_for("notifications.index"))


@bp.post("/notifications/read-all")
@login_required
def read_all() -> Response:
    count = notify.mark_all_read(db(), g.actor, ctx().clock.now())
    db().commit()
    flash(_("已将 %(count)s 条通知标为已读。", count=count), "success")
    return redirect(url_for("notifications.index"))
