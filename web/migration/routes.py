"""版本迁移: move a process's running cases from one version to another — choose the versions, dry-run,
read the report, run it, and read past runs. Supervisors only (others 403)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine import migration
from engine.errors import InvalidInput, XunchaError
from engine.paging import Page

from ..auth.routes import permission_required
from ..db import ctx, db, sessions
from ..pages import refused
from ..params import page_number

bp = Blueprint("migration", __name__, template_folder="templates")

PER_PAGE = 50
FILTERS = ("all", "movable", "not_movable", "moved", "failed", "skipped")


def _defaults(choices: list[migration.VersionChoice]) -> tuple[int | None, int | None]:
    """From: the first version other than the current one that still has running cases; to: the current one."""
    current = next((c.version for c in choices if c.is_current), None)
    source = next((c.version for c in choices if c.running and c.version != current), None)
    return source, current


@bp.route("/definitions/<key>/migrate")
@permission_required("definition", "migrate")
def choose(key: str) -> str:
    choices = migration.version_choices(db(), g.actor, key)
    source, target = _defaults(choices)
    source = _int_arg("from", source)
    target = _int_arg("to", target)
    return render_template("migration/choose.html", key=key, choices=choices, source=source, target=target)


def _int_arg(name: str, default: int | None) -> int | None:
    raw = request.args.get(name)
    return int(raw) if raw and raw.isascii() and raw.isdigit() else default


def _version(field: str) -> int:
    raw = (request.form.get(field) or "").strip()
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidInput("请选择源版本和目标版本。", "Choose the source and target versions.", {"field": field})
    return int(raw)


@bp.post("/definitions/<key>/migrate")
@permission_required("definition", "migrate")
def start(key: str) -> Response:
    """试运行 (``dry_run=1``) or 执行迁移; either way the run's report page follows."""
    dry_run = request.form.get("dry_run") != "0"
    db().rollback()  # a run takes its own transactions (one per case): the request's must not hold the lock
    try:
        source, target = _version("from_version"), _version("to_version")
        run = migration.run_migration(sessions(), ctx(), g.actor, key, source, target, dry_run=dry_run)
    except XunchaError as exc:
        return refused(exc, url_for("migration.choose", key=key))
    if dry_run:
        flash(_("试运行完成：%(movable)s / %(total)s 个实例可以迁移。", movable=run.movable, total=run.total),
              "success")
    else:
        flash(_("迁移完成：已迁移 %(moved)s 个实例，失败 %(failed)s 个。", moved=run.moved, failed=run.failed),
              "error" if run.failed else "success")
    return redirect(url_for("migration.show", key=key, run_id=run.id))


@bp.route("/definitions/<key>/migrations")
@permission_required("definition", "migrate")
def history(key: str) -> str:
    return render_template("migration/history.html", key=key, runs=migration.list_runs(db(), g.actor, key))


def _matches(row: dict[str, Any], show: str) -> bool:
    if show == "all":
        return True
    if show == "movable":
        return bool(row["movable"])
    if show == "not_movable":
        return not row["movable"]
    return bool(row["outcome"] == show)


@bp.route("/definitions/<key>/migrations/<int:run_id>")
@permission_required("definition", "migrate")
def show(key: str, run_id: int) -> str:
    run = migration.get_run(db(), g.actor, key, run_id)
    show_filter = request.args.get("show") or "all"
    if show_filter not in FILTERS:
        abort(400)
    page = page_number(request.args.get("page"))
    rows = [row for row in run.report if _matches(row, show_filter)]
    listing = Page.cut(rows, page, PER_PAGE)
    latest_dry_run = run.dry_run and run.id == next(
        (r.id for r in migration.list_runs(db(), g.actor, key) if r.dry_run
         and (r.from_definition_id, r.to_definition_id) == (run.from_definition_id, run.to_definition_id)), None)
    return render_template("migration/report.html", key=key, run=run, listing=listing, show=show_filter,
                           filters=FILTERS, may_run=latest_dry_run and run.movable > 0)
