"""What changed between two BPMN diagrams, element by element (by id).

Each element is reduced to a *signature*: its type, name, attributes, condition, timer and other
event definitions, spiffworkflow properties and extensions, script, documentation, multi-instance
settings, lane, containing (sub-)process and incoming/outgoing flows. Elements present on one side
only are added or removed; equal ids with different signatures are changed (with a list of what);
equal signatures whose drawing (DI bounds, waypoints) differs are "moved only": listed, but not
coloured, since nothing a case does depends on where a shape sits.

Pure: two XML texts in, a ``DiagramDiff`` out. Parsed without entities, DTDs or network access.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .errors import InvalidInput

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# Parts of an element rather than elements of their own: they show up in their owner's signature.
PARTS = {
    "definitions", "collaboration", "laneSet", "childLaneSet", "extensionElements", "documentation",
    "conditionExpression", "script", "multiInstanceLoopCharacteristics", "standardLoopCharacteristics",
    "inputDataItem", "outputDataItem", "loopCardinality", "completionCondition", "ioSpecification", "dataInput",
    "dataOutput", "inputSet", "outputSet", "dataInputAssociation", "dataOutputAssociation", "property",
    "timeDate", "timeDuration", "timeCycle", "incoming", "outgoing", "flowNodeRef", "text",
}
CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}
FLOWS = {"sequenceFlow", "messageFlow", "association", "dataInputAssociation", "dataOutputAssociation"}

TYPE_LABELS: dict[str, tuple[str, str]] = {
    "userTask": ("用户任务", "user task"), "manualTask": ("人工任务", "manual task"),
    "scriptTask": ("脚本任务", "script task"), "serviceTask": ("服务任务", "service task"),
    "businessRuleTask": ("业务规则任务", "business rule task"), "sendTask": ("发送任务", "send task"),
    "receiveTask": ("接收任务", "receive task"), "task": ("任务", "task"),
    "callActivity": ("调用活动", "call activity"), "subProcess": ("子流程", "sub-process"),
    "transaction": ("事务子流程", "transaction"), "adHocSubProcess": ("自由子流程", "ad-hoc sub-process"),
    "startEvent": ("开始事件", "start event"), "endEvent": ("结束事件", "end event"),
    "intermediateCatchEvent": ("中间捕获事件", "intermediate catch event"),
    "intermediateThrowEvent": ("中间抛出事件", "intermediate throw event"),
    "boundaryEvent": ("边界事件", "boundary event"), "exclusiveGateway": ("排他网关", "exclusive gateway"),
    "parallelGateway": ("并行网关", "parallel gateway"), "inclusiveGateway": ("包容网关", "inclusive gateway"),
    "eventBasedGateway": ("事件网关", "event-based gateway"), "complexGateway": ("复杂网关", "complex gateway"),
    "sequenceFlow": ("顺序流", "sequence flow"), "messageFlow": ("消息流", "message flow"),
    "association": ("关联", "association"), "lane": ("泳道", "lane"), "participant": ("池", "pool"),
    "process": ("流程", "process"), "textAnnotation": ("注释", "text annotation"),
    "dataObjectReference": ("数据对象", "data object"), "dataObject": ("数据对象定义", "data object definition"),
    "dataStoreReference": ("数据存储", "data store"), "message": ("消息", "message"),
    "signal": ("信号", "signal"), "error": ("错误", "error"), "escalation": ("升级", "escalation"),
    "group": ("分组", "group"),
}

FIELD_LABELS: dict[str, tuple[str, str]] = {
    "type": ("类型", "type"), "name": ("名称", "name"), "condition": ("条件", "condition"),
    "timer": ("定时", "timer"), "events": ("事件定义", "event definition"), "script": ("脚本", "script"),
    "documentation": ("说明", "documentation"), "loop": ("多实例", "multi-instance"), "lane": ("泳道", "lane"),
    "parent": ("所在流程", "container"), "incoming": ("流入", "incoming flows"),
    "outgoing": ("流出", "outgoing flows"), "attr:default": ("默认流", "default flow"),
    "attr:sourceRef": ("起点", "source"), "attr:targetRef": ("终点", "target"),
    "attr:attachedToRef": ("附着于", "attached to"), "attr:cancelActivity": ("中断任务", "interrupting"),
    "attr:calledElement": ("调用流程", "called process"), "attr:processRef": ("流程引用", "process"),
    "text": ("文字", "text"),
    "property:formJsonSchemaFilename": ("表单", "form"), "property:formUiSchemaFilename": ("表单界面", "form UI"),
    "property:dueWorkingDays": ("期限（工作日）", "due (working days)"),
    "property:returnWith": ("退回设置", "send-back setting"), "property:escalation": ("督办等级", "escalation grade"),
    "property:notify": ("督办通知对象", "escalation audience"),
    "property:extensionApprover": ("延期审批组", "extension approver"),
    "extension:instructionsForEndUser": ("办理说明", "instructions"),
    "extension:preScript": ("前置脚本", "pre-script"), "extension:postScript": ("后置脚本", "post-script"),
}

Signature = dict[str, Any]


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any

    @property
    def label_zh(self) -> str:
        return _field_label(self.field)[0]

    @property
    def label_en(self) -> str:
        return _field_label(self.field)[1]

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "label_zh": self.label_zh, "label_en": self.label_en,
                "before": self.before, "after": self.after}


@dataclass(frozen=True)
class ElementChange:
    element_id: str
    element_type: str
    name: str
    changes: tuple[FieldChange, ...] = ()

    @property
    def type_zh(self) -> str:
        return TYPE_LABELS.get(self.element_type, (self.element_type, self.element_type))[0]

    @property
    def type_en(self) -> str:
        return TYPE_LABELS.get(self.element_type, (self.element_type, self.element_type))[1]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.element_id, "type": self.element_type, "name": self.name,
                "changes": [c.as_dict() for c in self.changes]}


@dataclass
class DiagramDiff:
    added: list[ElementChange] = field(default_factory=list)
    removed: list[ElementChange] = field(default_factory=list)
    changed: list[ElementChange] = field(default_factory=list)
    moved: list[ElementChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.moved)

    def marks_before(self) -> dict[str, str]:
        """Colours for the older diagram: removed and changed elements."""
        return {**{e.element_id: "changed" for e in self.changed}, **{e.element_id: "removed" for e in self.removed}}

    def marks_after(self) -> dict[str, str]:
        """Colours for the newer diagram: added and changed elements."""
        return {**{e.element_id: "changed" for e in self.changed}, **{e.element_id: "added" for e in self.added}}

    def lines(self, english: bool = False) -> list[str]:
        kinds = (("added", self.added), ("removed", self.removed), ("changed", self.changed), ("moved", self.moved))
        return [_line(kind, item, english) for kind, items in kinds for item in items]

    @property
    def summary_zh(self) -> str:
        return "\n".join(self.lines()) or "两个版本的流程图没有差别。"

    @property
    def summary_en(self) -> str:
        return "\n".join(self.lines(english=True)) or "The two diagrams do not differ."

    def as_dict(self) -> dict[str, Any]:
        return {"added": [e.as_dict() for e in self.added], "removed": [e.as_dict() for e in self.removed],
                "changed": [e.as_dict() for e in self.changed], "moved": [e.as_dict() for e in self.moved],
                "summary_zh": self.summary_zh, "summary_en": self.summary_en}


def diff_diagrams(before_xml: str | bytes, after_xml: str | bytes) -> DiagramDiff:
    """Compare two BPMN documents element by element."""
    before, after = _Model(_parse(before_xml)), _Model(_parse(after_xml))
    result = DiagramDiff()
    for element_id in after.order:
        new = after.signatures[element_id]
        old = before.signatures.get(element_id)
        if old is None:
            result.added.append(_change(element_id, new))
        elif old != new:
            result.changed.append(_change(element_id, new, _field_changes(old, new)))
        elif before.geometry.get(element_id) != after.geometry.get(element_id):
            result.moved.append(_change(element_id, new))
    result.removed = [_change(i, before.signatures[i]) for i in before.order if i not in after.signatures]
    for items, model in ((result.added, after), (result.changed, after), (result.moved, after),
                         (result.removed, before)):
        items.sort(key=lambda e, m=model: (e.element_type in FLOWS, m.position[e.element_id]))  # type: ignore[misc]
    return result


# -- reading a document ------------------------------------------------------------------------------------------


def _parse(xml: str | bytes) -> Any:
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    try:
        return etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidInput(f"流程图不是有效的 XML（第 {exc.lineno} 行）。",
                           f"The diagram is not valid XML (line {exc.lineno}).") from exc


def _local(element: Any) -> str:
    return str(etree.QName(element).localname)


def _ns(element: Any) -> str:
    return str(etree.QName(element).namespace or "")


def _text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


class _Model:
    """Signatures of every element of one document, in document order, and each one's drawing."""

    def __init__(self, root: Any):
        self.order: list[str] = []
        self.position: dict[str, int] = {}
        self.signatures: dict[str, Signature] = {}
        self.geometry: dict[str, tuple[Any, ...]] = {}
        lanes: dict[str, str] = {}
        flows_in: dict[str, list[str]] = {}
        flows_out: dict[str, list[str]] = {}
        for lane in root.iter(f"{{{BPMN_NS}}}lane"):
            for ref in lane.iterfind(f"{{{BPMN_NS}}}flowNodeRef"):
                lanes[(ref.text or "").strip()] = lane.get("name") or lane.get("id") or ""
        for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            flows_out.setdefault(flow.get("sourceRef") or "", []).append(flow.get("id") or "")
            flows_in.setdefault(flow.get("targetRef") or "", []).append(flow.get("id") or "")
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            if _ns(element) == BPMN_NS:
                element_id = element.get("id")
                kind = _local(element)
                if not element_id or kind in PARTS or kind.endswith("EventDefinition") or element_id in self.signatures:
                    continue
                signature = _signature(element, kind)
                if element_id in lanes:
                    signature["lane"] = lanes[element_id]
                parent = _container(element)
                if parent:
                    signature["parent"] = parent
                if flows_in.get(element_id):
                    signature["incoming"] = sorted(flows_in[element_id])
                if flows_out.get(element_id):
                    signature["outgoing"] = sorted(flows_out[element_id])
                self.position[element_id] = len(self.order)
                self.order.append(element_id)
                self.signatures[element_id] = signature
            elif _ns(element) == BPMNDI_NS and _local(element) in ("BPMNShape", "BPMNEdge"):
                target = element.get("bpmnElement")
                if target:
                    self.geometry[target] = _geometry(element)


