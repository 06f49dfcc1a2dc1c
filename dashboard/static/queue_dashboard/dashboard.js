// Progressive helpers for the queue dashboard. Everything works without this file; no
// inline scripts are used so the Content-Security-Policy can forbid them.
(function () {
  "use strict";

  // Obliterate: enable the button only once the queue name is typed (the server checks too).
  function wireTypedConfirm(root) {
    root.querySelectorAll("input[data-confirm-name]").forEach(function (input) {
      var form = input.form;
      var button = form && form.querySelector("button[type=submit]");
      if (!button) return;
      var update = function () { button.disabled = input.value !== input.dataset.confirmName; };
      input.addEventListener("input", update);
      update();
    });
  }

  // "Cancel" in a confirmation loaded into #dialog just empties it.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-close-dialog]");
    var dialog = link && link.closest("#dialog");
    if (dialog) {
      event.preventDefault();
      dialog.replaceChildren();
    }
  });

  document.addEventListener("DOMContentLoaded", function () { wireTypedConfirm(document); });
  document.addEventListener("htmx:load", function (event) { wireTypedConfirm(event.target); });
})();
