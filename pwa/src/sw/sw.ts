/// <reference lib="webworker" />
// The service worker only wires events: precache the app shell, answer navigations with it
// offline, and never touch /api/ (photos and API answers are never cached).
import { clientsClaim } from "workbox-core";
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from "workbox-precaching";
import { NavigationRoute, registerRoute } from "workbox-routing";

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<{ url: string; revision: string | null }> };

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
registerRoute(new NavigationRoute(createHandlerBoundToURL("index.html"), { denylist: [/^\/api\//, /^\/healthz/, /^\/openapi\.json/] }));

self.addEventListener("message", (event) => {
  if ((event.data as { type?: string } | null)?.type === "SKIP_WAITING") void self.skipWaiting();
});

// The first install takes control at once; later versions wait until the user accepts them.
self.addEventListener("install", () => {
  if (!self.registration.active) void self.skipWaiting();
});
clientsClaim();
