/* The web edition's service worker: network first, so a reader always gets the current page when
   online; each page (and file) once fetched is kept, and served from there when offline. Only this
   site's own files are handled: nothing here ever asks another server. */
"use strict";
var CACHE = "companion-web-v1";
self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });
self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) { return; }
  event.respondWith(fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(request).then(function (found) { return found || Response.error(); });
  }));
});
