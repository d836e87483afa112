"""Versions of a process: which one new cases start on (当前版本), listing them, releasing one,
deploying with or without making it current, and rolling back to an earlier one.

The ``process_release`` row pins the current version of a key; without a row the newest version is
current. A pin is kept only while the current version is *not* the newest: releasing the newest
version (or deploying with ``make_current``) removes it, so the ordinary state stays "newest holds"
and a plain deploy (bootstrap, CLI) keeps behaving as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from models import InstanceStatus, ProcessDefinition, ProcessInstance, ProcessRelease

from . import audit
from .actors import Actor
from .definitions import DeployResult, deploy, get_version, latest_definition
from .diagram_diff import DiagramDiff, diff_diagrams
from .errors import Conflict, NotPermitted
from .forms import FormStore
from .paging import Page
from .permissions import allows

SUPERVISOR = "supervisor"
FINISHED = (InstanceStatus.COMPLETED, InstanceStatus.CANCELLED)


@dataclass(frozen=True)
class VersionRow:
    """One version as the versions list shows it. ``running`` counts cases not yet finished on it;
    it is ``None`` for readers who may not see every case (a count would reveal confidential ones)."""

    definition: ProcessDefinition
    is_current: bool
    running: int | None


@dataclass
class VersionPage(Page[VersionRow]):
    """A page of a process's versions, with what the versions page says of the process as a whole."""

    key: str
    name: str
    current_version: int
    newest_version: int


def _require_supervisor(actor: Actor) -> None:
    if not allows(actor, "definition", "release"):
        raise NotPermitted("只有流程管理员可以管理流程版本。", "Only supervisors manage process versions.",
                           {"roles": [SUPERVISOR]})


def _release_row(session: Session, key: str) -> ProcessRelease | None:
    return session.get(ProcessRelease, key)


def current_definition(session: Session, key: str) -> ProcessDefinition:
    """The version new cases of ``key`` start on: the released one if pinned, else the newest."""
    release = _release_row(session, key)
    if release is not None:
        return release.definition
    return latest_definition(session, key)


def pinned_versions(session: Session) -> dict[str, int]:
    """Process key → the pinned current version, for processes whose current version is not the newest."""
    return {key: version for key, version in session.execute(
        select(ProcessRelease.key, ProcessDefinition.version)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessRelease.definition_id))}


def _point_release(session: Session, actor: Actor | None, definition: ProcessDefinition, newest_version: int,
                   at: datetime) -> None:
    """Make ``definition`` current: pin it, or drop the pin when it is the newest version."""
    if definition.version == newest_version:
        session.execute(delete(ProcessRelease).where(ProcessRelease.key == definition.key))
        return
    release = _release_row(session, definition.key)
    if release is None:
        release = ProcessRelease(key=definition.key)
        session.add(release)
    release.definition_id = definition.id
    release.definition = definition
    release.released_by_id = actor.user_id if actor else None
    release.released_at = at
    try:
        session.flush()
    except IntegrityError as exc:  # another supervisor pinned this process at the same moment
        raise Conflict("当前版本正被他人同时修改，请刷新后重试。",
                       "Someone else changed the current version at the same time; reload and retry.") from exc


def _audit(session: Session, actor: Actor | None, event_type: str, payload: dict[str, object], at: datetime) -> None:
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft(event_type, payload)], at=at,
                 actor_id=actor.user_id if actor else None, actor_name=actor.username if actor else "system")


def deploy_version(session: Session, xml: bytes, actor: Actor | None, forms: FormStore, *, at: datetime,
                   comment: str | None = None, make_current: bool = True) -> DeployResult:
    """Deploy (validated, audited by ``definitions.deploy``) and decide which version is current.

    ``make_current``: new cases start on the deployed version. Otherwise they keep starting on the
    version that was current before. ``actor`` None is the system (bootstrap); a person must be a
    supervisor.
    """
    if actor is not None:
        _require_supervisor(actor)
    result = deploy(session, xml, actor, forms, at=at, comment=comment)
    definition = result.definition
    newest = definition.version  # deploy returns the newest version: the new one, or the identical newest
    before = _current_before_deploy(session, result)
    pinned = _release_row(session, definition.key) is not None
    if make_current:
        _point_release(session, actor, definition, newest, at)
        # Without a pin the newest version was already current: deploying it says enough.
        if pinned and before is not None and before.id != definition.id:
            _audit(session, actor, "definition_released", {
                "key": definition.key, "version": definition.version, "definition_id": definition.id,
                "previous_version": before.version, "reason": "deploy"}, at)
    else:
        _point_release(session, actor, before or definition, newest, at)
        if result.created and before is not None:
            _audit(session, actor, "definition_kept_current", {
                "key": definition.key, "current_version": before.version, "deployed_version": definition.version}, at)
    return result


