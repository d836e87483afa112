"""流程图: a case on the diagram of the version it runs on — what is done, where it stands, which timers
wait — with its history beside it (engine.instance_view). Read-only, for whoever may see the case."""

from __future__ import annotations

from flask import Response, g, render_template
from flask_babel import gettext as _
from sqlalchemy import select

from engine import instance_view
from engine.instance_view import InstanceDiagram
from models import User

from .. import display
from ..auth.routes import login_required
from ..db import ctx, db
from ..reads import record_case_read
from .queries import event_summary
from .routes import bp


def notes(diagram: InstanceDiagram, holders: dict[int, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The notes drawn above marked elements, and the tooltips on them. A current task's note says who
    holds it (or how many items are there) and its deadline, with a second line for the timers waiting
    on it; a waiting timer shows its grade and when it fires on hover (boundary timers sit too close
    together for notes of their own), and in a note only when it waits on no current task."""
    titles: dict[str, str] = {}
    tooltips: dict[str, str] = {}
    on_task: dict[str, list[str]] = {}
    current = {task.bpmn_id for task in diagram.current}
    for timer in diagram.timers:
        grade = timer.grade or _("定时")
        text = f"{grade} {display.local_time(timer.due_at)}"
        tooltips[timer.element_id] = f"{timer.name} · {text}" if timer.name else text
        if timer.attached_to in current:
            on_task.setdefault(timer.attached_to, []).append(text)
        else:
            titles[timer.element_id] = text
    for element in dict.fromkeys(task.bpmn_id for task in diagram.current):
        tasks = diagram.at(element)
        dues = [task.due_at for task in tasks if task.due_at is not None]
        due = _("期限 %(day)s", day=display.local_time(min(dues), "%Y-%m-%d")) if dues else ""
        who = _("%(n)s 项在此", n=len(tasks)) if len(tasks) > 1 else holders.get(tasks[0].id, "")
        lines = [" · ".join(part for part in (who, due) if part)]
        if on_task.get(element):
            lines.append(" · ".join(on_task[element]))
        titles[element] = "\n".join(lines)
        tooltips[element] = "\n".join(_("%(name)s：%(value)s", name=task.name, value=holders.get(task.id, ""))
                                      for task in tasks)
    return titles, tooltips


@bp.route("/cases/<int:instance_id>/diagram")
@login_required
def diagram(instance_id: int) -> str:
    session = db()
    view = instance_view.instance_diagram(session, ctx(), g.actor, instance_id)
    holders = display.holders(session, view.current)
    actor_ids = {entry.event.actor_id for entry in view.history if entry.event.actor_id}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(actor_ids))).all()) \
        if actor_ids else {}
    history = [(entry, names.get(entry.event.actor_id or 0, entry.event.actor_name or _('系统')),
                event_summary(entry.event)) for entry in view.history]
    record_case_read(view.instance, "diagram")
    titles, tooltips = notes(view, holders)
    return render_template("cases/diagram.html", view=view, instance=view.instance, definition=view.definition,
                           titles=titles, tooltips=tooltips, holders=holders, history=history)


@bp.route("/cases/<int:instance_id>/diagram.bpmn")
@login_required
def diagram_xml(instance_id: int) -> Response:
    """The XML of the version this case runs on (the viewer draws it), for whoever may see the case."""
    view = instance_view.pinned_definition(db(), g.actor, instance_id)
    return Response(view.bpmn_xml, mimetype="application/xml", headers={"Cache-Control": "private, max-age=3600"})
