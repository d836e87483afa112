"""Moving running cases from one version of a process to another (版本迁移), after a dry run.

A dry run judges every running or suspended case on the source version and stores the report in a
``migration_run`` row; it changes no case. A bulk run moves every movable case, each in its own
transaction under the instance lock (the same lock and optimistic version as a task step), so one
case failing leaves it untouched and the others still move; its report and counts are stored too.

Whether a case can move is SpiffWorkflow's own diff (``SpiffWorkflow.bpmn.util.diff``): it can if
none of its unfinished tasks (ready, started, waiting — in the top workflow and in every
sub-workflow, such as each item of a multi-instance sub-process) maps to a task the new version
removed, and no sub-workflow it is inside lost its spec. The move is then tried on the restored
workflow, and its state must load on the new version's specs, so what the dry run calls movable is
what the bulk run can do.

Timers: SpiffWorkflow's ``migrate_workflow`` resets ready *and waiting* tasks by default, which
would start a waiting timer's clock again (a 督办 ``deadline_in(22)`` would get a fresh deadline just
because the diagram changed). We reset ready tasks (their predicted paths follow the new diagram)
but a waiting event only when its event definition itself changed; an unchanged timer keeps its
original due time and its ``timer`` row.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from models import InstanceStatus, MigrationRun, ProcessDefinition, ProcessInstance, ProcessRelease

from . import audit, escalation
from .actors import Actor
from .clock import FrozenClock
from .context import EngineContext
from .db import transaction
from .definitions import SPEC_CACHE, ParsedDefinition, get_version
from .errors import InvalidInput, NotFound, NotPermitted
from .permissions import allows
from .runtime import _persist, _run, flush, restore
from .serialization import FULL_SERIALIZER, dump_state, load_state
from .taskaccess import lock_instance

SUPERVISOR = "supervisor"
MOVABLE_STATUSES = (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED)
CANDIDATE_STATUSES = (*MOVABLE_STATUSES, InstanceStatus.ERROR)
UNFINISHED = TaskState.READY | TaskState.STARTED | TaskState.WAITING
_REGISTRY = FULL_SERIALIZER.registry

# Outcomes in a run's report.
DRY_RUN, MOVED, FAILED, NOT_MOVABLE, SKIPPED = "dry_run", "moved", "failed", "not_movable", "skipped"


@dataclass
class Assessment:
    """One case's entry in a run's report."""

    instance_id: int
    reference: str | None
    title: str
    status: str
    movable: bool = True
    reason_zh: str | None = None
    reason_en: str | None = None
    current: list[str] = field(default_factory=list)  # bpmn ids of its ready tasks
    changed: list[dict[str, Any]] = field(default_factory=list)  # its ready tasks the new version changed
    outcome: str = DRY_RUN
    error: str | None = None

    def refuse(self, zh: str, en: str) -> Assessment:
        self.movable, self.reason_zh, self.reason_en = False, zh, en
        return self

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def require_supervisor(actor: Actor) -> None:
    if not allows(actor, "definition", "migrate"):
        raise NotPermitted("只有流程管理员可以迁移流程实例。", "Only supervisors migrate process instances.",
                           {"roles": [SUPERVISOR]})


# -- judging and moving one workflow ----------------------------------------------------------------------------


def _name(task: Any) -> str:
    spec = task.task_spec
    return str(getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name)


def _bpmn_id(task: Any) -> str:
    return str(getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name)


def _ready_ids(workflow: BpmnWorkflow) -> list[str]:
    """The bpmn ids of the case's ready user tasks (its current tasks), sorted."""
    return sorted(_bpmn_id(t) for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                  if not isinstance(t.task_spec, SubWorkflowTask))


def _unfinished(workflow: Any) -> list[Any]:
    return list(workflow.get_tasks(state=UNFINISHED, skip_subprocesses=True))


