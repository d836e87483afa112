// The 巡察 group of the properties panel: what our engine reads from a diagram, edited with pickers
// instead of raw XML. Lanes name a group; user tasks name a form, a deadline in working days, a 退回
// decision and who approves extensions; timers get a working-day helper; boundary timers an
// escalation grade (提醒/督办/通报) and who is told. The catalog (groups, forms, grades, audiences)
// comes from the server in the page (data-catalog).
import { CheckboxEntry, SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited,
  isCheckboxEntryEdited } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { jsx } from "@bpmn-io/properties-panel/preact/jsx-runtime";
import { is } from "bpmn-js/lib/util/ModelUtil";
import { english, t } from "./_i18n.js";
import { MODES, isIsoDuration, readTimer, writeTimer } from "./_timer-expressions.js";

let catalog = { groups: [], forms: [], escalation_grades: [], audiences: [] };
let formsUrl = "/designer/forms";

export function configurePanel(options) {
  catalog = options.catalog || catalog;
  formsUrl = options.formsUrl || formsUrl;
}

// -- spiffworkflow:property values on a business object ------------------------------------------------

function spiffProperties(bo) {
  const values = (bo.extensionElements && bo.extensionElements.get("values")) || [];
  return values.find((v) => v.$instanceOf("spiffworkflow:Properties"));
}

export function getProperty(bo, name) {
  const container = spiffProperties(bo);
  const found = container && container.get("properties").find((p) => p.name === name);
  return found ? found.value : undefined;
}

function update(element, moddleElement, properties) {
  return { cmd: "element.updateModdleProperties", context: { element, moddleElement, properties } };
}

// Set (or, with an empty value, remove) properties in one undoable step.
export function setProperties(element, changes, bpmnFactory, commandStack) {
  const bo = element.businessObject;
  const commands = [];
  let extension = bo.extensionElements;
  if (!extension) {
    extension = bpmnFactory.create("bpmn:ExtensionElements", { values: [] });
    extension.$parent = bo;
    commands.push(update(element, bo, { extensionElements: extension }));
  }
  let container = spiffProperties(bo);
  if (!container) {
    container = bpmnFactory.create("spiffworkflow:Properties", { properties: [] });
    container.$parent = extension;
    commands.push(update(element, extension, { values: [...extension.get("values"), container] }));
  }
  let list = [...container.get("properties")];
  let listChanged = false;
  for (const [name, raw] of Object.entries(changes)) {
    const value = raw == null ? "" : String(raw).trim();
    const existing = list.find((p) => p.name === name);
    if (!value) {
      if (existing) { list = list.filter((p) => p !== existing); listChanged = true; }
    } else if (existing) {
      if (existing.value !== value) commands.push(update(element, existing, { value }));
    } else {
      const created = bpmnFactory.create("spiffworkflow:Property", { name, value });
      created.$parent = container;
      list.push(created);
      listChanged = true;
    }
  }
  if (listChanged) commands.push(update(element, container, { properties: list }));
  if (commands.length) commandStack.execute("properties-panel.multi-command-executor", commands);
}

function usePropertySetter(element) {
  const bpmnFactory = useService("bpmnFactory");
  const commandStack = useService("commandStack");
  return (changes) => setProperties(element, changes, bpmnFactory, commandStack);
}

// -- lanes -------------------------------------------------------------------------------------------------

function groupKeyOf(name) {
  const text = (name || "").trim();
  const byName = catalog.groups.find((g) => g.name === text);
  return byName ? byName.key : text;
}

function LaneGroup(props) {
  const { element, id } = props;
  const modeling = useService("modeling");
  const getValue = () => groupKeyOf(element.businessObject.name);
  const setValue = (value) => modeling.updateProperties(element, { name: value || undefined });
  const getOptions = () => {
    const options = [{ value: "", label: t("（请选择用户组）") }];
    const current = getValue();
    if (current && !catalog.groups.some((g) => g.key === current)) {
      options.push({ value: current, label: t("{name}（未知用户组）", { name: current }) });
    }
    return options.concat(catalog.groups.map((g) => ({ value: g.key, label: t("{name}（{key}）", { name: g.name, key: g.key }) })));
  };
  return jsx(SelectEntry, { element, id, label: t("用户组"), getValue, setValue, getOptions,
    description: t("泳道中的任务交给这个用户组办理。") });
}

// -- user tasks --------------------------------------------------------------------------------------------

function TaskForm(props) {
  const { element, id } = props;
  const set = usePropertySetter(element);
  const getValue = () => getProperty(element.businessObject, "formJsonSchemaFilename") || "";
  // The engine finds a file form's ui schema next to it; a stale formUiSchemaFilename would mislead readers.
  const setValue = (value) => set({ formJsonSchemaFilename: value, formUiSchemaFilename: "" });
  const getOptions = () => {
    const options = [{ value: "", label: t("（通用表单：办理意见 + 附件）") }];
    const current = getValue();
    if (current && !catalog.forms.some((f) => f.key === current)) {
      options.push({ value: current, label: t("{name}（不存在）", { name: current }) });
    }
    return options.concat(catalog.forms.map((f) => ({
      value: f.key, label: `${f.title} · ${f.key}${f.source === "stored" ? "" : t("（文件）")}` })));
  };
  return jsx(SelectEntry, { element, id, label: t("表单"), getValue, setValue, getOptions });
}

