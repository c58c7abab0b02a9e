/* The import page's progress bar: polls the import's progress until it has finished, then
   shows the report (a static file: the Content-Security-Policy forbids inline scripts). */
(function () {
  "use strict";

  function poll(bar) {
    var text = document.getElementById("import-progress-text");
    fetch(bar.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { setTimeout(function () { poll(bar); }, 3000); return; }
        bar.value = state.percent;
        if (text) text.textContent = state.percent + "% (" + state.done + " / " + state.total + ")";
        if (state.state === "queued" || state.state === "running" || state.state === "checking") {
          setTimeout(function () { poll(bar); }, 1000);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { setTimeout(function () { poll(bar); }, 3000); });
  }

  function start() {
    var bar = document.getElementById("import-progress");
    if (bar && bar.dataset.progressUrl) poll(bar);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