def _removed_reason(task: Any) -> tuple[str, str]:
    bpmn_id, name = _bpmn_id(task), _name(task)
    if task.state == TaskState.WAITING:
        return (f"等待中的事件 {bpmn_id}（{name}）在新版本中已删除",
                f"its waiting event {bpmn_id} ({name}) was removed in the new version")
    if task.state == TaskState.STARTED:
        return (f"进行中的环节 {bpmn_id}（{name}）在新版本中不存在",
                f"its running step {bpmn_id} ({name}) no longer exists in the new version")
    return (f"当前任务 {bpmn_id}（{name}）在新版本中不存在",
            f"its current task {bpmn_id} ({name}) no longer exists in the new version")


@dataclass
class _Plan:
    """The diffs of one workflow against the new version: the top one and one per sub-workflow."""

    top: WorkflowDiff
    top_spec: SpecDiff
    subs: dict[Any, tuple[WorkflowDiff, SpecDiff] | None]


def _diff(workflow: BpmnWorkflow, target: ParsedDefinition) -> _Plan:
    top, sub_diffs = diff_workflow(_REGISTRY, workflow, target.spec, target.subprocess_specs)
    top_spec = SpecDiff(_REGISTRY, workflow.spec, target.spec)
    subs: dict[Any, tuple[WorkflowDiff, SpecDiff] | None] = {}
    for sp_id, sub_diff in sub_diffs.items():
        sub = workflow.subprocesses[sp_id]
        subs[sp_id] = None if sub_diff is None else (
            sub_diff, SpecDiff(_REGISTRY, sub.spec, target.subprocess_specs[sub.spec.name]))
    return _Plan(top, top_spec, subs)


def _judge(workflow: BpmnWorkflow, plan: _Plan, entry: Assessment) -> None:
    """Refuse the case if an unfinished task of it maps to a removed spec (see the module's docstring)."""
    for task in _unfinished(workflow):
        if task in plan.top.removed:
            entry.refuse(*_removed_reason(task))
            return
    for sp_id, sub_plan in plan.subs.items():
        sub = workflow.subprocesses[sp_id]
        if sub_plan is None:
            if _unfinished(sub):
                entry.refuse(f"子流程 {sub.spec.name} 在新版本中已删除",
                             f"its sub-process spec {sub.spec.name} was removed in the new version")
                return
            continue
        for task in _unfinished(sub):
            if task in sub_plan[0].removed:
                entry.refuse(*_removed_reason(task))
                return


def _changed_ready(workflow: BpmnWorkflow, plan: _Plan) -> list[dict[str, Any]]:
    changed = [(t, plan.top_spec.changed[t.task_spec]) for t in plan.top.changed]
    for sub_plan in plan.subs.values():
        if sub_plan is not None:
            changed += [(t, sub_plan[1].changed[t.task_spec]) for t in sub_plan[0].changed]
    return [{"bpmn_id": _bpmn_id(t), "name": _name(t), "attributes": sorted(attrs)}
            for t, attrs in changed if t.state == TaskState.READY and not t.task_spec.name.endswith("[child]")]


def _move_one(workflow: Any, diff: WorkflowDiff, spec_diff: SpecDiff, new_spec: Any) -> None:
    """``migrate_workflow`` resetting ready tasks, and waiting events only when their event changed
    (an unchanged timer keeps its due time; see the module's docstring)."""
    restart = [t for t in workflow.get_tasks(state=TaskState.WAITING, skip_subprocesses=True)
               if "event_definition" in spec_diff.changed.get(t.task_spec, ())
               or "typename" in spec_diff.changed.get(t.task_spec, ())]
    migrate_workflow(diff, workflow, new_spec, reset_mask=TaskState.READY)
    for task in restart:
        if task.id in workflow.tasks:
            task.reset_branch(None)


