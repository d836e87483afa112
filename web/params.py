"""Query-string parameters pages share."""

from __future__ import annotations

from engine.errors import InvalidInput


def page_number(raw: str | None) -> int:
    """The ``page`` parameter; anything but a positive integer is a bad request."""
    if raw is None or raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise InvalidInput(f"页码无效：{raw}", f"Invalid page number: {raw}", {"page": raw})
    return int(raw)
