"""The caller's notifications (the bell): list, mark one read, mark all read."""

from __future__ import annotations

from typing import Any

from flask import g, request

from engine import notify

from ..db import committed, ctx, db
from . import serializers
from .params import pagination


def list_notifications() -> dict[str, Any]:
    page, per_page = pagination()
    unread_only = request.args.get("unread") in ("1", "true")
    result = notify.list_for(db(), g.actor, unread_only=unread_only, page=page, per_page=per_page)
    body = serializers.page([serializers.notification(n) for n in result.items], result.total, page, per_page)
    return {**body, "unread": notify.unread_count(db(), g.actor)}


def read_notification(notification_id: int) -> dict[str, Any]:
    row = notify.mark_read(db(), g.actor, notification_id, ctx().clock.now())
    return committed(serializers.notification(row))


def read_all_notifications() -> dict[str, Any]:
    count = notify.mark_all_read(db(), g.actor, ctx().clock.now())
    return committed({"marked": count})
