// The form editor (web/form_editor): a field list builder kept in sync with the raw JSON Schema and
// UI Schema textareas, and a live preview the server draws with the task pages' own renderer.
// The textareas are the truth (they are what is submitted, and all there is without JavaScript); the
// builder reads them after every edit of the JSON and writes into them after every edit of a field,
// leaving alone whatever it does not understand (tables, bounds, patterns ...).
(function () {
  "use strict";

  var editor = document.getElementById("form-editor");
  if (!editor) { return; }
  var schemaBox = document.getElementById("schema");
  var uiBox = document.getElementById("ui_schema");
  var builder = editor.querySelector("[data-builder]");
  var list = editor.querySelector("[data-field-list]");
  var note = editor.querySelector("[data-builder-note]");
  var preview = document.querySelector("[data-form-preview]");
  var english = editor.getAttribute("data-locale") === "en";
  var NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

  function t(zh, en) { return english ? en : zh; }

  var KINDS = [
    ["text", "单行文本", "Text"], ["textarea", "多行文本", "Long text"], ["number", "数字", "Number"],
    ["date", "日期", "Date"], ["select", "单选", "Choice"], ["multiselect", "多选", "Multiple choice"],
    ["user", "人员", "Person"], ["org", "单位", "Organisation"], ["file", "附件", "Files"],
    ["yesno", "是/否", "Yes/No"]
  ];
  var WITH_OPTIONS = { select: true, multiselect: true };

  var state = { schema: null, ui: null };

  function kindOf(prop, hints) {
    var widget = hints && hints["ui:widget"];
    if (!prop || typeof prop !== "object") { return "custom"; }
    if (prop.type === "string") {
      if (Array.isArray(prop["enum"])) { return "select"; }
      if (widget === "user" || widget === "org" || widget === "textarea") { return widget; }
      return prop.format === "date" ? "date" : "text";
    }
    if (prop.type === "number" || prop.type === "integer") { return "number"; }
    if (prop.type === "boolean" && prop["const"] === undefined) { return "yesno"; }
    if (prop.type === "array" && widget === "file") { return "file"; }
    if (prop.type === "array" && prop.items && Array.isArray(prop.items["enum"]) && prop.items.type === "string") {
      return "multiselect";
    }
    return "custom";
  }

  function optionsOf(prop) {
    if (Array.isArray(prop["enum"])) { return prop["enum"].map(String); }
    if (prop.items && Array.isArray(prop.items["enum"])) { return prop.items["enum"].map(String); }
    return [];
  }

  // Rewrite what makes the field its kind, keeping title, description and anything else.
  function applyKind(prop, hints, kind, options) {
    var wasInteger = prop.type === "integer";
    ["type", "enum", "format", "items", "uniqueItems"].forEach(function (k) { delete prop[k]; });
    delete hints["ui:widget"];
    var opts = options.length ? options : [t("选项一", "Option 1")];
    switch (kind) {
      case "textarea": prop.type = "string"; hints["ui:widget"] = "textarea"; break;
      case "number": prop.type = wasInteger ? "integer" : "number"; break;
      case "date": prop.type = "string"; prop.format = "date"; break;
      case "select": prop.type = "string"; prop["enum"] = opts; break;
      case "multiselect":
        prop.type = "array"; prop.items = { type: "string", "enum": opts }; prop.uniqueItems = true; break;
      case "user": case "org": prop.type = "string"; hints["ui:widget"] = kind; break;
      case "file":
        prop.type = "array"; prop.items = { type: "integer" }; prop.uniqueItems = true; hints["ui:widget"] = "file";
        break;
      case "yesno": prop.type = "boolean"; break;
      default: prop.type = "string";
    }
  }

  function fieldNames() {
    var props = state.schema.properties || {};
    var names = Object.keys(props);
    var order = state.ui["ui:order"];
    if (!Array.isArray(order)) { return names; }
    var listed = order.filter(function (n) { return n !== "*" && props[n] !== undefined; });
    return listed.concat(names.filter(function (n) { return listed.indexOf(n) < 0; }));
  }

  function say(message) {
    note.textContent = message || "";
    note.hidden = !message;
  }

  function read() {
    try {
      var schema = JSON.parse(schemaBox.value);
      var ui = uiBox.value.trim() ? JSON.parse(uiBox.value) : {};
      if (!schema || typeof schema !== "object" || Array.isArray(schema) || !ui || typeof ui !== "object") {
        throw new Error(t("须为 JSON 对象", "must be JSON objects"));
      }
      if (!schema.properties || typeof schema.properties !== "object") { schema.properties = {}; }
      state.schema = schema;
      state.ui = ui;
      say("");
      return true;
    } catch (error) {
      say(t("JSON 有错误，字段列表暂不更新：", "The JSON has an error; the field list waits: ") + error.message);
      return false;
    }
  }

  function write() {
    schemaBox.value = JSON.stringify(state.schema, null, 2);
    uiBox.value = JSON.stringify(state.ui, null, 2);
    schedulePreview();
  }

  function element(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function labelled(row, text, control) {
    var label = element("label", { "class": "builder-input" });
    label.appendChild(element("span", {}, text));
    label.appendChild(control);
    row.appendChild(label);
    return control;
  }

  function renderRow(name, index) {
    var prop = state.schema.properties[name];
    var hints = (state.ui[name] && typeof state.ui[name] === "object") ? state.ui[name] : {};
    var kind = kindOf(prop, hints);
    var required = Array.isArray(state.schema.required) && state.schema.required.indexOf(name) >= 0;
    var row = element("li", { "class": "builder-row", "data-field": name });
    labelled(row, t("字段名", "Key"), element("input", { type: "text", "data-role": "name", value: name,
      required: "required", autocomplete: "off" }));
    labelled(row, t("标题", "Title"), element("input", { type: "text", "data-role": "title",
      value: prop && prop.title !== undefined ? String(prop.title) : "" }));
    var select = labelled(row, t("类型", "Type"), element("select", { "data-role": "kind" }));
    KINDS.forEach(function (k) {
      var option = element("option", { value: k[0] }, english ? k[2] : k[1]);
      select.appendChild(option);
    });
    if (kind === "custom") {
      select.appendChild(element("option", { value: "custom" }, t("自定义（在 JSON 中编辑）", "Custom (edit the JSON)")));
      select.disabled = true;
    }
    select.value = kind;
    var check = element("input", { type: "checkbox", "data-role": "required" });
    check.checked = required;
    labelled(row, t("必填", "Required"), check);
    labelled(row, t("说明", "Help text"), element("input", { type: "text", "data-role": "description",
      value: prop && prop.description !== undefined ? String(prop.description) : "" }));
    var options = element("textarea", { "data-role": "options", rows: "3" });
    options.value = optionsOf(prop || {}).join("\n");
    var optionsLabel = element("label", { "class": "builder-input builder-options" });
    optionsLabel.appendChild(element("span", {}, t("选项（每行一项）", "Options (one a line)")));
    optionsLabel.appendChild(options);
    optionsLabel.hidden = !WITH_OPTIONS[kind];
    row.appendChild(optionsLabel);
    var buttons = element("span", { "class": "builder-buttons" });
    [["up", "↑", t("上移", "Move up")], ["down", "↓", t("下移", "Move down")],
     ["remove", t("删除", "Remove"), t("删除此字段", "Remove this field")]].forEach(function (b) {
      buttons.appendChild(element("button", { type: "button", "class": "link", "data-move": b[0], title: b[2] }, b[1]));
    });
    row.appendChild(buttons);
    row.setAttribute("aria-label", t("字段 ", "Field ") + (index + 1));
    return row;
  }

  function render() {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    fieldNames().forEach(function (name, index) { list.appendChild(renderRow(name, index)); });
  }

  function reorder(names) {
    var props = {};
    names.forEach(function (n) { props[n] = state.schema.properties[n]; });
    state.schema.properties = props;
    if (Array.isArray(state.ui["ui:order"])) { state.ui["ui:order"] = names.slice(); }
  }

  function rename(from, to) {
    var names = fieldNames().map(function (n) { return n === from ? to : n; });
    state.schema.properties[to] = state.schema.properties[from];
    delete state.schema.properties[from];
    if (state.ui[from] !== undefined) { state.ui[to] = state.ui[from]; delete state.ui[from]; }
    if (Array.isArray(state.schema.required)) {
      state.schema.required = state.schema.required.map(function (n) { return n === from ? to : n; });
    }
    reorder(names);
  }

  // One row edited: carry its values into the schema and ui schema.
  function update(row, role) {
    var name = row.getAttribute("data-field");
    var prop = state.schema.properties[name];
    if (!prop) { return; }
    var value = function (r) { return row.querySelector('[data-role="' + r + '"]'); };
    if (role === "name") {
      var wanted = value("name").value.trim();
      if (wanted === name) { say(""); return; }
      if (!NAME.test(wanted)) {
        say(t("字段名只能含字母、数字和下划线，且不以数字开头：", "A key holds letters, digits and underscores, not starting with a digit: ") + wanted);
        return;
      }
      if (state.schema.properties[wanted] !== undefined) {
        say(t("已有同名字段：", "There is already a field ") + wanted);
        return;
      }
      say("");
      rename(name, wanted);
      row.setAttribute("data-field", wanted);
      write();
      return;
    }
    var hints = (state.ui[name] && typeof state.ui[name] === "object") ? state.ui[name] : {};
    var title = value("title").value;
    if (title) { prop.title = title; } else { delete prop.title; }
    var description = value("description").value;
    if (description) { prop.description = description; } else { delete prop.description; }
    var required = (Array.isArray(state.schema.required) ? state.schema.required : []).filter(function (n) {
      return n !== name;
    });
    if (value("required").checked) { required.push(name); }
    state.schema.required = required;
    var kind = value("kind").value;
    if (kind !== "custom" && (role === "kind" || role === "options")) {
      var options = value("options").value.split("\n").map(function (s) { return s.trim(); })
        .filter(function (s, i, all) { return s && all.indexOf(s) === i; });
      applyKind(prop, hints, kind, options);
      row.querySelector(".builder-options").hidden = !WITH_OPTIONS[kind];
      if (role === "kind" && WITH_OPTIONS[kind]) { value("options").value = optionsOf(prop).join("\n"); }
    }
    if (Object.keys(hints).length) { state.ui[name] = hints; } else { delete state.ui[name]; }
    write();
  }

  function addField() {
    if (!state.schema) { return; }
    var n = fieldNames().length + 1;
    while (state.schema.properties["field_" + n] !== undefined) { n += 1; }
    var name = "field_" + n;
    state.schema.properties[name] = { type: "string", title: t("新字段", "New field") + " " + n };
    if (Array.isArray(state.ui["ui:order"])) { state.ui["ui:order"].push(name); }
    write();
    render();
    var input = list.querySelector('[data-field="' + name + '"] [data-role="title"]');
    if (input) { input.focus(); input.select(); }
  }

  function move(row, how) {
    var names = fieldNames();
    var name = row.getAttribute("data-field");
    var at = names.indexOf(name);
    if (how === "remove") {
      delete state.schema.properties[name];
      delete state.ui[name];
      if (Array.isArray(state.schema.required)) {
        state.schema.required = state.schema.required.filter(function (n) { return n !== name; });
      }
      names.splice(at, 1);
    } else {
      var to = how === "up" ? at - 1 : at + 1;
      if (to < 0 || to >= names.length) { return; }
      names.splice(at, 1);
      names.splice(to, 0, name);
    }
    reorder(names);
    write();
    render();
  }

  // -- the preview: debounced, and only the newest answer is shown ----------------------------------
  var timer = null;
  var asked = 0;

  function schedulePreview() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refreshPreview, 350);
  }

  function refreshPreview() {
    var mine = ++asked;
    var body = new URLSearchParams();
    body.append("schema", schemaBox.value);
    body.append("ui_schema", uiBox.value);
    var token = editor.querySelector('input[name="csrf_token"]');
    body.append("csrf_token", token ? token.value : "");
    preview.setAttribute("aria-busy", "true");
    fetch(editor.getAttribute("data-preview-url"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "" }
    }).then(function (response) {
      return response.text().then(function (html) { return { ok: response.ok || response.status === 422, html: html }; });
    }).then(function (answer) {
      if (mine !== asked) { return; }
      preview.removeAttribute("aria-busy");
      if (answer.ok) {
        preview.innerHTML = answer.html;
      } else {
        preview.textContent = t("预览暂不可用。", "The preview is not available right now.");
      }
    }).catch(function () {
      if (mine === asked) {
        preview.removeAttribute("aria-busy");
        preview.textContent = t("预览暂不可用。", "The preview is not available right now.");
      }
    });
  }

  // -- wiring -----------------------------------------------------------------------------------------
  list.addEventListener("input", function (event) {
    var target = event.target;
    var row = target.closest(".builder-row");
    var role = target.getAttribute("data-role");
    if (row && role && role !== "kind" && role !== "required") { update(row, role); }
  });
  list.addEventListener("change", function (event) {
    var target = event.target;
    var row = target.closest(".builder-row");
    var role = target.getAttribute("data-role");
    if (row && (role === "kind" || role === "required")) { update(row, role); }
  });
  list.addEventListener("click", function (event) {
    var button = event.target.closest("[data-move]");
    if (button) { move(button.closest(".builder-row"), button.getAttribute("data-move")); }
  });
  editor.querySelector("[data-add-field]").addEventListener("click", addField);
  [schemaBox, uiBox].forEach(function (box) {
    box.addEventListener("input", function () {
      if (read()) { render(); }
      schedulePreview();
    });
  });

  builder.hidden = false;
  if (read()) { render(); }
})();
