// Search: "Cancel" stops the chain of scan steps where it is and offers to continue from
// there (without this file the link loads the page stopped at that point, which also works).
(function () {
  "use strict";

  // The step in flight when Cancel was pressed still answers: its rows and progress are
  // dropped (aborting the request instead makes htmx log errors).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.dataset && target.dataset.cancelled) event.detail.shouldSwap = false;
  });

  // A state tab clicked while a search is shown: search that state instead (the tabs swap
  // only the job list; the URL they push keeps q).
  document.addEventListener("htmx:pushedIntoHistory", function () {
    var select = document.querySelector("#qd-search select[name=state]");
    var params = new URLSearchParams(window.location.search);
    if (!select || !params.get("q") || !document.getElementById("qd-search-rows")) return;
    if (params.get("state") && params.get("state") !== select.value) {
      params.delete("cursor");
      window.location.assign(window.location.pathname + "?" + params.toString());
    }
  });

  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("[data-search-cancel]");
    if (!cancel) return;
    var status = document.getElementById("qd-search-status");
    var next = document.getElementById("qd-search-next");
    if (!status || !next) return;
    event.preventDefault();
    next.dataset.cancelled = "1";
    var stopped = document.createElement("div");
    stopped.id = "qd-search-next";
    stopped.className = "qd-search-next";
    var more = document.createElement("a");
    more.className = "qd-button";
    more.href = status.dataset.moreUrl || cancel.href;
    more.textContent = cancel.dataset.continueLabel || "Continue";
    stopped.appendChild(more);
    next.replaceWith(stopped);
    var note = document.createElement("span");
    note.className = "qd-search-cancelled";
    note.textContent = cancel.dataset.cancelledLabel || "Cancelled.";
    cancel.replaceWith(note);
  });
})();
