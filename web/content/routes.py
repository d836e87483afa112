"""Comments and evidence files on the case and task pages (the panels are _comments.html and
_attachments.html in web/templates, filled by ``case_content``)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import content
from engine.errors import InvalidInput
from models import Attachment, Comment, HumanTask, ProcessInstance

from ..auth.routes import login_required
from ..db import ctx, db
from .files import send_attachment

bp = Blueprint("content", __name__, template_folder="templates")


@dataclass
class Panel:
    """What the two panels show on one page."""

    instance: ProcessInstance
    task: HumanTask | None  # the page's task: what is posted there belongs to it
    comments: list[Comment]
    attachments: list[Attachment]
    task_ids: dict[str, int]  # task guid → task id, to say which task a comment or file came with
    may_write: bool
    max_upload_bytes: int

    def may_remove(self, row: Attachment) -> bool:
        return content.may_remove(g.actor, self.instance, row)


@bp.app_template_global("case_content")
def case_content(instance: ProcessInstance, task: HumanTask | None = None) -> Panel:
    session = db()
    comments = content.list_comments(session, g.actor, instance.id)
    attachments = content.list_attachments(session, g.actor, instance.id)
    guids = [c.task_guid for c in comments] + [a.task_guid for a in attachments]
    writable = task is None or task.status == "ready"
    return Panel(instance, task, comments, attachments, content.task_ids(session, guids),
                 writable and content.may_write(session, g.actor, instance, task), ctx().max_upload_bytes)


def _task_id() -> int | None:
    raw = (request.form.get("task_id") or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidInput("任务编号无效。", "Invalid task id.", {"task_id": raw})
    return int(raw)


def _back(instance_id: int, task_id: int | None, anchor: str) -> Response:
    if task_id is not None:
        return redirect(url_for("tasks.show", task_id=task_id, _anchor=anchor))
    return redirect(url_for("cases.show", instance_id=instance_id, _anchor=anchor))


@bp.post("/cases/<int:instance_id>/comments")
@login_required
def add_comment(instance_id: int) -> Response:
    task_id = _task_id()
    content.add_comment(db(), ctx(), g.actor, instance_id, request.form.get("body", ""), task_id=task_id)
    db().commit()
    flash(_("评论已发表。"), "success")
    return _back(instance_id, task_id, "comments")


@bp.post("/cases/<int:instance_id>/attachments")
@login_required
def upload(instance_id: int) -> Response:
    task_id = _task_id()
    files = [f for f in request.files.getlist("file") if f.filename]
    if not files:
        raise InvalidInput("请选择要上传的文件。", "Choose a file to upload.", {"field": "file"})
    for upload in files:
        content.store_attachment(db(), ctx(), g.actor, instance_id, upload.filename, upload.stream, task_id=task_id)
    db().commit()
    flash(_("已上传 %(n)s 个文件。", n=len(files)), "success")
    return _back(instance_id, task_id, "attachments")


@bp.route("/attachments/<int:attachment_id>")
@login_required
def download(attachment_id: int) -> Response:
    return send_attachment(attachment_id)


@bp.route("/attachments/<int:attachment_id>/remove")
@login_required
def confirm_remove(attachment_id: int) -> str:
    row = content.get_attachment(db(), g.actor, attachment_id)
    instance = content.visible_instance(db(), g.actor, row.instance_id)
    return render_template("content/confirm_remove.html", row=row, instance=instance,
                           allowed=content.may_remove(g.actor, instance, row), back_task=request.args.get("task"))


@bp.post("/attachments/<int:attachment_id>/remove")
@login_required
def remove(attachment_id: int) -> Response:
    if request.form.get("confirm") != "yes":
        raise InvalidInput("请确认撤回。", "Confirm the withdrawal.", {"field": "confirm"})
    row = content.remove_attachment(db(), ctx(), g.actor, attachment_id, request.form.get("reason"))
    instance_id = row.instance_id
    db().commit()
    flash(_("附件已撤回。"), "success")
    return _back(instance_id, _task_id(), "attachments")
