"""Migrating running instances between versions: dry-run or run a migration, read a run's report."""

from __future__ import annotations

from typing import Any

from flask import g

from engine import migration
from engine.errors import InvalidInput
from models import MigrationRun

from ..db import ctx, db, sessions
from .params import json_body
from .serializers import iso


def run_json(run: MigrationRun) -> dict[str, Any]:
    return {"id": run.id, "key": run.key, "from_version": run.from_definition.version,
            "to_version": run.to_definition.version, "dry_run": run.dry_run, "status": run.status,
            "started_by": run.started_by.username if run.started_by else None,
            "started_at": iso(run.started_at), "finished_at": iso(run.finished_at), "total": run.total,
            "movable": run.movable, "moved": run.moved, "failed": run.failed, "report": run.report}


def create_migration(key: str) -> tuple[dict[str, Any], int]:
    """``{from_version, to_version, dry_run}`` (dry_run defaults to true: moving cases is asked for explicitly)."""
    body = json_body()
    dry_run = body.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise InvalidInput("字段 dry_run 必须是布尔值。", "Field 'dry_run' must be a boolean.", {"field": "dry_run"})
    db().rollback()  # a run takes its own transactions (one per case): the request's must not hold the lock
    run = migration.run_migration(sessions(), ctx(), g.actor, key, body.get("from_version"),
                                  body.get("to_version"), dry_run=dry_run)
    return run_json(run), 201


def get_migration(key: str, run_id: int) -> dict[str, Any]:
    return run_json(migration.get_run(db(), g.actor, key, run_id))
