// The trace job page: polls the job's status and reloads the page once the trace has finished.
(function () {
  "use strict";
  var box = document.getElementById("trace-job");
  if (!box || box.dataset.finished === "1") return;
  var bar = document.getElementById("trace-progress");
  var text = document.getElementById("trace-text");
  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) return setTimeout(poll, 5000);
        if (s.finished) { window.location.reload(); return; }
        if (bar) bar.value = s.progress;
        if (text && s.text) text.textContent = s.text;
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1500);
})();
