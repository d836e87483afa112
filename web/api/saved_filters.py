"""常用筛选 over the API: a person's own saved queue filters (engine.saved_filters)."""

from __future__ import annotations

from typing import Any

from flask import g, url_for
from werkzeug.wrappers import Response

from engine import saved_filters
from engine.errors import InvalidInput
from models import SavedFilter

from ..db import committed, ctx, db
from .params import json_body, object_field
from .serializers import iso


def _saved_filter(row: SavedFilter) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "queue": row.queue, "params": row.params,
            "created_at": iso(row.created_at), "tasks_url": url_for("api.list_tasks", queue=row.queue, **row.params)}


def list_saved_filters() -> dict[str, Any]:
    return {"items": [_saved_filter(f) for f in saved_filters.list_filters(db(), g.actor)]}


def create_saved_filter() -> tuple[dict[str, Any], int]:
    """201 with the new filter; 200 when ``replace`` overwrote one of the same name; 409 on a taken name."""
    body = json_body()
    replace = body.get("replace", False)
    if not isinstance(replace, bool):
        raise InvalidInput("字段 replace 必须是 true 或 false。", "Field 'replace' must be true or false.",
                           {"field": "replace"})
    row, created = saved_filters.save_filter(db(), ctx(), g.actor, body.get("name"), body.get("queue", "mine"),
                                             object_field(body, "params"), replace=replace)
    return committed((_saved_filter(row), 201 if created else 200))


def delete_saved_filter(filter_id: int) -> Response:
    saved_filters.delete_filter(db(), ctx(), g.actor, filter_id)
    return committed(Response(status=204))