function FormEditorLink(props) {
  return jsx("div", {
    class: "bio-properties-panel-entry xc-panel-link",
    "data-entry-id": props.id,
    children: jsx("a", { href: formsUrl, target: "_blank", rel: "noopener", children: t("新建/编辑表单 ↗") }),
  });
}

function textProperty(name, label, { description, validate, placeholder } = {}) {
  return function PropertyField(props) {
    const { element, id } = props;
    const set = usePropertySetter(element);
    const debounce = useService("debounceInput");
    return jsx(TextFieldEntry, {
      element, id, label, description, validate, placeholder, debounce,
      getValue: () => getProperty(element.businessObject, name) || "",
      setValue: (value) => {
        if (validate && validate(value || "")) return;
        set({ [name]: value });
      },
    });
  };
}

const DueDays = textProperty("dueWorkingDays", t("期限（工作日）"), {
  placeholder: "5",
  description: t("任务开始后第 N 个工作日结束时到期。"),
  validate: (v) => (v && !/^\d+$/.test(v.trim()) ? t("须为非负整数") : null),
});

const ReturnWith = textProperty("returnWith", t("退回设置"), {
  placeholder: t("plan_decision=退回修改"),
  description: t("退回时把表单字段设为此值，由图中的网关送回。"),
  validate: (v) => (v && !/^[^=\s][^=]*=.+$/.test(v.trim()) ? t("应写作“字段=取值”") : null),
});

function ExtensionApprover(props) {
  const { element, id } = props;
  const set = usePropertySetter(element);
  return jsx(SelectEntry, {
    element, id, label: t("延期审批"),
    getValue: () => getProperty(element.businessObject, "extensionApprover") || "",
    setValue: (value) => set({ extensionApprover: value }),
    getOptions: () => [{ value: "", label: t("巡察办（默认）") }]
      .concat(catalog.groups.filter((g) => g.key !== "office").map((g) => ({ value: g.key, label: t("{name}（{key}）", { name: g.name, key: g.key }) }))),
  });
}

// -- timers ------------------------------------------------------------------------------------------------

function timerDefinition(element) {
  const definitions = element.businessObject.get ? element.businessObject.get("eventDefinitions") || [] : [];
  return definitions.find((d) => is(d, "bpmn:TimerEventDefinition"));
}

function timerExpression(definition) {
  for (const kind of ["timeDate", "timeDuration", "timeCycle"]) {
    const value = definition.get(kind);
    if (value) return { kind, body: value.get("body") || "" };
  }
  return { kind: "timeDate", body: "" };
}

// The attached task's deadline in working days (boundary timers), else null.
function attachedDue(element) {
  const host = element.businessObject.attachedToRef;
  if (!host) return null;
  const due = getProperty(host, "dueWorkingDays");
  return due != null && /^\d+$/.test(String(due).trim()) ? Number(due) : null;
}

function useTimerWriter(element) {
  const bpmnFactory = useService("bpmnFactory");
  const commandStack = useService("commandStack");
  return (kind, body) => {
    const definition = timerDefinition(element);
    const expression = bpmnFactory.create("bpmn:FormalExpression", { body });
    expression.$parent = definition;
    const properties = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined, [kind]: expression };
    commandStack.execute("element.updateModdleProperties", { element, moddleElement: definition, properties });
  };
}

function currentTimer(element) {
  const { kind, body } = timerExpression(timerDefinition(element));
  return { kind, body, ...readTimer(kind, body, attachedDue(element)) };
}

function TimerMode(props) {
  const { element, id } = props;
  const write = useTimerWriter(element);
  const due = attachedDue(element);
  return jsx(SelectEntry, {
    element, id, label: t("触发时间"),
    description: due != null ? t("所附任务期限：{due} 个工作日", { due })
      : t("到期类写法需附在设置了期限的任务上。"),
    getValue: () => currentTimer(element).mode,
    setValue: (mode) => {
      const now = currentTimer(element);
      const written = writeTimer(mode, now.days ?? 1, due, now.duration || "PT1H");
      if (written) write(written.kind, written.body);
    },
    getOptions: () => MODES.filter((m) => !m.needsDue || due != null || m.value === currentTimer(element).mode)
      .map((m) => ({ value: m.value, label: m.label })),
  });
}

function TimerDays(props) {
  const { element, id } = props;
  const write = useTimerWriter(element);
  const debounce = useService("debounceInput");
  const validate = (v) => (!/^\d+$/.test((v || "").trim()) ? t("须为非负整数") : null);
  return jsx(TextFieldEntry, {
    element, id, label: t("N（工作日）"), debounce, validate,
    getValue: () => String(currentTimer(element).days ?? ""),
    setValue: (value) => {
      if (validate(value)) return;
      const written = writeTimer(currentTimer(element).mode, Number(value), attachedDue(element));
      if (written) write(written.kind, written.body);
    },
  });
}

