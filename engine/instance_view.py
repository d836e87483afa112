"""Where a case stands, drawn on the diagram of the version it is pinned to: what is done, where it is
now, which timers wait — and its history beside it, each entry naming the element it concerns.

The stored workflow state is pruned (docs/architecture.md, "Finished history is pruned"), so what
was done cannot be read from SpiffWorkflow's task tree alone. It is the union of
- the COMPLETED tasks still in the (pruned) tree,
- the completed ``human_task`` rows and the fired ``timer`` rows,
- the steps in the case's audit stream: each step starts with what triggered it (the instance
  started, a task completed, a timer fired) and lists the tasks it created; the elements the engine
  passed through in between (gateways, script tasks, events, sub-process entries and exits) and the
  sequence flows taken are the diagram's paths from the trigger to what was created, through
  elements that never wait. Taking the paths per step keeps loops exact: a send-back marks the
  back flow only if a step actually went back.
Nothing here writes or locks: the workflow is restored read-only (``runtime.restore(to_step=False)``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEvent, HumanTask, ProcessDefinition, ProcessInstance, TaskStatus, Timer, TimerStatus

from . import audit, runtime
from .actors import Actor
from .bpmn_graph import DiagramGraph, certain_run, graph_of, paths_between
from .context import EngineContext
from .definitions import SPEC_CACHE
from .permissions import allows

DONE, CURRENT, WAITING = "done", "current", "waiting"

# Audit events that start a step, and those written in the same step after it (anything else ends it).
_FOLLOWERS = {"task_created", "task_cancelled", "task_claimed", "task_assigned", "task_returned", "case_updated",
              "escalated", "instance_completed"}


@dataclass
class Step:
    """One recorded step of a case: what set it off and the tasks it created."""

    sources: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)
    completed_instance: bool = False


def _element_of(event_type: str, payload: dict[str, Any]) -> str | None:
    value = payload.get("event_id" if event_type == "escalated" else "bpmn_id")
    return value if isinstance(value, str) and value else None


def recorded_steps(events: list[AuditEvent], payloads: list[dict[str, Any]], graph: DiagramGraph, process_id: str
                   ) -> list[Step]:
    """The case's steps as its audit stream records them. A step's events are written together, in
    order: its trigger (``instance_started``, ``task_completed``, ``timer_fired``) first, then what
    the step did (``task_created``, ``escalated`` for a timer that fired during it …)."""
    steps: list[Step] = []
    step: Step | None = None
    for event, payload in zip(events, payloads, strict=True):
        kind, element = event.event_type, _element_of(event.event_type, payload)
        if kind == "instance_started":
            step = Step(sources=set(graph.starts.get(process_id, [])))
            steps.append(step)
        elif kind in ("task_completed", "timer_fired"):
            step = Step(sources={element} if element else set())
            steps.append(step)
        elif kind in _FOLLOWERS:
            if step is None:
                continue
            if kind == "task_created" and element:
                step.targets.add(element)
            elif kind == "escalated" and element:
                step.sources.add(element)
            elif kind == "instance_completed":
                step.completed_instance = True
        else:
            step = None  # another transaction (a read, a comment …): what follows is not this step's
    return steps


def taken(graph: DiagramGraph, steps: list[Step], process_id: str, waited: set[str]) -> tuple[set[str], set[str]]:
    """Every element and flow the recorded steps passed through, their triggers included.
    ``waited``: the timer events the case ever waited at (a run may stop at an intermediate timer)."""
    catch = {n for n in waited if graph.kinds.get(n) == "intermediateCatchEvent"}
    nodes: set[str] = set()
    flows: set[str] = set()
    for step in steps:
        sources = {s for s in step.sources if s in graph.kinds}
        nodes |= sources
        passed, used = certain_run(graph, sources)
        nodes |= passed
        flows |= used
        targets = {t for t in step.targets if t in graph.kinds} | catch
        if step.completed_instance:
            targets |= set(graph.ends.get(process_id, []))
        found, used, reached = paths_between(graph, sources, targets)
        nodes |= found | {t for t in reached if graph.kinds[t] == "endEvent"}
        flows |= used
    return nodes, flows


# -- the view -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingTimer:
    timer_id: int
    element_id: str
    name: str
    due_at: datetime
    grade: str | None  # 提醒 / 督办 / 通报 when the boundary event escalates
    attached_to: str | None


@dataclass(frozen=True)
class HistoryEntry:
    event: AuditEvent
    element_id: str | None  # the diagram element the event concerns, if any


@dataclass(frozen=True)
class TreeTask:
    """A task of the stored (pruned) workflow tree, for supervisors' technical details."""

    task_guid: str
    element_id: str
    state: str


