"""The Flask application factory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, g
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import inspect
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.bootstrap import deploy_shipped
from engine.form_library import stored_form_loader

from . import calendar, config, db, display, errors, i18n, logs, params

csrf = CSRFProtect()
log = logging.getLogger(__name__)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(config.INSTANCE_DIR))
    app.url_value_preprocessor(params.ids_in_range)  # ids past the database's integer are 404
    app.config.update(config.from_environment())
    app.config.update(overrides or {})
    db.init_app(app)
    # Forms written in the browser's form editor (name@version) are read from the database.
    app.extensions["xuncha.context"].forms.attach(stored_form_loader(db.sessions(app, read_only=True)))
    _configure_uploads(app)
    csrf.init_app(app)
    errors.register(app)
    display.install(app)
    i18n.install(app)
    _register_blueprints(app)
    calendar.install(app)  # the business calendar, loaded now and kept fresh per request
    _security_headers(app)
    if app.config.get("DEPLOY_SHIPPED_WORKFLOWS"):
        _deploy_shipped(app)
    # Start-up read the database (calendar, shipped diagrams). gunicorn --preload forks workers from
    # this process: pooled connections must not be shared across the fork, so close them here and
    # let each process open its own.
    app.extensions["xuncha.engine"].dispose()
    return app


def _register_blueprints(app: Flask) -> None:
    from .api.routes import bp as api_bp
    from .audit.routes import bp as audit_bp
    from .auth.routes import bp as auth_bp
    from .auth.routes import load_session_actor
    from .calendar.routes import bp as calendar_bp
    from .cases.routes import bp as cases_bp
    from .content.routes import bp as content_bp
    from .definitions.routes import bp as definitions_bp
    from .designer.routes import bp as designer_bp
    from .extensions.routes import bp as extensions_bp
    from .form_editor.routes import bp as form_editor_bp
    from .incidents.routes import bp as incidents_bp
    from .intake.routes import bp as intake_bp
    from .ledgers.routes import bp as ledgers_bp
    from .migration.routes import bp as migration_bp
    from .notifications.routes import bp as notifications_bp
    from .ops import metrics
    from .ops.routes import bp as ops_bp
    from .planning.routes import bp as planning_bp
    from .promotion.routes import bp as promotion_bp
    from .public.routes import bp as public_bp
    from .queue.routes import bp as queue_bp
    from .reports.routes import bp as reports_bp
    from .tasks.handoffs import handoffs  # its routes join the tasks blueprint
    from .tasks.routes import bp as tasks_bp

    app.before_request(load_session_actor)
    app.add_template_global(handoffs, "handoffs")
    for blueprint in (auth_bp, queue_bp, tasks_bp, cases_bp, definitions_bp, public_bp, notifications_bp, content_bp,
                      extensions_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(calendar_bp)
    app.register_blueprint(intake_bp)
    app.register_blueprint(ledgers_bp)
    app.register_blueprint(planning_bp)
    app.register_blueprint(ops_bp)
    metrics.install(app)
    logs.install(app)
    app.register_blueprint(reports_bp)
    app.register_blueprint(promotion_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(designer_bp)
    app.register_blueprint(migration_bp)
    app.register_blueprint(form_editor_bp)
    app.register_blueprint(incidents_bp)
    csrf.exempt(api_bp)  # the API authenticates with bearer tokens, not cookies
    app.register_blueprint(api_bp)

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {"actor": g.get("actor")}


def _configure_uploads(app: Flask) -> None:
    """Evidence files go where the configuration says (a context handed in whole, as tests do, keeps its own)."""
    if app.config.get("ENGINE_CONTEXT") is None:
        context = app.extensions["xuncha.context"]
        context.attachments_dir = Path(app.config["ATTACHMENTS_DIR"])
        context.max_upload_bytes = int(app.config["MAX_UPLOAD_BYTES"])


PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"


def _security_headers(app: Flask) -> None:
    """On every response, pages, API and errors alike (tests/security/test_web_defences.py)."""
    if app.config.get("TRUSTED_PROXIES"):
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    @app.after_request
    def _headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
        if app.config.get("HTTPS"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


def _deploy_shipped(app: Flask) -> None:
    """Deploy the shipped diagrams if the schema exists (a fresh database is migrated first)."""
    engine = app.extensions["xuncha.engine"]
    if not inspect(engine).has_table("process_definition"):
        log.warning("database not migrated yet; run `xuncha db upgrade`")
        return
    for result in deploy_shipped(db.sessions(app), app.extensions["xuncha.context"]):
        if result.created:
            log.info("deployed %s v%s", result.definition.key, result.definition.version)