function TimerDuration(props) {
  const { element, id } = props;
  const write = useTimerWriter(element);
  const debounce = useService("debounceInput");
  const validate = (v) => (!isIsoDuration(v) ? t("ISO 8601 时长，如 PT1H、P2D") : null);
  return jsx(TextFieldEntry, {
    element, id, label: t("时长"), debounce, validate,
    getValue: () => currentTimer(element).duration || "",
    setValue: (value) => {
      const written = writeTimer("duration", 0, null, value || "");
      if (written) write(written.kind, written.body);
    },
  });
}

function TimerExpression(props) {
  const { element, id } = props;
  const write = useTimerWriter(element);
  const debounce = useService("debounceInput");
  return jsx(TextFieldEntry, {
    element, id, label: t("表达式"), debounce,
    description: t('Python 表达式，如 deadline_in(3)；时长须加引号，如 "PT1H"。'),
    getValue: () => timerExpression(timerDefinition(element)).body,
    setValue: (value) => write(timerExpression(timerDefinition(element)).kind, value || ""),
  });
}

function EscalationGrade(props) {
  const { element, id } = props;
  const set = usePropertySetter(element);
  return jsx(SelectEntry, {
    element, id, label: t("督办等级"),
    getValue: () => getProperty(element.businessObject, "escalation") || "",
    setValue: (value) => set(value ? { escalation: value, notify: getProperty(element.businessObject, "notify") || "holder" }
      : { escalation: "", notify: "" }),
    getOptions: () => [{ value: "", label: t("（不督办）") }]
      .concat(catalog.escalation_grades.map((g) => ({ value: g.key, label: english() ? g.name_en : g.name }))),
  });
}

function notifyList(element) {
  return (getProperty(element.businessObject, "notify") || "").split(",").map((s) => s.trim()).filter(Boolean);
}

function notifyEntry(audience) {
  return function NotifyAudience(props) {
    const { element, id } = props;
    const set = usePropertySetter(element);
    return jsx(CheckboxEntry, {
      element, id, label: t("{name}（{key}）", { name: audience.name, key: audience.key }),
      getValue: () => notifyList(element).includes(audience.key),
      setValue: (checked) => {
        const others = notifyList(element).filter((k) => k !== audience.key);
        set({ notify: (checked ? [...others, audience.key] : others).join(",") });
      },
    });
  };
}

const notifyComponents = new Map();
function notifyComponent(audience) {
  if (!notifyComponents.has(audience.key)) notifyComponents.set(audience.key, notifyEntry(audience));
  return notifyComponents.get(audience.key);
}

// -- the provider ------------------------------------------------------------------------------------------

function entriesFor(element) {
  const bo = element.businessObject;
  const entries = [];
  if (is(element, "bpmn:Lane")) {
    entries.push({ id: "xc-lane-group", component: LaneGroup, isEdited: isSelectEntryEdited });
  }
  if (is(element, "bpmn:UserTask")) {
    entries.push(
      { id: "xc-form", component: TaskForm, isEdited: isSelectEntryEdited },
      { id: "xc-form-link", component: FormEditorLink },
      { id: "xc-due", component: DueDays, isEdited: isTextFieldEntryEdited },
      { id: "xc-return-with", component: ReturnWith, isEdited: isTextFieldEntryEdited },
      { id: "xc-extension-approver", component: ExtensionApprover, isEdited: isSelectEntryEdited },
    );
  }
  if (is(element, "bpmn:Event") && timerDefinition(element)) {
    const timer = currentTimer(element);
    entries.push({ id: "xc-timer-mode", component: TimerMode, isEdited: isSelectEntryEdited });
    const mode = MODES.find((m) => m.value === timer.mode);
    if (mode && mode.days) entries.push({ id: "xc-timer-days", component: TimerDays, isEdited: isTextFieldEntryEdited });
    if (timer.mode === "duration") {
      entries.push({ id: "xc-timer-duration", component: TimerDuration, isEdited: isTextFieldEntryEdited });
    }
    entries.push({ id: "xc-timer-expression", component: TimerExpression, isEdited: isTextFieldEntryEdited });
    if (is(element, "bpmn:BoundaryEvent")) {
      entries.push({ id: "xc-escalation", component: EscalationGrade, isEdited: isSelectEntryEdited });
      if (getProperty(bo, "escalation")) {
        for (const audience of catalog.audiences) {
          entries.push({ id: `xc-notify-${audience.key}`, component: notifyComponent(audience),
            isEdited: isCheckboxEntryEdited });
        }
      }
    }
  }
  return entries;
}

class XunchaPropertiesProvider {
  constructor(propertiesPanel) {
    propertiesPanel.registerProvider(400, this);
  }

  getGroups(element) {
    return (groups) => {
      const entries = entriesFor(element);
      if (entries.length) groups.splice(1, 0, { id: "xuncha", label: t("巡察"), entries });
      return groups;
    };
  }
}
XunchaPropertiesProvider.$inject = ["propertiesPanel"];

export default {
  __init__: ["xunchaPropertiesProvider"],
  xunchaPropertiesProvider: ["type", XunchaPropertiesProvider],
};
