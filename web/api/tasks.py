"""Human tasks: the queues, one task with its form, and the actions on it."""

from __future__ import annotations

from typing import Any

from flask import Response, g, request

from engine import handling, projection, queues, runtime

from ..db import committed, ctx, db
from ..reads import record_case_read
from . import serializers
from .params import json_body, object_field, optional_int_field, pagination, text_field


def list_tasks() -> dict[str, Any]:
    """A queue with the filters of engine.queues.TaskFilter (each query parameter named there)."""
    page, per_page = pagination()
    args = request.args
    result = queues.list_tasks(db(), g.actor, args.get("queue") or "mine", filters=queues.TaskFilter.from_args(args),
                               sort=args.get("sort") or "due", page=page, per_page=per_page, now=ctx().clock.now())
    return serializers.page([serializers.task(t) for t in result.items], result.total, page, per_page)


def get_task(task_id: int) -> dict[str, Any]:
    task = runtime.get_task(db(), g.actor, task_id)
    body = serializers.task_detail(task, ctx().forms.get(task.form_key), runtime.task_view(db(), ctx(), task).form_data)
    record_case_read(task.instance, "api_task")
    return body


def claim_task(task_id: int) -> dict[str, Any]:
    task = runtime.claim_task(db(), ctx(), g.actor, task_id)
    return committed(serializers.task(task, g.actor))


def claim_next_task() -> dict[str, Any] | Response:
    """签收下一件: the first free task of the caller's group queue (the queue's filters and sort), or 204."""
    args = request.args
    task = handling.claim_next(db(), ctx(), g.actor, filters=queues.TaskFilter.from_args(args),
                               sort=args.get("sort") or "due")
    return committed(serializers.task(task, g.actor) if task is not None else Response(status=204))


def unclaim_task(task_id: int) -> dict[str, Any]:
    task = runtime.unclaim_task(db(), ctx(), g.actor, task_id)
    return committed(serializers.task(task))


def assign_task(task_id: int) -> dict[str, Any]:
    task = runtime.assign_task(db(), ctx(), g.actor, task_id, text_field(json_body(), "user"))
    return committed(serializers.task(task))


def delegate_task(task_id: int) -> dict[str, Any]:
    """Hand a task to another candidate (see engine.runtime.delegate_task for who may)."""
    task = runtime.delegate_task(db(), ctx(), g.actor, task_id, text_field(json_body(), "user"))
    return committed(serializers.task(task))


def complete_task(task_id: int) -> dict[str, Any]:
    body = json_body()
    instance = runtime.complete_task(db(), ctx(), g.actor, task_id, object_field(body, "data"),
                                     expected_revision=optional_int_field(body, "revision"))
    return committed({"instance": serializers.instance(instance),
                      "next_tasks": [serializers.task(t) for t in projection.open_tasks(db(), instance.id)]})


def resolve_task(task_id: int) -> dict[str, Any]:
    """The delegate hands the task back to its owner with the filled-in form (see engine.handling)."""
    body = json_body()
    task = handling.resolve_task(db(), ctx(), g.actor, task_id, object_field(body, "data"),
                                 expected_revision=optional_int_field(body, "revision"))
    return committed(serializers.task(task))


def return_task(task_id: int) -> dict[str, Any]:
    """退回 where the diagram allows it; the step that receives the case goes to its previous performer."""
    body = json_body()
    instance = runtime.return_task(db(), ctx(), g.actor, task_id, text_field(body, "reason"),
                                   expected_revision=optional_int_field(body, "revision"), claim_if_free=True)
    return committed({"instance": serializers.instance(instance),
                      "next_tasks": [serializers.task(t) for t in projection.open_tasks(db(), instance.id)]})
