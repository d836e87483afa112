"""The ``xuncha`` command: a Flask CLI group for running, migrating, seeding, deploying and auditing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from werkzeug.serving import run_simple

from engine import audit, calendar, demo, migration
from engine.actors import load_actor
from engine.bootstrap import deploy_shipped
from engine.db import transaction
from engine.definitions import deploy
from engine.errors import DefinitionInvalid, XunchaError
from engine.migrate import grant_app_role, upgrade

from . import create_app, logs
from .db import sessions


def _app(*_args: object) -> object:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_app, add_default_commands=False)
def cli() -> None:
    """巡察发现问题管理系统 (Xuncha)."""
    logs.configure()


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--grant-to", "grant_to", default=None,
              help="PostgreSQL: then grant this application role its rights (password from XUNCHA_APP_DB_PASSWORD).")
@with_appcontext
def db_upgrade(grant_to: str | None) -> None:
    """Apply every Alembic migration not yet applied."""
    url = str(current_app.config["DATABASE_URL"])
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    click.echo("数据库已是最新结构 / database schema is up to date")
    if grant_to:
        grant_app_role(url, grant_to, os.environ.get("XUNCHA_APP_DB_PASSWORD"))
        click.echo(f"已授权应用账号 {grant_to} / granted the application role {grant_to}")


@cli.command("demo-data")
@with_appcontext
def demo_data() -> None:
    """Load the demo accounts, plan and cases (does nothing if they are there)."""
    context = current_app.extensions["xuncha.context"]
    deploy_shipped(sessions(), context)
    with transaction(sessions()) as session:
        loaded = demo.load(session, context)
    click.echo("演示数据已载入 / demo data loaded" if loaded.created else "演示数据已存在 / demo data already present")


@cli.command("deploy")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--comment", default=None, help="Why this version is deployed.")
@with_appcontext
def deploy_command(file: Path, comment: str | None) -> None:
    """Validate and deploy a BPMN file as a new version."""
    context = current_app.extensions["xuncha.context"]
    try:
        with transaction(sessions()) as session:
            result = deploy(session, file.read_bytes(), None, context.forms, at=context.clock.now(), comment=comment)
            key, version = result.definition.key, result.definition.version
    except DefinitionInvalid as exc:
        click.echo(f"{exc.message_zh} / {exc.message_en}", err=True)
        for problem in exc.details.get("problems", []):
            click.echo(f"  [{problem['element_id'] or '-'}] {problem['message_zh']} / {problem['message_en']}",
                       err=True)
        sys.exit(1)
    for warning in result.warnings:
        click.echo(f"  warning [{warning.element_id}] {warning.message_zh}")
    click.echo(f"{key} v{version} " + ("已部署 / deployed" if result.created else "内容未变 / unchanged"))


@cli.group("definitions")
def definitions_group() -> None:
    """Process definitions and their versions."""


@definitions_group.command("migrate")
@click.argument("key")
@click.option("--from", "from_version", type=int, required=True, help="The version the cases are on.")
@click.option("--to", "to_version", type=int, required=True, help="The version to move them to.")
@click.option("--dry-run", is_flag=True, help="Only report which cases can move, and why not.")
@click.option("--user", "username", required=True, help="The supervisor the run is recorded for (audit).")
@with_appcontext
def definitions_migrate(key: str, from_version: int, to_version: int, dry_run: bool, username: str) -> None:
    """Dry-run or run the move of KEY's running cases between versions; exit 1 if any case failed."""
    context = current_app.extensions["xuncha.context"]
    try:
        with sessions()() as session:
            actor = load_actor(session, username)
        run = migration.run_migration(sessions(), context, actor, key, from_version, to_version, dry_run=dry_run)
    except XunchaError as exc:
        click.echo(f"{exc.message_zh} / {exc.message_en}", err=True)
        sys.exit(1)
    for row in run.report:
        mark = "✓" if row["movable"] else "✗"
        reason = f" {row['reason_zh']} / {row['reason_en']}" if row["reason_zh"] else ""
        error = f" {row['error']}" if row["error"] else ""
        click.echo(f"  {mark} #{row['instance_id']} {row['reference'] or ''} {row['outcome']}{reason}{error}")
    click.echo(f"{'试运行 / dry run' if dry_run else '迁移 / migration'} #{run.id}: {run.total} 个实例 / instances, "
               f"{run.movable} 可迁移 / movable, {run.moved} 已迁移 / moved, {run.failed} 失败 / failed")
    if run.failed:
        sys.exit(1)


@cli.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Recompute every hash chain; exit 1 and name the first broken link if any."""
    with transaction(sessions()) as session:
        result = audit.verify(session)
    if result.ok:
        click.echo(f"审计链完整 / audit chain intact: {result.checked} events checked")
        return
    broken = result.first_broken or {}
    click.echo(f"审计链断裂 / audit chain BROKEN after {result.checked} events: stream={broken.get('stream')} "
               f"seq={broken.get('seq')} event_id={broken.get('event_id')}: {broken.get('reason')}", err=True)
    sys.exit(1)


@cli.group("calendar")
def calendar_group() -> None:
    """The business calendar (工作日历)."""


@calendar_group.command("load")
@click.argument("years", nargs=-1, type=int)
@with_appcontext
def calendar_load(years: tuple[int, ...]) -> None:
    """Take YEARS' holiday schedules from the chinese-calendar package (audited; days the office
    entered are kept). Without YEARS: every year the package knows and the database lacks."""
    context = current_app.extensions["xuncha.context"]
    with transaction(sessions()) as session:
        wanted = list(years) or [y for y in calendar.package_years() if y not in calendar.read(session).years]
        try:
            results = [calendar.load_year(session, context, None, calendar.check_year(y)) for y in wanted]
        except XunchaError as exc:
            click.echo(f"{exc.message_zh} / {exc.message_en}", err=True)
            sys.exit(1)
    for r in results:
        click.echo(f"{r.year}: 新增 {len(r.added)}，更正 {len(r.changed)}，删除 {len(r.removed)}，保留 {len(r.kept)} / "
                   f"added {len(r.added)}, corrected {len(r.changed)}, removed {len(r.removed)}, kept {len(r.kept)}")
    if not results:
        click.echo("没有需要载入的年份 / nothing to load")


@cli.command("scheduler")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between timer sweeps.")
@with_appcontext
def scheduler_command(interval: float) -> None:
    """Run the timer sweeper (any number may run side by side)."""
    from engine.scheduler import run_forever

    calendar.keep_fresh(sessions(read_only=True))  # create_app loaded it; office edits arrive within seconds
    retention = timedelta(hours=float(current_app.config["IDEMPOTENCY_RETENTION_HOURS"]))
    run_forever(sessions(), current_app.extensions["xuncha.context"], interval, retention)


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--no-scheduler", is_flag=True, help="Start the web server only.")
@with_appcontext
def run_command(host: str, port: int, no_scheduler: bool) -> None:
    """Start the web server, and a scheduler process beside it."""
    scheduler = None
    if not no_scheduler:
        scheduler = subprocess.Popen([sys.executable, "-m", "web.cli", "scheduler"], env=os.environ.copy())
    try:
        click.echo(f"巡察发现问题管理系统: http://{host}:{port}/")
        app = current_app._get_current_object()  # type: ignore[attr-defined]  # served from other threads
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.wait(timeout=10)


if __name__ == "__main__":
    cli()
