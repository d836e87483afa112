"""Deploy checks read from the BPMN XML itself, before and besides SpiffWorkflow's parse.

Each check returns ``Problem``s naming the element at fault, so the modeler can mark it:
constructs our runtime cannot run, events nothing in the diagram can deliver, unreachable nodes
and dead ends, gateways without a default or full conditions, conditions and scripts the sandbox
refuses, Camunda settings we ignore, and (from the parsed specs) timer expressions that do not
evaluate to an ISO 8601 value SpiffWorkflow accepts.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)

from .calendar import CalendarNotLoaded
from .sandbox import ScriptRefused, compile_errors, evaluate

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
B = f"{{{BPMN_NS}}}"


@dataclass(frozen=True)
class Problem:
    element_id: str | None
    message_zh: str
    message_en: str
    severity: str = "error"  # or "warning"

    def as_dict(self) -> dict[str, Any]:
        return {"element_id": self.element_id, "message_zh": self.message_zh, "message_en": self.message_en,
                "severity": self.severity}


def warning(element_id: str | None, zh: str, en: str) -> Problem:
    return Problem(element_id, zh, en, "warning")


CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}
FLOW_NODES = CONTAINERS | {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
    "complexGateway"}

# Elements we refuse whatever they hold: (Chinese, English) reason.
UNSUPPORTED = {
    "businessRuleTask": ("业务规则任务需要 DMN 决策表，本系统不保存 DMN。",
                         "A business rule task needs a DMN decision table; this system stores no DMN."),
    "serviceTask": ("服务任务需要外部服务连接，本系统没有。",
                    "A service task needs a service connector; there is none."),
    "adHocSubProcess": ("不支持自由（ad-hoc）子流程。", "Ad-hoc sub-processes are not supported."),
    "complexGateway": ("不支持复杂网关。", "Complex gateways are not supported."),
    "dataStoreReference": ("不支持数据存储（data store）。", "Data stores are not supported."),
}
UNSUPPORTED_EVENTS = {
    "compensateEventDefinition": ("不支持补偿事件。", "Compensation events are not supported."),
    "conditionalEventDefinition": ("不支持条件事件：运行时不会在数据变化时重新判断条件。",
                                   "Conditional events are not supported: nothing re-checks the condition "
                                   "when data changes."),
}
# SpiffWorkflow names its own task specs so; a node with such an id silently replaces them.
RESERVED_IDS = {"Start", "End"}
# Events our runtime delivers only when the same diagram throws them (no API sends events in).
INTERNAL_EVENTS = {"messageEventDefinition": ("消息", "message"), "signalEventDefinition": ("信号", "signal"),
                   "escalationEventDefinition": ("升级", "escalation"), "errorEventDefinition": ("错误", "error"),
                   "cancelEventDefinition": ("取消", "cancel")}
EVENT_REFS = {"messageEventDefinition": "messageRef", "signalEventDefinition": "signalRef",
              "escalationEventDefinition": "escalationRef", "errorEventDefinition": "errorRef"}
ASSIGNMENT = {"assignee", "candidateGroups", "candidateUsers", "assignmentDefinition"}
# Camunda settings that carry no behaviour worth a warning.
CAMUNDA_QUIET = {"historyTimeToLive", "versionTag", "isStartableInTasklist", "executionPlatform",
                 "executionPlatformVersion"}


def _local(el: Any) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    return tag.split("}", 1)[1] if tag.startswith(B) else ""


def _children(container: Any) -> list[Any]:
    return [c for c in container if _local(c) in FLOW_NODES]


def _label(el: Any) -> str:
    return (el.get("name") or "").strip() or el.get("id") or "?"


def check_structure(root: Any) -> list[Problem]:
    """Every XML-level problem of the executable processes of ``root`` (a parsed definitions element)."""
    processes = [p for p in root.iter(f"{B}process") if p.get("isExecutable", "").lower() == "true"]
    called = {el.get("calledElement") for p in processes for el in p.iter(f"{B}callActivity")}
    # A process a call activity names runs too, even if the modeller left it non-executable.
    processes += [p for p in root.iter(f"{B}process") if p not in processes and p.get("id") in called]
    process_ids = {p.get("id") for p in root.iter(f"{B}process")}
    problems: list[Problem] = []
    for process in processes:
        problems += _unsupported(process, process_ids)
        problems += _camunda(process)
        problems += _code(process)
        problems += _flow(process)
    problems += _events(processes, root)
    problems += _inherited_lanes(processes)
    return problems


def _inherited_lanes(processes: list[Any]) -> list[Problem]:
    """SpiffWorkflow gives the tasks of a sub-process that sits in a lane that lane, whatever lane
    they are drawn in: say so where the two differ, since the task goes to the other group."""
    problems: list[Problem] = []
    for process in processes:
        lane_of = {ref.text.strip(): lane for lane in process.iter(f"{B}lane")
                   for ref in lane.findall(f"{B}flowNodeRef") if ref.text}
        for sub in process.iter():
            if _local(sub) not in {"subProcess", "transaction"} or sub.get("id") not in lane_of:
                continue
            outer = lane_of[sub.get("id")]
            for el in sub.iter():
                own = lane_of.get(el.get("id") or "")
                if el is sub or own is None or own is outer or _local(el) not in FLOW_NODES:
                    continue
                problems.append(warning(
                    el.get("id"), f"“{_label(el)}”画在泳道“{_label(own)}”，但它所在的子流程“{_label(sub)}”在泳道"
                    f"“{_label(outer)}”中，运行时按子流程的泳道分配。要按各自泳道分配，请把子流程移出泳道。",
                    f"'{_label(el)}' is drawn in lane '{_label(own)}' but its sub-process '{_label(sub)}' sits in "
                    f"lane '{_label(outer)}', whose group gets it. To keep each task's own lane, take the "
                    "sub-process out of every lane."))
    return problems


def _unsupported(process: Any, process_ids: set[str | None]) -> list[Problem]:
    problems: list[Problem] = []
    for el in process.iter():
        kind = _local(el)
        element_id = el.get("id")
        if kind in UNSUPPORTED:
            zh, en = UNSUPPORTED[kind]
            problems.append(Problem(element_id, f"“{_label(el)}”：{zh}", f"'{_label(el)}': {en}"))
        elif kind in UNSUPPORTED_EVENTS:
            event = el.getparent()
            zh, en = UNSUPPORTED_EVENTS[kind]
            problems.append(Problem(event.get("id"), f"“{_label(event)}”：{zh}", f"'{_label(event)}': {en}"))
        elif kind in FLOW_NODES and element_id in RESERVED_IDS:
            problems.append(Problem(element_id, f"元素编号“{element_id}”是 SpiffWorkflow 的保留名，请改名。",
                                    f"The element id '{element_id}' is reserved by SpiffWorkflow; rename it."))
        elif kind in FLOW_NODES and el.get("isForCompensation", "").lower() == "true":
            problems.append(Problem(element_id, f"“{_label(el)}”：不支持补偿处理。",
                                    f"'{_label(el)}': compensation handlers are not supported."))
        elif kind == "callActivity" and el.get("calledElement") not in process_ids:
            target = el.get("calledElement") or ""
            problems.append(Problem(element_id, f"调用活动“{_label(el)}”调用的流程“{target}”不在本文件中。",
                                    f"Call activity '{_label(el)}' calls process '{target}', which is not "
                                    "in this file."))
    return problems


def _camunda(process: Any) -> list[Problem]:
    """Camunda/Zeebe settings (assignee, candidateGroups, formKey, listeners …) do nothing here: say so."""
    problems: list[Problem] = []
    for el in process.iter():
        if _local(el) not in FLOW_NODES | {"process", "sequenceFlow"}:
            continue
        names = [_attr_name(a) for a in el.attrib if a.startswith((f"{{{CAMUNDA_NS}}}", f"{{{ZEEBE_NS}}}"))]
        extensions = el.find(f"{B}extensionElements")
        if extensions is not None:
            names += [_attr_name(child.tag) for child in extensions
                      if isinstance(child.tag, str) and child.tag.startswith((f"{{{CAMUNDA_NS}}}", f"{{{ZEEBE_NS}}}"))]
        names = [n for n in dict.fromkeys(names) if n.split(":", 1)[1] not in CAMUNDA_QUIET]
        if names:
            listed = ", ".join(names)
            hint_zh, hint_en = ("", "")
            if any(n.split(":", 1)[1] in ASSIGNMENT for n in names):
                hint_zh, hint_en = ("办理人由泳道决定：请把任务放进以用户组命名的泳道。",
                                    " Who does a task is decided by its lane: put it in a lane named after a group.")
            problems.append(warning(el.get("id"),
                                    f"“{_label(el)}”的 Camunda 设置 {listed} 在本系统中不起作用。{hint_zh}",
                                    f"'{_label(el)}': Camunda settings {listed} are ignored here.{hint_en}"))
    return problems


def _attr_name(qualified: str) -> str:
    namespace, _, local = qualified[1:].partition("}")
    return f"{'zeebe' if namespace == ZEEBE_NS else 'camunda'}:{local}"


def _code(process: Any) -> list[Problem]:
    """Conditions (eval) and scripts (exec) must compile in the sandbox."""
    problems: list[Problem] = []
    nodes = {el.get("id"): el for el in process.iter() if _local(el) in FLOW_NODES}
    for flow in process.iter(f"{B}sequenceFlow"):
        condition = flow.find(f"{B}conditionExpression")
        if condition is not None and (condition.text or "").strip():
            source = nodes.get(flow.get("sourceRef"))
            owner = source.get("id") if source is not None else flow.get("id")
            problems += _compiled(owner, f"条件表达式（连线 {flow.get('id')}）", f"condition (flow {flow.get('id')})",
                                  condition.text.strip(), "eval")
    for el in nodes.values():
        for tag, kind_zh, kind_en, mode in (
                (f"{B}script", "脚本", "script", "exec"),
                (f"{{{SPIFF_NS}}}preScript", "前置脚本", "preScript", "exec"),
                (f"{{{SPIFF_NS}}}postScript", "后置脚本", "postScript", "exec"),
                (f"{B}completionCondition", "多实例完成条件", "completion condition", "eval"),
                (f"{B}loopCardinality", "多实例次数", "loop cardinality", "eval")):
            for code in el.iter(tag):
                if not (code.text or "").strip() or _owner(code, nodes) is not el:
                    continue
                problems += _compiled(el.get("id"), kind_zh, kind_en, code.text.strip(), mode)
                if _local(el) == "scriptTask" and tag.startswith(f"{{{SPIFF_NS}}}"):
                    problems.append(warning(el.get("id"), f"脚本任务“{_label(el)}”的{kind_zh}不会执行（SpiffWorkflow "
                                            "只在其他任务上运行前置/后置脚本），请写进脚本本身。",
                                            f"The {kind_en} of script task '{_label(el)}' never runs (SpiffWorkflow "
                                            "runs pre/post scripts on other tasks only); put it in the script."))
    return problems


def _owner(code: Any, nodes: dict[str | None, Any]) -> Any:
    parent = code.getparent()
    while parent is not None and parent.get("id") not in nodes:
        parent = parent.getparent()
    return parent


def _compiled(element_id: str | None, kind_zh: str, kind_en: str, source: str, mode: str) -> list[Problem]:
    errors = compile_errors(source, mode)
    if not errors:
        return []
    reasons = "; ".join(errors)
    return [Problem(element_id, f"{kind_zh}无法在沙箱中编译：{source}（{reasons}）",
                    f"The {kind_en} does not compile in the sandbox: {source} ({reasons})")]


def _flow(container: Any) -> list[Problem]:
    """Reachability and gateways of one process or sub-process, then of the sub-processes in it."""
    problems: list[Problem] = []
    nodes = {el.get("id"): el for el in _children(container)}
    flows = [f for f in container if _local(f) == "sequenceFlow"]
    succ: dict[str, list[str]] = defaultdict(list)
    outgoing: dict[str, list[Any]] = defaultdict(list)
    for flow in flows:
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if source in nodes and target in nodes:
            succ[source].append(target)
            outgoing[source].append(flow)
    for node_id, el in nodes.items():
        host = el.get("attachedToRef")
        if _local(el) == "boundaryEvent" and host in nodes:
            succ[host].append(node_id)  # a boundary event runs when its host does
    links: dict[str, list[str]] = defaultdict(list)
    for node_id, el in nodes.items():
        link = el.find(f"{B}linkEventDefinition")
        if link is not None and _local(el) == "intermediateCatchEvent":
            links[link.get("name") or ""].append(node_id)
    for node_id, el in nodes.items():
        link = el.find(f"{B}linkEventDefinition")
        if link is not None and _local(el) == "intermediateThrowEvent":
            succ[node_id] += links.get(link.get("name") or "", [])
    event_subprocesses = {i for i, el in nodes.items() if el.get("triggeredByEvent", "").lower() == "true"}
    starts = [i for i, el in nodes.items() if _local(el) == "startEvent"]
    if nodes and not starts:
        problems.append(Problem(container.get("id"), f"“{_label(container)}”没有开始事件。",
                                f"'{_label(container)}' has no start event."))
    reached = _reach([*starts, *event_subprocesses], succ)
    for node_id in nodes:
        if node_id not in reached:
            el = nodes[node_id]
            problems.append(Problem(node_id, f"“{_label(el)}”不可达：从开始事件沿连线到不了这里。",
                                    f"'{_label(el)}' is unreachable: no sequence flow path leads to it from "
                                    "a start event."))
    ends = [i for i in nodes if not succ.get(i)]
    pred: dict[str, list[str]] = defaultdict(list)
    for source, targets in succ.items():
        for target in targets:
            pred[target].append(source)
    finishing = _reach(ends, pred)
    for node_id in reached:
        if node_id not in finishing and node_id in nodes:
            el = nodes[node_id]
            problems.append(warning(node_id, f"“{_label(el)}”之后没有通往结束事件的路径，流程可能永远不结束。",
                                    f"'{_label(el)}' has no path to an end event; the process may never end."))
    for node_id, el in nodes.items():
        problems += _gateway(el, outgoing.get(node_id, []))
        if _local(el) in {"subProcess", "transaction"} and node_id in reached:
            problems += _flow(el)
    return problems


def _reach(roots: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    seen = set(roots)
    queue = deque(seen)
    while queue:
        for nxt in edges.get(queue.popleft(), []):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _has_condition(flow: Any) -> bool:
    condition = flow.find(f"{B}conditionExpression")
    return condition is not None and bool((condition.text or "").strip())


def _gateway(el: Any, outgoing: list[Any]) -> list[Problem]:
    kind, gateway_id = _local(el), el.get("id")
    if kind in {"exclusiveGateway", "inclusiveGateway"} and len(outgoing) >= 2 and not el.get("default"):
        bare = [f.get("id") for f in outgoing if not _has_condition(f)]
        if bare:
            listed = ", ".join(bare)
            return [Problem(gateway_id, f"网关“{_label(el)}”既没有默认连线，连线 {listed} 也没有条件。",
                            f"Gateway '{_label(el)}' has no default flow and flows {listed} have no condition.")]
    if kind == "parallelGateway":
        conditioned = [f.get("id") for f in outgoing if _has_condition(f)]
        if conditioned:
            listed = ", ".join(conditioned)
            return [Problem(gateway_id, f"并行网关“{_label(el)}”的连线 {listed} 带有条件，并行网关会忽略条件。",
                            f"Parallel gateway '{_label(el)}' has conditions on flows {listed}; a parallel "
                            "gateway ignores them.")]
    return []


def _events(processes: list[Any], root: Any) -> list[Problem]:
    """Message, signal, escalation, error and cancel events only ever come from the diagram itself: a
    waiting catch nothing throws would wait forever, a message nothing catches would be lost."""
    names = {el.get("id"): el.get("name") or el.get("errorCode") or el.get("escalationCode") or el.get("id")
             for el in root if _local(el) in {"message", "signal", "escalation", "error"}}
    thrown: dict[str, set[str | None]] = defaultdict(set)
    catches: list[tuple[Any, str, str | None]] = []
    throws: list[tuple[Any, str, str | None]] = []
    for process in processes:
        for el in process.iter():
            kind = _local(el)
            if kind not in FLOW_NODES:
                continue
            definitions = [(d, _local(d)) for d in el if _local(d) in INTERNAL_EVENTS]
            if kind in {"sendTask", "receiveTask"}:
                definitions.append((el, "messageEventDefinition"))
            for definition, def_kind in definitions:
                ref_attribute = EVENT_REFS.get(def_kind)
                ref = definition.get(ref_attribute) if ref_attribute else None
                name = names.get(ref, ref)
                if kind in {"intermediateThrowEvent", "endEvent", "sendTask"}:
                    thrown[def_kind].add(name)
                    throws.append((el, def_kind, name))
                else:
                    catches.append((el, def_kind, name))
    caught = {(k, n) for _, k, n in catches}
    problems: list[Problem] = []
    for el, def_kind, name in catches:
        if name in thrown[def_kind] or (name is None and thrown[def_kind]) or None in thrown[def_kind]:
            continue
        zh, en = INTERNAL_EVENTS[def_kind]
        label = f"{en} '{name}'" if name else en
        if _local(el) == "boundaryEvent" or el.getparent().get("triggeredByEvent", "").lower() == "true":
            problems.append(warning(el.get("id"),
                                    f"“{_label(el)}”等待的{zh}{name or ''}在本图中无处发出，永远不会触发。",
                                    f"'{_label(el)}' waits for {label}, which nothing in this diagram throws; "
                                    "it never fires."))
        else:
            problems.append(Problem(el.get("id"), f"“{_label(el)}”等待的{zh}{name or ''}在本图中无处发出："
                                    "系统不接收外部事件，流程会永远停在这里。",
                                    f"'{_label(el)}' waits for {label}, which nothing in this diagram throws; "
                                    "this system takes no events from outside, so the process would wait forever."))
    for el, def_kind, name in throws:
        if def_kind == "messageEventDefinition" and not any(k == def_kind and (n == name or n is None)
                                                             for k, n in caught):
            problems.append(Problem(el.get("id"), f"“{_label(el)}”发出的消息{name or ''}在本图中无人接收："
                                    "系统不向其他流程或外部投递消息。",
                                    f"'{_label(el)}' sends message '{name or ''}', which nothing in this diagram "
                                    "receives; this system delivers no messages to other processes or outside."))
    return problems


ISO_LITERAL = re.compile(r"^(R\d*/)?(P[\dYMWDTHS.,]+|\d{4}-\d{2}-\d{2}(T[\d:.+\-Z]+)?)(/.*)?$", re.IGNORECASE)


def check_timer(bpmn_id: str, definition: TimerEventDefinition) -> list[Problem]:
    """Evaluate a timer's expression in the sandbox without case data; the value must be what
    SpiffWorkflow parses for its kind (a date-time, a duration or a cycle)."""
    expression = (definition.expression or "").strip()
    kind_zh, kind_en = _timer_kind(definition)
    try:
        value = evaluate(expression)
    except SyntaxError as exc:
        return [_timer_error(bpmn_id, expression, f"无法在沙箱中编译（{exc}）",
                             f"does not compile in the sandbox ({exc})")]
    except NameError as exc:
        if ISO_LITERAL.match(expression):
            return [Problem(bpmn_id, f"定时器表达式是 Python 表达式，ISO 值要加引号：\"{expression}\"",
                            f"Timer expressions are Python: quote the ISO value, \"{expression}\"")]
        return [warning(bpmn_id, f"定时器表达式依赖案件数据 {exc.name}，运行时才能检查：{expression}",
                        f"The timer expression depends on case data {exc.name}; checked when it runs: {expression}")]
    except ScriptRefused as exc:  # too long, too large: refused at deploy with the same limits as at run time
        return [_timer_error(bpmn_id, expression, f"被沙箱拦下（{exc.message_zh}）",
                             f"was stopped by the sandbox ({exc.message_en})")]
    except CalendarNotLoaded:
        return [warning(bpmn_id, "工作日历尚未加载，定时器表达式运行时才能检查。",
                        "The working-day calendar is not loaded; the timer is checked when it runs.")]
    except Exception as exc:  # whatever the diagram's expression raises is its problem
        return [_timer_error(bpmn_id, expression, f"求值失败（{exc!r}）", f"fails to evaluate ({exc!r})")]
    if not isinstance(value, str):
        return [_timer_error(bpmn_id, expression, f"结果应为 ISO 8601 字符串（{kind_zh}），实际为 {value!r}",
                             f"must give an ISO 8601 string ({kind_en}), gave {value!r}")]
    try:
        if isinstance(definition, DurationTimerEventDefinition):
            TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(value))
        elif isinstance(definition, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(value)
        elif not hasattr(TimerEventDefinition.parse_time_or_duration(value), "tzinfo"):
            raise ValueError("a duration where a date-time belongs")
    except Exception as exc:  # SpiffWorkflow raises bare Exception for bad durations
        return [_timer_error(bpmn_id, expression, f"结果“{value}”不是有效的{kind_zh}（{exc}）",
                             f"gives '{value}', not a valid {kind_en} ({exc})")]
    return []


def _timer_kind(definition: TimerEventDefinition) -> tuple[str, str]:
    if isinstance(definition, DurationTimerEventDefinition):
        return "时长（如 \"P3D\"）", "duration (e.g. \"P3D\")"
    if isinstance(definition, CycleTimerEventDefinition):
        return "循环（如 \"R3/PT1H\"）", "cycle (e.g. \"R3/PT1H\")"
    return "日期时间（如 \"2026-12-31T17:00:00+08:00\"）", "date-time (e.g. \"2026-12-31T17:00:00+08:00\")"


def _timer_error(bpmn_id: str, expression: str, zh: str, en: str) -> Problem:
    return Problem(bpmn_id, f"定时器表达式 {expression} {zh}", f"The timer expression {expression} {en}")
