// Controls that stay true: the job page's and queue page's buttons follow the state the live
// updates swap in (the job's state badge, the queue's paused badge), so a button another tab
// made pointless goes away; the "why" panel is read again when the state it explains moved.
// Without this file the buttons are those of the state when the page was rendered, and the
// server answers a stale one calmly.
(function () {
  "use strict";

  function jobState() {
    var badge = document.getElementById("job-state");
    if (!badge) return null;
    var match = /(?:^|\s)qd-state-([\w-]+)/.exec(badge.className);
    return match ? match[1] : "removed";
  }

  function queuePaused() {
    var holder = document.getElementById("queue-paused");
    return holder ? !!holder.querySelector(".qd-paused") : null;
  }

  var shown = { job: jobState(), paused: queuePaused() };

  function refreshPanel(id) {
    var panel = document.getElementById(id);
    if (!panel || !window.htmx) return;
    window.htmx.ajax("GET", window.location.href, { target: "#" + id, select: "#" + id, swap: "outerHTML" });
  }

  function sync() {
    var state = jobState();
    if (state !== null) {
      document.querySelectorAll("[data-qd-job-actions] [data-qd-states]").forEach(function (el) {
        var states = el.getAttribute("data-qd-states").split(" ");
        el.hidden = state === "removed" || (states.indexOf("*") < 0 && states.indexOf(state) < 0);
      });
      if (state !== shown.job) {
        shown.job = state;
        if (state === "removed") {
          var why = document.getElementById("job-why");
          if (why) why.hidden = true;
        } else {
          refreshPanel("job-why");
        }
      }
    }
    var paused = queuePaused();
    if (paused !== null) {
      document.querySelectorAll("[data-qd-paused]").forEach(function (el) {
        el.hidden = (el.getAttribute("data-qd-paused") === "1") !== paused;
      });
      if (paused !== shown.paused) {
        shown.paused = paused;
        refreshPanel("queue-why");
      }
    }
  }

  var pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; sync(); });
  }

  function start() {
    sync();
    // The live updates replace #job-state and #queue-paused out of band: watch for that.
    new MutationObserver(function (records) {
      for (var i = 0; i < records.length; i++) {
        var target = records[i].target;
        if (target.closest && target.closest("#job-why, #queue-why")) continue;
        schedule();
        return;
      }
    }).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