@dataclass
class InstanceDiagram:
    instance: ProcessInstance
    definition: ProcessDefinition
    marks: dict[str, str]  # element or flow id → done / current / waiting
    current: list[HumanTask]  # the open user tasks, oldest first
    timers: list[WaitingTimer]
    history: list[HistoryEntry]
    tree: list[TreeTask] | None  # supervisors only

    def at(self, element_id: str) -> list[HumanTask]:
        return [task for task in self.current if task.bpmn_id == element_id]


def pinned_definition(session: Session, actor: Actor, instance_id: int) -> ProcessDefinition:
    """The version an instance runs on, for whoever may see the instance (NotFound otherwise)."""
    instance = runtime.get_instance(session, actor, instance_id)
    definition = session.get(ProcessDefinition, instance.definition_id)
    assert definition is not None  # a foreign key
    return definition


def instance_diagram(session: Session, ctx: EngineContext, actor: Actor, instance_id: int) -> InstanceDiagram:
    """The instance's diagram state for whoever may see the case (NotFound for everyone else).

    Reads only: no row is locked and nothing is written.
    """
    instance = runtime.get_instance(session, actor, instance_id)
    definition = session.get(ProcessDefinition, instance.definition_id)
    assert definition is not None  # a foreign key
    graph = graph_of(definition)
    parsed = SPEC_CACHE.for_definition_id(session, instance.definition_id, ctx.forms)
    workflow = runtime.restore(session, ctx, instance, to_step=False)

    tree_done: set[str] = set()
    tree: list[TreeTask] = []
    for tasks in (workflow.tasks, *(sub.tasks for sub in workflow.subprocesses.values())):
        for task in tasks.values():
            element = getattr(task.task_spec, "bpmn_id", None)
            if element not in graph.kinds:
                continue
            tree.append(TreeTask(str(task.id), element, TaskState.get_name(task.state)))
            if task.state == TaskState.COMPLETED:
                tree_done.add(element)

    rows = list(session.execute(select(HumanTask).where(HumanTask.instance_id == instance.id)
                                .order_by(HumanTask.id)).scalars())
    current = [row for row in rows if row.status == TaskStatus.READY]
    timer_rows = list(session.execute(select(Timer).where(Timer.instance_id == instance.id)
                                      .order_by(Timer.due_at, Timer.id)).scalars())
    events = audit.stream_events(session, instance.id)
    payloads = [_payload(event) for event in events]

    steps = recorded_steps(events, payloads, graph, parsed.process_id)
    done, flows = taken(graph, steps, parsed.process_id, {row.bpmn_id for row in timer_rows})
    done |= tree_done
    done |= {row.bpmn_id for row in rows if row.status == TaskStatus.COMPLETED}
    done |= {row.bpmn_id for row in timer_rows if row.status == TimerStatus.FIRED}

    timers = []
    for row in timer_rows:
        if row.status != TimerStatus.WAITING:
            continue
        escalation = parsed.escalations.get(row.bpmn_id)
        timers.append(WaitingTimer(row.id, row.bpmn_id, graph.names.get(row.bpmn_id, ""), row.due_at,
                                   escalation.grade if escalation else None, graph.attached_to.get(row.bpmn_id)))

    marks: dict[str, str] = {element: DONE for element in done | flows if element}
    for timer in timers:
        marks[timer.element_id] = WAITING
    for task in current:
        marks[task.bpmn_id] = CURRENT
    for element in [task.bpmn_id for task in current] + [timer.element_id for timer in timers]:
        for parent in graph.ancestors(element):
            marks[parent] = CURRENT  # a sub-process with someone (or a timer) inside it is where the case is
    marks = {element: mark for element, mark in marks.items() if element in graph.kinds or element in graph.flow_ids}

    history = [HistoryEntry(event, _history_element(event.event_type, payload, graph, parsed.process_id))
               for event, payload in zip(events, payloads, strict=True)]
    return InstanceDiagram(instance, definition, marks, current, timers, history,
                           tree if allows(actor, "case", "inspect_state") else None)


def _payload(event: AuditEvent) -> dict[str, Any]:
    try:
        value = json.loads(event.payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _history_element(event_type: str, payload: dict[str, Any], graph: DiagramGraph, process_id: str
                     ) -> str | None:
    if event_type == "instance_started":
        starts = graph.starts.get(process_id, [])
        return starts[0] if starts else None
    element = _element_of(event_type, payload)
    return element if element in graph.kinds else None
