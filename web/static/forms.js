// Repeating rows in task forms: "增加一行" clones the row template, "删除" removes a row.
// Without JavaScript the add button submits the form and the server adds the row instead.
(function () {
  "use strict";

  function addRow(name) {
    var table = document.querySelector('table[data-rows="' + name + '"]');
    var template = document.getElementById("row-template-" + name);
    if (!table || !template) { return false; }
    var index = parseInt(table.getAttribute("data-next-index"), 10) || 0;
    var html = template.innerHTML.split("__index__").join(String(index));
    table.querySelector("tbody").insertAdjacentHTML("beforeend", html);
    table.setAttribute("data-next-index", String(index + 1));
    return true;
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    var add = target.closest("[data-add-row]");
    if (add && addRow(add.getAttribute("data-add-row"))) {
      event.preventDefault();
      return;
    }
    var remove = target.closest(".remove-row");
    if (remove) {
      var row = remove.closest("tr");
      if (row) { row.parentNode.removeChild(row); }
    }
  });
})();
