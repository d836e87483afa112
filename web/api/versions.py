"""Versions of a process over the API: list them, mark one current, roll back to one, and compare two
(engine.versions, engine.diagram_diff). Reading is for anyone logged in; acting is for supervisors."""

from __future__ import annotations

from typing import Any

from flask import g, request

from engine import versions
from engine.errors import InvalidInput

from ..db import committed, ctx, db
from ..params import page_number
from .auth import require_permission
from .params import int_arg, json_body
from .serializers import definition, page


def _version_field(body: dict[str, Any]) -> int:
    value = body.get("version")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput("字段 version 必须是正整数。", "Field 'version' must be a positive integer.",
                           {"field": "version"})
    return value


def list_versions(key: str) -> dict[str, Any]:
    """``?page=&per_page=``: newest first; ``running`` (cases not finished on a version) for supervisors only."""
    listing = versions.list_versions(db(), g.actor, key, page=page_number(request.args.get("page")),
                                     per_page=int_arg("per_page") or 50)
    items = [{**definition(row.definition), "is_current": row.is_current, "running": row.running}
             for row in listing.items]
    return {**page(items, listing.total, listing.page, listing.per_page),
            "key": listing.key, "current_version": listing.current_version, "newest_version": listing.newest_version}


def release_version(key: str) -> dict[str, Any]:
    require_permission("definition", "release")
    version = _version_field(json_body())
    row = versions.release(db(), g.actor, key, version, at=ctx().clock.now())
    return committed({**definition(row), "is_current": True})


def roll_back(key: str) -> tuple[dict[str, Any], int]:
    require_permission("definition", "release")
    body = json_body()
    version = _version_field(body)
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput("字段 comment 必须是字符串。", "Field 'comment' must be a string.", {"field": "comment"})
    result = versions.roll_back(db(), g.actor, ctx().forms, key, version, at=ctx().clock.now(),
                                comment=(comment or "").strip()[:500] or None)
    return committed(({**definition(result.definition), "is_current": True, "source_version": version,
                       "warnings": [w.as_dict() for w in result.warnings]}, 201))


def diff_versions(key: str) -> dict[str, Any]:
    """``?from=&to=`` (both required): what changed from one version to the other."""
    from_version, to_version = int_arg("from"), int_arg("to")
    if from_version is None or to_version is None:
        raise InvalidInput("请同时给出参数 from 和 to（版本号）。", "Give both 'from' and 'to' (version numbers).",
                           {"from": from_version, "to": to_version})
    before, after, changes = versions.compare(db(), key, from_version, to_version)
    return {"key": key, "from": before.version, "to": after.version, **changes.as_dict()}
