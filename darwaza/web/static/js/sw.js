// Darwaza service worker: keeps the citizen's wallet pages (and their QR codes) available
// when the phone has no signal. Everything else always goes to the network.
const CACHE = "darwaza-wallet-v1";
const STATIC = ["/static/css/darwaza.css", "/static/js/darwaza.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(STATIC)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim())
  );
});

function isWallet(url) {
  return url.origin === self.location.origin && url.pathname.startsWith("/wallet") && !url.pathname.endsWith(".sd-jwt");
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (isWallet(url)) {
    // Network first; the copy kept is only used when the network fails.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put(request, copy));
          }
          return response;
        })
        .catch(() => caches.match(request).then((hit) => hit || Response.error()))
    );
  } else if (url.origin === self.location.origin && url.pathname.startsWith("/static/")) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
  }
});
