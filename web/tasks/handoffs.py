"""Handing a task on from its page: assign (office), delegate and resolve, 退回 with a reason.

The task page includes ``tasks/_handoffs.html``, which asks ``handoffs(task)`` what this reader may
do; the engine decides again on every POST (the page only leaves out buttons that would fail).
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import handling, returns, runtime
from engine.definitions import SPEC_CACHE
from engine.errors import FormInvalid, InvalidInput
from engine.permissions import can_assign, is_candidate
from models import DelegationState, HumanTask, TaskStatus

from ..auth.routes import login_required
from ..db import ctx, db
from ..i18n import t
from .forms import parse_submission
from .routes import bp, form_revision, form_step, task_page


def handoffs(task: HumanTask) -> dict[str, Any]:
    """What the reader of a task page may do to hand it on, and what happened to it before."""
    actor = g.actor
    session = db()
    ready = task.status == TaskStatus.READY
    holds = ready and task.assignee_id == actor.user_id
    pending = task.delegation == DelegationState.PENDING
    info = SPEC_CACHE.for_definition_id(session, task.instance.definition_id, ctx().forms).task(task.bpmn_id)
    may_assign = ready and can_assign(actor, task)
    may_delegate = ready and not pending and task.assignee_id is not None and (holds or may_assign)
    people = handling.candidate_users(session, task) if (may_assign or may_delegate) else []
    return {
        "returned": returns.last_return(session, task) if ready else None,
        "owner": task.owner.display_name if task.owner is not None else None,
        "pending": pending,
        "can_resolve": holds and pending,
        "can_recall": ready and pending and task.owner_id == actor.user_id,
        "can_assign": may_assign,
        "can_delegate": may_delegate,
        "can_return": ready and info is not None and info.return_with is not None and not pending
        and (holds or (task.assignee_id is None and is_candidate(actor, task))),
        "people": [(u, n) for u, n in people if u != actor.username],
    }


def _username() -> str:
    username = (request.form.get("user") or "").strip()
    if not username:
        raise InvalidInput("请选择人员。", "Choose a person.", {"user": ""})
    return username


@bp.post("/tasks/<int:task_id>/assign")
@login_required
def assign(task_id: int) -> Response:
    task = handling.assign_task(db(), ctx(), g.actor, task_id, _username())
    db().commit()
    flash(_("已分派给 %(name)s。", name=task.assignee.display_name if task.assignee else ""), "success")
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.post("/tasks/<int:task_id>/delegate")
@login_required
def delegate(task_id: int) -> Response:
    task = handling.delegate_task(db(), ctx(), g.actor, task_id, _username())
    db().commit()
    name = task.assignee.display_name if task.assignee else ""
    flash(_("已委派 %(name)s 办理；办理完毕后将交回您审核。", name=name), "success")
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.post("/tasks/<int:task_id>/resolve")
@login_required
def resolve(task_id: int) -> Response | tuple[str, int]:
    """办理完毕，交回: the delegate submits the task form here instead of completing it."""
    task = runtime.get_task(db(), g.actor, task_id)
    data = parse_submission(ctx().forms.get(task.form_key), request.form)
    revision = form_revision(request.form.get("revision"))
    return form_step(task, data, lambda: handling.resolve_task(db(), ctx(), g.actor, task_id, data,
                                                               expected_revision=revision),
                     _('已交回委派人审核。'),
                     url_for("queue.tasks", queue="mine"))


@bp.post("/tasks/<int:task_id>/return")
@login_required
def return_(task_id: int) -> Response | tuple[str, int]:
    session = db()
    task = runtime.get_task(session, g.actor, task_id)
    try:
        runtime.return_task(session, ctx(), g.actor, task_id, request.form.get("reason", ""),
                            expected_revision=form_revision(request.form.get("revision")), claim_if_free=True)
    except FormInvalid as exc:
        session.rollback()
        field = exc.details.get("fields", {}).get("return_reason", {})
        flash(t(field.get("message_zh", exc.message_zh), field.get("message_en", exc.message_en)), "error")
        return task_page(task), 422
    session.commit()
    flash(_('已退回。'), "success")
    return redirect(url_for("cases.show", instance_id=task.instance_id))
