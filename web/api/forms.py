"""The form library: list forms, read a stored form's versions, save a new version (supervisors)."""

from __future__ import annotations

import math
from typing import Any

from flask import g, request

from engine import form_library
from engine.errors import InvalidInput
from models import FormVersion, User

from ..db import committed, ctx, db
from .params import json_body, optional_int_field, pagination
from .serializers import iso


def entry_body(entry: form_library.FormEntry) -> dict[str, Any]:
    return {"name": entry.name, "title": entry.title, "source": entry.source, "key": entry.key,
            "versions": list(entry.versions), "updated_at": iso(entry.updated_at), "updated_by": entry.updated_by}


def version_body(row: FormVersion, *, full: bool = True) -> dict[str, Any]:
    author = db().get(User, row.created_by_id) if row.created_by_id else None
    body: dict[str, Any] = {"name": row.name, "version": row.version, "key": row.key, "title": row.title,
                            "comment": row.comment, "created_at": iso(row.created_at),
                            "created_by": author.username if author else None}
    if full:
        body.update(schema=row.schema, ui_schema=row.ui_schema or {})
    return body


def list_forms() -> dict[str, Any]:
    page, per_page = pagination()
    entries = form_library.list_forms(db(), ctx().forms, request.args.get("q"))
    chunk = entries[(page - 1) * per_page:page * per_page]
    return {"items": [entry_body(e) for e in chunk], "total": len(entries), "page": page,
            "pages": max(1, math.ceil(len(entries) / per_page))}


def get_form(name: str) -> dict[str, Any]:
    rows = form_library.form_versions(db(), name)
    return {"name": name, "title": rows[0].title, "key": rows[0].key,
            "versions": [version_body(r, full=False) for r in rows]}


def get_form_version(name: str, version: int) -> dict[str, Any]:
    return version_body(form_library.get_form(db(), name, version))


def save_form() -> tuple[dict[str, Any], int]:
    body = json_body()
    name = body.get("name")
    if not isinstance(name, str):
        raise InvalidInput("缺少字段 name（表单名称）。", "Field 'name' (the form's name) is required.",
                           {"field": "name"})
    for field in ("title", "comment"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise InvalidInput(f"字段 {field} 必须是字符串。", f"Field '{field}' must be a string.", {"field": field})
    row, created = form_library.save_form(
        db(), g.actor, name.strip(), body.get("schema"), body.get("ui_schema"), body.get("title"), body.get("comment"),
        at=ctx().clock.now(), expected_version=optional_int_field(body, "expected_version"))
    return committed((version_body(row), 201 if created else 200))
