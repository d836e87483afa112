"""SpiffWorkflow serialization without the embedded spec.

SpiffWorkflow's default serializer writes the whole parsed spec into every saved state (about half
the bytes of a small workflow) and re-parses it on every load. We store a reference to the
definition instead and hand the cached spec objects back in when restoring: rows are half the size
and a persisted step skips the costliest part of deserialization.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from typing import Any

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

STATE_FORMAT = "xuncha-spec-ref/1"


class SpecRefWorkflowConverter(BpmnWorkflowConverter):
    """Like BpmnWorkflowConverter, but the specs are passed in rather than stored."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> BpmnWorkflow:
        if spec is None:
            raise ValueError("a spec-free state needs the spec to restore it")
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], _uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(value)


def _make_registry() -> Any:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = SpecRefWorkflowConverter
    return BpmnWorkflowSerializer.configure(config)


_REGISTRY = _make_registry()
_SERIALIZER = BpmnWorkflowSerializer(_REGISTRY)
# The stock serializer, used for the benchmark's naive baseline and for spec (de)serialization.
FULL_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


def _prune_tree(workflow: Any) -> set[Any]:
    """Drop the finished tasks above the lowest common ancestor of all unfinished tasks.

    SpiffWorkflow keeps every task it ever ran; a loop (a monthly report, a send-back) adds tasks
    forever, so state size and step cost would grow with the age of a case. What lies above that
    ancestor is finished history that no live task can reach again (joins count inputs below it),
    and the history people read is the audit trail. The new root keeps its full data.
    """
    live = [t for t in workflow.tasks.values() if not t.has_state(TaskState.FINISHED_MASK)]
    if not live:
        return set()
    paths = []
    for task in live:
        path = []
        node = task
        while node is not None:
            path.append(node)
            node = node.parent
        paths.append(path[::-1])
    ancestor = paths[0][0]
    for column in zip(*paths, strict=False):
        if any(node is not column[0] for node in column):
            break
        ancestor = column[0]
    if not ancestor.has_state(TaskState.FINISHED_MASK) and ancestor.parent is not None:
        ancestor = ancestor.parent  # the root must be a finished task (joins count a parentless task as done)
    if ancestor is workflow.task_tree:
        return set()
    keep = set()
    stack = [ancestor]
    while stack:
        node = stack.pop()
        keep.add(node.id)
        stack.extend(node.children)
    removed = set(workflow.tasks) - keep
    data = ancestor.data
    for task_id in removed:
        del workflow.tasks[task_id]
    ancestor._parent = None
    ancestor.data = data
    workflow.task_tree = ancestor
    if workflow.last_task is not None and workflow.last_task.id in removed:
        workflow.last_task = None
    return removed


def prune_history(workflow: BpmnWorkflow) -> int:
    """Prune the top workflow and its subprocesses; forget subprocesses whose task is gone."""
    removed = _prune_tree(workflow)
    for sub in list(workflow.subprocesses.values()):
        removed |= _prune_tree(sub)
    alive = set(workflow.tasks).union(*(sub.tasks for sub in workflow.subprocesses.values()))
    for task_id in [k for k in workflow.subprocesses if k not in alive]:
        del workflow.subprocesses[task_id]
    return len(removed)


def dump_state(workflow: BpmnWorkflow) -> str:
    """Serialize a workflow's runtime state (tasks, data, subprocesses, events) without its spec.

    Finished history that no live task can reach is pruned first (see ``_prune_tree``).
    """
    prune_history(workflow)
    _REGISTRY._encoder_mode = True
    try:
        dct = _SERIALIZER.to_dict(workflow)
        dct["format"] = STATE_FORMAT
        dct[BpmnWorkflowSerializer.VERSION_KEY] = _SERIALIZER.VERSION
        return json.dumps(dct, cls=_SERIALIZER._encoder_cls, separators=(",", ":"))
    finally:
        _REGISTRY._encoder_mode = False


def load_state(state: str, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    """Restore a workflow from :func:`dump_state` output and the (cached) specs of its definition."""
    dct = json.loads(state)
    if dct.pop("format", None) != STATE_FORMAT:
        raise ValueError("unknown workflow state format")
    _SERIALIZER.migrate(dct)
    dct.pop("typename", None)
    converter = _REGISTRY.convert_from_dict["BpmnWorkflow"]
    workflow: BpmnWorkflow = converter(dct, spec=spec, subprocess_specs=subprocess_specs)
    return workflow


class WorkflowCache:
    """Live workflow objects of recently stepped instances, so the next step skips deserializing.

    The key is the instance id and a digest of the exact stored state: an entry can only ever be
    used for the state it was saved as (a step that rolled back leaves an entry no row matches,
    which ages out). Entries are taken out when used, so two threads never share a workflow.
    """

    def __init__(self, maxsize: int = 256, enabled: bool = True):
        self.maxsize = maxsize
        self.enabled = enabled
        self._items: OrderedDict[tuple[int, bytes], BpmnWorkflow] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(instance_id: int, state: str) -> tuple[int, bytes]:
        return instance_id, hashlib.blake2b(state.encode("utf-8"), digest_size=20).digest()

    def take(self, instance_id: int, state: str) -> BpmnWorkflow | None:
        if not self.enabled:
            return None
        with self._lock:
            return self._items.pop(self._key(instance_id, state), None)

    def put(self, instance_id: int, state: str, workflow: BpmnWorkflow) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._items[self._key(instance_id, state)] = workflow
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


WORKFLOW_CACHE = WorkflowCache(enabled=os.environ.get("XUNCHA_WORKFLOW_CACHE", "1") != "0")
