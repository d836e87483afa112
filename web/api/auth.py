"""Bearer tokens: issuing, revoking, and resolving the caller of every other endpoint."""

from __future__ import annotations

from flask import g, request
from werkzeug.wrappers import Response

from engine.accounts import actor_for_token, issue_token, revoke_token
from engine.errors import AuthenticationFailed
from engine.permissions import require

from ..auth.credentials import record_login, verify_login
from ..db import committed, ctx, db
from .params import json_body, text_field
from .serializers import iso

PUBLIC_ENDPOINTS = {"api.create_token", "api.openapi_document"}


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("缺少访问令牌：请在 Authorization 头中提供 Bearer 令牌。",
                                   "Missing access token: send 'Authorization: Bearer <token>'.")
    return token.strip()


def require_token() -> None:
    """Before every API request except getting a token: who is calling, from the bearer token."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    token = _bearer_token()
    g.actor, g.api_token = actor_for_token(db(), token, ctx().clock.now()), token


def challenge(response: Response) -> Response:
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="xuncha"'
    return response


def require_permission(resource: str, action: str) -> None:
    """The call needs (resource, action) in the permission matrix (engine.permissions.MATRIX): 403 otherwise."""
    require(g.actor, resource, action)


def create_token() -> tuple[dict[str, str | None], int]:
    body = json_body()
    username, password = text_field(body, "username"), body.get("password")
    if not isinstance(password, str):
        password = ""
    user = verify_login(username, password, "api")
    session = db()
    token, row = issue_token(session, user, ctx().clock.now())
    record_login(session, user, "api")
    session.commit()
    return {"token": token, "expires_at": iso(row.expires_at)}, 200


def revoke_own_token() -> tuple[str, int]:
    revoke_token(db(), g.api_token, ctx().clock.now())
    return committed(("", 204))
