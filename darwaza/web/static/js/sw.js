// Darwaza service worker: keeps the citizen's wallet pages (and their QR codes), the check
// page, the trust bundle and the status lists available when the phone has no signal, and
// refreshes them in the background whenever it has one. Everything else goes to the network.
// The server fills in the hashed names of the static files (see app.py), so a new release
// gets a new cache and the old one is dropped.
const STATIC = __STATIC_URLS__;
const CACHE = "darwaza-" + __RELEASE__;
const PAGES = ["/verify", "/trust-bundle"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(STATIC).then(() => Promise.all(PAGES.map((page) => cache.add(page).catch(() => null)))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim())
  );
});

function keptOffline(url) {
  if (url.origin !== self.location.origin) return false;
  const path = url.pathname;
  if (path.startsWith("/wallet")) return !path.endsWith(".sd-jwt") && !path.endsWith(".pdf");
  return path === "/verify" || path === "/verify/offline" || path === "/trust-bundle" ||
    path.startsWith("/status-lists/") || path === "/manifest.webmanifest";
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (keptOffline(url)) {
    // Network first, so what is shown is current; the copy kept is used only offline.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put(request, copy));
          }
          return response;
        })
        .catch(() => caches.match(request, { ignoreSearch: url.pathname === "/verify" }).then((hit) => hit || Response.error()))
    );
  } else if (url.origin === self.location.origin && url.pathname.startsWith("/static/")) {
    // Hashed names never change content: the cached copy is always right.
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      }))
    );
  }
});
