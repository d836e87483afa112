// Entry grids (web/intake): "添加一行" adds an empty row, and rows copied from Excel/WPS (tab-separated
// cells, one line per row) pasted into any cell spread over the grid from that cell on, adding rows
// as needed. Without this script the grid still works: the pasted text box is read by the server.
(function () {
  "use strict";

  function rows(table) { return table.querySelectorAll("tbody tr[data-grid-row]"); }

  function addRow(table) {
    var all = rows(table);
    var last = all[all.length - 1];
    var copy = last.cloneNode(true);
    var n = all.length + 1;
    copy.querySelector(".row-number").textContent = String(n);
    copy.querySelectorAll("input").forEach(function (input) {
      input.name = input.name.replace(/^rows-\d+-/, "rows-" + n + "-");
      input.value = "";
      var label = input.getAttribute("aria-label") || "";
      input.setAttribute("aria-label", label.replace(/\d+$/, String(n)));
    });
    copy.querySelectorAll("td.invalid").forEach(function (td) { td.classList.remove("invalid"); td.removeAttribute("title"); });
    last.parentNode.appendChild(copy);
    return copy;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-grid-add]");
    if (!button) { return; }
    var table = document.querySelector('table[data-grid="' + button.getAttribute("data-grid-add") + '"]');
    if (table) { addRow(table).querySelector("input").focus(); }
  });

  document.addEventListener("paste", function (event) {
    var input = event.target;
    var table = input && input.closest && input.closest("table[data-grid]");
    if (!table || input.tagName !== "INPUT") { return; }
    var text = (event.clipboardData || window.clipboardData).getData("text");
    if (text.indexOf("\t") < 0 && text.replace(/\r?\n$/, "").indexOf("\n") < 0) { return; }  // a plain value
    event.preventDefault();
    var lines = text.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n");
    var row = input.closest("tr");
    var cells = Array.prototype.slice.call(row.querySelectorAll("input"));
    var start = cells.indexOf(input);
    lines.forEach(function (line, i) {
      if (i > 0) {
        row = row.nextElementSibling || addRow(table);
      }
      var inputs = row.querySelectorAll("input");
      line.split("\t").forEach(function (value, j) {
        var target = inputs[start + j];
        if (target) { target.value = value.trim(); }
      });
    });
  });
}());
