// Times in the viewer's zone and locale, countdowns, the JSON viewer's copy and fold buttons,
// and the keyboard (/ j k Enter ? Esc). No inline scripts: the CSP forbids them. Pages read
// right without this file: times then show in UTC, folds still work (<details>).
(function () {
  "use strict";

  function text(name, fallback) {
    var t = document.getElementById("qd-jobs-text");
    return (t && t.dataset[name]) || fallback;
  }
  function fill(template, value) { return template.replace("%s", value); }

  // -- times -------------------------------------------------------------------------------
  // Dates, units and "5 min ago" in the page's language, as the rest of its words.
  var LANG = document.documentElement.lang || undefined;
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  var exact = new Intl.DateTimeFormat(LANG, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
  });
  var rtf = window.Intl && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat(LANG, { numeric: "auto", style: "short" }) : null;
  var STEPS = [  // [unit, ms in it, shown while the span is under this many ms]
    ["second", 1000, 45000], ["minute", 60000, 2700000], ["hour", 3600000, 79200000],
    ["day", 86400000, 2246400000], ["month", 2629800000, 28927800000],
    ["year", 31557600000, Infinity]
  ];

  function relative(delta) {
    var abs = Math.abs(delta);
    for (var i = 0; i < STEPS.length; i++) {
      if (abs < STEPS[i][2]) {
        var n = Math.round(delta / STEPS[i][1]);
        return rtf ? rtf.format(n, STEPS[i][0]) : String(n) + " " + STEPS[i][0];
      }
    }
    return "";
  }

  var units = {};
  function unit(n, name) {
    if (!units[name]) {
      try {
        units[name] = new Intl.NumberFormat(LANG, { style: "unit", unit: name, unitDisplay: "short" });
      } catch (e) {
        units[name] = { format: function (v) { return v + " " + name; } };
      }
    }
    return units[name].format(n);
  }

  // The two largest units, as the server's compact durations: 850 ms, 3.2 s, 4 min 10 s.
  function duration(ms) {
    ms = Math.max(0, Math.round(ms));
    if (ms < 1000) return unit(ms, "millisecond");
    if (ms < 60000) return unit(Math.floor(ms / 1000), "second");
    var s = Math.floor(ms / 1000), m = Math.floor(s / 60);
    if (m < 60) return pair(unit(m, "minute"), s % 60, "second");
    var h = Math.floor(m / 60);
    if (h < 48) return pair(unit(h, "hour"), m % 60, "minute");
    return pair(unit(Math.floor(h / 24), "day"), h % 24, "hour");
  }
  function pair(first, rest, name) { return rest ? first + " " + unit(rest, name) : first; }

  function setText(el, value) { if (el.textContent !== value) el.textContent = value; }

  function renderTime(el, now) {
    var when = Date.parse(el.getAttribute("datetime"));
    if (isNaN(when)) return;
    var mode = el.dataset.qdTime;
    var local = exact.format(new Date(when));
    var title = zone ? local + " (" + zone + ")" : local;
    if (el.title !== title) el.title = title;
    var delta = when - now;
    if (mode === "countdown") {
      if (delta > 0) setText(el, fill(text("in", "in %s"), duration(delta)));
      else if (delta > -5000) setText(el, text("dueNow", "due now"));
      else setText(el, fill(text("overdue", "overdue by %s"), duration(-delta)));
      el.classList.toggle("qd-overdue", delta <= 0);
    } else if (mode === "both") {
      setText(el, local + " \u00b7 " + relative(delta));
    } else {
      setText(el, relative(delta));
    }
  }

  function renderTimes(root, onlyCountdowns) {
    var now = Date.now();
    var selector = onlyCountdowns ? 'time[data-qd-time="countdown"]' : "time[data-qd-time]";
    (root || document).querySelectorAll(selector).forEach(function (el) { renderTime(el, now); });
  }

  var ticks = 0;
  setInterval(function () {
    ticks += 1;
    renderTimes(document, ticks % 15 !== 0);  // countdowns each second, the rest each 15 s
  }, 1000);

  // -- JSON viewer -------------------------------------------------------------------------
  function copyText(value, done) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(function () { done(true); },
                                                function () { done(fallbackCopy(value)); });
    } else {
      done(fallbackCopy(value));
    }
  }
  function fallbackCopy(value) {
    var area = document.createElement("textarea");
    area.value = value;
    area.setAttribute("readonly", "");
    area.className = "qd-offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) return;
    var copy = target.closest("[data-qd-copy]");
    if (copy) {
      var source = document.getElementById(copy.dataset.qdCopy);
      var status = copy.parentNode.querySelector(".qd-j-copied");
      copyText(source ? source.textContent : "", function (ok) {
        copy.dataset.copied = ok ? "1" : "0";
        if (status) {
          status.textContent = ok ? text("copied", "Copied") : text("copyFailed", "Copy failed");
          setTimeout(function () { status.textContent = ""; }, 2500);
        }
      });
      return;
    }
    var fold = target.closest(".qd-j-expand, .qd-j-collapse");
    if (fold) {
      var open = fold.classList.contains("qd-j-expand");
      var block = fold.closest("[data-qd-json]");
      if (block) block.querySelectorAll(".qd-jtree details").forEach(function (d) { d.open = open; });
    }
  });

  function wireJson(root) {
    (root || document).querySelectorAll("[data-qd-json] .qd-j-expand, [data-qd-json] .qd-j-collapse")
      .forEach(function (button) {
        var block = button.closest("[data-qd-json]");
        button.hidden = !block.querySelector(".qd-jtree details");
      });
  }

  // -- keyboard ----------------------------------------------------------------------------
  var focusedJob = null;  // the id of the row j/k reached, kept across live re-renders

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.qd-job-row"))
      .filter(function (row) { return row.offsetParent !== null; });
  }

  function focusRow(row) {
    document.querySelectorAll("tr.qd-kbd-focus").forEach(function (r) { r.classList.remove("qd-kbd-focus"); });
    if (!row) { focusedJob = null; return; }
    row.classList.add("qd-kbd-focus");
    row.tabIndex = -1;
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
    focusedJob = row.dataset.jobId;
  }

  function move(step) {
    var list = rows();
    if (!list.length) return;
    var at = list.findIndex(function (r) { return r.dataset.jobId === focusedJob; });
    var next = at < 0 ? (step > 0 ? 0 : list.length - 1)
                      : Math.min(list.length - 1, Math.max(0, at + step));
    focusRow(list[next]);
  }

  function restoreFocus() {
    if (focusedJob === null) return;
    var row = rows().find(function (r) { return r.dataset.jobId === focusedJob; });
    if (!row) return;
    var lost = !document.activeElement || document.activeElement === document.body;
    row.classList.add("qd-kbd-focus");
    row.tabIndex = -1;
    if (lost) row.focus({ preventScroll: true });
  }

  function helpDialog() {
    var dialog = document.getElementById("qd-keys-dialog");
    if (!dialog) {
      var template = document.getElementById("qd-jobs-text");
      if (!template || !template.content) return null;
      dialog = document.createElement("dialog");
      dialog.id = "qd-keys-dialog";
      dialog.className = "qd-keys-dialog";
      dialog.setAttribute("aria-labelledby", "qd-keys-title");
      dialog.appendChild(template.content.cloneNode(true));
      var title = dialog.querySelector("h2");
      if (title) title.id = "qd-keys-title";
      document.body.appendChild(dialog);
    }
    return dialog;
  }

  function typing(el) {
    if (!el || !el.tagName) return false;
    return el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var open = document.getElementById("qd-keys-dialog");
    if (open && open.open) return;  // the dialog's own Esc closes it
    var key = event.key;
    if (key === "/") {
      var box = document.querySelector(".qd-jump input[name=id]");
      if (box) {
        event.preventDefault();
        box.focus();
        box.select();
      }
    } else if (key === "j" || key === "k") {
      event.preventDefault();
      move(key === "j" ? 1 : -1);
    } else if (key === "Enter") {
      var row = event.target && event.target.closest && event.target.closest("tr.qd-job-row");
      var link = row && row.querySelector("a[href]");
      if (link) {
        event.preventDefault();
        link.click();
      }
    } else if (key === "?") {
      var dialog = helpDialog();
      if (dialog && !dialog.open) {
        event.preventDefault();
        dialog.showModal();
      }
    }
  });

  // -- after every page load, htmx swap and live update ------------------------------------
  function refresh(root) {
    renderTimes(document, false);
    wireJson(root);
    restoreFocus();
  }
  document.addEventListener("DOMContentLoaded", function () { refresh(document); });
  // The flow tree: a node's button folds its children.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".qd-flow-toggle");
    if (!button) return;
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    var list = button.closest(".qd-flow-node").querySelector(":scope > ul");
    if (list) list.hidden = !open;
  });
  document.addEventListener("htmx:afterSettle", function (event) { refresh(event.target); });
  document.addEventListener("htmx:oobAfterSwap", function () { refresh(document); });
  document.addEventListener("htmx:wsAfterMessage", function () { refresh(document); });
})();
