// The player, for the live picture and for clips: hls.js from Cradle's own static files; the viewer-code overlay drifting
// over the picture (never over the controls, which sit below it; still, and moved rarely, when the device asks for
// reduced motion); full screen and landscape with the overlay kept; no download controls. For the live picture it asks
// the server every few seconds what is happening (cradle/viewing/states.py) and says it in words: the badge reads
// "Live" only while the picture is actually moving, and a state that will not pass by itself stops the player.
(function () {
  "use strict";
  var box = document.getElementById("player");
  if (!box) return;
  var video = document.getElementById("video");
  var picture = document.getElementById("picture");
  var overlay = document.getElementById("overlay");
  var clock = document.getElementById("overlay-time");
  var card = document.getElementById("state-card");
  var badge = document.getElementById("badge");
  var live = Boolean(box.dataset.status);
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var plays = Boolean(box.dataset.playlist && video);
  var state = box.dataset.state || "live";
  var hls = null;
  var retry = null;
  var lastTime = -1;
  var lastMove = 0;
  var timers = [];

  // --- playing --------------------------------------------------------------------------------------------------

  function start() {
    retry = null;
    if (!plays) return;
    if (window.Hls && window.Hls.isSupported()) {
      // Live: 1 s behind the newest segment (the glass-to-glass budget is 3 s), catching up gently when behind.
      var options = live
        ? { workerPath: box.dataset.worker, liveSyncDuration: 1, liveMaxLatencyDuration: 4, maxLiveSyncPlaybackRate: 1.1, maxBufferLength: 10 }
        : { workerPath: box.dataset.worker };
      hls = new window.Hls(options);
      hls.loadSource(box.dataset.playlist);
      hls.attachMedia(video);
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () { video.play().catch(function () {}); });
      hls.on(window.Hls.Events.ERROR, function (event, data) {
        if (!data.fatal) return;
        // A lost connection, a picture not there yet or a session that has ended: ask at once what is happening,
        // and try again shortly unless that says it is over.
        stop();
        if (live) check();
        if (plays) retry = window.setTimeout(start, 3000);
      });
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = box.dataset.playlist;
    }
  }

  function stop() {
    if (hls) { hls.destroy(); hls = null; }
    if (retry) { window.clearTimeout(retry); retry = null; }
  }

  function moving() {
    return Boolean(video) && !video.paused && lastMove > 0 && Date.now() - lastMove < 4000;
  }

  function watch() {
    if (!video) return;
    if (video.currentTime !== lastTime && video.readyState >= 2) {
      lastTime = video.currentTime;
      lastMove = Date.now();
    }
    if (live) showBadge();
  }

  // --- what the live picture is doing ----------------------------------------------------------------------------

  function text(id) { return document.getElementById(id); }

  function showBadge() {
    if (!badge) return;
    var word;
    var kind = "";
    if (state === "live") {
      if (moving()) { word = badge.dataset.live; kind = "live"; }
      else word = lastMove ? badge.dataset.stalled : badge.dataset.connecting;
    } else {
      word = text("state-title").textContent;
      if (state === "paused") kind = "paused";
    }
    if (badge.textContent !== word) badge.textContent = word;
    badge.className = "state" + (kind ? " " + kind : "");
  }

  function show(data) {
    state = data.code;
    box.dataset.state = state;
    // Only a change is written, so that a screen reader announces each new state once.
    if (text("state-title").textContent !== data.title) text("state-title").textContent = data.title;
    if (text("state-text").textContent !== data.text) text("state-text").textContent = data.text;
    var action = text("state-action");
    action.classList.toggle("hidden", !data.action);
    if (data.action) { action.textContent = data.action; action.href = data.href; }
    card.classList.toggle("hidden", state === "live");
    if (data.final) {
      // Nothing comes back by itself: the player stops, and the page says what to do.
      plays = false;
      stop();
      if (video) { video.removeAttribute("src"); video.load(); video.classList.add("hidden"); }
      if (overlay) overlay.classList.add("hidden");
      if (badge) badge.classList.add("hidden");
      // No picture is left to look at in full screen.
      if (isFull()) leave();
      var controls = document.getElementById("controls");
      if (controls) controls.classList.add("hidden");
      var code = document.getElementById("viewer-code");
      if (code) code.classList.add("hidden");
      document.body.classList.remove("dimmed");
      timers.forEach(function (t) { window.clearInterval(t); });
      timers = [];
      return;
    }
    if (!hls && !retry) start();
    showBadge();
  }

  function ended() {
    var d = box.dataset;
    show({ code: "ended", title: d.endedTitle, text: d.endedText, action: d.endedAction, href: d.endedHref, final: true });
  }

  function check() {
    if (!plays || document.hidden) return;
    fetch(box.dataset.status, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 404) { ended(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (data) {
        if (!data) return;
        // The unit now asks for a second sign-in step: the page itself says how.
        if (data.code === "second_step") { window.location.reload(); return; }
        show(data);
      })
      .catch(function () {});
  }

  // --- the overlay --------------------------------------------------------------------------------------------------

  function shown() {
    // The part of the box the picture itself fills: a picture narrower than the screen has bars at its sides, and
    // an overlay over a bar would be left out of a recording cropped to the picture.
    var w = picture.clientWidth;
    var h = picture.clientHeight;
    if (!video || !video.videoWidth || !video.videoHeight) return { x: 0, y: 0, w: w, h: h };
    var scale = Math.min(w / video.videoWidth, h / video.videoHeight);
    var cw = video.videoWidth * scale;
    var ch = video.videoHeight * scale;
    return { x: (w - cw) / 2, y: (h - ch) / 2, w: cw, h: ch };
  }

  function drift() {
    if (!overlay) return;
    // The overlay wanders over the whole picture, always inside it, so that no crop of a screen recording can leave it
    // out for long; with reduced motion it stands still and moves only every 20 s.
    clock.textContent = new Date().toLocaleString();
    var t = Date.now() / 1000;
    if (reduced) t = Math.floor(t / 20) * 20 * 7.3;
    var area = shown();
    var room = 6;
    var x = area.x + room + Math.max(0, area.w - overlay.offsetWidth - 2 * room) * (0.5 + 0.5 * Math.sin(t / 23));
    var y = area.y + room + Math.max(0, area.h - overlay.offsetHeight - 2 * room) * (0.5 + 0.5 * Math.sin(t / 31 + 1.3));
    overlay.style.left = x + "px";
    overlay.style.top = y + "px";
  }

  // --- full screen and landscape ------------------------------------------------------------------------------------

  var full = document.getElementById("fullscreen");

  function isFull() {
    return document.fullscreenElement === box || document.webkitFullscreenElement === box || box.classList.contains("full");
  }

  function labelFull() {
    if (!full) return;
    full.textContent = isFull() ? full.dataset.leave : full.dataset.enter;
    full.setAttribute("aria-pressed", isFull() ? "true" : "false");
  }

  function landscape() {
    // On a phone, a wide picture turns the screen sideways; where the browser cannot, turning the phone does it.
    if (screen.orientation && screen.orientation.lock && video && video.videoWidth >= video.videoHeight) {
      screen.orientation.lock("landscape").catch(function () {});
    }
  }

  function enter() {
    if (box.requestFullscreen) {
      box.requestFullscreen().then(landscape).catch(function () { box.classList.add("full"); labelFull(); });
    } else if (box.webkitRequestFullscreen) {
      box.webkitRequestFullscreen();
    } else {
      // Phones that give only the video element full screen would lose the overlay: the page fills the screen instead.
      box.classList.add("full");
    }
    labelFull();
  }

  function leave() {
    if (document.fullscreenElement) document.exitFullscreen().catch(function () {});
    else if (document.webkitFullscreenElement) document.webkitExitFullscreen();
    box.classList.remove("full");
    if (screen.orientation && screen.orientation.unlock) {
      try { screen.orientation.unlock(); } catch (e) { /* not locked */ }
    }
    labelFull();
  }

  if (full) {
    full.addEventListener("click", function () { if (isFull()) leave(); else enter(); });
    document.addEventListener("fullscreenchange", labelFull);
    document.addEventListener("webkitfullscreenchange", labelFull);
    document.addEventListener("keydown", function (e) { if (e.key === "Escape" && box.classList.contains("full")) leave(); });
  }

  // --- a clip's own controls (the browser's would sit under the overlay and offer a download) --------------------

  var play = document.getElementById("play");
  var seek = document.getElementById("seek");
  var elapsed = document.getElementById("clip-time");

  function clockOf(seconds) {
    var s = Math.max(0, Math.floor(seconds || 0));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  if (play && video) {
    var labelPlay = function () {
      play.textContent = video.paused ? play.dataset.play : play.dataset.pause;
      play.setAttribute("aria-pressed", video.paused ? "false" : "true");
    };
    play.addEventListener("click", function () { if (video.paused) video.play().catch(function () {}); else video.pause(); });
    video.addEventListener("play", labelPlay);
    video.addEventListener("pause", labelPlay);
    video.addEventListener("ended", labelPlay);
    video.addEventListener("timeupdate", function () {
      if (isFinite(video.duration)) seek.max = String(video.duration);
      seek.value = String(video.currentTime);
      elapsed.textContent = clockOf(video.currentTime) + " / " + clockOf(video.duration);
    });
    seek.addEventListener("input", function () { video.currentTime = Number(seek.value); });
  }

  if (video) video.addEventListener("contextmenu", function (e) { e.preventDefault(); });
  if (plays) {
    document.body.classList.add("dimmed");
    start();
  }
  drift();
  timers.push(window.setInterval(drift, 1000));
  timers.push(window.setInterval(watch, 500));
  if (live) {
    showBadge();
    timers.push(window.setInterval(check, 3000));
    document.addEventListener("visibilitychange", function () { if (!document.hidden) check(); });
  }
})();
