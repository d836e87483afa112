"""Logging in and out of the web UI, and resolving who is acting on each request."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.accounts import change_password, credential_stamp, set_locale, stamp_of
from engine.actors import actor_from_rows, actor_query
from engine.errors import AuthenticationFailed, InvalidInput, TooManyAttempts, XunchaError
from engine.permissions import allows, require
from models import User

from ..db import ctx, db, writing
from ..i18n import t
from .credentials import record_login, verify_login

bp = Blueprint("auth", __name__, template_folder="templates")
F = TypeVar("F", bound=Callable[..., Any])


def _session_expired(now: float) -> bool:
    """Past the absolute lifetime since logging in, or idle too long (wall-clock time: moving the
    engine's clock, as tests and the scheduler do, must not log people out)."""
    logged_in, seen = session.get("login_at"), session.get("seen_at")
    if not isinstance(logged_in, (int, float)) or not isinstance(seen, (int, float)):
        return True
    return (now - logged_in > current_app.permanent_session_lifetime.total_seconds()
            or now - seen > int(current_app.config["SESSION_IDLE_SECONDS"]))


def start_session(user: User) -> None:
    """A fresh session for a user who just proved who they are (a new cookie: no fixation)."""
    session.clear()
    now = time.time()
    session.update(user_id=user.id, login_at=now, seen_at=now, stamp=credential_stamp(user))
    session.permanent = True


def load_session_actor() -> None:
    """Before each page request: who is logged in (API requests authenticate with tokens instead).
    A session that expired, or whose password stamp is stale (the password changed since), ends here."""
    g.actor = None
    user_id = session.get("user_id")
    if user_id is None or request.path.startswith("/api/"):
        return
    now = time.time()
    if _session_expired(now):
        session.clear()
        g.session_expired = True
        return
    rows = db().execute(actor_query(User.password_hash).where(User.id == user_id)).all()
    if not rows or session.get("stamp") != stamp_of(rows[0].password_hash):
        session.clear()
        g.session_expired = bool(rows)  # an active user whose password changed, not a removed one
        return
    session["seen_at"] = now
    g.actor = actor_from_rows(rows, skip=1)


def _to_login() -> Response:
    args = {"next": request.full_path}
    if g.get("session_expired"):
        args["expired"] = "1"
    return redirect(url_for("auth.login", **args))


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("actor") is None:
            return _to_login()
        return view(*args, **kwargs)

    return cast(F, wrapper)


@bp.app_template_global("may")
def may(resource: str, action: str) -> bool:
    """Templates ask the permission matrix what to offer (the route still checks)."""
    return allows(g.get("actor"), resource, action)


def permission_required(resource: str, action: str) -> Callable[[F], F]:
    """The page needs (resource, action) in the permission matrix (engine.permissions.MATRIX): 403 otherwise."""
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require(g.actor, resource, action)
            return view(*args, **kwargs)

        return cast(F, login_required(wrapper))

    return decorate


def _safe_next(target: str | None) -> str:
    """Only a path on this site: no scheme, no host, and no backslash (browsers read "/\\x" as "//x")."""
    if target and target.startswith("/") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and not target.startswith("//"):
            return target
    return url_for("queue.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        # Logging in again while logged in: the request's session (a write transaction, opened to read
        # who is logged in) would hold SQLite's write lock against the attempt's own audit records.
        if (request_session := g.pop("db", None)) is not None:
            request_session.close()
        try:
            user = verify_login(username, request.form.get("password", ""), "web")
        except TooManyAttempts as exc:
            return render_template("auth/login.html", error=t(exc.message_zh, exc.message_en),
                                   username=username), 429
        except AuthenticationFailed as exc:
            error = t(exc.message_zh, exc.message_en)
        else:
            start_session(user)
            with writing() as audit_session:
                record_login(audit_session, user, "web")
            return redirect(_safe_next(request.args.get("next")))
    elif request.args.get("expired"):
        error = _('登录已过期，请重新登录。')
    return render_template("auth/login.html", error=error, username=request.form.get("username", ""))


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/locale")
@login_required
def change_locale() -> Response:
    """中文 / English: the language messages are shown in, kept on the user (User.locale)."""
    set_locale(db(), g.actor, request.form.get("locale", ""), ctx().clock.now())
    db().commit()
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> Response | tuple[str, int] | str:
    """Change one's own password: the API tokens are revoked and every other session ends."""
    if request.method == "POST":
        try:
            if request.form.get("new_password") != request.form.get("confirm_password"):
                raise InvalidInput("两次输入的新密码不一致。", "The two new passwords differ.",
                                   {"field": "confirm_password"})
            revoked = change_password(db(), g.actor, request.form.get("current_password", ""),
                                      request.form.get("new_password", ""), ctx().clock.now())
        except XunchaError as exc:
            db().rollback()
            return render_template("auth/password.html", error=t(exc.message_zh, exc.message_en)), exc.status
        db().commit()
        user = db().get(User, g.actor.user_id)
        assert user is not None
        session["stamp"] = credential_stamp(user)  # this session stays; the others' stamps are stale
        return render_template("auth/password.html", done=True, revoked=revoked)
    return render_template("auth/password.html")
