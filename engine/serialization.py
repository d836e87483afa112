"""SpiffWorkflow serialization without the embedded spec.

SpiffWorkflow's default serializer writes the whole parsed spec into every saved state (about half
the bytes of a small workflow) and re-parses it on every load. We store a reference to the
definition instead and hand the cached spec objects back in when restoring: rows are half the size
and a persisted step skips the costliest part of deserialization.
"""

from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

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


def dump_state(workflow: BpmnWorkflow) -> str:
    """Serialize a workflow's runtime state (tasks, data, subprocesses, events) without its spec."""
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


def restore_data(state: str) -> dict[str, Any]:
    """The workflow data of a stored state, without restoring the workflow."""
    dct = json.loads(state)
    data: dict[str, Any] = _REGISTRY.restore(dct.get("data", {}))
    return data
