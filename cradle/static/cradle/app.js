// On every page: tells the server the browser's time zone (so dates read as on the phone's own clock), registers the
// service worker that makes Cradle installable (the app shell only; cradle/static/cradle/sw.js), and gives every
// [data-copy] button its copy action.
(function () {
  "use strict";

  function cookie(name) {
    var found = document.cookie.split("; ").filter(function (c) { return c.indexOf(name + "=") === 0; })[0];
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && cookie("cradle_tz") !== zone) {
      document.cookie = "cradle_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* an old browser keeps the unit's time zone */ }

  var worker = document.body && document.body.dataset.worker;
  if (worker && "serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register(worker, { scope: "/" }).catch(function () {});
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-copy-text]"), function (button) {
    if (!navigator.clipboard) { button.hidden = true; return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.dataset.copyText).then(function () {
        var label = button.textContent;
        button.textContent = button.dataset.copied;
        window.setTimeout(function () { button.textContent = label; }, 2000);
      }).catch(function () {});
    });
  });
})();
