// Cradle's service worker: the app shell only, so that Cradle opens from the home screen like an app and says so when
// the phone is offline. It keeps nothing personal. It stores only the files of the shell that Cradle lists (an
// allow-list: the stylesheet, scripts, icons and a page that says "offline"); every other request, pages, playlists,
// video segments, keys, keepsakes and the API, goes to the network as if there were no worker, and is never stored.
// /sw.js serves this file after a first line that sets self.CRADLE_SHELL = {version, offline, files}.
"use strict";

var SHELL = self.CRADLE_SHELL;
var CACHE = "cradle-shell-" + SHELL.version;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      // Without cookies: the offline page names nobody, and no shell file depends on who asks.
      return Promise.all(SHELL.files.map(function (path) {
        return fetch(path, { credentials: "omit", cache: "no-cache" }).then(function (response) {
          if (!response.ok) throw new Error(path + " answered " + response.status);
          return cache.put(path, response);
        });
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("cradle-shell-") === 0 && name !== CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (SHELL.files.indexOf(url.pathname) !== -1 && !url.search) {
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(url.pathname).then(function (hit) { return hit || fetch(request); });
    }));
    return;
  }
  if (request.mode === "navigate") {
    // Pages always come from the network; only when there is none does the stored "offline" page answer.
    event.respondWith(fetch(request).catch(function () {
      return caches.open(CACHE).then(function (cache) { return cache.match(SHELL.offline); });
    }));
  }
  // Anything else is not touched.
});

// Web Push: the message names nothing (cradle/notifications/outbox.py); a tap opens Cradle at its link.
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  event.waitUntil(self.registration.showNotification(data.title || "Cradle", {
    body: data.body || "", icon: "/static/cradle/icons/icon-192.png", data: { url: data.url || "/" }
  }));
});
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.openWindow(url));
});
