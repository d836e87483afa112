// Confirmation before destructive actions: a form with data-confirm="…" asks first.
// (The content security policy forbids inline handlers, so this lives here.)
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form && form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
}, true);
