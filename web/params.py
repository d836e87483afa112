"""Query-string parameters pages share."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from engine.errors import InvalidInput

MAX_ID = 2**31 - 1  # PostgreSQL's integer


def page_number(raw: str | None) -> int:
    """The ``page`` parameter; anything but a positive integer is a bad request."""
    if raw is None or raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_ID:
        raise InvalidInput(f"页码无效：{raw}", f"Invalid page number: {raw}", {"page": raw})
    return int(raw)


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: a row id fits the database's integer (PostgreSQL's is 32-bit), so a
    longer number is simply a row that does not exist (404), not a database error."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)