def _migrate(ctx: EngineContext, instance: ProcessInstance, workflow: BpmnWorkflow, plan: _Plan,
             target: ParsedDefinition) -> list[Any]:
    """Move the workflow onto the target specs and run it to its next wait; returns timers fired.

    A suspended case runs on the moment it was suspended: nothing comes due meanwhile, and resuming
    shifts what the move started, like everything else it has running."""
    for sp_id, sub_plan in plan.subs.items():
        if sub_plan is not None:
            sub = workflow.subprocesses[sp_id]
            _move_one(sub, sub_plan[0], sub_plan[1], target.subprocess_specs[sub.spec.name])
    workflow.subprocess_specs = target.subprocess_specs
    _move_one(workflow, plan.top, plan.top_spec, target.spec)
    if instance.status == InstanceStatus.SUSPENDED and instance.suspended_at is not None:
        ctx = dataclasses.replace(ctx, clock=FrozenClock(instance.suspended_at))
    return _run(ctx, workflow)


def _assess(session: Session, ctx: EngineContext, instance: ProcessInstance, target: ParsedDefinition
            ) -> tuple[Assessment, BpmnWorkflow | None, list[Any]]:
    """Judge one case and, when it can move, move a freshly restored copy of its workflow (nothing is
    written): returns the report entry, the moved workflow and the timers that fired."""
    entry = Assessment(instance.id, instance.reference, instance.title, instance.status)
    if instance.status == InstanceStatus.ERROR or instance.last_error:
        return entry.refuse("实例处于错误状态", "the instance is in error"), None, []
    if instance.status not in MOVABLE_STATUSES:
        return entry.refuse("实例已结束", "the instance has finished"), None, []
    workflow = restore(session, ctx, instance, to_step=False)
    entry.current = _ready_ids(workflow)
    plan = _diff(workflow, target)
    _judge(workflow, plan, entry)
    if not entry.movable:
        return entry, None, []
    entry.changed = _changed_ready(workflow, plan)
    try:
        fired = _migrate(ctx, instance, workflow, plan, target)
        state = dump_state(workflow)  # prunes finished history, as saving will
        stale = _stale_task(workflow)
        if stale is not None:
            bpmn_id, name = _bpmn_id(stale), _name(stale)
            return entry.refuse(f"已办结的环节 {bpmn_id}（{name}）仍在实例记录中，但在新版本中不存在",
                                f"its finished step {bpmn_id} ({name}) is still part of its state but no "
                                "longer exists in the new version"), None, []
        load_state(state, target.spec, target.subprocess_specs)  # the new version must read what we store
    except Exception as exc:  # any failure of the trial is the case's reason
        detail = str(exc) or type(exc).__name__
        return entry.refuse(f"按新版本试运行失败：{detail}", f"trying the move failed: {detail}"), None, []
    return entry, workflow, fired


def _stale_task(workflow: BpmnWorkflow) -> Any | None:
    """A task still kept in the state whose spec the new version does not have (SpiffWorkflow leaves a
    removed spec on finished tasks; the state could not be read back)."""
    for flow in (workflow, *workflow.subprocesses.values()):
        for task in flow.tasks.values():
            if flow.spec.task_specs.get(task.task_spec.name) is not task.task_spec:
                return task
    return None


# -- runs ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Versions:
    key: str
    source: ProcessDefinition
    target: ProcessDefinition


def _versions(session: Session, key: str, from_version: Any, to_version: Any) -> _Versions:
    if not isinstance(from_version, int) or not isinstance(to_version, int) or isinstance(
            from_version, bool) or isinstance(to_version, bool):
        raise InvalidInput("请给出源版本和目标版本（整数）。", "Give from_version and to_version as integers.",
                           {"fields": ["from_version", "to_version"]})
    if from_version == to_version:
        raise InvalidInput("源版本和目标版本不能相同。", "The source and target versions must differ.",
                           {"fields": ["to_version"]})
    return _Versions(key, get_version(session, key, from_version), get_version(session, key, to_version))


def _candidates(session: Session, source: ProcessDefinition) -> list[int]:
    return list(session.execute(select(ProcessInstance.id).where(
        ProcessInstance.definition_id == source.id, ProcessInstance.status.in_(CANDIDATE_STATUSES))
        .order_by(ProcessInstance.id)).scalars())


