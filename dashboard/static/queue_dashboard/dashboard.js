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

  // Live updates (htmx's ws extension): show whether the page is live, tell the server
  // which list the page shows, and let toasts go after a while.
  var CLOSED = {
    4401: "offline: your session ended, reload to sign in",
    4403: "offline: you may no longer view this",
    4404: "offline: no such queue or job",
    1000: "offline"
  };
  // Closes after which the page tries again by itself, calmly: the server's caps (too many
  // live pages of this user, too many messages) after a minute or so, a page that had stopped
  // reading its updates after a few seconds. [status text, least ms, most ms]
  var RETRY_LATER = {
    4409: ["live updates off: too many live pages open · closing a tab brings this back", 45000, 90000, "4409"],
    4429: ["live updates off: too many messages from this page · retrying in a minute", 45000, 90000, "4429"],
    4408: ["offline: reconnecting…", 1000, 5000, "reconnecting"]
  };

  // The words come translated from the page (_live.html's data-t-* attributes); the English
  // here is only the fallback for a page that lacks one.
  function words(key, fallback) {
    var status = document.getElementById("qd-live-status");
    var text = status && status.getAttribute("data-t-" + key);
    return text || fallback;
  }

  function liveStatus(state, text, key) {
    var status = document.getElementById("qd-live-status");
    if (!status) return;
    var pause = document.getElementById("qd-live-pause");
    if (state === "live" && pause && pause.checked) {
      state = "paused";
      text = "paused";
      key = "paused";
    }
    if (key) text = words(key, text);
    status.dataset.state = state;
    status.textContent = text;
  }

  function sendView() {
    var form = document.getElementById("qd-live-form");
    if (form) htmx.trigger(form, "qd-view");
  }

  // A socket that never opened, again and again, has no server behind it: the page came from
  // a WSGI server or an asgi.py that does not route it (the browser sees only a 404 handshake).
  // Then say what is missing and stop the extension's reconnecting.
  var HANDSHAKE_FAILURES = 3;
  var NEVER = 2147483647;  // the longest setTimeout delay (ms): about 25 days
  var everOpened = false;
  var failures = 0;

  // The extension schedules its reconnect before it announces the close, so giving up in
  // the close handler alone would still let one more handshake go out. Its reconnect delay
  // is asked first: after the last failed handshake of a socket that never opened, "never".
  // Otherwise the extension's own full jitter (up to 2^min(n, 6) s).
  if (window.htmx) {
    htmx.config.wsReconnectDelay = function (retryCount) {
      if (!everOpened && retryCount + 1 >= HANDSHAKE_FAILURES) return NEVER;
      return 1000 * Math.pow(2, Math.min(retryCount, 6)) * Math.random();
    };
  }

  function giveUp() {
    var live = document.querySelector(".qd-live[ws-connect]");
    if (!live) return;
    var help = live.dataset.help;
    var quiet = live.cloneNode(true);  // the extension drops a socket whose element left
    quiet.removeAttribute("ws-connect");
    quiet.removeAttribute("hx-ext");
    live.replaceWith(quiet);
    var status = document.getElementById("qd-live-status");
    if (!status) return;
    status.dataset.state = "unavailable";
    status.textContent = words("asgi", "offline: live updates need the ASGI server") + " · ";
    if (help) {
      var link = document.createElement("a");
      link.href = help;
      link.textContent = words("how", "how");
      status.appendChild(link);
    }
  }

  document.addEventListener("htmx:wsConnecting", function () { liveStatus("connecting", "connecting…", "connecting"); });
  document.addEventListener("htmx:wsOpen", function () {
    everOpened = true;
    failures = 0;
    liveStatus("live", "live", "live");
    sendView();
  });
  function retryLater(event, spec) {
    liveStatus(spec[1] > 10000 ? "limited" : "reconnecting", spec[0], spec[3]);
    var socket = event.detail.socketWrapper;
    var live = document.querySelector(".qd-live[ws-connect]");
    setTimeout(function () {
      // Only the socket of this page, if the page still has it (one retry per close).
      if (socket && live && document.body.contains(live)) socket.reconnect();
    }, spec[1] + Math.random() * (spec[2] - spec[1]));
  }

  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail.event.code;
    if (RETRY_LATER[code]) {
      retryLater(event, RETRY_LATER[code]);
      return;
    }
    var retry = [1006, 1011, 1012, 1013].indexOf(code) >= 0;
    if (!everOpened && code === 1006 && ++failures >= HANDSHAKE_FAILURES) {
      giveUp();
      return;
    }
    liveStatus(retry ? "reconnecting" : "offline",
               retry ? "offline: reconnecting…" : (CLOSED[code] || "offline"),
               retry ? "reconnecting" : (CLOSED[code] ? String(code) : "offline"));
  });
  document.addEventListener("change", function (event) {
    if (event.target && event.target.id === "qd-live-pause") {
      var word = event.target.checked ? "paused" : "live";
      liveStatus(word, word, word);
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "jobs") sendView();
  });

  var TOAST_MS = 8000;
  var TOASTS_SHOWN = 5;
  function expireToasts() {
    var box = document.getElementById("qd-toasts");
    if (!box) return;
    var toasts = box.querySelectorAll(".qd-toast");
    for (var i = 0; i < toasts.length - TOASTS_SHOWN; i++) toasts[i].remove();
    box.querySelectorAll(".qd-toast:not([data-expires])").forEach(function (toast) {
      toast.dataset.expires = "1";
      setTimeout(function () { toast.remove(); }, TOAST_MS);
    });
  }
  document.addEventListener("htmx:wsAfterMessage", expireToasts);

  document.addEventListener("DOMContentLoaded", function () { wireTypedConfirm(document); });
  document.addEventListener("htmx:load", function (event) { wireTypedConfirm(event.target); });
})();
