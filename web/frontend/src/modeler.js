// 流程设计: the bpmn-js modeler with its properties panel, the 巡察 group (./_xuncha-panel.js) and the
// spiffworkflow extension (./_spiff-moddle.js). The page (web/designer/templates/designer/modeler.html)
// gives, as data attributes of #xc-modeler: the XML to open, the catalog and the URLs of the JSON
// calls (saving the draft, checking, deploying; CSRF token in a header). No inline script: the CSP
// forbids it. Tests drive it through the UI and window.xunchaModeler (the bpmn-js instance).
import Modeler from "bpmn-js/lib/Modeler";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from "bpmn-js-properties-panel";
import spiffModdle from "./_spiff-moddle.js";
import { t } from "./_i18n.js";
import XunchaPropertiesModule, { configurePanel } from "./_xuncha-panel.js";

const MARKERS = { error: "xc-problem", warning: "xc-warning" };

function blankDiagram() {
  const id = `process_${Date.now().toString(36)}`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_${id}" targetNamespace="http://xuncha.local/bpmn" exporter="Xuncha" exporterVersion="1.0">
  <bpmn:collaboration id="Collaboration_${id}">
    <bpmn:participant id="Participant_${id}" name="${t("新流程")}" processRef="${id}" />
  </bpmn:collaboration>
  <bpmn:process id="${id}" name="${t("新流程")}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_${id}">
      <bpmn:lane id="Lane_office" name="office"><bpmn:flowNodeRef>start</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="${t("开始")}" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_${id}">
    <bpmndi:BPMNPlane id="BPMNPlane_${id}" bpmnElement="Collaboration_${id}">
      <bpmndi:BPMNShape id="Participant_${id}_di" bpmnElement="Participant_${id}" isHorizontal="true">
        <dc:Bounds x="100" y="60" width="900" height="250" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_office_di" bpmnElement="Lane_office" isHorizontal="true">
        <dc:Bounds x="130" y="60" width="870" height="250" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="192" y="167" width="36" height="36" /></bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`;
}

function readJson(text, fallback) {
  try { return JSON.parse(text); } catch (error) { return fallback; }
}

function clock(date) {
  // Beijing time, as every time the server shows.
  return date.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false,
    timeZone: "Asia/Shanghai" });
}

class Designer {
  constructor(root) {
    this.root = root;
    this.data = root.dataset;
    this.revision = this.data.revision ? Number(this.data.revision) : null;
    this.draftKey = this.data.revision ? this.data.key : null;
    this.version = this.data.version ? Number(this.data.version) : null;
    this.dirty = false;
    this.savedAt = this.data.savedAt ? new Date(this.data.savedAt) : null;
    this.marked = [];
    configurePanel({ catalog: readJson(this.data.catalog, undefined), formsUrl: this.data.formsUrl });
    this.modeler = new Modeler({
      container: root.querySelector(".xc-canvas"),
      propertiesPanel: {
        parent: root.querySelector(".xc-properties"),
        layout: { groups: { general: { open: true }, xuncha: { open: true } } },
      },
      additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, XunchaPropertiesModule],
      moddleExtensions: { spiffworkflow: spiffModdle },
    });
    window.xunchaModeler = this.modeler;
    window.xunchaDesigner = this;
  }

  async open() {
    let xml = blankDiagram();
    if (this.data.xmlUrl) {
      const response = await fetch(this.data.xmlUrl, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      xml = await response.text();
    }
    const result = await this.modeler.importXML(xml);
    const warnings = this.keepDataNames(result.warnings || []);
    this.modeler.get("canvas").zoom("fit-viewport", "auto");
    this.modeler.on("commandStack.changed", () => this.setDirty(true));
    this.bindToolbar();
    window.addEventListener("beforeunload", (event) => {
      if (!this.dirty) return undefined;
      event.preventDefault();
      event.returnValue = "";
      return "";
    });
    this.showState();
    this.root.dataset.ready = "true";
    if (warnings.length) {
      this.outcome("warning", t("导入时有 {n} 条提示：", { n: warnings.length })
        + warnings.map((w) => w.message).slice(0, 3).join("; "));
    }
  }

  // SpiffWorkflow reads a multi-instance's loopDataInputRef/loopDataOutputRef as the *name* of a
  // workflow variable (<bpmn:loopDataInputRef>items</…>); BPMN makes them references to an element id,
  // so bpmn-js finds nothing, warns, and would drop them on saving. Keep each as a reference to a
  // detached element with that id, which is written back as the same text. Returns the other warnings.
  keepDataNames(warnings) {
    const moddle = this.modeler.get("moddle");
    const kept = new Set(["bpmn:loopDataInputRef", "bpmn:loopDataOutputRef"]);
    return warnings.filter((warning) => {
      if (!warning.element || !kept.has(warning.property) || !warning.value) return true;
      const name = warning.property.split(":")[1];
      warning.element.set(name, moddle.create("bpmn:DataInput", { id: warning.value }));
      return false;
    });
  }

  bindToolbar() {
    const on = (action, handler) => this.root.querySelector(`[data-action=${action}]`)
      .addEventListener("click", () => this.busy(handler.bind(this)));
    on("save", this.save);
    on("validate", this.validate);
    on("deploy", this.deploy);
    on("download", this.download);
  }

  async busy(handler) {
    const buttons = this.root.querySelectorAll(".xc-toolbar button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await handler();
    } catch (error) {
      this.outcome("error", t("操作失败：{message}", { message: error.message }));
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  setDirty(dirty) {
    this.dirty = dirty;
    this.showState();
  }

  showState() {
    const state = this.root.querySelector(".xc-state");
    if (this.dirty) {
      state.textContent = t("有未保存的修改");
      state.dataset.state = "dirty";
    } else if (this.savedAt) {
      state.textContent = t("已保存 {time}", { time: clock(this.savedAt) });
      state.dataset.state = "saved";
    } else {
      state.textContent = "";
      state.dataset.state = "clean";
    }
  }

  outcome(kind, text, links = []) {
    const box = this.root.querySelector(".xc-outcome");
    box.className = `xc-outcome flash flash-${kind}`;
    box.replaceChildren(document.createTextNode(text));
    for (const [label, href] of links) {
      const link = document.createElement("a");
      link.href = href;
      link.textContent = label;
      box.append(" ", link);
    }
    box.hidden = false;
  }

  async xml() {
    const { xml } = await this.modeler.saveXML({ format: true });
    return xml;
  }

  processKey() {
    const roots = this.modeler.getDefinitions().get("rootElements");
    const process = roots.find((r) => r.$type === "bpmn:Process" && r.isExecutable);
    return process ? process.id : null;
  }

  async call(url, method, body) {
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": this.data.csrf },
      body: JSON.stringify(body),
    });
    const payload = response.status === 204 ? {} : await response.json().catch(() => ({}));
    return { status: response.status, ok: response.ok, body: payload };
  }

  errorText(result) {
    const error = result.body && result.body.error;
    return error ? error.message : `HTTP ${result.status}`;
  }

  async save() {
    const key = this.processKey();
    const revision = key && key === this.draftKey ? this.revision : null;
    const result = await this.call(this.data.saveUrl, "PUT", {
      bpmn_xml: await this.xml(), revision,
      based_on_version: key && key === this.data.key ? this.version : null,
    });
    if (!result.ok) {
      this.outcome("error", t("草稿未保存：{message}", { message: this.errorText(result) }));
      if (result.body.error && result.body.error.details && result.body.error.details.problems) {
        this.showProblems(result.body.error.details.problems);
      }
      return;
    }
    this.draftKey = result.body.key;
    this.revision = result.body.revision;
    this.savedAt = new Date();
    this.setDirty(false);
    this.root.querySelector(".xc-outcome").hidden = true;
  }

  async validate() {
    const result = await this.call(this.data.validateUrl, "POST", { bpmn_xml: await this.xml() });
    if (!result.ok) {
      this.outcome("error", t("无法校验：{message}", { message: this.errorText(result) }));
      return;
    }
    this.showProblems(result.body.problems);
    const errors = result.body.problems.filter((p) => p.severity === "error").length;
    if (result.body.ok) {
      this.outcome("success", result.body.problems.length
        ? t("校验通过，有 {n} 条警告。", { n: result.body.problems.length }) : t("校验通过。"));
    } else {
      this.outcome("error", t("有 {n} 处错误，不能部署。", { n: errors }));
    }
  }

  async deploy() {
    const comment = this.root.querySelector("input[name=comment]").value;
    const makeCurrent = this.root.querySelector("input[name=make_current]").checked;
    const result = await this.call(this.data.deployUrl, "POST",
      { bpmn_xml: await this.xml(), comment, make_current: makeCurrent });
    const details = result.body.error && result.body.error.details;
    if (!result.ok) {
      if (details && details.problems) this.showProblems(details.problems);
      this.outcome("error", t("未部署：{message}", { message: this.errorText(result) }));
      return;
    }
    const body = result.body;
    this.showProblems(body.warnings || []);
    this.draftKey = null;
    this.revision = null;
    this.version = body.version;
    this.data.key = body.key;
    this.savedAt = null;
    this.setDirty(false);
    const text = body.created
      ? (makeCurrent ? t("已部署 {key} 第 {version} 版，新案件将使用此版本。", body) : t("已部署 {key} 第 {version} 版。", body))
      : t("与 {key} 第 {version} 版完全相同，未创建新版本。", body);
    this.outcome("success", text, [[t("版本列表"), body.versions_url], [t("打开此版本"), body.modeler_url]]);
  }

  async download() {
    const xml = await this.xml();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
    link.download = `${this.processKey() || "process"}.bpmn`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  clearMarks() {
    const canvas = this.modeler.get("canvas");
    const registry = this.modeler.get("elementRegistry");
    for (const [id, marker] of this.marked) if (registry.get(id)) canvas.removeMarker(id, marker);
    this.marked = [];
  }

  // List the problems beside the canvas (zh first) and mark each element on it; a click selects it.
  showProblems(problems) {
    this.clearMarks();
    const canvas = this.modeler.get("canvas");
    const registry = this.modeler.get("elementRegistry");
    const section = this.root.querySelector(".xc-problems");
    const list = section.querySelector("ol");
    list.replaceChildren();
    for (const problem of problems) {
      const element = problem.element_id ? registry.get(problem.element_id) : null;
      const marker = MARKERS[problem.severity] || MARKERS.error;
      if (element) {
        canvas.addMarker(element.id, marker);
        this.marked.push([element.id, marker]);
      }
      const item = document.createElement("li");
      item.className = `xc-problem-item ${problem.severity}`;
      item.dataset.elementId = problem.element_id || "";
      const severity = document.createElement("span");
      severity.className = "xc-severity";
      severity.textContent = problem.severity === "warning" ? t("警告") : t("错误");
      const zh = document.createElement("span");
      zh.textContent = problem.message_zh;
      const en = document.createElement("span");
      en.className = "xc-en";
      en.lang = "en";
      en.textContent = problem.message_en;
      item.append(severity, zh);
      if (problem.element_id) {
        const code = document.createElement("code");
        code.textContent = problem.element_id;
        item.append(" ", code);
      }
      item.append(en);
      if (element) {
        item.tabIndex = 0;
        item.classList.add("selectable");
        const select = () => {
          this.modeler.get("selection").select(element);
          canvas.scrollToElement(element);
        };
        item.addEventListener("click", select);
        item.addEventListener("keydown", (event) => { if (event.key === "Enter") select(); });
      }
      list.append(item);
    }
    section.querySelector(".xc-problem-count").textContent = problems.length ? `(${problems.length})` : "";
    section.hidden = problems.length === 0;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("xc-modeler");
  if (!root) return;
  const designer = new Designer(root);
  designer.open().catch((error) => {
    root.dataset.ready = "error";
    designer.outcome("error", t("流程图无法打开：{message}", { message: error.message }));
  });
});
