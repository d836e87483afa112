// Read-only diagram with coloured elements, for the instance view (done / current / waiting timer),
// the version diff (added / removed / changed) and deploy problems. Pages use it without inline
// script (the CSP forbids it):
//   <div data-bpmn-viewer data-xml-url="…" data-marks='{"task_id": "current"}'
//        data-titles='{"task_id": "到期 11-30"}' data-tooltips='{"task_id": "shown on hover"}'></div>
// or from their own script: await window.XunchaDiagram.render(container, xml, {marks, titles, tooltips}).
// Titles are notes drawn above the element (lines split on "\n"); tooltips show on hover.
// Once drawn, the container gets data-rendered="true" (browser tests wait for it) and each marked
// element's SVG group the class "xc-<mark>".
// A button or link with data-highlight-element="<element id>" data-highlight-diagram="<container id>"
// highlights that element (class "xc-focus") and scrolls it into view; so does
// window.XunchaDiagram.focus(container, id).
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import { t } from "./_i18n.js";

const MARKS = ["done", "current", "waiting", "added", "removed", "changed", "problem", "warning"];
const viewers = new WeakMap();

async function render(container, xml, options = {}) {
  const viewer = new NavigatedViewer({ container });
  const result = await viewer.importXML(xml);
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  const overlays = viewer.get("overlays");
  const missing = [];
  for (const [id, value] of Object.entries(options.marks || {})) {
    if (!registry.get(id)) {
      missing.push(id);
      continue;
    }
    for (const mark of Array.isArray(value) ? value : [value]) {
      if (MARKS.includes(mark)) canvas.addMarker(id, `xc-${mark}`);
    }
  }
  for (const [id, text] of Object.entries(options.titles || {})) {
    if (!registry.get(id) || !text) continue;
    const note = document.createElement("div");
    note.className = "xc-note";
    note.textContent = String(text);
    // Above the element: boundary events (timers) sit on a task's lower edge.
    overlays.add(id, "xc-note", { position: { top: -6 - 15 * String(text).split("\n").length, left: 0 }, html: note });
  }
  for (const [id, text] of Object.entries(options.tooltips || {})) {
    const gfx = registry.get(id) && registry.getGraphics(id);
    if (!gfx || !text) continue;
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = String(text);
    gfx.appendChild(title);
  }
  canvas.zoom("fit-viewport", "auto");
  viewers.set(container, { viewer, focused: null });
  container.dataset.rendered = "true";
  container.dataset.missing = missing.join(" ");
  return { viewer, warnings: result.warnings || [], missing };
}

function readJson(text) {
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    return {};
  }
}

async function renderFromAttributes(container) {
  try {
    const response = await fetch(container.dataset.xmlUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const xml = await response.text();
    await render(container, xml, {
      marks: readJson(container.dataset.marks),
      titles: readJson(container.dataset.titles),
      tooltips: readJson(container.dataset.tooltips),
    });
  } catch (error) {
    container.dataset.rendered = "error";
    const message = document.createElement("p");
    message.className = "error";
    message.textContent = t("流程图无法显示：{message}", { message: error.message });
    container.replaceChildren(message);
  }
}

// Highlight one element (and only it) of a drawn diagram; false if it is not drawn there.
function focus(container, id) {
  const state = viewers.get(container);
  if (!state) return false;
  const canvas = state.viewer.get("canvas");
  const element = state.viewer.get("elementRegistry").get(id);
  if (state.focused) canvas.removeMarker(state.focused, "xc-focus");
  state.focused = null;
  container.dataset.focused = "";
  if (!element) return false;
  canvas.addMarker(id, "xc-focus");
  state.focused = id;
  container.dataset.focused = id;
  if (canvas.scrollToElement) canvas.scrollToElement(element);
  return true;
}

function onHighlightClick(event) {
  const trigger = event.target.closest("[data-highlight-element]");
  if (!trigger) return;
  const container = document.getElementById(trigger.dataset.highlightDiagram || "");
  if (!container) return;
  document.querySelectorAll("[data-highlight-element].is-focused").forEach((el) => el.classList.remove("is-focused"));
  if (focus(container, trigger.dataset.highlightElement)) {
    trigger.classList.add("is-focused");
    container.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }
}

window.XunchaDiagram = { render, focus };
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-bpmn-viewer][data-xml-url]").forEach(renderFromAttributes);
  document.addEventListener("click", onHighlightClick);
});
