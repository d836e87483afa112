"""Deploying BPMN definitions: validate, version, store, and cache the parsed specs by hash."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Group, ProcessDefinition

from . import audit
from .actors import Actor
from .errors import Conflict, DefinitionInvalid, InvalidInput, NotFound, TooLarge
from .forms import FormStore
from .validation import BPMN_NS, SPIFF_NS, Problem, check_structure, check_timer

log = logging.getLogger(__name__)
MAX_BPMN_BYTES = 5 * 1024 * 1024
MAX_NAME_CHARS = 300  # a name becomes a task's title (human_task.name is 300 characters)
MAX_ATTRIBUTE_CHARS = 4000


@dataclass(frozen=True)
class UserTaskInfo:
    bpmn_id: str
    name: str
    lane: str | None
    group_key: str | None
    form_key: str | None
    due_working_days: int | None
    return_with: tuple[str, str] | None = None  # 退回: the form field and value the diagram routes back on
    extension_approver: str = "office"  # 延期: the group (over the case's binding for it) that decides requests


ESCALATION_GRADES = ("提醒", "督办", "通报")
HOLDER = "holder"  # escalation audience: whoever holds the attached task, or its candidates


@dataclass(frozen=True)
class Escalation:
    """A timer boundary event that escalates: when it fires, the engine tells ``audiences`` (group
    keys over the organisation the case binds to them, or ``holder``) at this ``grade``, about the
    task the event is attached to. What else happens is the diagram's (e.g. a 督办 task)."""

    event_id: str
    attached_to: str
    grade: str
    audiences: tuple[str, ...]


@dataclass
class ParsedDefinition:
    """What the runtime needs of a definition, built once per sha256 and shared (read-only)."""

    sha256: str
    process_id: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]
    tasks: dict[str, UserTaskInfo] = field(default_factory=dict)
    lane_groups: dict[str, str] = field(default_factory=dict)
    has_timers: bool = False
    warnings: list[Problem] = field(default_factory=list)
    escalations: dict[str, Escalation] = field(default_factory=dict)  # by boundary timer event id

    def task(self, bpmn_id: str) -> UserTaskInfo | None:
        return self.tasks.get(bpmn_id)


def sha256_of(xml: bytes) -> str:
    return hashlib.sha256(xml).hexdigest()


