// The courier page's service worker (served as /courier/sw.js, scope /courier): the page and
// its files come from the network when there is one (each copy kept), and from the copy when
// there is none, so a reload without network still shows the route. Posts are never touched:
// the page's own outbox (courier.js) keeps the events until they are sent.
"use strict";
var PAGES = "courier-pages-v1";
var FILES = "courier-files-v1";
var STATIC = ["/static/style.css", "/static/courier.css", "/static/courier.js",
              "/static/sign.js", "/static/scan.js"];

// One copy per day shown: the notices of an action (done=, at=) are not part of the key.
function pageKey(url) {
  var u = new URL(url);
  var date = u.searchParams.get("date");
  return u.origin + u.pathname + (date ? "?date=" + date : "");
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(FILES).then(function (c) { return c.addAll(STATIC); }).catch(function () {}));
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function fromNetwork(request, cacheName, key) {
  return fetch(request).then(function (response) {
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(cacheName).then(function (c) { return c.put(key, copy); });
    }
    return response;
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === "/courier" || url.pathname === "/courier/map") {
    var key = pageKey(request.url);
    event.respondWith(fromNetwork(request, PAGES, key).catch(function () {
      return caches.open(PAGES).then(function (c) {
        return c.match(key).then(function (hit) {
          return hit || c.match(url.origin + url.pathname) || Response.error();
        });
      });
    }));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(fromNetwork(request, FILES, request.url).catch(function () {
      return caches.match(request.url).then(function (hit) { return hit || Response.error(); });
    }));
  }
});
