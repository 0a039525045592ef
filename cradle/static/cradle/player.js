// The live player: hls.js from Cradle's own static files, a drifting viewer-code overlay, no download controls,
// and a calm card instead of the picture while the nurse has paused the camera.
(function () {
  "use strict";
  var box = document.getElementById("player");
  if (!box) return;
  var video = document.getElementById("video");
  var overlay = document.getElementById("overlay");
  var clock = document.getElementById("overlay-time");
  var care = document.getElementById("care");
  var offline = document.getElementById("offline");

  function start() {
    if (window.Hls && window.Hls.isSupported()) {
      // Play 1 s behind the newest segment (the glass-to-glass budget is 3 s), and catch up gently when behind.
      var hls = new window.Hls({
        workerPath: box.dataset.worker,
        liveSyncDuration: 1,
        liveMaxLatencyDuration: 4,
        maxLiveSyncPlaybackRate: 1.1,
        maxBufferLength: 10,
      });
      hls.loadSource(box.dataset.playlist);
      hls.attachMedia(video);
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () { video.play().catch(function () {}); });
      hls.on(window.Hls.Events.ERROR, function (event, data) {
        if (!data.fatal) return;
        // A lost connection or an ended session: try again shortly; a signed-out viewer gets nothing more.
        hls.destroy();
        window.setTimeout(start, 3000);
      });
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = box.dataset.playlist;
    }
  }

  function drift() {
    // The overlay wanders slowly over the whole picture, always inside it, so that no crop of a screen recording
    // can leave it out for long.
    var t = Date.now() / 1000;
    var room = 6;
    var x = room + Math.max(0, box.clientWidth - overlay.offsetWidth - 2 * room) * (0.5 + 0.5 * Math.sin(t / 23));
    var y = room + Math.max(0, box.clientHeight - overlay.offsetHeight - 2 * room) * (0.5 + 0.5 * Math.sin(t / 31 + 1.3));
    overlay.style.left = x + "px";
    overlay.style.top = y + "px";
    clock.textContent = new Date().toLocaleString();
  }

  function checkState() {
    if (!box.dataset.state) return;
    fetch(box.dataset.state, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        // The account lost its second sign-in step (or the unit now asks for one): the page says what to do.
        if (data.second_step_needed) { window.location.reload(); return; }
        if (!care) return;
        care.classList.toggle("hidden", data.camera_state !== "paused");
        offline.classList.toggle("hidden", data.camera_state !== "offline");
        var badge = document.querySelector("#camera-state .state");
        var holder = document.getElementById("camera-state");
        if (badge && holder && holder.dataset[data.camera_state]) {
          badge.className = "state " + data.camera_state;
          badge.textContent = holder.dataset[data.camera_state];
        }
      })
      .catch(function () {});
  }

  video.addEventListener("contextmenu", function (e) { e.preventDefault(); });
  start();
  drift();
  window.setInterval(drift, 1000);
  window.setInterval(checkState, 2000);
})();