def _safe_xml(xml: bytes) -> Any:
    """Parse without entity expansion, network access or DTD loading (XXE, billion laughs)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True)
    return etree.fromstring(xml, parser=parser)


def bpmn_too_large(size: int) -> TooLarge:
    limit = MAX_BPMN_BYTES // (1024 * 1024)
    problem = Problem(None, f"文件大小超过 {limit} MB 的上限。", f"The file is larger than the {limit} MB limit.")
    return TooLarge(f"BPMN 文件过大（上限 {limit} MB）。", f"The BPMN file is too large (limit {limit} MB).",
                    {"limit_bytes": MAX_BPMN_BYTES, "problems": [problem.as_dict()]})


def _hostile_markup(root: Any) -> list[Problem]:
    """What a diagram never needs and an attacker might: a DTD (entities are never expanded or loaded,
    but we refuse rather than rely on it), and attribute values far past anything a modeller writes
    (names become task titles of at most 300 characters)."""
    problems: list[Problem] = []
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        problems.append(Problem(None, "不允许在 BPMN 文件中使用 DTD（DOCTYPE）。",
                                "DTDs (DOCTYPE) are not allowed in BPMN files."))
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute, value in element.attrib.items():
            limit = MAX_NAME_CHARS if attribute == "name" else MAX_ATTRIBUTE_CHARS
            if len(value) > limit:
                name = etree.QName(attribute).localname
                problems.append(Problem(
                    element.get("id"), f"属性 {name} 过长（{len(value)} 字，上限 {limit} 字）。",
                    f"Attribute {name} is too long ({len(value)} characters, limit {limit})."))
                if len(problems) >= 20:
                    return problems
    return problems


def known_groups(session: Session) -> dict[str, str]:
    """Group keys and Chinese group names, each mapped to the key (what a lane may be named)."""
    names: dict[str, str] = {}
    for group in session.execute(select(Group)).scalars():
        names[group.key] = group.key
        names[group.name] = group.key
    return names


def _pick_process(parser: SpiffBpmnParser, root: Any) -> str:
    ids = parser.get_process_ids()
    if not ids:
        raise DefinitionInvalid("图中没有可执行的流程（isExecutable=\"true\"）。",
                                "The diagram has no executable process (isExecutable=\"true\").",
                                {"problems": [Problem(None, "没有可执行的流程。", "No executable process.").as_dict()]})
    if len(ids) == 1:
        return str(ids[0])
    called = {el.get("calledElement") for el in root.iter(f"{{{BPMN_NS}}}callActivity")}
    top = [pid for pid in ids if pid not in called]
    if len(top) != 1:
        raise DefinitionInvalid(
            "图中有多个顶层流程，无法确定主流程。", "The diagram has several top-level processes; "
            "cannot tell which one is the main process.",
            {"problems": [Problem(pid, "顶层流程之一。", "One of the top-level processes.").as_dict() for pid in top]})
    return str(top[0])


def _all_specs(spec: Any, subprocess_specs: dict[str, Any]) -> list[Any]:
    return [spec, *subprocess_specs.values()]


def parse_definition(xml: bytes, groups: dict[str, str], forms: FormStore, *, strict: bool = True
                     ) -> ParsedDefinition:
    """Parse and validate; raise DefinitionInvalid listing every problem with its element id.

    ``strict=False`` is for versions already stored: running cases must keep working even if a group
    or a form they name has since gone, so such problems are kept as warnings (and logged).
    """
    if len(xml) > MAX_BPMN_BYTES:
        too_large = bpmn_too_large(len(xml))
        raise DefinitionInvalid(too_large.message_zh, too_large.message_en, {"problems": too_large.details["problems"]})
    try:
        xml.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = Problem(None, f"文件第 {exc.start} 字节不是 UTF-8 编码。",
                          f"Byte {exc.start} of the file is not UTF-8.")
        raise DefinitionInvalid("BPMN 文件必须使用 UTF-8 编码。", "The BPMN file must be encoded as UTF-8.",
                                {"problems": [problem.as_dict()]}) from exc
    try:
        root = _safe_xml(xml)
    except etree.XMLSyntaxError as exc:
        problem = Problem(None, f"XML 格式错误（第 {exc.lineno} 行）：{exc.msg}",
                          f"Malformed XML (line {exc.lineno}): {exc.msg}")
        raise DefinitionInvalid("BPMN 文件不是有效的 XML。", "The BPMN file is not valid XML.",
                                {"problems": [problem.as_dict()]}) from exc
    hostile = _hostile_markup(root)
    if hostile:
        raise DefinitionInvalid("BPMN 文件含有不允许的内容。", "The BPMN file holds content that is not allowed.",
                                {"problems": [p.as_dict() for p in hostile]})
    structural = check_structure(root) + _lane_groups(root, groups)[1]
    parser = SpiffBpmnParser()
    try:
        parser.add_bpmn_xml(etree.ElementTree(root), filename="definition.bpmn")
        process_id = _pick_process(parser, root)
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except DefinitionInvalid:
        if strict and any(p.severity == "error" for p in structural):
            _refuse(structural)
        raise
    except Exception as exc:  # SpiffWorkflow fails on odd files with assorted exceptions
        if strict and any(p.severity == "error" for p in structural):
            _refuse(structural)  # SpiffWorkflow's complaint is then most often a consequence of these
        element = getattr(exc, "id", None) if isinstance(exc, ValidationException) else None
        if not isinstance(exc, ValidationException):
            log.info("SpiffWorkflow could not parse a definition", exc_info=True)
        problem = Problem(element or None, f"流程定义无效：{exc}", f"Invalid process definition: {exc}")
        raise DefinitionInvalid("流程定义无效。", "The process definition is invalid.",
                                {"problems": [p.as_dict() for p in (*structural, problem)]}) from exc
    parsed = ParsedDefinition(sha256_of(xml), process_id, spec.description or process_id, spec, subprocess_specs)
    problems = structural + _check(parsed, root, groups, forms)
    errors = [p for p in problems if p.severity == "error"]
    if errors and not strict:
        log.warning("stored definition %s (%s) no longer validates: %s", process_id, parsed.sha256[:12],
                    "; ".join(p.message_en for p in errors))
    elif errors:
        _refuse(problems)
    parsed.warnings = problems
    return parsed


def _refuse(problems: list[Problem]) -> None:
    errors = sum(1 for p in problems if p.severity == "error")
    raise DefinitionInvalid(f"流程定义有 {errors} 处错误。", f"The process definition has {errors} error(s).",
                            {"problems": [p.as_dict() for p in problems]})


def _lane_groups(root: Any, groups: dict[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """Each lane's group (lanes are named by group key or Chinese name), and a problem per lane naming none.
    Read from the XML, so these come back with the structural problems even when SpiffWorkflow cannot parse."""
    found: dict[str, str] = {}
    problems: list[Problem] = []
    known = ", ".join(sorted(set(groups.values()))) or "—"
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        name = (lane.get("name") or "").strip()
        if name in groups:
            found[name] = groups[name]
        else:
            problems.append(Problem(
                lane.get("id"), f"泳道“{name}”没有对应的用户组。已知用户组：{known}。",
                f"Lane '{name}' matches no group. Known groups: {known}."))
    return found, problems


def _check(parsed: ParsedDefinition, root: Any, groups: dict[str, str], forms: FormStore) -> list[Problem]:
    problems: list[Problem] = []
    parsed.lane_groups.update(_lane_groups(root, groups)[0])
    for spec in _all_specs(parsed.spec, parsed.subprocess_specs):
        for task_spec in spec.task_specs.values():
            problems.extend(_check_task(parsed, task_spec, forms, groups))
    problems.extend(_read_escalations(parsed, root, groups))
    return problems


def _read_escalations(parsed: ParsedDefinition, root: Any, groups: dict[str, str]) -> list[Problem]:
    """Boundary timer events carrying ``escalation`` (提醒/督办/通报) and ``notify`` (audiences)."""
    problems: list[Problem] = []
    keys = set(groups.values())
    for event in root.iter(f"{{{BPMN_NS}}}boundaryEvent"):
        properties = {p.get("name"): p.get("value") for p in event.iter(f"{{{SPIFF_NS}}}property")}
        grade = (properties.get("escalation") or "").strip()
        if not grade:
            continue
        event_id = event.get("id") or ""
        if event.find(f"{{{BPMN_NS}}}timerEventDefinition") is None:
            problems.append(Problem(event_id, "只有定时边界事件可以设置督办等级（escalation）。",
                                    "Only a timer boundary event can carry an escalation grade."))
            continue
        if grade not in ESCALATION_GRADES:
            options = "、".join(ESCALATION_GRADES)
            problems.append(Problem(event_id, f"督办等级“{grade}”无效，可选：{options}。",
                                    f"Unknown escalation grade '{grade}'; use one of {options}."))
            continue
        audiences = tuple(a.strip() for a in (properties.get("notify") or HOLDER).split(",") if a.strip())
        unknown = [a for a in audiences if a != HOLDER and a not in keys]
        if unknown:
            names, known = "、".join(unknown), ", ".join(sorted(keys))
            problems.append(Problem(event_id, f"督办通知对象 {names} 不是已知用户组（{known}）或 holder。",
                                    f"Escalation audiences {names} are neither known groups ({known}) nor 'holder'."))
            continue
        parsed.escalations[event_id] = Escalation(event_id, event.get("attachedToRef") or "", grade, audiences)
    return problems


def _check_task(parsed: ParsedDefinition, task_spec: Any, forms: FormStore, groups: dict[str, str]
                ) -> list[Problem]:
    problems: list[Problem] = []
    bpmn_id: str = getattr(task_spec, "bpmn_id", None) or task_spec.name
    event_definition = getattr(task_spec, "event_definition", None)
    if isinstance(event_definition, TimerEventDefinition):
        parsed.has_timers = True
        problems += check_timer(bpmn_id, event_definition)
    if not getattr(task_spec, "manual", False) or isinstance(task_spec, SubWorkflowTask):
        return problems
    properties = (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}
    form_key = properties.get("formJsonSchemaFilename") or None
    if form_key is None and isinstance(task_spec, UserTask):
        problems.append(Problem(bpmn_id, f"用户任务“{task_spec.bpmn_name or bpmn_id}”没有指定表单，将使用通用表单。",
                                f"User task '{task_spec.bpmn_name or bpmn_id}' names no form; "
                                "the generic form will be used.", "warning"))
    elif form_key is not None and not forms.exists(form_key):
        problems.append(Problem(bpmn_id, f"表单文件 {form_key} 不存在。", f"Form file {form_key} does not exist."))
    elif form_key is not None:
        try:
            forms.get(form_key)
        except InvalidInput as exc:
            problems.append(Problem(bpmn_id, exc.message_zh, exc.message_en))
    due = properties.get("dueWorkingDays")
    due_days: int | None = None
    if due not in (None, ""):
        try:
            due_days = int(due)
            if due_days < 0:
                raise ValueError
        except ValueError:
            problems.append(Problem(bpmn_id, f"期限 dueWorkingDays 必须是非负整数：{due}",
                                    f"dueWorkingDays must be a non-negative integer: {due}"))
    return_with, return_problems = _return_with(bpmn_id, properties.get("returnWith"), forms, form_key)
    problems += return_problems
    approver = str(properties.get("extensionApprover") or "office").strip()
    if approver not in groups:
        problems.append(Problem(bpmn_id, f"延期审批组 extensionApprover“{approver}”没有对应的用户组。",
                                f"extensionApprover '{approver}' matches no group."))
    lane = task_spec.lane
    if lane is None:
        name = (task_spec.bpmn_name or bpmn_id).strip()
        problems.append(Problem(bpmn_id, f"任务“{name}”不在任何泳道中，将交给案件的发起人办理。",
                                f"Task '{name}' is in no lane; it goes to whoever started the case.", "warning"))
    parsed.tasks[bpmn_id] = UserTaskInfo(
        bpmn_id=bpmn_id, name=(task_spec.bpmn_name or bpmn_id).strip(), lane=lane,
        group_key=parsed.lane_groups.get(lane) if lane else None, form_key=form_key, due_working_days=due_days,
        return_with=return_with, extension_approver=groups.get(approver, approver))
    return problems


def _return_with(bpmn_id: str, raw: str | None, forms: FormStore, form_key: str | None
                 ) -> tuple[tuple[str, str] | None, list[Problem]]:
    """``returnWith="field=value"``: 退回 on this task completes it with ``field`` set to ``value``
    (and ``return_reason``), and the diagram's gateway routes that value back. The field must be a
    field of the task's form and the value one it allows."""
    if raw in (None, ""):
        return None, []
    field_name, sep, value = str(raw).partition("=")
    field_name, value = field_name.strip(), value.strip()
    if not sep or not field_name or not value:
        return None, [Problem(bpmn_id, f"退回设置 returnWith 应写作“字段=取值”：{raw}",
                              f"returnWith must read 'field=value': {raw}")]
    if form_key is None or not forms.exists(form_key):
        return None, [Problem(bpmn_id, "设置了退回（returnWith）的任务必须有表单。",
                              "A task with returnWith needs a form.")]
    schema = forms.get(form_key).schema.get("properties", {}).get(field_name)
    if schema is None:
        return None, [Problem(bpmn_id, f"退回字段 {field_name} 不在表单 {form_key} 中。",
                              f"The return field {field_name} is not in the form {form_key}.")]
    allowed = schema.get("enum") or [o.get("const") for o in schema.get("oneOf", []) if isinstance(o, dict)]
    if allowed and value not in allowed:
        options = "、".join(map(str, allowed))
        return None, [Problem(bpmn_id, f"退回取值“{value}”不是字段 {field_name} 的可选项（{options}）。",
                              f"The return value '{value}' is not an option of {field_name}.")]
    return (field_name, value), []


