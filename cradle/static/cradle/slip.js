// The invitation slip: print it, or, on a phone, share it through the phone's own share sheet (Web Share API, where
// the browser has one); copying is app.js's [data-copy-text].
(function () {
  "use strict";
  var print = document.getElementById("print-slip");
  if (print) print.addEventListener("click", function () { window.print(); });
  var share = document.getElementById("share-slip");
  if (!share || !navigator.share) return;
  var data = { title: share.dataset.title, text: share.dataset.text, url: share.dataset.url };
  if (navigator.canShare && !navigator.canShare(data)) return;
  share.hidden = false;
  share.addEventListener("click", function () {
    navigator.share(data).catch(function () { /* closed without sharing */ });
  });
})();