def _current_before_deploy(session: Session, result: DeployResult) -> ProcessDefinition | None:
    """The version that was current before ``result``'s deploy (None for a process's first one).
    The pin is untouched by ``deploy``; without one, the newest before was the predecessor."""
    definition = result.definition
    release = _release_row(session, definition.key)
    if release is not None:
        return release.definition
    if not result.created:
        return definition
    if definition.version == 1:
        return None
    return get_version(session, definition.key, definition.version - 1)


def list_versions(session: Session, actor: Actor, key: str, *, page: int = 1, per_page: int = 50) -> VersionPage:
    """Every version of ``key``, newest first, with who deployed it, whether it is current and (for
    supervisors) how many cases still run on it — counted in one grouped query."""
    newest = latest_definition(session, key)
    current = current_definition(session, key)
    page, per_page = max(page, 1), min(max(per_page, 1), 200)
    total = session.execute(select(func.count()).select_from(ProcessDefinition)
                            .where(ProcessDefinition.key == key)).scalar_one()
    definitions = list(session.execute(
        select(ProcessDefinition).where(ProcessDefinition.key == key)
        .options(joinedload(ProcessDefinition.deployed_by))
        .order_by(ProcessDefinition.version.desc()).offset((page - 1) * per_page).limit(per_page)).scalars())
    counts: dict[int, int] | None = None
    if allows(actor, "definition", "release"):
        ids = [d.id for d in definitions]
        counts = {definition_id: count for definition_id, count in session.execute(
            select(ProcessInstance.definition_id, func.count())
            .where(ProcessInstance.definition_id.in_(ids), ProcessInstance.status.not_in(FINISHED))
            .group_by(ProcessInstance.definition_id))} if ids else {}
    rows = [VersionRow(d, d.id == current.id, counts.get(d.id, 0) if counts is not None else None)
            for d in definitions]
    return VersionPage(rows, total, page, per_page, key=key, name=newest.name, current_version=current.version,
                       newest_version=newest.version)


def release(session: Session, actor: Actor, key: str, version: int, *, at: datetime) -> ProcessDefinition:
    """标记为当前版本: new cases of ``key`` start on ``version`` from now on. Running cases stay where
    they are (moving them is a migration)."""
    _require_supervisor(actor)
    definition = get_version(session, key, version)
    before = current_definition(session, key)
    if before.id == definition.id:
        return definition
    _point_release(session, actor, definition, latest_definition(session, key).version, at)
    _audit(session, actor, "definition_released", {
        "key": key, "version": version, "definition_id": definition.id, "previous_version": before.version,
        "reason": "release"}, at)
    return definition


def roll_back(session: Session, actor: Actor, forms: FormStore, key: str, version: int, *, at: datetime,
              comment: str | None = None) -> DeployResult:
    """回滚: a new version carrying ``version``'s XML, re-validated against today's groups and forms
    (DefinitionInvalid lists the problems if it no longer passes), made current."""
    _require_supervisor(actor)
    source = get_version(session, key, version)
    newest = latest_definition(session, key)
    if source.id == newest.id or source.sha256 == newest.sha256:
        raise Conflict(f"第 {version} 版与最新版本内容相同，无需回滚；如需新实例使用它，请设为当前版本。",
                       f"Version {version} has the same content as the newest version; nothing to roll back. "
                       "Mark it current instead.", {"version": version, "newest_version": newest.version})
    before = current_definition(session, key)
    note = comment or f"回滚到第 {version} 版 / Rolled back to version {version}"
    result = deploy(session, source.bpmn_xml.encode("utf-8"), actor, forms, at=at, comment=note[:500])
    _point_release(session, actor, result.definition, result.definition.version, at)
    _audit(session, actor, "definition_rolled_back", {
        "key": key, "version": result.definition.version, "definition_id": result.definition.id,
        "source_version": version, "previous_current_version": before.version, "comment": comment}, at)
    return result


def compare(session: Session, key: str, from_version: int, to_version: int
            ) -> tuple[ProcessDefinition, ProcessDefinition, DiagramDiff]:
    """The two versions and what changed from the first to the second (NotFound for either missing)."""
    before = get_version(session, key, from_version)
    after = get_version(session, key, to_version)
    return before, after, diff_diagrams(before.bpmn_xml, after.bpmn_xml)
