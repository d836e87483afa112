"""An instance on its diagram: GET /api/v1/instances/{id}/diagram (engine.instance_view)."""

from __future__ import annotations

from typing import Any

from flask import g, url_for

from engine import instance_view

from ..db import ctx, db
from ..reads import record_case_read
from . import serializers


def instance_diagram(instance_id: int) -> dict[str, Any]:
    """Marks (done / current / waiting) by element id, the open tasks, the waiting timers and the
    history, each entry naming its element; the XML is the pinned version's, at ``xml_url``."""
    view = instance_view.instance_diagram(db(), ctx(), g.actor, instance_id)
    definition = view.definition
    body: dict[str, Any] = {
        "instance_id": view.instance.id, "process_key": definition.key, "version": definition.version,
        "definition_sha256": definition.sha256,
        "xml_url": url_for("api.definition_xml", key=definition.key, version=definition.version),
        "status": view.instance.status, "marks": view.marks,
        "current": [serializers.task(task) for task in view.current],
        "timers": [{"timer_id": timer.timer_id, "element_id": timer.element_id, "name": timer.name,
                    "due_at": serializers.iso(timer.due_at), "grade": timer.grade, "attached_to": timer.attached_to}
                   for timer in view.timers],
        "history": [{"seq": entry.event.seq, "at": serializers.iso(entry.event.at), "type": entry.event.event_type,
                     "actor": entry.event.actor_name, "element_id": entry.element_id} for entry in view.history],
    }
    if view.tree is not None:  # supervisors: the stored (pruned) task tree
        body["tasks"] = [{"task_guid": task.task_guid, "element_id": task.element_id, "state": task.state}
                         for task in view.tree]
    record_case_read(view.instance, "diagram")
    return body
