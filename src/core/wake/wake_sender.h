// Sending one wake-up through one route (docs/wake.md): a content-free
// nudge that makes the app connect and drain its queue. Web Push (RFC
// 8030, the payload encrypted per RFC 8291, VAPID per RFC 8292 with the
// daemon's key), FCM HTTP v1 (a service account's OAuth2 token, cached
// until it expires; a data-only, high-priority message) and APNs (HTTP/2,
// an ES256 provider token refreshed as Apple asks; a background push).
// Each answer is sorted into what the scheduler (core/server/wake) does
// next: nothing, drop the route, retry later, or give up.
#pragma once
#include <event2/event.h>

#include "core/wake/wake_options.h"
#include "core/wake/wake_result.h"
#include "core/wake/wake_route.h"

struct hf_wake_sender;

hf_wake_sender *hf_wake_sender_new(event_base *base, const hf_wake_options &options);
void hf_wake_sender_free(hf_wake_sender *sender);

// What sender was made with.
const hf_wake_options &hf_wake_sender_options(const hf_wake_sender *sender);

// One wake-up through route; done hears its result once (at once when it
// cannot go: the provider is not configured).
void hf_wake_send(hf_wake_sender *sender, const hf_wake_route &route, hf_wake_done_cb done, void *arg);