class SpecCache:
    """Bounded LRU of parsed definitions keyed by sha256 (specs are immutable once parsed)."""

    def __init__(self, maxsize: int = 64):
        self.maxsize = maxsize
        self._items: OrderedDict[str, ParsedDefinition] = OrderedDict()
        self._sha_of: dict[int, str] = {}  # definition id → sha256 (rows are immutable once stored)
        self._lock = threading.Lock()

    def get(self, session: Session, definition: ProcessDefinition, forms: FormStore) -> ParsedDefinition:
        with self._lock:
            parsed = self._items.get(definition.sha256)
            if parsed is not None:
                self._items.move_to_end(definition.sha256)
                return parsed
        parsed = parse_definition(definition.bpmn_xml.encode("utf-8"), known_groups(session), forms, strict=False)
        with self._lock:
            self._items[definition.sha256] = parsed
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return parsed

    def for_definition_id(self, session: Session, definition_id: int, forms: FormStore) -> ParsedDefinition:
        """The parsed definition of a stored version, without reading its row when it is cached."""
        with self._lock:
            sha = self._sha_of.get(definition_id)
            parsed = self._items.get(sha) if sha else None
            if parsed is not None:
                self._items.move_to_end(parsed.sha256)
                return parsed
        definition = session.get(ProcessDefinition, definition_id)
        if definition is None:
            raise NotFound("流程定义不存在。", "The process definition does not exist.")
        with self._lock:
            self._sha_of[definition_id] = definition.sha256
        return self.get(session, definition, forms)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sha_of.clear()