def _container(element: Any) -> str | None:
    parent = element.getparent()
    while parent is not None:
        if _ns(parent) == BPMN_NS and _local(parent) in CONTAINERS:
            return str(parent.get("id") or "")
        parent = parent.getparent()
    return None


def _attribute_name(name: str, element: Any = None) -> str:
    """``name`` or ``prefix:name`` as the document writes it (camunda:formKey, xsi:type …)."""
    qname = etree.QName(name)
    if qname.namespace is None:
        return str(qname.localname)
    prefixes = {uri: prefix for prefix, uri in (element.nsmap.items() if element is not None else ()) if prefix}
    prefix = prefixes.get(qname.namespace) or {SPIFF_NS: "spiffworkflow", XSI_NS: "xsi"}.get(qname.namespace,
                                                                                              qname.namespace)
    return f"{prefix}:{qname.localname}"


def _signature(element: Any, kind: str) -> Signature:
    signature: Signature = {"type": kind}
    name = " ".join((element.get("name") or "").split())
    if name:
        signature["name"] = name
    for attribute, value in element.attrib.items():
        if attribute not in ("id", "name"):
            signature[f"attr:{_attribute_name(attribute, element)}"] = value
    events: list[str] = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        local, namespace = _local(child), _ns(child)
        if namespace == BPMN_NS and local == "conditionExpression":
            signature["condition"] = _text(child)
        elif namespace == BPMN_NS and local == "script":
            signature["script"] = (child.text or "").strip()
        elif namespace == BPMN_NS and local == "documentation":
            signature["documentation"] = _text(child)
        elif namespace == BPMN_NS and local == "text":
            signature["text"] = _text(child)
        elif namespace == BPMN_NS and local in ("multiInstanceLoopCharacteristics", "standardLoopCharacteristics"):
            signature["loop"] = _describe(child)
        elif namespace == BPMN_NS and local == "timerEventDefinition":
            signature["timer"] = "; ".join(f"{_local(part)}: {_text(part)}" for part in child
                                           if isinstance(part.tag, str)) or "—"
        elif namespace == BPMN_NS and local.endswith("EventDefinition"):
            refs = ", ".join(f"{k}={v}" for k, v in sorted(child.attrib.items()) if k != "id")
            events.append(f"{local}({refs})" if refs else local)
        elif namespace == BPMN_NS and local == "extensionElements":
            signature.update(_extensions(child))
    if events:
        signature["events"] = ", ".join(sorted(events))
    return signature