def run_migration(factory: sessionmaker[Session], ctx: EngineContext, actor: Actor, key: str,
                  from_version: Any, to_version: Any, *, dry_run: bool) -> MigrationRun:
    """Dry-run or run the move of ``key``'s cases from ``from_version`` to ``to_version``.

    Several transactions: the run row, then (bulk) one per case, then the report and counts. The
    returned row is detached, with its report. Refused (NotPermitted) for anyone but a supervisor.
    """
    require_supervisor(actor)
    with transaction(factory) as session:
        versions = _versions(session, key, from_version, to_version)
        target = SPEC_CACHE.get(session, versions.target, ctx.forms)
        run = MigrationRun(key=key, from_definition_id=versions.source.id, to_definition_id=versions.target.id,
                           dry_run=dry_run, status="running", started_by_id=actor.user_id or None,
                           started_at=ctx.clock.now(), report=[])
        session.add(run)
        session.flush()
        run_id = run.id
        ids = _candidates(session, versions.source)
    if dry_run:
        entries = [_judge_in_own_session(factory, ctx, instance_id, target) for instance_id in ids]
    else:
        entries = [_move_in_own_transaction(factory, ctx, actor, versions, instance_id) for instance_id in ids]
    return _finish(factory, ctx, actor, run_id, versions, entries, dry_run)


def _judge_in_own_session(factory: sessionmaker[Session], ctx: EngineContext, instance_id: int,
                          target: ParsedDefinition) -> Assessment:
    """A dry run's look at one case: a short session each (never one long transaction over every case),
    rolled back — the trial move happens on a restored copy and nothing is written."""
    with factory() as session:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound("流程实例不存在。", "The process instance does not exist.")
        return _assess(session, ctx, instance, target)[0]


def _move_in_own_transaction(factory: sessionmaker[Session], ctx: EngineContext, actor: Actor, versions: _Versions,
                             instance_id: int) -> Assessment:
    try:
        with transaction(factory) as session:
            return move_instance(session, ctx, actor, versions.source.id, versions.target.id, instance_id)
    except Exception as exc:  # one case failing (lock timeout, a bug) never stops the rest
        with factory() as session:
            instance = session.get(ProcessInstance, instance_id)
            entry = Assessment(instance_id, instance.reference if instance else None,
                               instance.title if instance else "", instance.status if instance else "")
        entry.outcome, entry.error = FAILED, f"{type(exc).__name__}: {exc}"[:500]
        return entry


def move_instance(session: Session, ctx: EngineContext, actor: Actor, source_id: int, target_id: int,
                  instance_id: int) -> Assessment:
    """Move one case inside the caller's transaction, under its lock; judged again after the lock, so
    that a case another run moved meanwhile (or that changed since the dry run) is not moved twice."""
    require_supervisor(actor)
    instance = lock_instance(session, instance_id)
    if instance.definition_id != source_id:
        entry = Assessment(instance.id, instance.reference, instance.title, instance.status, outcome=SKIPPED)
        return entry.refuse("实例已不在源版本上（可能已被迁移）", "the instance is no longer on the source version "
                            "(it may have been moved already)")
    source = SPEC_CACHE.for_definition_id(session, source_id, ctx.forms)
    target_row = session.get(ProcessDefinition, target_id)
    if target_row is None:
        raise NotFound("目标版本不存在。", "The target version does not exist.")
    target = SPEC_CACHE.get(session, target_row, ctx.forms)
    entry, workflow, fired = _assess(session, ctx, instance, target)
    if workflow is None:
        entry.outcome = NOT_MOVABLE
        return entry
    now = ctx.clock.now()
    session.execute(update(ProcessInstance).where(ProcessInstance.id == instance.id)
                    .values(definition_id=target_id).execution_options(synchronize_session=False))
    set_committed_value(instance, "definition_id", target_id)
    drafts = [audit.EventDraft("instance_migrated", {
        "from_version": _version_of(session, source_id), "from_sha256": source.sha256,
        "to_version": target_row.version, "to_sha256": target.sha256,
        "changed_tasks": entry.changed}, instance.id)]
    if fired:
        drafts += escalation.on_timers_fired(session, instance, target, fired, now)
    # The open rows are read back (ready_before=None): a task that is still ready keeps its row — holder,
    # claim, revision and due date — new ready tasks get rows, and rows whose task went are cancelled.
    _persist(session, instance, workflow, target, now, drafts, actor)
    flush(session)
    entry.outcome = MOVED
    entry.status = instance.status
    entry.current = _ready_ids(workflow)
    return entry


