// The zone editor: drag rectangles on the frozen, redacted picture (pointer events: a finger, a pen or a mouse) for
// the shown area (one; everything outside it is masked) and mask zones (any number); the picture shows the result at
// once, drawn as the redaction will mask it; Save sends the shapes (fractions of the picture's width and height).
(function () {
  "use strict";
  var box = document.getElementById("zone-editor");
  if (!box) return;
  var img = document.getElementById("zone-picture");
  var svg = document.getElementById("zone-svg");
  var status = document.getElementById("zones-status");
  var form = document.getElementById("zones-form");
  var undoButton = document.getElementById("zones-undo");
  var areaButton = document.getElementById("tool-area");
  var zoneButton = document.getElementById("tool-zone");
  var draft = document.getElementById("zone-draft");
  var drawn = JSON.parse(document.getElementById("zones-drawn").textContent);
  var tool = "area";
  var start = null;
  var NS = "http://www.w3.org/2000/svg";

  function say(text) { status.textContent = text; }

  function points(shape) {
    return shape.map(function (p) { return p[0].toFixed(4) + "," + p[1].toFixed(4); }).join(" ");
  }

  function render() {
    var area = drawn.shown_area;
    document.getElementById("zone-hole-area").setAttribute("points", area ? points(area) : "");
    document.getElementById("zone-area-line").setAttribute("points", area ? points(area) : "");
    document.getElementById("zone-outside").classList.toggle("hidden", !area);
    var group = document.getElementById("zone-masks");
    while (group.firstChild) group.removeChild(group.firstChild);
    drawn.zones.forEach(function (zone) {
      var polygon = document.createElementNS(NS, "polygon");
      polygon.setAttribute("points", points(zone));
      group.appendChild(polygon);
    });
    box.dataset.zones = String(drawn.zones.length);
    box.dataset.area = area ? "yes" : "no";
  }

  function choose(which) {
    tool = which;
    areaButton.setAttribute("aria-pressed", String(which === "area"));
    zoneButton.setAttribute("aria-pressed", String(which === "zone"));
    areaButton.classList.toggle("primary", which === "area");
    zoneButton.classList.toggle("primary", which === "zone");
  }

  function at(event) {
    var r = svg.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (event.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (event.clientY - r.top) / r.height))];
  }

  function rect(a, b) {
    var x0 = Math.min(a[0], b[0]), x1 = Math.max(a[0], b[0]), y0 = Math.min(a[1], b[1]), y1 = Math.max(a[1], b[1]);
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
  }

  svg.addEventListener("pointerdown", function (event) {
    event.preventDefault();
    svg.setPointerCapture(event.pointerId);
    start = at(event);
  });
  svg.addEventListener("pointermove", function (event) {
    if (!start) return;
    var r = rect(start, at(event));
    draft.setAttribute("x", r[0][0]); draft.setAttribute("y", r[0][1]);
    draft.setAttribute("width", r[2][0] - r[0][0]); draft.setAttribute("height", r[2][1] - r[0][1]);
    draft.classList.remove("hidden");
  });
  function finish(event) {
    if (!start) return;
    var r = rect(start, at(event));
    start = null;
    draft.classList.add("hidden");
    if (r[2][0] - r[0][0] < 0.02 || r[2][1] - r[0][1] < 0.02) return; // a tap, not a shape
    if (tool === "area") drawn.shown_area = r; else drawn.zones.push(r);
    render();
    say("");
  }
  svg.addEventListener("pointerup", finish);
  svg.addEventListener("pointercancel", function () { start = null; draft.classList.add("hidden"); });

  areaButton.addEventListener("click", function () { choose("area"); });
  zoneButton.addEventListener("click", function () { choose("zone"); });
  document.getElementById("zones-clear").addEventListener("click", function () {
    drawn = { shown_area: null, zones: [] };
    render();
  });

  function post(url, body, done) {
    var data = new URLSearchParams();
    data.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
    if (body) data.append("drawn", JSON.stringify(body));
    fetch(url, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (!answer.ok) { say(answer.error || box.dataset.failed); return; }
        drawn = answer.drawn;
        undoButton.disabled = !answer.undo;
        render();
        say(done);
        box.dataset.savedAt = String(Date.now());
      })
      .catch(function () { say(box.dataset.failed); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    post(box.dataset.save, drawn, box.dataset.saved);
  });
  undoButton.addEventListener("click", function () { post(box.dataset.undo, null, box.dataset.undone); });

  say(box.dataset.loading);
  img.addEventListener("load", function () { say(""); box.dataset.ready = "yes"; });
  img.addEventListener("error", function () { say(box.dataset.failed); });
  img.src = box.dataset.frame;
  render();
})();