def _extensions(extension_elements: Any) -> Signature:
    found: Signature = {}
    for child in extension_elements:
        if not isinstance(child.tag, str):
            continue
        if _ns(child) == SPIFF_NS and _local(child) == "properties":
            for prop in child.iter(f"{{{SPIFF_NS}}}property"):
                found[f"property:{prop.get('name')}"] = prop.get("value") or _text(prop)
        else:
            found[f"extension:{_local(child)}"] = _describe(child)
    return found


def _describe(element: Any) -> str:
    """A stable one-line rendering of an element's attributes and content (whitespace-insensitive)."""
    attrs = " ".join(f"{_attribute_name(k, element)}={v}" for k, v in sorted(element.attrib.items()) if k != "id")
    parts = [f"{_local(child)}: {_describe(child)}" for child in element if isinstance(child.tag, str)]
    own = (element.text or "").strip() if not len(element) else ""
    return "; ".join(p for p in (attrs, own, *parts) if p)


def _geometry(element: Any) -> tuple[Any, ...]:
    shape = []
    for part in element.iter():
        if not isinstance(part.tag, str):
            continue
        if _ns(part) == DC_NS and _local(part) == "Bounds":
            shape.append(tuple(part.get(a) for a in ("x", "y", "width", "height")))
        elif _ns(part) == DI_NS and _local(part) == "waypoint":
            shape.append((part.get("x"), part.get("y")))
    flags = tuple(sorted((k, v) for k, v in element.attrib.items() if k not in ("id", "bpmnElement")))
    return (flags, tuple(shape))


