// The search results' bulk bar: its "ticked rows" buttons submit the selection form of the
// job list (bulk.js keeps it) and are enabled only while rows are ticked. Without this file
// they stay enabled, and an empty selection gets a dry run of nothing.
(function () {
  "use strict";

  function refresh() {
    var bar = document.getElementById("qd-wire-bar");
    if (!bar) return;
    var form = document.getElementById("qd-select-form");
    // Ticked boxes anywhere (search rows, job rows) and ticked rows of earlier pages.
    var ids = new Set();
    document.querySelectorAll("input.qd-bulk-row:checked").forEach(function (b) { ids.add(b.value); });
    if (form) form.querySelectorAll("input.qd-bulk-kept").forEach(function (i) { ids.add(i.value); });
    bar.querySelectorAll(".qd-wire-needs-selection").forEach(function (button) {
      button.disabled = !form || ids.size === 0;
    });
    var label = document.getElementById("qd-wire-ticked");
    if (label) {
      label.textContent = ids.size ? label.dataset.some.replace("%s", String(ids.size)) : label.dataset.none;
    }
  }

  // Once a search that began at the state's start has scanned it all, the rows are every
  // match: the "every match" label says how many (the dry run counts again anyway).
  function countMatches() {
    var label = document.getElementById("qd-wire-every");
    var rows = document.getElementById("qd-search-rows");
    var done = document.querySelector("#qd-search-status .qd-search-done");
    var cursor = new URLSearchParams(window.location.search).get("cursor");
    if (!label || !rows || !done || (cursor && cursor !== "0")) return;
    var n = rows.querySelectorAll("tr.qd-search-row").length;
    if (!n) return;
    label.textContent = n === 1 ? label.dataset.one : label.dataset.many.replace("%s", String(n));
  }

  document.addEventListener("htmx:oobAfterSwap", countMatches);
  document.addEventListener("htmx:afterSettle", countMatches);
  document.addEventListener("change", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:load", refresh);
  document.addEventListener("htmx:oobAfterSwap", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
})();
