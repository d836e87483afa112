"""我的待办 / 组待办 / 已办: the handler's work queues."""

from __future__ import annotations

from flask import Blueprint, g, redirect, url_for
from werkzeug.wrappers import Response

from ..auth.routes import login_required

bp = Blueprint("queue", __name__, template_folder="templates")


@bp.route("/")
@login_required
def index() -> Response:
    return redirect(url_for("queue.index"))