def _version_of(session: Session, definition_id: int) -> int:
    return session.execute(select(ProcessDefinition.version).where(
        ProcessDefinition.id == definition_id)).scalar_one()


def _finish(factory: sessionmaker[Session], ctx: EngineContext, actor: Actor, run_id: int, versions: _Versions,
            entries: list[Assessment], dry_run: bool) -> MigrationRun:
    now = ctx.clock.now()
    with transaction(factory) as session:
        run = session.get(MigrationRun, run_id)
        assert run is not None
        run.report = [e.as_dict() for e in entries]
        run.total = len(entries)
        run.movable = sum(1 for e in entries if e.movable and e.outcome != FAILED)
        run.moved = sum(1 for e in entries if e.outcome == MOVED)
        run.failed = sum(1 for e in entries if e.outcome == FAILED)
        run.status, run.finished_at = "finished", now
        if not dry_run:
            audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("migration_run", {
                "run_id": run.id, "key": versions.key, "from_version": versions.source.version,
                "to_version": versions.target.version, "total": run.total, "moved": run.moved,
                "failed": run.failed, "not_movable": sum(1 for e in entries if e.outcome == NOT_MOVABLE),
                "skipped": sum(1 for e in entries if e.outcome == SKIPPED)})],
                at=now, actor_id=actor.user_id or None, actor_name=actor.username)
        session.flush()
        session.refresh(run)
        for relation in ("from_definition", "to_definition", "started_by"):
            getattr(run, relation)
    return run


# -- reading ------------------------------------------------------------------------------------------------------


def get_run(session: Session, actor: Actor, key: str, run_id: int) -> MigrationRun:
    require_supervisor(actor)
    run = session.get(MigrationRun, run_id)
    if run is None or run.key != key:
        raise NotFound("迁移记录不存在。", "The migration run does not exist.")
    return run


def list_runs(session: Session, actor: Actor, key: str) -> list[MigrationRun]:
    require_supervisor(actor)
    return list(session.execute(select(MigrationRun).where(MigrationRun.key == key)
                                .order_by(MigrationRun.id.desc())).scalars())


@dataclass(frozen=True)
class VersionChoice:
    version: int
    running: int  # running and suspended cases on it
    is_current: bool  # the version new cases start on (process_release, else the newest)


def version_choices(session: Session, actor: Actor, key: str) -> list[VersionChoice]:
    """Every version of ``key`` with how many unfinished cases it carries (for the form's defaults)."""
    require_supervisor(actor)
    rows = session.execute(select(ProcessDefinition.id, ProcessDefinition.version).where(
        ProcessDefinition.key == key).order_by(ProcessDefinition.version)).all()
    if not rows:
        raise NotFound(f"流程“{key}”不存在。", f"Process '{key}' does not exist.")
    counts: dict[int, int] = {}
    for definition_id in session.execute(select(ProcessInstance.definition_id).where(
            ProcessInstance.process_key == key, ProcessInstance.status.in_(CANDIDATE_STATUSES))).scalars():
        counts[definition_id] = counts.get(definition_id, 0) + 1
    release = session.get(ProcessRelease, key)
    current_id = release.definition_id if release is not None else rows[-1].id
    return [VersionChoice(row.version, counts.get(row.id, 0), row.id == current_id) for row in rows]

