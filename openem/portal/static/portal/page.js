// Loaded at the top of every page's body (Content-Security-Policy: no inline script anywhere).
// It marks the page as having JavaScript before it is drawn, then wires the few behaviours that would
// otherwise be inline handlers: print buttons and selects that submit their form when changed.
(function () {
  "use strict";
  document.body.className += " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  });
})();
