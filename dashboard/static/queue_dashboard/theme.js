// The colour theme, set before the first paint: loaded synchronously in <head> of the
// standalone pages (no inline script: the CSP forbids them). Django admin's convention:
// data-theme="auto" | "light" | "dark" on <html>, the choice kept in localStorage under
// "theme", so the dashboard and admin on the same site agree. Inside admin, admin's own
// theme.js does this and this file is not loaded.
(function () {
  "use strict";
  var THEMES = ["auto", "light", "dark"];
  var KEY = "theme";

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return THEMES.indexOf(value) >= 0 ? value : "auto";
    } catch (e) {
      return "auto"; // storage blocked (privacy settings): follow the system
    }
  }

  function apply(theme) {
    document.documentElement.dataset.theme = theme;
    var button = document.getElementById("qd-theme-toggle");
    if (button) {
      var label = button.dataset["label" + theme.charAt(0).toUpperCase() + theme.slice(1)];
      if (label) button.textContent = label;
      button.setAttribute("aria-label", button.dataset.title + ": " + (label || theme));
    }
  }

  apply(stored());

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("qd-theme-toggle");
    if (!button) return;
    button.hidden = false; // without JavaScript there is nothing to toggle
    apply(stored());
    button.addEventListener("click", function () {
      var now = document.documentElement.dataset.theme;
      var next = THEMES[(THEMES.indexOf(now) + 1) % THEMES.length];
      try {
        window.localStorage.setItem(KEY, next);
      } catch (e) {
        // not kept across pages, but this page still switches
      }
      apply(next);
    });
  });
})();
