// Web Push on the profile page: subscribe this browser with the installation's VAPID key and hand the subscription to
// Cradle. Only browsers with service workers and the Push API show the button.
(function () {
  "use strict";
  var button = document.getElementById("push-allow");
  if (!button || !("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return;
  var state = document.getElementById("push-state");
  button.classList.remove("hidden");

  function key(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return m ? decodeURIComponent(m[1]) : (field ? field.value : "");
  }
  button.addEventListener("click", function () {
    Notification.requestPermission().then(function (answer) {
      if (answer !== "granted") throw new Error("refused");
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(button.dataset.key) });
    }).then(function (subscription) {
      return fetch(button.dataset.url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify(subscription.toJSON())
      });
    }).then(function (response) {
      if (!response.ok) throw new Error("not kept");
      state.textContent = button.dataset.done;
    }).catch(function () { state.textContent = button.dataset.refused; });
  });
})();
