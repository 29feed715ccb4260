// A push (docs/push.md) as the store keeps it, beside the devices' own
// messages, so that it is queued, acknowledged and de-duplicated as they
// are: from "+<app>" (no device or API key name has a '+'), the payload
// its urgency (one byte, enum hf_urgency) then the encrypted body as the
// application server sent it, and with a Topic the collapse key
// "+<12 characters naming the app>/<topic>", so that a topic replaces
// only its own app's push.
#pragma once
#include <string>
#include <string_view>

#include "proto/msg.h"

std::string hf_push_from(std::string_view app);
std::string hf_push_payload(uint64_t urgency, std::string_view body);
std::string hf_push_collapse(std::string_view app, std::string_view topic);

// Whether a stored message, by its sender, is a push.
inline bool hf_push_is(std::string_view from)
{
    return !from.empty() && from[0] == '+';
}

// Makes a DELIVER of a stored push the device's view of it: app and
// urgency marked, the body its payload, the topic its collapse key.
// False if the stored payload has no urgency byte (damaged).
bool hf_push_deliver(hf_msg *m);
