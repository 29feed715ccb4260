// The demo's service worker (docs/wake.md, "Browsers"): it lives on when
// no tab of the page is open, so the relay can wake the device through
// the browser's push service. A wake-up carries no bookmark, only
// {"handoff":"wake"}: it shows a notification, and opening it opens the
// page, which connects and takes what waits for it.
const PAGE_CACHE = 'handoff-demo';
const PAGE_KEY = '/handoff-demo/page';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

// A push's decrypted payload: a wake-up shows the notification (the
// promise the push event waits for); anything else, nothing.
function onPush(data) {
  if (!data || data.handoff !== 'wake') return null;
  return self.registration.showNotification('a new bookmark', {
    body: 'Open the bookmarks to fetch it.',
    tag: 'handoff-wake', // one notification, however many wake-ups
  });
}

self.addEventListener('push', (event) => {
  let data = null;
  try {
    data = event.data ? event.data.json() : null;
  } catch {
    // not JSON: not ours
  }
  const shown = onPush(data);
  if (shown) event.waitUntil(shown);
});

// The page that registered last said where it lives (its address holds
// the relay and the device's token after #): focus it if open, else
// open it.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil((async () => {
    const saved = await (await caches.open(PAGE_CACHE)).match(PAGE_KEY);
    const url = saved ? await saved.text() : self.registration.scope;
    const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const tab = open.find((c) => c.url === url) || open[0];
    if (tab) return tab.focus();
    return self.clients.openWindow(url);
  })());
});