# -- describing changes ------------------------------------------------------------------------------------------


def _change(element_id: str, signature: Signature, changes: list[FieldChange] | None = None) -> ElementChange:
    return ElementChange(element_id, signature["type"], signature.get("name", ""), tuple(changes or ()))


def _field_changes(old: Signature, new: Signature) -> list[FieldChange]:
    keys = list(old) + [k for k in new if k not in old]
    return [FieldChange(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]


def _field_label(key: str) -> tuple[str, str]:
    if key in FIELD_LABELS:
        return FIELD_LABELS[key]
    prefix, _, rest = key.partition(":")
    zh = {"attr": "属性", "property": "扩展属性", "extension": "扩展"}.get(prefix, prefix)
    return f"{zh} {rest}", f"{prefix} {rest}".replace("attr ", "attribute ")


def _show(value: Any, english: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "—"
    return f"'{value}'" if english else f"“{value}”"


def _line(kind: str, item: ElementChange, english: bool) -> str:
    if english:
        name = f" {item.name}" if item.name else ""
        label = f"{item.type_en}{name} ({item.element_id})"
        verb = {"added": "Added", "removed": "Removed", "changed": "Changed", "moved": "Moved only"}[kind]
        details = "; ".join(f"{c.label_en} {_show(c.before, True)} → {_show(c.after, True)}" for c in item.changes)
        return f"{verb} {label}" + (f": {details}" if details else "")
    label = f"{item.type_zh} {item.name}({item.element_id})" if item.name else f"{item.type_zh}({item.element_id})"
    verb = {"added": "新增", "removed": "删除", "changed": "修改", "moved": "仅移动位置"}[kind]
    details = "；".join(f"{c.label_zh} {_show(c.before)}→{_show(c.after)}" for c in item.changes)
    return f"{verb} {label}" + (f"：{details}" if details else "")
