// End-to-end messages in libhandoff, with the device's key file
// (hf_client_use_keys): what arrives is opened before the application
// sees it, waiting for its sender's key when it is not read yet; what the
// application sends end to end goes as one sealed copy per target, its
// answers told once. docs/protocol.md, "End-to-end messages".
#pragma once
#include <cstdint>
#include <string>

#include "client/client_state.h"

namespace hf_clientlib
{

// A DELIVER (already told apart from a copy of an acknowledged one) on
// link l, with a key file: opened and handed on, refused, or held.
void e2e_arrived(hf_client *c, hf_link *l, const hf_client_message *msg);

// The server said WELCOME: what waits for keys asks for them.
void e2e_connected(hf_client *c);

// The account's keys were read (the end of a PRESENCE answer the key
// file asked for): waiting sends go, held messages are taken.
void e2e_keys_read(hf_client *c);

// A message id was answered (SEND_ACK, or failed before it went): a
// copy's answer counts toward its send's; any other is the application's.
void message_answered(hf_client *c, uint64_t id, int status, int code, const char *text);

// With a key file, the subscription the application asked for answered
// with its endpoint: the file keeps the app's auth secret (made, unless
// the endpoint is the one it had) and endpoint.
void keys_subscribed(hf_client *c, const std::string &app, const std::string &endpoint);
// ... and was made, or dropped (removed): the file is written.
void keys_subscription_done(hf_client *c, const std::string &app, bool removed);

} // namespace hf_clientlib
