// A device's Web Push subscriptions (docs/push.md), made, dropped and
// listed by its SUBSCRIBE frames: the device keeps the keys, the server a
// record per app (push_endpoint.h) and hands out the endpoint.
#pragma once
#include "proto/msg.h"

struct hf_server;
struct hf_session;

// Whether this server serves Web Push: push.key_file is set and the store
// keeps device records.
bool hf_push_enabled(const hf_server *srv);

// A SUBSCRIBE from s, answered with SUBSCRIPTION frames.
void hf_subscribe_request(hf_session *s, const hf_msg *m);
