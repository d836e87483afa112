"""Logging in and out of the web UI, and resolving who is acting on each request."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from engine.accounts import set_locale
from engine.actors import actor_for
from engine.errors import AuthenticationFailed
from models import User

from ..db import ctx, db, writing
from .credentials import record_login, verify_login

bp = Blueprint("auth", __name__, template_folder="templates")
F = TypeVar("F", bound=Callable[..., Any])


def load_session_actor() -> None:
    """Before each page request: who is logged in (API requests authenticate with tokens instead)."""
    g.actor = None
    user_id = session.get("user_id")
    if user_id is None or request.path.startswith("/api/"):
        return
    user = db().get(User, user_id)
    if user is None or not user.active:
        session.clear()
        return
    g.actor = actor_for(user)


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("actor") is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return cast(F, wrapper)


def role_required(*roles: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = g.get("actor")
            if actor is None:
                return redirect(url_for("auth.login", next=request.full_path))
            if not any(actor.has_role(r) for r in roles):
                abort(403)
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
def login() -> Response | str:
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        try:
            user = verify_login(username, request.form.get("password", ""), "web")
        except AuthenticationFailed as exc:
            error = exc.message_zh
        else:
            session.clear()
            session["user_id"] = user.id
            session.permanent = True
            with writing() as audit_session:
                record_login(audit_session, user, "web")
            return redirect(_safe_next(request.args.get("next")))
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
