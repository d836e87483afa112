// Buttons marked data-print print the page (the CSP forbids inline onclick handlers).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
