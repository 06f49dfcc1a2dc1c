// Selection of job rows for bulk actions, kept across the live updates that redraw the
// table (the ticked ids are put back on each redraw). Everything works without this file:
// the checkboxes belong to a plain GET form, the row buttons to a plain POST form.
(function () {
  "use strict";

  var selected = new Set();
  var selectedState = null;

  function bar() { return document.getElementById("qd-bulk-bar"); }

  function allowedActions() {
    var b = bar();
    return b ? (b.dataset.qdAllowed || "").split(" ") : [];
  }

  function refresh() {
    var b = bar();
    var rows = document.querySelectorAll("input.qd-bulk-row");
    var allowed = allowedActions();
    if (b && b.dataset.state !== selectedState) {
      selected.clear();
      selectedState = b.dataset.state;
    }
    rows.forEach(function (box) {
      box.hidden = !b;
      box.checked = selected.has(box.value);
    });
    document.querySelectorAll("[data-qd-needs]").forEach(function (button) {
      button.hidden = allowed.indexOf(button.dataset.qdNeeds) < 0;
    });
    var all = document.querySelector("input.qd-bulk-all-rows");
    if (all) {
      all.hidden = !b || rows.length === 0;
      all.checked = rows.length > 0 && Array.prototype.every.call(rows, function (r) { return r.checked; });
    }
    if (!b) return;
    var label = document.getElementById("qd-bulk-selected");
    if (label) {
      label.textContent = selected.size ? label.dataset.some.replace("%s", String(selected.size)) : label.dataset.none;
    }
    // Ticked rows of an earlier page are still sent: hidden inputs stand in for them.
    var form = document.getElementById("qd-select-form");
    if (form) {
      form.querySelectorAll("input.qd-bulk-kept").forEach(function (i) { i.remove(); });
      var shown = new Set(Array.prototype.map.call(rows, function (r) { return r.value; }));
      selected.forEach(function (id) {
        if (shown.has(id)) return;
        var keep = document.createElement("input");
        keep.type = "hidden"; keep.name = "ids"; keep.value = id; keep.className = "qd-bulk-kept";
        form.appendChild(keep);
      });
    }
    b.querySelectorAll(".qd-bulk-needs-selection").forEach(function (button) {
      button.disabled = selected.size === 0;
    });
  }

  document.addEventListener("change", function (event) {
    var t = event.target;
    if (t.classList.contains("qd-bulk-row")) {
      if (t.checked) selected.add(t.value); else selected.delete(t.value);
      refresh();
    } else if (t.classList.contains("qd-bulk-all-rows")) {
      document.querySelectorAll("input.qd-bulk-row").forEach(function (box) {
        if (t.checked) selected.add(box.value); else selected.delete(box.value);
      });
      refresh();
    }
  });

  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:load", refresh);
  document.addEventListener("htmx:oobAfterSwap", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
})();