SPEC_CACHE = SpecCache()


@dataclass
class DeployResult:
    definition: ProcessDefinition
    created: bool
    warnings: list[Problem]


def deploy(session: Session, xml: bytes, actor: Actor | None, forms: FormStore, *, at: Any,
           comment: str | None = None) -> DeployResult:
    """Validate and store a new version; identical XML to the newest version is a no-op."""
    parsed = parse_definition(xml, known_groups(session), forms)
    latest = _newest(session, parsed.process_id)
    if latest is not None and latest.sha256 == parsed.sha256:
        return DeployResult(latest, False, parsed.warnings)
    definition = ProcessDefinition(
        key=parsed.process_id, name=parsed.name, version=(latest.version + 1) if latest else 1,
        bpmn_xml=xml.decode("utf-8"), sha256=parsed.sha256, comment=comment, deployed_at=at,
        deployed_by_id=actor.user_id if actor else None)
    session.add(definition)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("另一个版本正在同时部署，请重试。",
                       "Another version was deployed at the same time; retry.") from exc
    audit.record(session, audit.SYSTEM_STREAM, [audit.EventDraft("definition_deployed", {
        "definition_id": definition.id, "key": definition.key, "version": definition.version,
        "sha256": definition.sha256, "comment": comment,
        "warnings": [w.as_dict() for w in parsed.warnings]})],
        at=at, actor_id=actor.user_id if actor else None, actor_name=actor.username if actor else "system")
    with SPEC_CACHE._lock:
        SPEC_CACHE._items.setdefault(parsed.sha256, parsed)
    return DeployResult(definition, True, parsed.warnings)


def _newest(session: Session, key: str) -> ProcessDefinition | None:
    return session.execute(
        select(ProcessDefinition).where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc()).limit(1)
    ).scalar_one_or_none()


def latest_definition(session: Session, key: str) -> ProcessDefinition:
    definition = _newest(session, key)
    if definition is None:
        raise NotFound(f"流程“{key}”不存在。", f"Process '{key}' does not exist.")
    return definition


def get_version(session: Session, key: str, version: int) -> ProcessDefinition:
    definition = session.execute(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
    ).scalar_one_or_none()
    if definition is None:
        raise NotFound(f"流程“{key}”没有版本 {version}。", f"Process '{key}' has no version {version}.")
    return definition


def list_latest(session: Session) -> list[ProcessDefinition]:
    newest = (select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
              .group_by(ProcessDefinition.key).subquery())
    return list(session.execute(
        select(ProcessDefinition).join(newest, (ProcessDefinition.key == newest.c.key)
                                       & (ProcessDefinition.version == newest.c.v))
        .order_by(ProcessDefinition.key)).scalars())
