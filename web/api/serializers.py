"""How domain rows look in the JSON API (the shapes web/api/openapi.json documents)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from engine.actors import Actor
from engine.calendar import LOCAL_TZ
from engine.forms import Form
from models import (
    AuditEvent,
    Clue,
    HumanTask,
    Notification,
    Organisation,
    ProcessDefinition,
    ProcessInstance,
    RectificationItem,
)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the offset, in local (Beijing) time: what people reading the raw JSON expect."""
    return moment.astimezone(LOCAL_TZ).isoformat() if moment is not None else None


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Workflow data as JSON: diagram scripts may leave dates or other objects in it."""
    result: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return result


def definition(row: ProcessDefinition) -> dict[str, Any]:
    return {"key": row.key, "name": row.name, "version": row.version, "sha256": row.sha256,
            "deployed_at": iso(row.deployed_at),
            "deployed_by": row.deployed_by.username if row.deployed_by else None, "comment": row.comment}


def task(row: HumanTask, holder: Actor | None = None) -> dict[str, Any]:
    """``holder``: the caller, when the task may be theirs (a claim's answer names them without a query)."""
    if holder is not None and row.assignee_id == holder.user_id:
        assignee: str | None = holder.username
    else:
        assignee = row.assignee.username if row.assignee else None
    return {
        "id": row.id, "instance_id": row.instance_id, "name": row.name, "bpmn_id": row.bpmn_id,
        "process_key": row.process_key, "title": row.title, "reference": row.reference, "lane": row.lane,
        "candidate_group": row.candidate_group, "assignee": assignee,
        "status": row.status, "due_at": iso(row.due_at), "priority": row.priority,
        "created_at": iso(row.created_at), "claimed_at": iso(row.claimed_at),
        "completed_at": iso(row.completed_at), "revision": row.revision,
        "owner": row.owner.username if row.owner else None, "delegation": row.delegation,
    }


def notification(row: Notification) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "message": row.message, "task_id": row.task_id,
            "instance_id": row.instance_id, "created_at": iso(row.created_at), "read_at": iso(row.read_at)}


def task_detail(row: HumanTask, form: Form, data: dict[str, Any]) -> dict[str, Any]:
    return {**task(row), "form": {"key": form.key, "schema": form.schema, "ui": form.ui}, "data": jsonable(data)}


def instance(row: ProcessInstance) -> dict[str, Any]:
    """``version`` is the definition version the case runs on; ``revision`` counts changes to the case."""
    return {
        "id": row.id, "process_key": row.process_key, "version": row.definition.version, "revision": row.version,
        "status": row.status, "title": row.title, "reference": row.reference, "case_kind": row.case_kind,
        "started_at": iso(row.started_at), "updated_at": iso(row.updated_at), "completed_at": iso(row.completed_at),
    }


def instance_detail(row: ProcessInstance, data: dict[str, Any], ready: list[HumanTask]) -> dict[str, Any]:
    return {**instance(row), "data": jsonable(data), "ready_tasks": [task(t) for t in ready]}


def event(row: AuditEvent) -> dict[str, Any]:
    return {"seq": row.seq, "at": iso(row.at), "type": row.event_type, "actor": row.actor_name,
            "payload": json.loads(row.payload), "hash": row.hash}


def _org(row: Organisation) -> dict[str, Any]:
    return {"id": row.id, "code": row.code, "name": row.name}


def clue(row: Clue) -> dict[str, Any]:
    return {
        "id": row.id, "number": row.number, "summary": row.summary, "category": row.category,
        "persons_concerned": row.persons_concerned, "unit": _org(row.unit), "receiving_body": _org(row.receiving_org),
        "status": row.status, "disposition_method": row.disposition_method, "four_forms": row.four_forms,
        "instance_id": row.instance_id, "handed_over_at": iso(row.handed_over_at), "due_at": iso(row.due_at),
        "closed_at": iso(row.closed_at),
    }


def rectification_item(row: RectificationItem) -> dict[str, Any]:
    return {
        "id": row.id, "number": row.number, "unit": _org(row.unit), "problem": row.problem,
        "measures": row.measures, "responsible_leader": row.responsible_leader,
        "responsible_department": row.responsible_department, "responsible_person": row.responsible_person,
        "rectification_type": row.rectification_type, "completion": row.completion, "due_at": iso(row.due_at),
        "status": row.status, "struck_off_at": iso(row.struck_off_at), "instance_id": row.instance_id,
    }


def page(items: list[dict[str, Any]], total: int, page_number: int, per_page: int) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page_number, "per_page": per_page}
