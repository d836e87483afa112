"""Process instances: start one, read its data and ready tasks, read its audit history."""

from __future__ import annotations

from typing import Any

from flask import g

from engine import audit, cases, projection, runtime
from engine.errors import NotPermitted

from ..db import committed, ctx, db
from ..reads import record_case_read
from . import serializers
from .params import json_body, object_field, text_field

# These are started with their ledger rows (hand_over_clue / open_rectification), which also bind the
# receiving body, the team and the unit and mark the case confidential; a bare start would skip all that.
CASE_PROCESSES = (cases.CLUE_PROCESS, cases.RECTIFICATION_PROCESS)


def start_instance() -> tuple[dict[str, Any], int]:
    body = json_body()
    process_key, data = text_field(body, "process_key"), object_field(body, "data")
    if process_key in CASE_PROCESSES:
        raise NotPermitted("问题线索和整改案件须通过移交线索或启动整改创建，不能直接启动流程。",
                           "Clue and rectification cases are opened through their ledgers, not started directly.",
                           {"process_key": process_key})
    if not g.actor.roles:
        raise NotPermitted("您没有任何角色，不能启动流程。", "You hold no role, so you cannot start a process.")
    instance = runtime.start_instance(db(), ctx(), g.actor, process_key, data, scope_path=g.actor.roles[0].org_path)
    return committed((serializers.instance(instance), 201))


def get_instance(instance_id: int) -> dict[str, Any]:
    instance = runtime.get_instance(db(), g.actor, instance_id)
    body = serializers.instance_detail(instance, runtime.instance_data(db(), ctx(), instance),
                                       projection.open_tasks(db(), instance.id))
    record_case_read(instance, "instance")
    return body


def instance_history(instance_id: int) -> list[dict[str, Any]]:
    instance = runtime.get_instance(db(), g.actor, instance_id)
    body = [serializers.event(e) for e in audit.stream_events(db(), instance.id)]
    record_case_read(instance, "history")
    return body
