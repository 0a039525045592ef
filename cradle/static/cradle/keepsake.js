// The keepsake page: asks how far the file is every 1.5 s while it is being made, shows the progress, and says when
// it is ready (the words are read out by screen readers, and the page's title changes for a tab in the background).
(function () {
  "use strict";
  var box = document.getElementById("keepsake");
  if (!box || box.dataset.state !== "making") return;
  var title = document.getElementById("keepsake-title");
  var text = document.getElementById("keepsake-text");
  var bar = document.getElementById("keepsake-progress");
  var save = document.getElementById("keepsake-download");
  var timer = window.setInterval(check, 1500);

  function check() {
    fetch(box.dataset.status, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        bar.value = data.progress;
        bar.textContent = data.progress + " %";
        if (data.state === "making") return;
        window.clearInterval(timer);
        box.dataset.state = data.state;
        title.textContent = data.title;
        text.textContent = data.text;
        document.title = data.title + " · Cradle";
        bar.classList.add("hidden");
        if (data.download) {
          save.href = data.download;
          save.classList.remove("hidden");
          save.focus();
        }
      })
      .catch(function () {});
  }
})();
