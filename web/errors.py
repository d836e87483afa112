"""One mapping from domain errors to responses: JSON for the API, a page for people."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine import incidents
from engine.errors import SandboxRefused, XunchaError

from .db import ctx, writing

log = logging.getLogger(__name__)

_HTTP_MESSAGES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "请求无效。", "Bad request."),
    401: ("not_authenticated", "请先登录。", "Please log in."),
    403: ("not_permitted", "您无权进行此操作。", "You are not permitted to do this."),
    404: ("not_found", "页面或记录不存在。", "Not found."),
    405: ("method_not_allowed", "不支持此请求方法。", "Method not allowed."),
    413: ("too_large", "上传的内容过大。", "The upload is too large."),
    503: ("busy", "系统繁忙，请稍后重试。", "The system is busy; please try again shortly."),
    429: ("too_many_requests", "请求过于频繁，请稍后再试。", "Too many requests; try again later."),
}


def locale() -> str:
    """The language of messages: an API client's Accept-Language first, then the user's setting."""
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"]) if request else None
    if best and request.path.startswith("/api/"):
        return "en" if best == "en" else "zh_CN"
    actor = g.get("actor")
    if actor is not None and actor.locale:
        return str(actor.locale)
    return "en" if best == "en" else "zh_CN"


def wants_json() -> bool:
    """The API, and a page's own script asking for JSON (the modeler's save/check/deploy calls)."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _respond(status: int, code: str, zh: str, en: str, details: dict[str, Any] | None = None) -> Response:
    message = en if locale().startswith("en") else zh
    if wants_json():
        response = jsonify(error_body(code, message, details))
    else:
        response = Response(render_template("error.html", status=status, message=message, message_zh=zh,
                                            message_en=en, details=details or {}))
    response.status_code = status
    return response


def record_refusal(error: SandboxRefused) -> None:
    """A person's step the sandbox stopped was rolled back with everything else: record the incident on
    the case (the task or case the URL names) in a transaction of its own, so the office learns of the
    broken diagram. The person still gets the 422; a failure to record is logged, never answered."""
    ids = {name: value for name, value in (request.view_args or {}).items()
           if name in ("task_id", "instance_id") and isinstance(value, int)}
    actor = g.get("actor")
    if actor is None or not ids:
        log.warning("sandbox refused code on %s %s (no case to record it on): %s", request.method, request.path,
                    error.message_en)
        return
    if "db" in g:
        g.db.rollback()  # the failed step's transaction: its lock on the case, SQLite's write lock
    try:
        with writing() as session:
            instance_id = incidents.record_refused_step(session, actor, error, at=ctx().clock.now(), **ids)
    except Exception:
        log.exception("could not record the sandbox refusal on %s %s", request.method, request.path)
        return
    if instance_id is not None:
        error.details["instance_id"] = instance_id


def register(app: Flask) -> None:
    @app.errorhandler(XunchaError)
    def _domain(error: XunchaError) -> Response:
        response = _respond(error.status, error.code, error.message_zh, error.message_en, error.details)
        if "retry_after_seconds" in error.details:  # 429/503: when to come back
            response.headers["Retry-After"] = str(error.details["retry_after_seconds"])
        return response

    @app.errorhandler(SandboxRefused)
    def _refused(error: SandboxRefused) -> Response:
        record_refusal(error)
        return _domain(error)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Response:
        return _respond(400, "csrf_failed", "页面已过期，请刷新后重试。", "The page expired; reload and try again.")

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error: RequestEntityTooLarge) -> Response:
        """A request over MAX_CONTENT_LENGTH: say what the limit for a file is."""
        limit = current_app.config.get("MAX_UPLOAD_BYTES")
        whole = current_app.config.get("MAX_CONTENT_LENGTH")
        if not limit or not whole or (request.content_length or 0) <= whole:
            return _http(error)
        size = f"{int(limit) / (1024 * 1024):g} MB"
        return _respond(413, "too_large", f"上传的内容过大：每个文件不得超过 {size}。",
                        f"The upload is too large: each file may be at most {size}.", {"max_bytes": int(limit)})

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        code, zh, en = _HTTP_MESSAGES.get(status, ("http_error", "请求失败。", error.name))
        return _respond(status, code, zh, en)

    @app.errorhandler(DataError)
    def _bad_value(error: DataError) -> Response:
        # A value the database cannot hold (a NUL in text, a number past its integer): the input's fault.
        log.info("database refused a value: %s", error.orig)
        return _respond(400, "invalid_input", "输入的值无法保存（含有不允许的字符，或数值超出范围）。",
                        "A value cannot be stored (a character that is not allowed, or a number out of range).")

    @app.errorhandler(OverflowError)
    def _overflow(error: OverflowError) -> Response:
        # A number too large for the database (SQLite's driver raises this before SQL runs, where
        # PostgreSQL answers DataError) or for date arithmetic: the input's fault, nothing was written.
        log.info("number out of range: %s", error)
        return _respond(400, "invalid_input", "输入的数值超出范围。", "A number in the request is out of range.")

    @app.errorhandler(OperationalError)
    def _busy(error: OperationalError) -> Response:
        # A lock wait that ran out, a deadlock the database broke, a lost connection: nothing was
        # written (the transaction rolled back), and trying again usually works.
        log.warning("database busy or unavailable: %s", error)
        return _respond(503, "busy", "系统繁忙，操作未生效，请稍后重试。",
                        "The system is busy; nothing was changed. Please try again shortly.")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, "internal_error", "系统内部错误，操作未生效。已记录，请联系管理员。",
                        "Internal error; nothing was changed. It has been logged; please contact the administrator.")
