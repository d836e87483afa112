"""流程图: a case on the diagram of the version it runs on — what is done, where it stands, which timers
wait — with its history beside it (engine.instance_view). Read-only, for whoever may see the case."""

from __future__ import annotations

from flask import Response, g, render_template
from sqlalchemy import select

from engine import instance_view
from engine.instance_view import InstanceDiagram
from models import User

from .. import display
from ..auth.routes import login_required
from ..db import ctx, db
from ..i18n import t
from ..reads import record_case_read
from .queries import event_summary
from .routes import bp


def titles(diagram: InstanceDiagram, holders: dict[int, str]) -> dict[str, str]:
    """The note drawn under a marked element: who holds the task (or how many items are there) and
    its deadline; a waiting timer's grade and when it fires."""
    notes: dict[str, str] = {}
    for timer in diagram.timers:
        when = display.local_time(timer.due_at)
        grade = timer.grade or t("定时", "Timer")
        notes[timer.element_id] = f"{grade} {when}"
    for element in dict.fromkeys(task.bpmn_id for task in diagram.current):
        tasks = diagram.at(element)
        dues = [task.due_at for task in tasks if task.due_at is not None]
        due = t("期限 ", "due ") + display.local_time(min(dues), "%Y-%m-%d") if dues else ""
        if len(tasks) > 1:
            who = t(f"{len(tasks)} 项在此", f"{len(tasks)} items here")
        else:
            who = holders.get(tasks[0].id, "")
        notes[element] = " · ".join(part for part in (who, due) if part)
    return notes


@bp.route("/cases/<int:instance_id>/diagram")
@login_required
def diagram(instance_id: int) -> str:
    session = db()
    view = instance_view.instance_diagram(session, ctx(), g.actor, instance_id)
    holders = display.holders(session, view.current)
    actor_ids = {entry.event.actor_id for entry in view.history if entry.event.actor_id}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(actor_ids))).all()) \
        if actor_ids else {}
    history = [(entry, names.get(entry.event.actor_id or 0, entry.event.actor_name or t("系统", "System")),
                event_summary(entry.event)) for entry in view.history]
    record_case_read(view.instance, "diagram")
    return render_template("cases/diagram.html", view=view, instance=view.instance, definition=view.definition,
                           titles=titles(view, holders), holders=holders, history=history)


@bp.route("/cases/<int:instance_id>/diagram.bpmn")
@login_required
def diagram_xml(instance_id: int) -> Response:
    """The XML of the version this case runs on (the viewer draws it), for whoever may see the case."""
    view = instance_view.pinned_definition(db(), g.actor, instance_id)
    return Response(view.bpmn_xml, mimetype="application/xml", headers={"Cache-Control": "private, max-age=3600"})
