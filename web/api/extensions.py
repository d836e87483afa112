"""延期 requests and 中止/挂起 of cases (engine.extensions, engine.suspension) over the JSON API."""

from __future__ import annotations

from typing import Any

from flask import g, request

from engine import extensions, suspension
from engine.errors import InvalidInput

from ..db import committed, ctx, db
from . import serializers
from .params import choice_arg, json_body, optional_int_field


def extension(view: extensions.ExtensionView) -> dict[str, Any]:
    row, task = view.request, view.task
    iso = serializers.iso
    return {
        "id": row.id, "instance_id": row.instance_id, "task_id": row.task_id, "item_id": row.item_id,
        "task_name": task.name, "reference": task.reference, "title": task.title,
        "requested_by": view.requested_by, "reason": row.reason, "current_due_at": iso(row.current_due_at),
        "requested_due_at": iso(row.requested_due_at), "status": row.status, "decided_by": view.decided_by,
        "decided_at": iso(row.decided_at), "decision_note": row.decision_note, "created_at": iso(row.created_at),
        "may_decide": view.may_decide, "may_withdraw": view.may_withdraw,
    }


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"字段 {name} 必须是字符串。", f"Field '{name}' must be a string.", {"field": name})
    return value


def _optional_body() -> dict[str, Any]:
    return json_body() if request.get_data() else {}


def request_extension(task_id: int) -> tuple[dict[str, Any], int]:
    body = json_body()
    item_id = optional_int_field(body, "item_id")
    row = extensions.request_extension(db(), ctx(), g.actor, task_id,
                                       extensions.due_from_text(body.get("requested_due_at")),
                                       _optional_text(body, "reason") or "", item_id=item_id)
    return committed((extension(extensions.get_request(db(), ctx(), g.actor, row.id)), 201))


def list_extension_requests() -> dict[str, Any]:
    """Requests the caller may decide (``mine=1``: those the caller made), newest first."""
    status = choice_arg("status", extensions.STATUSES)
    mine = request.args.get("mine") in ("1", "true")
    views = extensions.list_requests(db(), ctx(), g.actor, status=status, mine=mine)
    return {"items": [extension(v) for v in views], "total": len(views)}


def approve_extension(request_id: int) -> dict[str, Any]:
    row = extensions.approve(db(), ctx(), g.actor, request_id, _optional_text(_optional_body(), "note"))
    return committed(extension(extensions.get_request(db(), ctx(), g.actor, row.id)))


def refuse_extension(request_id: int) -> dict[str, Any]:
    row = extensions.refuse(db(), ctx(), g.actor, request_id, _optional_text(_optional_body(), "note"))
    return committed(extension(extensions.get_request(db(), ctx(), g.actor, row.id)))


def withdraw_extension(request_id: int) -> dict[str, Any]:
    row = extensions.withdraw(db(), ctx(), g.actor, request_id)
    return committed(extension(extensions.get_request(db(), ctx(), g.actor, row.id)))


def suspend_instance(instance_id: int) -> dict[str, Any]:
    instance = suspension.suspend(db(), ctx(), g.actor, instance_id,
                                  _optional_text(_optional_body(), "reason") or "")
    return committed(serializers.instance(instance))


def resume_instance(instance_id: int) -> dict[str, Any]:
    instance = suspension.resume(db(), ctx(), g.actor, instance_id, _optional_text(_optional_body(), "note"))
    return committed(serializers.instance(instance))
