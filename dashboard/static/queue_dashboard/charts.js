// The overview's counts and the history charts (the `charts` part); no inline scripts.
(function () {
  "use strict";

  // Live counts arrive out of band: after each message, a cell is muted when its count is
  // zero, as on render (a page holds at most a page of rows: a cheap scan).
  document.addEventListener("htmx:wsAfterMessage", function () {
    document.querySelectorAll(".qd-overview td.qd-count").forEach(function (cell) {
      cell.classList.toggle("qd-zero", cell.textContent.trim() === "0");
    });
  });

  // The sort menu applies at once (the form's button stays for keyboards and no-JS).
  document.addEventListener("change", function (event) {
    var t = event.target;
    if (t && t.name === "sort" && t.form && t.form.classList.contains("qd-overview-filter")) {
      t.form.requestSubmit ? t.form.requestSubmit() : t.form.submit();
    }
  });
})();
