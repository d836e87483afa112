"""What "nothing half-written" means, checked on a whole database after processes died or the database
restarted: every instance's state deserializes; its ready human-task rows are exactly its workflow's
READY user tasks; its waiting timer rows are exactly its workflow's WAITING timers; every audit chain
verifies. Returns the problems found (an empty list: consistent)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine import audit, projection, runtime
from engine.context import EngineContext
from engine.db import make_engine, make_session_factory
from models import HumanTask, ProcessInstance, TaskStatus, Timer, TimerStatus


def problems(url: str, attachments_dir: Path) -> list[str]:
    found: list[str] = []
    engine = make_engine(url)
    ctx = EngineContext.default(attachments_dir=attachments_dir)
    try:
        with make_session_factory(engine, read_only=True)() as session:
            ready: dict[int, set[str]] = defaultdict(set)
            for instance_id, guid in session.execute(select(HumanTask.instance_id, HumanTask.task_guid).where(
                    HumanTask.status == TaskStatus.READY)):
                ready[instance_id].add(guid)
            waiting: dict[int, set[str]] = defaultdict(set)
            for instance_id, guid in session.execute(select(Timer.instance_id, Timer.task_guid).where(
                    Timer.status == TimerStatus.WAITING)):
                waiting[instance_id].add(guid)
            for instance in session.execute(select(ProcessInstance).order_by(ProcessInstance.id)).scalars():
                try:
                    workflow = runtime.restore(session, ctx, instance, to_step=False)
                except Exception as error:  # any failure to load is the finding
                    found.append(f"instance {instance.id}: state does not load: {error!r}")
                    continue
                if projection.ready_guids(workflow) != ready[instance.id]:
                    found.append(f"instance {instance.id}: ready task rows {sorted(ready[instance.id])} != "
                                 f"workflow {sorted(projection.ready_guids(workflow))}")
                timers = {str(t.id) for t in workflow.get_tasks(state=TaskState.WAITING)
                          if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)}
                if timers != waiting[instance.id]:
                    found.append(f"instance {instance.id}: waiting timer rows {sorted(waiting[instance.id])} != "
                                 f"workflow {sorted(timers)}")
            checked = audit.verify(session)
            if not checked.ok:
                found.append(f"audit chain broken: {checked.first_broken}")
    finally:
        engine.dispose()
    return found
