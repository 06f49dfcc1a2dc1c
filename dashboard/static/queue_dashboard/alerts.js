// Alerts (dashboard/alerts): keep the polled list of active alerts still while someone is
// using it (typing a custom silence, a focused button), so a refresh does not eat the input.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail && event.detail.elt;
    if (!target || target.id !== "qd-alerts-active") return;
    var focused = document.activeElement;
    if (focused && focused !== document.body && target.contains(focused)) {
      event.preventDefault();
    }
  });
})();
