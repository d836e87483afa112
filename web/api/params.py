"""Reading query strings and JSON bodies, refusing nonsense with a 400 that says what was wrong."""

from __future__ import annotations

from typing import Any

from flask import request

from engine.errors import InvalidInput
from engine.queues import MAX_PER_PAGE

from ..params import MAX_ID


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("请求体必须是 JSON 对象（Content-Type: application/json）。",
                           "The request body must be a JSON object (Content-Type: application/json).")
    if _holds_nul(body):
        raise InvalidInput("请求体含有 NUL 字符（\\u0000），无法保存。",
                           "The request body contains a NUL character (\\u0000), which cannot be stored.")
    return body


def _holds_nul(value: Any) -> bool:
    """NUL cannot be stored in a PostgreSQL text column: refuse it up front, the same on every database."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"缺少字段 {name}（字符串）。", f"Field '{name}' (a string) is required.", {"field": name})
    return value.strip()


def object_field(body: dict[str, Any], name: str) -> dict[str, Any]:
    """An optional JSON object field; absent means empty."""
    value = body.get(name, {})
    if not isinstance(value, dict):
        raise InvalidInput(f"字段 {name} 必须是 JSON 对象。", f"Field '{name}' must be a JSON object.", {"field": name})
    return value


def _out_of_range(name: str, value: int) -> InvalidInput:
    """Numbers past the database's integer would fail in the database; say so here instead."""
    return InvalidInput(f"{name} 超出范围（绝对值不超过 {MAX_ID}）。", f"'{name}' is out of range (at most {MAX_ID}).",
                        {"field": name, "max": MAX_ID})


def _not_an_integer(name: str) -> InvalidInput:
    return InvalidInput(f"字段 {name} 必须是整数。", f"Field '{name}' must be an integer.", {"field": name})


def optional_int_field(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _not_an_integer(name)
    if value is not None and abs(value) > MAX_ID:
        raise _out_of_range(name, value)
    return value


def int_field(body: dict[str, Any], name: str) -> int:
    """A required integer field (an id, a year)."""
    value = optional_int_field(body, name)
    if value is None:
        raise _not_an_integer(name)
    return value


def int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"参数 {name} 必须是整数。", f"Parameter '{name}' must be an integer.",
                           {name: raw}) from None
    if abs(value) > MAX_ID:
        raise _out_of_range(name, value)
    return value


def choice_arg(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name, "").strip() or None
    if value is not None and value not in allowed:
        raise InvalidInput(f"参数 {name} 的值无效：{value}", f"Invalid value for '{name}': {value}",
                           {name: value, "allowed": list(allowed)})
    return value


def pagination() -> tuple[int, int]:
    page, per_page = int_arg("page"), int_arg("per_page")
    page = 1 if page is None else page
    per_page = 20 if per_page is None else per_page
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"分页参数无效：page 从 1 开始，per_page 为 1–{MAX_PER_PAGE}。",
                           f"Invalid paging: page starts at 1 and per_page is 1–{MAX_PER_PAGE}.",
                           {"page": page, "per_page": per_page})
    return page, per_page
