"""One task: its case context, its form, and claiming, returning, drafting and completing it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import drafts, runtime
from engine.errors import FormInvalid, InvalidInput
from engine.permissions import is_candidate
from engine.pickers import CaseChoices
from models import HumanTask, TaskStatus

from .. import display
from ..auth.routes import login_required
from ..content.uploads import attach_form_uploads, evidence_choices
from ..db import ctx, db
from ..errors import locale
from ..reads import record_case_read
from .forms import add_row, parse_submission, render_fields

bp = Blueprint("tasks", __name__, template_folder="templates")


def _initial_data(task: HumanTask, view: runtime.TaskView) -> dict[str, Any]:
    """The form's saved data; a plan not yet drafted starts with one row per problem on the list,
    so the unit fills in measures against the right item numbers."""
    data = dict(view.form_data)
    form = ctx().forms.get(task.form_key)
    items = view.context.get("items")
    if "plan_measures" in form.field_names() and "plan_measures" not in data and isinstance(items, list):
        data["plan_measures"] = [{"item_number": i.get("number")} for i in items if isinstance(i, dict)]
    return data


def task_page(task: HumanTask, data: dict[str, Any] | None = None,
          errors: dict[str, dict[str, str]] | None = None) -> str:
    actor = g.actor
    ready = task.status == TaskStatus.READY
    view = runtime.task_view(db(), ctx(), task)
    form = ctx().forms.get(task.form_key)
    holds = ready and task.assignee_id == actor.user_id
    may_act = holds or (ready and task.assignee_id is None and is_candidate(actor, task))
    # The holder's draft, when there is one, is what they were last working on: it wins over the task's data.
    draft = drafts.load_draft(db(), actor, task.id) if holds and data is None else None
    if data is None:
        data = draft.data if draft is not None else _initial_data(task, view)
    rendered = render_fields(form, data, errors, locale=locale(), choices=CaseChoices(db(), task.instance),
                             attachments=evidence_choices(task, form)) if may_act else None
    record_case_read(task.instance, "task_page")
    return render_template(
        "tasks/show.html", task=task, form=form, rendered=rendered, context=view.context,
        holder=display.holders(db(), [task])[task.id], draft=draft, draft_time=_saved_time(draft),
        can_save_draft=holds,
        can_claim=ready and task.assignee_id is None and is_candidate(actor, task),
        can_unclaim=ready and task.assignee_id == actor.user_id)


def _saved_time(draft: drafts.Draft | None) -> str:
    """HH:MM for a draft saved today, with the date for an older one (local time)."""
    if draft is None:
        return ""
    today = display.local_time(ctx().clock.now(), "%Y-%m-%d")
    same_day = display.local_time(draft.saved_at, "%Y-%m-%d") == today
    return display.local_time(draft.saved_at, "%H:%M" if same_day else "%Y-%m-%d %H:%M")


@bp.route("/tasks/<int:task_id>")
@login_required
def show(task_id: int) -> str:
    return task_page(runtime.get_task(db(), g.actor, task_id))


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int) -> Response:
    runtime.claim_task(db(), ctx(), g.actor, task_id)
    db().commit()
    flash(_('已签收，请办理。'), "success")
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.post("/tasks/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int) -> Response:
    runtime.unclaim_task(db(), ctx(), g.actor, task_id)
    db().commit()
    flash(_('已退回组待办。'), "success")
    return redirect(url_for("tasks.show", task_id=task_id))


def form_revision(raw: str | None) -> int:
    if raw is None or not (raw.isascii() and raw.isdigit()):
        raise InvalidInput("表单缺少版本信息，请刷新后重试。", "The form lacks its revision; reload and retry.")
    return int(raw)


@bp.post("/tasks/<int:task_id>/complete")
@login_required
def complete(task_id: int) -> Response | tuple[str, int]:
    session = db()
    task = runtime.get_task(session, g.actor, task_id)
    form = ctx().forms.get(task.form_key)
    data = parse_submission(form, request.form)
    upload_errors, status = attach_form_uploads(task, form, data)
    if upload_errors:
        return task_page(task, data, upload_errors), status
    if table := request.form.get("_add_row"):
        return task_page(task, add_row(data, form, table)), 200
    if request.form.get("_action") == "draft":
        return _save_draft(task, data)
    revision = form_revision(request.form.get("revision"))
    return form_step(task, data, lambda: runtime.complete_task(
        session, ctx(), g.actor, task_id, data, expected_revision=revision, claim_if_free=True),
        _('已提交，案件进入下一环节。'),
        url_for("cases.show", instance_id=task.instance_id))


def _save_draft(task: HumanTask, data: dict[str, Any]) -> Response | tuple[str, int]:
    """保存草稿: the second submit button of the task form. The same revision check as submitting;
    the task itself (and so its revision) does not change."""
    revision = form_revision(request.form.get("revision"))
    return form_step(task, data, lambda: drafts.save_draft(db(), ctx(), g.actor, task.id, data,
                                                           expected_revision=revision),
                     _('草稿已保存。'), url_for("tasks.show", task_id=task.id))


def form_step(task: HumanTask, data: dict[str, Any], step: Callable[[], object], done: str, then: str
              ) -> Response | tuple[str, int]:
    """Run a step on a submitted task form: on success commit, say ``done`` and go to ``then``; if the
    form fails validation, roll back and show it again with the errors beside the fields (422)."""
    session = db()
    try:
        step()
    except FormInvalid as exc:
        session.rollback()
        return task_page(task, data, exc.details.get("fields", {})), 422
    session.commit()
    flash(done, "success")
    return redirect(then)
