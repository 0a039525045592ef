// The ward board: each bed's small picture is fetched again every few seconds while the page is in sight; the page
// itself is read again every minute (states, pauses, who is watching), unless a form has focus.
(function () {
  "use strict";
  var ward = document.getElementById("ward");
  if (!ward) return;
  var every = (Number(ward.dataset.refresh) || 5) * 1000;
  var stills = Array.prototype.slice.call(ward.querySelectorAll("img[data-src]"));

  stills.forEach(function (img) {
    img.addEventListener("error", function () { img.classList.add("hidden"); });
    img.addEventListener("load", function () { img.classList.remove("hidden"); });
  });

  function refresh() {
    if (document.hidden) return;
    var now = Date.now();
    stills.forEach(function (img) { img.src = img.dataset.src + "?t=" + now; });
  }

  window.setInterval(refresh, every);
  window.setInterval(function () {
    if (document.hidden) return;
    var active = document.activeElement;
    if (active && active.form) return;
    window.location.reload();
  }, 60000);
})();
