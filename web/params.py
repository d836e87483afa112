"""Query-string parameters pages share."""

from __future__ import annotations

from typing import Any

from flask import abort

from engine.errors import InvalidInput

MAX_ID = 2**31 - 1  # PostgreSQL's integer


def page_number(raw: str | None) -> int:
    """The ``page`` parameter; anything but a positive integer is a bad request."""
    if raw is None or raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_ID:
        raise InvalidInput(f"页码无效：{raw}", f"Invalid page number: {raw}", {"page": raw})
    return int(raw)


def ids_in_range(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Before every view: an ``<int:…>`` id past the database's integer (PostgreSQL's is 32-bit) is a
    row that does not exist (404), not a database error. (A bounded converter would not do: werkzeug
    then answers 405 for a path whose other methods exist.)"""
    if values and any(isinstance(v, int) and v > MAX_ID for v in values.values()):
        abort(404)
