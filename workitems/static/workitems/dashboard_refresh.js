// Reload the supervisor dashboard every data-refresh-seconds, keeping the scroll position.
// A file, not an inline script: the Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";
  var KEY = "dashboard-scroll:" + location.pathname;
  function restore() {
    var saved = sessionStorage.getItem(KEY);
    if (saved !== null) {
      sessionStorage.removeItem(KEY);
      window.scrollTo(0, parseInt(saved, 10) || 0);
    }
  }
  function schedule() {
    var root = document.querySelector("[data-refresh-seconds]");
    if (!root) return;
    var seconds = parseInt(root.getAttribute("data-refresh-seconds"), 10);
    if (!(seconds > 0)) return;
    window.setTimeout(function () {
      // Not while the page is hidden: reload when it is shown again instead.
      if (document.hidden) {
        document.addEventListener("visibilitychange", function again() {
          document.removeEventListener("visibilitychange", again);
          schedule();
        });
        return;
      }
      sessionStorage.setItem(KEY, String(window.scrollY));
      location.reload();
    }, seconds * 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    restore();
    schedule();
  });
})();
