// A push (docs/push.md) as the store keeps it, beside the devices' own
// messages, so that it is queued, acknowledged and de-duplicated as they
// are: from "+<app>" (no device or API key name has a '+'), the payload
// its urgency (one byte, enum hf_urgency) then the encrypted body as the
// application server sent it, and the collapse key "+<12 characters
// naming the app>/<topic>", so that a topic replaces only its own app's
// push; without a Topic, "/#<id>": the push's own, which its cancel
// (DELETE on its Location) replaces with a push expired already.
#pragma once
#include <string>
#include <string_view>

#include "proto/msg.h"

std::string hf_push_from(std::string_view app);
std::string hf_push_payload(uint64_t urgency, std::string_view body);
// topic empty: the push's own key, by its id.
std::string hf_push_collapse(std::string_view app, std::string_view topic, uint64_t id);

// Whether a stored message, by its sender, is a push.
inline bool hf_push_is(std::string_view from)
{
    return !from.empty() && from[0] == '+';
}

// Makes a DELIVER of a stored push the device's view of it: app and
// urgency marked, the body its payload, the topic (if any) its collapse
// key.
// False if the stored payload has no urgency byte (damaged).
bool hf_push_deliver(hf_msg *m);
